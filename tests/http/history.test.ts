import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
  const write = (method: 'PUT' | 'DELETE', url: string, body?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: adminAuth(), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });
  expect((await write('PUT', '/api/handles/20.5000/h', [{ index: 1, type: 'URL', data: 'https://v1.example/' }])).statusCode).toBe(201);
  expect((await write('PUT', '/api/handles/20.5000/h', [{ index: 1, type: 'URL', data: 'https://v2.example/' }])).statusCode).toBe(200);
  expect((await write('DELETE', '/api/handles/20.5000/h?reason=moved')).statusCode).toBe(200);
});
afterAll(async () => t.close());

describe('GET /api/history/{id}', () => {
  it('lists every version oldest first, the tombstone last', async () => {
    const res = await t.app.inject({ url: '/api/history/hdl:20.5000/h' });
    expect(res.statusCode).toBe(200);
    const { id, versions } = res.json();
    expect(id).toBe('hdl:20.5000/h');
    expect(versions.map((v: { version: number; status: string }) => [v.version, v.status])).toEqual([
      [1, 'active'],
      [2, 'active'],
      [3, 'tombstoned'],
    ]);
    expect(versions[0].values[0].data.value).toBe('https://v1.example/');
    expect(versions[1].values[0].data.value).toBe('https://v2.example/');
    expect(versions[2].tombstone.reason).toBe('moved');
    expect(versions[0].values.some((v: { type: string }) => v.type === 'HS_SIGNATURE')).toBe(true);
  });

  it('answers 404 problem+json for an unknown record', async () => {
    const res = await t.app.inject({ url: '/api/history/hdl:20.5000/none' });
    expect([res.statusCode, res.json().code]).toEqual([404, 'ERR_HANDLE_NOT_FOUND']);
  });
});

describe('GET /api/changes', () => {
  it('is for those who may list handles', async () => {
    const res = await t.app.inject({ url: '/api/changes' });
    expect([res.statusCode, res.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
  });

  it('pages the change log in commit order', async () => {
    const all = (await t.app.inject({ url: '/api/changes', headers: { authorization: adminAuth() } })).json();
    expect(all.changes.map((c: { seq: number }) => c.seq)).toEqual([1, 2, 3, 4]);
    expect(all.changes.slice(1).map((c: { op: string; version: number }) => [c.op, c.version])).toEqual([
      ['create', 1],
      ['update', 2],
      ['delete', 3],
    ]);
    expect(all.last).toBe(4);
    const page = (await t.app.inject({ url: '/api/changes?since=1&limit=2', headers: { authorization: adminAuth() } })).json();
    expect(page.changes.map((c: { seq: number }) => c.seq)).toEqual([2, 3]);
    expect(page.next).toBe(3);
  });

  it.each(['since=-1', 'since=x', 'limit=0', 'limit=1001'])('rejects %s', async (q) => {
    const res = await t.app.inject({ url: `/api/changes?${q}`, headers: { authorization: adminAuth() } });
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_QUERY_INVALID']);
  });
});

describe('history shows nothing that is hidden now', () => {
  it('hides a value in every old version once its index is admin-only', async () => {
    const put = (body: unknown) =>
      t.app.inject({ method: 'PUT', url: '/api/handles/20.5000/priv', headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect((await put([{ index: 1, type: 'URL', data: 'https://open.example/' }, { index: 2, type: 'NOTE', data: 'was public' }])).statusCode).toBe(201);
    expect((await put([{ index: 1, type: 'URL', data: 'https://open.example/' }, { index: 2, type: 'NOTE', data: 'now private', permissions: '1100' }])).statusCode).toBe(200);
    const { versions } = (await t.app.inject({ url: '/api/history/hdl:20.5000/priv' })).json();
    expect(versions).toHaveLength(2);
    expect(JSON.stringify(versions)).not.toContain('was public');
    expect(versions[0].values.map((v: { index: number }) => v.index)).toEqual([1, 100, 400]);
  });
});
