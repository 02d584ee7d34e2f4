import type { JsonWebKey } from 'node:crypto';
import { foldHandleCase, prefixHandle } from '../../ids/handle.js';
import { encodeAdmin } from '../../records/admin.js';
import { ALL_ADMIN_PERMISSIONS, AdminPermission } from '../../records/permissions.js';
import { DEFAULT_VALUE_PERMISSIONS, PERM_ADMIN_WRITE, type HandleValue, type ValueReference } from '../../records/value.js';
import { SEP } from '../../store/store.js';
import type { Identity } from '../doa/identity.js';

/**
 * How the product registry lays its records out. Every product record is a handle record
 * (family `handle`), signed at write time like any other, so `/api/handles`, `/api/resolve`,
 * `/api/history` and mirrors serve them unchanged:
 *
 *   <prefix>/_manufacturer       the manufacturer
 *     1          PRODUCT.MANUFACTURER   {"name": "Acme Devices", "prefix": "20.5000.7"}
 *     1000+i     PRODUCT.ANCHOR         a trust anchor certificate (PEM), one value each
 *     2000+i     PRODUCT.CRL            a CRL (PEM) issued by one of the anchors, one value each
 *   <prefix>/_class/<classId>    a product class
 *     1          PRODUCT.CLASS          {"classId", "name", "model", "evidence", "gtin"?, "maxVerificationsPerDay"?}
 *     2          PRODUCT.SUN_KEYS       {"metaKey": hex32, "fileKey": hex32}, permissions 0100:
 *                                       nobody reads it through any API (not even admins);
 *                                       only the verifier uses it, inside the service
 *   <prefix>/<serial>            an item
 *     1          PRODUCT.CLASS_ID       the class id (reference: <prefix>/_class/<classId> index 1)
 *     2          PRODUCT.STATUS         {"status": "active", "reason": "...", "at": "<RFC 3339>"}
 *     3          PRODUCT.LOT            lot / batch (text)
 *     4          PRODUCT.MADE_AT        manufacture date (RFC 3339 full-date or date-time)
 *     5          PRODUCT.GTIN           GTIN-14
 *     6          PRODUCT.GS1            the GS1 Digital Link path /01/<gtin-14>/21/<serial>
 *     7          PRODUCT.IMEI           15 digits
 *     8          PRODUCT.DEVICE_KEY     the device public key: a JWK (JSON text) or an SPKI PEM
 *     9          PRODUCT.DEVICE_CERT    the device certificate (PEM)
 *     10         PRODUCT.SUN_UID        the NTAG tag UID, 14 upper-case hex digits
 *
 * and every one of them
 *     100        HS_ADMIN               300:0.NA/<prefix> (the manufacturer), READ_VALUE only
 *     101        HS_ADMIN               the service admin, every permission
 *
 * so the records change only through `/api/products` and `/api/manufacturers`, which check every
 * field (anchors are CAs, keys are public, check digits hold, aliases are unique); the generic
 * handle API cannot bypass those checks. Serials start with a letter or digit, so the `_` names
 * never collide with an item.
 *
 * Aliases: index terms written in the same batch as the item (the store appends `00 <record key>`):
 *   palias 00 imei 00 <15 digits>
 *   palias 00 gs1  00 <gtin-14>/<serial>
 * An index entry counts only while the record it names still carries the alias (a lookup checks).
 */
export const MANUFACTURER_SUFFIX = '_manufacturer';
export const CLASS_SUFFIX = '_class/';

export const TYPES = {
  manufacturer: 'PRODUCT.MANUFACTURER',
  anchor: 'PRODUCT.ANCHOR',
  crl: 'PRODUCT.CRL',
  cls: 'PRODUCT.CLASS',
  sunKeys: 'PRODUCT.SUN_KEYS',
  classId: 'PRODUCT.CLASS_ID',
  status: 'PRODUCT.STATUS',
  lot: 'PRODUCT.LOT',
  madeAt: 'PRODUCT.MADE_AT',
  gtin: 'PRODUCT.GTIN',
  gs1: 'PRODUCT.GS1',
  imei: 'PRODUCT.IMEI',
  deviceKey: 'PRODUCT.DEVICE_KEY',
  deviceCert: 'PRODUCT.DEVICE_CERT',
  sunUid: 'PRODUCT.SUN_UID',
} as const;

