import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '../../src/errors.js';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import type { FoundItem } from '../../src/families/products/verify/item-port.js';
import { REASONS, VERDICTS, type Reason, type Verdict } from '../../src/families/products/verify/verdicts.js';
import { VerifyService, type VerifyAnswer } from '../../src/families/products/verify/verify-service.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { Signer, signingKey } from '../../src/signing/signer.js';
import type { HandleValue } from '../../src/records/value.js';
import { loadVector } from '../helpers/vectors.js';
import { deviceSign, makeCert, makeChain, makeCrl, serialOf, type TestCert } from '../http/verify-fixtures.js';

/*
 * The verification service over an in-memory stand-in for the product registry: every verdict and
 * every reason, with an injected clock.
 */
const SERVICE = '0.NA/20.5000';
const H = 3600_000;
const sunFile = loadVector<{ vectors: { kSdmMetaRead: string; kSdmFileRead: string; piccData: string; encFileData?: string; cmac: string; expect: { uid?: string } }[] }>(
  'ntag-sun.json',
);

const pair = generateKeyPair('EdDSA');
const signer = new Signer(signingKey(pair.privateKey, pair.publicKey));
let t = Date.now();
const seen = { verdicts: new Set<Verdict>(), reasons: new Set<Reason>() };

const sigValue: HandleValue = {
  index: 400, type: 'HS_SIGNATURE', data: Buffer.from('eyJ.eyJ.sig'), ttlType: 'relative', ttl: 86400, timestamp: 0, permissions: 0b1110, references: [],
};

const manufacturer = { prefix: '20.5000.7', name: 'Acme Devices', anchors: [] as string[], crls: [] as string[] };
const items = new Map<string, FoundItem>();
const aliases = new Map<string, string>();
const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let chain: { root: TestCert; intermediate: TestCert; device: TestCert };
let other: { root: TestCert; intermediate: TestCert; device: TestCert };

function add(serial: string, item: Partial<FoundItem['item']>, cls: Partial<FoundItem['cls']>, extra: Partial<FoundItem> = {}): string {
  const handle = `20.5000.7/${serial}`;
  items.set(handle, {
    handle,
    record: { version: 2, values: [sigValue] },
    item: { class: cls.classId ?? 'widget', status: 'active', ...item },
    cls: { classId: 'widget', evidence: 'device-signature', ...cls },
    manufacturer,
    ...extra,
  });
  return handle;
}

const service = new VerifyService((id) => items.get(aliases.get(id) ?? id), signer, { service: SERVICE, now: () => t, maxChallenges: 1000 });

async function verify(body: Record<string, unknown>): Promise<VerifyAnswer> {
  const a = await service.verify(body);
  seen.verdicts.add(a.verdict);
  for (const r of a.reasons) seen.reasons.add(r);
  return a;
}

async function challenge(id: string): Promise<{ challengeId: string; nonce: string; id: string }> {
  return service.issueChallenge({ id });
}

const msg = (c: { challengeId: string; nonce: string; id: string }): Buffer => challengeMessage({ service: SERVICE, id: c.id, nonce: c.nonce, challengeId: c.challengeId });
const edSign = (key: KeyObject, c: { challengeId: string; nonce: string; id: string }): string => sign(null, msg(c), key).toString('base64url');

async function withEd(id: string, context: Record<string, unknown> = {}, key = ed.privateKey): Promise<VerifyAnswer> {
  const c = await challenge(id);
  return verify({ id, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: edSign(key, c) }, context });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CairnError) return e.code;
    throw e;
  }
  return 'none';
}

beforeAll(async () => {
  chain = await makeChain('Acme');
  other = await makeChain('Other');
  manufacturer.anchors.push(chain.root.pem);
});

