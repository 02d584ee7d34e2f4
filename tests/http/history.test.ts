import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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

describe('GET /api/history/{id}?asOf=', () => {
  const at = (iso: string) => vi.setSystemTime(new Date(iso));
  const put = (url: string, body: unknown) =>
    t.app.inject({ method: 'PUT', url, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  beforeAll(async () => {
    // Only Date is faked: record times come from it, LevelDB and timers run as usual.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      at('2030-01-01T00:00:00Z');
      expect((await put('/api/handles/20.5000/timeline', [{ index: 1, type: 'URL', data: 'https://first.example/' }])).statusCode).toBe(201);
      expect((await put('/api/oids/2.999.77', { description: 'first arc text' })).statusCode).toBe(201);
      at('2030-01-02T00:00:00Z');
      expect((await put('/api/handles/20.5000/timeline', [{ index: 1, type: 'URL', data: 'https://second.example/' }])).statusCode).toBe(200);
      expect((await put('/api/oids/2.999.77', { description: 'second arc text' })).statusCode).toBe(200);
      at('2030-01-03T00:00:00Z');
      const del = await t.app.inject({ method: 'DELETE', url: '/api/handles/20.5000/timeline?reason=retired', headers: { authorization: adminAuth() } });
      expect(del.statusCode).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ['the creation second', '2030-01-01T00:00:00Z', 1, 'active', 'https://first.example/'],
    ['between the first two writes', '2030-01-01T12:00:00Z', 1, 'active', 'https://first.example/'],
    ['an instant in another zone', '2030-01-02T01:30:00+02:00', 1, 'active', 'https://first.example/'],
    ['the second write, fractions dropped', '2030-01-02T00:00:00.999Z', 2, 'active', 'https://second.example/'],
    ['after the deletion', '2030-01-03T00:00:01Z', 3, 'tombstoned', undefined],
    ['far in the future', '2999-01-01T00:00:00Z', 3, 'tombstoned', undefined],
  ])('gives the version in force at %s', async (_when, asOf, version, status, url) => {
    const res = await t.app.inject({ url: `/api/history/hdl:20.5000/timeline?asOf=${encodeURIComponent(asOf)}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ id: 'hdl:20.5000/timeline', asOf: new Date(Math.floor(Date.parse(asOf) / 1000) * 1000).toISOString().replace('.000Z', 'Z'), version, status });
    expect(body.values.find((v: { type: string }) => v.type === 'URL')?.data.value).toBe(url);
    expect(body.values.some((v: { type: string }) => v.type === 'HS_SIGNATURE') || status === 'tombstoned').toBe(true);
    if (status === 'tombstoned') expect(body.tombstone.reason).toBe('retired');
  });

  it('works for OID arcs too', async () => {
    const first = (await t.app.inject({ url: '/api/history/urn:oid:2.999.77?asOf=2030-01-01T23:59:59Z' })).json();
    const second = (await t.app.inject({ url: '/api/history/urn:oid:2.999.77?asOf=2030-01-02T00:00:00Z' })).json();
    expect([first.id, first.version, second.version]).toEqual(['urn:oid:2.999.77', 1, 2]);
  });

  it('hides what is admin-only now in the version it gives', async () => {
    const history = (await t.app.inject({ url: '/api/history/hdl:20.5000/priv' })).json();
    const res = await t.app.inject({ url: `/api/history/hdl:20.5000/priv?asOf=${history.versions[0].updated}` });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('was public');
  });

  it.each([
    ['before the record existed', 'hdl:20.5000/timeline', '2029-12-31T23:59:59Z', 404, 'ERR_HISTORY_BEFORE_CREATION'],
    ['an OID before it was registered', 'urn:oid:2.999.77', '2000-01-01T00:00:00Z', 404, 'ERR_HISTORY_BEFORE_CREATION'],
    ['a record that never existed', 'hdl:20.5000/never', '2030-01-01T00:00:00Z', 404, 'ERR_HANDLE_NOT_FOUND'],
    ['a time without a zone', 'hdl:20.5000/timeline', '2030-01-01T00:00:00', 400, 'ERR_QUERY_INVALID'],
    ['a date alone', 'hdl:20.5000/timeline', '2030-01-01', 400, 'ERR_QUERY_INVALID'],
    ['words', 'hdl:20.5000/timeline', 'yesterday', 400, 'ERR_QUERY_INVALID'],
    ['an impossible month', 'hdl:20.5000/timeline', '2030-13-01T00:00:00Z', 400, 'ERR_QUERY_INVALID'],
    ['an empty value', 'hdl:20.5000/timeline', '', 400, 'ERR_QUERY_INVALID'],
  ])('answers %s with %i %s', async (_what, id, asOf, status, code) => {
    const res = await t.app.inject({ url: `/api/history/${id}?asOf=${encodeURIComponent(asOf)}` });
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
    if (code === 'ERR_HISTORY_BEFORE_CREATION') expect(res.json().created).toMatch(/^20\d\d-/);
  });
});
