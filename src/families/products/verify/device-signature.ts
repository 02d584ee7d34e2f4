import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * Proof of possession with a device key: the device signs the challenge message
 * (challenge-message.ts) with its private key, and the signature is checked with node:crypto against
 * the public key registered on the item.
 *
 * - Ed25519: pure Ed25519 (RFC 8032), the signature is the 64 raw bytes.
 * - ECDSA P-256 with SHA-256: either the raw r||s form (64 bytes, as WebCrypto and JWS write it) or
 *   DER (`Ecdsa-Sig-Value`, as OpenSSL writes it). OpenSSL re-encodes a DER signature and compares,
 *   so a non-minimal DER form does not verify.
 *
 * Other key types are refused (`device-key-unsupported`): the issue names these two.
 */
export type DeviceKeyAlg = 'Ed25519' | 'ES256';

export interface DeviceKey {
  readonly alg: DeviceKeyAlg;
  readonly key: KeyObject;
}

export type DeviceSignatureResult =
  | { readonly ok: true; readonly alg: DeviceKeyAlg }
  | { readonly ok: false; readonly reason: 'signature-malformed' | 'signature-mismatch' };

export type DeviceKeyResult = { readonly ok: true; readonly key: DeviceKey } | { readonly ok: false; readonly reason: 'device-key-missing' | 'device-key-unsupported' };

/** Largest signature looked at: a DER P-256 signature is at most 72 bytes. */
export const MAX_SIGNATURE_BYTES = 256;

/**
 * The device key of a registered item: a public JWK (object or JSON text) or an SPKI PEM. A JWK with
 * a private part (`d`) is refused: the registry should never have stored one.
 */
export function deviceKeyFrom(registered: unknown): DeviceKeyResult {
  if (registered === undefined || registered === null || registered === '') return { ok: false, reason: 'device-key-missing' };
  let key: KeyObject;
  try {
    if (typeof registered === 'string' && registered.includes('-----BEGIN')) {
      key = createPublicKey({ key: registered, format: 'pem' });
    } else {
      const jwk = (typeof registered === 'string' ? JSON.parse(registered) : registered) as Record<string, unknown>;
      if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) return { ok: false, reason: 'device-key-unsupported' };
      key = createPublicKey({ key: jwk as never, format: 'jwk' });
    }
  } catch {
    return { ok: false, reason: 'device-key-unsupported' };
  }
  if (key.type !== 'public') return { ok: false, reason: 'device-key-unsupported' };
  if (key.asymmetricKeyType === 'ed25519') return { ok: true, key: { alg: 'Ed25519', key } };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { ok: true, key: { alg: 'ES256', key } };
  return { ok: false, reason: 'device-key-unsupported' };
}

/** Checks `signature` over `message` with the device key. Never throws for any signature bytes. */
export function verifyDeviceSignature(device: DeviceKey, message: Uint8Array, signature: Uint8Array): DeviceSignatureResult {
  if (device.alg === 'Ed25519') {
    if (signature.length !== 64) return { ok: false, reason: 'signature-malformed' };
    return quietly(() => verify(null, message, device.key, signature)) ? { ok: true, alg: 'Ed25519' } : { ok: false, reason: 'signature-mismatch' };
  }
  const raw = signature.length === 64;
  const der = isDerSequence(signature);
  if (!raw && !der) return { ok: false, reason: 'signature-malformed' };
  if (der && quietly(() => verify('sha256', message, { key: device.key, dsaEncoding: 'der' }, signature))) return { ok: true, alg: 'ES256' };
  if (raw && quietly(() => verify('sha256', message, { key: device.key, dsaEncoding: 'ieee-p1363' }, signature))) return { ok: true, alg: 'ES256' };
  return { ok: false, reason: 'signature-mismatch' };
}

/** Looks like `SEQUENCE { ... }` with a short definite length covering the rest (a DER ECDSA signature). */
function isDerSequence(b: Uint8Array): boolean {
  return b.length >= 8 && b.length <= 2 + 0x7f && b[0] === 0x30 && b[1] === b.length - 2;
}

function quietly(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
