import { createHash } from 'node:crypto';
import type { Family } from '../records/record.js';

/**
 * The leaf data of one change-log entry: a canonical byte string, so that anyone can rebuild it
 * from the entry's fields and the record version's signed bytes, and hash it as RFC 9162 says
 * (SHA-256(0x00 || leaf data)). All integers are unsigned big-endian:
 *
 *   LeafData ::= format  1 octet  = 1
 *                seq     8 octets   change-log position (1 for the first write); leaf index = seq - 1
 *                at      8 octets   the write's time, seconds since the epoch (the record's `updated`)
 *                op      1 octet    1 create, 2 update, 3 delete (tombstone)
 *                family  1 octet length + ASCII ("handle", "oid", "its")
 *                id      2 octets length + UTF-8 of the record id as stored (e.g. "20.5000/abc", "2.999.1")
 *                version 4 octets   the record version this entry wrote
 *                digest  1 octet length (0 or 32) + SHA-256 of that version's HS_SIGNATURE value data
 *                        (the compact JWS the service signed the record with; absent when unsigned)
 *
 * The digest is the one a verdict token's `digest` claim carries (there as "sha-256:" + base64url).
 */
export const LEAF_FORMAT = 1;

export type LeafOp = 'create' | 'update' | 'delete';
const OP_CODES: Readonly<Record<LeafOp, number>> = { create: 1, update: 2, delete: 3 };
const OPS: readonly LeafOp[] = ['create', 'update', 'delete'];

export interface LeafFields {
  readonly seq: number;
  readonly at: number;
  readonly op: LeafOp;
  readonly family: Family;
  readonly id: string;
  readonly version: number;
  /** SHA-256 of the version's signed bytes, or undefined for an unsigned version. */
  readonly digest: Buffer | undefined;
}

export function encodeLeaf(leaf: LeafFields): Buffer {
  const family = Buffer.from(leaf.family, 'ascii');
  const id = Buffer.from(leaf.id, 'utf8');
  const digest = leaf.digest ?? Buffer.alloc(0);
  if (!Number.isSafeInteger(leaf.seq) || leaf.seq < 1) throw new RangeError(`bad change-log position ${leaf.seq}`);
  if (!Number.isSafeInteger(leaf.at) || leaf.at < 0) throw new RangeError(`bad time ${leaf.at}`);
  if (!Number.isInteger(leaf.version) || leaf.version < 1 || leaf.version > 0xffffffff) throw new RangeError(`bad version ${leaf.version}`);
  if (family.length > 255 || id.length > 0xffff || (digest.length !== 0 && digest.length !== 32)) throw new RangeError('leaf field too long');
  const out = Buffer.alloc(1 + 8 + 8 + 1 + 1 + family.length + 2 + id.length + 4 + 1 + digest.length);
  let o = out.writeUInt8(LEAF_FORMAT, 0);
  o = out.writeBigUInt64BE(BigInt(leaf.seq), o);
  o = out.writeBigUInt64BE(BigInt(leaf.at), o);
  o = out.writeUInt8(OP_CODES[leaf.op], o);
  o = out.writeUInt8(family.length, o);
  o += family.copy(out, o);
  o = out.writeUInt16BE(id.length, o);
  o += id.copy(out, o);
  o = out.writeUInt32BE(leaf.version, o);
  o = out.writeUInt8(digest.length, o);
  digest.copy(out, o);
  return out;
}

/** The inverse of `encodeLeaf` (throws RangeError on anything else). */
export function decodeLeaf(data: Uint8Array): LeafFields {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const need = (n: number): number => {
    if (o + n > b.length) throw new RangeError('leaf data truncated');
    const at = o;
    o += n;
    return at;
  };
  if (b.readUInt8(need(1)) !== LEAF_FORMAT) throw new RangeError('unknown leaf format');
  const seq = Number(b.readBigUInt64BE(need(8)));
  const at = Number(b.readBigUInt64BE(need(8)));
  const op = OPS[b.readUInt8(need(1)) - 1];
  if (op === undefined) throw new RangeError('unknown leaf op');
  const familyLength = b.readUInt8(need(1));
  const family = b.toString('ascii', need(familyLength), o) as Family;
  const idLength = b.readUInt16BE(need(2));
  const id = b.toString('utf8', need(idLength), o);
  const version = b.readUInt32BE(need(4));
  const digestLength = b.readUInt8(need(1));
  const digest = digestLength === 0 ? undefined : Buffer.from(b.subarray(need(digestLength), o));
  if (o !== b.length) throw new RangeError('trailing bytes after leaf data');
  return { seq, at, op, family, id, version, digest };
}

/** SHA-256 of a record version's HS_SIGNATURE data (its signed bytes), undefined when unsigned. */
export function signedBytesDigest(signatureData: Uint8Array | undefined): Buffer | undefined {
  if (!signatureData || signatureData.length === 0) return undefined;
  return createHash('sha256').update(signatureData).digest();
}
