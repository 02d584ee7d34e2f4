import {
  BodyInvalid,
  CairnError,
  HandleDeleted,
  ManifestReused,
  ManufacturerNotFound,
  ProductAliasTaken,
  ProductClassInvalid,
  ProductClassNotFound,
  ProductEvidenceMissing,
  ProductItemExists,
  ProductItemInvalid,
  ProductItemNotFound,
  ProductPrefixMismatch,
  ProductStatusFinal,
} from '../../errors.js';
import { formatGs1DigitalLink, isAiValue } from '../../ids/gs1.js';
import { foldHandleCase, isHomed, parseHandle, prefixHandle } from '../../ids/handle.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import { nextVersion, sameValue, type StoredRecord } from '../../records/record.js';
import { isPublicRead, type HandleValue } from '../../records/value.js';
import { decodeCompact } from '../../signing/jws.js';
import { findSignature, SIGNATURE_TYPE, withSignature } from '../../signing/record-signature.js';
import type { Signer } from '../../signing/signer.js';
import { SEP, type RecordStore, type RecordWrite } from '../../store/store.js';
import { requirePermission, type Principal } from '../doa/authorize.js';
import type { HandleService } from '../doa/handle-service.js';
import { formatIdentity } from '../doa/identity.js';
import { DerivedPrefixes, type DerivedPrefixCreated, type DerivedPrefixRequest } from '../doa/prefixes.js';
import { valueIndexTerms } from '../doa/reverse-index.js';
import { renderHandleView, tombstoneJson } from '../doa/views.js';
import {
  classHandle,
  classValues,
  decodeClass,
  decodeItem,
  FINAL_STATUSES,
  gs1AliasValue,
  itemAliasTerms,
  itemHandle,
  itemValues,
  MANUFACTURER_ADMIN_INDEX,
  manufacturerHandle,
  manufacturerValues,
  MAX_ANCHORS,
  MAX_CRLS,
  productAdmins,
  aliasTerm,
  type AliasKind,
  type ClassInfo,
  type ItemInfo,
  type ManufacturerInfo,
} from './product-record.js';
import { parseBatch } from './bulk.js';
import { ProductRegistry, type ItemLookup } from './registry.js';
import { parseClassBody, parseClassId, parseItemBody, parseSerial, parseStatusBody, type ItemBody } from './validate.js';
import { checkAnchor, crlIssuer, describeCertificate, describeCrl, parseCertificates, parseCertificate, parseCrls, type ParsedCertificate } from './x509.js';

export interface ProductServiceOptions {
  /** The service prefix, e.g. `20.5000`. */
  readonly prefix: string;
  /** `index:handle` of the signing key, the `iss` of every record signature. */
  readonly issuer: string;
  readonly signatureValiditySeconds: number;
  readonly now?: () => number;
}

/** One row of a bulk registration, as read from the NDJSON (bulk.ts). */
export interface BulkRow {
  /** 1-based line in the body or file. */
  readonly line: number;
  readonly serial?: string;
  /** The parsed row, when it parsed. */
  readonly json?: unknown;
  /** Set when the row was refused while reading (not JSON, duplicate serial, ...). */
  readonly error?: CairnError;
}

export interface BulkRowFailure {
  readonly line: number;
  readonly serial: string | null;
  readonly status: 'failed';
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  /** For a duplicate serial: the line that has it first. */
  readonly firstLine?: number;
}

export type BulkRowResult = { readonly line: number; readonly serial: string; readonly handle: string; readonly status: 'created' } | BulkRowFailure;

type ParsedRow = { readonly row: BulkRow; readonly error: CairnError } | { readonly row: BulkRow; readonly serial: string; readonly body: ItemBody; readonly error?: undefined };

export interface BatchResult extends BulkOutcome {
  readonly manifestId: string;
  readonly prefix: string;
  readonly count: number;
}

export interface BulkOutcome {
  readonly created: number;
  readonly failed: number;
  readonly results: BulkRowResult[];
}