export const ITEM_INDEX = { classId: 1, status: 2, lot: 3, madeAt: 4, gtin: 5, gs1: 6, imei: 7, deviceKey: 8, deviceCert: 9, sunUid: 10 } as const;
export const ANCHOR_BASE_INDEX = 1000;
export const CRL_BASE_INDEX = 2000;
/** Most anchors and CRLs a manufacturer keeps (each PUT replaces the set). */
export const MAX_ANCHORS = 32;
export const MAX_CRLS = 64;
export const MANUFACTURER_ADMIN_INDEX = 300;

export const ALIAS_INDEX = 'palias';
export type AliasKind = 'imei' | 'gs1';

export type EvidenceType = 'none' | 'device-signature' | 'x509-chain' | 'sun';
export const EVIDENCE_TYPES: readonly EvidenceType[] = ['none', 'device-signature', 'x509-chain', 'sun'];

export type ItemStatus = 'active' | 'recalled' | 'stolen' | 'consumed' | 'destroyed' | 'key-compromised';
export const ITEM_STATUSES: readonly ItemStatus[] = ['active', 'recalled', 'stolen', 'consumed', 'destroyed', 'key-compromised'];
/** Statuses an item never leaves. */
export const FINAL_STATUSES: readonly ItemStatus[] = ['destroyed'];

export interface SunKeys {
  /** AES-128 key for the encrypted PICC data, 32 hex digits. */
  readonly metaKey: string;
  /** AES-128 key for the SDM file data and CMAC session keys, 32 hex digits. */
  readonly fileKey: string;
}

export interface ManufacturerInfo {
  readonly prefix: string;
  readonly name: string;
  /** PEM certificates, in registration order. */
  readonly anchors: readonly string[];
  /** PEM CRLs, in registration order. */
  readonly crls: readonly string[];
}

export interface ClassInfo {
  readonly classId: string;
  readonly name: string;
  readonly model: string;
  readonly evidence: EvidenceType;
  /** GTIN-14. */
  readonly gtin?: string;
  readonly sunKeys?: SunKeys;
  readonly maxVerificationsPerDay?: number;
}

export interface StatusInfo {
  readonly status: ItemStatus;
  readonly reason?: string;
  /** RFC 3339, when the status was set. */
  readonly at: string;
}

export interface ItemInfo {
  /** The class id (not its handle). */
  readonly class: string;
  readonly status: ItemStatus;
  readonly statusReason?: string;
  readonly statusAt?: string;
  /** A public JWK (as an object) or an SPKI PEM (as text). */
  readonly devicePublicKey?: JsonWebKey | string;
  /** PEM. */
  readonly deviceCertificate?: string;
  /** 14 upper-case hex digits. */
  readonly sunUid?: string;
  readonly imei?: string;
  /** GTIN-14. */
  readonly gtin?: string;
  /** The GS1 Digital Link path `/01/<gtin-14>/21/<serial>`. */
  readonly gs1?: string;
  readonly lot?: string;
  readonly madeAt?: string;
}

// ---- handles and keys --------------------------------------------------------------------------

export const manufacturerHandle = (prefix: string): string => `${prefix}/${MANUFACTURER_SUFFIX}`;
export const classHandle = (prefix: string, classId: string): string => `${prefix}/${CLASS_SUFFIX}${classId}`;
export const itemHandle = (prefix: string, serial: string): string => `${prefix}/${serial}`;

export function aliasTerm(kind: AliasKind, value: string): string {
  return `${ALIAS_INDEX}${SEP}${kind}${SEP}${value}`;
}

/** `<gtin-14>/<serial>`: the GS1 alias as indexed. */
export const gs1AliasValue = (gtin14: string, serial: string): string => `${gtin14}/${serial}`;

