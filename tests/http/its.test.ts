import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatItsSignId, parseItsSerial, parseItsSignId, parseItsSignType, type ItsKind } from '../../src/ids/its-sign.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
const roads = basic('300:20.5000/roads-de', 'roads-de-secret');
const other = basic('300:20.5000/other', 'other-secret-value');

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
const call = (method: Method, url: string, body?: unknown, auth: string | null = null) =>
  t.app.inject({
    method,
    url,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const get = (url: string) => call('GET', url);

/** Canonical id with its check character. */
const sid = (kind: ItsKind, country: string, authority: number, serial: number, type?: string): string =>
  formatItsSignId({ kind, country, authority, serial, ...(type ? { type: parseItsSignType(type) } : {}) });
const at = (id: string): string => `/api/its/${encodeURIComponent(id)}`;

const example = {
  position: { lat: 52.5163, lon: 13.3777, height: 2.1 },
  facing: 180,
  status: 'placed',
  value: 60,
  unit: 'km/h',
  validity: { from: '2026-01-01T00:00:00Z', to: null, windows: [] },
  temporary: false,
  mount: { post: 'post-17', order: 1 },
  lanes: [],
  road: 'B 2',
  aliases: ['osm:node/123'],
  source: 'test',
};
const minimal = { position: { lat: 52.5, lon: 13.4 }, facing: 90 };

beforeAll(async () => {
  t = await startTestService();
  for (const [h, secret] of [['20.5000/roads-de', 'roads-de-secret'], ['20.5000/other', 'other-secret-value']]) {
    expect((await call('PUT', `/api/handles/${h}`, [{ index: 300, type: 'HS_SECKEY', data: secret }], adminAuth())).statusCode).toBe(201);
  }
  expect((await call('PUT', '/api/its/issuers/DE.417', { identity: '300:20.5000/roads-de', name: 'Roads DE' }, adminAuth())).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('issuer grants', () => {
  it('only the service admin grants an issuer; the grant is a signed record', async () => {
    const anon = await call('PUT', '/api/its/issuers/DE.418', { identity: '300:20.5000/other' });
    expect([anon.statusCode, anon.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
    const notAdmin = await call('PUT', '/api/its/issuers/DE.418', { identity: '300:20.5000/other' }, roads);
    expect([notAdmin.statusCode, notAdmin.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    const res = await get('/api/its/issuers/de.417');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ issuer: 'DE.417', country: 'DE', authority: 417, identity: '300:20.5000/roads-de', name: 'Roads DE', version: 1 });
    expect(res.json().signature.jws).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await get('/api/its/issuers/FR.9')).json().code).toBe('ERR_ITS_ISSUER_NOT_FOUND');
  });

  it('re-granting replaces the grantee (200)', async () => {
    expect((await call('PUT', '/api/its/issuers/NL.5', { identity: '300:20.5000/other' }, adminAuth())).statusCode).toBe(201);
    expect((await call('POST', '/api/its/sign/NL.5', minimal, other)).statusCode).toBe(201);
    const again = await call('PUT', '/api/its/issuers/NL.5', { identity: '300:20.5000/roads-de' }, adminAuth());
    expect([again.statusCode, again.json().version]).toEqual([200, 2]);
    expect((await call('POST', '/api/its/sign/NL.5', minimal, other)).statusCode).toBe(403);
    expect((await call('POST', '/api/its/sign/NL.5', minimal, roads)).statusCode).toBe(201);
  });

  it.each([
    [{ identity: 'roads' }, 'ERR_BODY_INVALID'],
    [{}, 'ERR_BODY_INVALID'],
    [{ identity: '300:20.5000/x', colour: 'red' }, 'ERR_BODY_INVALID'],
    [[], 'ERR_BODY_INVALID'],
  ])('refuses issuer body %j', async (body, code) => {
    const res = await call('PUT', '/api/its/issuers/DE.419', body, adminAuth());
    expect([res.statusCode, res.json().code]).toEqual([400, code]);
    expect((await get('/api/its/issuers/DE.419')).statusCode).toBe(404);
  });
});

describe('writing signs', () => {
  it('mints monotonic serials per issuer, counter and sign in one write', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/api/its/sign/DE.417', minimal, roads);
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
      expect(res.headers.location).toBe(at(res.json().id));
    }
    expect(ids).toEqual([sid('sign', 'DE', 417, 1), sid('sign', 'DE', 417, 2), sid('sign', 'DE', 417, 3)]);
    expect((await get('/api/its/issuers/DE.417')).json().lastSerial).toBe(3);
    // The serial is the issuer's, whatever the kind.
    expect((await call('POST', '/api/its/plate/DE.417', minimal, roads)).json().id).toBe(sid('plate', 'DE', 417, 4));
  });

  it('skips serials taken by PUT and never reuses one, across kinds', async () => {
    expect((await call('PUT', at(sid('vms', 'DE', 417, 5)), minimal, roads)).statusCode).toBe(201);
    expect((await call('PUT', at(sid('sign', 'DE', 417, 100)), minimal, roads)).statusCode).toBe(201);
    expect((await call('POST', '/api/its/sign/DE.417', minimal, roads)).json().id).toBe(sid('sign', 'DE', 417, 6));
    const taken = await call('PUT', at(sid('sign', 'DE', 417, 5)), minimal, roads);
    expect([taken.statusCode, taken.json().code, taken.json().takenBy]).toEqual([409, 'ERR_ITS_SERIAL_TAKEN', sid('vms', 'DE', 417, 5)]);
  });

  it('stores the issue example exactly and signs it with sub = the canonical id', async () => {
    const id = sid('sign', 'DE', 417, parseItsSerial('3K7QJ2'), 'nat.DE-274[60]');
    const put = await call('PUT', at(id), example, roads);
    expect(put.statusCode).toBe(201);
    const body = put.json();
    expect(body).toMatchObject({ id, kind: 'sign', issuer: 'DE.417', serial: '3K7QJ2', type: 'nat.DE-274[60]', ...example, version: 1 });
    expect(id).toBe('its:sign:DE.417:nat.DE-274[60]:3K7QJ2~R');
    const jwks = createLocalJWKSet((await get('/.well-known/jwks.json')).json());
    const claims = JSON.parse(new TextDecoder().decode((await compactVerify(body.signature.jws, jwks)).payload));
    expect(claims.sub).toBe(id);
    const types = body.values.map((v: { type: string }) => v.type);
    expect(types).toEqual(expect.arrayContaining(['ITS.TYPE', 'ITS.POSITION', 'ITS.FACING', 'ITS.VALIDITY', 'ITS.ALIAS', 'HS_SIGNATURE']));
    expect(claims.digests.digests.map((d: { index: number }) => d.index)).toEqual(
      body.values.filter((v: { type: string }) => v.type !== 'HS_SIGNATURE').map((v: { index: number }) => v.index),
    );
    // GET serves the same, by the id with or without its type, in any letter case.
    expect((await get(at(id))).json()).toEqual(body);
    expect((await get(at('its:sign:de.417:3k7qj2~r'))).json()).toEqual(body);
  });

  it('fills value and unit from the type and its catalogue entry', async () => {
    const id = sid('sign', 'DE', 417, 200, 'nat.DE-274[80]');
    const res = await call('PUT', at(id), minimal, roads);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ value: 80, unit: 'km/h', status: 'placed', temporary: false, lanes: [], aliases: [], mount: null, road: null, source: null });
    expect(res.json().validity).toEqual({ from: null, to: null, windows: [] });
  });

  it('replaces with PUT: version +1; an id without a type keeps the registered one; a new type re-types', async () => {
    const bare = sid('sign', 'DE', 417, 200);
    const res = await call('PUT', at(bare), { ...minimal, facing: 270 }, roads);
    expect([res.statusCode, res.json().version, res.json().type, res.json().value, res.json().facing]).toEqual([200, 2, 'nat.DE-274[80]', 80, 270]);
    const retyped = await call('PUT', at(sid('sign', 'DE', 417, 200, 'nat.DE-274[100]')), minimal, roads);
    expect([retyped.statusCode, retyped.json().id, retyped.json().value]).toEqual([200, sid('sign', 'DE', 417, 200, 'nat.DE-274[100]'), 100]);
  });

  it('reports an asserted type that differs from the registered one (409, with both)', async () => {
    const res = await get(at(sid('sign', 'DE', 417, 200, 'nat.DE-206')));
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'ERR_ITS_TYPE_MISMATCH', asserted: 'nat.DE-206', registered: 'nat.DE-274[100]', id: sid('sign', 'DE', 417, 200, 'nat.DE-274[100]') });
    expect((await get(at(sid('sign', 'DE', 417, 200, 'nat.DE-274[60]')))).json().code).toBe('ERR_ITS_TYPE_MISMATCH');
    // The code alone matches whatever the value; so does the full type.
    expect((await get(at(sid('sign', 'DE', 417, 200, 'nat.DE-274')))).statusCode).toBe(200);
    expect((await get(at(sid('sign', 'DE', 417, 200, 'nat.DE-274[100]')))).statusCode).toBe(200);
    // A sign registered without a type mismatches any asserted type.
    expect((await get(at(sid('sign', 'DE', 417, 1, 'any.X1')))).json()).toMatchObject({ code: 'ERR_ITS_TYPE_MISMATCH', registered: null });
  });

  it('lets only the grantee and the service admin write under an issuer', async () => {
    const res = await call('POST', '/api/its/sign/DE.417', minimal, other);
    expect([res.statusCode, res.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    expect((await call('PUT', at(sid('sign', 'DE', 417, 1)), minimal, other)).statusCode).toBe(403);
    expect((await call('DELETE', at(sid('sign', 'DE', 417, 1)), undefined, other)).statusCode).toBe(403);
    expect((await call('PUT', at(sid('sign', 'DE', 417, 1)), minimal)).statusCode).toBe(401);
    expect((await call('POST', '/api/its/sign/DE.417', minimal, adminAuth())).statusCode).toBe(201);
    const ungranted = await call('POST', '/api/its/sign/FR.9', minimal, adminAuth());
    expect([ungranted.statusCode, ungranted.json().code]).toEqual([404, 'ERR_ITS_ISSUER_NOT_FOUND']);
  });
});

describe('deletion', () => {
  it('tombstones: 410 with the tombstone; the identity is never written or minted again', async () => {
    const id = (await call('POST', '/api/its/sign/DE.417', minimal, roads)).json().id as string;
    const successor = sid('sign', 'DE', 417, 1);
    const del = await call('DELETE', `${at(id)}?reason=replaced&successor=${encodeURIComponent(successor)}`, undefined, roads);
    expect([del.statusCode, del.json()]).toEqual([200, { id, status: 'tombstoned' }]);
    const res = await get(at(id));
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ code: 'ERR_ITS_DELETED', id, tombstone: { reason: 'replaced', successor } });
    expect((await call('PUT', at(id), minimal, roads)).json().code).toBe('ERR_ITS_DELETED');
    expect((await call('DELETE', at(id), undefined, roads)).statusCode).toBe(410);
    const serial = parseItsSignId(id).serial;
    const next = (await call('POST', '/api/its/sign/DE.417', minimal, roads)).json().id as string;
    expect(parseItsSignId(next).serial).toBe(serial + 1);
    const sameSerialOtherKind = await call('PUT', at(sid('plate', 'DE', 417, serial)), minimal, roads);
    expect(sameSerialOtherKind.json().code).toBe('ERR_ITS_SERIAL_TAKEN');
  });

  it('answers 404 for a sign never registered, and refuses to delete under a wrong asserted type', async () => {
    expect((await get(at(sid('sign', 'DE', 417, 99999)))).json()).toMatchObject({ code: 'ERR_ITS_NOT_FOUND', id: sid('sign', 'DE', 417, 99999) });
    const wrong = await call('DELETE', at(sid('sign', 'DE', 417, 200, 'nat.DE-206')), undefined, roads);
    expect([wrong.statusCode, wrong.json().code]).toEqual([409, 'ERR_ITS_TYPE_MISMATCH']);
    expect((await get(at(sid('sign', 'DE', 417, 200)))).statusCode).toBe(200);
  });
});

