import { describe, expect, it } from 'vitest';
import { valueFromJson } from '../../src/records/handle-json.js';
import { generateKeyPair, SIGNING_ALGORITHMS, jwkThumbprint } from '../../src/signing/algorithms.js';
import { decodeCompact, signCompact, verifyCompact } from '../../src/signing/jws.js';
import { findSignature, verifyRecordSignature, withSignature } from '../../src/signing/record-signature.js';
import { hashSecret, verifySecret } from '../../src/signing/secrets.js';
import { Signer, signingKey } from '../../src/signing/signer.js';

const NOW = 1764000000;
const signerFor = (alg: (typeof SIGNING_ALGORITHMS)[number]): Signer => {
  const pair = generateKeyPair(alg);
  return new Signer(signingKey(pair.privateKey, pair.publicKey));
};

describe('compact JWS', () => {
  it.each(SIGNING_ALGORITHMS)('%s signs and verifies, and a changed byte fails', (alg) => {
    const { privateKey, publicKey } = generateKeyPair(alg);
    const token = signCompact({ alg }, { hello: 'world' }, privateKey);
    expect(verifyCompact(token, publicKey, alg).payload).toEqual({ hello: 'world' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const tampered = `${h}.${Buffer.from('{"hello":"World"}').toString('base64url')}.${s}`;
    expect(() => verifyCompact(tampered, publicKey, alg)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
    expect(p.length).toBeGreaterThan(0);
  });

  it('never lets the token choose the algorithm', () => {
    const { privateKey, publicKey } = generateKeyPair('EdDSA');
    const token = signCompact({ alg: 'EdDSA' }, {}, privateKey);
    const relabelled = token.replace(/^[^.]+/, Buffer.from('{"alg":"ES256"}').toString('base64url'));
    expect(() => verifyCompact(relabelled, publicKey, 'EdDSA')).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });

  it.each(['', 'a.b', 'a.b.c.d', '!!.e30.e30', 'e30.bm90IGpzb24.AA'])('rejects malformed token %j', (token) => {
    expect(() => decodeCompact(token)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });

  it('computes RFC 7638 thumbprints (RFC 7638 section 3.1 example)', () => {
    const jwk = {
      kty: 'RSA',
      e: 'AQAB',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

describe('record signatures (HS_SIGNATURE)', () => {
  const values = [
    valueFromJson({ index: 1, type: 'URL', data: 'https://example.org/' }, NOW),
    valueFromJson({ index: 300, type: 'HS_SECKEY', data: 'secret', permissions: '1100' }, NOW),
  ];

  it.each(SIGNING_ALGORITHMS)('%s: signs the public values and verifies', (alg) => {
    const signer = signerFor(alg);
    const signed = withSignature('20.5000/a', values, signer, { issuer: '301:0.NA/20.5000', now: NOW, validitySeconds: 3600 });
    const sig = findSignature(signed)!;
    expect(sig.index).toBe(400);
    const payload = verifyRecordSignature('20.5000/a', signed, signer, NOW);
    expect(payload.digests.digests.map((d) => d.index)).toEqual([1]); // HS_SECKEY is not public, so not signed
    expect(payload).toMatchObject({ iss: '301:0.NA/20.5000', sub: '20.5000/a', iat: NOW, nbf: NOW - 600, exp: NOW + 3600 });
  });

  it('fails on a changed value, a removed value, another handle, expiry and an unknown key', () => {
    const signer = signerFor('EdDSA');
    const signed = withSignature('20.5000/a', values, signer, { issuer: '301:0.NA/20.5000', now: NOW, validitySeconds: 3600 });
    const changed = signed.map((v) => (v.index === 1 ? { ...v, data: Buffer.from('https://evil.example/') } : v));
    const fails = (fn: () => unknown): void => void expect(fn).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
    fails(() => verifyRecordSignature('20.5000/a', changed, signer, NOW));
    fails(() => verifyRecordSignature('20.5000/a', signed.filter((v) => v.index !== 1), signer, NOW));
    fails(() => verifyRecordSignature('20.5000/b', signed, signer, NOW));
    fails(() => verifyRecordSignature('20.5000/a', signed, signer, NOW + 7200));
    fails(() => verifyRecordSignature('20.5000/a', signed, signerFor('EdDSA'), NOW));
  });

  it('takes the first free index from 400', () => {
    const signer = signerFor('EdDSA');
    const taken = [...values, valueFromJson({ index: 400, type: 'URL', data: 'x' }, NOW)];
    const signed = withSignature('20.5000/a', taken, signer, { issuer: 'i', now: NOW, validitySeconds: 60 });
    expect(findSignature(signed)!.index).toBe(401);
  });
});

describe('secrets', () => {
  it('stores scrypt hashes and verifies only the right secret', async () => {
    const stored = await hashSecret('correct horse battery');
    expect(stored).toMatch(/^scrypt\$14\$8\$1\$/);
    expect(stored).not.toContain('correct');
    expect(await verifySecret('correct horse battery', stored)).toBe(true);
    expect(await verifySecret('correct horse batterY', stored)).toBe(false);
    expect(await verifySecret('x', 'plain-text-secret')).toBe(false);
  });

  it('gives each hash its own salt', async () => {
    expect(await hashSecret('same secret here')).not.toBe(await hashSecret('same secret here'));
  });
});