/** The alias index terms of an item's values (none for a record that is not an active item). */
export function itemAliasTerms(values: readonly HandleValue[] | undefined, serial: string): string[] {
  if (!values) return [];
  const terms: string[] = [];
  const imei = text(values, TYPES.imei);
  const gtin = text(values, TYPES.gtin);
  if (imei !== undefined) terms.push(aliasTerm('imei', imei));
  if (gtin !== undefined && text(values, TYPES.gs1) !== undefined) terms.push(aliasTerm('gs1', gs1AliasValue(gtin, serial)));
  return terms;
}

/** Handle keys compare case-folded. */
export const recordKey = (handle: string): string => foldHandleCase(handle);

// ---- values ------------------------------------------------------------------------------------

export function value(index: number, type: string, data: string, now: number, extra: { permissions?: number; references?: ValueReference[] } = {}): HandleValue {
  return {
    index,
    type,
    data: Buffer.from(data, 'utf8'),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: now,
    permissions: extra.permissions ?? DEFAULT_VALUE_PERMISSIONS,
    references: extra.references ?? [],
  };
}

/** The two HS_ADMIN values every product record carries. */
export function productAdmins(prefix: string, serviceAdmin: Identity, now: number): HandleValue[] {
  const admin = (index: number, ref: { handle: string; index: number; permissions: number }): HandleValue => ({
    index,
    type: 'HS_ADMIN',
    data: encodeAdmin(ref),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: now,
    permissions: 0b1110,
    references: [],
  });
  return [
    admin(100, { handle: prefixHandle(prefix), index: MANUFACTURER_ADMIN_INDEX, permissions: AdminPermission.READ_VALUE }),
    admin(101, { handle: serviceAdmin.handle, index: serviceAdmin.index, permissions: ALL_ADMIN_PERMISSIONS }),
  ];
}

export function manufacturerValues(m: ManufacturerInfo, now: number): HandleValue[] {
  return [
    value(1, TYPES.manufacturer, JSON.stringify({ name: m.name, prefix: m.prefix }), now),
    ...m.anchors.map((pem, i) => value(ANCHOR_BASE_INDEX + i, TYPES.anchor, pem, now)),
    ...m.crls.map((pem, i) => value(CRL_BASE_INDEX + i, TYPES.crl, pem, now)),
  ];
}

export function classValues(c: ClassInfo, now: number): HandleValue[] {
  const { sunKeys, ...pub } = c;
  const out = [value(1, TYPES.cls, JSON.stringify(pub), now)];
  // Admin write only: no read bit, so neither resolution nor `auth=true` nor search returns it.
  if (sunKeys) out.push(value(2, TYPES.sunKeys, JSON.stringify({ metaKey: sunKeys.metaKey, fileKey: sunKeys.fileKey }), now, { permissions: PERM_ADMIN_WRITE }));
  return out;
}

export function itemValues(prefix: string, item: ItemInfo, now: number): HandleValue[] {
  const status: StatusInfo = { status: item.status, ...(item.statusReason === undefined ? {} : { reason: item.statusReason }), at: item.statusAt ?? new Date(now * 1000).toISOString() };
  const out = [
    value(ITEM_INDEX.classId, TYPES.classId, item.class, now, { references: [{ handle: classHandle(prefix, item.class), index: 1 }] }),
    value(ITEM_INDEX.status, TYPES.status, JSON.stringify(status), now),
  ];
  const opt = (index: number, type: string, v: string | undefined): void => {
    if (v !== undefined) out.push(value(index, type, v, now));
  };
  opt(ITEM_INDEX.lot, TYPES.lot, item.lot);
  opt(ITEM_INDEX.madeAt, TYPES.madeAt, item.madeAt);
  opt(ITEM_INDEX.gtin, TYPES.gtin, item.gtin);
  opt(ITEM_INDEX.gs1, TYPES.gs1, item.gs1);
  opt(ITEM_INDEX.imei, TYPES.imei, item.imei);
  opt(ITEM_INDEX.deviceKey, TYPES.deviceKey, typeof item.devicePublicKey === 'object' ? JSON.stringify(item.devicePublicKey) : item.devicePublicKey);
  opt(ITEM_INDEX.deviceCert, TYPES.deviceCert, item.deviceCertificate);
  opt(ITEM_INDEX.sunUid, TYPES.sunUid, item.sunUid);
  return out;
}

