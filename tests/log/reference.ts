import { createHash } from 'node:crypto';

/**
 * An independent RFC 9162 section 2.1 implementation for the tests, written from the RFC's
 * definitions and imports nothing of Cairn: MTH, PATH and PROOF as the recursive definitions
 * read (2.1.1, 2.1.3.1, 2.1.4.1), and the verification algorithms of 2.1.3.2 and 2.1.4.2 as
 * their numbered steps read. Deliberately the plain recursive form (Cairn's tree walks stored
 * complete subtrees iteratively).
 */
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeafHash = (data: Uint8Array): Buffer => sha256(Buffer.from([0x00]), data);
export const refNodeHash = (l: Uint8Array, r: Uint8Array): Buffer => sha256(Buffer.from([0x01]), l, r);

/** Largest power of two smaller than n (n > 1). */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH(D[n]) over leaf data. */
export function refMth(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return refLeafHash(leaves[0]!);
  const split = k(leaves.length);
  return refNodeHash(refMth(leaves.slice(0, split)), refMth(leaves.slice(split)));
}

/** PATH(m, D[n]). */
export function refPath(m: number, leaves: readonly Uint8Array[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const split = k(leaves.length);
  if (m < split) return [...refPath(m, leaves.slice(0, split)), refMth(leaves.slice(split))];
  return [...refPath(m - split, leaves.slice(split)), refMth(leaves.slice(0, split))];
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function refProof(m: number, leaves: readonly Uint8Array[]): Buffer[] {
  return subproof(m, leaves, true);
}

function subproof(m: number, leaves: readonly Uint8Array[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refMth(leaves)];
  const split = k(n);
  if (m <= split) return [...subproof(m, leaves.slice(0, split), b), refMth(leaves.slice(split))];
  return [...subproof(m - split, leaves.slice(split), false), refMth(leaves.slice(0, split))];
}

/** RFC 9162 2.1.3.2: does `path` prove `leafHash` at `leafIndex` in a tree of `treeSize` with `root`? */
export function verifyInclusion(leafHash: Uint8Array, leafIndex: number, treeSize: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (leafIndex >= treeSize) return false;
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize - 1);
  let r: Buffer = Buffer.from(leafHash);
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = refNodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = refNodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

/** RFC 9162 2.1.4.2 (with first = second: an empty proof and equal roots). */
export function verifyConsistency(first: number, second: number, firstHash: Uint8Array, secondHash: Uint8Array, path: readonly Uint8Array[]): boolean {
  if (first < 1 || first > second) return false;
  if (first === second) return path.length === 0 && Buffer.from(firstHash).equals(secondHash);
  if (path.length === 0) return false;
  const proof = [...path];
  const isPow2 = (x: bigint): boolean => (x & (x - 1n)) === 0n;
  if (isPow2(BigInt(first))) proof.unshift(firstHash);
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Buffer = Buffer.from(proof[0]!);
  let sr: Buffer = Buffer.from(proof[0]!);
  for (const c of proof.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = refNodeHash(c, fr);
      sr = refNodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = refNodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0n;
}
