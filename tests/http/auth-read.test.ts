import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/** `GET /api/handles/{h}?auth=true`: Handle.Net's authenticated read, admin-only values included. */
describe('authenticated resolution (auth=true)', () => {
  let t: TestService;
  const secretValue = { index: 2, type: 'NOTE', data: 'for admins only', permissions: '1100' };
  const publicValue = { index: 1, type: 'URL', data: 'https://example.org/item' };
  const userSecret = 'user-secret-12345';

  beforeAll(async () => {
    t = await startTestService();
    const put = (handle: string, values: unknown[], auth = adminAuth()) =>
      t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, remoteAddress: '127.0.0.1', headers: { authorization: auth, 'content-type': 'application/json' }, payload: values });
    expect((await put('20.5000/item', [publicValue, secretValue])).statusCode).toBe(201);
    const user = [{ index: 300, type: 'HS_SECKEY', data: userSecret }];
    expect((await put('20.5000/user1', user)).statusCode).toBe(201);
  });
  afterAll(() => t.close());

  const get = (query: string, authorization?: string) =>
    t.app.inject({ url: `/api/handles/20.5000/item${query}`, remoteAddress: '127.0.0.1', headers: authorization ? { authorization } : {} });

  it('anonymous reads never show the admin-only value', async () => {
    const r = await get('');
    expect(r.statusCode).toBe(200);
    expect(r.json().values.map((v: { type: string }) => v.type)).not.toContain('NOTE');
  });

  it('asks for credentials when none are given', async () => {
    const r = await get('?auth=true');
    expect([r.statusCode, r.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
  });

  it('shows an administrator the admin-only value, and is never cached as public', async () => {
    const r = await get('?auth=true', adminAuth());
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('private, no-store');
    expect(r.headers.etag).toBeUndefined();
    const note = r.json().values.find((v: { type: string }) => v.type === 'NOTE');
    expect(note?.data.value).toBe('for admins only');
    expect(r.json().values.some((v: { type: string }) => v.type === 'HS_SECKEY')).toBe(false);
  });

  it('filters work with auth=true too', async () => {
    const r = await get('?auth=true&type=NOTE', adminAuth());
    expect(r.json().values.map((v: { index: number }) => v.index)).toEqual([2]);
  });

  it('refuses an identity that may not read admin-only values', async () => {
    const r = await get('?auth=true', basic('300:20.5000/user1', userSecret));
    expect(r.statusCode).toBe(403);
    expect(r.json().code).toBe('ERR_PERMISSION_DENIED'); // not an administrator of the record at all
  });
});
