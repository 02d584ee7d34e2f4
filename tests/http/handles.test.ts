import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => t.close());

/** `auth` null sends no credentials; by default the service admin's. */
const put = (handle: string, body: unknown, query = '', auth: string | null = adminAuth()) =>
  t.app.inject({
    method: 'PUT',
    url: `/api/handles/${handle}${query}`,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    payload: JSON.stringify(body),
  });
const get = (url: string) => t.app.inject({ method: 'GET', url });
const del = (url: string, auth: string | null = adminAuth()) =>
  t.app.inject({ method: 'DELETE', url, headers: auth ? { authorization: auth } : {} });
const URL_VALUE = { index: 1, type: 'URL', data: { format: 'string', value: 'https://example.org/one' } };

describe('the service prefix record 0.NA/20.5000', () => {
  it('carries HS_ADMIN and the signing key as HS_PUBKEY, and hides the admin secret', async () => {
    const res = await get('/api/handles/0.NA/20.5000');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const types = body.values.map((v: { type: string }) => v.type);
    expect(types).toEqual(['HS_ADMIN', 'HS_PUBKEY', 'HS_SIGNATURE']);
    expect(body.values[1]).toMatchObject({ index: 301, data: { format: 'key', value: { kty: 'OKP', crv: 'Ed25519' } } });
    expect(res.body).not.toContain('scrypt');
  });
});

describe('PUT and GET /api/handles/{handle}', () => {
  it('creates a handle (201), then resolves it in Handle.Net shape with creator admin and signature', async () => {
    const created = await put('20.5000/one', [URL_VALUE, { index: 2, type: 'EMAIL', data: 'ops@example.org' }]);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ responseCode: 1, handle: '20.5000/one' });
    const res = await get('/api/handles/20.5000/one');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['responseCode', 'handle', 'values']);
    expect(body.values.map((v: { index: number }) => v.index)).toEqual([1, 2, 100, 400]);
    expect(body.values[2]).toMatchObject({
      type: 'HS_ADMIN',
      data: { format: 'admin', value: { handle: '0.NA/20.5000', index: 300, permissions: '011111110011' } },
    });
    expect(body.values[3].type).toBe('HS_SIGNATURE');
    expect(body.values[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('resolves case-insensitively in ASCII, answering with the registered spelling', async () => {
    const res = await get('/api/handles/20.5000/ONE');
    expect(res.statusCode).toBe(200);
    expect(res.json().handle).toBe('20.5000/one');
  });

  it('keeps the registered spelling and signs that spelling when a write uses another case', async () => {
    expect((await put('20.5000/Mixed', [URL_VALUE])).statusCode).toBe(201);
    expect((await put('20.5000/MIXED', [URL_VALUE, { index: 2, type: 'X', data: 'y' }])).statusCode).toBe(200);
    const resolved = (await get('/api/resolve/hdl:20.5000/mixed')).json();
    expect(resolved.handle).toBe('20.5000/Mixed');
    const claims = JSON.parse(Buffer.from(resolved.signature.jws.split('.')[1], 'base64url').toString());
    expect(claims.sub).toBe('20.5000/Mixed');
  });

  it('replaces by default (200) and keeps the timestamp of unchanged values', async () => {
    const before = (await get('/api/handles/20.5000/one')).json();
    await new Promise((r) => setTimeout(r, 1100));
    const res = await put('20.5000/one', { values: [URL_VALUE, { index: 3, type: 'DESC', data: 'three' }] });
    expect(res.statusCode).toBe(200);
    const after = (await get('/api/handles/20.5000/one')).json();
    expect(after.values.map((v: { index: number }) => v.index)).toEqual([1, 3, 100, 400]);
    expect(after.values[0].timestamp).toBe(before.values[0].timestamp);
    expect(after.values[1].timestamp > before.values[0].timestamp).toBe(true);
  });

  it('with overwrite=false creates (201) or refuses an existing handle (409, responseCode 101)', async () => {
    expect((await put('20.5000/two', [URL_VALUE], '?overwrite=false')).statusCode).toBe(201);
    const again = await put('20.5000/two', [URL_VALUE], '?overwrite=false');
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ responseCode: 101, handle: '20.5000/two', code: 'ERR_HANDLE_EXISTS' });
  });

  it('with index=N adds or replaces only those values', async () => {
    const res = await put('20.5000/two', [{ index: 5, type: 'NOTE', data: 'five' }], '?index=5');
    expect(res.statusCode).toBe(200);
    const body = (await get('/api/handles/20.5000/two')).json();
    expect(body.values.map((v: { index: number }) => v.index)).toEqual([1, 5, 100, 400]);
    const exists = await put('20.5000/two', [{ index: 5, type: 'NOTE', data: 'again' }], '?index=5&overwrite=false');
    expect(exists.statusCode).toBe(409);
    expect(exists.json()).toMatchObject({ responseCode: 201, code: 'ERR_VALUE_EXISTS' });
    const mismatch = await put('20.5000/two', [{ index: 6, type: 'NOTE', data: 'six' }], '?index=7');
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().code).toBe('ERR_BODY_INVALID');
    const missing = await put('20.5000/none', [{ index: 6, type: 'NOTE', data: 'six' }], '?index=6');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().responseCode).toBe(100);
  });

  it('accepts a single value as the body, and refuses a body naming another handle', async () => {
    expect((await put('20.5000/single', URL_VALUE)).statusCode).toBe(201);
    const other = await put('20.5000/single', { handle: '20.5000/other', values: [URL_VALUE] });
    expect(other.statusCode).toBe(400);
    expect(other.json()).toMatchObject({ responseCode: 4, code: 'ERR_HANDLE_MISMATCH' });
  });

  it('mints a UUID suffix with mintNewSuffix=true', async () => {
    const res = await put('20.5000/', [URL_VALUE], '?mintNewSuffix=true');
    expect(res.statusCode).toBe(201);
    const { handle } = res.json();
    expect(handle).toMatch(/^20\.5000\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await get(`/api/handles/${handle}`)).statusCode).toBe(200);
  });

  it('keeps suffixes with slashes and Unicode', async () => {
    const suffix = encodeURI('a/b/ünï');
    expect((await put(`20.5000/${suffix}`, [URL_VALUE])).statusCode).toBe(201);
    expect((await get(`/api/handles/20.5000/${suffix}`)).json().handle).toBe('20.5000/a/b/ünï');
  });

  it('answers unknown handles 404 (100), foreign prefixes 400 (301), invalid handles 400 (102)', async () => {
    expect((await get('/api/handles/20.5000/unknown')).json()).toMatchObject({ responseCode: 100, handle: '20.5000/unknown' });
    expect((await get('/api/handles/20.5000/unknown')).statusCode).toBe(404);
    const foreign = await get('/api/handles/10.1000/x');
    expect([foreign.statusCode, foreign.json().responseCode]).toEqual([400, 301]);
    const invalid = await get('/api/handles/20.5000');
    expect([invalid.statusCode, invalid.json().responseCode]).toEqual([400, 102]);
  });
});

