import { OidLimit } from '../errors.js';

/**
 * Order-preserving keys for OIDs (DESIGN section 5): dotted strings sort `1.10` before `1.9`, so
 * each arc is written as its magnitude's byte count then the magnitude, big-endian:
 *
 *   OidKey ::= { <length: 2 octets> <magnitude: length octets, no leading zero> }*   (as hex)
 *
 * Within an arc a shorter magnitude is a smaller number, and equal lengths compare byte by byte,
 * so keys compare as the arcs do, arc by arc; a parent's key is a prefix of its children's, so a
 * subtree is one key range. Hex keeps the key a plain string for the store's UTF-8 key encoding
 * without changing the order.
 */
export function encodeOidKey(arcs: readonly bigint[]): string {
  let key = '';
  for (const arc of arcs) {
    if (arc < 0n) throw new RangeError('OID arcs are non-negative');
    let hex = arc === 0n ? '' : arc.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    const length = hex.length / 2;
    if (length > 0xffff) throw new OidLimit('Arc too large for a key');
    key += length.toString(16).padStart(4, '0') + hex;
  }
  return key;
}

export function decodeOidKey(key: string): bigint[] {
  const arcs: bigint[] = [];
  for (let i = 0; i < key.length; ) {
    const length = parseInt(key.slice(i, i + 4), 16);
    const hex = key.slice(i + 4, i + 4 + length * 2);
    if (Number.isNaN(length) || hex.length !== length * 2) throw new RangeError('Truncated OID key');
    arcs.push(length === 0 ? 0n : BigInt(`0x${hex}`));
    i += 4 + length * 2;
  }
  return arcs;
}

/** The key range holding every descendant of `arcs` (not `arcs` itself). */
export function oidSubtreeRange(arcs: readonly bigint[]): { gt: string; lt: string } {
  const prefix = encodeOidKey(arcs);
  // Hex digits are 0-9a-f; "g" sorts after all of them.
  return { gt: prefix, lt: `${prefix}g` };
}
