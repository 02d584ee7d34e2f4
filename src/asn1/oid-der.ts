import { DerInvalid, OidLimit } from '../errors.js';
import { checkRoots, MAX_ARCS, MAX_CONTENT_OCTETS, oidFromArcs, parseArcs, type Oid } from '../ids/oid.js';

/**
 * DER codecs for object identifiers (ITU-T X.690 clauses 8.19 and 8.20, with the DER restrictions
 * of clause 10).
 *
 *   ObjectIdentifierValue ::= OBJECT IDENTIFIER     -- universal tag 6, primitive
 *   RelativeOidValue      ::= RELATIVE-OID          -- universal tag 13, primitive
 *
 * Contents are a series of subidentifiers, each base 128, most significant group first, bit 8 set
 * on every octet but the last; the first octet of a subidentifier is never 0x80 (minimal form).
 * For OBJECT IDENTIFIER the first subidentifier is X*40 + Y for the first two arcs X.Y (X <= 2;
 * under 2, Y may be large, so the combined value may need several octets).
 *
 * Decoding is strict: definite minimal length, primitive form, minimal subidentifiers, no
 * truncated last subidentifier, limits on size. A decoded value is re-encoded and compared, so
 * exactly one byte string is accepted for each OID.
 */
export const TAG_OID = 0x06;
export const TAG_RELATIVE_OID = 0x0d;

function encodeSubidentifier(value: bigint, out: number[]): void {
  const groups: number[] = [Number(value & 0x7fn)];
  for (let v = value >> 7n; v > 0n; v >>= 7n) groups.push(Number(v & 0x7fn) | 0x80);
  for (let i = groups.length - 1; i >= 0; i--) out.push(groups[i]!);
}

function encodeLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, content: number[]): Buffer {
  if (content.length > MAX_CONTENT_OCTETS) throw new OidLimit(`DER content of ${content.length} octets exceeds ${MAX_CONTENT_OCTETS}`);
  return Buffer.from([tag, ...encodeLength(content.length), ...content]);
}

export function encodeOid(oid: Oid | string): Buffer {
  const { arcs } = typeof oid === 'string' ? oidFromArcs(parseArcs(oid)) : oid;
  const content: number[] = [];
  encodeSubidentifier(arcs[0]! * 40n + arcs[1]!, content);
  for (const arc of arcs.slice(2)) encodeSubidentifier(arc, content);
  return tlv(TAG_OID, content);
}

export function encodeRelativeOid(text: string): Buffer {
  const content: number[] = [];
  for (const arc of parseArcs(text, 'RELATIVE-OID')) encodeSubidentifier(arc, content);
  return tlv(TAG_RELATIVE_OID, content);
}

/** Reads one TLV with the expected tag and returns its contents; the input must be exactly it. */
function readTlv(der: Uint8Array, tag: number, what: string): Uint8Array {
  if (der.length < 2) throw new DerInvalid(`${what}: truncated header`);
  if (der[0] !== tag) throw new DerInvalid(`${what}: tag 0x${der[0]!.toString(16)} is not 0x${tag.toString(16)} (primitive)`);
  let length = der[1]!;
  let offset = 2;
  if (length === 0x80) throw new DerInvalid(`${what}: indefinite length is not DER`);
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4) throw new DerInvalid(`${what}: length of ${count} octets`);
    if (der.length < 2 + count) throw new DerInvalid(`${what}: truncated length`);
    if (der[2] === 0) throw new DerInvalid(`${what}: length has a leading zero octet (not minimal)`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[2 + i]!;
    if (length < 0x80) throw new DerInvalid(`${what}: long form for a length under 128 (not minimal)`);
    offset = 2 + count;
  }
  if (length > MAX_CONTENT_OCTETS) throw new OidLimit(`${what}: content of ${length} octets exceeds ${MAX_CONTENT_OCTETS}`);
  if (der.length !== offset + length) {
    throw new DerInvalid(`${what}: length says ${length} content octets, ${der.length - offset} present`);
  }
  if (length === 0) throw new DerInvalid(`${what}: empty content`);
  return der.subarray(offset);
}

function readSubidentifiers(content: Uint8Array, what: string): bigint[] {
  const values: bigint[] = [];
  let value = 0n;
  let start = true;
  for (let i = 0; i < content.length; i++) {
    const octet = content[i]!;
    if (start && octet === 0x80) throw new DerInvalid(`${what}: leading 0x80 (non-minimal subidentifier) at offset ${i}`);
    value = (value << 7n) | BigInt(octet & 0x7f);
    start = (octet & 0x80) === 0;
    if (start) {
      values.push(value);
      if (values.length > MAX_ARCS) throw new OidLimit(`${what}: more than ${MAX_ARCS} arcs`);
      value = 0n;
    }
  }
  if (!start) throw new DerInvalid(`${what}: truncated: last octet has bit 8 set`);
  return values;
}

export function decodeOid(der: Uint8Array): Oid {
  const subids = readSubidentifiers(readTlv(der, TAG_OID, 'OBJECT IDENTIFIER'), 'OBJECT IDENTIFIER');
  const first = subids[0]!;
  const x = first < 80n ? first / 40n : 2n;
  const arcs = [x, first - x * 40n, ...subids.slice(1)];
  checkRoots(arcs);
  const oid = oidFromArcs(arcs);
  if (!encodeOid(oid).equals(der)) throw new DerInvalid('OBJECT IDENTIFIER does not re-encode to the same bytes');
  return oid;
}

export function decodeRelativeOid(der: Uint8Array): string {
  const text = readSubidentifiers(readTlv(der, TAG_RELATIVE_OID, 'RELATIVE-OID'), 'RELATIVE-OID').join('.');
  if (!encodeRelativeOid(text).equals(der)) throw new DerInvalid('RELATIVE-OID does not re-encode to the same bytes');
  return text;
}
