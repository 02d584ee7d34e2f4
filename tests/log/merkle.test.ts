import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeLeaf, encodeLeaf, signedBytesDigest } from '../../src/log/leaf.js';
import { consistencyPath, EMPTY_ROOT, inclusionPath, leafHash, nodeHash, rootHash, type NodeReader } from '../../src/log/merkle.js';
import { refLeafHash, refMth, refPath, refProof, verifyConsistency, verifyInclusion } from './reference.js';

/** Leaf data 0..n-1: distinct, of varying length. */
const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${i} ${'x'.repeat(i % 7)}`));

/**
 * The stored form Cairn's tree reads: the hash of every complete subtree, here computed by the
 * reference MTH over the leaves it covers (not by Cairn's code).
 */
function referenceReader(data: readonly Buffer[]): NodeReader & { reads: number } {
  const nodes = new Map<string, Buffer>();
  for (let width = 1; width <= data.length; width *= 2) {
    for (let i = 0; (i + 1) * width <= data.length; i++) nodes.set(`${Math.log2(width)}/${i}`, refMth(data.slice(i * width, (i + 1) * width)));
  }
  const reader = ((level: number, index: number) => {
    reader.reads++;
    const h = nodes.get(`${level}/${index}`);
    if (!h) throw new Error(`no complete subtree ${index} at level ${level}`);
    return h;
  }) as NodeReader & { reads: number };
  reader.reads = 0;
  return reader;
}

const hex = (b: Buffer): string => b.toString('hex');

describe('Merkle tree (RFC 9162 2.1)', () => {
  it('hashes leaves and nodes with the domain-separation prefixes', () => {
    const data = Buffer.from('abc');
    expect(hex(leafHash(data))).toBe(createHash('sha256').update(Buffer.concat([Buffer.from([0]), data])).digest('hex'));
    const [l, r] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    expect(hex(nodeHash(l, r))).toBe(createHash('sha256').update(Buffer.concat([Buffer.from([1]), l, r])).digest('hex'));
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('matches the roots of the RFC 6962 reference implementation test data (8 leaves)', () => {
    // The leaf inputs and roots of the CT reference implementation's Merkle tree tests; the roots
    // are also recomputed by the independent reference before Cairn's are compared.
    const input = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    for (let n = 1; n <= 8; n++) {
      expect(hex(refMth(input.slice(0, n))), `reference, size ${n}`).toBe(roots[n - 1]);
      expect(hex(rootHash(n, referenceReader(input.slice(0, n)))), `Cairn, size ${n}`).toBe(roots[n - 1]);
    }
  });

  it('computes the root, every audit path and every consistency proof as the RFC defines them, for 1..70 leaves', () => {
    const all = leaves(70);
    let pairs = 0;
    for (let n = 1; n <= 70; n++) {
      const data = all.slice(0, n);
      const read = referenceReader(data);
      const root = refMth(data);
      expect(hex(rootHash(n, read)), `root of ${n}`).toBe(hex(root));
      for (let m = 0; m < n; m++) {
        const path = inclusionPath(m, n, read);
        expect(path.map(hex), `PATH(${m}, D[${n}])`).toEqual(refPath(m, data).map(hex));
        expect(verifyInclusion(refLeafHash(data[m]!), m, n, path, root), `verify PATH(${m}, D[${n}])`).toBe(true);
      }
      // Every pair for small trees, a spread of first sizes for the larger ones.
      const firsts = n <= 40 ? Array.from({ length: n }, (_, i) => i + 1) : [1, 2, 3, 7, 8, 9, 31, 32, 33, n - 1, n];
      for (const m of firsts) {
        const proof = consistencyPath(m, n, read);
        expect(proof.map(hex), `PROOF(${m}, D[${n}])`).toEqual(refProof(m, data).map(hex));
        expect(verifyConsistency(m, n, refMth(data.slice(0, m)), root, proof), `verify PROOF(${m}, D[${n}])`).toBe(true);
        pairs++;
      }
    }
    expect(pairs).toBeGreaterThan(900);
  });

  it('reads O(log n) stored subtrees per proof', () => {
    const n = 1000;
    const read = referenceReader(leaves(n));
    for (const m of [0, 1, 499, 511, 512, 998, 999]) {
      read.reads = 0;
      inclusionPath(m, n, read);
      expect(read.reads, `PATH(${m}, D[${n}])`).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
    }
    for (const m of [1, 3, 500, 512, 999]) {
      read.reads = 0;
      consistencyPath(m, n, read);
      expect(read.reads, `PROOF(${m}, D[${n}])`).toBeLessThanOrEqual(3 * Math.ceil(Math.log2(n)));
    }
  });

  it('gives proofs that fail the check once anything is changed', () => {
    const data = leaves(13);
    const read = referenceReader(data);
    const root = refMth(data);
    const path = inclusionPath(5, 13, read);
    const leaf = refLeafHash(data[5]!);
    expect(verifyInclusion(leaf, 5, 13, path, root)).toBe(true);
    expect(verifyInclusion(leaf, 4, 13, path, root)).toBe(false);
    // (A size of the same shape, 12, would pass: the signed tree head binds the size, not the path.)
    expect(verifyInclusion(leaf, 5, 6, path, root)).toBe(false);
    expect(verifyInclusion(refLeafHash(data[6]!), 5, 13, path, root)).toBe(false);
    const bent = path.map((h, i) => (i === 2 ? Buffer.from(h.map((b, j) => (j === 0 ? b ^ 1 : b))) : h));
    expect(verifyInclusion(leaf, 5, 13, bent, root)).toBe(false);
    const proof = consistencyPath(6, 13, read);
    const first = refMth(data.slice(0, 6));
    expect(verifyConsistency(6, 13, first, root, proof)).toBe(true);
    expect(verifyConsistency(6, 13, refMth(leaves(6).map((b, i) => (i === 2 ? Buffer.from('other') : b))), root, proof)).toBe(false);
    expect(verifyConsistency(6, 13, first, root, proof.slice(1))).toBe(false);
  });

  it('refuses proofs outside the tree', () => {
    const read = referenceReader(leaves(4));
    expect(() => inclusionPath(4, 4, read)).toThrow(RangeError);
    expect(() => consistencyPath(0, 4, read)).toThrow(RangeError);
    expect(() => consistencyPath(5, 4, read)).toThrow(RangeError);
    expect(consistencyPath(4, 4, read)).toEqual([]);
  });
});

describe('leaf data', () => {
  const digest = createHash('sha256').update('compact.jws.value').digest();
  const fields = { seq: 7, at: 1_764_000_000, op: 'update' as const, family: 'handle' as const, id: '20.5000/abc', version: 2, digest };

  it('is the documented byte layout', () => {
    const expected = Buffer.concat([
      Buffer.from([1]), // format
      Buffer.from('0000000000000007', 'hex'), // seq
      Buffer.from((1_764_000_000).toString(16).padStart(16, '0'), 'hex'), // at
      Buffer.from([2]), // op: update
      Buffer.from([6]),
      Buffer.from('handle'),
      Buffer.from([0, 11]),
      Buffer.from('20.5000/abc'),
      Buffer.from([0, 0, 0, 2]), // version
      Buffer.from([32]),
      digest,
    ]);
    expect(encodeLeaf(fields).toString('hex')).toBe(expected.toString('hex'));
    expect(decodeLeaf(expected)).toEqual(fields);
  });

  it('round-trips without a digest and refuses malformed data', () => {
    const unsigned = { ...fields, op: 'delete' as const, digest: undefined, id: 'its:sign:DE.417:ümlaut' };
    expect(decodeLeaf(encodeLeaf(unsigned))).toEqual(unsigned);
    const data = encodeLeaf(fields);
    expect(() => decodeLeaf(data.subarray(0, data.length - 1))).toThrow(RangeError);
    expect(() => decodeLeaf(Buffer.concat([data, Buffer.from([0])]))).toThrow(RangeError);
    expect(() => encodeLeaf({ ...fields, seq: 0 })).toThrow(RangeError);
    expect(signedBytesDigest(Buffer.from('compact.jws.value'))?.equals(digest)).toBe(true);
    expect(signedBytesDigest(new Uint8Array(0))).toBeUndefined();
  });
});