/** What a manifest id answers once its batch is registered (stored, replayed on a repeat). */
export interface StoredManifest {
  readonly fingerprint: string;
  readonly at: number;
  readonly result: unknown;
}

const PREFIX_INDEX = 'prefix'; // HandleService's per-prefix listing (countHandles, GET /api/handles?prefix=)
const MANIFEST_META = 'pmanifest:';

export const manifestMetaKey = (prefix: string, manifestId: string): string => `${MANIFEST_META}${foldHandleCase(prefix)}${SEP}${manifestId}`;

/** Under the write lock: aliases and handles a batch has claimed so far. */
interface Pending {
  readonly aliases: Map<string, string>;
  readonly records: Map<string, StoredRecord>;
}

/**
 * The product registry's write side (issue 6): manufacturers (a derived prefix each, with the
 * trust anchors and CRLs the verifier checks chains against), product classes, items and their
 * lifecycle, and bulk registration. Layout: product-record.ts; reads: registry.ts.
 *
 * Authority: the service admin, or an identity with ADD_HANDLE on the manufacturer's prefix
 * record `0.NA/<prefix>` (its own admin `300:0.NA/<prefix>`, or a group the prefix record names).
 * Every write is one atomic batch: the record, its view, its index terms (per prefix, value
 * search, aliases), history and change-log entry.
 */
export class ProductService {
  readonly registry: ProductRegistry;
  private readonly now: () => number;
  private readonly prefixes: DerivedPrefixes;

  constructor(
    private readonly store: RecordStore,
    private readonly signer: Signer,
    private readonly handles: HandleService,
    private readonly options: ProductServiceOptions,
  ) {
    this.registry = new ProductRegistry(store, { prefix: options.prefix });
    this.now = options.now ?? (() => handles.nowSeconds());
    this.prefixes = new DerivedPrefixes(handles);
  }

  /** See `ProductRegistry.findItem`. */
  findItem(idText: string): Promise<ItemLookup | undefined> {
    return this.registry.findItem(idText);
  }

  // ---- manufacturers ----------------------------------------------------------------------------

  /**
   * `POST /api/manufacturers`: a derived prefix with its admin identity and the manufacturer record,
   * in one commit: a crash cannot leave a prefix without its `_manufacturer` record.
   */
  async createManufacturer(who: Principal, request: DerivedPrefixRequest): Promise<DerivedPrefixCreated & { manufacturer: string }> {
    const created = await this.prefixes.create(who, request, (prefix) => {
      const info: ManufacturerInfo = { prefix, name: request.name, anchors: [], crls: [] };
      const now = this.now();
      const values = keepTimestamps([...manufacturerValues(info, now), ...productAdmins(prefix, this.handles.serviceAdmin, now)], []);
      return [this.recordWrite(this.sign(manufacturerHandle(prefix), undefined, values, who, now), undefined)];
    });
    return { ...created, manufacturer: manufacturerHandle(created.prefix) };
  }

  /** The manufacturer of a prefix, for a writer it authorises (404 if none, 403 if not allowed). */
  private requireManufacturer(who: Principal, prefixText: string): ManufacturerInfo {
    const prefix = this.parsePrefix(prefixText);
    const record = prefixHandle(prefix);
    requirePermission(who, this.handles.liveValues(record) ?? [], 'ADD_HANDLE', record, this.handles.liveValues);
    return this.getManufacturer(prefix);
  }

  private parsePrefix(text: string): string {
    let ok = false;
    try {
      const h = parseHandle(`${text}/x`);
      ok = isHomed(h, this.options.prefix) && foldHandleCase(h.prefix) !== '0.NA';
    } catch {
      ok = false;
    }
    if (!ok) throw new ManufacturerNotFound(`"${String(text).slice(0, 64)}" is not a manufacturer prefix served here`, { prefix: String(text).slice(0, 64) });
    return text;
  }

  getManufacturer(prefixText: string): ManufacturerInfo {
    const prefix = this.parsePrefix(prefixText);
    const m = this.registry.findManufacturer(prefix);
    if (!m) throw new ManufacturerNotFound(`No manufacturer is registered under ${prefix}`, { prefix });
    return m;
  }

