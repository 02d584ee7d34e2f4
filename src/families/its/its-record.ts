import { ItsSignInvalid } from '../../errors.js';
import { formatItsSerial, formatItsSignId, formatItsSignType, MAX_VALUE, parseItsSignType, type ItsSignId, type ItsSignType } from '../../ids/its-sign.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import type { StoredRecord } from '../../records/record.js';
import { DEFAULT_VALUE_PERMISSIONS, isPublicRead, type HandleValue } from '../../records/value.js';
import { decodeCompact } from '../../signing/jws.js';
import { findSignature } from '../../signing/record-signature.js';
import { ALWAYS, parseValidity, ValidityError, type Validity } from './validity.js';

/**
 * A sign's registration as typed values (DESIGN section 2), one value per field, so the record
 * signature covers each of them:
 *
 *   ITS.TYPE       text   the type the sign shows, canonical (`nat.DE-274[60]`); absent if none
 *   ITS.POSITION   JSON   {"lat": 52.5163, "lon": 13.3777, "height": 2.1} (WGS84, height in m)
 *   ITS.FACING     text   azimuth its face points to, degrees clockwise from north, 0-360
 *   ITS.STATUS     text   planned | placed | removed
 *   ITS.VALUE      text   the value it shows (a number), with ITS.UNIT text (`km/h`)
 *   ITS.VALIDITY   JSON   {"from", "to", "windows"} (validity.ts)
 *   ITS.TEMPORARY  text   true | false (roadworks)
 *   ITS.MOUNT      JSON   {"post": "...", "order": 1}
 *   ITS.LANES      JSON   [1, 2]: lane numbers it applies to (empty: all)
 *   ITS.ROAD       text   road reference
 *   ITS.ALIAS      text   one per alias, `<namespace>:<id>` (`osm:node/123`)
 *   ITS.SOURCE     text   where the data comes from
 */
export const ITS_TYPES = {
  type: 'ITS.TYPE',
  position: 'ITS.POSITION',
  facing: 'ITS.FACING',
  status: 'ITS.STATUS',
  value: 'ITS.VALUE',
  unit: 'ITS.UNIT',
  validity: 'ITS.VALIDITY',
  temporary: 'ITS.TEMPORARY',
  mount: 'ITS.MOUNT',
  lanes: 'ITS.LANES',
  road: 'ITS.ROAD',
  alias: 'ITS.ALIAS',
  source: 'ITS.SOURCE',
} as const;

export const SIGN_STATUSES = ['planned', 'placed', 'removed'] as const;
export type SignStatus = (typeof SIGN_STATUSES)[number];

export interface SignPosition {
  readonly lat: number;
  readonly lon: number;
  readonly height?: number;
}

export interface SignMount {
  readonly post?: string;
  readonly order?: number;
}

/** The sign's fields, exactly the JSON written with PUT (defaults filled in). */
export interface ItsSign {
  readonly position: SignPosition;
  readonly facing: number;
  readonly status: SignStatus;
  readonly value: number | null;
  readonly unit: string | null;
  readonly validity: Validity;
  readonly temporary: boolean;
  readonly mount: SignMount | null;
  readonly lanes: readonly number[];
  readonly road: string | null;
  readonly aliases: readonly string[];
  readonly source: string | null;
}

export const MAX_ALIASES = 32;
export const MAX_LANES = 64;
export const MAX_HEIGHT_M = 10_000;
const MAX_TEXT = 256;
/** `<namespace>:<id>`: namespace lower-case letters, digits, `.` `-`; id printable ASCII without spaces. */
const ALIAS = /^[a-z][a-z0-9.-]{0,31}:[\x21-\x7e]{1,200}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function bad(field: string, message: string): ItsSignInvalid {
  return new ItsSignInvalid(message, { field });
}

function finite(x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min || x > max) throw bad(field, `${field} must be a number from ${min} to ${max}`);
  return x === 0 ? 0 : x; // JSON can carry -0; one zero only
}

function text(x: unknown, field: string): string | null {
  if (x === undefined || x === null) return null;
  if (typeof x !== 'string' || x.trim() === '' || x.length > MAX_TEXT || CONTROL.test(x)) throw bad(field, `${field} must be non-empty text of at most ${MAX_TEXT} characters, or null`);
  return x;
}

function onlyKeys(x: Record<string, unknown>, field: string, keys: readonly string[]): void {
  for (const k of Object.keys(x)) if (!keys.includes(k)) throw bad(`${field}.${k}`, `${field} has an unknown member "${k}"`);
}

