import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { MirrorFeedInvalid, MirrorReadOnly, SignatureInvalid } from '../errors.js';
import { isSigningAlg } from '../signing/algorithms.js';
import { verifyCompact, type DecodedJws } from '../signing/jws.js';
import { Signer, signingKey, tokenKid, verificationKey, type SigningKey, type VerificationKey } from '../signing/signer.js';

/** A JSON Web Key as `/.well-known/jwks.json` publishes it (all members strings). */
export type PublishedJwk = Readonly<Record<string, string>>;

/**
 * Reads a JWKS document. Keys Cairn could not have signed with (an algorithm outside the
 * allow-list, a `kid` that is not the key's RFC 7638 thumbprint, an `alg` that does not fit the key)
 * are left out and counted; a document that is not a JWKS at all is ERR_MIRROR_FEED_INVALID.
 */
export function readJwks(doc: unknown): { keys: { key: VerificationKey; jwk: PublishedJwk }[]; ignored: number } {
  const list = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list)) throw new MirrorFeedInvalid('The primary\'s JWKS has no "keys" array');
  const keys: { key: VerificationKey; jwk: PublishedJwk }[] = [];
  let ignored = 0;
  for (const entry of list) {
    const jwk = entry as Record<string, unknown>;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || !Object.values(jwk).every((v) => typeof v === 'string') || 'd' in jwk) {
      ignored++;
      continue;
    }
    try {
      const key = verificationKey(createPublicKey({ key: jwk as never, format: 'jwk' }));
      if (key.kid !== jwk.kid || !isSigningAlg(jwk.alg) || key.alg !== jwk.alg) {
        ignored++;
        continue;
      }
      keys.push({ key, jwk: jwk as PublishedJwk });
    } catch {
      ignored++;
    }
  }
  return { keys, ignored };
}

/**
 * The primary's published keys, as a mirror holds them: it republishes the primary's JWKS as last
 * fetched at its own `/.well-known/jwks.json` (the same document), verifies with every key it has
 * ever learnt from it (as the primary still verifies with keys it has retired: history versions
 * and tombstones keep the signatures they were written with), and it signs nothing.
 *
 * It is a `Signer` so that the rest of the service (JWKS route, DOIP Hello) runs unchanged on a
 * mirror; `sign` refuses.
 */
export class PrimaryKeys extends Signer {
  private readonly known = new Map<string, VerificationKey>();
  /** The primary's JWKS as last fetched. */
  private published: PublishedJwk[] = [];

  constructor(jwks?: unknown) {
    // Signer needs an active key; a throwaway one stands in, and `sign` below never uses it.
    const placeholder = generateKeyPairSync('ed25519');
    const standIn = signingKey(placeholder.privateKey, placeholder.publicKey);
    super(standIn);
    // What the service shows as its key (DOIP Hello) is the primary's first published key.
    Object.defineProperty(this, 'active', {
      enumerable: true,
      get: (): SigningKey => {
        const first = this.published[0] === undefined ? undefined : this.known.get(this.published[0].kid ?? '');
        return first ? { ...first, privateKey: standIn.privateKey } : standIn;
      },
    });
    if (jwks !== undefined) this.learn(jwks);
  }

  /** Adds the keys of a fetched JWKS; returns how many were new and how many were ignored. */
  learn(jwks: unknown): { added: number; ignored: number } {
    const { keys, ignored } = readJwks(jwks);
    let added = 0;
    for (const { key } of keys) {
      if (!this.known.has(key.kid)) added++;
      this.known.set(key.kid, key);
    }
    this.published = keys.map((k) => k.jwk);
    return { added, ignored };
  }

  has(kid: string): boolean {
    return this.known.has(kid);
  }

  get size(): number {
    return this.known.size;
  }

  override sign(): string {
    throw new MirrorReadOnly('A mirror signs nothing: records are signed by the primary');
  }

  override verify(token: string): DecodedJws {
    const kid = tokenKid(token);
    const key = kid === undefined ? undefined : this.known.get(kid);
    if (!key) throw new SignatureInvalid(`Unknown signing key ${String(kid)}: the primary's JWKS does not list it`);
    return verifyCompact(token, key.publicKey, key.alg);
  }

  override keys(): VerificationKey[] {
    return [...this.known.values()];
  }

  override findKey(kid: string): VerificationKey | undefined {
    return this.known.get(kid);
  }

  override jwks(): { keys: Record<string, string>[] } {
    return { keys: this.published.map((j) => ({ ...j })) };
  }
}
