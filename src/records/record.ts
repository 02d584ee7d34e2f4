import { ValueInvalid } from '../errors.js';
import { decodeValue, encodeValue } from './encoding.js';
import type { HandleValue } from './value.js';

/**
 * One identifier's record: its ordered values plus bookkeeping. Every family stores this shape;
 * the values are the Handle System's whatever the family.
 */
export type RecordStatus = 'active' | 'tombstoned';
export type Family = 'handle';

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

/** Storage form: JSON whose values are the Base64 of their exact RFC 3651 encoding. */
interface StoredRecordJson extends Omit<StoredRecord, 'values'> {
  readonly values: readonly string[];
}

export function serializeRecord(record: StoredRecord): string {
  const json: StoredRecordJson = { ...record, values: record.values.map((v) => encodeValue(v).toString('base64')) };
  return JSON.stringify(json);
}

export function deserializeRecord(text: string): StoredRecord {
  let json: StoredRecordJson;
  try {
    json = JSON.parse(text) as StoredRecordJson;
  } catch {
    throw new ValueInvalid('Stored record is not JSON');
  }
  return { ...json, values: json.values.map((b64) => decodeValue(Buffer.from(b64, 'base64'))) };
}

/** Same values (index, type, data, ttl, permissions, references), timestamps and signature aside. */
export function sameValues(a: readonly HandleValue[], b: readonly HandleValue[], ignoreType: string): boolean {
  const key = (vs: readonly HandleValue[]): string[] =>
    vs
      .filter((v) => v.type !== ignoreType)
      .map((v) => encodeValue({ ...v, timestamp: 0 }).toString('base64'))
      .sort();
  const ka = key(a);
  const kb = key(b);
  return ka.length === kb.length && ka.every((x, i) => x === kb[i]);
}
