import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/** Rules found in review: each a way to write, read or stall what one should not. */
let t: TestService;
const user1 = basic('300:20.5000/user1', 'user1-secret-value');
const call = (method: 'PUT' | 'DELETE' | 'GET', url: string, body?: unknown, auth: string | null = adminAuth()) =>
  t.app.inject({
    method,
    url,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const URL_VALUE = { index: 1, type: 'URL', data: 'https://example.org/' };

beforeAll(async () => {
  t = await startTestService();
  expect((await call('PUT', '/api/handles/20.5000/user1', [{ index: 300, type: 'HS_SECKEY', data: 'user1-secret-value' }])).statusCode).toBe(201);
  expect((await call('PUT', '/api/handles/20.5000/target', [URL_VALUE])).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('writes that change nothing', () => {
  it('still need the right to change, and write nothing', async () => {
    const seq = t.service.store.lastSeq;
    const current = (await call('GET', '/api/handles/20.5000/target?type=URL', undefined, null)).json().values;
    const denied = await call('PUT', '/api/handles/20.5000/target?index=1', current, user1);
    expect([denied.statusCode, denied.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    const same = await call('PUT', '/api/handles/20.5000/target?index=1', [URL_VALUE]);
    expect(same.statusCode).toBe(200);
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await t.service.store.historyOf('20.5000/TARGET')).length).toBe(0);
  });
});

describe('value types and secrets', () => {
  it.each(['hs_signature', 'Hs_Seckey', 'hs_admin'])('refuses the lower-case twin %s of a Handle System type', async (type) => {
    const res = await call('PUT', '/api/handles/20.5000/twins', [{ index: 2, type, data: 'x.y.z' }]);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_VALUE_INVALID']);
  });

  it('takes at most four HS_SECKEY values per write', async () => {
    const values = Array.from({ length: 5 }, (_, i) => ({ index: 300 + i, type: 'HS_SECKEY', data: `secret-number-${i}` }));
    const res = await call('PUT', '/api/handles/20.5000/many-secrets', values);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_VALUE_INVALID']);
  });

  it('lets only the service admin change the service admin secret, whatever HS_ADMIN says', async () => {
    const grant = { index: 102, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/user1', index: 300, permissions: '000000010000' } } };
    expect((await call('PUT', '/api/handles/0.NA/20.5000?index=102', [grant])).statusCode).toBe(200);
    const res = await call('PUT', '/api/handles/0.NA/20.5000?index=300', [{ index: 300, type: 'HS_SECKEY', data: 'taken-over-secret' }], user1);
    expect([res.statusCode, res.json().code]).toEqual([409, 'ERR_RECORD_PROTECTED']);
    expect((await call('PUT', '/api/handles/20.5000/still-admin', [URL_VALUE])).statusCode).toBe(201);
  });
});

describe('listing and URLs', () => {
  it('counts only with pageSize=0 and no page', async () => {
    const res = (await call('GET', '/api/handles?prefix=20.5000&pageSize=0')).json();
    expect(res).toMatchObject({ page: 0, pageSize: 0, handles: [] });
    expect(Number(res.totalCount)).toBeGreaterThan(2);
  });

  it('answers a malformed percent-encoding in Cairn shape, with CORS', async () => {
    const res = await t.app.inject({ url: '/api/handles/20.5000/%E0%A4%A' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ responseCode: 102, code: 'ERR_IDENTIFIER_INVALID' });
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('bulk import', () => {
  it('keeps a handle\'s admins when a line names none, as PUT does', async () => {
    const owned = { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/user1', index: 300, permissions: '011111110011' } } };
    expect((await call('PUT', '/api/handles/20.5000/owned', [URL_VALUE, owned])).statusCode).toBe(201);
    await t.service.handles.importBatch([{ handle: '20.5000/owned', values: [{ index: 1, type: 'URL', data: 'https://imported.example/' }], line: 1 }], {});
    const admins = (await call('GET', '/api/handles/20.5000/owned?type=HS_ADMIN', undefined, null)).json().values;
    expect(admins.map((a: { data: { value: { handle: string } } }) => a.data.value.handle)).toEqual(['20.5000/user1']);
  });
});

describe('confidential OID registrants', () => {
  it('stay confidential when a later update does not repeat the flag', async () => {
    expect((await call('PUT', '/api/oids/2.999', { description: 'Example', registrant: { name: 'Secret Corp', contact: 'x@secret.example' }, confidential: true })).statusCode).toBe(201);
    expect((await call('PUT', '/api/oids/2.999', { description: 'Example, renamed' })).statusCode).toBe(200);
    const anonymous = (await call('GET', '/api/oids/2.999', undefined, null)).json();
    expect(anonymous.confidential).toBe(true);
    expect(JSON.stringify(anonymous)).not.toContain('Secret Corp');
    expect(JSON.stringify((await call('GET', '/api/history/urn:oid:2.999', undefined, null)).json())).not.toContain('Secret Corp');
  });
});