  manufacturerView(prefixText: string) {
    const m = this.getManufacturer(prefixText);
    const record = this.store.findRecord(foldHandleCase(manufacturerHandle(m.prefix)))!;
    return {
      prefix: m.prefix,
      name: m.name,
      handle: record.id,
      identity: formatIdentity({ index: MANUFACTURER_ADMIN_INDEX, handle: prefixHandle(m.prefix) }),
      anchors: m.anchors.map((pem, i) => describeCertificate(parseCertificate(pem, `anchors[${i}]`))),
      crls: m.crls.flatMap((pem, i) => parseCrls(pem, `crls[${i}]`).map(describeCrl)),
      ...bookkeeping(record),
    };
  }

  /**
   * `PUT /api/manufacturers/{prefix}/anchors` `{"anchors": [PEM, ...]}` (each entry may hold
   * several certificates): replaces the set. CRLs whose issuer is no longer an anchor are dropped
   * (counted in the answer).
   */
  async putAnchors(prefixText: string, body: unknown, who: Principal): Promise<{ anchors: number; droppedCrls: number }> {
    const m = this.requireManufacturer(who, prefixText);
    const list = pemList(body, 'anchors', () => new BodyInvalid('Body must be {"anchors": ["-----BEGIN CERTIFICATE-----...", ...]}', { field: 'anchors' }));
    const now = new Date(this.now() * 1000);
    const anchors: ParsedCertificate[] = [];
    list.forEach((pem, i) => {
      for (const c of parseCertificates(pem, `anchors[${i}]`)) {
        checkAnchor(c, `anchors[${i}]`, now);
        if (!anchors.some((a) => a.sha256 === c.sha256)) anchors.push(c);
      }
    });
    if (anchors.length > MAX_ANCHORS) throw new BodyInvalid(`At most ${MAX_ANCHORS} trust anchors`, { field: 'anchors' });
    return this.store.exclusive(async () => {
      const current = this.getManufacturer(m.prefix);
      const crls: string[] = [];
      for (const pem of current.crls) {
        const [crl] = parseCrls(pem, 'crl');
        try {
          await crlIssuer(crl!, anchors, 'crl');
          crls.push(pem);
        } catch {
          // its issuer is gone
        }
      }
      await this.writeManufacturer({ ...current, anchors: anchors.map((a) => a.pem), crls }, who);
      return { anchors: anchors.length, droppedCrls: current.crls.length - crls.length };
    });
  }

  /** `PUT /api/manufacturers/{prefix}/crls` `{"crls": [PEM, ...]}`: replaces the set; each CRL signed by an anchor. */
  async putCrls(prefixText: string, body: unknown, who: Principal): Promise<{ crls: number }> {
    const m = this.requireManufacturer(who, prefixText);
    const list = pemList(body, 'crls', () => new BodyInvalid('Body must be {"crls": ["-----BEGIN X509 CRL-----...", ...]}', { field: 'crls' }));
    const parsed = list.flatMap((pem, i) => parseCrls(pem, `crls[${i}]`).map((crl) => ({ crl, field: `crls[${i}]` })));
    if (parsed.length > MAX_CRLS) throw new BodyInvalid(`At most ${MAX_CRLS} CRLs`, { field: 'crls' });
    return this.store.exclusive(async () => {
      const current = this.getManufacturer(m.prefix);
      const anchors = current.anchors.map((pem, i) => parseCertificate(pem, `anchors[${i}]`));
      const pems: string[] = [];
      for (const { crl, field } of parsed) {
        await crlIssuer(crl, anchors, field);
        if (!pems.includes(crl.pem)) pems.push(crl.pem);
      }
      await this.writeManufacturer({ ...current, crls: pems }, who);
      return { crls: pems.length };
    });
  }

