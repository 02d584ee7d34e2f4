import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatItsSignId, parseItsSignType, type ItsKind } from '../../src/ids/its-sign.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/*
 * ITS records in the global history and change feed (`/api/history/its:…`, `/api/changes`), and
 * the withdrawal of an issuer grant.
 */

let t: TestService;
const roads = basic('300:20.5000/roads-nl', 'roads-nl-secret');

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
const call = (method: Method, url: string, body?: unknown, auth: string | null = null) =>
  t.app.inject({
    method,
    url,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const get = (url: string, auth: string | null = null) => call('GET', url, undefined, auth);
const sid = (kind: ItsKind, serial: number, type?: string): string =>
  formatItsSignId({ kind, country: 'NL', authority: 12, serial, ...(type ? { type: parseItsSignType(type) } : {}) });
const at = (id: string): string => `/api/its/${encodeURIComponent(id)}`;
const history = (id: string, query = '') => get(`/api/history/${encodeURIComponent(id)}${query}`);
const sign = (lat: number, facing = 90) => ({ position: { lat, lon: 4.9 }, facing });

let jwks: ReturnType<typeof createLocalJWKSet>;
async function signedSub(jws: string): Promise<string> {
  return (JSON.parse(new TextDecoder().decode((await compactVerify(jws, jwks)).payload)) as { sub: string }).sub;
}

beforeAll(async () => {
  t = await startTestService();
  expect((await call('PUT', '/api/handles/20.5000/roads-nl', [{ index: 300, type: 'HS_SECKEY', data: 'roads-nl-secret' }], adminAuth())).statusCode).toBe(201);
  expect((await call('PUT', '/api/its/issuers/NL.12', { identity: '300:20.5000/roads-nl', name: 'Roads NL' }, adminAuth())).statusCode).toBe(201);
  jwks = createLocalJWKSet((await get('/.well-known/jwks.json')).json());
});
afterAll(async () => t.close());

describe('/api/history/its:…', () => {
  it('serves every version of a sign with its signature, oldest first, as for handles and OIDs', async () => {
    const first = sid('sign', 1, 'nat.NL-C2');
    const retyped = sid('sign', 1, 'any.X7');
    expect((await call('PUT', at(first), sign(52.1), roads)).statusCode).toBe(201);
    expect((await call('PUT', at(first), sign(52.2, 180), roads)).statusCode).toBe(200);
    expect((await call('PUT', at(retyped), sign(52.3), roads)).statusCode).toBe(200);
    expect((await call('DELETE', `${at(first.replace(':nat.NL-C2', ''))}?reason=removed`, undefined, roads)).statusCode).toBe(200);

    const res = await history(sid('sign', 1));
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { id: string; versions: { version: number; status: string; values: { type: string; data: { value: string } }[]; tombstone?: { reason: string } }[] };
    expect(body.id).toBe(retyped);
    expect(body.versions.map((v) => [v.version, v.status])).toEqual([[1, 'active'], [2, 'active'], [3, 'active'], [4, 'tombstoned']]);
    expect(body.versions[3]!.tombstone).toMatchObject({ reason: 'removed' });
    // Each active version carries the signature it was written with; its sub is the id of that version.
    const subs: string[] = [];
    for (const v of body.versions.slice(0, 3)) {
      const sig = v.values.find((x) => x.type === 'HS_SIGNATURE')!;
      subs.push(await signedSub(sig.data.value));
    }
    expect(subs).toEqual([first, first, retyped]);
    const positions = body.versions.slice(0, 3).map((v) => JSON.parse(v.values.find((x) => x.type === 'ITS.POSITION')!.data.value).lat);
    expect(positions).toEqual([52.1, 52.2, 52.3]);
  });

  it('accepts the id with any type the sign has had, refuses a type it never had', async () => {
    expect((await history(sid('sign', 1, 'nat.NL-C2'))).json().versions).toHaveLength(4);
    expect((await history(sid('sign', 1, 'any.X7'))).json().versions).toHaveLength(4);
    const wrong = await history(sid('sign', 1, 'nat.NL-C3'));
    expect([wrong.statusCode, wrong.json().code]).toEqual([409, 'ERR_ITS_TYPE_MISMATCH']);
  });

  it('answers asOf with the version in force then', async () => {
    const id = sid('plate', 2);
    expect((await call('PUT', at(id), sign(52.5), roads)).statusCode).toBe(201);
    const created = (await history(id)).json().versions[0].updated as string;
    const res = await history(id, `?asOf=${encodeURIComponent(created)}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, asOf: created, version: 1, status: 'active' });
    const before = await history(id, '?asOf=2000-01-01T00:00:00Z');
    expect([before.statusCode, before.json().code]).toEqual([404, 'ERR_HISTORY_BEFORE_CREATION']);
  });

  it('answers 404 for a sign never registered and 400 for a malformed id', async () => {
    const missing = await history(sid('sign', 999));
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'ERR_ITS_NOT_FOUND']);
    const bad = await history('its:sign:NL.12:1~A');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toMatch(/^ERR_ITS_(CHECK_MISMATCH|ID_INVALID)$/);
  });

  it('serves the history of an issuer: grants and withdrawals, each signed for its-issuer:<CC>.<authority>', async () => {
    const res = await history('its-issuer:NL.12');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.id).toBe('its-issuer:NL.12');
    const sig = body.versions[0].values.find((x: { type: string }) => x.type === 'HS_SIGNATURE');
    expect(await signedSub(sig.data.value)).toBe('its-issuer:NL.12');
    expect((await history('its-issuer:FR.3')).json().code).toBe('ERR_ITS_ISSUER_NOT_FOUND');
    expect((await history('its-issuer:XX.3')).statusCode).toBe(400);
  });
});

describe('/api/changes', () => {
  it('names ITS records as themselves, never as handles', async () => {
    const res = await get('/api/changes?limit=1000', adminAuth());
    expect(res.statusCode).toBe(200);
    const ids = (res.json().changes as { id: string }[]).map((c) => c.id);
    expect(ids).toContain('its-issuer:NL.12');
    expect(ids).toContain(sid('sign', 1, 'nat.NL-C2'));
    expect(ids).toContain(sid('sign', 1, 'any.X7'));
    expect(ids).toContain('hdl:20.5000/roads-nl');
    expect(ids.filter((id) => /^hdl:its/i.test(id))).toEqual([]);
    // Every id the feed names has a history at /api/history/{id}.
    for (const id of new Set(ids)) expect((await history(id)).statusCode, id).toBe(200);
  });
});

describe('withdrawing an issuer grant', () => {
  it('is for the service admin only', async () => {
    const anon = await call('DELETE', '/api/its/issuers/NL.12');
    expect([anon.statusCode, anon.json().code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
    const grantee = await call('DELETE', '/api/its/issuers/NL.12', undefined, roads);
    expect([grantee.statusCode, grantee.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    expect((await get('/api/its/issuers/NL.12')).json().identity).toBe('300:20.5000/roads-nl');
  });

  it('keeps the signs; the former grantee can no longer write; the admin still can; re-granting restores it', async () => {
    const kept = (await call('POST', '/api/its/sign/NL.12', sign(52.6), roads)).json().id as string;
    const keptBody = (await get(at(kept))).body;
    const res = await call('DELETE', '/api/its/issuers/NL.12', undefined, adminAuth());
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ issuer: 'NL.12', identity: null, name: 'Roads NL', withdrawn: { identity: '300:20.5000/roads-nl' } });
    expect(await signedSub(res.json().signature.jws)).toBe('its-issuer:NL.12');

    expect((await get(at(kept))).body).toBe(keptBody);
    for (const [method, url, body] of [
      ['POST', '/api/its/sign/NL.12', sign(52.7)],
      ['PUT', at(kept), sign(52.8)],
      ['PUT', at(sid('vms', 500)), sign(52.8)],
      ['DELETE', at(kept), undefined],
    ] as const) {
      const refused = await call(method, url, body, roads);
      expect([refused.statusCode, refused.json().code], `${method} ${url}`).toEqual([403, 'ERR_PERMISSION_DENIED']);
    }
    expect((await get(at(kept))).body).toBe(keptBody);
    expect((await get(at(sid('vms', 500)))).statusCode).toBe(404);
    expect((await call('PUT', at(kept), sign(52.9), adminAuth())).statusCode).toBe(200);

    const again = await call('DELETE', '/api/its/issuers/NL.12', undefined, adminAuth());
    expect([again.statusCode, again.json().code]).toEqual([404, 'ERR_ITS_ISSUER_NOT_FOUND']);
    expect((await call('DELETE', '/api/its/issuers/NL.13', undefined, adminAuth())).statusCode).toBe(404);

    expect((await call('PUT', '/api/its/issuers/NL.12', { identity: '300:20.5000/roads-nl' }, adminAuth())).statusCode).toBe(200);
    expect((await call('POST', '/api/its/sign/NL.12', sign(53), roads)).statusCode).toBe(201);
    const versions = (await history('its-issuer:NL.12')).json().versions as { values: { type: string; data: { value: string } }[] }[];
    const grantees = versions.map((v) => v.values.find((x) => x.type === 'ITS.GRANT')?.data.value ?? null);
    expect(grantees).toEqual(['300:20.5000/roads-nl', null, '300:20.5000/roads-nl']);
  });
});
