import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { decide, type DecisionInput, type EvidenceOutcome } from '../../src/families/products/verify/decide.js';
import { MAX_VERDICT_TOKEN_SECONDS, recordDigest, signVerdict, verdictClaims } from '../../src/families/products/verify/verdict-token.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { Signer, signingKey } from '../../src/signing/signer.js';

const verified: EvidenceOutcome = { kind: 'verified', assurance: 'device-signature', reasons: ['device-signature-verified'] };
const d = (over: Partial<DecisionInput>): ReturnType<typeof decide> =>
  decide({ found: true, status: 'active', required: 'device-signature', presented: 'device-signature', evidence: verified, ...over });

describe('decide', () => {
  it('unknown, withdrawn, stolen, key compromised come first', () => {
    expect(decide({ found: false, presented: 'device-signature' })).toEqual({ verdict: 'unknown', reasons: ['item-not-registered'], assurance: 'none', accepted: false });
    expect(d({ tombstoned: true })).toMatchObject({ verdict: 'revoked', reasons: ['item-withdrawn'] });
    expect(d({ status: 'stolen' })).toMatchObject({ verdict: 'blocked', reasons: ['item-stolen'] });
    expect(d({ status: 'key-compromised' })).toMatchObject({ verdict: 'revoked', reasons: ['device-key-compromised'] });
  });

  it('genuine only with the class evidence, verified', () => {
    expect(d({})).toEqual({ verdict: 'genuine', reasons: ['device-signature-verified'], assurance: 'device-signature', accepted: true });
  });

  it('a class that requires evidence cannot be downgraded by sending less or something else', () => {
    expect(d({ presented: 'none', evidence: undefined })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-missing'], assurance: 'record' });
    expect(d({ presented: 'sun', evidence: undefined })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-type-not-accepted'] });
    expect(d({ required: 'x509-chain', presented: 'device-signature' })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-type-not-accepted'] });
  });

  it('a class without evidence: registered-unproven at best', () => {
    expect(d({ required: 'none', presented: 'none', evidence: undefined })).toMatchObject({ verdict: 'registered-unproven', reasons: ['class-requires-no-evidence'], accepted: true });
    expect(d({ required: 'none', presented: 'device-signature' })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-type-not-accepted'] });
  });

  it('failed evidence gives its verdict; missing registry material gives registered-unproven', () => {
    expect(d({ evidence: { kind: 'failed', verdict: 'signature-invalid', reasons: ['signature-mismatch'] } })).toMatchObject({
      verdict: 'signature-invalid', reasons: ['signature-mismatch'], assurance: 'none', accepted: false,
    });
    expect(d({ evidence: { kind: 'failed', verdict: 'expired', reasons: ['certificate-expired'] } }).verdict).toBe('expired');
    expect(d({ evidence: { kind: 'unavailable', reasons: ['device-key-missing'] } })).toMatchObject({ verdict: 'registered-unproven', reasons: ['device-key-missing'] });
  });

  it('anomalies make an accepted verification suspected-clone; consumed alone gives consumed', () => {
    expect(d({ anomalies: ['impossible-travel'] })).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'impossible-travel'], accepted: true });
    expect(d({ status: 'consumed', anomalies: ['scan-after-consumed'] })).toMatchObject({
      verdict: 'consumed', reasons: ['device-signature-verified', 'item-consumed', 'scan-after-consumed'],
    });
    expect(d({ status: 'consumed', anomalies: ['scan-after-consumed', 'impossible-travel'] }).verdict).toBe('suspected-clone');
    expect(d({ status: 'destroyed', anomalies: ['scan-after-destroyed'] })).toMatchObject({
      verdict: 'suspected-clone', reasons: ['device-signature-verified', 'item-destroyed', 'scan-after-destroyed'],
    });
    expect(d({ status: 'recalled' })).toMatchObject({ verdict: 'genuine', reasons: ['device-signature-verified', 'item-recalled'] });
    // A failed check is not made worse or better by anomalies.
    expect(d({ evidence: { kind: 'failed', verdict: 'revoked', reasons: ['certificate-revoked'] }, anomalies: ['impossible-travel'] }).verdict).toBe('revoked');
  });
});

describe('verdict tokens', () => {
  const pair = generateKeyPair('EdDSA');
  const signer = new Signer(signingKey(pair.privateKey, pair.publicKey));

  it('a compact JWS with typ verdict+jwt and the service kid, checked with jose against the JWKS', async () => {
    const claims = verdictClaims({
      issuer: '0.NA/20.5000', subject: '20.5000.7/SN-1', nonce: 'bm9uY2U', verdict: 'genuine', reasons: ['device-signature-verified'],
      assurance: 'device-signature', version: 3, digest: recordDigest(Buffer.from('a.b.c')), now: Date.now() / 1000,
    });
    const token = signVerdict(signer, claims);
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'EdDSA', kid: signer.active.kid, typ: 'verdict+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(signer.jwks() as never), { typ: 'verdict+jwt', issuer: '0.NA/20.5000', subject: '20.5000.7/SN-1' });
    expect(payload).toMatchObject({ nonce: 'bm9uY2U', verdict: 'genuine', reasons: ['device-signature-verified'], version: 3 });
    expect(payload.exp! - payload.iat!).toBe(MAX_VERDICT_TOKEN_SECONDS);
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(payload.digest).toBe(`sha-256:${createHash('sha256').update('a.b.c').digest('base64url')}`);
  });

  it('unknown: nulls for what is not there', () => {
    const c = verdictClaims({ issuer: 'i', subject: 's', nonce: undefined, verdict: 'unknown', reasons: [], assurance: 'none', version: undefined, digest: undefined, now: 1000.7 });
    expect(c).toMatchObject({ iat: 1000, exp: 1300, nonce: null, version: null, digest: null });
    expect(recordDigest(undefined)).toBeUndefined();
  });

  it('lifetime at most 5 minutes', () => {
    const input = { issuer: 'i', subject: 's', nonce: undefined, verdict: 'unknown', reasons: [], assurance: 'none', version: undefined, digest: undefined, now: 0 } as const;
    expect(() => verdictClaims({ ...input, lifetimeSeconds: 301 })).toThrow(RangeError);
    expect(verdictClaims({ ...input, lifetimeSeconds: 60 }).exp).toBe(60);
  });
});
