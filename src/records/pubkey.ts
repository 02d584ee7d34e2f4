import { ValueInvalid } from '../errors.js';
import { ByteReader, ByteWriter } from './encoding.js';

/**
 * HS_PUBKEY data. Handle.Net (`Util.getBytesFromPublicKey`) writes a key-type string, two flag
 * octets, then length-prefixed big-endian integers:
 *
 *   RSA:  "RSA_PUB_KEY" <flags: 2 octets = 0> <e> <n>
 *   DSA:  "DSA_PUB_KEY" <flags> <q> <p> <g> <y>
 *
 * Handle.Net has no layout for Ed25519 or P-256 keys. Cairn extends the same pattern (and says so
 * in its README) rather than inventing a new framing:
 *
 *   Ed25519: "ED25519_PUB_KEY" <flags> <x: 32 octets>
 *   P-256:   "EC_PUB_KEY" <flags> <curve: "P-256"> <x: 32 octets> <y: 32 octets>
 *
 * The JSON view (format `key`) is the public key as a JWK, as Handle.Net renders it.
 */
export type PublicJwk = Record<string, string>;

const unsignedBytes = (b64url: string): Buffer => {
  const raw = Buffer.from(b64url, 'base64url');
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  return raw.subarray(i);
};

/** Java BigInteger.toByteArray(): two's complement, so a leading 0x00 when the top bit is set. */
const javaBigInteger = (b64url: string): Buffer => {
  const mag = unsignedBytes(b64url);
  return mag.length > 0 && (mag[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), mag]) : mag;
};

export function encodePublicKeyJwk(jwk: PublicJwk): Buffer {
  const w = new ByteWriter(128);
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return w.string('RSA_PUB_KEY').u16(0).lengthPrefixed(javaBigInteger(jwk.e)).lengthPrefixed(javaBigInteger(jwk.n)).finish();
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    const x = Buffer.from(jwk.x, 'base64url');
    if (x.length !== 32) throw new ValueInvalid('Ed25519 key must be 32 bytes');
    return w.string('ED25519_PUB_KEY').u16(0).lengthPrefixed(x).finish();
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256' && jwk.x && jwk.y) {
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    if (x.length !== 32 || y.length !== 32) throw new ValueInvalid('P-256 coordinates must be 32 bytes');
    return w.string('EC_PUB_KEY').u16(0).string('P-256').lengthPrefixed(x).lengthPrefixed(y).finish();
  }
  throw new ValueInvalid('HS_PUBKEY must be an RSA, Ed25519 or P-256 public JWK');
}

export function decodePublicKeyJwk(data: Uint8Array): PublicJwk {
  const r = new ByteReader(data, 'HS_PUBKEY data');
  const kind = r.string();
  r.u16();
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  let jwk: PublicJwk;
  if (kind === 'RSA_PUB_KEY') {
    const e = r.lengthPrefixed();
    const n = r.lengthPrefixed();
    jwk = { kty: 'RSA', n: b64(unsignedBytes(b64(n))), e: b64(unsignedBytes(b64(e))) };
  } else if (kind === 'ED25519_PUB_KEY') {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64(r.lengthPrefixed()) };
  } else if (kind === 'EC_PUB_KEY') {
    const crv = r.string();
    if (crv !== 'P-256') throw new ValueInvalid(`Unsupported curve ${crv}`);
    jwk = { kty: 'EC', crv, x: b64(r.lengthPrefixed()), y: b64(r.lengthPrefixed()) };
  } else {
    throw new ValueInvalid(`Unsupported HS_PUBKEY key type ${kind}`);
  }
  r.end();
  return jwk;
}

