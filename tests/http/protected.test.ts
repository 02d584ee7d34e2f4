import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_IDENTITY, adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/** Nobody, the service admin included, can take from the service record what the service runs on. */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => t.close());

const call = (method: 'PUT' | 'DELETE', url: string, body?: unknown, auth = adminAuth()) =>
  t.app.inject({
    method,
    url,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });

describe('the service record 0.NA/20.5000', () => {
  it.each([
    ['tombstoning it', 'DELETE', '/api/handles/0.NA/20.5000', undefined],
    ['removing the signing key', 'DELETE', '/api/handles/0.NA/20.5000?index=301', undefined],
    ['removing the admin secret', 'DELETE', '/api/handles/0.NA/20.5000?index=300', undefined],
    ['replacing the signing key', 'PUT', '/api/handles/0.NA/20.5000?index=301', [{ index: 301, type: 'URL', data: 'https://x.example/' }]],
    ['replacing the record without its keys', 'PUT', '/api/handles/0.NA/20.5000', [{ index: 1, type: 'URL', data: 'https://x.example/' }]],
  ] as const)('refuses %s (409, ERR_RECORD_PROTECTED) and changes nothing', async (_name, method, url, body) => {
    const seq = t.service.store.lastSeq;
    const res = await call(method, url, body);
    expect([res.statusCode, res.json().code, res.json().responseCode]).toEqual([409, 'ERR_RECORD_PROTECTED', 400]);
    expect(t.service.store.lastSeq).toBe(seq);
  });

  it('lets the admin change the admin secret, after which only the new one works', async () => {
    const res = await call('PUT', '/api/handles/0.NA/20.5000?index=300', [{ index: 300, type: 'HS_SECKEY', data: 'a-brand-new-admin-secret' }]);
    expect(res.statusCode).toBe(200);
    const probe = (auth: string) => call('PUT', '/api/handles/20.5000/probe', [{ index: 1, type: 'URL', data: 'https://p.example/' }], auth);
    expect((await probe(adminAuth())).statusCode).toBe(401);
    expect((await probe(basic(ADMIN_IDENTITY, 'a-brand-new-admin-secret'))).statusCode).toBe(201);
  });

  it('still lets the admin add values to it', async () => {
    const res = await call('PUT', '/api/handles/0.NA/20.5000?index=2', [{ index: 2, type: 'EMAIL', data: 'registry@example.org' }], basic(ADMIN_IDENTITY, 'a-brand-new-admin-secret'));
    expect(res.statusCode).toBe(200);
  });
});
