import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { DeviceKeyInvalid, DeviceKeyPrivate, ProductClassInvalid, ProductItemInvalid } from '../../errors.js';
import { parseGtin } from '../../ids/gs1.js';
import { parseImei } from '../../ids/imei.js';
import { certificatePublicKey, parseCertificate } from './x509.js';
import { EVIDENCE_TYPES, ITEM_STATUSES, type EvidenceType, type ItemStatus, type SunKeys } from './product-record.js';

/**
 * Request bodies of the product registry, checked strictly: unknown members are refused, every
 * error names its member in `field`, and identifiers keep their own codes (a GTIN with a wrong
 * check digit is ERR_GTIN_CHECK_MISMATCH, an IMEI with a wrong Luhn digit ERR_IMEI_CHECK_MISMATCH).
 */
export const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CLASS_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const HEX32 = /^[0-9A-Fa-f]{32}$/;
const SUN_UID = /^[0-9A-Fa-f]{14}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
export const MAX_TEXT = 200;
export const MAX_REASON = 500;
export const MAX_VERIFICATIONS_PER_DAY = 1_000_000;

export interface ClassBody {
  readonly name: string;
  readonly model: string;
  readonly evidence: EvidenceType;
  /** GTIN-14. */
  readonly gtin?: string;
  readonly sunKeys?: SunKeys;
  readonly maxVerificationsPerDay?: number;
}

export interface ItemBody {
  readonly class: string;
  /** Normalised public JWK (`kty`, `crv`, `x`, `y`). */
  readonly devicePublicKey?: JsonWebKey;
  /** Canonical PEM. */
  readonly deviceCertificate?: string;
  /** Upper-case hex. */
  readonly sunUid?: string;
  readonly lot?: string;
  readonly madeAt?: string;
  /** GTIN-14. */
  readonly gtin?: string;
  readonly imei?: string;
}

export interface StatusBody {
  readonly status: ItemStatus;
  readonly reason: string;
}

type Invalid = (message: string, details: Record<string, unknown>) => Error;