  private async writeManufacturer(info: ManufacturerInfo, who: Principal): Promise<void> {
    const handle = manufacturerHandle(info.prefix);
    const previous = this.store.findRecord(foldHandleCase(handle));
    const now = this.now();
    await this.commitOne(handle, previous, [...manufacturerValues(info, now), ...productAdmins(info.prefix, this.handles.serviceAdmin, now)], who, now);
  }

  // ---- classes ----------------------------------------------------------------------------------

  /**
   * `PUT /api/products/{prefix}/classes/{classId}`: creates or replaces a class. A `sun` class keeps
   * its keys when a replacement omits them (so that editing a name needs no secret).
   */
  async putClass(prefixText: string, classIdText: string, body: unknown, who: Principal): Promise<{ created: boolean }> {
    const m = this.requireManufacturer(who, prefixText);
    const classId = parseClassId(classIdText);
    const parsed = parseClassBody(body);
    return this.store.exclusive(async () => {
      const handle = classHandle(m.prefix, classId);
      const previous = this.store.findRecord(foldHandleCase(handle));
      const live = previous?.status === 'active' ? decodeClass(previous.values) : undefined;
      if (previous?.status === 'active' && !live) throw new ProductClassInvalid(`${handle} exists and is not a product class`, { handle });
      const registeredId = live?.classId ?? classId;
      const sunKeys = parsed.sunKeys ?? (parsed.evidence === 'sun' ? live?.sunKeys : undefined);
      if (parsed.evidence === 'sun' && !sunKeys) throw new ProductClassInvalid('A "sun" class needs "sunKeys": {"metaKey", "fileKey"}', { field: 'sunKeys' });
      const info: ClassInfo = { ...parsed, classId: registeredId, ...(sunKeys ? { sunKeys } : {}) };
      const now = this.now();
      await this.commitOne(handle, previous, [...classValues(info, now), ...productAdmins(m.prefix, this.handles.serviceAdmin, now)], who, now);
      return { created: previous?.status !== 'active' };
    });
  }

  getClass(prefixText: string, classIdText: string): ClassInfo {
    const m = this.getManufacturer(prefixText);
    const classId = parseClassId(classIdText);
    const cls = this.registry.findClass(m.prefix, classId);
    if (!cls) throw new ProductClassNotFound(`No class "${classId}" under ${m.prefix}`, { prefix: m.prefix, classId });
    return cls;
  }

  /** The class as anyone may read it: never the SUN keys, only whether they are set. */
  classView(prefixText: string, classIdText: string) {
    const cls = this.getClass(prefixText, classIdText);
    const m = this.getManufacturer(prefixText);
    const record = this.store.findRecord(foldHandleCase(classHandle(m.prefix, cls.classId)))!;
    const { sunKeys, ...pub } = cls;
    return { prefix: m.prefix, handle: record.id, ...pub, ...(cls.evidence === 'sun' ? { sunKeysSet: sunKeys !== undefined } : {}), ...bookkeeping(record) };
  }

  // ---- items ------------------------------------------------------------------------------------

  /**
   * `PUT /api/products/{prefix}/items/{serial}`: creates the item (status `active`) or replaces
   * its fields (the status stays: it changes through `setStatus` only). A handle there that is not
   * an item, or a deleted item, is refused.
   */
  async putItem(prefixText: string, serialText: string, body: unknown, who: Principal): Promise<{ handle: string; created: boolean }> {
    const m = this.requireManufacturer(who, prefixText);
    const serial = parseSerial(serialText);
    const parsed = parseItemBody(body);
    return this.store.exclusive(async () => {
      const pending: Pending = { aliases: new Map(), records: new Map() };
      const prepared = await this.prepareItem(m, serial, parsed, who, pending, 'put');
      if (prepared.write) await this.store.commit([prepared.write]);
      return { handle: prepared.handle, created: prepared.created };
    });
  }

  private liveItem(prefixText: string, serialText: string): { m: ManufacturerInfo; record: StoredRecord; item: ItemInfo } {
    const m = this.getManufacturer(prefixText);
    const serial = parseSerial(serialText);
    const handle = itemHandle(m.prefix, serial);
    const record = this.store.findRecord(foldHandleCase(handle));
    if (record?.status === 'tombstoned') throw new HandleDeleted(`${record.id} was deleted`, { handle: record.id, tombstone: tombstoneJson(record.tombstone) });
    const item = record ? decodeItem(record.values) : undefined;
    if (!record || !item) throw new ProductItemNotFound(`No item ${handle}`, { handle });
    return { m, record, item };
  }

