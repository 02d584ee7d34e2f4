import { IdentifierInvalid } from '../../errors.js';
import { foldHandleCase, isHomed, parseHandle, type Handle } from '../../ids/handle.js';
import { parseGs1DigitalLink } from '../../ids/gs1.js';
import { parseImeiId } from '../../ids/imei.js';
import type { StoredRecord } from '../../records/record.js';
import type { RecordStore } from '../../store/store.js';
import { RecordCache } from './record-cache.js';
import {
  aliasTerm,
  classHandle,
  decodeClass,
  decodeItem,
  decodeManufacturer,
  gs1AliasValue,
  manufacturerHandle,
  MANUFACTURER_SUFFIX,
  CLASS_SUFFIX,
  TYPES,
  type AliasKind,
  type ClassInfo,
  type ItemInfo,
  type ManufacturerInfo,
} from './product-record.js';

export type {
  ClassInfo,
  EvidenceType,
  ItemInfo,
  ItemStatus,
  ManufacturerInfo,
  StatusInfo,
  SunKeys,
} from './product-record.js';
export { EVIDENCE_TYPES, ITEM_STATUSES } from './product-record.js';

/**
 * The product registry's read side, for the verifier and the resolver (issue 6).
 *
 * `findItem(id)` takes any of an item's identifiers:
 *   - its handle, `20.5000.7/SN-000123` or `hdl:20.5000.7/SN-000123`;
 *   - a GS1 Digital Link path `/01/{gtin}/21/{serial}` (also with `/22/`, `/10/` qualifiers, or a
 *     whole `https://…/01/…/21/…` URI); the GTIN may be 8, 12, 13 or 14 digits;
 *   - `imei:<15 digits>` (or an IMEISV `imei:<16 digits>`: the same device's IMEI is looked up).
 * and answers the item with its class and manufacturer, or `undefined` when no item has that
 * identifier (a handle that is not a product item, an alias nobody registered). A malformed
 * identifier throws its CairnError (ERR_IDENTIFIER_INVALID, ERR_HANDLE_INVALID,
 * ERR_GS1_LINK_INVALID, ERR_GTIN_CHECK_MISMATCH, ERR_IMEI_INVALID, ERR_IMEI_CHECK_MISMATCH ...),
 * so a verifier can answer it as a malformed request.
 *
 * A tombstoned item (deleted through the handle API) is answered with `record.status ===
 * 'tombstoned'` and the fields of its last live version; only its handle finds it (aliases name
 * live items only).
 *
 * `cls.sunKeys` is there for the verifier only: it is stored admin-write-only and never leaves the
 * service through any API.
 */
export interface ItemLookup {
  /** The item's handle as registered, `<prefix>/<serial>`. */
  readonly handle: string;
  /** Which identifier found it. */
  readonly via: 'handle' | AliasKind;
  /** The stored, signed record (version, values, signature) as it is now. */
  readonly record: StoredRecord;
  readonly item: ItemInfo;
  readonly cls: ClassInfo;
  readonly manufacturer: ManufacturerInfo;
}

export interface ProductRegistryOptions {
  /** The service prefix (`20.5000`): only handles under it and its derived prefixes are looked up. */
  readonly prefix: string;
}

export class ProductRegistry {
  // Verification reads the same few records over and over: keep them decoded (record-cache.ts).
  private readonly items: RecordCache<{ readonly record: StoredRecord; readonly item: ItemInfo | undefined }>;
  private readonly manufacturers: RecordCache<ManufacturerInfo | undefined>;
  private readonly classes: RecordCache<ClassInfo | undefined>;

  constructor(
    private readonly store: RecordStore,
    private readonly options: ProductRegistryOptions,
  ) {
    this.items = new RecordCache(store, (record) => ({ record, item: record.status === 'active' ? decodeItem(record.values) : undefined }));
    this.manufacturers = new RecordCache(store, (record) => (record.status === 'active' ? decodeManufacturer(record.values) : undefined));
    this.classes = new RecordCache(store, (record) => (record.status === 'active' ? decodeClass(record.values) : undefined));
  }

