import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { REASONS, VERDICTS } from '../../src/families/products/verify/verdicts.js';
import { basic, adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { loadVector } from '../helpers/vectors.js';
import { deviceSign, makeCert, makeChain, makeCrl, serialOf, type TestCert } from './verify-fixtures.js';

/*
 * Verification end to end over HTTP: manufacturers, classes and items registered through the
 * registry's API, then every verdict the issue lists and every reason the registry lets one reach
 * (the few it rules out at registration time, such as an item without its device key, are produced
 * by tests/unit/verify-service.test.ts).
 */
interface SunVector { kSdmMetaRead: string; kSdmFileRead: string; piccData: string; encFileData?: string; cmac: string; expect: { uid?: string } }
const sun = loadVector<{ vectors: SunVector[] }>('ntag-sun.json').vectors;
const GTIN = loadVector<{ valid: string[] }>('gs1.json').valid[0]!;
const IMEI = loadVector<{ valid: string[] }>('imei.json').valid[0]!;
const H = 3600_000;
const DAY = 24 * H;
/** Reasons the registry's own checks make unreachable over HTTP (covered by the unit test). */
const REGISTRY_PREVENTS = ['device-key-missing', 'device-key-unsupported', 'device-certificate-missing', 'sun-keys-missing'];

let ts: TestService;
let app: FastifyInstance;
let clock = Date.now();
let prefix: string;
let auth: string;
let chain: { root: TestCert; intermediate: TestCert; device: TestCert };
let other: { root: TestCert; intermediate: TestCert; device: TestCert };
const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const seen = { verdicts: new Set<string>(), reasons: new Set<string>() };

const json = (a: string | null) => ({ 'content-type': 'application/json', ...(a ? { authorization: a } : {}) });
const send = (method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown, a: string | null = auth) =>
  app.inject({ method, url, headers: body === undefined ? (a ? { authorization: a } : {}) : json(a), ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });

async function put(url: string, body: unknown): Promise<void> {
  const res = await send('PUT', url, body);
  expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
}

const item = (serial: string, body: Record<string, unknown>) => put(`/api/products/${prefix}/items/${serial}`, body);
const handleOf = (serial: string): string => `${prefix}/${serial}`;
async function setStatus(serial: string, status: string): Promise<void> {
  const res = await send('POST', `/api/products/${prefix}/items/${serial}/status`, { status, reason: 'test' });
  expect(res.statusCode, res.body).toBe(200);
}

interface Answer { id: string; verdict: string; reasons: string[]; assurance: string; item: Record<string, string> | null; token: string }

async function verify(body: unknown): Promise<Answer> {
  const res = await send('POST', '/api/verify', body, null);
  expect(res.statusCode, res.body).toBe(200);
  const a = res.json() as Answer;
  seen.verdicts.add(a.verdict);
  for (const r of a.reasons) seen.reasons.add(r);
  return a;
}

async function challenge(id: string): Promise<{ challengeId: string; nonce: string; id: string; service: string }> {
  const res = await send('POST', '/api/verify/challenges', { id }, null);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const bytes = (c: { challengeId: string; nonce: string; id: string; service: string }): Buffer =>
  challengeMessage({ service: c.service, id: c.id, nonce: c.nonce, challengeId: c.challengeId });

async function withKey(id: string, key: KeyObject = ed.privateKey, context: Record<string, unknown> = {}): Promise<Answer> {
  const c = await challenge(id);
  const signature = (key.asymmetricKeyType === 'ed25519' ? sign(null, bytes(c), key) : sign('sha256', bytes(c), key)).toString('base64url');
  return verify({ id, challengeId: c.challengeId, evidence: { type: 'device-signature', signature }, context });
}

async function withChain(serial: string, pems: string[], keys: TestCert['keys'], mutate?: (b: Buffer) => void): Promise<Answer> {
  const c = await challenge(handleOf(serial));
  const sig = await deviceSign(keys, bytes(c));
  mutate?.(sig);
  return verify({ id: handleOf(serial), challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: pems, signature: sig.toString('base64url') } });
}

const withSun = (id: string, v: SunVector) =>
  verify({ id, evidence: { type: 'sun', piccData: v.piccData, cmac: v.cmac, ...(v.encFileData ? { encFileData: v.encFileData } : {}) } });

beforeAll(async () => {
  ts = await startTestService();
  app = await buildApp(ts.service, { fastResolve: false, verify: { rateLimit: { capacity: 10_000, refillPerSecond: 100 }, verify: { now: () => clock } } });
  chain = await makeChain('Acme');
  other = await makeChain('Other');
  const res = await send('POST', '/api/manufacturers', { name: 'Acme Devices' }, adminAuth());
  expect(res.statusCode, res.body).toBe(201);
  const m = res.json() as { prefix: string; identity: string; secret: string };
  prefix = m.prefix;
  auth = basic(m.identity, m.secret);
  await put(`/api/manufacturers/${prefix}/anchors`, { anchors: [chain.root.pem] });
  const v0 = sun[0]!;
  for (const [id, body] of Object.entries({
    phone: { name: 'Phone', model: 'P-1', evidence: 'device-signature' },
    limited: { name: 'Limited', model: 'L-1', evidence: 'device-signature', maxVerificationsPerDay: 2 },
    meter: { name: 'Meter', model: 'M-1', evidence: 'x509-chain' },
    tag: { name: 'Tag', model: 'T-1', evidence: 'sun', sunKeys: { metaKey: v0.kSdmMetaRead, fileKey: v0.kSdmFileRead } },
    'tag-other-keys': { name: 'Tag', model: 'T-2', evidence: 'sun', sunKeys: { metaKey: '11'.repeat(16), fileKey: '22'.repeat(16) } },
    label: { name: 'Label', model: 'B-1', evidence: 'none', gtin: GTIN },
  })) {
    await put(`/api/products/${prefix}/classes/${id}`, body);
  }
});

afterAll(async () => {
  await app?.close();
  await ts?.close();
});

describe('device-signature', () => {
  it('genuine (Ed25519), with a token that checks against the JWKS and echoes the nonce and the record digest', async () => {
    await item('PH-1', { class: 'phone', devicePublicKey: ed.publicKey.export({ format: 'jwk' }) });
    const c = await challenge(handleOf('PH-1'));
    expect(c).toMatchObject({ id: handleOf('PH-1'), service: '0.NA/20.5000' });
    const a = await verify({ id: handleOf('PH-1'), challengeId: c.challengeId, evidence: { type: 'device-signature', signature: sign(null, bytes(c), ed.privateKey).toString('base64url') } });
    expect(a).toMatchObject({
      id: handleOf('PH-1'), verdict: 'genuine', reasons: ['device-signature-verified'], assurance: 'device-signature',
      item: { class: 'phone', manufacturer: 'Acme Devices', status: 'active' },
    });
    const jwks = createLocalJWKSet((await app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload } = await jwtVerify(a.token, jwks, { typ: 'verdict+jwt', issuer: '0.NA/20.5000', subject: handleOf('PH-1'), currentDate: new Date(clock) });
    // The digest is recomputed from the record as the handle API serves it.
    const record = (await app.inject({ url: `/api/handles/${handleOf('PH-1')}` })).json() as { values: { type: string; data: { value: string } }[] };
    const sig = record.values.find((v) => v.type === 'HS_SIGNATURE')!.data.value;
    expect(payload).toMatchObject({ nonce: c.nonce, verdict: 'genuine', version: 1, digest: `sha-256:${createHash('sha256').update(sig).digest('base64url')}` });
  });

  it('P-256 (DER from OpenSSL-style signers, raw from WebCrypto); a flipped byte; a malformed signature', async () => {
    await item('PH-2', { class: 'phone', devicePublicKey: ec.publicKey.export({ format: 'pem', type: 'spki' }) });
    expect((await withKey(handleOf('PH-2'), ec.privateKey)).verdict).toBe('genuine');
    const c = await challenge(handleOf('PH-2'));
    const raw = sign('sha256', bytes(c), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    raw[10]! ^= 0x80;
    expect(await verify({ id: handleOf('PH-2'), challengeId: c.challengeId, evidence: { type: 'device-signature', signature: raw.toString('base64url') } })).toMatchObject({
      verdict: 'signature-invalid', reasons: ['signature-mismatch'], assurance: 'none',
    });
    const c2 = await challenge(handleOf('PH-2'));
    expect((await verify({ id: handleOf('PH-2'), challengeId: c2.challengeId, evidence: { type: 'device-signature', signature: 'AAAAAA' } })).reasons).toEqual(['signature-malformed']);
  });

  it('a challenge is single use, bound to its item, and expires', async () => {
    await item('PH-3', { class: 'phone', devicePublicKey: ed.publicKey.export({ format: 'jwk' }) });
    const c = await challenge(handleOf('PH-3'));
    const body = { id: handleOf('PH-3'), challengeId: c.challengeId, evidence: { type: 'device-signature', signature: sign(null, bytes(c), ed.privateKey).toString('base64url') } };
    expect((await verify(body)).verdict).toBe('genuine');
    const again = await send('POST', '/api/verify', body, null);
    expect([again.statusCode, again.json().code]).toEqual([409, 'ERR_VERIFY_CHALLENGE_USED']);
    const forOther = await challenge(handleOf('PH-1'));
    const mismatch = await send('POST', '/api/verify', { ...body, challengeId: forOther.challengeId }, null);
    expect([mismatch.statusCode, mismatch.json().code]).toEqual([409, 'ERR_VERIFY_CHALLENGE_MISMATCH']);
    const late = await challenge(handleOf('PH-3'));
    clock += 121_000;
    const expired = await send('POST', '/api/verify', { ...body, challengeId: late.challengeId }, null);
    expect([expired.statusCode, expired.json().code]).toEqual([410, 'ERR_VERIFY_CHALLENGE_EXPIRED']);
  });

  it('no downgrade: no evidence, or another type, is registered-unproven', async () => {
    expect(await verify({ id: handleOf('PH-1'), evidence: { type: 'none' } })).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-missing'], assurance: 'record' });
    expect(await withSun(handleOf('PH-1'), sun[0]!)).toMatchObject({ verdict: 'registered-unproven', reasons: ['evidence-type-not-accepted'] });
  });
});

describe('aliases and the GS1 Digital Link', () => {
  it('a label class (no evidence), verified by its GS1 path: registered-unproven', async () => {
    await item('LB-1', { class: 'label' });
    const a = await verify({ id: `/01/${GTIN}/21/LB-1`, evidence: { type: 'none' } });
    expect(a).toMatchObject({ id: handleOf('LB-1'), verdict: 'registered-unproven', reasons: ['class-requires-no-evidence'], item: { class: 'label' } });
  });

  it('GET /01/{gtin}/21/{serial}: JSON for clients, a page for browsers', async () => {
    const res = await app.inject({ url: `/01/${GTIN}/21/LB-1` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: handleOf('LB-1'), item: { class: 'label', manufacturer: 'Acme Devices', status: 'active', product: 'Label B-1' }, evidence: 'none',
      verify: { challenge: { href: '/api/verify/challenges' }, verify: { href: '/api/verify' } },
    });
    const page = await app.inject({ url: `/01/${GTIN}/21/LB-1`, headers: { accept: 'text/html,*/*;q=0.8' } });
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('Acme Devices');
    expect(page.headers.vary).toContain('Accept');
  });

  it('an IMEI names the item; one IMEI proven with two device keys is a suspected clone', async () => {
    await item('IM-1', { class: 'phone', devicePublicKey: ed.publicKey.export({ format: 'jwk' }), imei: IMEI });
    expect(await withKey(`imei:${IMEI}`)).toMatchObject({ id: handleOf('IM-1'), verdict: 'genuine' });
    // The manufacturer re-registers the item with another key: the IMEI has now answered with two.
    const second = generateKeyPairSync('ed25519');
    await item('IM-1', { class: 'phone', devicePublicKey: second.publicKey.export({ format: 'jwk' }), imei: IMEI });
    expect(await withKey(`imei:${IMEI}`, second.privateKey)).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'imei-key-conflict'] });
  });
});

