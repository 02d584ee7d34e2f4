import { hash } from 'node:crypto';
import { encodeValue } from '../records/encoding.js';
import { isPublicRead, type HandleValue } from '../records/value.js';
import { SignatureInvalid } from '../errors.js';
import { decodeCompact } from './jws.js';
import type { Signer } from './signer.js';

/**
 * Record signatures in the Handle.Net v9 layout: an `HS_SIGNATURE` value whose data is a compact
 * JWS with the payload
 *
 *   { iss: "<index>:<signer handle>", sub: "<handle>", iat, nbf, exp,
 *     digests: { alg: "SHA-256", digests: [ { index, digest } ] } }
 *
 * where each digest is the standard-Base64 SHA-256 of the value's RFC 3651 encoding without its first
 * 8 bytes (index and timestamp), over every publicly readable value except the signature itself.
 */
export const SIGNATURE_TYPE = 'HS_SIGNATURE';
/** Handle.Net puts the signature at index 400; Cairn uses the first free index from there. */
export const SIGNATURE_INDEX = 400;
/** How far before `iat` a signature becomes valid (tolerates verifier clock skew). */
export const SIGNATURE_SKEW_SECONDS = 600;

export interface SignaturePayload {
  readonly iss: string;
  readonly sub: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly digests: { readonly alg: 'SHA-256'; readonly digests: readonly { readonly index: number; readonly digest: string }[] };
}

export function valueDigest(value: HandleValue): string {
  return hash('sha256', encodeValue(value).subarray(8), 'base64');
}

/** The values a signature covers: publicly readable, not a signature. */
export function signedValues(values: readonly HandleValue[]): HandleValue[] {
  return values.filter((v) => v.type !== SIGNATURE_TYPE && isPublicRead(v));
}

export interface SignOptions {
  readonly issuer: string;
  readonly now: number;
  readonly validitySeconds: number;
}

export function signaturePayload(handle: string, values: readonly HandleValue[], opts: SignOptions): SignaturePayload {
  return {
    iss: opts.issuer,
    sub: handle,
    iat: opts.now,
    nbf: opts.now - SIGNATURE_SKEW_SECONDS,
    exp: opts.now + opts.validitySeconds,
    digests: { alg: 'SHA-256', digests: signedValues(values).map((v) => ({ index: v.index, digest: valueDigest(v) })) },
  };
}

/** Returns the values with a fresh HS_SIGNATURE value in place of any old one. */
export function withSignature(handle: string, values: readonly HandleValue[], signer: Signer, opts: SignOptions): HandleValue[] {
  const unsigned = values.filter((v) => v.type !== SIGNATURE_TYPE);
  const token = signer.sign(signaturePayload(handle, unsigned, opts));
  const used = new Set(unsigned.map((v) => v.index));
  let index = SIGNATURE_INDEX;
  while (used.has(index)) index++;
  const signature: HandleValue = {
    index,
    type: SIGNATURE_TYPE,
    data: Buffer.from(token, 'utf8'),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: opts.now,
    permissions: 0b1110,
    references: [],
  };
  return [...unsigned, signature].sort((a, b) => a.index - b.index);
}

export function findSignature(values: readonly HandleValue[]): HandleValue | undefined {
  return values.find((v) => v.type === SIGNATURE_TYPE);
}

/**
 * Checks a record's signature against the signer's keys: the JWS verifies, names this handle, is
 * within its validity window, and its digests match exactly the public values present.
 */
export function verifyRecordSignature(handle: string, values: readonly HandleValue[], signer: Signer, now: number): SignaturePayload {
  const sig = findSignature(values);
  if (!sig) throw new SignatureInvalid('Record has no HS_SIGNATURE value');
  const token = Buffer.from(sig.data).toString('utf8');
  decodeCompact(token);
  const payload = signer.verify(token).payload as SignaturePayload;
  if (payload.sub !== handle) throw new SignatureInvalid(`Signature is for ${payload.sub}, not ${handle}`);
  if (!(payload.nbf <= now && now < payload.exp)) throw new SignatureInvalid('Signature is outside its validity window');
  const expected = signedValues(values).map((v) => `${v.index}:${valueDigest(v)}`).sort();
  const signed = payload.digests.digests.map((d) => `${d.index}:${d.digest}`).sort();
  if (expected.length !== signed.length || expected.some((e, i) => e !== signed[i])) {
    throw new SignatureInvalid('Signed digests do not match the record values');
  }
  return payload;
}
