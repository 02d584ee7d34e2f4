import type { KeyObject } from 'node:crypto';
import { algForKey, jwkThumbprint, type SigningAlg } from './algorithms.js';
import { signCompact, verifyCompact, type DecodedJws } from './jws.js';
import { SignatureInvalid } from '../errors.js';

/** A public key Cairn has signed with, as published in the JWKS and as `HS_PUBKEY`. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly publicKey: KeyObject;
  readonly jwk: Readonly<Record<string, string>>;
}

export interface SigningKey extends VerificationKey {
  readonly privateKey: KeyObject;
}

export function verificationKey(publicKey: KeyObject): VerificationKey {
  const alg = algForKey(publicKey);
  if (!alg) throw new SignatureInvalid(`Keys of type ${publicKey.asymmetricKeyType} are not supported`);
  const raw = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(raw);
  return { kid, alg, publicKey, jwk: { ...raw, kid, alg, use: 'sig' } };
}

export function signingKey(privateKey: KeyObject, publicKey: KeyObject): SigningKey {
  return { ...verificationKey(publicKey), privateKey };
}

/**
 * The service's signing identity: one active key that signs, and every key that ever signed, which
 * stay published so that records signed before a rotation still verify.
 */
export class Signer {
  private readonly byKid: Map<string, VerificationKey>;
  private encodedHeader: string | undefined;

  constructor(readonly active: SigningKey, verifyOnly: readonly VerificationKey[] = []) {
    this.byKid = new Map([[active.kid, active], ...verifyOnly.map((k) => [k.kid, k] as const)]);
  }

  sign(payload: unknown, typ?: string): string {
    if (typ) return signCompact({ alg: this.active.alg, kid: this.active.kid, typ }, payload, this.active.privateKey);
    this.encodedHeader ??= Buffer.from(JSON.stringify({ alg: this.active.alg, kid: this.active.kid })).toString('base64url');
    return signCompact(this.encodedHeader, payload, this.active.privateKey, this.active.alg);
  }

  /** Verifies with the key the token names; the key decides the algorithm. */
  verify(token: string): DecodedJws {
    const kid = tokenKid(token);
    const key = kid === undefined ? undefined : this.byKid.get(kid);
    if (!key) throw new SignatureInvalid(`Unknown signing key ${String(kid)}`);
    return verifyCompact(token, key.publicKey, key.alg);
  }

  keys(): VerificationKey[] {
    return [...this.byKid.values()];
  }

  jwks(): { keys: Record<string, string>[] } {
    return { keys: this.keys().map((k) => ({ ...k.jwk })) };
  }
}

function tokenKid(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
