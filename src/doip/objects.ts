import { createHash } from 'node:crypto';
import { DoipRequestInvalid } from '../errors.js';
import type { StoredRecord } from '../records/record.js';
import { isPublicRead, type HandleValue } from '../records/value.js';

/**
 * Digital objects (`{id, type, attributes, elements}`) stored as handle records, so that every
 * object also resolves through `/api/handles` and carries the record signature. Value layout:
 *
 *   index 1      DOIP.TYPE        the object's type, UTF-8 text
 *   index 2      DOIP.ATTRIBUTES  the attributes, a JSON object as UTF-8 text ({} when none)
 *   index 3      DOIP.ELEMENTS    the element list, a JSON array as UTF-8 text:
 *                                 [{"id", "type"?, "attributes"?, "length", "sha256", "index"}]
 *   index 1000+  DOIP.ELEMENT     one value per element holding its bytes as they are; `index` in
 *                                 the list names it (the Handle JSON view shows them as `string`
 *                                 or `base64`, as for any value)
 *
 * The DOIP.ELEMENTS list is the authority: a DOIP.ELEMENT value it does not name is ignored (an
 * update removes such values after writing the new list). All DOIP values are publicly readable
 * (Handle.Net's default `1110`), so the signature covers them and anyone may retrieve the object;
 * admins (HS_ADMIN) and other values live beside them and are left alone by DOIP writes.
 */

export const TYPE_INDEX = 1;
export const ATTRIBUTES_INDEX = 2;
export const ELEMENTS_INDEX = 3;
export const FIRST_ELEMENT_INDEX = 1000;
export const DOIP_TYPE = 'DOIP.TYPE';
export const DOIP_ATTRIBUTES = 'DOIP.ATTRIBUTES';
export const DOIP_ELEMENTS = 'DOIP.ELEMENTS';
export const DOIP_ELEMENT = 'DOIP.ELEMENT';

export const MAX_ELEMENTS = 100;
const MAX_NAME_LENGTH = 256;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export interface DoElement {
  readonly id: string;
  readonly type?: string;
  readonly attributes?: Record<string, unknown>;
  /** Present when the element's bytes are known (stored, or sent with the request). */
  readonly data?: Buffer;
  /** Input only: the `length` the client declared, checked against the bytes that arrive. */
  readonly declaredLength?: number;
}

export interface DigitalObject {
  readonly id?: string;
  readonly type: string;
  readonly attributes: Record<string, unknown>;
  readonly elements: readonly DoElement[];
}

/** What an input object may leave out (an update keeps the stored type and attributes). */
export interface DigitalObjectInput {
  readonly id?: string;
  readonly type?: string;
  readonly attributes?: Record<string, unknown>;
  readonly elements?: readonly DoElement[];
}

