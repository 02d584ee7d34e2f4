import { ValueInvalid } from '../errors.js';
import { ByteReader, ByteWriter, encodeValue, readValue } from './encoding.js';
import type { HandleValue } from './value.js';

/**
 * One identifier's record: its ordered values plus bookkeeping. Every family stores this shape;
 * the values are the Handle System's whatever the family.
 */
export type RecordStatus = 'active' | 'tombstoned';
export type Family = 'handle' | 'oid' | 'its';

export interface Tombstone {
  readonly reason: string;
  /** Seconds since the epoch. */
  readonly at: number;
  readonly successor?: string;
}

export interface StoredRecord {
  /** Canonical text of the identifier, as registered. */
  readonly id: string;
  readonly family: Family;
  /** 1 for the first write, +1 for every later one, tombstoning included. */
  readonly version: number;
  readonly created: number;
  readonly updated: number;
  readonly status: RecordStatus;
  /** The identity (`index:handle`) that created the record. */
  readonly owner: string;
  /** Sorted by index, signature included. */
  readonly values: readonly HandleValue[];
  readonly tombstone?: Tombstone;
}

/**
 * Storage form, binary so that values keep their exact RFC 3651 bytes without Base64:
 *
 *   StoredRecord ::= <format: 1 octet = 1> <meta: 4-octet length + UTF-8 JSON>
 *                    <count: 4 octets> { <value: 4-octet length + RFC 3651 HandleValue> }*
 *
 * where meta holds every field but `values`.
 */
const FORMAT = 1;

export function serializeRecord(record: StoredRecord): Buffer {
  const { values, ...meta } = record;
  const w = new ByteWriter(256 + values.length * 128).u8(FORMAT).string(JSON.stringify(meta)).u32(values.length);
  for (const v of values) w.lengthPrefixed(encodeValue(v));
  return w.finish();
}

export function deserializeRecord(bytes: Uint8Array): StoredRecord {
  const r = new ByteReader(bytes, 'stored record');
  if (r.u8() !== FORMAT) throw new ValueInvalid('Unknown stored record format');
  let meta: Omit<StoredRecord, 'values'>;
  try {
    meta = JSON.parse(r.string()) as Omit<StoredRecord, 'values'>;
  } catch (e) {
    if (e instanceof ValueInvalid) throw e;
    throw new ValueInvalid('Stored record metadata is not JSON');
  }
  const count = r.u32();
  const values: HandleValue[] = [];
  for (let i = 0; i < count; i++) {
    const inner = new ByteReader(r.lengthPrefixed(), 'stored value');
    values.push(readValue(inner));
    inner.end();
  }
  r.end();
  return { ...meta, values };
}

/** The active record that follows `previous` (or the first one): version, dates and owner carried on. */
export function nextVersion(
  previous: StoredRecord | undefined,
  next: { readonly id: string; readonly family: Family; readonly owner: string; readonly values: readonly HandleValue[]; readonly now: number },
): StoredRecord {
  return {
    id: next.id,
    family: next.family,
    version: (previous?.version ?? 0) + 1,
    created: previous?.created ?? next.now,
    updated: next.now,
    status: 'active',
    owner: previous?.owner ?? next.owner,
    values: next.values,
  };
}

/** The same value (index, type, data, ttl, permissions, references), whatever its timestamp. */
export function sameValue(a: HandleValue, b: HandleValue): boolean {
  // RFC 3651 bytes 4-7 are the timestamp; the rest is compared as encoded.
  return a.index === b.index && encodeValue(a).subarray(8).equals(encodeValue(b).subarray(8));
}

/** The same set of values by `sameValue`, values of `ignoreType` (the signature) aside. */
export function sameValues(a: readonly HandleValue[], b: readonly HandleValue[], ignoreType: string): boolean {
  const byIndex = new Map(b.filter((v) => v.type !== ignoreType).map((v) => [v.index, v]));
  const left = a.filter((v) => v.type !== ignoreType);
  return left.length === byIndex.size && left.every((v) => {
    const other = byIndex.get(v.index);
    return other !== undefined && sameValue(v, other);
  });
}
