import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { deviceKeyFrom, verifyDeviceSignature, type DeviceKey } from '../../src/families/products/verify/device-signature.js';

const message = challengeMessage({ service: '0.NA/20.5000', id: '20.5000.7/SN-1', nonce: 'bm9uY2U', challengeId: 'Y2lk' });
const ed = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function keyOf(registered: unknown): DeviceKey {
  const r = deviceKeyFrom(registered);
  if (!r.ok) throw new Error(r.reason);
  return r.key;
}

const flip = (b: Buffer, i: number): Buffer => {
  const c = Buffer.from(b);
  c[i]! ^= 0x01;
  return c;
};

describe('deviceKeyFrom', () => {
  it('reads a public JWK (object or text) and an SPKI PEM', () => {
    expect(keyOf(ed.publicKey.export({ format: 'jwk' })).alg).toBe('Ed25519');
    expect(keyOf(JSON.stringify(p256.publicKey.export({ format: 'jwk' }))).alg).toBe('ES256');
    expect(keyOf(p256.publicKey.export({ format: 'pem', type: 'spki' })).alg).toBe('ES256');
  });

  it.each([
    ['nothing', undefined, 'device-key-missing'],
    ['an empty string', '', 'device-key-missing'],
    ['a JWK with its private part', ed.privateKey.export({ format: 'jwk' }), 'device-key-unsupported'],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), 'device-key-unsupported'],
    ['a P-384 key', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }), 'device-key-unsupported'],
    ['garbage', 'not a key', 'device-key-unsupported'],
    ['a broken PEM', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', 'device-key-unsupported'],
  ])('refuses %s', (_what, registered, reason) => {
    expect(deviceKeyFrom(registered)).toEqual({ ok: false, reason });
  });
});

describe('verifyDeviceSignature', () => {
  it('Ed25519: 64 raw bytes', () => {
    const key = keyOf(ed.publicKey.export({ format: 'jwk' }));
    const sig = sign(null, message, ed.privateKey);
    expect(verifyDeviceSignature(key, message, sig)).toEqual({ ok: true, alg: 'Ed25519' });
    expect(verifyDeviceSignature(key, message, flip(sig, 10))).toEqual({ ok: false, reason: 'signature-mismatch' });
    expect(verifyDeviceSignature(key, flip(message, 3), sig)).toEqual({ ok: false, reason: 'signature-mismatch' });
    expect(verifyDeviceSignature(key, message, sig.subarray(0, 63))).toEqual({ ok: false, reason: 'signature-malformed' });
  });

  it('P-256: raw r||s and DER', () => {
    const key = keyOf(p256.publicKey.export({ format: 'jwk' }));
    const raw = sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' });
    const der = sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'der' });
    expect(raw).toHaveLength(64);
    expect(verifyDeviceSignature(key, message, raw)).toEqual({ ok: true, alg: 'ES256' });
    expect(verifyDeviceSignature(key, message, der)).toEqual({ ok: true, alg: 'ES256' });
    expect(verifyDeviceSignature(key, message, flip(raw, 40))).toEqual({ ok: false, reason: 'signature-mismatch' });
    expect(verifyDeviceSignature(key, message, flip(der, der.length - 1))).toEqual({ ok: false, reason: 'signature-mismatch' });
    expect(verifyDeviceSignature(key, message, Buffer.alloc(10))).toEqual({ ok: false, reason: 'signature-malformed' });
  });

  it('P-256: a DER signature with a padded (non-minimal) integer does not verify', () => {
    const key = keyOf(p256.publicKey.export({ format: 'jwk' }));
    const der = sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'der' });
    // Re-encode r with a superfluous leading zero octet.
    const rLen = der[3]!;
    const r = der.subarray(4, 4 + rLen);
    const rest = der.subarray(4 + rLen);
    const padded = Buffer.concat([Buffer.from([0x30, der[1]! + 1, 0x02, rLen + 1, 0x00]), r, rest]);
    expect(verifyDeviceSignature(key, message, padded).ok).toBe(false);
  });

  it('a signature by another key does not verify', () => {
    const other = generateKeyPairSync('ed25519');
    const key = keyOf(ed.publicKey.export({ format: 'jwk' }));
    expect(verifyDeviceSignature(key, message, sign(null, message, other.privateKey)).ok).toBe(false);
  });
});
