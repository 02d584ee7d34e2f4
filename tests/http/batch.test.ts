import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_OPERATIONS } from '../../src/http/routes/batch.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
const USER1_SECRET = 'user1-secret-value';
const user1 = basic('300:20.5000/user1', USER1_SECRET);
const url = (u: string) => ({ index: 1, type: 'URL', data: u });
const user1Admin = { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/user1', index: 300, permissions: '011111110011' } } };

const batch = (body: unknown, headers: Record<string, string> = {}, auth: string | null = adminAuth()) =>
  t.app.inject({
    method: 'POST',
    url: '/api/batch',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}), ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
const put = (handle: string, values: unknown[]) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(values) });
const resolve = (handle: string) => t.app.inject({ url: `/api/handles/${handle}` });

beforeAll(async () => {
  t = await startTestService();
  expect((await put('20.5000/user1', [{ index: 300, type: 'HS_SECKEY', data: USER1_SECRET }])).statusCode).toBe(201);
  expect((await put('20.5000/owned', [url('https://owned.example/'), user1Admin])).statusCode).toBe(201);
  expect((await put('20.5000/existing', [url('https://existing.example/')])).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('POST /api/batch applies every operation', () => {
  it('in order, each seeing the ones before it, with a result per operation', async () => {
    const seq = t.service.store.lastSeq;
    const res = await batch([
      { op: 'put', handle: '20.5000/b1', values: [url('https://b1.example/')] },
      { op: 'put', handle: '20.5000/b1', index: [2], values: [{ index: 2, type: 'EMAIL', data: 'b1@example.org' }] },
      { op: 'put', handle: '20.5000/b2', values: [url('https://b2.example/'), { index: 2, type: 'NOTE', data: 'two' }] },
      { op: 'delete', handle: '20.5000/b2', index: 2 },
      { op: 'put', handle: '20.5000/existing', values: [url('https://existing2.example/')] },
      { op: 'delete', handle: '20.5000/existing', reason: 'moved', successor: '20.5000/b1' },
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      responseCode: 1,
      results: [
        { item: 0, op: 'put', handle: '20.5000/b1', status: 201, responseCode: 1 },
        { item: 1, op: 'put', handle: '20.5000/b1', status: 200, responseCode: 1 },
        { item: 2, op: 'put', handle: '20.5000/b2', status: 201, responseCode: 1 },
        { item: 3, op: 'delete', handle: '20.5000/b2', status: 200, responseCode: 1 },
        { item: 4, op: 'put', handle: '20.5000/existing', status: 200, responseCode: 1 },
        { item: 5, op: 'delete', handle: '20.5000/existing', status: 200, responseCode: 1 },
      ],
    });
    // One change-log entry per write, history for every version, served at once (views and cache).
    expect(t.service.store.lastSeq).toBe(seq + 6);
    const b1 = (await resolve('20.5000/b1')).json();
    expect(b1.values.filter((v: { type: string }) => v.type !== 'HS_ADMIN' && v.type !== 'HS_SIGNATURE').map((v: { data: { value: string } }) => v.data.value)).toEqual([
      'https://b1.example/',
      'b1@example.org',
    ]);
    expect((await resolve('20.5000/b2?type=NOTE')).json().values).toEqual([]);
    const gone = await resolve('20.5000/existing');
    expect([gone.statusCode, gone.json().tombstone.reason]).toEqual([410, 'moved']);
    const history = (await t.app.inject({ url: '/api/history/hdl:20.5000/existing' })).json();
    expect(history.versions.map((v: { version: number; status: string }) => [v.version, v.status])).toEqual([
      [1, 'active'],
      [2, 'active'],
      [3, 'tombstoned'],
    ]);
    const b2History = (await t.app.inject({ url: '/api/history/hdl:20.5000/b2' })).json();
    expect(b2History.versions).toHaveLength(2);
  });

  it('hashes secrets written in a batch, as a single PUT does', async () => {
    const res = await batch([{ op: 'put', handle: '20.5000/user2', values: [{ index: 300, type: 'HS_SECKEY', data: 'user2-secret-value' }] }]);
    expect(res.statusCode).toBe(200);
    const record = t.service.handles.findRecord(t.service.handles.parseServed('20.5000/user2'))!;
    expect(Buffer.from(record.values.find((v) => v.type === 'HS_SECKEY')!.data).toString()).not.toContain('user2-secret-value');
    await expect(t.service.handles.authenticate('300:20.5000/user2', 'user2-secret-value')).resolves.toMatchObject({ serverAdmin: false });
    await expect(t.service.handles.authenticate('300:20.5000/user2', 'another-secret')).rejects.toMatchObject({ code: 'ERR_AUTH_FAILED' });
  });

  it('checks each operation against what the earlier ones wrote (an HS_VLIST cycle across two operations)', async () => {
    const group = (of: string) => ({ index: 200, type: 'HS_VLIST', data: { format: 'vlist', value: [{ handle: of, index: 200 }] } });
    const seq = t.service.store.lastSeq;
    const res = await batch([
      { op: 'put', handle: '20.5000/group-a', values: [group('20.5000/group-b')] },
      { op: 'put', handle: '20.5000/group-b', values: [group('20.5000/group-a')] },
    ]);
    expect([res.statusCode, res.json().code, res.json().item]).toEqual([409, 'ERR_VLIST_CYCLE', 1]);
    expect(t.service.store.lastSeq).toBe(seq);
  });

  it('lets an identity write what it administers', async () => {
    const res = await batch([{ op: 'put', handle: '20.5000/owned', index: [1], values: [url('https://owned2.example/')] }], {}, user1);
    expect(res.statusCode).toBe(200);
  });
});

describe('POST /api/batch stores nothing when one operation fails, and names it', () => {
  const ok = { op: 'put', handle: '20.5000/never-stored', values: [url('https://never.example/')] };
  it.each([
    ['an invalid value', [ok, { op: 'put', handle: '20.5000/x', values: [{ index: -1, type: 'URL', data: 'x' }] }], 1, 400, 'ERR_VALUE_INVALID'],
    ['a duplicate index', [ok, { op: 'put', handle: '20.5000/x', values: [url('a'), url('b')] }], 1, 400, 'ERR_VALUE_INDEX_DUPLICATE'],
    ['a delete of an unknown handle', [ok, { op: 'delete', handle: '20.5000/no-such' }], 1, 404, 'ERR_HANDLE_NOT_FOUND'],
    ['a value edit of an unknown handle', [ok, { op: 'put', handle: '20.5000/no-such', index: [1], values: [url('a')] }], 1, 404, 'ERR_HANDLE_NOT_FOUND'],
    ['overwrite=false on a live handle', [ok, { op: 'put', handle: '20.5000/owned', overwrite: false, values: [url('a')] }], 1, 409, 'ERR_HANDLE_EXISTS'],
    ['a handle under a prefix not served', [ok, { op: 'put', handle: '21.T1/x', values: [url('a')] }], 1, 400, 'ERR_PREFIX_NOT_HOMED'],
    ['an invalid handle', [ok, { op: 'put', handle: 'no-slash', values: [url('a')] }], 1, 400, 'ERR_HANDLE_INVALID'],
    ['an edit of what an earlier operation deleted', [ok, { op: 'delete', handle: '20.5000/never-stored' }, { op: 'put', handle: '20.5000/never-stored', index: [1], values: [url('b')] }], 2, 410, 'ERR_HANDLE_DELETED'],
    ['the signature', [ok, { op: 'put', handle: '20.5000/x', values: [{ index: 400, type: 'HS_SIGNATURE', data: 'x' }] }], 1, 400, 'ERR_VALUE_TYPE_RESERVED'],
    ['the service record', [ok, { op: 'delete', handle: '0.NA/20.5000' }], 1, 409, 'ERR_RECORD_PROTECTED'],
    ['an unknown op', [{ op: 'patch', handle: '20.5000/x' }], 0, 400, 'ERR_BODY_INVALID'],
    ['a field the op does not have', [ok, { op: 'delete', handle: '20.5000/owned', values: [] }], 1, 400, 'ERR_BODY_INVALID'],
    ['a put without values', [ok, { op: 'put', handle: '20.5000/x' }], 1, 400, 'ERR_BODY_INVALID'],
    ['a bad index list', [ok, { op: 'delete', handle: '20.5000/owned', index: ['1'] }], 1, 400, 'ERR_BODY_INVALID'],
    ['an operation that is not an object', [ok, 'put'], 1, 400, 'ERR_BODY_INVALID'],
  ])('%s', async (_what, operations, item, status, code) => {
    const seq = t.service.store.lastSeq;
    const res = await batch(operations);
    expect([res.statusCode, res.json().code, res.json().item]).toEqual([status, code, item]);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().detail).toMatch(new RegExp(`^operations\\[${item}\\]`));
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await resolve('20.5000/never-stored')).statusCode).toBe(404);
  });

  it('refuses an operation the identity may not do, after ones it may', async () => {
    const seq = t.service.store.lastSeq;
    const res = await batch(
      [
        { op: 'put', handle: '20.5000/owned', index: [1], values: [url('https://owned3.example/')] },
        { op: 'put', handle: '20.5000/b1', index: [1], values: [url('https://taken.example/')] },
      ],
      {},
      user1,
    );
    expect([res.statusCode, res.json().code, res.json().item, res.json().handle]).toEqual([403, 'ERR_PERMISSION_DENIED', 1, '20.5000/b1']);
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await resolve('20.5000/owned?type=URL')).json().values[0].data.value).toBe('https://owned2.example/');
  });

  it.each([
    ['an object', { op: 'put' }],
    ['an empty array', []],
    ['too many operations', Array.from({ length: MAX_BATCH_OPERATIONS + 1 }, () => ({ op: 'delete', handle: '20.5000/x' }))],
  ])('refuses %s as the body', async (_what, body) => {
    const res = await batch(body);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_BODY_INVALID']);
  });

  it.each([
    ['no credentials', null, 401, 'ERR_AUTH_REQUIRED'],
    ['a wrong secret', basic('300:20.5000/user1', 'wrong-secret-value'), 401, 'ERR_AUTH_FAILED'],
  ])('needs credentials: %s', async (_what, auth, status, code) => {
    const res = await batch([{ op: 'put', handle: '20.5000/x', values: [url('a')] }], {}, auth);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });
});

