import { ValueFormatUnknown, ValueInvalid } from '../errors.js';
import { parseHandle } from '../ids/handle.js';
import { decodeAdmin, decodeValueList, encodeAdmin, encodeValueList } from './admin.js';
import { formatPermissionBits, parsePermissionBits } from './permissions.js';
import { decodePublicKeyJwk, encodePublicKeyJwk, type PublicJwk } from './pubkey.js';
import { DEFAULT_TTL, DEFAULT_VALUE_PERMISSIONS, MAX_VALUE_INDEX, type HandleValue, type ValueReference } from './value.js';

/**
 * The Handle.Net v9 JSON view of a value (GsonUtility in the Handle.Net server), keys in its order:
 *
 *   { "index": 1, "type": "URL", "data": { "format": "string", "value": "https://..." },
 *     "permissions": "1010",          -- only when not the default "1110"
 *     "ttl": 86400,                   -- a number (relative) or an ISO-8601 time (absolute)
 *     "timestamp": "2025-01-02T03:04:05Z",
 *     "references": [ { "handle": "...", "index": 1 } ]   -- only when there are any }
 *
 * Output formats follow the type (`admin`, `vlist`, `key`), else `string` unless the bytes look
 * binary, then `base64`. Input also accepts `hex` and a bare string `data` (UTF-8 text).
 */
export type ValueData =
  | { format: 'string'; value: string }
  | { format: 'base64'; value: string }
  | { format: 'admin'; value: { handle: string; index: number; permissions: string } }
  | { format: 'vlist'; value: ValueReference[] }
  | { format: 'key'; value: PublicJwk };

export interface HandleValueJson {
  index: number;
  type: string;
  data: ValueData;
  permissions?: string;
  ttl: number | string;
  timestamp?: string;
  references?: ValueReference[];
}

// ignoreBOM keeps a leading U+FEFF in the text (as Java's String does): stripping it would change the bytes.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** ISO-8601 UTC, seconds resolution, trailing Z: `2025-01-02T03:04:05Z`. */
let lastIsoSecond = -1;
let lastIso = '';

export function isoSeconds(epochSeconds: number): string {
  // The values of one write share their timestamp: remember the last one formatted.
  if (epochSeconds !== lastIsoSecond) {
    lastIso = new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    lastIsoSecond = epochSeconds;
  }
  return lastIso;
}

/** Handle.Net's `looksLikeBinary`: invalid UTF-8, or control bytes other than \t \n \v \f \r and 0x0E-0x13. */
function asText(data: Uint8Array): string | undefined {
  for (const b of data) if (b <= 0x08 || (b >= 0x14 && b <= 0x1f) || b === 0x7f) return undefined;
  try {
    return utf8Strict.decode(data);
  } catch {
    return undefined;
  }
}

/** Formats whose parser builds canonical bytes of the type (not `key`: a JWK's lenient Base64url can encode an empty RSA `n`). */
const CANONICAL_FORMAT: Readonly<Record<string, string>> = { HS_ADMIN: 'admin', HS_VLIST: 'vlist' };
const isStructured = (type: string): boolean => type === 'HS_ADMIN' || type === 'HS_VLIST' || type === 'HS_PUBKEY';

/** The view of HS_ADMIN, HS_VLIST or HS_PUBKEY data; throws when the bytes do not decode. */
function structuredToJson(type: string, data: Uint8Array): ValueData {
  if (type === 'HS_ADMIN') {
    const a = decodeAdmin(data);
    return { format: 'admin', value: { handle: a.handle, index: a.index, permissions: formatPermissionBits(a.permissions, 12) } };
  }
  if (type === 'HS_VLIST') return { format: 'vlist', value: decodeValueList(data) };
  return { format: 'key', value: decodePublicKeyJwk(data) };
}

function dataToJson(type: string, data: Uint8Array): ValueData {
  if (isStructured(type)) {
    try {
      return structuredToJson(type, data);
    } catch {
      // Undecodable structured data falls back to the generic rendering, as Handle.Net does.
    }
  }
  const text = asText(data);
  return text === undefined ? { format: 'base64', value: Buffer.from(data).toString('base64') } : { format: 'string', value: text };
}