function object(body: unknown, what: string, invalid: Invalid): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${what} must be a JSON object`, {});
  return body as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], invalid: Invalid): void {
  const unknown = Object.keys(o).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw invalid(`Unknown member "${unknown.slice(0, 40)}"; allowed: ${allowed.join(', ')}`, { field: unknown.slice(0, 40) });
}

function text(o: Record<string, unknown>, field: string, invalid: Invalid, max = MAX_TEXT): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > max || CONTROL.test(v) || !v.isWellFormed()) {
    throw invalid(`"${field}" must be 1 to ${max} characters of text without control characters`, { field });
  }
  return v.trim();
}

function required<T>(v: T | undefined, field: string, invalid: Invalid): T {
  if (v === undefined) throw invalid(`"${field}" is required`, { field });
  return v;
}

/** Codes of identifier parsers keep their code; `field` is added. */
function withField<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    const err = e as { details?: Record<string, unknown> };
    if (err && typeof err === 'object' && 'code' in err) Object.assign(err, { details: { ...err.details, field } });
    throw e;
  }
}

export function parseSerial(text: string): string {
  if (typeof text !== 'string' || !SERIAL.test(text)) {
    throw new ProductItemInvalid('serial must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit', { field: 'serial' });
  }
  return text;
}

export function parseClassId(text: string): string {
  if (typeof text !== 'string' || !CLASS_ID.test(text)) {
    throw new ProductClassInvalid('classId must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit', { field: 'classId' });
  }
  return text;
}

const classInvalid: Invalid = (m, d) => new ProductClassInvalid(m, d);
const itemInvalid: Invalid = (m, d) => new ProductItemInvalid(m, d);

/** `{"name", "model", "evidence", "gtin"?, "sunKeys"?: {"metaKey", "fileKey"}, "maxVerificationsPerDay"?}`. */
export function parseClassBody(body: unknown): ClassBody {
  const o = object(body, 'A product class', classInvalid);
  onlyKeys(o, ['name', 'model', 'evidence', 'gtin', 'sunKeys', 'maxVerificationsPerDay'], classInvalid);
  const name = required(text(o, 'name', classInvalid), 'name', classInvalid);
  const model = required(text(o, 'model', classInvalid), 'model', classInvalid);
  if (!EVIDENCE_TYPES.includes(o.evidence as EvidenceType)) {
    throw new ProductClassInvalid(`"evidence" must be one of ${EVIDENCE_TYPES.join(', ')}`, { field: 'evidence' });
  }
  const evidence = o.evidence as EvidenceType;
  let gtin: string | undefined;
  if (o.gtin !== undefined) gtin = withField('gtin', () => parseGtin(o.gtin as string).gtin14);
  let sunKeys: SunKeys | undefined;
  if (o.sunKeys !== undefined) {
    if (evidence !== 'sun') throw new ProductClassInvalid('"sunKeys" belong to a class whose evidence is "sun"', { field: 'sunKeys' });
    const k = object(o.sunKeys, '"sunKeys"', (m) => new ProductClassInvalid(m, { field: 'sunKeys' }));
    onlyKeys(k, ['metaKey', 'fileKey'], (m) => new ProductClassInvalid(m, { field: 'sunKeys' }));
    for (const f of ['metaKey', 'fileKey'] as const) {
      if (typeof k[f] !== 'string' || !HEX32.test(k[f])) throw new ProductClassInvalid(`"sunKeys.${f}" must be an AES-128 key: 32 hex digits`, { field: `sunKeys.${f}` });
    }
    sunKeys = { metaKey: (k.metaKey as string).toUpperCase(), fileKey: (k.fileKey as string).toUpperCase() };
  }
  let maxVerificationsPerDay: number | undefined;
  if (o.maxVerificationsPerDay !== undefined) {
    const n = o.maxVerificationsPerDay;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_VERIFICATIONS_PER_DAY) {
      throw new ProductClassInvalid(`"maxVerificationsPerDay" must be a whole number from 1 to ${MAX_VERIFICATIONS_PER_DAY}`, { field: 'maxVerificationsPerDay' });
    }
    maxVerificationsPerDay = n;
  }
  return {
    name,
    model,
    evidence,
    ...(gtin === undefined ? {} : { gtin }),
    ...(sunKeys === undefined ? {} : { sunKeys }),
    ...(maxVerificationsPerDay === undefined ? {} : { maxVerificationsPerDay }),
  };
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The device key kinds a verifier checks: Ed25519 and EC P-256. */
function supportedKey(key: KeyObject, field: string): JsonWebKey {
  const ok = key.asymmetricKeyType === 'ed25519' || (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  if (!ok) throw new DeviceKeyInvalid(`${field}: the device key must be Ed25519 or EC P-256`, { field });
  const jwk = key.export({ format: 'jwk' });
  return jwk.kty === 'OKP' ? { kty: 'OKP', crv: jwk.crv, x: jwk.x } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/**
 * A device public key: a JWK object (a private member such as `d` is ERR_DEVICE_KEY_PRIVATE) or
 * an SPKI PEM (`-----BEGIN PUBLIC KEY-----`; a private-key PEM is ERR_DEVICE_KEY_PRIVATE). Stored
 * as its public JWK (`kty`, `crv`, `x`, `y`).
 */
export function parseDevicePublicKey(input: unknown, field = 'devicePublicKey'): JsonWebKey {
  if (typeof input === 'string') {
    if (/-----BEGIN [A-Z ]*PRIVATE\sKEY-----/.test(input)) throw new DeviceKeyPrivate(`${field}: a private key was sent; register the public key only`, { field });
    if (!/^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/.test(input)) {
      throw new DeviceKeyInvalid(`${field}: a PEM key must be one SPKI block (-----BEGIN PUBLIC KEY-----)`, { field });
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: input, format: 'pem' });
    } catch {
      throw new DeviceKeyInvalid(`${field}: the PEM is not a public key`, { field });
    }
    return supportedKey(key, field);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new DeviceKeyInvalid(`${field} must be a JWK object or an SPKI PEM`, { field });
  const jwk = input as Record<string, unknown>;
  const priv = PRIVATE_JWK_MEMBERS.find((m) => m in jwk);
  if (priv !== undefined) throw new DeviceKeyPrivate(`${field}: the JWK carries "${priv}", a private part; register the public key only`, { field, member: priv });
  if (jwk.kty !== 'OKP' && jwk.kty !== 'EC') throw new DeviceKeyInvalid(`${field}: kty must be OKP (Ed25519) or EC (P-256)`, { field });
  for (const [k, v] of Object.entries(jwk)) {
    if (!['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops', 'ext'].includes(k)) throw new DeviceKeyInvalid(`${field}: unknown JWK member "${k.slice(0, 20)}"`, { field });
    if (['kty', 'crv', 'x', 'y'].includes(k) && typeof v !== 'string') throw new DeviceKeyInvalid(`${field}: JWK member "${k}" must be a string`, { field });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.y === undefined ? {} : { y: jwk.y }) } as JsonWebKey, format: 'jwk' });
  } catch {
    throw new DeviceKeyInvalid(`${field}: the JWK is not a valid public key`, { field });
  }
  return supportedKey(key, field);
}

/** RFC 3339 full-date (a real calendar day) or date-time with a zone. */
function parseMadeAt(o: Record<string, unknown>): string | undefined {
  const v = o.madeAt;
  if (v === undefined) return undefined;
  const bad = (): ProductItemInvalid => new ProductItemInvalid('"madeAt" must be an RFC 3339 date (2026-03-01) or date-time with a zone', { field: 'madeAt' });
  if (typeof v !== 'string') throw bad();
  const d = DATE.exec(v);
  if (d) {
    const date = new Date(Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3])));
    if (date.getUTCFullYear() !== Number(d[1]) || date.getUTCMonth() !== Number(d[2]) - 1 || date.getUTCDate() !== Number(d[3])) throw bad();
    return v;
  }
  if (!DATE_TIME.test(v) || !Number.isFinite(Date.parse(v))) throw bad();
  return v;
}

export const ITEM_MEMBERS = ['class', 'devicePublicKey', 'deviceCertificate', 'sunUid', 'lot', 'madeAt', 'gtin', 'imei'] as const;

/** An item body (or a bulk row without its `serial` and `prefix`). */
export function parseItemBody(body: unknown, extraMembers: readonly string[] = []): ItemBody {
  const o = object(body, 'An item', itemInvalid);
  onlyKeys(o, [...ITEM_MEMBERS, ...extraMembers], itemInvalid);
  if (typeof o.class !== 'string') throw new ProductItemInvalid('"class" (the class id) is required', { field: 'class' });
  if (!CLASS_ID.test(o.class)) throw new ProductItemInvalid('"class" is not a class id', { field: 'class' });
  const devicePublicKey = o.devicePublicKey === undefined ? undefined : parseDevicePublicKey(o.devicePublicKey);
  let deviceCertificate: string | undefined;
  if (o.deviceCertificate !== undefined) {
    const cert = parseCertificate(o.deviceCertificate, 'deviceCertificate');
    const certKey = supportedKey(certificatePublicKey(cert, 'deviceCertificate'), 'deviceCertificate');
    if (devicePublicKey && JSON.stringify(certKey) !== JSON.stringify(devicePublicKey)) {
      throw new ProductItemInvalid('"devicePublicKey" is not the key of "deviceCertificate"', { field: 'devicePublicKey' });
    }
    deviceCertificate = cert.pem;
  }
  let sunUid: string | undefined;
  if (o.sunUid !== undefined) {
    if (typeof o.sunUid !== 'string' || !SUN_UID.test(o.sunUid)) throw new ProductItemInvalid('"sunUid" must be the 7-byte tag UID: 14 hex digits', { field: 'sunUid' });
    sunUid = o.sunUid.toUpperCase();
  }
  const lot = text(o, 'lot', itemInvalid, 64);
  const madeAt = parseMadeAt(o);
  const gtin = o.gtin === undefined ? undefined : withField('gtin', () => parseGtin(o.gtin as string).gtin14);
  const imei = o.imei === undefined ? undefined : withField('imei', () => parseImei(o.imei as string).text);
  return {
    class: o.class,
    ...(devicePublicKey ? { devicePublicKey } : {}),
    ...(deviceCertificate ? { deviceCertificate } : {}),
    ...(sunUid ? { sunUid } : {}),
    ...(lot ? { lot } : {}),
    ...(madeAt ? { madeAt } : {}),
    ...(gtin ? { gtin } : {}),
    ...(imei ? { imei } : {}),
  };
}

/** `{"status": ..., "reason": "..."}`. */
export function parseStatusBody(body: unknown): StatusBody {
  const o = object(body, 'A status change', itemInvalid);
  onlyKeys(o, ['status', 'reason'], itemInvalid);
  if (!ITEM_STATUSES.includes(o.status as ItemStatus)) throw new ProductItemInvalid(`"status" must be one of ${ITEM_STATUSES.join(', ')}`, { field: 'status' });
  const reason = required(text(o, 'reason', itemInvalid, MAX_REASON), 'reason', itemInvalid);
  return { status: o.status as ItemStatus, reason };
}