describe('filters', () => {
  beforeAll(async () => {
    await put('20.5000/filters', [
      { index: 1, type: 'URL', data: 'https://a.example/' },
      { index: 2, type: 'URL.mirror', data: 'https://b.example/' },
      { index: 3, type: 'EMAIL', data: 'x@example.org' },
    ]);
  });
  const indexes = async (query: string) => (await get(`/api/handles/20.5000/filters${query}`)).json().values.map((v: { index: number }) => v.index);

  it('filters by type (case-insensitive, trailing dot for subtypes) and index, OR-ed', async () => {
    expect(await indexes('?type=URL')).toEqual([1]);
    expect(await indexes('?type=url')).toEqual([1]);
    expect(await indexes('?type=URL.')).toEqual([1, 2]);
    expect(await indexes('?type=EMAIL&index=2')).toEqual([2, 3]);
    expect(await indexes('?index=1&index=3')).toEqual([1, 3]);
  });

  it('answers 200 with responseCode 200 and no values when nothing matches', async () => {
    const res = await get('/api/handles/20.5000/filters?type=NOPE');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ responseCode: 200, values: [], handle: '20.5000/filters' });
  });

  it('rejects a non-numeric index filter', async () => {
    const res = await get('/api/handles/20.5000/filters?index=x');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ERR_QUERY_INVALID');
  });
});