  itemView(prefixText: string, serialText: string) {
    const { m, record, item } = this.liveItem(prefixText, serialText);
    return renderItemView(m, record, item);
  }

  /** `POST .../items/{serial}/status`: a new version with the new status; `destroyed` is final. */
  async setStatus(prefixText: string, serialText: string, body: unknown, who: Principal) {
    const m = this.requireManufacturer(who, prefixText);
    parseSerial(serialText);
    const change = parseStatusBody(body);
    return this.store.exclusive(async () => {
      const { record, item } = this.liveItem(m.prefix, serialText);
      if (FINAL_STATUSES.includes(item.status)) {
        throw new ProductStatusFinal(`${record.id} is ${item.status}; its status cannot change`, { handle: record.id, status: item.status });
      }
      const now = this.now();
      const next: ItemInfo = { ...item, status: change.status, statusReason: change.reason, statusAt: isoSeconds(now) };
      const values = [...itemValues(m.prefix, next, now), ...productAdmins(m.prefix, this.handles.serviceAdmin, now)];
      const written = await this.commitOne(record.id, record, values, who, now);
      return renderItemView(m, written, decodeItem(written.values)!);
    });
  }

  /**
   * Checks an item and builds its write, under the write lock. `mode` `create` (bulk) refuses an
   * existing serial; `put` replaces a live item's fields. Aliases are checked against the store
   * and against what the same batch claimed before (`pending`).
   */
  private async prepareItem(
    m: ManufacturerInfo,
    serial: string,
    body: ItemBody,
    who: Principal,
    pending: Pending,
    mode: 'put' | 'create',
  ): Promise<{ handle: string; created: boolean; write: RecordWrite | undefined }> {
    const cls = this.registry.findClass(m.prefix, body.class);
    if (!cls) throw new ProductClassNotFound(`No class "${body.class}" under ${m.prefix}`, { prefix: m.prefix, classId: body.class, field: 'class' });
    requireEvidence(cls, body);
    const handle = itemHandle(m.prefix, serial);
    const key = foldHandleCase(handle);
    const previous = pending.records.get(key) ?? this.store.findRecord(key);
    if (previous?.status === 'tombstoned') throw new ProductItemExists(`${previous.id} was deleted; its serial is not used again`, { handle: previous.id });
    const liveItem = previous ? decodeItem(previous.values) : undefined;
    if (previous && !liveItem) throw new ProductItemExists(`${previous.id} exists and is not a product item`, { handle: previous.id });
    if (previous && mode === 'create') throw new ProductItemExists(`${previous.id} is registered already; a bulk load never replaces items`, { handle: previous.id });
    const id = previous?.id ?? handle;
    const registeredSerial = parseHandle(id).suffix;
    const gtin = body.gtin ?? cls.gtin;
    let gs1: string | undefined;
    if (gtin !== undefined) {
      if (!isAiValue(registeredSerial)) {
        throw new ProductItemInvalid(`serial "${registeredSerial}" cannot be a GS1 serial (AI 21: at most 20 characters), so the item cannot carry a GTIN`, { field: 'serial' });
      }
      gs1 = formatGs1DigitalLink(gtin, registeredSerial);
    }
    const claims: { kind: AliasKind; value: string }[] = [];
    if (body.imei !== undefined) claims.push({ kind: 'imei', value: body.imei });
    if (gtin !== undefined) claims.push({ kind: 'gs1', value: gs1AliasValue(gtin, registeredSerial) });
    for (const claim of claims) {
      const term = aliasTerm(claim.kind, claim.value);
      const claimedBy = pending.aliases.get(term);
      const holder = claimedBy ?? (await this.registry.aliasHolder(claim.kind, claim.value))?.id;
      if (holder !== undefined && foldHandleCase(holder) !== key) {
        const what = claim.kind === 'imei' ? `IMEI ${claim.value}` : `GTIN ${gtin} with serial ${registeredSerial}`;
        throw new ProductAliasTaken(`${what} belongs to ${holder}`, { field: claim.kind === 'imei' ? 'imei' : 'gtin', alias: claim.kind, holder });
      }
    }
    const now = this.now();
    const info: ItemInfo = {
      class: cls.classId,
      status: liveItem?.status ?? 'active',
      ...(liveItem ? { ...(liveItem.statusReason === undefined ? {} : { statusReason: liveItem.statusReason }), ...(liveItem.statusAt === undefined ? {} : { statusAt: liveItem.statusAt }) } : { statusAt: isoSeconds(now) }),
      ...(body.devicePublicKey ? { devicePublicKey: body.devicePublicKey } : {}),
      ...(body.deviceCertificate ? { deviceCertificate: body.deviceCertificate } : {}),
      ...(body.sunUid ? { sunUid: body.sunUid } : {}),
      ...(body.lot ? { lot: body.lot } : {}),
      ...(body.madeAt ? { madeAt: body.madeAt } : {}),
      ...(gtin ? { gtin } : {}),
      ...(gs1 ? { gs1 } : {}),
      ...(body.imei ? { imei: body.imei } : {}),
    };
    const values = keepTimestamps([...itemValues(m.prefix, info, now), ...productAdmins(m.prefix, this.handles.serviceAdmin, now)], previous?.values ?? []);
    for (const claim of claims) pending.aliases.set(aliasTerm(claim.kind, claim.value), id);
    if (previous && sameSet(previous.values, values)) return { handle: id, created: false, write: undefined };
    const record = this.sign(id, previous, values, who, now);
    pending.records.set(key, record);
    return { handle: id, created: !previous, write: this.recordWrite(record, previous) };
  }