describe('x509-chain', () => {
  it('genuine, flipped byte, another chain, malformed PEM, revoked by CRL, expired, not yet valid', async () => {
    await item('MT-1', { class: 'meter', deviceCertificate: chain.device.pem });
    const pems = [chain.device.pem, chain.intermediate.pem];
    expect(await withChain('MT-1', pems, chain.device.keys)).toMatchObject({ verdict: 'genuine', reasons: ['x509-chain-verified'], assurance: 'x509-chain' });
    expect(await withChain('MT-1', pems, chain.device.keys, (b) => void (b[3]! ^= 1))).toMatchObject({ verdict: 'signature-invalid', reasons: ['signature-mismatch'] });
    expect(await withChain('MT-1', [other.device.pem, other.intermediate.pem], other.device.keys)).toMatchObject({
      verdict: 'signature-invalid', reasons: ['leaf-not-registered', 'chain-untrusted'],
    });
    expect((await withChain('MT-1', ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'], chain.device.keys)).reasons).toEqual(['chain-malformed']);

    const now = clock;
    clock = Date.now() + 400 * DAY;
    expect(await withChain('MT-1', pems, chain.device.keys)).toMatchObject({ verdict: 'expired', reasons: ['certificate-expired'] });
    clock = Date.now() - 2 * DAY;
    expect(await withChain('MT-1', pems, chain.device.keys)).toMatchObject({ verdict: 'not-yet-valid', reasons: ['certificate-not-yet-valid'] });
    clock = now;

    const crl = await makeCrl(chain.intermediate, [serialOf(chain.device)]);
    await put(`/api/manufacturers/${prefix}/anchors`, { anchors: [chain.root.pem, chain.intermediate.pem] });
    await put(`/api/manufacturers/${prefix}/crls`, { crls: [crl.pem] });
    expect(await withChain('MT-1', pems, chain.device.keys)).toMatchObject({ verdict: 'revoked', reasons: ['certificate-revoked'] });
    await put(`/api/manufacturers/${prefix}/crls`, { crls: [] });
  });

  it('a leaf without digitalSignature; a leaf under an issuer that is not a CA', async () => {
    const noUsage = await makeCert({ cn: 'No usage', issuer: chain.intermediate, keyUsage: null });
    await item('MT-2', { class: 'meter', deviceCertificate: noUsage.pem });
    expect((await withChain('MT-2', [noUsage.pem, chain.intermediate.pem], noUsage.keys)).reasons).toEqual(['leaf-key-usage']);
    const notCa = await makeCert({ cn: 'Not a CA', issuer: chain.root, keyUsage: 0x80 });
    const leaf = await makeCert({ cn: 'Under not-CA', issuer: notCa });
    await item('MT-3', { class: 'meter', deviceCertificate: leaf.pem });
    expect((await withChain('MT-3', [leaf.pem, notCa.pem], leaf.keys)).reasons).toEqual(['chain-not-ca']);
  });

  it('a manufacturer without trust anchors cannot vouch for a chain', async () => {
    const res = await send('POST', '/api/manufacturers', { name: 'Anchorless' }, adminAuth());
    const m = res.json() as { prefix: string; identity: string; secret: string };
    const a = basic(m.identity, m.secret);
    expect((await send('PUT', `/api/products/${m.prefix}/classes/meter`, { name: 'Meter', model: 'M', evidence: 'x509-chain' }, a)).statusCode).toBe(201);
    expect((await send('PUT', `/api/products/${m.prefix}/items/MT-9`, { class: 'meter', deviceCertificate: chain.device.pem }, a)).statusCode).toBe(201);
    const c = await challenge(`${m.prefix}/MT-9`);
    const sig = await deviceSign(chain.device.keys, bytes(c));
    const ans = await verify({ id: `${m.prefix}/MT-9`, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: [chain.device.pem, chain.intermediate.pem], signature: sig.toString('base64url') } });
    expect(ans).toMatchObject({ verdict: 'signature-invalid', reasons: ['no-trust-anchor'] });
  });
});

describe('sun', () => {
  it('the vectors: genuine once, the same read again a clone; wrong tag, wrong keys, bad MAC refused', async () => {
    const [v0, v1, bad] = sun as [SunVector, SunVector, SunVector];
    await item('TG-1', { class: 'tag', sunUid: v0.expect.uid });
    await item('TG-2', { class: 'tag', sunUid: v1.expect.uid });
    await item('TG-3', { class: 'tag-other-keys', sunUid: v0.expect.uid });
    expect(await withSun(handleOf('TG-1'), v0)).toMatchObject({ verdict: 'genuine', reasons: ['sun-verified'], assurance: 'sun' });
    expect(await withSun(handleOf('TG-1'), v0)).toMatchObject({ verdict: 'suspected-clone', reasons: ['sun-verified', 'counter-not-rising'] });
    expect(await withSun(handleOf('TG-1'), v1)).toMatchObject({ verdict: 'signature-invalid', reasons: ['sun-uid-mismatch'] });
    expect((await withSun(handleOf('TG-2'), v1)).verdict).toBe('genuine');
    expect(await withSun(handleOf('TG-2'), bad)).toMatchObject({ verdict: 'signature-invalid', reasons: ['sun-cmac-mismatch'] });
    expect(await withSun(handleOf('TG-3'), v0)).toMatchObject({ verdict: 'signature-invalid', reasons: ['sun-picc-invalid'] });
  });

  it('the high-water mark is kept in the store, so a new app on the same data still refuses the replay', async () => {
    const fresh = await buildApp(ts.service, { fastResolve: false });
    try {
      const v0 = sun[0]!;
      const res = await fresh.inject({ method: 'POST', url: '/api/verify', headers: json(null), payload: JSON.stringify({ id: handleOf('TG-1'), evidence: { type: 'sun', piccData: v0.piccData, cmac: v0.cmac } }) });
      expect(res.json()).toMatchObject({ verdict: 'suspected-clone', reasons: ['sun-verified', 'counter-not-rising'] });
    } finally {
      await fresh.close();
    }
  });
});

describe('lifecycle and clone rules', () => {
  const key = () => ({ class: 'phone', devicePublicKey: ed.publicKey.export({ format: 'jwk' }) });

  it('stolen, key-compromised, consumed, destroyed, recalled, deleted', async () => {
    for (const [serial, status] of [['LC-1', 'stolen'], ['LC-2', 'key-compromised'], ['LC-3', 'consumed'], ['LC-4', 'destroyed'], ['LC-5', 'recalled']] as const) {
      await item(serial, key());
      await setStatus(serial, status);
    }
    expect(await withKey(handleOf('LC-1'))).toMatchObject({ verdict: 'blocked', reasons: ['item-stolen'], item: { status: 'stolen' } });
    expect(await withKey(handleOf('LC-2'))).toMatchObject({ verdict: 'revoked', reasons: ['device-key-compromised'] });
    expect(await withKey(handleOf('LC-3'))).toMatchObject({ verdict: 'consumed', reasons: ['device-signature-verified', 'item-consumed', 'scan-after-consumed'] });
    expect(await withKey(handleOf('LC-4'))).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'item-destroyed', 'scan-after-destroyed'] });
    expect(await withKey(handleOf('LC-5'))).toMatchObject({ verdict: 'genuine', reasons: ['device-signature-verified', 'item-recalled'] });

    await item('LC-6', key());
    const del = await send('DELETE', `/api/handles/${handleOf('LC-6')}`, undefined, adminAuth());
    expect(del.statusCode, del.body).toBeLessThan(300);
    expect(await withKey(handleOf('LC-6'))).toMatchObject({ verdict: 'revoked', reasons: ['item-withdrawn'] });
  });

  it('impossible travel, without saying where the item was', async () => {
    await item('TR-1', key());
    expect((await withKey(handleOf('TR-1'), ed.privateKey, { country: 'DE', geohash: 'u33db', purpose: 'retail' })).verdict).toBe('genuine');
    clock += H;
    const a = await withKey(handleOf('TR-1'), ed.privateKey, { country: 'AU' });
    expect(a).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'impossible-travel'] });
    const text = JSON.stringify(a) + Buffer.from(a.token.split('.')[1]!, 'base64url').toString();
    expect(text).not.toMatch(/u33db|"DE"|retail/);
    clock += 2 * DAY;
    expect((await withKey(handleOf('TR-1'), ed.privateKey, { country: 'DE' })).verdict).toBe('genuine');
  });

  it('more verifications in a day than the class allows', async () => {
    await item('RT-1', { ...key(), class: 'limited' });
    expect((await withKey(handleOf('RT-1'))).verdict).toBe('genuine');
    expect((await withKey(handleOf('RT-1'))).verdict).toBe('genuine');
    expect(await withKey(handleOf('RT-1'))).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'verification-rate-exceeded'] });
    clock += DAY;
    expect((await withKey(handleOf('RT-1'))).verdict).toBe('genuine');
  });

  it('unknown items are answered, and signed', async () => {
    const a = await verify({ id: `${prefix}/NOBODY`, evidence: { type: 'none' } });
    expect(a).toMatchObject({ verdict: 'unknown', reasons: ['item-not-registered'], item: null });
    expect(a.token.split('.')).toHaveLength(3);
    expect((await verify({ id: `imei:${'35000000000001'}${luhn('35000000000001')}`, evidence: { type: 'none' } })).verdict).toBe('unknown');
  });
});

function luhn(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) d *= 2;
    sum += d > 9 ? d - 9 : d;
  }
  return (10 - (sum % 10)) % 10;
}

describe('coverage', () => {
  it('every verdict, and every reason the registry lets a request reach, was produced over HTTP', () => {
    expect(VERDICTS.filter((v) => !seen.verdicts.has(v))).toEqual([]);
    expect(REASONS.filter((r) => !seen.reasons.has(r) && !REGISTRY_PREVENTS.includes(r))).toEqual([]);
  });
});
