import { createHash } from 'node:crypto';
import { foldHandleCase } from '../../ids/handle.js';
import type { StoredRecord } from '../../records/record.js';
import { isPublicRead, PERM_ADMIN_READ, type HandleValue } from '../../records/value.js';
import { SEP, type RecordStore } from '../../store/store.js';
import { hasPermission, type Principal, type ValuesLookup } from './authorize.js';

/**
 * Reverse lookup of handles by an exact value (`GET /api/search?type=URL&value=...`).
 *
 * Every active handle record is listed, in the same atomic batch as the record itself (its
 * `RecordWrite.indexTerms`), under one term per searchable value:
 *
 *   index  hvalue  00 <TYPE> 00 <sha256(data), base64url> 00 <record key>   publicly readable values
 *   index  hvaluep 00 <TYPE> 00 <sha256(data), base64url> 00 <record key>   admin-only values
 *
 * `<TYPE>` is upper-cased (types compare case-insensitively); the data is hashed so that terms
 * have a fixed, small size whatever the value holds and never contain the separator. Public and
 * admin-only values live under different names so that an anonymous search reads one key range
 * and pages it directly, and admin-only values never reveal their handles to it; an
 * authenticated search adds the admin-only range, filtered by READ_VALUE on each record.
 *
 * Not indexed: the values the service maintains or that carry no searchable text of their own
 * (HS_SIGNATURE changes on every write, HS_SECKEY holds salted hashes, HS_ADMIN, HS_VLIST and
 * HS_PUBKEY are binary structures), so a record costs one index entry per value a user would
 * look up.
 */
export const PUBLIC_VALUE_INDEX = 'hvalue';
export const PRIVATE_VALUE_INDEX = 'hvaluep';
export const VALUE_INDEX_META = 'valueIndexVersion';
export const VALUE_INDEX_VERSION = 1;
const META = VALUE_INDEX_META;
const VERSION = VALUE_INDEX_VERSION;
const NOT_INDEXED = new Set(['HS_SIGNATURE', 'HS_SECKEY', 'HS_ADMIN', 'HS_VLIST', 'HS_PUBKEY']);

export function isSearchable(v: HandleValue): boolean {
  return !NOT_INDEXED.has(v.type.toUpperCase());
}

function valueTerm(name: string, type: string, data: Uint8Array): string {
  return `${name}${SEP}${type.toUpperCase()}${SEP}${createHash('sha256').update(data).digest('base64url')}`;
}

/** The value-index terms of a handle record: none unless it is active. */
export function valueIndexTerms(record: StoredRecord | undefined): string[] {
  if (record?.status !== 'active') return [];
  const terms = new Set<string>();
  for (const v of record.values) {
    if (isSearchable(v)) terms.add(valueTerm(isPublicRead(v) ? PUBLIC_VALUE_INDEX : PRIVATE_VALUE_INDEX, v.type, v.data));
  }
  return [...terms];
}

/**
 * Lists the handles stored before the value index existed (once per data directory, recorded in
 * meta). Idempotent, so an interrupted run is simply repeated at the next start.
 */
export async function ensureValueIndex(store: RecordStore): Promise<number> {
  if (((await store.getMeta<number>(META)) ?? 0) >= VERSION) return 0;
  return store.exclusive(async () => {
    if (((await store.getMeta<number>(META)) ?? 0) >= VERSION) return 0;
    let entries: { term: string; key: string; id: string }[] = [];
    let total = 0;
    for await (const [key, record] of store.allRecords()) {
      if (record.family !== 'handle') continue;
      for (const term of valueIndexTerms(record)) entries.push({ term, key, id: record.id });
      if (entries.length >= 1000) {
        total += entries.length;
        await store.addIndexEntries(entries);
        entries = [];
      }
    }
    total += entries.length;
    await store.addIndexEntries(entries, { [META]: VERSION });
    return total;
  });
}

export interface ValueSearch {
  readonly totalCount: number;
  readonly handles: string[];
}

/**
 * Who may read admin-only values of a record: `READ_VALUE` on it (HS_VLIST groups expanded through
 * `lookup`, e.g. `HandleService.liveValues`); the service admin everywhere.
 */
export function readValuePermission(who: Principal, lookup?: ValuesLookup): (values: readonly HandleValue[]) => boolean {
  return (values) => hasPermission(who, values, 'READ_VALUE', lookup);
}

/**
 * Handles with a value of `type` (case-insensitive) whose data is exactly `data`, in key order,
 * paged. Without `mayRead` (anonymous callers) only publicly readable values count, read from
 * one index range; with it, also admin-only values (admin read bit) of the records it allows.
 */
export async function findHandlesByValue(
  store: RecordStore,
  mayRead: ((values: readonly HandleValue[]) => boolean) | undefined,
  type: string,
  data: Uint8Array,
  page: { offset: number; limit: number },
): Promise<ValueSearch> {
  const publicTerm = valueTerm(PUBLIC_VALUE_INDEX, type, data);
  if (!mayRead) {
    return { totalCount: await store.countIndex(publicTerm), handles: await store.indexIds(publicTerm, page) };
  }
  const found = new Set(await store.indexIds(publicTerm));
  const wanted = type.toUpperCase();
  const bytes = Buffer.from(data);
  for (const id of await store.indexIds(valueTerm(PRIVATE_VALUE_INDEX, type, data))) {
    if (found.has(id)) continue;
    const record = store.findRecord(foldHandleCase(id));
    if (record?.status !== 'active') continue;
    const readable = record.values.some(
      (v) => (v.permissions & PERM_ADMIN_READ) !== 0 && v.type.toUpperCase() === wanted && bytes.equals(v.data),
    );
    if (readable && mayRead(record.values)) found.add(id);
  }
  // In key order, as the anonymous answer is.
  const ordered = [...found].sort((a, b) => {
    const ka = foldHandleCase(a);
    const kb = foldHandleCase(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return { totalCount: ordered.length, handles: ordered.slice(page.offset, page.offset + page.limit) };
}