/** Canonical alias: the namespace lower-cased, the id as written. */
export function parseAlias(x: unknown, field = 'alias'): string {
  if (typeof x !== 'string') throw bad(field, `${field} must be a string <namespace>:<id>, e.g. osm:node/123`);
  const colon = x.indexOf(':');
  const alias = colon < 0 ? x : `${x.slice(0, colon).toLowerCase()}${x.slice(colon)}`;
  if (!ALIAS.test(alias)) throw bad(field, `${field} "${x.slice(0, 64)}" is not <namespace>:<id> (namespace a-z 0-9 . -, id printable ASCII without spaces, at most 200)`);
  return alias;
}

const BODY_KEYS = ['position', 'facing', 'status', 'value', 'unit', 'validity', 'temporary', 'mount', 'lanes', 'road', 'aliases', 'source'] as const;

/**
 * Validates a sign body (PUT or POST). Only `position` and `facing` are required; unknown members
 * are refused. Throws ERR_ITS_SIGN_INVALID with `details.field`.
 */
export function parseSign(body: unknown): ItsSign {
  if (!isObject(body)) throw bad('body', 'Body must be a sign object, e.g. {"position": {"lat": 52.5163, "lon": 13.3777}, "facing": 180}');
  onlyKeys(body, 'sign', BODY_KEYS);

  const p = body.position;
  if (!isObject(p)) throw bad('position', 'position is required: {"lat": -90..90, "lon": -180..180, "height": metres}');
  onlyKeys(p, 'position', ['lat', 'lon', 'height']);
  const lat = finite(p.lat, 'position.lat', -90, 90);
  const lon = finite(p.lon, 'position.lon', -180, 180);
  const height = p.height === undefined || p.height === null ? undefined : finite(p.height, 'position.height', -MAX_HEIGHT_M, MAX_HEIGHT_M);
  const position: SignPosition = { lat, lon, ...(height === undefined ? {} : { height }) };

  if (body.facing === undefined) throw bad('facing', 'facing is required: degrees 0-360 clockwise from north, the direction the face points to');
  const facing = finite(body.facing, 'facing', 0, 360);

  const status = body.status === undefined ? 'placed' : body.status;
  if (!(SIGN_STATUSES as readonly unknown[]).includes(status)) throw bad('status', `status must be one of ${SIGN_STATUSES.join(', ')}`);

  const value = body.value === undefined || body.value === null ? null : finite(body.value, 'value', 0, MAX_VALUE);
  const unit = text(body.unit, 'unit');
  if (unit !== null && unit.length > 16) throw bad('unit', 'unit must be at most 16 characters');
  if (unit !== null && value === null) throw bad('unit', 'unit is given without a value');

  let validity: Validity;
  try {
    validity = parseValidity(body.validity);
  } catch (e) {
    if (e instanceof ValidityError) throw bad(e.field, e.message);
    throw e;
  }

  if (body.temporary !== undefined && body.temporary !== null && typeof body.temporary !== 'boolean') throw bad('temporary', 'temporary must be true or false');
  const temporary = body.temporary === true;

  let mount: SignMount | null = null;
  if (body.mount !== undefined && body.mount !== null) {
    if (!isObject(body.mount)) throw bad('mount', 'mount must be {"post": "...", "order": 1}');
    onlyKeys(body.mount, 'mount', ['post', 'order']);
    const post = text(body.mount.post, 'mount.post');
    const order = body.mount.order === undefined || body.mount.order === null ? undefined : body.mount.order;
    if (order !== undefined && (typeof order !== 'number' || !Number.isInteger(order) || order < 0 || order > 255)) throw bad('mount.order', 'mount.order must be an integer 0-255');
    mount = { ...(post === null ? {} : { post }), ...(order === undefined ? {} : { order: order as number }) };
  }

  let lanes: number[] = [];
  if (body.lanes !== undefined && body.lanes !== null) {
    const l = body.lanes;
    if (!Array.isArray(l) || l.length > MAX_LANES || !l.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 255)) {
      throw bad('lanes', `lanes must be an array of at most ${MAX_LANES} lane numbers 0-255`);
    }
    if (new Set(l).size !== l.length) throw bad('lanes', 'lanes has duplicates');
    lanes = l as number[];
  }

  let aliases: string[] = [];
  if (body.aliases !== undefined && body.aliases !== null) {
    if (!Array.isArray(body.aliases) || body.aliases.length > MAX_ALIASES) throw bad('aliases', `aliases must be an array of at most ${MAX_ALIASES} strings`);
    aliases = (body.aliases as unknown[]).map((a, i) => parseAlias(a, `aliases[${i}]`));
    if (new Set(aliases).size !== aliases.length) throw bad('aliases', 'aliases has duplicates');
  }

  return { position, facing, status: status as SignStatus, value, unit, validity, temporary, mount, lanes, road: text(body.road, 'road'), aliases, source: text(body.source, 'source') };
}