  // ---- bulk -------------------------------------------------------------------------------------

  /** The stored answer of a manifest id, or undefined; a different body under the same id is ERR_MANIFEST_REUSED. */
  async storedManifest(prefix: string, manifestId: string, fingerprint: string): Promise<StoredManifest | undefined> {
    const stored = await this.store.getMeta<StoredManifest>(manifestMetaKey(prefix, manifestId));
    if (stored && stored.fingerprint !== fingerprint) {
      throw new ManifestReused(`Manifest "${manifestId}" was registered with different rows`, { manifestId });
    }
    return stored;
  }

  /** Checks the writer and the manufacturer for a bulk load (before any row is read). */
  authorizeBulk(prefixText: string, who: Principal): ManufacturerInfo {
    return this.requireManufacturer(who, prefixText);
  }

  /**
   * Registers rows as new items, each on its own: a row that fails (its own error, an existing
   * serial, a taken alias, another prefix) is reported and writes nothing; the others are
   * committed together with `meta` (a checkpoint, the manifest's stored answer) in one batch.
   */
  async registerRows(m: ManufacturerInfo, rows: readonly BulkRow[], who: Principal, meta: (outcome: BulkOutcome) => Readonly<Record<string, unknown>>): Promise<BulkOutcome> {
    const parsed = this.parseRows(m, rows);
    return this.store.exclusive(() => this.registerParsed(m, parsed, who, meta));
  }