interface ManifestEntry {
  id: string;
  type?: string;
  attributes?: Record<string, unknown>;
  length: number;
  sha256: string;
  index: number;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function name(x: unknown, what: string): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_NAME_LENGTH || CONTROL.test(x) || !x.isWellFormed()) {
    throw new DoipRequestInvalid(`${what} must be 1-${MAX_NAME_LENGTH} characters without control characters`);
  }
  return x;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Reads a digital object from request JSON. Elements may carry their bytes as Base64 in `data`
 * (Cairn's JSON rendering, for HTTP); over TLS they arrive as bytes segments instead.
 */
export function objectFromJson(json: unknown, what = 'input'): DigitalObjectInput {
  if (!isObject(json)) throw new DoipRequestInvalid(`The ${what} must be a digital object {"id", "type", "attributes", "elements"}`);
  for (const key of Object.keys(json)) {
    if (!['id', 'type', 'attributes', 'elements'].includes(key)) throw new DoipRequestInvalid(`The ${what} has an unknown member "${key}"`);
  }
  const out: { id?: string; type?: string; attributes?: Record<string, unknown>; elements?: DoElement[] } = {};
  if (json.id !== undefined && json.id !== null) out.id = name(json.id, `${what}.id`);
  if (json.type !== undefined && json.type !== null) out.type = name(json.type, `${what}.type`);
  if (json.attributes !== undefined && json.attributes !== null) {
    if (!isObject(json.attributes)) throw new DoipRequestInvalid(`${what}.attributes must be a JSON object`);
    out.attributes = json.attributes;
  }
  if (json.elements !== undefined && json.elements !== null) {
    if (!Array.isArray(json.elements)) throw new DoipRequestInvalid(`${what}.elements must be an array`);
    if (json.elements.length > MAX_ELEMENTS) throw new DoipRequestInvalid(`At most ${MAX_ELEMENTS} elements`);
    const seen = new Set<string>();
    out.elements = json.elements.map((e: unknown, i: number) => {
      const at = `${what}.elements[${i}]`;
      if (!isObject(e)) throw new DoipRequestInvalid(`${at} must be an object`);
      for (const key of Object.keys(e)) {
        if (!['id', 'type', 'attributes', 'length', 'data'].includes(key)) throw new DoipRequestInvalid(`${at} has an unknown member "${key}"`);
      }
      const id = name(e.id, `${at}.id`);
      if (seen.has(id)) throw new DoipRequestInvalid(`Element id "${id}" appears twice`);
      seen.add(id);
      const el: { id: string; type?: string; attributes?: Record<string, unknown>; data?: Buffer; declaredLength?: number } = { id };
      if (e.type !== undefined && e.type !== null) el.type = name(e.type, `${at}.type`);
      if (e.attributes !== undefined && e.attributes !== null) {
        if (!isObject(e.attributes)) throw new DoipRequestInvalid(`${at}.attributes must be a JSON object`);
        el.attributes = e.attributes;
      }
      if (e.data !== undefined && e.data !== null) {
        if (typeof e.data !== 'string' || !BASE64.test(e.data) || e.data.length % 4 !== 0) throw new DoipRequestInvalid(`${at}.data must be standard Base64`);
        el.data = Buffer.from(e.data, 'base64');
      }
      if (e.length !== undefined && e.length !== null) {
        const n = typeof e.length === 'string' && /^\d{1,12}$/.test(e.length) ? Number(e.length) : e.length;
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new DoipRequestInvalid(`${at}.length must be a non-negative integer`);
        if (el.data && el.data.length !== n) throw new DoipRequestInvalid(`${at}.length says ${n} bytes, its data has ${el.data.length}`);
        el.declaredLength = n;
      }
      return el;
    });
  }
  return out;
}

/** The object's JSON form (without element bytes unless `withData`, then as Base64 `data`). */
export function objectToJson(o: DigitalObject, withData = false): Record<string, unknown> {
  const json: Record<string, unknown> = { id: o.id, type: o.type, attributes: o.attributes };
  if (o.elements.length > 0) {
    json.elements = o.elements.map((e) => ({
      id: e.id,
      ...(e.type !== undefined ? { type: e.type } : {}),
      length: e.data?.length ?? 0,
      ...(e.attributes !== undefined ? { attributes: e.attributes } : {}),
      ...(withData && e.data ? { data: e.data.toString('base64') } : {}),
    }));
  }
  return json;
}

const text = (v: HandleValue | undefined): string | undefined => (v ? Buffer.from(v.data).toString('utf8') : undefined);

/**
 * The stored object type, without decoding the rest (the search index needs only this); undefined
 * when the record is no digital object (no public DOIP.TYPE at index 1, or tombstoned).
 */
export function objectType(record: StoredRecord): string | undefined {
  if (record.status !== 'active') return undefined;
  return text(record.values.find((v) => v.index === TYPE_INDEX && v.type === DOIP_TYPE && isPublicRead(v)));
}

/** The digital object a record holds, from its publicly readable values. */
export function objectFromRecord(record: StoredRecord): DigitalObject | undefined {
  const values = record.values.filter(isPublicRead);
  const byIndex = new Map(values.map((v) => [v.index, v]));
  const typeValue = byIndex.get(TYPE_INDEX);
  if (record.status !== 'active' || typeValue?.type !== DOIP_TYPE) return undefined;
  const attributesValue = byIndex.get(ATTRIBUTES_INDEX);
  const elementsValue = byIndex.get(ELEMENTS_INDEX);
  let attributes: Record<string, unknown> = {};
  let manifest: ManifestEntry[] = [];
  try {
    if (attributesValue?.type === DOIP_ATTRIBUTES) {
      const parsed: unknown = JSON.parse(text(attributesValue)!);
      if (isObject(parsed)) attributes = parsed;
    }
    if (elementsValue?.type === DOIP_ELEMENTS) {
      const parsed: unknown = JSON.parse(text(elementsValue)!);
      if (Array.isArray(parsed)) manifest = parsed.filter((m): m is ManifestEntry => isObject(m) && typeof m.id === 'string' && typeof m.index === 'number');
    }
  } catch {
    // A value edited by hand into something that is not JSON: the object shows what still parses.
  }
  const elements = manifest.map((m): DoElement => {
    const v = byIndex.get(m.index);
    return {
      id: m.id,
      ...(typeof m.type === 'string' ? { type: m.type } : {}),
      ...(isObject(m.attributes) ? { attributes: m.attributes } : {}),
      data: v?.type === DOIP_ELEMENT ? Buffer.from(v.data) : Buffer.alloc(0),
    };
  });
  return { id: record.id, type: text(typeValue)!, attributes, elements };
}

/** Handle JSON of a text value. */
const textValue = (index: number, type: string, value: string) => ({ index, type, data: { format: 'string', value } });

export interface ObjectValues {
  /** Handle.Net JSON values for every DOIP value of the new state. */
  readonly values: unknown[];
  /** Indexes of DOIP values in `previous` that the new state no longer has. */
  readonly orphans: number[];
}

/**
 * The DOIP values of an object. Element bytes keep the index they had in `previous` (by element
 * id); new elements take the lowest free index from 1000 that no other value of the record uses.
 */
export function objectValues(o: DigitalObject, previous: readonly HandleValue[] = []): ObjectValues {
  const previousManifest = new Map<string, number>();
  const elementsValue = previous.find((v) => v.index === ELEMENTS_INDEX && v.type === DOIP_ELEMENTS);
  try {
    const parsed: unknown = elementsValue ? JSON.parse(Buffer.from(elementsValue.data).toString('utf8')) : [];
    if (Array.isArray(parsed)) for (const m of parsed) if (isObject(m) && typeof m.id === 'string' && typeof m.index === 'number') previousManifest.set(m.id, m.index);
  } catch {
    // An unreadable list keeps nothing: every element gets a fresh index.
  }
  const byIndex = new Map(previous.map((v) => [v.index, v]));
  const used = new Set<number>();
  const assigned = new Map<string, number>();
  for (const e of o.elements) {
    const old = previousManifest.get(e.id);
    if (old !== undefined && old >= FIRST_ELEMENT_INDEX && byIndex.get(old)?.type === DOIP_ELEMENT && !used.has(old)) {
      assigned.set(e.id, old);
      used.add(old);
    }
  }
  // Indexes held by values DOIP does not own (admins, URLs, the signature) are never taken.
  const foreign = new Set(previous.filter((v) => v.type !== DOIP_ELEMENT || v.index < FIRST_ELEMENT_INDEX).map((v) => v.index));
  let next = FIRST_ELEMENT_INDEX;
  for (const e of o.elements) {
    if (assigned.has(e.id)) continue;
    while (used.has(next) || foreign.has(next)) next++;
    assigned.set(e.id, next);
    used.add(next);
  }
  const manifest: ManifestEntry[] = o.elements.map((e) => {
    const data = e.data ?? Buffer.alloc(0);
    return {
      id: e.id,
      ...(e.type !== undefined ? { type: e.type } : {}),
      ...(e.attributes !== undefined ? { attributes: e.attributes } : {}),
      length: data.length,
      sha256: createHash('sha256').update(data).digest('base64'),
      index: assigned.get(e.id)!,
    };
  });
  const values: unknown[] = [
    textValue(TYPE_INDEX, DOIP_TYPE, o.type),
    textValue(ATTRIBUTES_INDEX, DOIP_ATTRIBUTES, JSON.stringify(o.attributes)),
    textValue(ELEMENTS_INDEX, DOIP_ELEMENTS, JSON.stringify(manifest)),
    ...o.elements.map((e) => ({ index: assigned.get(e.id)!, type: DOIP_ELEMENT, data: { format: 'base64', value: (e.data ?? Buffer.alloc(0)).toString('base64') } })),
  ];
  const orphans = previous.filter((v) => v.type === DOIP_ELEMENT && v.index >= FIRST_ELEMENT_INDEX && !used.has(v.index)).map((v) => v.index);
  return { values, orphans };
}
