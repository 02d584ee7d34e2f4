import { ItsQueryInvalid, ItsQueryTooLarge } from '../../errors.js';
import { formatItsSignType, ITS_KINDS, parseItsSignType, type ItsKind, type ItsSignType } from '../../ids/its-sign.js';
import type { GeoEntry } from './geo-entry.js';
import { angleDiffDeg, bearingDeg, circleBoxes, distanceM, inBox, type Box, type LatLon } from './geo.js';
import { parseAlias, SIGN_STATUSES, type ItsSign, type SignStatus } from './its-record.js';
import { parseDateTime, validAt } from './validity.js';

/** Largest `radius` of a `near` query, metres. */
export const MAX_NEAR_RADIUS_M = 5_000;
/** Largest `distance` of an `ahead` query, metres. */
export const MAX_AHEAD_DISTANCE_M = 5_000;
/** Largest width and height of a `bbox`, degrees. */
export const MAX_BBOX_SPAN_DEG = 0.25;
/** `ahead`: a sign is ahead when its bearing from the traveller is within this of the heading. */
export const AHEAD_CONE_HALF_ANGLE_DEG = 30;
/** `ahead`: a sign faces the traveller when its facing is within this of the reverse heading. */
export const AHEAD_FACING_TOLERANCE_DEG = 45;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export type QueryArea =
  | { readonly mode: 'bbox'; readonly box: Box }
  | { readonly mode: 'near'; readonly center: LatLon; readonly radius: number }
  | { readonly mode: 'ahead'; readonly center: LatLon; readonly heading: number; readonly distance: number }
  | { readonly mode: 'alias'; readonly alias: string };

export interface ItsQuery {
  readonly area: QueryArea;
  readonly kinds?: ReadonlySet<ItsKind>;
  readonly code?: ItsSignType;
  readonly temporary?: boolean;
  readonly statuses?: ReadonlySet<SignStatus>;
  /** Milliseconds since the epoch. */
  readonly at?: number;
  readonly asOf?: number;
  readonly limit: number;
  /** Where the previous page ended: results come after this position in the result order. */
  readonly after?: PagePosition;
}

/**
 * A position in a query's result order: nearest first (`near`, `ahead`), ties and areas without a
 * distance (`bbox`, `alias`) by record key. The order is total, so pages neither repeat nor skip
 * a sign while the registry is unchanged.
 */
export interface PagePosition {
  readonly distance: number;
  readonly key: string;
}