  /**
   * `POST /api/products/{prefix}/items`: a whole NDJSON batch (bulk.ts). The manifest id makes it
   * idempotent: the first answer is stored in the same batch as the items, and a repeat of the
   * same body answers it again (`replayed`) without writing.
   */
  async registerBatch(prefixText: string, body: string, who: Principal): Promise<{ replayed: boolean; result: BatchResult }> {
    const m = this.requireManufacturer(who, prefixText);
    const batch = parseBatch(body);
    const { manifest, fingerprint } = batch;
    if (manifest.prefix !== undefined && foldHandleCase(manifest.prefix) !== foldHandleCase(m.prefix)) {
      throw new ProductPrefixMismatch(`The manifest is for prefix "${manifest.prefix.slice(0, 64)}", the request for ${m.prefix}`, { field: 'prefix' });
    }
    const parsed = this.parseRows(m, batch.rows);
    return this.store.exclusive(async () => {
      const stored = await this.storedManifest(m.prefix, manifest.manifestId, fingerprint);
      if (stored) return { replayed: true, result: stored.result as BatchResult };
      let result: BatchResult | undefined;
      await this.registerParsed(m, parsed, who, (outcome) => {
        result = { manifestId: manifest.manifestId, prefix: m.prefix, count: manifest.count, ...outcome };
        const answer: StoredManifest = { fingerprint, at: this.now(), result };
        return { [manifestMetaKey(m.prefix, manifest.manifestId)]: answer };
      });
      return { replayed: false, result: result! };
    });
  }

  private parseRows(m: ManufacturerInfo, rows: readonly BulkRow[]): ParsedRow[] {
    return rows.map((row) => {
      if (row.error) return { row, error: row.error };
      try {
        const o = row.json as Record<string, unknown>;
        if (o.prefix !== undefined && (typeof o.prefix !== 'string' || foldHandleCase(o.prefix) !== foldHandleCase(m.prefix))) {
          throw new ProductPrefixMismatch(`line ${row.line}: the row is for prefix "${String(o.prefix).slice(0, 64)}", the batch for ${m.prefix}`, { field: 'prefix' });
        }
        const serial = parseSerial(o.serial as string);
        const { serial: _s, prefix: _p, ...rest } = o;
        return { row, serial, body: parseItemBody(rest) };
      } catch (e) {
        if (!(e instanceof CairnError)) throw e;
        return { row, error: e };
      }
    });
  }

  /** Under the write lock: each row on its own, the successful ones and `meta` in one commit. */
  private async registerParsed(m: ManufacturerInfo, parsed: readonly ParsedRow[], who: Principal, meta: (outcome: BulkOutcome) => Readonly<Record<string, unknown>>): Promise<BulkOutcome> {
    const pending: Pending = { aliases: new Map(), records: new Map() };
    const writes: RecordWrite[] = [];
    const results: BulkRowResult[] = [];
    let created = 0;
    for (const p of parsed) {
      const serial = p.row.serial ?? null;
      if (p.error) {
        results.push(failure(p.row.line, serial, p.error));
        continue;
      }
      try {
        const prepared = await this.prepareItem(m, p.serial, p.body, who, pending, 'create');
        if (prepared.write) writes.push(prepared.write);
        created++;
        results.push({ line: p.row.line, serial: p.serial, handle: prepared.handle, status: 'created' });
      } catch (e) {
        if (!(e instanceof CairnError)) throw e;
        results.push(failure(p.row.line, serial, e));
      }
    }
    const outcome: BulkOutcome = { created, failed: results.length - created, results };
    await this.store.commit(writes, meta(outcome));
    return outcome;
  }

  // ---- writing ----------------------------------------------------------------------------------

