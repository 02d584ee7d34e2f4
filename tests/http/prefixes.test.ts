import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/** Derived prefixes: POST /api/prefixes, the identity it hands out, and where that identity stops. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
  expect((await put('20.5000/stranger', [{ index: 300, type: 'HS_SECKEY', data: 'stranger-secret' }])).statusCode).toBe(201);
});
afterAll(async () => t.close());

const json = (auth: string | null) => ({ 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) });
const post = (body: unknown, auth: string | null = adminAuth()) =>
  t.app.inject({ method: 'POST', url: '/api/prefixes', headers: json(auth), payload: JSON.stringify(body) });
const put = (handle: string, body: unknown, auth: string | null = adminAuth()) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: json(auth), payload: JSON.stringify(body) });
const del = (url: string, auth: string | null = adminAuth()) => t.app.inject({ method: 'DELETE', url, headers: auth ? { authorization: auth } : {} });
const get = (url: string, auth: string | null = null) => t.app.inject({ method: 'GET', url, headers: auth ? { authorization: auth } : {} });
const URL_VALUE = { index: 1, type: 'URL', data: 'https://example.org/' };
const stranger = basic('300:20.5000/stranger', 'stranger-secret');

interface Created {
  prefix: string;
  prefixHandle: string;
  identity: string;
  secret: string;
  name: string;
}
let acme: Created;
let acmeAuth: string;

describe('POST /api/prefixes', () => {
  it('creates the next derived prefix with its own admin identity and returns the secret once', async () => {
    const res = await post({ name: 'Acme Devices' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    acme = res.json();
    expect(acme).toMatchObject({ responseCode: 1, prefix: '20.5000.1', prefixHandle: '0.NA/20.5000.1', identity: '300:0.NA/20.5000.1', name: 'Acme Devices' });
    expect(acme.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    acmeAuth = basic(acme.identity, acme.secret);
    expect((await post({ name: 'Globex' })).json()).toMatchObject({ prefix: '20.5000.2', identity: '300:0.NA/20.5000.2' });
  });

  it('writes the prefix record: its name, its admin, the service admin, the secret hidden', async () => {
    const res = await get('/api/handles/0.NA/20.5000.1');
    expect(res.statusCode).toBe(200);
    const values = res.json().values as { index: number; type: string; data: { value: unknown } }[];
    expect(values.map((v) => [v.index, v.type])).toEqual([
      [1, 'PREFIX.NAME'],
      [100, 'HS_ADMIN'],
      [101, 'HS_ADMIN'],
      [400, 'HS_SIGNATURE'],
    ]);
    expect(values[1]!.data.value).toEqual({ handle: '0.NA/20.5000.1', index: 300, permissions: '111111110011' });
    expect(values[2]!.data.value).toEqual({ handle: '0.NA/20.5000', index: 300, permissions: '111111111111' });
    expect(res.body).not.toContain('scrypt');
    expect(res.body).not.toContain(acme.secret);
  });

  it('takes a given suffix, then continues numbering after the highest', async () => {
    expect((await post({ name: 'Initech', suffix: '7' })).json()).toMatchObject({ prefix: '20.5000.7' });
    expect((await post({ name: 'Umbrella', suffix: 8 })).json()).toMatchObject({ prefix: '20.5000.8' });
    expect((await post({ name: 'Hooli', suffix: 'hooli' })).json()).toMatchObject({ prefix: '20.5000.hooli', identity: '300:0.NA/20.5000.hooli' });
    expect((await post({ name: 'Next' })).json()).toMatchObject({ prefix: '20.5000.9' });
  });

  it.each([
    ['a taken suffix', { name: 'Again', suffix: '7' }, 409, 'ERR_PREFIX_EXISTS'],
    ['a taken suffix in another letter case', { name: 'Again', suffix: 'HOOLI' }, 409, 'ERR_PREFIX_EXISTS'],
    ['a suffix with a dot', { name: 'X', suffix: '1.2' }, 400, 'ERR_PREFIX_INVALID'],
    ['a suffix with a leading zero', { name: 'X', suffix: '07' }, 400, 'ERR_PREFIX_INVALID'],
    ['an empty suffix', { name: 'X', suffix: '' }, 400, 'ERR_PREFIX_INVALID'],
    ['a negative suffix', { name: 'X', suffix: -3 }, 400, 'ERR_PREFIX_INVALID'],
    ['no name', { suffix: '30' }, 400, 'ERR_BODY_INVALID'],
    ['an empty name', { name: '  ' }, 400, 'ERR_BODY_INVALID'],
    ['a name with a control character', { name: 'Acme\u0007' }, 400, 'ERR_BODY_INVALID'],
    ['an unknown member', { name: 'X', admin: '300:20.5000/stranger' }, 400, 'ERR_BODY_INVALID'],
    ['an array', [{ name: 'X' }], 400, 'ERR_BODY_INVALID'],
  ])('refuses %s, in Handle.Net shape, and writes nothing', async (_what, body, status, code) => {
    const seq = t.service.store.lastSeq;
    const res = await post(body);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
    expect(res.json().responseCode).toBeGreaterThan(1);
    expect(t.service.store.lastSeq).toBe(seq);
  });

  it('refuses a prefix whose handles exist already, though it has no prefix record', async () => {
    expect((await put('20.5000.50/orphan', [URL_VALUE])).statusCode).toBe(201);
    const res = await post({ name: 'Late', suffix: '50' });
    expect([res.statusCode, res.json().code]).toEqual([409, 'ERR_PREFIX_EXISTS']);
  });

  it('is for the service admin only', async () => {
    const anonymous = await post({ name: 'Nobody' }, null);
    expect([anonymous.statusCode, anonymous.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
    const org = await post({ name: 'Sub-org' }, acmeAuth);
    expect([org.statusCode, org.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    const other = await post({ name: 'Mine' }, stranger);
    expect([other.statusCode, other.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
  });
});

describe('the derived prefix admin', () => {
  it('creates handles under its prefix, which resolve and name it as their admin', async () => {
    expect((await put('20.5000.1/widget', [URL_VALUE], acmeAuth)).statusCode).toBe(201);
    const res = await get('/api/handles/20.5000.1/widget?type=HS_ADMIN');
    expect(res.json().values[0].data.value).toEqual({ handle: '0.NA/20.5000.1', index: 300, permissions: '011111110011' });
    expect((await get('/api/resolve/hdl:20.5000.1/widget')).statusCode).toBe(200);
  });

  it('lists its prefix, and no other', async () => {
    const mine = await get('/api/handles?prefix=20.5000.1', acmeAuth);
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toMatchObject({ totalCount: '1', handles: ['20.5000.1/widget'] });
    for (const prefix of ['20.5000', '20.5000.2', '20.5000.1.1']) {
      const res = await get(`/api/handles?prefix=${prefix}`, acmeAuth);
      expect([prefix, res.statusCode, res.json().code]).toEqual([prefix, 403, 'ERR_PERMISSION_DENIED']);
    }
  });

  it.each([
    ['under the service prefix', '20.5000/taken-over'],
    ['under a sibling prefix', '20.5000.2/taken-over'],
    ['under a prefix derived from its own', '20.5000.1.1/deeper'],
    ['a prefix record of its own making', '0.NA/20.5000.1.1'],
    ['a sibling prefix record', '0.NA/20.5000.3'],
  ])('creates nothing %s', async (_where, handle) => {
    const res = await put(handle, [URL_VALUE], acmeAuth);
    expect([res.statusCode, res.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
  });

  it('edits nothing on the parent or a sibling prefix record', async () => {
    const value = [{ index: 5, type: 'EMAIL', data: 'x@acme.example' }];
    for (const handle of ['0.NA/20.5000', '0.NA/20.5000.2']) {
      const res = await t.app.inject({ method: 'PUT', url: `/api/handles/${handle}?index=5`, headers: json(acmeAuth), payload: JSON.stringify(value) });
      expect([handle, res.statusCode, res.json().code]).toEqual([handle, 403, 'ERR_PERMISSION_DENIED']);
    }
  });

  it('may replace its own secret, after which only the new one works', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/handles/0.NA/20.5000.1?index=300',
      headers: json(acmeAuth),
      payload: JSON.stringify([{ index: 300, type: 'HS_SECKEY', data: 'acme-rotated-secret' }]),
    });
    expect(res.statusCode).toBe(200);
    expect((await put('20.5000.1/after-rotation', [URL_VALUE], acmeAuth)).statusCode).toBe(401);
    acmeAuth = basic(acme.identity, 'acme-rotated-secret');
    expect((await put('20.5000.1/after-rotation', [URL_VALUE], acmeAuth)).statusCode).toBe(201);
  });

  it('cannot delete its own prefix: that needs DELETE_DERIVED_PREFIX on the parent', async () => {
    const res = await del('/api/handles/0.NA/20.5000.1', acmeAuth);
    expect([res.statusCode, res.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    const other = await del('/api/handles/0.NA/20.5000.1', stranger);
    expect([other.statusCode, other.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
  });
});

describe('GET /api/prefixes', () => {
  it('lists the derived prefixes, with or without handles, to the service admin', async () => {
    const res = await get('/api/prefixes', adminAuth());
    expect(res.statusCode).toBe(200);
    expect(res.json().prefixes).toEqual(['20.5000', '20.5000.1', '20.5000.2', '20.5000.50', '20.5000.7', '20.5000.8', '20.5000.9', '20.5000.HOOLI']);
  });

  it('is refused to a derived prefix admin and to strangers', async () => {
    for (const auth of [acmeAuth, stranger]) {
      const res = await get('/api/prefixes', auth);
      expect([res.statusCode, res.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    }
  });
});

describe('deleting a derived prefix', () => {
  it('is the service admin\'s; the identity stops working, its handles stay, and the number is not reused', async () => {
    expect((await del('/api/handles/0.NA/20.5000.2')).statusCode).toBe(200);
    expect((await get('/api/handles/0.NA/20.5000.2')).statusCode).toBe(410);
    expect((await del('/api/handles/0.NA/20.5000.1')).statusCode).toBe(200);
    const res = await put('20.5000.1/after-deletion', [URL_VALUE], acmeAuth);
    expect([res.statusCode, res.json().code]).toEqual([401, 'ERR_AUTH_FAILED']);
    expect((await get('/api/handles/20.5000.1/widget')).statusCode).toBe(200);
    expect((await post({ name: 'Reuse?', suffix: '2' })).json().code).toBe('ERR_PREFIX_EXISTS');
    expect((await post({ name: 'Fresh' })).json()).toMatchObject({ prefix: '20.5000.10' });
    // The highest number deleted: the next one still skips it.
    expect((await del('/api/handles/0.NA/20.5000.10')).statusCode).toBe(200);
    expect((await post({ name: 'Fresher' })).json()).toMatchObject({ prefix: '20.5000.11' });
    expect((await get('/api/prefixes', adminAuth())).json().prefixes).not.toContain('20.5000.2');
  });
});

describe('prefixes served here', () => {
  it.each(['20.5000./x', '20.5000..7/x', '0.NA/20.5000.'])('%s is not a derived prefix of ours', async (handle) => {
    const res = await get(`/api/handles/${handle}`);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_PREFIX_NOT_HOMED']);
  });
});