describe('resolution through /api/resolve', () => {
  it('resolves its: identifiers like GET /api/its/{id}', async () => {
    const id = 'its:sign:DE.417:nat.DE-274[60]:3K7QJ2~R';
    const res = await get(`/api/resolve/${encodeURIComponent(id)}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual((await get(at(id))).json());
    expect((await get(`/api/resolve/its:sign:DE.417:3K7QJ2~R`)).json().id).toBe(id);
    expect((await get(`/api/resolve/its:sign:DE.417:3K7QJ2~S`)).json().code).toBe('ERR_ITS_CHECK_MISMATCH');
    expect((await get(`/api/resolve/${encodeURIComponent(sid('sign', 'DE', 417, 77777))}`)).statusCode).toBe(404);
  });
});

describe('bad input: a precise 4xx with a stable code, nothing stored', () => {
  const good = sid('sign', 'DE', 417, 300);
  const writes: [string, Method, () => string, unknown, number, string, string?][] = [
    ['position missing', 'PUT', () => good, { facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position'],
    ['latitude above 90', 'PUT', () => good, { position: { lat: 90.0001, lon: 0 }, facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.lat'],
    ['latitude below -90', 'PUT', () => good, { position: { lat: -91, lon: 0 }, facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.lat'],
    ['longitude above 180', 'PUT', () => good, { position: { lat: 0, lon: 180.5 }, facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.lon'],
    ['latitude as text', 'PUT', () => good, { position: { lat: '52', lon: 0 }, facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.lat'],
    ['unknown position member', 'PUT', () => good, { position: { lat: 1, lon: 1, alt: 3 }, facing: 1 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.alt'],
    ['facing missing', 'PUT', () => good, { position: { lat: 1, lon: 1 } }, 400, 'ERR_ITS_SIGN_INVALID', 'facing'],
    ['facing above 360', 'PUT', () => good, { ...minimal, facing: 360.5 }, 400, 'ERR_ITS_SIGN_INVALID', 'facing'],
    ['facing negative', 'PUT', () => good, { ...minimal, facing: -1 }, 400, 'ERR_ITS_SIGN_INVALID', 'facing'],
    ['unknown status', 'PUT', () => good, { ...minimal, status: 'gone' }, 400, 'ERR_ITS_SIGN_INVALID', 'status'],
    ['unknown member', 'PUT', () => good, { ...minimal, colour: 'red' }, 400, 'ERR_ITS_SIGN_INVALID', 'sign.colour'],
    ['validity.from not a date-time', 'PUT', () => good, { ...minimal, validity: { from: '2026-02-30T00:00:00Z' } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.from'],
    ['validity ends before it starts', 'PUT', () => good, { ...minimal, validity: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.to'],
    ['window day unknown', 'PUT', () => good, { ...minimal, validity: { windows: [{ days: ['Monday'], from: '07:00', to: '19:00' }] } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.windows[0].days'],
    ['window time zone unknown', 'PUT', () => good, { ...minimal, validity: { windows: [{ from: '07:00', to: '19:00', tz: 'Mars/Olympus' }] } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.windows[0].tz'],
    ['window empty', 'PUT', () => good, { ...minimal, validity: { windows: [{ from: '07:00', to: '07:00' }] } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.windows[0].to'],
    ['window time 25:00', 'PUT', () => good, { ...minimal, validity: { windows: [{ from: '07:00', to: '25:00' }] } }, 400, 'ERR_ITS_SIGN_INVALID', 'validity.windows[0].to'],
    ['alias without namespace', 'PUT', () => good, { ...minimal, aliases: ['node123'] }, 400, 'ERR_ITS_SIGN_INVALID', 'aliases[0]'],
    ['alias twice', 'PUT', () => good, { ...minimal, aliases: ['osm:node/1', 'OSM:node/1'] }, 400, 'ERR_ITS_SIGN_INVALID', 'aliases'],
    ['lane number negative', 'PUT', () => good, { ...minimal, lanes: [-1] }, 400, 'ERR_ITS_SIGN_INVALID', 'lanes'],
    ['mount order fractional', 'PUT', () => good, { ...minimal, mount: { order: 1.5 } }, 400, 'ERR_ITS_SIGN_INVALID', 'mount.order'],
    ['temporary not boolean', 'PUT', () => good, { ...minimal, temporary: 'yes' }, 400, 'ERR_ITS_SIGN_INVALID', 'temporary'],
    ['unit without value', 'PUT', () => good, { ...minimal, unit: 'km/h' }, 400, 'ERR_ITS_SIGN_INVALID', 'unit'],
    ['value differs from the type', 'PUT', () => sid('sign', 'DE', 417, 300, 'nat.DE-274[60]'), { ...minimal, value: 80 }, 400, 'ERR_ITS_SIGN_INVALID', 'value'],
    ['body an array', 'PUT', () => good, [minimal], 400, 'ERR_ITS_SIGN_INVALID', 'body'],
    ['wrong check character', 'PUT', () => good.slice(0, -1) + (good.endsWith('0') ? '1' : '0'), minimal, 400, 'ERR_ITS_CHECK_MISMATCH', 'check'],
    ['unknown country', 'PUT', () => 'its:sign:QQ.417:1~0', minimal, 400, 'ERR_ITS_ID_INVALID', 'country'],
    ['authority out of range', 'PUT', () => 'its:sign:DE.16384:1~0', minimal, 400, 'ERR_ITS_ID_INVALID', 'authority'],
    ['unknown kind', 'PUT', () => 'its:pole:DE.417:1~0', minimal, 400, 'ERR_ITS_ID_INVALID', 'kind'],
    ['unknown scheme', 'PUT', () => 'its:sign:DE.417:xyz.1:1~0', minimal, 400, 'ERR_ITS_ID_INVALID', 'scheme'],
    ['serial too long', 'PUT', () => 'its:sign:DE.417:ZZZZZZZZZZZ~0', minimal, 400, 'ERR_ITS_ID_INVALID', 'serial'],
    ['code outside its catalogue', 'PUT', () => sid('sign', 'DE', 417, 300, 'nat.DE-9999'), minimal, 400, 'ERR_ITS_CODE_UNKNOWN'],
    ['issuer not granted', 'PUT', () => sid('sign', 'AT', 1, 300), minimal, 404, 'ERR_ITS_ISSUER_NOT_FOUND'],
    ['mint: unknown kind', 'POST', () => '/api/its/pole/DE.417', minimal, 400, 'ERR_ITS_ID_INVALID', 'kind'],
    ['mint: unknown country', 'POST', () => '/api/its/sign/QQ.417', minimal, 400, 'ERR_ITS_ID_INVALID', 'country'],
    ['mint: authority out of range', 'POST', () => '/api/its/sign/DE.16384', minimal, 400, 'ERR_ITS_ID_INVALID', 'authority'],
    ['mint: bad type', 'POST', () => '/api/its/sign/DE.417?type=vc.Z99', minimal, 400, 'ERR_ITS_ID_INVALID', 'code'],
    ['mint: code outside its catalogue', 'POST', () => '/api/its/sign/DE.417?type=nat.DE-9999', minimal, 400, 'ERR_ITS_CODE_UNKNOWN'],
    ['mint: latitude out of range', 'POST', () => '/api/its/sign/DE.417', { position: { lat: 100, lon: 0 }, facing: 0 }, 400, 'ERR_ITS_SIGN_INVALID', 'position.lat'],
    ['mint: unknown query parameter', 'POST', () => '/api/its/sign/DE.417?serial=5', minimal, 400, 'ERR_ITS_QUERY_INVALID', 'serial'],
  ];

  it.each(writes)('%s', async (_name, method, target, body, status, code, field) => {
    const before = t.service.store.lastSeq;
    const lastSerial = (await get('/api/its/issuers/DE.417')).json().lastSerial;
    const url = method === 'POST' ? target() : at(target());
    const res = await call(method, url, body, roads);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    if (field !== undefined) expect(res.json().field ?? res.json().param).toBe(field);
    expect(t.service.store.lastSeq).toBe(before);
    expect((await get('/api/its/issuers/DE.417')).json().lastSerial).toBe(lastSerial);
    if (method === 'PUT') expect((await get(at(good))).statusCode).toBe(404);
  });

  const queries: [string, string, number, string][] = [
    ['inverted bbox (longitude)', 'bbox=13.5,52.4,13.4,52.5', 400, 'ERR_ITS_QUERY_INVALID'],
    ['inverted bbox (latitude)', 'bbox=13.4,52.5,13.5,52.4', 400, 'ERR_ITS_QUERY_INVALID'],
    ['bbox with three numbers', 'bbox=13.4,52.4,13.5', 400, 'ERR_ITS_QUERY_INVALID'],
    ['bbox latitude out of range', 'bbox=13.4,90.4,13.5,90.5', 400, 'ERR_ITS_QUERY_INVALID'],
    ['bbox too large', 'bbox=13,52,14,53', 400, 'ERR_ITS_QUERY_TOO_LARGE'],
    ['near without radius', 'near=52.5,13.4', 400, 'ERR_ITS_QUERY_INVALID'],
    ['radius over the maximum', 'near=52.5,13.4&radius=5001', 400, 'ERR_ITS_QUERY_TOO_LARGE'],
    ['radius zero', 'near=52.5,13.4&radius=0', 400, 'ERR_ITS_QUERY_INVALID'],
    ['near latitude out of range', 'near=91,13.4&radius=10', 400, 'ERR_ITS_QUERY_INVALID'],
    ['near longitude out of range', 'near=52,181&radius=10', 400, 'ERR_ITS_QUERY_INVALID'],
    ['heading above 360', 'ahead=52.5,13.4,361&distance=100', 400, 'ERR_ITS_QUERY_INVALID'],
    ['heading negative', 'ahead=52.5,13.4,-1&distance=100', 400, 'ERR_ITS_QUERY_INVALID'],
    ['distance over the maximum', 'ahead=52.5,13.4,90&distance=5001', 400, 'ERR_ITS_QUERY_TOO_LARGE'],
    ['radius with ahead', 'ahead=52.5,13.4,90&radius=100', 400, 'ERR_ITS_QUERY_INVALID'],
    ['two areas', 'bbox=13.4,52.4,13.5,52.5&near=52.5,13.4&radius=10', 400, 'ERR_ITS_QUERY_INVALID'],
    ['no area', 'kind=sign', 400, 'ERR_ITS_QUERY_INVALID'],
    ['unknown parameter', 'near=52.5,13.4&radius=10&colour=red', 400, 'ERR_ITS_QUERY_INVALID'],
    ['repeated parameter', 'near=52.5,13.4&radius=10&kind=sign&kind=plate', 400, 'ERR_ITS_QUERY_INVALID'],
    ['unknown kind', 'near=52.5,13.4&radius=10&kind=pole', 400, 'ERR_ITS_QUERY_INVALID'],
    ['bad code', 'near=52.5,13.4&radius=10&code=vc.Z99', 400, 'ERR_ITS_QUERY_INVALID'],
    ['temporary not boolean', 'near=52.5,13.4&radius=10&temporary=yes', 400, 'ERR_ITS_QUERY_INVALID'],
    ['unknown status', 'near=52.5,13.4&radius=10&status=gone', 400, 'ERR_ITS_QUERY_INVALID'],
    ['at not a date-time', 'near=52.5,13.4&radius=10&at=tomorrow', 400, 'ERR_ITS_QUERY_INVALID'],
    ['asOf not a date-time', 'near=52.5,13.4&radius=10&asOf=2026-13-01T00:00:00Z', 400, 'ERR_ITS_QUERY_INVALID'],
    ['limit zero', 'near=52.5,13.4&radius=10&limit=0', 400, 'ERR_ITS_QUERY_INVALID'],
    ['limit over 1000', 'near=52.5,13.4&radius=10&limit=1001', 400, 'ERR_ITS_QUERY_INVALID'],
    ['alias without namespace', 'alias=node123', 400, 'ERR_ITS_QUERY_INVALID'],
  ];

  it.each(queries)('query: %s', async (_name, query, status, code) => {
    const res = await get(`/api/its?${query}`);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });

  it.each([
    ['changes: since negative', '/api/its/changes?since=-1', 'ERR_ITS_QUERY_INVALID'],
    ['changes: limit zero', '/api/its/changes?limit=0', 'ERR_ITS_QUERY_INVALID'],
    ['changes: unknown parameter', '/api/its/changes?from=1', 'ERR_ITS_QUERY_INVALID'],
    ['get: asOf not a date-time', `/api/its/${encodeURIComponent('its:sign:DE.417:1~0')}?asOf=yesterday`, 'ERR_ITS_QUERY_INVALID'],
    ['issuer: bad form', '/api/its/issuers/DE-417', 'ERR_ITS_ID_INVALID'],
    ['issuer: unknown country', '/api/its/issuers/QQ.1', 'ERR_ITS_ID_INVALID'],
  ])('%s', async (_name, url, code) => {
    const res = await get(url);
    expect([res.statusCode, res.json().code]).toEqual([400, code]);
  });
});
