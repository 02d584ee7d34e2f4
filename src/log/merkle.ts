import { createHash, hash } from 'node:crypto';

/**
 * The Merkle tree of RFC 9162 (Certificate Transparency v2) section 2.1, over SHA-256, with no I/O:
 * node hashes come from a `NodeReader`, which yields the hash of a complete subtree (2^level
 * leaves, starting at leaf `index * 2^level`). Storing every complete subtree makes a tree head
 * and any proof cost O(log n) reads.
 *
 * Sizes and indexes are plain numbers (safe up to 2^53): arithmetic, never 32-bit bit operators.
 */
export type Hash = Buffer;

/** Hash of the complete subtree at (level, index); throws if the store does not hold it. */
export type NodeReader = (level: number, index: number) => Hash;

export const HASH_BYTES = 32;

/** MTH({}) = SHA-256 of the empty string (section 2.1.1). */
export const EMPTY_ROOT: Hash = createHash('sha256').digest();

/** SHA-256(0x00 || leaf data). */
export function leafHash(data: Uint8Array): Hash {
  // One-shot hashing: a Hash object per call costs about as much again as the hashing itself.
  return hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer') as unknown as Hash;
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer') as unknown as Hash;
}

const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

/** The largest power of two strictly below n (n >= 2): the split point k of section 2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && Number.isSafeInteger(n) && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Hashes of arbitrary ranges D[a:b], from the complete subtrees the reader holds. A range that is
 * itself a complete, aligned subtree is one read; any other splits at section 2.1.1's k. One
 * instance memoises, so the right-edge subtrees a proof walks share their reads (O(log n) total).
 */
export class RangeHasher {
  private readonly memo = new Map<string, Hash>();

  constructor(private readonly read: NodeReader) {}

  hash(a: number, b: number): Hash {
    const n = b - a;
    if (n <= 0) return EMPTY_ROOT;
    if (isPowerOfTwo(n) && a % n === 0) return this.read(Math.round(Math.log2(n)), a / n);
    const key = `${a}:${b}`;
    const known = this.memo.get(key);
    if (known) return known;
    const k = splitPoint(n);
    const h = nodeHash(this.hash(a, a + k), this.hash(a + k, b));
    this.memo.set(key, h);
    return h;
  }
}

/** MTH(D[0:size]). */
export function rootHash(size: number, read: NodeReader): Hash {
  return new RangeHasher(read).hash(0, size);
}

/** PATH(index, D[0:size]) of section 2.1.3.1, leaf-side first. Requires 0 <= index < size. */
export function inclusionPath(index: number, size: number, read: NodeReader): Hash[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const hasher = new RangeHasher(read);
  const path: Hash[] = [];
  // Walk from the root down, collecting siblings; the proof lists them from the leaf up.
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(hasher.hash(lo + k, hi));
      hi = lo + k;
    } else {
      path.push(hasher.hash(lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/** PROOF(first, D[0:second]) of section 2.1.4.1. Requires 1 <= first <= second; empty when equal. */
export function consistencyPath(first: number, second: number, read: NodeReader): Hash[] {
  if (!(first >= 1 && first <= second)) throw new RangeError(`no consistency proof from ${first} to ${second}`);
  const hasher = new RangeHasher(read);
  const path: Hash[] = [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: each step records one sibling, deepest last.
  let m = first;
  let lo = 0;
  let hi = second;
  let whole = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      path.push(hasher.hash(lo + k, hi));
      hi = lo + k;
    } else {
      path.push(hasher.hash(lo, lo + k));
      lo += k;
      m -= k;
      whole = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree is a proper subtree of the new one.
  if (!whole) path.push(hasher.hash(lo, hi));
  return path.reverse();
}