/** Whether `a` comes before `b` in the result order. */
export function pageOrder(a: PagePosition, b: PagePosition): number {
  return a.distance - b.distance || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** The opaque `cursor` parameter for a position: base64url of `[distance, key]`. */
export function formatCursor(p: PagePosition): string {
  return Buffer.from(JSON.stringify([p.distance, p.key])).toString('base64url');
}

export function parseCursor(text: string): PagePosition {
  const bad = (): ItsQueryInvalid => invalid('cursor', 'cursor is not one this service gave out: follow the `next` link of the previous page');
  if (text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw bad();
  const [distance, key] = parsed as unknown[];
  if (typeof distance !== 'number' || !Number.isFinite(distance) || distance < 0 || typeof key !== 'string' || !key.startsWith('its:')) throw bad();
  return { distance, key };
}

export const PARAMS = ['bbox', 'near', 'radius', 'ahead', 'distance', 'alias', 'kind', 'code', 'temporary', 'status', 'at', 'asOf', 'limit', 'cursor'] as const;
const NUMBER = /^-?(0|[1-9][0-9]{0,9})(\.[0-9]{1,15})?$/;

function invalid(param: string, message: string): ItsQueryInvalid {
  return new ItsQueryInvalid(message, { param });
}

function numbers(text: string, param: string, count: number, shape: string): number[] {
  const parts = text.split(',');
  if (parts.length !== count || !parts.every((p) => NUMBER.test(p))) throw invalid(param, `${param} must be ${shape} (decimal numbers)`);
  return parts.map(Number);
}

function range(n: number, param: string, what: string, min: number, max: number): number {
  if (n < min || n > max) throw invalid(param, `${param}: ${what} ${n} is outside ${min}..${max}`);
  return n;
}

function metres(text: string | undefined, param: string, max: number): number {
  if (text === undefined) throw invalid(param, `${param} (metres) is required`);
  if (!NUMBER.test(text) || Number(text) <= 0) throw invalid(param, `${param} must be a number of metres above 0`);
  const n = Number(text);
  if (n > max) throw new ItsQueryTooLarge(`${param} ${n} m is over the maximum of ${max} m`, { param, max });
  return n;
}

function instant(text: string, param: string): number {
  const ms = parseDateTime(text);
  if (ms === undefined) throw invalid(param, `${param} must be an RFC 3339 date-time such as 2026-01-01T08:00:00Z`);
  return ms;
}

/**
 * Reads `GET /api/its` parameters: exactly one of `bbox`, `near` (with `radius`), `ahead` (with
 * `distance`) or `alias`, plus the filters. Throws ERR_ITS_QUERY_INVALID (with `details.param`)
 * or ERR_ITS_QUERY_TOO_LARGE.
 */
export function parseItsQuery(q: Readonly<Record<string, unknown>>): ItsQuery {
  for (const [k, v] of Object.entries(q)) {
    if (!(PARAMS as readonly string[]).includes(k)) throw invalid(k, `Unknown parameter "${k}"; known: ${PARAMS.join(', ')}`);
    if (typeof v !== 'string') throw invalid(k, `${k} is given more than once`);
  }
  const s = q as Readonly<Record<string, string | undefined>>;
  const modes = (['bbox', 'near', 'ahead', 'alias'] as const).filter((m) => s[m] !== undefined);
  if (modes.length !== 1) throw invalid('bbox', 'Give exactly one of bbox=minLon,minLat,maxLon,maxLat, near=lat,lon&radius=m, ahead=lat,lon,heading&distance=m or alias=ns:id');
  const mode = modes[0]!;
  if (s.radius !== undefined && mode !== 'near') throw invalid('radius', 'radius goes with near');
  if (s.distance !== undefined && mode !== 'ahead') throw invalid('distance', 'distance goes with ahead');

  let area: QueryArea;
  switch (mode) {
    case 'bbox': {
      const [minLon, minLat, maxLon, maxLat] = numbers(s.bbox!, 'bbox', 4, 'minLon,minLat,maxLon,maxLat') as [number, number, number, number];
      range(minLon, 'bbox', 'minLon', -180, 180);
      range(maxLon, 'bbox', 'maxLon', -180, 180);
      range(minLat, 'bbox', 'minLat', -90, 90);
      range(maxLat, 'bbox', 'maxLat', -90, 90);
      if (minLon > maxLon || minLat > maxLat) throw invalid('bbox', 'bbox is inverted: minLon must not exceed maxLon, nor minLat maxLat (boxes across the antimeridian are two queries)');
      if (maxLon - minLon > MAX_BBOX_SPAN_DEG || maxLat - minLat > MAX_BBOX_SPAN_DEG) {
        throw new ItsQueryTooLarge(`bbox spans more than ${MAX_BBOX_SPAN_DEG} degrees`, { param: 'bbox', max: MAX_BBOX_SPAN_DEG });
      }
      area = { mode, box: { minLon, minLat, maxLon, maxLat } };
      break;
    }
    case 'near': {
      const [lat, lon] = numbers(s.near!, 'near', 2, 'lat,lon') as [number, number];
      area = { mode, center: { lat: range(lat, 'near', 'lat', -90, 90), lon: range(lon, 'near', 'lon', -180, 180) }, radius: metres(s.radius, 'radius', MAX_NEAR_RADIUS_M) };
      break;
    }
    case 'ahead': {
      const [lat, lon, heading] = numbers(s.ahead!, 'ahead', 3, 'lat,lon,heading') as [number, number, number];
      area = {
        mode,
        center: { lat: range(lat, 'ahead', 'lat', -90, 90), lon: range(lon, 'ahead', 'lon', -180, 180) },
        heading: range(heading, 'ahead', 'heading', 0, 360),
        distance: metres(s.distance, 'distance', MAX_AHEAD_DISTANCE_M),
      };
      break;
    }
    case 'alias': {
      let alias: string;
      try {
        alias = parseAlias(s.alias, 'alias');
      } catch (e) {
        throw invalid('alias', (e as Error).message);
      }
      area = { mode, alias };
      break;
    }
  }

  let kinds: Set<ItsKind> | undefined;
  if (s.kind !== undefined) {
    const list = s.kind.toLowerCase().split(',');
    for (const k of list) if (!(ITS_KINDS as readonly string[]).includes(k)) throw invalid('kind', `kind "${k}" is not one of ${ITS_KINDS.join(', ')}`);
    kinds = new Set(list as ItsKind[]);
  }
  let statuses: Set<SignStatus> | undefined;
  if (s.status !== undefined) {
    const list = s.status.toLowerCase().split(',');
    for (const k of list) if (!(SIGN_STATUSES as readonly string[]).includes(k)) throw invalid('status', `status "${k}" is not one of ${SIGN_STATUSES.join(', ')}`);
    statuses = new Set(list as SignStatus[]);
  }
  let code: ItsSignType | undefined;
  if (s.code !== undefined) {
    try {
      code = parseItsSignType(s.code);
    } catch (e) {
      throw invalid('code', `code: ${(e as Error).message}`);
    }
  }
  if (s.temporary !== undefined && s.temporary !== 'true' && s.temporary !== 'false') throw invalid('temporary', 'temporary must be true or false');
  let limit = DEFAULT_LIMIT;
  if (s.limit !== undefined) {
    if (!/^[1-9][0-9]{0,3}$/.test(s.limit) || Number(s.limit) > MAX_LIMIT) throw invalid('limit', `limit must be 1 to ${MAX_LIMIT}`);
    limit = Number(s.limit);
  }
  return {
    area,
    ...(kinds ? { kinds } : {}),
    ...(code ? { code } : {}),
    ...(s.temporary !== undefined ? { temporary: s.temporary === 'true' } : {}),
    ...(statuses ? { statuses } : {}),
    ...(s.at !== undefined ? { at: instant(s.at, 'at') } : {}),
    ...(s.asOf !== undefined ? { asOf: instant(s.asOf, 'asOf') } : {}),
    limit,
    ...(s.cursor !== undefined ? { after: parseCursor(s.cursor) } : {}),
  };
}

/** The boxes whose cells hold every candidate of a spatial query. */
export function queryBoxes(area: Exclude<QueryArea, { mode: 'alias' }>): Box[] {
  switch (area.mode) {
    case 'bbox':
      return [area.box];
    case 'near':
      return circleBoxes(area.center, area.radius);
    case 'ahead':
      return circleBoxes(area.center, area.distance);
  }
}

/** Without its value: `nat.DE-274`. */
function codeOnly(type: ItsSignType): string {
  const { value: _value, ...code } = type;
  return formatItsSignType(code as ItsSignType);
}

/** A filter code matches a sign's type on scheme and code, and on the value when the filter has one. */
export function codeMatches(filter: ItsSignType, type: ItsSignType | undefined): boolean {
  if (type === undefined || codeOnly(filter) !== codeOnly(type)) return false;
  return filter.value === undefined || filter.value === type.value;
}

/** The filters other than the area; `at` also leaves out removed signs. */
export function filtersMatch(q: ItsQuery, kind: ItsKind, sign: Pick<ItsSign, 'status' | 'temporary' | 'validity' | 'value'>, type: ItsSignType | undefined): boolean {
  if (q.kinds && !q.kinds.has(kind)) return false;
  // The value is the one the sign shows: its type's, or the body's when the type has none.
  if (q.code && !(codeMatches({ ...q.code, value: undefined }, type) && (q.code.value === undefined || q.code.value === sign.value))) return false;
  if (q.temporary !== undefined && sign.temporary !== q.temporary) return false;
  if (q.statuses && !q.statuses.has(sign.status)) return false;
  if (q.at !== undefined && (sign.status === 'removed' || !validAt(sign.validity, q.at))) return false;
  return true;
}

/**
 * Whether a sign lies in the query area; for `near` and `ahead`, its distance in metres (and,
 * for `ahead`, its bearing from the traveller). Undefined when it does not.
 */
export function areaMatch(area: QueryArea, sign: Pick<ItsSign, 'position' | 'facing' | 'aliases'>): { distance?: number; bearing?: number } | undefined {
  switch (area.mode) {
    case 'alias':
      return sign.aliases.includes(area.alias) ? {} : undefined;
    case 'bbox':
      return inBox(sign.position, area.box) ? {} : undefined;
    case 'near': {
      const distance = distanceM(area.center, sign.position);
      return distance <= area.radius ? { distance } : undefined;
    }
    case 'ahead': {
      const distance = distanceM(area.center, sign.position);
      if (distance <= 0 || distance > area.distance) return undefined;
      const bearing = bearingDeg(area.center, sign.position);
      if (angleDiffDeg(bearing, area.heading) > AHEAD_CONE_HALF_ANGLE_DEG) return undefined;
      if (angleDiffDeg(sign.facing, area.heading + 180) > AHEAD_FACING_TOLERANCE_DEG) return undefined;
      return { distance, bearing };
    }
  }
}

/**
 * The filters tested on a spatial index entry (geo-entry.ts) instead of the record, by the same
 * rules as `filtersMatch`; undefined when the entry cannot tell and the record must be read: a
 * `code` filter, or `at` on a sign with time windows.
 */
export function entryFiltersMatch(q: ItsQuery, e: GeoEntry): boolean | undefined {
  if (q.code !== undefined || (q.at !== undefined && e.windows > 0)) return undefined;
  return filtersMatch(q, e.kind, { status: e.status, temporary: e.temporary, validity: { from: e.from, to: e.to, windows: [] }, value: null }, undefined);
}
