import { formatItsSignId, itsIdentityKey, itsIssuerKey, parseItsSignId, type ItsSignId } from '../../ids/its-sign.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import type { StoredRecord } from '../../records/record.js';
import { decodeCompact } from '../../signing/jws.js';
import { findSignature } from '../../signing/record-signature.js';
import { SEP, type RecordWrite } from '../../store/store.js';
import { tombstoneJson } from '../doa/views.js';
import { geohash } from './geo.js';
import { geoEntryTerm } from './geo-entry.js';
import { renderSignView, valuesToSign } from './its-record.js';

/*
 * How the ITS registry lays its records out in the store: the one definition that ItsService
 * writes with, that a mirror replays the primary's records with, and that the doctor and restore
 * (src/ops/derived.ts) check the stored data against.
 *
 *   records  its:<itsIdentityKey>          a sign (`its:DE.00417.sign.00003K7QJ2`)
 *   records  its-issuer:<itsIssuerKey>     an issuer and its grant (`its-issuer:DE.00417`)
 *   meta     itsserial:<itsIssuerKey>      the issuer's last minted serial, written in the
 *                                          same batch as the sign it minted
 *
 * Index terms (the store appends `00 <record key>`):
 *   itspos   00 <geohash, 9 characters> <position, facing, kind, status, validity...>
 *                                          where an active sign stands now, with what queries
 *                                          test (geo-entry.ts): they read no record to filter
 *   itsgeoh  00 <geohash, 9 characters>    every place a sign has ever stood (never removed;
 *                                          `asOf` queries start here, then read history)
 *   itsalias 00 <alias>                    an active sign's aliases now
 *   itsaliash 00 <alias>                   every alias a sign has ever had (never removed)
 *
 * Data directories from before `itspos` hold `itsgeo 00 <geohash>` instead: ItsService
 * `reindexIfNeeded` (at start) builds `itspos` from the records, removes `itsgeo` and records
 * ITS_GEO_INDEX_META.
 */
export const ITS_INDEX = { geo: 'itspos', geoEver: 'itsgeoh', alias: 'itsalias', aliasEver: 'itsaliash' } as const;
/** The current spatial index's name before its entries carried positions (cells only); removed by the migration. */
export const ITS_LEGACY_GEO_INDEX = 'itsgeo';
/** Meta entry: the version of the `itspos` index built for the records stored before it existed. */
export const ITS_GEO_INDEX_META = 'itsGeoIndexVersion';
export const ITS_GEO_INDEX_VERSION = 1;
export const ITS_SIGN_KEY = 'its:';
export const ITS_ISSUER_KEY = 'its-issuer:';
/** The issuer record's id (and its signature's `sub`) starts with this. */
export const ITS_ISSUER_ID = 'its-issuer:';

export const ISSUER_TYPES = { grant: 'ITS.GRANT', name: 'ITS.ISSUER_NAME', withdrawn: 'ITS.GRANT_WITHDRAWN' } as const;

export interface ItsIssuer {
  readonly country: string;
  readonly authority: number;
}

export function itsSignRecordKey(id: ItsSignId): string {
  return `${ITS_SIGN_KEY}${itsIdentityKey(id)}`;
}

export function itsIssuerRecordKey(issuer: ItsIssuer): string {
  return `${ITS_ISSUER_KEY}${itsIssuerKey(issuer)}`;
}

export const issuerText = (issuer: ItsIssuer): string => `${issuer.country}.${issuer.authority}`;

/** The terms an active sign is listed under now (a tombstone or removed record: none). */
export function itsCurrentIndexTerms(record: StoredRecord | undefined): string[] {
  if (record?.status !== 'active') return [];
  const { sign } = valuesToSign(record.values);
  const kind = parseItsSignId(record.id).kind;
  return [`${ITS_INDEX.geo}${SEP}${geoEntryTerm(kind, sign)}`, ...sign.aliases.map((a) => `${ITS_INDEX.alias}${SEP}${a}`)];
}

/** The `ever` terms one version of a sign adds; they are never removed (the index holds every version's). */
export function itsEverIndexTerms(record: StoredRecord): string[] {
  if (record.status !== 'active') return [];
  const { sign } = valuesToSign(record.values);
  return [`${ITS_INDEX.geoEver}${SEP}${geohash(sign.position)}`, ...sign.aliases.map((a) => `${ITS_INDEX.aliasEver}${SEP}${a}`)];
}

/** The view stored beside a sign: the signed JSON (200) or its tombstone (410). */
export function itsSignStoredView(id: ItsSignId, record: StoredRecord): { status: number; body: Buffer } {
  return record.status === 'active'
    ? { status: 200, body: Buffer.from(JSON.stringify(renderSignView(id, record))) }
    : { status: 410, body: Buffer.from(JSON.stringify({ id: record.id, status: 'tombstoned', tombstone: tombstoneJson(record.tombstone) })) };
}

/** A sign version's write: its view, its current terms and its `ever` terms. */
export function itsSignWrite(id: ItsSignId, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  // The `ever` terms are never among the previous terms, so the store never deletes them.
  return {
    key: itsSignRecordKey(id),
    record,
    previous,
    view: itsSignStoredView(id, record),
    indexTerms: [...itsCurrentIndexTerms(record), ...itsEverIndexTerms(record)],
    previousIndexTerms: itsCurrentIndexTerms(previous),
  };
}

/** An issuer record's write: its view, no index terms. */
export function itsIssuerWrite(issuer: ItsIssuer, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  const view = { status: 200, body: Buffer.from(JSON.stringify(renderIssuerView(issuer, record, undefined))) };
  return { key: itsIssuerRecordKey(issuer), record, previous, view, indexTerms: [], previousIndexTerms: [] };
}

/** An issuer as `GET /api/its/issuers/{CC}.{authority}` answers it. */
export function renderIssuerView(issuer: ItsIssuer, record: StoredRecord, lastSerial: number | undefined) {
  const one = (type: string): string | undefined => {
    const v = record.values.find((x) => x.type === type);
    return v === undefined ? undefined : Buffer.from(v.data).toString('utf8');
  };
  const sig = findSignature(record.values);
  const jws = sig ? Buffer.from(sig.data).toString('utf8') : undefined;
  const header = jws ? decodeCompact(jws).header : undefined;
  const withdrawn = one(ISSUER_TYPES.withdrawn);
  return {
    issuer: issuerText(issuer),
    country: issuer.country,
    authority: issuer.authority,
    identity: one(ISSUER_TYPES.grant) ?? null,
    name: one(ISSUER_TYPES.name) ?? null,
    // Present only after a withdrawal: whose grant it was and when it ended.
    ...(withdrawn === undefined ? {} : { withdrawn: { identity: withdrawn, at: isoSeconds(record.updated) } }),
    ...(lastSerial === undefined ? {} : { lastSerial }),
    version: record.version,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: record.values.map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, kid: String(header?.kid), alg: String(header?.alg) } : null,
  };
}

/** The identity part of a sign id (no type): stable across versions. */
export const itsIdentityText = (id: ItsSignId): string => formatItsSignId({ kind: id.kind, country: id.country, authority: id.authority, serial: id.serial });