// ---- decoding ----------------------------------------------------------------------------------

function text(values: readonly HandleValue[], type: string): string | undefined {
  const v = values.find((x) => x.type === type);
  return v === undefined ? undefined : Buffer.from(v.data).toString('utf8');
}

function json(values: readonly HandleValue[], type: string): Record<string, unknown> | undefined {
  const t = text(values, type);
  if (t === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(t);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function decodeManufacturer(values: readonly HandleValue[]): ManufacturerInfo | undefined {
  const m = json(values, TYPES.manufacturer);
  if (!m || typeof m.name !== 'string' || typeof m.prefix !== 'string') return undefined;
  const all = (type: string): string[] =>
    values
      .filter((v) => v.type === type)
      .sort((a, b) => a.index - b.index)
      .map((v) => Buffer.from(v.data).toString('utf8'));
  return { prefix: m.prefix, name: m.name, anchors: all(TYPES.anchor), crls: all(TYPES.crl) };
}

export function decodeClass(values: readonly HandleValue[]): ClassInfo | undefined {
  const c = json(values, TYPES.cls);
  if (!c || typeof c.classId !== 'string' || !EVIDENCE_TYPES.includes(c.evidence as EvidenceType)) return undefined;
  const keys = json(values, TYPES.sunKeys);
  const metaKey = str(keys?.metaKey);
  const fileKey = str(keys?.fileKey);
  const gtin = str(c.gtin);
  const max = typeof c.maxVerificationsPerDay === 'number' ? c.maxVerificationsPerDay : undefined;
  return {
    classId: c.classId,
    name: str(c.name) ?? '',
    model: str(c.model) ?? '',
    evidence: c.evidence as EvidenceType,
    ...(gtin === undefined ? {} : { gtin }),
    ...(metaKey !== undefined && fileKey !== undefined ? { sunKeys: { metaKey, fileKey } } : {}),
    ...(max === undefined ? {} : { maxVerificationsPerDay: max }),
  };
}

export function decodeStatus(values: readonly HandleValue[]): StatusInfo | undefined {
  const s = json(values, TYPES.status);
  if (!s || !ITEM_STATUSES.includes(s.status as ItemStatus)) return undefined;
  const reason = str(s.reason);
  return { status: s.status as ItemStatus, ...(reason === undefined ? {} : { reason }), at: str(s.at) ?? '' };
}

/** An item's fields, or undefined when the values are not an item's (no class id or status). */
export function decodeItem(values: readonly HandleValue[]): ItemInfo | undefined {
  const cls = text(values, TYPES.classId);
  const status = decodeStatus(values);
  if (cls === undefined || status === undefined) return undefined;
  const key = text(values, TYPES.deviceKey);
  let devicePublicKey: JsonWebKey | string | undefined = key;
  if (key !== undefined && key.trimStart().startsWith('{')) {
    try {
      devicePublicKey = JSON.parse(key) as JsonWebKey;
    } catch {
      devicePublicKey = key;
    }
  }
  const fields = {
    devicePublicKey,
    deviceCertificate: text(values, TYPES.deviceCert),
    sunUid: text(values, TYPES.sunUid),
    imei: text(values, TYPES.imei),
    gtin: text(values, TYPES.gtin),
    gs1: text(values, TYPES.gs1),
    lot: text(values, TYPES.lot),
    madeAt: text(values, TYPES.madeAt),
  };
  const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<ItemInfo>;
  return {
    class: cls,
    status: status.status,
    ...(status.reason === undefined ? {} : { statusReason: status.reason }),
    ...(status.at ? { statusAt: status.at } : {}),
    ...present,
  };
}