export function valueToJson(v: HandleValue): HandleValueJson {
  // Keys in Handle.Net's order: index, type, data, permissions, ttl, timestamp, references.
  return {
    index: v.index,
    type: v.type,
    data: dataToJson(v.type, v.data),
    ...(v.permissions !== DEFAULT_VALUE_PERMISSIONS ? { permissions: formatPermissionBits(v.permissions, 4) } : {}),
    ttl: v.ttlType === 'absolute' ? isoSeconds(v.ttl) : v.ttl,
    ...(v.timestamp !== 0 ? { timestamp: isoSeconds(v.timestamp) } : {}),
    ...(v.references.length > 0 ? { references: v.references.map((r) => ({ handle: r.handle, index: r.index })) } : {}),
  };
}

/**
 * `JSON.stringify(valueToJson(v))`, written directly: the write path renders every value of every
 * record, and skipping the intermediate objects halves its cost. A test holds the two equal.
 */
export function renderValueJson(v: HandleValue): string {
  let data: string;
  if (v.type === 'HS_ADMIN' || v.type === 'HS_VLIST' || v.type === 'HS_PUBKEY') {
    data = JSON.stringify(dataToJson(v.type, v.data));
  } else {
    const text = asText(v.data);
    data = text === undefined ? `{"format":"base64","value":"${Buffer.from(v.data).toString('base64')}"}` : `{"format":"string","value":${JSON.stringify(text)}}`;
  }
  let out = `{"index":${v.index},"type":${JSON.stringify(v.type)},"data":${data}`;
  if (v.permissions !== DEFAULT_VALUE_PERMISSIONS) out += `,"permissions":"${formatPermissionBits(v.permissions, 4)}"`;
  out += v.ttlType === 'absolute' ? `,"ttl":"${isoSeconds(v.ttl)}"` : `,"ttl":${v.ttl}`;
  if (v.timestamp !== 0) out += `,"timestamp":"${isoSeconds(v.timestamp)}"`;
  if (v.references.length > 0) out += `,"references":${JSON.stringify(v.references.map((r) => ({ handle: r.handle, index: r.index })))}`;
  return `${out}}`;
}

// ---------------------------------------------------------------------------------------------
// Input

const VALUE_KEYS = new Set(['index', 'type', 'data', 'ttl', 'timestamp', 'permissions', 'references']);
const TYPE_PATTERN = /^[^\u0000-\u001f\u007f-\u009f]{1,256}$/u;
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const HEX = /^(?:[0-9A-Fa-f]{2})*$/;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseIndex(x: unknown, what: string, min: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > MAX_VALUE_INDEX) {
    throw new ValueInvalid(`${what} must be an integer from ${min} to ${MAX_VALUE_INDEX}`);
  }
  return x === 0 ? 0 : x; // -0 (from JSON "-0") reads as 0
}

function parseReference(x: unknown, what: string): ValueReference {
  if (!isPlainObject(x) || typeof x.handle !== 'string') throw new ValueInvalid(`${what} must be {"handle": ..., "index": ...}`);
  return { handle: parseHandle(x.handle).text, index: parseIndex(x.index, `${what}.index`, 0) };
}

function parseData(type: string, data: unknown, at: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (!isPlainObject(data) || typeof data.format !== 'string') {
    throw new ValueInvalid(`${at}.data must be a string or {"format": ..., "value": ...}`);
  }
  const { value } = data;
  switch (data.format.toLowerCase()) {
    case 'string':
      if (typeof value !== 'string') throw new ValueInvalid(`${at}.data.value must be a string`);
      return Buffer.from(value, 'utf8');
    case 'base64':
      if (typeof value !== 'string' || !BASE64.test(value)) throw new ValueInvalid(`${at}.data.value is not Base64`);
      return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    case 'hex':
      if (typeof value !== 'string' || !HEX.test(value)) throw new ValueInvalid(`${at}.data.value is not hex`);
      return Buffer.from(value, 'hex');
    case 'admin': {
      if (!isPlainObject(value) || typeof value.handle !== 'string') {
        throw new ValueInvalid(`${at}.data.value must be {"handle", "index", "permissions"}`);
      }
      const permissions = typeof value.permissions === 'string' ? value.permissions : '';
      return encodeAdmin({
        handle: parseHandle(value.handle).text,
        index: parseIndex(value.index, `${at}.data.value.index`, 0),
        permissions: parsePermissionBits(permissions, 12, `${at}.data.value.permissions`),
      });
    }
    case 'vlist':
      if (!Array.isArray(value)) throw new ValueInvalid(`${at}.data.value must be an array`);
      return encodeValueList(value.map((r, i) => parseReference(r, `${at}.data.value[${i}]`)));
    case 'key':
      if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new ValueInvalid(`${at}.data.value must be a public JWK`);
      }
      if ('d' in value) throw new ValueInvalid(`${at}.data.value is a private key; publish only public keys`);
      return encodePublicKeyJwk(value as PublicJwk);
    default:
      throw new ValueFormatUnknown(`${at}.data.format "${data.format}" is not one of string, base64, hex, admin, vlist, key`, {
        type,
      });
  }
}

