import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureValueIndex } from '../../src/families/doa/reverse-index.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
const SAME = 'https://same.example/';
const user1 = basic('300:20.5000/user1', 'user1-secret-value');
const admin = (permissions: string) => ({ index: 101, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/user1', index: 300, permissions } } });
const READ_ONLY = '010000000000';
const ALL_BUT_READ = '001111111111';

const call = (method: 'PUT' | 'DELETE', url: string, body?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: { authorization: adminAuth(), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });
const search = (query: string, auth?: string) => t.app.inject({ url: `/api/search?${query}`, headers: auth ? { authorization: auth } : {} });
const same = (extra = '') => `type=URL&value=${encodeURIComponent(SAME)}${extra}`;

beforeAll(async () => {
  t = await startTestService();
  const puts: [string, unknown[]][] = [
    ['20.5000/user1', [{ index: 300, type: 'HS_SECKEY', data: 'user1-secret-value' }]],
    ['20.5000/s1', [{ index: 1, type: 'URL', data: SAME }]],
    ['20.5000/s2', [{ index: 1, type: 'URL', data: SAME }, { index: 2, type: 'EMAIL', data: 'ops@same.example' }]],
    ['20.5000/s3-private', [{ index: 1, type: 'URL', data: SAME, permissions: '1100' }, admin(READ_ONLY)]],
    ['20.5000/s4-private', [{ index: 1, type: 'URL', data: SAME, permissions: '1100' }, admin(ALL_BUT_READ)]],
    ['20.5000/S5-Case', [{ index: 1, type: 'url', data: SAME }]],
    ['20.5000/s6-gone', [{ index: 1, type: 'URL', data: SAME }]],
    ['20.5000/s7-moved', [{ index: 1, type: 'URL', data: SAME }]],
    ['20.5000/s8-secret', [{ index: 1, type: 'URL', data: SAME, permissions: '0000' }]],
    // user1 reads this one as a member of an HS_VLIST group the record's HS_ADMIN names.
    ['20.5000/readers', [{ index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: '20.5000/user1', index: 300 }] } }]],
    [
      '20.5000/s9-group',
      [
        { index: 1, type: 'URL', data: SAME, permissions: '1100' },
        { index: 101, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/readers', index: 200, permissions: READ_ONLY } } },
      ],
    ],
  ];
  for (const [handle, values] of puts) expect((await call('PUT', `/api/handles/${handle}`, values)).statusCode).toBe(201);
  expect((await call('DELETE', '/api/handles/20.5000/s6-gone')).statusCode).toBe(200);
  expect((await call('PUT', '/api/handles/20.5000/s7-moved', [{ index: 1, type: 'URL', data: 'https://elsewhere.example/' }])).statusCode).toBe(200);
});
afterAll(async () => t.close());

describe('GET /api/search', () => {
  it.each([
    ['anonymous readers see publicly readable values only', undefined, ['20.5000/s1', '20.5000/s2', '20.5000/S5-Case']],
    ['an identity also sees admin-only values where it has READ_VALUE, itself or through a group', user1, ['20.5000/s1', '20.5000/s2', '20.5000/s3-private', '20.5000/S5-Case', '20.5000/s9-group']],
    ['the service admin sees every admin-readable value', adminAuth(), ['20.5000/s1', '20.5000/s2', '20.5000/s3-private', '20.5000/s4-private', '20.5000/S5-Case', '20.5000/s9-group']],
  ])('%s; tombstoned and changed records are gone from the index', async (_who, auth, handles) => {
    const res = await search(same(), auth);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ type: 'URL', value: SAME, page: 0, pageSize: 100, totalCount: handles.length, handles });
  });

  it.each([
    ['the exact value only', `type=URL&value=${encodeURIComponent('https://same.example')}`, []],
    ['the type case-insensitively', `type=Url&value=${encodeURIComponent(SAME)}`, ['20.5000/s1', '20.5000/s2', '20.5000/s3-private', '20.5000/s4-private', '20.5000/S5-Case', '20.5000/s9-group']],
    ['another type', 'type=EMAIL&value=ops%40same.example', ['20.5000/s2']],
    ['the new value of a changed record', `type=URL&value=${encodeURIComponent('https://elsewhere.example/')}`, ['20.5000/s7-moved']],
    ['no secrets, even for the admin', 'type=HS_SECKEY&value=user1-secret-value', []],
  ])('matches %s', async (_what, query, handles) => {
    expect((await search(query, adminAuth())).json().handles).toEqual(handles);
  });

  it.each([
    ['pageSize=2', 2, ['20.5000/s1', '20.5000/s2']],
    ['pageSize=2&page=1', 2, ['20.5000/S5-Case']],
    ['pageSize=2&page=2', 2, []],
    ['pageSize=1&page=1', 1, ['20.5000/s2']],
  ])('pages anonymous results (%s)', async (q, pageSize, handles) => {
    const res = (await search(same(`&${q}`))).json();
    expect(res).toMatchObject({ pageSize, totalCount: 3, handles });
  });

  it('pages authenticated results the same way', async () => {
    const res = (await search(same('&pageSize=2&page=1'), user1)).json();
    expect(res).toMatchObject({ page: 1, pageSize: 2, totalCount: 5, handles: ['20.5000/s3-private', '20.5000/S5-Case'] });
  });

  it('reads the index, never the records (anonymous)', async () => {
    const scan = vi.spyOn(t.service.store, 'allRecords');
    const read = vi.spyOn(t.service.store, 'findRecord');
    await search(same());
    expect(scan).not.toHaveBeenCalled();
    expect(read).not.toHaveBeenCalled();
    scan.mockRestore();
    read.mockRestore();
  });

  it.each([
    ['no type', `value=x`, 400, 'ERR_QUERY_INVALID'],
    ['no value', 'type=URL', 400, 'ERR_QUERY_INVALID'],
    ['pageSize=0', same('&pageSize=0'), 400, 'ERR_QUERY_INVALID'],
    ['pageSize=1001', same('&pageSize=1001'), 400, 'ERR_QUERY_INVALID'],
    ['page=-1', same('&page=-1'), 400, 'ERR_QUERY_INVALID'],
    ['page=x', same('&page=x'), 400, 'ERR_QUERY_INVALID'],
  ])('refuses %s', async (_what, query, status, code) => {
    const res = await search(query);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });

  it('refuses bad credentials rather than answering anonymously', async () => {
    const res = await search(same(), basic('300:20.5000/user1', 'not-the-secret'));
    expect([res.statusCode, res.json().code]).toEqual([401, 'ERR_AUTH_FAILED']);
  });
});

describe('the value index for records stored before it existed', () => {
  it('is built once at start from the records', async () => {
    const store = t.service.store;
    const dropped: string[] = [];
    for await (const key of store.index.keys()) if (/^hvaluep?\u0000/.test(key)) dropped.push(key);
    expect(dropped.length).toBeGreaterThan(0);
    await store.index.batch(dropped.map((key) => ({ type: 'del' as const, key })));
    await store.meta.del('valueIndexVersion');
    expect((await search(same())).json().handles).toEqual([]);
    expect(await ensureValueIndex(store)).toBe(dropped.length);
    const rebuilt: string[] = [];
    for await (const key of store.index.keys()) if (/^hvaluep?\u0000/.test(key)) rebuilt.push(key);
    expect(rebuilt).toEqual(dropped);
    expect((await search(same())).json().totalCount).toBe(3);
    expect(await ensureValueIndex(store)).toBe(0);
  });
});
