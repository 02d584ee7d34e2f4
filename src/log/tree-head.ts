import type { Signer } from '../signing/signer.js';

/**
 * The signed tree head (STH): a compact JWS by the service's active key (header
 * `{alg, kid, typ: "tree-head+jwt"}`, the key listed in `/.well-known/jwks.json`) over
 *
 *   iss        the service (`0.NA/<prefix>`, the record that publishes the keys)
 *   iat        seconds since the epoch
 *   treeSize   number of leaves
 *   rootHash   base64 (standard alphabet) of the 32-octet root, RFC 9162 MTH
 *   timestamp  milliseconds since the epoch (as RFC 9162 times tree heads)
 *
 * The JSON answer repeats treeSize, rootHash and timestamp beside the token for convenience;
 * only the token's claims are signed.
 */
export const TREE_HEAD_TYPE = 'tree-head+jwt';

export interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: string;
  readonly timestamp: number;
}

export interface SignedTreeHead extends TreeHead {
  readonly signature: string;
}

export interface TreeHeadClaims extends TreeHead {
  readonly iss: string;
  readonly iat: number;
}

export function signTreeHead(signer: Signer, issuer: string, head: { treeSize: number; rootHash: Buffer }, now = Date.now()): SignedTreeHead {
  const body: TreeHead = { treeSize: head.treeSize, rootHash: head.rootHash.toString('base64'), timestamp: now };
  const claims: TreeHeadClaims = { iss: issuer, iat: Math.floor(now / 1000), ...body };
  return { ...body, signature: signer.sign(claims, TREE_HEAD_TYPE) };
}
