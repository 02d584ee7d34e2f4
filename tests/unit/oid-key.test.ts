import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeOidKey, encodeOidKey, oidSubtreeRange } from '../../src/store/oid-key.js';

const randomArcs = (n: number): bigint[] =>
  Array.from({ length: n }, () => {
    const size = randomBytes(1)[0]! % 12;
    return size === 0 ? BigInt(randomBytes(1)[0]! % 3) : BigInt(`0x${randomBytes(size).toString('hex')}`);
  });

/** Arc-by-arc numeric order, a parent before its children. */
function compareArcs(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

describe('order-preserving OID keys', () => {
  it('sorts 1.9 before 1.10, and parents before children', () => {
    const dotted = ['1.10', '1.9', '1.9.0', '2.999', '2.25.329800735698586629295641978511506172918', '0.0', '1.9.1', '2.48', '2.100'];
    const sorted = [...dotted].sort((x, y) => (encodeOidKey(x.split('.').map(BigInt)) < encodeOidKey(y.split('.').map(BigInt)) ? -1 : 1));
    expect(sorted).toEqual(['0.0', '1.9', '1.9.0', '1.9.1', '1.10', '2.25.329800735698586629295641978511506172918', '2.48', '2.100', '2.999']);
  });

  it('orders random OIDs, huge arcs included, exactly as their arcs compare, and round-trips them', () => {
    const oids = Array.from({ length: 2000 }, (_, i) => randomArcs(1 + (i % 6)));
    const byKey = [...oids].sort((a, b) => (encodeOidKey(a) < encodeOidKey(b) ? -1 : encodeOidKey(a) > encodeOidKey(b) ? 1 : 0));
    const byArcs = [...oids].sort(compareArcs);
    expect(byKey.map((a) => a.join('.'))).toEqual(byArcs.map((a) => a.join('.')));
    for (const arcs of oids) expect(decodeOidKey(encodeOidKey(arcs))).toEqual(arcs);
  });

  it('gives a subtree one key range', () => {
    const range = oidSubtreeRange([2n, 999n]);
    const inside = (arcs: bigint[]): boolean => {
      const k = encodeOidKey(arcs);
      return k > range.gt && k < range.lt;
    };
    expect(inside([2n, 999n, 1n])).toBe(true);
    expect(inside([2n, 999n, 2n ** 100n, 5n])).toBe(true);
    expect(inside([2n, 999n])).toBe(false);
    expect(inside([2n, 1000n])).toBe(false);
    expect(inside([2n, 998n, 7n])).toBe(false);
  });

  it('refuses negative arcs and truncated keys', () => {
    expect(() => encodeOidKey([1n, -1n])).toThrow(RangeError);
    expect(() => decodeOidKey('0002ab')).toThrow(RangeError);
  });
});