  private sign(id: string, previous: StoredRecord | undefined, values: readonly HandleValue[], who: Principal, now: number): StoredRecord {
    const { issuer, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(id, values, this.signer, { issuer, now, validitySeconds });
    return nextVersion(previous, { id, family: 'handle', owner: formatIdentity(who.identity), values: signed, now });
  }

  /** Writes one product record (unless nothing changed); call inside `exclusive`. */
  private async commitOne(handleText: string, previous: StoredRecord | undefined, values: readonly HandleValue[], who: Principal, now: number): Promise<StoredRecord> {
    const kept = keepTimestamps(values, previous?.values ?? []);
    if (previous?.status === 'active' && sameSet(previous.values, kept)) return previous;
    const id = previous?.status === 'active' ? previous.id : handleText;
    const record = this.sign(id, previous, kept, who, now);
    await this.store.commit([this.recordWrite(record, previous)]);
    return record;
  }

  /** As HandleService writes a handle, plus the item's alias terms. */
  private recordWrite(record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
    const handle = parseHandle(record.id);
    const terms = (r: StoredRecord | undefined): string[] =>
      r?.status === 'active'
        ? [`${PREFIX_INDEX}${SEP}${foldHandleCase(parseHandle(r.id).prefix)}`, ...valueIndexTerms(r), ...itemAliasTerms(decodeItem(r.values) ? r.values : undefined, parseHandle(r.id).suffix)]
        : [];
    return { key: handle.key, record, previous, view: renderHandleView(record), indexTerms: terms(record), previousIndexTerms: terms(previous) };
  }
}

function failure(line: number, serial: string | null, e: CairnError): BulkRowFailure {
  const field = typeof e.details?.field === 'string' ? e.details.field : undefined;
  const firstLine = typeof e.details?.firstLine === 'number' ? e.details.firstLine : undefined;
  return { line, serial, status: 'failed', code: e.code, message: e.message, ...(field === undefined ? {} : { field }), ...(firstLine === undefined ? {} : { firstLine }) };
}

/** What the class's evidence needs must be on the item. */
function requireEvidence(cls: ClassInfo, body: ItemBody): void {
  const need = (ok: boolean, field: string, what: string): void => {
    if (!ok) throw new ProductEvidenceMissing(`Class "${cls.classId}" requires ${cls.evidence} evidence: the item needs ${what}`, { field, evidence: cls.evidence });
  };
  if (cls.evidence === 'device-signature') need(body.devicePublicKey !== undefined, 'devicePublicKey', '"devicePublicKey"');
  if (cls.evidence === 'x509-chain') need(body.deviceCertificate !== undefined, 'deviceCertificate', '"deviceCertificate"');
  if (cls.evidence === 'sun') need(body.sunUid !== undefined, 'sunUid', '"sunUid" (the tag UID)');
}

function pemList(body: unknown, member: string, invalid: () => Error): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid();
  const o = body as Record<string, unknown>;
  if (Object.keys(o).some((k) => k !== member)) throw invalid();
  const v = o[member];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw invalid();
  return list as string[];
}

/** Unchanged values keep their timestamps (as HandleService does), sorted by index. */
function keepTimestamps(values: readonly HandleValue[], previous: readonly HandleValue[]): HandleValue[] {
  const old = new Map(previous.map((v) => [v.index, v]));
  return values
    .map((v) => {
      const o = old.get(v.index);
      return o && o.type !== SIGNATURE_TYPE && sameValue(o, v) ? { ...v, timestamp: o.timestamp } : v;
    })
    .sort((a, b) => a.index - b.index);
}

function sameSet(a: readonly HandleValue[], b: readonly HandleValue[]): boolean {
  const left = a.filter((v) => v.type !== SIGNATURE_TYPE);
  const right = new Map(b.filter((v) => v.type !== SIGNATURE_TYPE).map((v) => [v.index, v]));
  return left.length === right.size && left.every((v) => {
    const o = right.get(v.index);
    return o !== undefined && sameValue(v, o);
  });
}

function bookkeeping(record: StoredRecord) {
  const sig = findSignature(record.values);
  const jws = sig ? Buffer.from(sig.data).toString('utf8') : undefined;
  const header = jws ? decodeCompact(jws).header : undefined;
  return {
    version: record.version,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: record.values.filter(isPublicRead).map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, kid: String(header?.kid), alg: String(header?.alg) } : null,
  };
}

/** An item as `GET /api/products/{prefix}/items/{serial}` answers it. */
export function renderItemView(m: ManufacturerInfo, record: StoredRecord, item: ItemInfo) {
  const serial = parseHandle(record.id).suffix;
  return {
    handle: record.id,
    prefix: m.prefix,
    serial,
    identifiers: {
      handle: `hdl:${record.id}`,
      ...(item.gs1 ? { gs1: item.gs1 } : {}),
      ...(item.imei ? { imei: `imei:${item.imei}` } : {}),
    },
    manufacturer: { prefix: m.prefix, name: m.name },
    ...item,
    ...bookkeeping(record),
  };
}