describe('VerifyService', () => {
  it('genuine with an Ed25519 device signature; the token checks against the JWKS and echoes the nonce', async () => {
    const h = add('ED-1', { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, {});
    const c = await challenge(h);
    expect(c.id).toBe(h);
    const a = await verify({ id: h, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: edSign(ed.privateKey, c) } });
    expect(a).toMatchObject({ id: h, verdict: 'genuine', reasons: ['device-signature-verified'], assurance: 'device-signature', item: { class: 'widget', manufacturer: 'Acme Devices', status: 'active' } });
    const { payload, protectedHeader } = await jwtVerify(a.token, createLocalJWKSet(signer.jwks() as never), { typ: 'verdict+jwt', issuer: SERVICE, subject: h, currentDate: new Date(t) });
    expect(protectedHeader.kid).toBe(signer.active.kid);
    expect(payload).toMatchObject({ nonce: c.nonce, verdict: 'genuine', version: 2, digest: `sha-256:${createHash('sha256').update('eyJ.eyJ.sig').digest('base64url')}` });
  });

  it('P-256 device keys, DER and raw; a wrong signature is signature-invalid', async () => {
    const h = add('EC-1', { devicePublicKey: ec.publicKey.export({ format: 'pem', type: 'spki' }) }, {});
    for (const dsaEncoding of ['der', 'ieee-p1363'] as const) {
      const c = await challenge(h);
      const signature = sign('sha256', msg(c), { key: ec.privateKey, dsaEncoding }).toString('base64url');
      expect((await verify({ id: h, challengeId: c.challengeId, evidence: { type: 'device-signature', signature } })).verdict).toBe('genuine');
    }
    const c = await challenge(h);
    const bad = sign('sha256', Buffer.from('other'), { key: ec.privateKey, dsaEncoding: 'der' }).toString('base64url');
    expect(await verify({ id: h, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: bad } })).toMatchObject({
      verdict: 'signature-invalid', reasons: ['signature-mismatch'], assurance: 'none',
    });
    const c2 = await challenge(h);
    expect((await verify({ id: h, challengeId: c2.challengeId, evidence: { type: 'device-signature', signature: 'AAAA' } })).reasons).toEqual(['signature-malformed']);
  });

  it('challenges: single use, bound to the item, expiring, required for signatures', async () => {
    const h = add('CH-1', { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, {});
    const h2 = add('CH-2', { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, {});
    const c = await challenge(h);
    const body = { id: h, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: edSign(ed.privateKey, c) } };
    expect((await verify(body)).verdict).toBe('genuine');
    expect(await codeOf(verify(body))).toBe('ERR_VERIFY_CHALLENGE_USED');
    const forOther = await challenge(h2);
    expect(await codeOf(verify({ ...body, challengeId: forOther.challengeId }))).toBe('ERR_VERIFY_CHALLENGE_MISMATCH');
    const late = await challenge(h);
    t += 121_000;
    expect(await codeOf(verify({ ...body, challengeId: late.challengeId }))).toBe('ERR_VERIFY_CHALLENGE_EXPIRED');
    expect(await codeOf(verify({ ...body, challengeId: 'AAAAAAAAAAAAAAAAAAAAAA' }))).toBe('ERR_VERIFY_CHALLENGE_UNKNOWN');
    expect(await codeOf(verify({ id: h, evidence: body.evidence }))).toBe('ERR_VERIFY_CHALLENGE_REQUIRED');
  });

  it('a signature for another item or another service does not verify', async () => {
    const h = add('BIND-1', { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, {});
    const c = await challenge(h);
    const wrongItem = sign(null, challengeMessage({ service: SERVICE, id: '20.5000.7/OTHER', nonce: c.nonce, challengeId: c.challengeId }), ed.privateKey);
    expect((await verify({ id: h, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: wrongItem.toString('base64url') } })).verdict).toBe('signature-invalid');
    const c2 = await challenge(h);
    const wrongSvc = sign(null, challengeMessage({ service: '0.NA/9.9', id: h, nonce: c2.nonce, challengeId: c2.challengeId }), ed.privateKey);
    expect((await verify({ id: h, challengeId: c2.challengeId, evidence: { type: 'device-signature', signature: wrongSvc.toString('base64url') } })).verdict).toBe('signature-invalid');
  });

  it('unknown items get a signed unknown, with the nonce of the challenge they asked for', async () => {
    const c = await challenge('20.5000.7/NOPE');
    const a = await verify({ id: '20.5000.7/NOPE', challengeId: c.challengeId, evidence: { type: 'none' } });
    expect(a).toMatchObject({ verdict: 'unknown', reasons: ['item-not-registered'], item: null, assurance: 'none' });
    const { payload } = await jwtVerify(a.token, createLocalJWKSet(signer.jwks() as never), { currentDate: new Date(t) });
    expect(payload).toMatchObject({ sub: '20.5000.7/NOPE', nonce: c.nonce, version: null, digest: null });
  });

  it('no downgrade: less or other evidence than the class requires is registered-unproven', async () => {
    const h = add('DG-1', { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, {});
    expect(await verify({ id: h, evidence: { type: 'none' } })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-missing'], assurance: 'record' });
    const v = sunFile.vectors[0]!;
    expect(await verify({ id: h, evidence: { type: 'sun', piccData: v.piccData, cmac: v.cmac } })).toMatchObject({
      verdict: 'registered-unproven', reasons: ['evidence-type-not-accepted'],
    });
    const n = add('NONE-1', {}, { classId: 'label', evidence: 'none' });
    expect(await verify({ id: n, evidence: { type: 'none' } })).toMatchObject({ verdict: 'registered-unproven', reasons: ['class-requires-no-evidence'] });
  });

  it('registry material missing: no device key, unsupported key, no certificate, no SUN keys', async () => {
    const noKey = add('NK-1', {}, {});
    const c = await challenge(noKey);
    expect((await verify({ id: noKey, challengeId: c.challengeId, evidence: { type: 'device-signature', signature: edSign(ed.privateKey, c) } })).reasons).toEqual(['device-key-missing']);
    const rsa = add('RSA-1', { devicePublicKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) }, {});
    const c2 = await challenge(rsa);
    expect(await verify({ id: rsa, challengeId: c2.challengeId, evidence: { type: 'device-signature', signature: edSign(ed.privateKey, c2) } })).toMatchObject({
      verdict: 'registered-unproven', reasons: ['device-key-unsupported'],
    });
    const noCert = add('NC-1', {}, { evidence: 'x509-chain' });
    const c3 = await challenge(noCert);
    expect((await verify({ id: noCert, challengeId: c3.challengeId, evidence: { type: 'x509-chain', chain: [chain.device.pem], signature: 'AAAA' } })).reasons).toEqual([
      'device-certificate-missing',
    ]);
    const noSun = add('NS-1', { sunUid: '04DE5F1EACC040' }, { evidence: 'sun' });
    const v = sunFile.vectors[0]!;
    expect((await verify({ id: noSun, evidence: { type: 'sun', piccData: v.piccData, cmac: v.cmac } })).reasons).toEqual(['sun-keys-missing']);
  });

  it('x509-chain: genuine, flipped byte, other chain, revoked, expired, not yet valid', async () => {
    const h = add('X-1', { deviceCertificate: chain.device.pem }, { classId: 'meter', evidence: 'x509-chain' });
    const run = async (pems: string[], keys = chain.device.keys, mutate?: (b: Buffer) => void): Promise<VerifyAnswer> => {
      const c = await challenge(h);
      const sig = await deviceSign(keys, msg(c));
      mutate?.(sig);
      return verify({ id: h, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: pems, signature: sig.toString('base64url') } });
    };
    expect(await run([chain.device.pem, chain.intermediate.pem])).toMatchObject({ verdict: 'genuine', reasons: ['x509-chain-verified'], assurance: 'x509-chain' });
    expect(await run([chain.device.pem, chain.intermediate.pem], chain.device.keys, (b) => void (b[0]! ^= 1))).toMatchObject({
      verdict: 'signature-invalid', reasons: ['signature-mismatch'],
    });
    expect(await run([other.device.pem, other.intermediate.pem], other.device.keys)).toMatchObject({ verdict: 'signature-invalid', reasons: ['leaf-not-registered', 'chain-untrusted'] });
    expect((await run(['not a pem'])).reasons).toEqual(['chain-malformed']);

    const crl = await makeCrl(chain.intermediate, [serialOf(chain.device)]);
    manufacturer.crls.push(crl.pem);
    expect(await run([chain.device.pem, chain.intermediate.pem])).toMatchObject({ verdict: 'revoked', reasons: ['certificate-revoked'] });
    manufacturer.crls.pop();

    const saved = t;
    t = Date.now() + 400 * 24 * H;
    expect(await run([chain.device.pem, chain.intermediate.pem])).toMatchObject({ verdict: 'expired', reasons: ['certificate-expired'] });
    t = Date.now() - 2 * 24 * H;
    expect(await run([chain.device.pem, chain.intermediate.pem])).toMatchObject({ verdict: 'not-yet-valid', reasons: ['certificate-not-yet-valid'] });
    t = saved;

    const noUsage = await makeCert({ cn: 'No usage', issuer: chain.intermediate, keyUsage: null });
    const h2 = add('X-2', { deviceCertificate: noUsage.pem }, { evidence: 'x509-chain' });
    const c = await challenge(h2);
    const sig = await deviceSign(noUsage.keys, msg(c));
    expect(await verify({ id: h2, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: [noUsage.pem, chain.intermediate.pem], signature: sig.toString('base64url') } })).toMatchObject({
      reasons: ['leaf-key-usage'],
    });
    const notCa = await makeCert({ cn: 'Not a CA', issuer: chain.root, keyUsage: 0x80 });
    const leaf = await makeCert({ cn: 'Under not-CA', issuer: notCa });
    const h3 = add('X-3', { deviceCertificate: leaf.pem }, { evidence: 'x509-chain' });
    const c3 = await challenge(h3);
    const sig3 = await deviceSign(leaf.keys, msg(c3));
    expect((await verify({ id: h3, challengeId: c3.challengeId, evidence: { type: 'x509-chain', chain: [leaf.pem, notCa.pem], signature: sig3.toString('base64url') } })).reasons).toEqual([
      'chain-not-ca',
    ]);
    const saveAnchors = manufacturer.anchors.splice(0);
    expect((await run([chain.device.pem, chain.intermediate.pem])).reasons).toEqual(['no-trust-anchor']);
    manufacturer.anchors.push(...saveAnchors);
  });

  it('sun: the vectors verify once; the same read again is a clone; another tag UID is refused', async () => {
    const v0 = sunFile.vectors[0]!;
    const v1 = sunFile.vectors[1]!;
    const cls = { classId: 'tagged', evidence: 'sun' as const, sunKeys: { metaKey: v0.kSdmMetaRead, fileKey: v0.kSdmFileRead } };
    const h = add('SUN-1', { sunUid: v0.expect.uid! }, cls);
    expect(await verify({ id: h, evidence: { type: 'sun', piccData: v0.piccData, cmac: v0.cmac } })).toMatchObject({ verdict: 'genuine', reasons: ['sun-verified'], assurance: 'sun' });
    expect(await verify({ id: h, evidence: { type: 'sun', piccData: v0.piccData, cmac: v0.cmac } })).toMatchObject({
      verdict: 'suspected-clone', reasons: ['sun-verified', 'counter-not-rising'],
    });
    expect(await verify({ id: h, evidence: { type: 'sun', piccData: v1.piccData, cmac: v1.cmac, encFileData: v1.encFileData } })).toMatchObject({
      verdict: 'signature-invalid', reasons: ['sun-uid-mismatch'],
    });
    const h2 = add('SUN-2', { sunUid: v1.expect.uid! }, cls);
    expect((await verify({ id: h2, evidence: { type: 'sun', piccData: v1.piccData, cmac: v1.cmac, encFileData: v1.encFileData } })).verdict).toBe('genuine');
    const bad = sunFile.vectors[2]!;
    expect(await verify({ id: h2, evidence: { type: 'sun', piccData: bad.piccData, cmac: bad.cmac, encFileData: bad.encFileData } })).toMatchObject({
      verdict: 'signature-invalid', reasons: ['sun-cmac-mismatch'],
    });
    const wrongKeys = add('SUN-3', { sunUid: v0.expect.uid! }, { ...cls, sunKeys: { metaKey: '11'.repeat(16), fileKey: '22'.repeat(16) } });
    expect((await verify({ id: wrongKeys, evidence: { type: 'sun', piccData: v0.piccData, cmac: v0.cmac } })).reasons).toEqual(['sun-picc-invalid']);
  });

  it('statuses: stolen, key-compromised, withdrawn, consumed, destroyed, recalled', async () => {
    const key = { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) };
    expect(await withEd(add('ST-1', { ...key, status: 'stolen' }, {}))).toMatchObject({ verdict: 'blocked', reasons: ['item-stolen'], item: { status: 'stolen' } });
    expect(await withEd(add('ST-2', { ...key, status: 'key-compromised' }, {}))).toMatchObject({ verdict: 'revoked', reasons: ['device-key-compromised'] });
    expect(await withEd(add('ST-3', key, {}, { record: { version: 4, values: [], status: 'tombstoned' } }))).toMatchObject({ verdict: 'revoked', reasons: ['item-withdrawn'] });
    expect(await withEd(add('ST-4', { ...key, status: 'consumed' }, {}))).toMatchObject({
      verdict: 'consumed', reasons: ['device-signature-verified', 'item-consumed', 'scan-after-consumed'],
    });
    expect(await withEd(add('ST-5', { ...key, status: 'destroyed' }, {}))).toMatchObject({
      verdict: 'suspected-clone', reasons: ['device-signature-verified', 'item-destroyed', 'scan-after-destroyed'],
    });
    expect(await withEd(add('ST-6', { ...key, status: 'recalled' }, {}))).toMatchObject({ verdict: 'genuine', reasons: ['device-signature-verified', 'item-recalled'] });
  });

  it('clone rules: impossible travel, rate, IMEI with two keys; answers never say where', async () => {
    const key = { devicePublicKey: ed.publicKey.export({ format: 'jwk' }) };
    const h = add('TR-1', key, {});
    expect((await withEd(h, { country: 'DE', geohash: 'u33db' })).verdict).toBe('genuine');
    t += H;
    const a = await withEd(h, { geohash: 'r3gx2', purpose: 'customs' });
    expect(a).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'impossible-travel'] });
    // The token's signature and jti are random base64url, which may spell "DE": look at its payload instead.
    const { token, ...rest } = a;
    expect(JSON.stringify(rest) + Buffer.from(token.split('.')[1]!, 'base64url').toString()).not.toMatch(/u33db|"DE"|Berlin/);

    const r = add('RATE-1', key, { maxVerificationsPerDay: 2 });
    expect((await withEd(r)).verdict).toBe('genuine');
    expect((await withEd(r)).verdict).toBe('genuine');
    expect(await withEd(r)).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'verification-rate-exceeded'] });

    const other = generateKeyPairSync('ed25519');
    const i1 = add('IMEI-1', { ...key, imei: '490154203237518' }, {});
    const i2 = add('IMEI-2', { devicePublicKey: other.publicKey.export({ format: 'jwk' }), imei: '490154203237518' }, {});
    aliases.set('imei:490154203237518', i1);
    expect((await withEd('imei:490154203237518')).verdict).toBe('genuine');
    expect(await withEd(i2, {}, other.privateKey)).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'imei-key-conflict'] });
    expect((await withEd(i1)).reasons).toContain('imei-key-conflict');
  });

  it('the log holds keyed hashes and coarse places only', () => {
    const dump = JSON.stringify(service.log.dump());
    expect(dump).not.toMatch(/20\.5000|490154203237518|customs/);
    expect(dump).toContain('u33db');
  });

  it('malformed requests are 400s with stable codes', async () => {
    const h = [...items.keys()][0]!;
    const cases: [unknown, string][] = [
      [null, 'ERR_VERIFY_REQUEST_INVALID'],
      [{ id: h, evidence: { type: 'none' }, extra: 1 }, 'ERR_VERIFY_REQUEST_INVALID'],
      [{ evidence: { type: 'none' } }, 'ERR_VERIFY_REQUEST_INVALID'],
      [{ id: 'a\u0000b', evidence: { type: 'none' } }, 'ERR_VERIFY_REQUEST_INVALID'],
      [{ id: h, challengeId: 'short', evidence: { type: 'none' } }, 'ERR_VERIFY_REQUEST_INVALID'],
      [{ id: h }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'magic' } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'device-signature', signature: 'not base64!' } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'device-signature', signature: 'AAAA', more: 1 } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'x509-chain', chain: [], signature: 'AAAA' } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'sun', piccData: 'zz', cmac: '00' } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'sun', piccData: '00'.repeat(16), cmac: '00'.repeat(8), encFileData: '00'.repeat(15) } }, 'ERR_VERIFY_EVIDENCE_INVALID'],
      [{ id: h, evidence: { type: 'none' }, context: { geohash: 'u33dbfc' } }, 'ERR_VERIFY_CONTEXT_INVALID'],
      [{ id: h, evidence: { type: 'none' }, context: { country: 'Germany' } }, 'ERR_VERIFY_CONTEXT_INVALID'],
      [{ id: h, evidence: { type: 'none' }, context: { purpose: 'Has Spaces' } }, 'ERR_VERIFY_CONTEXT_INVALID'],
      [{ id: h, evidence: { type: 'none' }, context: { ip: '1.2.3.4' } }, 'ERR_VERIFY_CONTEXT_INVALID'],
      [{ id: h, evidence: { type: 'none' }, context: 'DE' }, 'ERR_VERIFY_CONTEXT_INVALID'],
    ];
    for (const [body, code] of cases) expect([body, await codeOf(service.verify(body))]).toEqual([body, code]);
    expect(await codeOf(service.issueChallenge({ id: h, more: 1 }))).toBe('ERR_VERIFY_REQUEST_INVALID');
    expect(await codeOf(service.issueChallenge({}))).toBe('ERR_VERIFY_REQUEST_INVALID');
  });

  it('produced every verdict and every reason', () => {
    expect([...VERDICTS].filter((v) => !seen.verdicts.has(v))).toEqual([]);
    expect([...REASONS].filter((r) => !seen.reasons.has(r))).toEqual([]);
  });
});
