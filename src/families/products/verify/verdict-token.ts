import { createHash } from 'node:crypto';
import { signCompact } from '../../../signing/jws.js';
import type { Signer } from '../../../signing/signer.js';
import { pooledRandomBytes } from './random-pool.js';
import type { Assurance, Reason, Verdict } from './verdicts.js';

/**
 * The signed answer to a verification: a compact JWS (header `{alg, kid, typ: "verdict+jwt"}`, the
 * service's active key, published in `/.well-known/jwks.json`) with the claims
 *
 *   iss        the service (`0.NA/<prefix>`, the record that publishes the keys)
 *   sub        the canonical item id (for an unknown item: the identifier as asked)
 *   iat, exp   seconds; exp - iat is at most 300
 *   jti        128 random bits, base64url
 *   nonce      the challenge nonce the verification consumed (null without a challenge)
 *   verdict, reasons, assurance
 *   version    the item record's version (null for unknown)
 *   digest     "sha-256:" + base64url(SHA-256(the record's HS_SIGNATURE value data)), null when
 *              unknown or unsigned
 *   logLeaf    base64 of the RFC 9162 leaf hash SHA-256(0x00 || leaf data) of the item's
 *              registration (its first version's change-log entry) in the transparency log;
 *              null when the answer carries no `registration` proof
 *   logTreeSize the tree size that proof is against (null likewise)
 *
 * Digest decision: the record's signed bytes are its `HS_SIGNATURE` value, the compact JWS the
 * service made when the record was written. That JWS lists the SHA-256 of every publicly readable
 * value, so one digest of it commits the verdict to the exact record state it was computed from,
 * and anyone holding the record (`GET /api/handles/{handle}`) recomputes it without Cairn's code:
 * take the HS_SIGNATURE value's `data.value` string, hash its UTF-8 bytes.
 */
export const VERDICT_TOKEN_TYPE = 'verdict+jwt';
export const MAX_VERDICT_TOKEN_SECONDS = 300;

export interface VerdictClaims {
  readonly iss: string;
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  readonly nonce: string | null;
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly assurance: Assurance;
  readonly version: number | null;
  readonly digest: string | null;
  readonly logLeaf: string | null;
  readonly logTreeSize: number | null;
}

export interface VerdictTokenInput {
  readonly issuer: string;
  readonly subject: string;
  readonly nonce: string | undefined;
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly assurance: Assurance;
  readonly version: number | undefined;
  readonly digest: string | undefined;
  /** The registration proof's leaf hash (base64) and tree size, when the answer carries one. */
  readonly log?: { readonly leaf: string; readonly treeSize: number };
  /** Seconds since the epoch. */
  readonly now: number;
  /** 1..300 (default 300). */
  readonly lifetimeSeconds?: number;
  readonly jti?: string;
}

export function verdictClaims(input: VerdictTokenInput): VerdictClaims {
  const lifetime = input.lifetimeSeconds ?? MAX_VERDICT_TOKEN_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_VERDICT_TOKEN_SECONDS) {
    throw new RangeError(`Verdict tokens live 1..${MAX_VERDICT_TOKEN_SECONDS} s`);
  }
  const iat = Math.floor(input.now);
  return {
    iss: input.issuer,
    sub: input.subject,
    iat,
    exp: iat + lifetime,
    jti: input.jti ?? pooledRandomBytes(16).toString('base64url'),
    nonce: input.nonce ?? null,
    verdict: input.verdict,
    reasons: [...input.reasons],
    assurance: input.assurance,
    version: input.version ?? null,
    digest: input.digest ?? null,
    logLeaf: input.log?.leaf ?? null,
    logTreeSize: input.log?.treeSize ?? null,
  };
}

/** The encoded header per active key (the same for every verdict that key signs). */
const headers = new Map<string, string>();

export function signVerdict(signer: Signer, claims: VerdictClaims): string {
  const { alg, kid, privateKey } = signer.active;
  let header = headers.get(kid);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg, kid, typ: VERDICT_TOKEN_TYPE })).toString('base64url');
    if (headers.size >= 16) headers.clear();
    headers.set(kid, header);
  }
  return signCompact(header, claims, privateKey, alg);
}

/** The digest claim for a record's HS_SIGNATURE data (see above). */
export function recordDigest(signatureData: Uint8Array | undefined): string | undefined {
  if (!signatureData || signatureData.length === 0) return undefined;
  return `sha-256:${createHash('sha256').update(signatureData).digest('base64url')}`;
}
