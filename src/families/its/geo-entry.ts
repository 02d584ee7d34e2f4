import { ITS_KINDS, type ItsKind } from '../../ids/its-sign.js';
import { geohash, type LatLon } from './geo.js';
import { SIGN_STATUSES, type ItsSign, type SignStatus } from './its-record.js';

/*
 * The term of a sign's entry in the current spatial index: its cell, then what a query tests,
 * so that `near`, `ahead` and `bbox` pick their answers from index keys alone and read only the
 * views of the page they return (reading whole records per candidate was the query's main cost).
 *
 *   <geohash, 9 characters> SP <lat> SP <lon> SP <facing> SP <kind> SP <status> SP <temporary: 0|1>
 *                           SP <validity from | -> SP <validity to | -> SP <number of time windows>
 *
 * Numbers are written as JavaScript writes them (the shortest text that reads back as the same
 * double), so the decoded position and facing are the record's exactly; from and to are the
 * record's own date-time text. The time windows themselves are not here: an `at` query reads the
 * record of a candidate that has some. A space sorts below every geohash character, so the key
 * range of a cell, [cell, cell~), holds every entry in it.
 */

export interface GeoEntry {
  readonly position: LatLon;
  readonly facing: number;
  readonly kind: ItsKind;
  readonly status: SignStatus;
  readonly temporary: boolean;
  readonly from: string | null;
  readonly to: string | null;
  readonly windows: number;
}

const FIELDS = 10;

export function geoEntryTerm(kind: ItsKind, sign: ItsSign): string {
  const { position, validity } = sign;
  return [
    geohash(position),
    String(position.lat),
    String(position.lon),
    String(sign.facing),
    kind,
    sign.status,
    sign.temporary ? '1' : '0',
    validity.from ?? '-',
    validity.to ?? '-',
    String(validity.windows.length),
  ].join(' ');
}

const finite = (text: string): number | undefined => {
  const n = Number(text);
  return text === '' || !Number.isFinite(n) ? undefined : n;
};

/** The entry a term describes; undefined for a term this module did not write. */
export function parseGeoEntry(term: string): GeoEntry | undefined {
  const f = term.split(' ');
  if (f.length !== FIELDS) return undefined;
  const [, latText, lonText, facingText, kind, status, temporary, from, to, windowsText] = f as [string, string, string, string, string, string, string, string, string, string];
  const lat = finite(latText);
  const lon = finite(lonText);
  const facing = finite(facingText);
  const windows = finite(windowsText);
  if (lat === undefined || lon === undefined || facing === undefined || windows === undefined) return undefined;
  if (!(ITS_KINDS as readonly string[]).includes(kind) || !(SIGN_STATUSES as readonly string[]).includes(status) || (temporary !== '0' && temporary !== '1')) return undefined;
  return {
    position: { lat, lon },
    facing,
    kind: kind as ItsKind,
    status: status as SignStatus,
    temporary: temporary === '1',
    from: from === '-' ? null : from,
    to: to === '-' ? null : to,
    windows,
  };
}
