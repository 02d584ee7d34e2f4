import type { KeyObject } from 'node:crypto';
import { algForKey, jwkThumbprint, type SigningAlg } from './algorithms.js';
import { signCompact, verifyCompact, type DecodedJws } from './jws.js';
import { SignatureInvalid } from '../errors.js';

/** A public key Cairn has signed with, as published in the JWKS and as `HS_PUBKEY`. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly publicKey: KeyObject;
  /** The public JWK with `kid`, `alg` and `use` (what `HS_PUBKEY` holds and the JWKS lists). */
  readonly jwk: Readonly<Record<string, string>>;
  /** Index of the key's `HS_PUBKEY` on `0.NA/<prefix>` (the index `iss` names), when known. */
  readonly index?: number;
  /**
   * Seconds since the epoch from which a verify-only key leaves the JWKS (it stays while a live
   * record still carries a signature it made); undefined: published as long as it is known.
   */
  readonly retireAfter?: number;
}

export interface SigningKey extends VerificationKey {
  readonly privateKey: KeyObject;
}

export function verificationKey(publicKey: KeyObject, meta: { index?: number; retireAfter?: number } = {}): VerificationKey {
  const alg = algForKey(publicKey);
  if (!alg) throw new SignatureInvalid(`Keys of type ${publicKey.asymmetricKeyType} are not supported`);
  const raw = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(raw);
  return {
    kid,
    alg,
    publicKey,
    jwk: { ...raw, kid, alg, use: 'sig' },
    ...(meta.index === undefined ? {} : { index: meta.index }),
    ...(meta.retireAfter === undefined ? {} : { retireAfter: meta.retireAfter }),
  };
}

export function signingKey(privateKey: KeyObject, publicKey: KeyObject, meta: { index?: number } = {}): SigningKey {
  return { ...verificationKey(publicKey, meta), privateKey };
}

/** The JWKS member naming a verify-only key's retire time (an RFC 3339 string, as every member is one). */
export const JWK_RETIRE_AFTER = 'retire_after';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * The service's signing identity: one active key that signs, and every key that ever signed. Keys
 * other than the active one are verify-only; one with a retire time leaves the JWKS at that time,
 * unless live records still carry signatures it made (the re-sign after a rotation pins them until
 * it has replaced those signatures: `pin`). `verify` still knows retired keys: they are the
 * service's own, and history versions, tombstones and backups keep the signatures they made.
 */
export class Signer {
  private byKid: Map<string, VerificationKey>;
  private current: SigningKey;
  private encodedHeader: string | undefined;
  /** Keys that stay published whatever their retire time ('all': every key). */
  private pinned: ReadonlySet<string> | 'all' = new Set();

  constructor(active: SigningKey, verifyOnly: readonly VerificationKey[] = []) {
    this.current = active;
    this.byKid = new Map([[active.kid, active], ...verifyOnly.map((k) => [k.kid, k] as const)]);
  }

  /** The key that signs. */
  get active(): SigningKey {
    return this.current;
  }

  /**
   * A key rotation while serving (src/ops/rotate.ts): `active` signs from the next signature on,
   * `verifyOnly` as in the constructor (the previous key among them, with its retire time).
   */
  switchTo(active: SigningKey, verifyOnly: readonly VerificationKey[]): void {
    this.byKid = new Map([[active.kid, active], ...verifyOnly.map((k) => [k.kid, k] as const)]);
    this.current = active;
    this.encodedHeader = undefined;
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

  /** Every key this signer knows, the active one first, retired ones included. */
  keys(): VerificationKey[] {
    return [...this.byKid.values()];
  }

  findKey(kid: string): VerificationKey | undefined {
    return this.byKid.get(kid);
  }

  /** Keeps keys published past their retire time (records still signed with them); 'all' pins every key. */
  pin(kids: Iterable<string> | 'all'): void {
    this.pinned = kids === 'all' ? 'all' : new Set(kids);
  }

  /** Whether the key is in the JWKS at `now`: the active key, keys without a retire time, keys before it, pinned keys. */
  isPublished(key: VerificationKey, now = nowSeconds()): boolean {
    if (key.kid === this.active.kid || key.retireAfter === undefined || now < key.retireAfter) return true;
    return this.pinned === 'all' || this.pinned.has(key.kid);
  }

  /** The keys the JWKS lists at `now`. */
  publishedKeys(now = nowSeconds()): VerificationKey[] {
    return this.keys().filter((k) => this.isPublished(k, now));
  }

  /** Seconds from `now` until the next key leaves the JWKS, or undefined when none will. */
  secondsToNextRetirement(now = nowSeconds()): number | undefined {
    let next: number | undefined;
    for (const k of this.publishedKeys(now)) {
      if (k.kid === this.active.kid || k.retireAfter === undefined || k.retireAfter <= now) continue;
      next = Math.min(next ?? Infinity, k.retireAfter - now);
    }
    return next;
  }

  /** RFC 7517 JWK Set; a verify-only key with a retire time says when (`retire_after`). */
  jwks(now = nowSeconds()): { keys: Record<string, string>[] } {
    return {
      keys: this.publishedKeys(now).map((k) =>
        k.kid !== this.active.kid && k.retireAfter !== undefined
          ? { ...k.jwk, [JWK_RETIRE_AFTER]: new Date(k.retireAfter * 1000).toISOString().replace('.000Z', 'Z') }
          : { ...k.jwk },
      ),
    };
  }
}

/** The `kid` a compact JWS's header names, or undefined. */
export function tokenKid(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}
