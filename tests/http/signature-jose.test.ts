import { createLocalJWKSet, compactVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { independentDigest } from '../helpers/independent-rfc3651.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * A resolved record's signature checks out with code that is not Cairn's: `jose` verifies the JWS
 * against nothing but the published JWKS, and the digests are recomputed by an encoder written in
 * the test from RFC 3651.
 */
describe.each(['EdDSA', 'ES256', 'RS256'] as const)('record signatures verified by jose with the JWKS (%s)', (alg) => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ signingAlg: alg });
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/handles/20.5000/signed',
      headers: { 'content-type': 'application/json', authorization: adminAuth() },
      payload: JSON.stringify([
        { index: 1, type: 'URL', data: 'https://example.org/signed' },
        { index: 2, type: 'BIN', data: { format: 'hex', value: '00010203ff' } },
        { index: 3, type: 'NOTE', data: 'ref', references: [{ handle: '20.5000/other', index: 1 }] },
        { index: 4, type: 'PRIVATE', data: 'admins only', permissions: '1100' },
      ]),
    });
    expect(res.statusCode).toBe(201);
  });
  afterAll(async () => t.close());

  it('verifies, names the handle, and covers exactly the public values', async () => {
    const jwks = createLocalJWKSet((await t.app.inject({ url: '/.well-known/jwks.json' })).json());
    const record = (await t.app.inject({ url: '/api/handles/20.5000/signed' })).json();
    const sigValue = record.values.find((v: { type: string }) => v.type === 'HS_SIGNATURE');
    const { payload, protectedHeader } = await compactVerify(sigValue.data.value, jwks, { algorithms: [alg] });
    expect(protectedHeader.alg).toBe(alg);
    const claims = JSON.parse(new TextDecoder().decode(payload));
    expect(claims.sub).toBe('20.5000/signed');
    expect(claims.iss).toMatch(/^30[123]:0\.NA\/20\.5000$/);
    expect(claims.nbf).toBeLessThanOrEqual(claims.iat);
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
    const publicValues = record.values.filter((v: { type: string }) => v.type !== 'HS_SIGNATURE');
    expect(publicValues.map((v: { index: number }) => v.index)).toEqual([1, 2, 3, 100]);
    const expected = publicValues.map((v: Parameters<typeof independentDigest>[0]) => ({ index: v.index, digest: independentDigest(v) }));
    expect(claims.digests).toEqual({ alg: 'SHA-256', digests: expected });
  });

  it('rejects a record whose value was altered after signing', async () => {
    const record = (await t.app.inject({ url: '/api/handles/20.5000/signed' })).json();
    const sig = record.values.find((v: { type: string }) => v.type === 'HS_SIGNATURE').data.value;
    const jwks = createLocalJWKSet((await t.app.inject({ url: '/.well-known/jwks.json' })).json());
    const claims = JSON.parse(new TextDecoder().decode((await compactVerify(sig, jwks)).payload));
    const altered = { ...record.values[0], data: { format: 'string', value: 'https://evil.example/' } };
    expect(claims.digests.digests[0].digest).not.toBe(independentDigest(altered));
    const [h, , s] = sig.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: '20.5000/other' })).toString('base64url')}.${s}`;
    await expect(compactVerify(forged, jwks)).rejects.toThrow();
  });
});