  /** The item an identifier names, with its class and manufacturer; undefined if none. */
  async findItem(idText: string): Promise<ItemLookup | undefined> {
    if (typeof idText !== 'string' || idText.length === 0) throw new IdentifierInvalid('Identifier is empty');
    if (/^imei:/i.test(idText)) {
      const parsed = parseImeiId(idText);
      return this.byAlias('imei', parsed.kind === 'imei' ? parsed.text : parsed.imei);
    }
    if (idText.startsWith('/') || /^https?:\/\//i.test(idText)) {
      const link = parseGs1DigitalLink(idText);
      return this.byAlias('gs1', gs1AliasValue(link.gtin.gtin14, link.serial));
    }
    const handle = parseHandle(/^hdl:/i.test(idText) ? idText.slice(4) : idText);
    return this.byHandle(handle, 'handle');
  }

  /** The item at this handle (as `findItem` does for a handle). */
  async findItemByHandle(handleText: string): Promise<ItemLookup | undefined> {
    return this.byHandle(parseHandle(handleText), 'handle');
  }

  /** The manufacturer registered under a prefix, or undefined. */
  findManufacturer(prefix: string): ManufacturerInfo | undefined {
    return this.manufacturers.get(foldHandleCase(manufacturerHandle(prefix)));
  }

  /** A product class (SUN keys included), or undefined. */
  findClass(prefix: string, classId: string): ClassInfo | undefined {
    return this.classes.get(foldHandleCase(classHandle(prefix, classId)));
  }

  /** The record key of the live item holding an alias, or undefined (stale index entries skipped). */
  async aliasHolder(kind: AliasKind, aliasValue: string): Promise<StoredRecord | undefined> {
    for (const id of await this.store.indexIds(aliasTerm(kind, aliasValue), { limit: 16 })) {
      const record = this.store.findRecord(foldHandleCase(id));
      if (record?.status === 'active' && carriesAlias(record, kind, aliasValue)) return record;
    }
    return undefined;
  }

  private async byAlias(kind: AliasKind, aliasValue: string): Promise<ItemLookup | undefined> {
    const record = await this.aliasHolder(kind, aliasValue);
    return record ? this.lookup(parseHandle(record.id), record, kind) : undefined;
  }

  private async byHandle(handle: Handle, via: ItemLookup['via']): Promise<ItemLookup | undefined> {
    if (!isHomed(handle, this.options.prefix) || foldHandleCase(handle.prefix) === '0.NA') return undefined;
    if (handle.suffix === MANUFACTURER_SUFFIX || handle.suffix.startsWith(CLASS_SUFFIX)) return undefined;
    const cached = this.items.get(handle.key);
    if (!cached || cached.record.family !== 'handle') return undefined;
    return this.lookup(handle, cached.record, via, cached.item);
  }

  private async lookup(handle: Handle, record: StoredRecord, via: ItemLookup['via'], decoded?: ItemInfo): Promise<ItemLookup | undefined> {
    let item = decoded;
    if (record.status === 'tombstoned') {
      // The fields of the last live version.
      const history = await this.store.historyOf(handle.key);
      const live = history.reverse().find((r) => r.status === 'active');
      if (!live) return undefined;
      item = decodeItem(live.values);
    } else item ??= decodeItem(record.values);
    if (!item) return undefined;
    const prefix = parseHandle(record.id).prefix;
    const manufacturer = this.findManufacturer(prefix);
    const cls = this.findClass(prefix, item.class);
    // An item whose class or manufacturer is gone is not answered: its evidence rules are unknown,
    // and guessing `none` would let a verifier downgrade it.
    if (!manufacturer || !cls) return undefined;
    return { handle: record.id, via, record, item, cls, manufacturer };
  }
}

function carriesAlias(record: StoredRecord, kind: AliasKind, aliasValue: string): boolean {
  const item = decodeItem(record.values);
  if (!item) return false;
  if (kind === 'imei') return item.imei === aliasValue;
  const serial = parseHandle(record.id).suffix;
  return item.gtin !== undefined && record.values.some((v) => v.type === TYPES.gs1) && gs1AliasValue(item.gtin, serial) === aliasValue;
}
