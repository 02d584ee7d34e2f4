import { sign, verify, type KeyObject } from 'node:crypto';
import { SignatureInvalid } from '../errors.js';
import { digestFor, type SigningAlg } from './algorithms.js';

/**
 * Compact JWS (RFC 7515 section 7.1) over node:crypto:
 *   BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature)
 * ECDSA signatures are the raw r||s form JWS requires (RFC 7518 section 3.4), hence ieee-p1363.
 */
export interface JwsHeader {
  readonly alg: SigningAlg;
  readonly kid?: string;
  readonly typ?: string;
  readonly [name: string]: unknown;
}

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

export function signCompact(header: JwsHeader | string, payload: unknown, privateKey: KeyObject, alg?: SigningAlg): string {
  // A signer that signs many tokens passes its header already encoded (and then its alg).
  const encodedHeader = typeof header === 'string' ? header : b64url(JSON.stringify(header));
  const signingAlg = typeof header === 'string' ? alg! : header.alg;
  const signingInput = `${encodedHeader}.${b64url(JSON.stringify(payload))}`;
  const signature = sign(digestFor(signingAlg), Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

export interface DecodedJws {
  readonly header: Record<string, unknown>;
  readonly payload: unknown;
  readonly signingInput: string;
  readonly signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Splits and decodes a compact JWS without checking its signature. */
export function decodeCompact(token: string): DecodedJws {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) throw new SignatureInvalid('Not a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    throw new SignatureInvalid('JWS header or payload is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SignatureInvalid('JWS header is not an object');
  return { header: header as Record<string, unknown>, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

/**
 * Verifies a compact JWS with a key whose algorithm the caller already knows. The header's `alg`
 * must equal it: a token cannot choose its own algorithm.
 */
export function verifyCompact(token: string, publicKey: KeyObject, alg: SigningAlg): DecodedJws {
  const jws = decodeCompact(token);
  if (jws.header.alg !== alg) throw new SignatureInvalid(`JWS alg ${String(jws.header.alg)} is not the key's ${alg}`);
  const ok = verify(digestFor(alg), Buffer.from(jws.signingInput), { key: publicKey, dsaEncoding: 'ieee-p1363' }, jws.signature);
  if (!ok) throw new SignatureInvalid('JWS signature does not verify');
  return jws;
}