/**
 * Structured types must carry data their codec accepts and exactly the bytes their JSON view reads
 * back to: an HS_VLIST naming the handle "", an HS_ADMIN index above 2^31-1, a key with non-zero
 * flags, a short Ed25519 key or an RSA key with an empty modulus would otherwise be stored, then
 * shown in a form no client could send back. Bytes built from the `admin` format for HS_ADMIN and
 * `vlist` for HS_VLIST are canonical by construction and skip the check.
 */
function checkTypedData(type: string, data: Uint8Array, format: string, at: string): void {
  if (!isStructured(type) || format === CANONICAL_FORMAT[type]) return;
  let canonical: Uint8Array;
  try {
    canonical = parseData(type, structuredToJson(type, data), at);
  } catch (e) {
    throw new ValueInvalid(`${at}: data is not a valid ${type}: ${(e as Error).message}`);
  }
  if (!Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength).equals(data)) {
    throw new ValueInvalid(`${at}: data is not the canonical ${type} encoding (its JSON view would read back to other bytes)`);
  }
}

function parseTtl(x: unknown, at: string): Pick<HandleValue, 'ttl' | 'ttlType'> {
  if (x === undefined) return { ttlType: 'relative', ttl: DEFAULT_TTL };
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 0 || x > MAX_VALUE_INDEX) throw new ValueInvalid(`${at}.ttl must be 0..2^31-1 seconds`);
    return { ttlType: 'relative', ttl: x === 0 ? 0 : x }; // -0 (from JSON "-0") is stored and shown as 0
  }
  if (typeof x === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(x)) {
    const ms = Date.parse(x);
    if (Number.isFinite(ms) && ms >= 0 && ms / 1000 <= 0xffffffff) return { ttlType: 'absolute', ttl: Math.floor(ms / 1000) };
  }
  throw new ValueInvalid(`${at}.ttl must be seconds or an ISO-8601 time with a zone`);
}

/**
 * Parses one value from a request. The server sets `timestamp`: any given one is ignored, as the
 * Handle.Net server overwrites it on every write.
 */
export function valueFromJson(input: unknown, now: number, at = 'value'): HandleValue {
  if (!isPlainObject(input)) throw new ValueInvalid(`${at} must be an object`);
  for (const key of Object.keys(input)) {
    if (!VALUE_KEYS.has(key)) throw new ValueInvalid(`${at} has an unknown member "${key}"`);
  }
  const index = parseIndex(input.index, `${at}.index`, 1);
  // Stored as UTF-8: a lone surrogate would be written as U+FFFD, and a leading U+FEFF read back
  // as a byte order mark and dropped, so either would change the type between write and read.
  if (typeof input.type !== 'string' || !TYPE_PATTERN.test(input.type) || !input.type.isWellFormed() || input.type.startsWith('\ufeff')) {
    throw new ValueInvalid(`${at}.type must be 1-256 characters of well-formed Unicode without control characters or a leading U+FEFF`);
  }
  const type = input.type;
  const data = parseData(type, input.data, at);
  const format = typeof input.data === 'string' ? 'string' : String((input.data as { format: string }).format).toLowerCase();
  checkTypedData(type, data, format, at);
  const permissions =
    input.permissions === undefined ? DEFAULT_VALUE_PERMISSIONS : parsePermissionBits(String(input.permissions), 4, `${at}.permissions`);
  if (input.references !== undefined && !Array.isArray(input.references)) throw new ValueInvalid(`${at}.references must be an array`);
  const references = (input.references ?? []).map((r: unknown, i: number) => parseReference(r, `${at}.references[${i}]`));
  return { index, type, data, ...parseTtl(input.ttl, at), timestamp: now, permissions, references };
}