describe('Idempotency-Key', () => {
  const ops = (n: string) => [{ op: 'put', handle: `20.5000/idem-${n}`, values: [url(`https://idem-${n}.example/`)] }];

  it('answers a retry with the first answer and applies nothing twice', async () => {
    const first = await batch(ops('a'), { 'idempotency-key': 'key-a' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const seq = t.service.store.lastSeq;
    // Reformatted JSON is the same request.
    const retry = await batch(JSON.stringify(ops('a'), null, 2), { 'idempotency-key': 'key-a' });
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await t.app.inject({ url: '/api/history/hdl:20.5000/idem-a' })).json().versions).toHaveLength(1);
  });

  it('serialises concurrent retries: one applies, the other gets its answer', async () => {
    expect((await put('20.5000/idem-g', [url('https://idem-g.example/')])).statusCode).toBe(201);
    const del = [{ op: 'delete', handle: '20.5000/idem-g' }];
    const [a, b] = await Promise.all([batch(del, { 'idempotency-key': 'key-g' }), batch(del, { 'idempotency-key': 'key-g' })]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']].filter((h) => h !== undefined)).toEqual(['true']);
    expect(a.body).toBe(b.body);
    // Without the key the second delete would be refused: the handle is gone.
    const again = await batch(del);
    expect([again.statusCode, again.json().code]).toEqual([410, 'ERR_HANDLE_DELETED']);
  });

  it('refuses the same key for a different batch', async () => {
    expect((await batch(ops('b'), { 'idempotency-key': 'key-b' })).statusCode).toBe(200);
    const seq = t.service.store.lastSeq;
    const res = await batch(ops('c'), { 'idempotency-key': 'key-b' });
    expect([res.statusCode, res.json().code]).toEqual([422, 'ERR_IDEMPOTENCY_KEY_REUSED']);
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await resolve('20.5000/idem-c')).statusCode).toBe(404);
  });

  it('keeps keys per identity', async () => {
    const res = await batch([{ op: 'put', handle: '20.5000/owned', index: [1], values: [url('https://owned-idem.example/')] }], { 'idempotency-key': 'key-b' }, user1);
    expect([res.statusCode, res.headers['idempotent-replayed']]).toEqual([200, undefined]);
  });

  it('stores nothing for a failed batch, so the corrected one may use the key', async () => {
    const bad = await batch([...ops('d'), { op: 'delete', handle: '20.5000/no-such' }], { 'idempotency-key': 'key-d' });
    expect(bad.statusCode).toBe(404);
    const good = await batch(ops('d'), { 'idempotency-key': 'key-d' });
    expect([good.statusCode, good.headers['idempotent-replayed']]).toEqual([200, undefined]);
  });

  it('takes a structured-field string too', async () => {
    expect((await batch(ops('e'), { 'idempotency-key': '"key-e"' })).statusCode).toBe(200);
    expect((await batch(ops('e'), { 'idempotency-key': 'key-e' })).headers['idempotent-replayed']).toBe('true');
  });

  it.each([
    ['empty', ''],
    ['with a space', 'a b'],
    ['too long', 'k'.repeat(256)],
    ['non-ASCII', 'schlüssel'],
  ])('refuses a key that is %s', async (_what, key) => {
    const res = await batch(ops('f'), { 'idempotency-key': key });
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_IDEMPOTENCY_KEY_INVALID']);
  });
});