describe('DELETE', () => {
  it('removes values by index, refusing missing indexes', async () => {
    await put('20.5000/del', [URL_VALUE, { index: 2, type: 'X', data: 'x' }]);
    expect((await del('/api/handles/20.5000/del?index=2')).statusCode).toBe(200);
    expect((await get('/api/handles/20.5000/del')).json().values.map((v: { index: number }) => v.index)).toEqual([1, 100, 400]);
    const missing = await del('/api/handles/20.5000/del?index=9');
    expect([missing.statusCode, missing.json().responseCode, missing.json().code]).toEqual([400, 200, 'ERR_VALUE_NOT_FOUND']);
  });

  it('tombstones a handle: 410 with reason and time on every read path', async () => {
    const res = await del('/api/handles/20.5000/del?reason=retired&successor=20.5000/one');
    expect(res.json()).toEqual({ responseCode: 1, handle: '20.5000/del' });
    const gone = await get('/api/handles/20.5000/del');
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({ responseCode: 100, handle: '20.5000/del', tombstone: { reason: 'retired', successor: '20.5000/one' } });
    expect((await get('/api/handles/20.5000/del?type=URL')).statusCode).toBe(410);
    const resolved = await get('/api/resolve/hdl:20.5000/del');
    expect(resolved.statusCode).toBe(410);
    expect(resolved.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(resolved.json()).toMatchObject({ code: 'ERR_HANDLE_DELETED', tombstone: { reason: 'retired' } });
    expect((await del('/api/handles/20.5000/del')).statusCode).toBe(410);
    expect((await del('/api/handles/20.5000/never')).statusCode).toBe(404);
  });

  it('keeps the previous versions in history and lets the handle be re-created', async () => {
    const history = await t.service.store.historyOf('20.5000/DEL');
    expect(history.map((r) => r.version)).toEqual([1, 2]);
    // A tombstone is no handle for create-if-absent: overwrite=false re-creates it.
    expect((await put('20.5000/del', [URL_VALUE], '?overwrite=false')).statusCode).toBe(201);
    expect((await get('/api/handles/20.5000/del')).statusCode).toBe(200);
    const [last] = (await t.service.store.changesSince(t.service.store.lastSeq - 1, 1));
    expect(last).toMatchObject({ key: '20.5000/DEL', op: 'create', version: 4 });
  });
});

describe('listing', () => {
  it('lists handles under a prefix, paged, with totalCount as a string', async () => {
    const all = await t.app.inject({ url: '/api/handles?prefix=20.5000', headers: { authorization: adminAuth() } });
    expect(all.statusCode).toBe(200);
    const body = all.json();
    expect(body).toMatchObject({ responseCode: 1, prefix: '20.5000' });
    expect(typeof body.totalCount).toBe('string');
    expect(body.handles).toContain('20.5000/one');
    expect(body).not.toHaveProperty('page');
    const page = (await t.app.inject({ url: '/api/handles?prefix=0.NA/20.5000&page=1&pageSize=2', headers: { authorization: adminAuth() } })).json();
    expect(page).toMatchObject({ page: 1, pageSize: 2, totalCount: body.totalCount });
    expect(page.handles).toEqual(body.handles.slice(2, 4));
    const count = (await t.app.inject({ url: '/api/handles?prefix=20.5000&page=0&pageSize=0', headers: { authorization: adminAuth() } })).json();
    expect(count.handles).toEqual([]);
    expect(count.totalCount).toBe(body.totalCount);
  });

  it('needs credentials', async () => {
    const res = await get('/api/handles?prefix=20.5000');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="handle"');
    expect(res.json().responseCode).toBe(402);
  });

  it('lists the prefixes served', async () => {
    const res = await t.app.inject({ url: '/api/prefixes', headers: { authorization: adminAuth() } });
    expect(res.json()).toEqual({ responseCode: 1, totalCount: '1', prefixes: ['20.5000'] });
  });
});

describe('authentication and permissions', () => {
  const userAuth = basic('300:20.5000/user1', 'user1-secret-value');

  beforeAll(async () => {
    await put('20.5000/user1', [{ index: 300, type: 'HS_SECKEY', data: 'user1-secret-value' }]);
    await put('20.5000/owned-by-admin', [URL_VALUE]);
  });

  it('stores HS_SECKEY hashed and not publicly readable', async () => {
    const res = await get('/api/handles/20.5000/user1');
    expect(res.json().values.map((v: { type: string }) => v.type)).not.toContain('HS_SECKEY');
    expect(res.body).not.toContain('user1-secret-value');
  });

  it('refuses writes without credentials (401, 402), with a wrong secret (401), or from a non-loopback address over HTTP (403)', async () => {
    const none = await put('20.5000/x', [URL_VALUE], '', null);
    expect([none.statusCode, none.json().responseCode, none.json().code]).toEqual([401, 402, 'ERR_AUTH_REQUIRED']);
    const wrong = await put('20.5000/x', [URL_VALUE], '', basic('300:0.NA/20.5000', 'not-the-secret'));
    expect([wrong.statusCode, wrong.json().code]).toEqual([401, 'ERR_AUTH_FAILED']);
    const unknown = await put('20.5000/x', [URL_VALUE], '', basic('300:20.5000/nobody', 'whatever-secret'));
    expect([unknown.statusCode, unknown.json().message]).toEqual([401, 'Authentication failed for 300:20.5000/nobody']);
    const remote = await t.app.inject({
      method: 'PUT',
      url: '/api/handles/20.5000/x',
      remoteAddress: '192.0.2.7',
      headers: { 'content-type': 'application/json', authorization: adminAuth() },
      payload: JSON.stringify([URL_VALUE]),
    });
    expect([remote.statusCode, remote.json().code]).toEqual([403, 'ERR_AUTH_INSECURE_TRANSPORT']);
    expect((await get('/api/handles/20.5000/x')).statusCode).toBe(404);
  });

  it('lets an identity without HS_ADMIN do nothing (403, responseCode 400)', async () => {
    const edit = await put('20.5000/owned-by-admin', [{ index: 1, type: 'URL', data: 'https://evil.example/' }], '?index=1', userAuth);
    expect([edit.statusCode, edit.json().responseCode, edit.json().code]).toEqual([403, 400, 'ERR_PERMISSION_DENIED']);
    const create = await put('20.5000/by-user', [URL_VALUE], '', userAuth);
    expect(create.statusCode).toBe(403);
    expect((await del('/api/handles/20.5000/owned-by-admin', userAuth)).statusCode).toBe(403);
    expect((await get('/api/handles/20.5000/owned-by-admin')).json().values[0].data.value).toBe('https://example.org/one');
  });

  it('grants follow HS_ADMIN: ADD_HANDLE on the prefix lets a user create, and the creator administers what it created', async () => {
    const prefix = (await get('/api/handles/0.NA/20.5000')).json();
    const grant = { index: 101, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/user1', index: 300, permissions: '000000000001' } } };
    expect((await put('0.NA/20.5000', [grant], '?index=101')).statusCode).toBe(200);
    expect((await get('/api/handles/0.NA/20.5000')).json().values.length).toBe(prefix.values.length + 1);
    const create = await put('20.5000/by-user', [URL_VALUE], '', userAuth);
    expect(create.statusCode).toBe(201);
    const admin = (await get('/api/handles/20.5000/by-user?type=HS_ADMIN')).json().values[0];
    expect(admin.data.value).toEqual({ handle: '20.5000/user1', index: 300, permissions: '011111110011' });
    expect((await put('20.5000/by-user', [{ index: 2, type: 'X', data: 'y' }], '?index=2', userAuth)).statusCode).toBe(200);
    // 011111110011 has no LIST_HANDLES and the grant has none either: an admin short of a bit (401).
    const list = await t.app.inject({ url: '/api/handles?prefix=20.5000', headers: { authorization: userAuth } });
    expect([list.statusCode, list.json().responseCode, list.json().code]).toEqual([403, 401, 'ERR_PERMISSION_INSUFFICIENT']);
    // The creator mask lacks nothing for deletion of its own handle.
    expect((await del('/api/handles/20.5000/by-user', userAuth)).statusCode).toBe(200);
  });
});

describe('other endpoints', () => {
  it('/api/resolve returns the record with its signature and key id', async () => {
    const res = await get('/api/resolve/hdl:20.5000/one');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const jwks = (await get('/.well-known/jwks.json')).json();
    expect(body).toMatchObject({ id: 'hdl:20.5000/one', family: 'handle', status: 'active', version: 2 });
    expect(body.signature).toMatchObject({ index: 400, alg: 'EdDSA', kid: jwks.keys[0].kid });
    expect(body.signature.jws.split('.')).toHaveLength(3);
  });

  it('/api/resolve answers problem+json for unknown, unsupported and invalid identifiers', async () => {
    const cases: [string, number, string][] = [
      ['/api/resolve/hdl:20.5000/missing', 404, 'ERR_HANDLE_NOT_FOUND'],
      // An IMEI names a product item (issue 6): none is registered here.
      ['/api/resolve/imei:260531793113837', 404, 'ERR_PRODUCT_ITEM_NOT_FOUND'],
      ['/api/resolve/isbn:9780306406157', 400, 'ERR_IDENTIFIER_UNSUPPORTED'],
      ['/api/resolve/hdl:20.5000', 400, 'ERR_HANDLE_INVALID'],
    ];
    for (const [url, status, code] of cases) {
      const res = await get(url);
      expect([res.statusCode, res.json().code]).toEqual([status, code]);
      expect(res.json()).toMatchObject({ status, type: expect.stringContaining(code) });
    }
  });

  it('CORS: /api/handles answers any origin, without credentials', async () => {
    const res = await t.app.inject({ url: '/api/handles/20.5000/one', headers: { origin: 'https://app.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/handles/20.5000/one',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
    });
    expect(preflight.statusCode).toBe(204);
  });

  it('health, readiness, metrics, OpenAPI and docs', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await get('/readyz')).json()).toMatchObject({ status: 'ready' });
    const metrics = await get('/metrics');
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/cairn_http_requests_total\{method="GET",route="\/api\/handles\/\*",status="2xx"\} \d+/);
    expect(metrics.body).toMatch(/cairn_changelog_position \d+/);
    const openapi = (await get('/openapi.json')).json();
    expect(openapi.openapi).toBe('3.0.3');
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/handles/{*}', '/api/resolve/{*}', '/.well-known/jwks.json']));
    expect(openapi.paths['/api/handles/{*}'].put.responses).toHaveProperty('409');
    expect((await get('/docs/')).statusCode).toBe(200);
    const unknown = await get('/no/such/route');
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'ERR_ROUTE_NOT_FOUND']);
  });
});
