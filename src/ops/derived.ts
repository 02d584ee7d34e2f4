import { objectType } from '../doip/objects.js';
import { typeTerm } from '../doip/type-index.js';
import { valueIndexTerms } from '../families/doa/reverse-index.js';
import { renderHandleView } from '../families/doa/views.js';
import { parseIssuer } from '../families/its/its-service.js';
import {
  ITS_GEO_INDEX_META,
  ITS_INDEX,
  ITS_ISSUER_ID,
  itsCurrentIndexTerms,
  itsEverIndexTerms,
  itsIssuerRecordKey,
  itsIssuerWrite,
  itsSignRecordKey,
  itsSignStoredView,
} from '../families/its/its-storage.js';
import { oidIndexTerms, oidRecordKey, oidStoredView } from '../families/oid/oid-service.js';
import { decodeItem, itemAliasTerms } from '../families/products/product-record.js';
import { foldHandleCase, parseHandle } from '../ids/handle.js';
import { parseItsSignId } from '../ids/its-sign.js';
import { parseOid } from '../ids/oid.js';
import type { StoredRecord } from '../records/record.js';
import { SEP } from '../store/store.js';

/**
 * What the services store beside a record, derived again from the record alone: its storage key,
 * the subject its signature names, its pre-rendered view and its index terms. The doctor and
 * restore compare the stored data with these. Each follows the writer it mirrors (cited per
 * function); the renderers and term builders are the services' own exported functions, and the
 * few term layouts that are private to a service are spelled out here as that service writes them.
 */

export type RecordKind = 'handle' | 'oid' | 'its-sign' | 'its-issuer';

export function recordKind(record: StoredRecord): RecordKind {
  if (record.family === 'oid') return 'oid';
  if (record.family === 'its') return record.id.startsWith(ITS_ISSUER_ID) ? 'its-issuer' : 'its-sign';
  if (record.family === 'handle') return 'handle';
  throw new Error(`unknown family ${JSON.stringify(record.family)}`);
}

/** The key a record with this id is stored under (throws if the id does not parse). */
export function expectedKey(record: StoredRecord): string {
  switch (recordKind(record)) {
    case 'handle':
      return parseHandle(record.id).key;
    case 'oid':
      return oidRecordKey(parseOid(record.id));
    case 'its-issuer':
      return itsIssuerRecordKey(parseIssuer(record.id.slice(ITS_ISSUER_ID.length)));
    case 'its-sign':
      return itsSignRecordKey(parseItsSignId(record.id));
  }
}

/** The `sub` of the record's HS_SIGNATURE: OIDs sign `urn:oid:<dotted>`, the others their id. */
export function signatureSubject(record: StoredRecord): string {
  return record.family === 'oid' ? `urn:oid:${record.id}` : record.id;
}

/** The view stored beside a record, as the writing service renders it (HandleService, OidService, ItsService.write/putIssuer). */
export function storedView(record: StoredRecord): { status: number; body: Buffer } {
  switch (recordKind(record)) {
    case 'handle':
      return renderHandleView(record);
    case 'oid':
      return oidStoredView(parseOid(record.id), record);
    case 'its-issuer':
      return itsIssuerWrite(parseIssuer(record.id.slice(ITS_ISSUER_ID.length)), record, undefined).view;
    case 'its-sign':
      return itsSignStoredView(parseItsSignId(record.id), record);
  }
}

/** The stored view as the record entry holds it: `<status: 2 octets> <body>`. */
export function renderStoredView(record: StoredRecord): Buffer {
  const view = storedView(record);
  const out = Buffer.allocUnsafe(2 + view.body.length);
  out.writeUInt16BE(view.status, 0);
  view.body.copy(out, 2);
  return out;
}

/*
 * Index names (the part of a term before its first separator) and who writes them. Names derived
 * from the record's current state are checked both ways (every expected entry present, every entry
 * expected); the `ever` names also from history; the DOIP type index is derived lazily from the
 * change log, so it is checked only up to the position it has caught up to.
 */
export const CURRENT_INDEX_NAMES: ReadonlySet<string> = new Set([
  'prefix', // HandleService, ProductService: the handle's prefix
  'hvalue', // reverse-index.ts: publicly readable values
  'hvaluep', // reverse-index.ts: admin-only values
  'palias', // ProductService: an item's IMEI and GTIN+serial
  'oidchild', // OidService: children of an arc
  'oidactive', // OidService: every active arc
  'oidlabel', // OidService: labels among siblings
  'oiddlt', // OidService: Y.4476 ledger transactions
  ITS_INDEX.geo, // ItsService: where an active sign stands, with what queries test (geo-entry.ts)
  ITS_INDEX.alias, // ItsService: an active sign's aliases
]);
export const EVER_INDEX_NAMES: ReadonlySet<string> = new Set([ITS_INDEX.geoEver, ITS_INDEX.aliasEver]);
export const DOIP_INDEX_NAMES: ReadonlySet<string> = new Set(['doiptype', 'doipkey']);
/** The meta entry holding the change-log position the DOIP type index has folded in (type-index.ts). */
export const DOIP_POSITION_META = 'doipIndexedSeq';

/** Migrations that build an index for records written before it existed, by the meta entry recording them. */
export const INDEX_MIGRATIONS: Readonly<Record<string, string>> = {
  hvalue: 'valueIndexVersion',
  hvaluep: 'valueIndexVersion',
  oidactive: 'oidIndexVersion',
  oidlabel: 'oidIndexVersion',
  oiddlt: 'oidIndexVersion',
  [ITS_INDEX.geo]: ITS_GEO_INDEX_META,
};

export function indexName(term: string): string {
  const sep = term.indexOf(SEP);
  return sep < 0 ? term : term.slice(0, sep);
}

/** The terms (without the trailing `00 <key>`) a record is listed under for its current state. */
export function currentIndexTerms(record: StoredRecord): string[] {
  if (record.status !== 'active') return [];
  switch (recordKind(record)) {
    case 'handle': {
      // HandleService.recordWrite; ProductService.recordWrite adds the item aliases.
      const handle = parseHandle(record.id);
      return [
        `prefix${SEP}${foldHandleCase(handle.prefix)}`,
        ...valueIndexTerms(record),
        ...itemAliasTerms(decodeItem(record.values) ? record.values : undefined, handle.suffix),
      ];
    }
    case 'oid':
      return oidIndexTerms(parseOid(record.id), record);
    case 'its-sign':
      return itsCurrentIndexTerms(record);
    case 'its-issuer':
      return [];
  }
}

/** The `ever` terms one version of a sign adds (its-storage.ts); the index holds those of every version. */
export function everIndexTerms(record: StoredRecord): string[] {
  return recordKind(record) === 'its-sign' ? itsEverIndexTerms(record) : [];
}

/** The DOIP type index entries of a handle record (type-index.ts): `[term, value]` pairs. */
export function doipIndexEntries(key: string, record: StoredRecord): [string, string][] {
  if (record.family !== 'handle') return [];
  const type = objectType(record);
  const term = type === undefined ? undefined : typeTerm(type);
  if (type === undefined || term === undefined) return [];
  return [
    [`${term}${SEP}${key}`, record.id],
    [`doipkey${SEP}${key}`, type],
  ];
}