export function signToValues(sign: ItsSign, type: ItsSignType | undefined, now: number): HandleValue[] {
  const values: HandleValue[] = [];
  let index = 1;
  const add = (t: string, data: string): void => {
    values.push({ index: index++, type: t, data: Buffer.from(data), ttlType: 'relative', ttl: 86400, timestamp: now, permissions: DEFAULT_VALUE_PERMISSIONS, references: [] });
  };
  if (type) add(ITS_TYPES.type, formatItsSignType(type));
  add(ITS_TYPES.position, JSON.stringify(sign.position));
  add(ITS_TYPES.facing, String(sign.facing));
  add(ITS_TYPES.status, sign.status);
  if (sign.value !== null) add(ITS_TYPES.value, String(sign.value));
  if (sign.unit !== null) add(ITS_TYPES.unit, sign.unit);
  add(ITS_TYPES.validity, JSON.stringify(sign.validity));
  add(ITS_TYPES.temporary, String(sign.temporary));
  if (sign.mount !== null) add(ITS_TYPES.mount, JSON.stringify(sign.mount));
  add(ITS_TYPES.lanes, JSON.stringify(sign.lanes));
  if (sign.road !== null) add(ITS_TYPES.road, sign.road);
  for (const alias of sign.aliases) add(ITS_TYPES.alias, alias);
  if (sign.source !== null) add(ITS_TYPES.source, sign.source);
  return values;
}

/** Reads a stored record's values back (they were validated when written). */
export function valuesToSign(values: readonly HandleValue[]): { sign: ItsSign; type: ItsSignType | undefined } {
  const all = (t: string): string[] => values.filter((v) => v.type === t).map((v) => Buffer.from(v.data).toString('utf8'));
  const one = (t: string): string | undefined => all(t)[0];
  const json = <T>(t: string, fallback: T): T => {
    const s = one(t);
    return s === undefined ? fallback : (JSON.parse(s) as T);
  };
  const type = one(ITS_TYPES.type);
  const value = one(ITS_TYPES.value);
  return {
    type: type === undefined ? undefined : parseItsSignType(type),
    sign: {
      position: json<SignPosition>(ITS_TYPES.position, { lat: 0, lon: 0 }),
      facing: Number(one(ITS_TYPES.facing) ?? 0),
      status: (one(ITS_TYPES.status) ?? 'placed') as SignStatus,
      value: value === undefined ? null : Number(value),
      unit: one(ITS_TYPES.unit) ?? null,
      validity: json<Validity>(ITS_TYPES.validity, ALWAYS),
      temporary: one(ITS_TYPES.temporary) === 'true',
      mount: json<SignMount | null>(ITS_TYPES.mount, null),
      lanes: json<number[]>(ITS_TYPES.lanes, []),
      road: one(ITS_TYPES.road) ?? null,
      aliases: all(ITS_TYPES.alias),
      source: one(ITS_TYPES.source) ?? null,
    },
  };
}

/** The sign's JSON as GET answers it: identity, type, the fields, bookkeeping, values and signature. */
export function renderSignView(id: ItsSignId, record: StoredRecord) {
  const visible = record.values.filter(isPublicRead);
  const { sign, type } = valuesToSign(visible);
  const sig = findSignature(visible);
  const jws = sig ? Buffer.from(sig.data).toString('utf8') : undefined;
  const header = jws ? decodeCompact(jws).header : undefined;
  const typed: ItsSignId = { kind: id.kind, country: id.country, authority: id.authority, serial: id.serial, ...(type ? { type } : {}) };
  return {
    id: formatItsSignId(typed),
    kind: id.kind,
    issuer: `${id.country}.${id.authority}`,
    serial: formatItsSerial(id.serial),
    type: type ? formatItsSignType(type) : null,
    ...sign,
    version: record.version,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: visible.map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, kid: String(header?.kid), alg: String(header?.alg) } : null,
  };
}

export type SignView = ReturnType<typeof renderSignView>;
