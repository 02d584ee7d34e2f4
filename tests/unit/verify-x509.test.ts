import { beforeAll, describe, expect, it } from 'vitest';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { pemBlock, pemBlocks } from '../../src/families/products/verify/pem.js';
import { PkijsChainVerifier, type ChainInput } from '../../src/families/products/verify/x509-chain.js';
import { verifyX509Evidence } from '../../src/families/products/verify/x509-evidence.js';
import { deviceSign, makeCert, makeChain, makeCrl, serialOf, type TestCert } from '../http/verify-fixtures.js';

const DAY = 86_400_000;
const verifier = new PkijsChainVerifier();
const message = challengeMessage({ service: 's', id: '20.5000.7/D1', nonce: 'n', challengeId: 'c' });

let acme: { root: TestCert; intermediate: TestCert; device: TestCert };
let other: { root: TestCert; intermediate: TestCert; device: TestCert };

beforeAll(async () => {
  acme = await makeChain('Acme');
  other = await makeChain('Other');
});

const input = (over: Partial<ChainInput> = {}): ChainInput => ({
  chain: [acme.device.der, acme.intermediate.der],
  anchors: [acme.root.der],
  crls: [],
  at: new Date(),
  ...over,
});

describe('PkijsChainVerifier', () => {
  it('validates device -> intermediate -> root, and returns the leaf key', async () => {
    const r = await verifier.verify(input());
    expect(r).toMatchObject({ ok: true, pathLength: 3 });
  });

  it('accepts an intermediate as the anchor, and the root inside the presented chain', async () => {
    expect((await verifier.verify(input({ anchors: [acme.intermediate.der], chain: [acme.device.der] }))).ok).toBe(true);
    expect((await verifier.verify(input({ chain: [acme.device.der, acme.intermediate.der, acme.root.der] }))).ok).toBe(true);
  });

  it('refuses a chain to another anchor, a missing intermediate, no anchors at all, garbage', async () => {
    expect(await verifier.verify(input({ chain: [other.device.der, other.intermediate.der] }))).toEqual({
      ok: false, verdict: 'signature-invalid', reasons: ['chain-untrusted'],
    });
    expect(await verifier.verify(input({ chain: [acme.device.der] }))).toMatchObject({ ok: false, reasons: ['chain-untrusted'] });
    expect(await verifier.verify(input({ anchors: [] }))).toMatchObject({ ok: false, reasons: ['no-trust-anchor'] });
    expect(await verifier.verify(input({ chain: [Buffer.from('not DER')] }))).toMatchObject({ ok: false, reasons: ['chain-malformed'] });
    expect(await verifier.verify(input({ chain: [] }))).toMatchObject({ ok: false, reasons: ['chain-malformed'] });
  });

  it('refuses an issuer that is not a CA', async () => {
    const notCa = await makeCert({ cn: 'Not a CA', issuer: acme.root, keyUsage: 0x80 });
    const leaf = await makeCert({ cn: 'Leaf', issuer: notCa });
    expect(await verifier.verify(input({ chain: [leaf.der, notCa.der] }))).toEqual({ ok: false, verdict: 'signature-invalid', reasons: ['chain-not-ca'] });
    // keyCertSign without basicConstraints cA is no CA either.
    const usageOnly = await makeCert({ cn: 'Usage only', issuer: acme.root, keyUsage: 0x06 });
    const leaf2 = await makeCert({ cn: 'Leaf 2', issuer: usageOnly });
    expect(await verifier.verify(input({ chain: [leaf2.der, usageOnly.der] }))).toMatchObject({ reasons: ['chain-not-ca'] });
  });

  it('says expired and not-yet-valid for a trusted path outside its validity', async () => {
    expect(await verifier.verify(input({ at: new Date(Date.now() + 400 * DAY) }))).toEqual({ ok: false, verdict: 'expired', reasons: ['certificate-expired'] });
    expect(await verifier.verify(input({ at: new Date(Date.now() - 2 * DAY) }))).toEqual({
      ok: false, verdict: 'not-yet-valid', reasons: ['certificate-not-yet-valid'],
    });
    const old = await makeCert({ cn: 'Old', issuer: acme.intermediate, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    expect(await verifier.verify(input({ chain: [old.der, acme.intermediate.der] }))).toMatchObject({ verdict: 'expired' });
  });

  it('says revoked when a CRL signed by the issuer lists the serial, and only then', async () => {
    const revoked = await makeCrl(acme.intermediate, [serialOf(acme.device)]);
    expect(await verifier.verify(input({ crls: [revoked.der] }))).toEqual({ ok: false, verdict: 'revoked', reasons: ['certificate-revoked'] });
    const clean = await makeCrl(acme.intermediate, [serialOf(acme.device) + 1]);
    expect((await verifier.verify(input({ crls: [clean.der] }))).ok).toBe(true);
    // A CRL with the right issuer name but signed by another key is ignored.
    const impostor = await makeCert({ cn: 'Acme Intermediate', ca: true });
    const forged = await makeCrl(impostor, [serialOf(acme.device)]);
    expect((await verifier.verify(input({ crls: [forged.der] }))).ok).toBe(true);
    // A revoked intermediate revokes everything beneath it.
    const rootCrl = await makeCrl(acme.root, [serialOf(acme.intermediate)]);
    expect(await verifier.verify(input({ crls: [rootCrl.der] }))).toMatchObject({ verdict: 'revoked' });
  });

  it('requires digitalSignature on the leaf', async () => {
    const noUsage = await makeCert({ cn: 'No usage', issuer: acme.intermediate, keyUsage: null });
    const wrongUsage = await makeCert({ cn: 'Encipher only', issuer: acme.intermediate, keyUsage: 0x20 });
    for (const leaf of [noUsage, wrongUsage]) {
      expect(await verifier.verify(input({ chain: [leaf.der, acme.intermediate.der] }))).toEqual({
        ok: false, verdict: 'signature-invalid', reasons: ['leaf-key-usage'],
      });
    }
  });
});

describe('verifyX509Evidence', () => {
  const evidence = async (over: { chain?: string[]; signature?: Buffer; registered?: Buffer; crls?: Buffer[] } = {}) =>
    verifyX509Evidence(verifier, {
      chain: over.chain ?? [acme.device.pem, acme.intermediate.pem],
      signature: over.signature ?? (await deviceSign(acme.device.keys, message)),
      message,
      registeredLeaf: over.registered ?? acme.device.der,
      anchors: [acme.root.der],
      crls: over.crls ?? [],
      at: new Date(),
    });

  it('genuine: registered leaf, trusted chain, signature by the leaf key', async () => {
    expect(await evidence()).toMatchObject({ ok: true });
  });

  it('a flipped signature byte', async () => {
    const sig = await deviceSign(acme.device.keys, message);
    sig[5]! ^= 0x40;
    expect(await evidence({ signature: sig })).toEqual({ ok: false, verdict: 'signature-invalid', reasons: ['signature-mismatch'] });
  });

  it('a leaf from another chain: not registered, and untrusted', async () => {
    const r = await evidence({ chain: [other.device.pem, other.intermediate.pem], signature: await deviceSign(other.device.keys, message) });
    expect(r).toEqual({ ok: false, verdict: 'signature-invalid', reasons: ['leaf-not-registered', 'chain-untrusted'] });
  });

  it('a trusted leaf that is not the one registered on the item', async () => {
    const sibling = await makeCert({ cn: 'Sibling', issuer: acme.intermediate });
    const r = await evidence({ chain: [sibling.pem, acme.intermediate.pem], signature: await deviceSign(sibling.keys, message) });
    expect(r).toEqual({ ok: false, verdict: 'signature-invalid', reasons: ['leaf-not-registered'] });
  });

  it('revoked via CRL', async () => {
    const crl = await makeCrl(acme.intermediate, [serialOf(acme.device)]);
    expect(await evidence({ crls: [crl.der] })).toMatchObject({ verdict: 'revoked', reasons: ['certificate-revoked'] });
  });

  it('a PEM that is not a certificate', async () => {
    expect(await evidence({ chain: ['hello'] })).toMatchObject({ reasons: ['chain-malformed'] });
  });
});

describe('pem', () => {
  it('reads blocks of one label, strictly', () => {
    const two = acme.device.pem + acme.intermediate.pem;
    expect(pemBlocks(two, 'CERTIFICATE')).toHaveLength(2);
    expect(pemBlock(two, 'CERTIFICATE')).toBeUndefined();
    expect(pemBlock(acme.device.pem, 'CERTIFICATE')).toEqual(acme.device.der);
    expect(pemBlock(`Certificate:\n  text\n${acme.device.pem}`, 'CERTIFICATE')).toEqual(acme.device.der);
    expect(pemBlocks('-----BEGIN CERTIFICATE-----\nAA!A\n-----END CERTIFICATE-----', 'CERTIFICATE')).toBeUndefined();
    expect(pemBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----', 'CERTIFICATE')).toBeUndefined();
    expect(pemBlocks('-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----', 'CERTIFICATE')).toBeUndefined();
  });
});
