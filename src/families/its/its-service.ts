import {
  BodyInvalid,
  CairnError,
  ItsCodeUnknown,
  ItsDeleted,
  ItsIdInvalid,
  ItsIssuerNotFound,
  ItsNotFound,
  ItsSerialTaken,
  ItsSignInvalid,
  ItsTypeMismatch,
  PermissionDenied,
} from '../../errors.js';
import {
  formatItsSerial,
  formatItsSignId,
  formatItsSignType,
  isIso3166Alpha2,
  ITS_KINDS,
  itsIssuerKey,
  MAX_AUTHORITY,
  MAX_SERIAL,
  parseItsSignId,
  parseItsSignType,
  type ItsKind,
  type ItsSignId,
  type ItsSignType,
} from '../../ids/its-sign.js';
import { isoSeconds } from '../../records/handle-json.js';
import { nextVersion, type StoredRecord, type Tombstone } from '../../records/record.js';
import { DEFAULT_VALUE_PERMISSIONS, type HandleValue } from '../../records/value.js';
import { withSignature } from '../../signing/record-signature.js';
import type { Signer } from '../../signing/signer.js';
import { SEP, type RecordStore } from '../../store/store.js';
import type { Principal } from '../doa/authorize.js';
import { formatIdentity, parseIdentity, sameIdentity } from '../doa/identity.js';
import { tombstoneJson } from '../doa/views.js';
import { checkCatalogue, findCatalogueEntry } from './catalogue.js';
import { boxNear, cellBox, coverBoxes, type Box } from './geo.js';
import { areaMatch, codeMatches, entryFiltersMatch, filtersMatch, formatCursor, pageOrder, queryBoxes, type ItsQuery, type PagePosition, type QueryArea } from './its-query.js';
import { parseGeoEntry } from './geo-entry.js';
import { parseSign, renderSignView, signToValues, valuesToSign, type ItsSign, type SignView } from './its-record.js';
import {
  ISSUER_TYPES,
  issuerText,
  ITS_GEO_INDEX_META,
  ITS_GEO_INDEX_VERSION,
  ITS_INDEX,
  ITS_LEGACY_GEO_INDEX,
  ITS_SIGN_KEY,
  itsCurrentIndexTerms,
  itsIdentityText,
  itsIssuerRecordKey,
  itsIssuerWrite,
  itsSignRecordKey,
  itsSignWrite,
  renderIssuerView,
  type ItsIssuer,
} from './its-storage.js';

export interface ItsServiceOptions {
  readonly issuer: string;
  readonly signatureValiditySeconds: number;
  readonly now?: () => number;
}

const { geo: GEO, geoEver: GEO_EVER, alias: ALIAS, aliasEver: ALIAS_EVER } = ITS_INDEX;
const SIGN_KEY = ITS_SIGN_KEY;

export { ISSUER_TYPES, itsIssuerRecordKey, itsSignRecordKey, renderIssuerView, type ItsIssuer } from './its-storage.js';

const serialMeta = (issuer: ItsIssuer): string => `itsserial:${itsIssuerKey(issuer)}`;
const identityText = itsIdentityText;

/** `DE.417` (case-insensitive country; authority 0..16383 without leading zeros). */
export function parseIssuer(text: string): ItsIssuer {
  const m = /^([A-Za-z]{2})\.(0|[1-9][0-9]{0,4})$/.exec(text);
  if (!m) throw new ItsIdInvalid(`Issuer "${text.slice(0, 32)}" is not <CC>.<authority>, e.g. DE.417`, { field: 'issuer' });
  const country = m[1]!.toUpperCase();
  if (!isIso3166Alpha2(country)) throw new ItsIdInvalid(`country "${country}" is not an assigned ISO 3166-1 alpha-2 code`, { field: 'country' });
  const authority = Number(m[2]);
  if (authority > MAX_AUTHORITY) throw new ItsIdInvalid(`authority ${authority} is outside 0..${MAX_AUTHORITY}`, { field: 'authority' });
  return { country, authority };
}

export function parseKind(text: string): ItsKind {
  const kind = text.toLowerCase();
  if (!(ITS_KINDS as readonly string[]).includes(kind)) throw new ItsIdInvalid(`Kind "${text.slice(0, 16)}" is not one of ${ITS_KINDS.join(', ')}`, { field: 'kind' });
  return kind as ItsKind;
}

/** The catalogue check, with its error as a CairnError whatever the catalogue module throws. */
function checkType(type: ItsSignType): void {
  try {
    checkCatalogue(type);
  } catch (e) {
    if (e instanceof CairnError) throw e;
    const err = e as { code?: unknown; message?: string; details?: Record<string, unknown> };
    if (err.code === 'ERR_ITS_CODE_UNKNOWN') throw new ItsCodeUnknown(`${formatItsSignType(type)}: ${err.message ?? 'not in its catalogue'}`, { ...err.details, type: formatItsSignType(type) });
    throw e;
  }
}

/** One change of a sign, as `GET /api/its/changes` lists it. */
export interface ItsChange {
  readonly seq: number;
  /** The sign's identifier as registered in that version (with its type). */
  readonly id: string;
  /** The identity alone (no type): stable across versions. */
  readonly identity: string;
  readonly version: number;
  readonly op: 'create' | 'update' | 'delete';
  readonly at: string;
}

/** A sign in a query's answer, with the record it was tested on when one was read. */
interface Hit {
  readonly key: string;
  readonly record?: StoredRecord;
  readonly distance?: number;
  readonly bearing?: number;
}

export interface QueryResult {
  readonly count: number;
  readonly truncated: boolean;
  /** When truncated: the `cursor` parameter of the next page. */
  readonly cursor?: string;
  /** JSON text of the result: `{"count":..,"truncated":..,"next":..,"signs":[..]}`. */
  readonly json: string;
}

/**
 * The ITS sign registry (issue 5). Issuers (country + authority) are granted by the service admin
 * to one identity each; that identity and the service admin write the signs under the issuer.
 * Signs are signed records of ITS.* values (its-record.ts) with `sub` = the canonical identifier.
 */
export class ItsService {
  private readonly now: () => number;

  constructor(
    private readonly store: RecordStore,
    private readonly signer: Signer,
    private readonly options: ItsServiceOptions,
  ) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  // ---- issuers --------------------------------------------------------------------------------

  findIssuer(issuer: ItsIssuer): StoredRecord | undefined {
    return this.store.findRecord(itsIssuerRecordKey(issuer));
  }

  private grantee(record: StoredRecord): string | undefined {
    const v = record.values.find((x) => x.type === ISSUER_TYPES.grant);
    return v === undefined ? undefined : Buffer.from(v.data).toString('utf8');
  }

  /** Throws unless the issuer is granted and `who` is its grantee or the service admin. */
  private requireWrite(who: Principal, issuer: ItsIssuer): void {
    const record = this.findIssuer(issuer);
    if (record?.status !== 'active') throw new ItsIssuerNotFound(`Issuer ${issuerText(issuer)} is not granted`, { issuer: issuerText(issuer) });
    if (who.serverAdmin) return;
    const grant = this.grantee(record);
    if (grant !== undefined && sameIdentity(parseIdentity(grant), who.identity)) return;
    throw new PermissionDenied(`${formatIdentity(who.identity)} holds no grant for issuer ${issuerText(issuer)}`, { issuer: issuerText(issuer) });
  }

  /** Grants (or re-grants) an issuer: service admin only. Body `{"identity": "300:20.5000/roads", "name": "..."}`. */
  async putIssuer(text: string, body: unknown, who: Principal): Promise<{ created: boolean }> {
    const issuer = parseIssuer(text);
    if (!who.serverAdmin) throw new PermissionDenied('Only the service admin grants ITS issuers');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BodyInvalid('Body must be {"identity": "300:20.5000/road-authority", "name": "..."}');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'identity' && k !== 'name') throw new BodyInvalid(`Unknown member "${k}"`);
    if (typeof b.identity !== 'string') throw new BodyInvalid('identity (index:handle) is required');
    let identity: string;
    try {
      identity = formatIdentity(parseIdentity(b.identity));
    } catch {
      throw new BodyInvalid(`"${b.identity.slice(0, 64)}" is not an identity index:handle`);
    }
    if (b.name !== undefined && (typeof b.name !== 'string' || b.name.trim() === '' || b.name.length > 256 || /[\u0000-\u001f\u007f]/.test(b.name))) {
      throw new BodyInvalid('name must be non-empty text of at most 256 characters');
    }
    const name = typeof b.name === 'string' ? b.name : undefined;
    return this.store.exclusive(async () => {
      const previous = this.findIssuer(issuer);
      await this.writeIssuer(issuer, previous, [[ISSUER_TYPES.grant, identity], ...(name === undefined ? [] : [[ISSUER_TYPES.name, name] as const])], who);
      return { created: previous === undefined };
    });
  }

  /**
   * `DELETE /api/its/issuers/{CC}.{authority}`: withdraws the grant (service admin only). The
   * issuer stays (a new signed version naming whose grant ended; re-granting is a PUT), the signs
   * written under it stay, and its former grantee can no longer write under it.
   */
  async withdrawGrant(text: string, who: Principal): Promise<string> {
    const issuer = parseIssuer(text);
    if (!who.serverAdmin) throw new PermissionDenied('Only the service admin withdraws ITS issuer grants');
    return this.store.exclusive(async () => {
      const previous = this.findIssuer(issuer);
      const grantee = previous?.status === 'active' ? this.grantee(previous) : undefined;
      if (!previous || grantee === undefined) throw new ItsIssuerNotFound(`Issuer ${issuerText(issuer)} holds no grant to withdraw`, { issuer: issuerText(issuer) });
      const name = previous.values.find((v) => v.type === ISSUER_TYPES.name);
      await this.writeIssuer(issuer, previous, [...(name ? [[ISSUER_TYPES.name, Buffer.from(name.data).toString('utf8')] as const] : []), [ISSUER_TYPES.withdrawn, grantee]], who);
      return grantee;
    });
  }

  /** Signs and commits the issuer's next version with these values (indexes from 1, in order). */
  private async writeIssuer(issuer: ItsIssuer, previous: StoredRecord | undefined, data: readonly (readonly [string, string])[], who: Principal): Promise<void> {
    const now = this.now();
    const values = data.map(([type, text], i): HandleValue => ({
      index: i + 1, type, data: Buffer.from(text), ttlType: 'relative', ttl: 86400, timestamp: now, permissions: DEFAULT_VALUE_PERMISSIONS, references: [],
    }));
    const id = `its-issuer:${issuerText(issuer)}`;
    const { issuer: iss, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(id, values, this.signer, { issuer: iss, now, validitySeconds });
    const record = nextVersion(previous, { id, family: 'its', owner: formatIdentity(who.identity), values: signed, now });
    await this.store.commit([itsIssuerWrite(issuer, record, previous)]);
  }

  async issuerView(text: string) {
    const issuer = parseIssuer(text);
    const record = this.findIssuer(issuer);
    if (!record) throw new ItsIssuerNotFound(`Issuer ${issuerText(issuer)} is not granted`, { issuer: issuerText(issuer) });
    return renderIssuerView(issuer, record, (await this.store.getMeta<number>(serialMeta(issuer))) ?? 0);
  }

  // ---- writing signs --------------------------------------------------------------------------

  findSign(id: ItsSignId): StoredRecord | undefined {
    return this.store.findRecord(itsSignRecordKey(id));
  }

  /** Whether any sign, of any kind, live or deleted, has this serial under the issuer. */
  private serialTaken(issuer: ItsIssuer, serial: number, except?: ItsKind): ItsKind | undefined {
    return ITS_KINDS.find((kind) => kind !== except && this.store.findRecord(itsSignRecordKey({ kind, ...issuer, serial })) !== undefined);
  }

  /** The body's value against the type's bracketed value and catalogue entry; fills the unit in. */
  private reconcile(sign: ItsSign, type: ItsSignType | undefined): ItsSign {
    let { value, unit } = sign;
    if (type?.value !== undefined) {
      if (value === null) value = type.value;
      else if (value !== type.value) throw new ItsSignInvalid(`value ${value} differs from the value ${type.value} in the identifier's type`, { field: 'value' });
    }
    const takes = type ? findCatalogueEntry(type)?.takesValue : undefined;
    if (value !== null && takes) {
      if ((takes.min !== undefined && value < takes.min) || (takes.max !== undefined && value > takes.max)) {
        throw new ItsSignInvalid(`value ${value} is outside ${takes.min ?? 0}..${takes.max ?? '∞'} for ${formatItsSignType(type!)}`, { field: 'value' });
      }
      unit ??= takes.unit;
    }
    return { ...sign, value, unit };
  }

  /**
   * `POST /api/its/{kind}/{CC}.{authority}`: mints the issuer's next serial (one more than the
   * last minted, skipping serials already used by a PUT) and creates the sign, counter and sign
   * in one batch. Returns the new identifier.
   */
  async mint(kindText: string, issuerTextIn: string, typeText: string | undefined, body: unknown, who: Principal): Promise<string> {
    const kind = parseKind(kindText);
    const issuer = parseIssuer(issuerTextIn);
    const type = typeText === undefined ? undefined : parseItsSignType(typeText);
    this.requireWrite(who, issuer);
    const parsed = parseSign(body);
    if (type) checkType(type);
    return this.store.exclusive(async () => {
      this.requireWrite(who, issuer);
      const sign = this.reconcile(parsed, type);
      let serial = ((await this.store.getMeta<number>(serialMeta(issuer))) ?? 0) + 1;
      while (serial <= MAX_SERIAL && this.serialTaken(issuer, serial) !== undefined) serial++;
      if (serial > MAX_SERIAL) throw new ItsSerialTaken(`Issuer ${issuerText(issuer)} has no serials left`, { issuer: issuerText(issuer) });
      const id: ItsSignId = { kind, ...issuer, serial, ...(type ? { type } : {}) };
      const now = this.now();
      const record = this.nextRecord(id, undefined, signToValues(sign, type, now), who, now);
      await this.store.commit([itsSignWrite(id, record, undefined)], { [serialMeta(issuer)]: serial });
      return record.id;
    });
  }

  /**
   * `PUT /api/its/{id}`: creates or replaces. The id's type part becomes the registered type; an
   * id without one keeps the registered type (or registers none). A deleted sign stays deleted.
   */
  async put(text: string, body: unknown, who: Principal): Promise<{ id: string; created: boolean }> {
    const asserted = parseItsSignId(text);
    const issuer = { country: asserted.country, authority: asserted.authority };
    this.requireWrite(who, issuer);
    const parsed = parseSign(body);
    if (asserted.type) checkType(asserted.type);
    return this.store.exclusive(async () => {
      this.requireWrite(who, issuer);
      const previous = this.findSign(asserted);
      if (previous?.status === 'tombstoned') throw this.deleted(asserted, previous);
      if (!previous) {
        const other = this.serialTaken(issuer, asserted.serial, asserted.kind);
        if (other !== undefined) {
          throw new ItsSerialTaken(`Serial ${formatItsSerial(asserted.serial)} is used by a ${other} under ${issuerText(issuer)}`, { takenBy: identityText({ ...asserted, kind: other }) });
        }
      }
      const type = asserted.type ?? (previous ? valuesToSign(previous.values).type : undefined);
      const sign = this.reconcile(parsed, type);
      const id: ItsSignId = { ...asserted, ...(type ? { type } : {}) };
      const now = this.now();
      const record = this.nextRecord(id, previous, signToValues(sign, type, now), who, now);
      await this.store.commit([itsSignWrite(id, record, previous)]);
      return { id: record.id, created: previous === undefined };
    });
  }

  /**
   * Registers new signs in one atomic batch, each as `PUT` would create it (bulk loads: the
   * benchmark). Every id must be new, its serial unused under its issuer, and its issuer writable
   * by `who`; otherwise nothing of the batch is written.
   */
  async createMany(items: readonly { readonly id: string; readonly body: unknown }[], who: Principal): Promise<string[]> {
    const parsed = items.map(({ id, body }) => {
      const asserted = parseItsSignId(id);
      if (asserted.type) checkType(asserted.type);
      return { id: asserted, sign: this.reconcile(parseSign(body), asserted.type) };
    });
    return this.store.exclusive(async () => {
      const checked = new Set<string>();
      const seen = new Set<string>();
      for (const { id } of parsed) {
        const issuer = { country: id.country, authority: id.authority };
        const key = itsIssuerRecordKey(issuer);
        if (!checked.has(key)) {
          this.requireWrite(who, issuer);
          checked.add(key);
        }
        const serialKey = `${key}:${id.serial}`;
        const other = seen.has(serialKey) ? id.kind : this.serialTaken(issuer, id.serial);
        if (other !== undefined) throw new ItsSerialTaken(`Serial ${formatItsSerial(id.serial)} is used by a ${other} under ${issuerText(issuer)}`, { takenBy: identityText({ ...id, kind: other }) });
        seen.add(serialKey);
      }
      const now = this.now();
      const writes = parsed.map(({ id, sign }) => itsSignWrite(id, this.nextRecord(id, undefined, signToValues(sign, id.type, now), who, now), undefined));
      await this.store.commit(writes);
      return writes.map((w) => w.record.id);
    });
  }

  /** `DELETE /api/its/{id}`: a tombstone; the identity is never used again. */
  async remove(text: string, who: Principal, reason = 'deleted', successorText?: string): Promise<string> {
    const asserted = parseItsSignId(text);
    const issuer = { country: asserted.country, authority: asserted.authority };
    const successor = successorText === undefined ? undefined : formatItsSignId(parseItsSignId(successorText));
    this.requireWrite(who, issuer);
    return this.store.exclusive(async () => {
      this.requireWrite(who, issuer);
      const previous = this.findSign(asserted);
      if (!previous) throw this.notFound(asserted);
      if (previous.status === 'tombstoned') throw this.deleted(asserted, previous);
      this.assertType(asserted, previous);
      const now = this.now();
      const tombstone: Tombstone = { reason, at: now, ...(successor ? { successor } : {}) };
      const id = parseItsSignId(previous.id);
      const record: StoredRecord = { ...this.nextRecord(id, previous, [], who, now), status: 'tombstoned', tombstone };
      await this.store.commit([itsSignWrite(id, record, previous)]);
      return previous.id;
    });
  }

  private nextRecord(id: ItsSignId, previous: StoredRecord | undefined, values: readonly HandleValue[], who: Principal, now: number): StoredRecord {
    const text = formatItsSignId(id);
    const { issuer, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(text, values, this.signer, { issuer, now, validitySeconds });
    return nextVersion(previous, { id: text, family: 'its', owner: formatIdentity(who.identity), values: signed, now });
  }

  // ---- reading signs --------------------------------------------------------------------------

  private notFound(id: ItsSignId, extra: Record<string, unknown> = {}): ItsNotFound {
    return new ItsNotFound(`${identityText(id)} is not registered`, { id: identityText(id), ...extra });
  }

  private deleted(id: ItsSignId, record: StoredRecord): ItsDeleted {
    return new ItsDeleted(`${identityText(id)} was deleted`, { id: record.id, tombstone: tombstoneJson(record.tombstone) });
  }

  /** A type asserted in the id must match the registered one (scheme and code; the value when asserted). */
  private assertType(asserted: ItsSignId, record: StoredRecord): void {
    if (!asserted.type) return;
    const { type } = valuesToSign(record.values);
    if (codeMatches(asserted.type, type)) return;
    throw new ItsTypeMismatch(`${formatItsSignType(asserted.type)} is not the registered type of ${identityText(asserted)}`, {
      id: record.id,
      asserted: formatItsSignType(asserted.type),
      registered: type ? formatItsSignType(type) : null,
    });
  }

  private current(text: string): { id: ItsSignId; key: string; record: StoredRecord } {
    const id = parseItsSignId(text);
    const record = this.findSign(id);
    if (!record) throw this.notFound(id);
    if (record.status === 'tombstoned') throw this.deleted(id, record);
    this.assertType(id, record);
    return { id, key: itsSignRecordKey(id), record };
  }

  /** `GET /api/its/{id}`: the stored, signed view (JSON bytes). */
  viewBytes(text: string): Buffer {
    const { id, key, record } = this.current(text);
    const view = this.store.findView(key);
    if (view !== undefined && view.readUInt16BE(0) === 200) return view.subarray(2);
    return Buffer.from(JSON.stringify(renderSignView(id, record)));
  }

  /** The same as an object (for `/api/resolve`). */
  view(text: string): SignView {
    const { id, record } = this.current(text);
    return renderSignView(id, record);
  }

  /** The version of a record in force at `seconds` (the last written at or before it). */
  private async versionAt(key: string, seconds: number): Promise<StoredRecord | undefined> {
    const current = this.store.findRecord(key);
    if (current === undefined || current.updated <= seconds) return current;
    let found: StoredRecord | undefined;
    for (const r of await this.store.historyOf(key)) if (r.updated <= seconds) found = r;
    return found;
  }

  /** `GET /api/its/{id}?asOf=`: the sign as it was registered at that instant. */
  async viewAsOf(text: string, asOfMs: number): Promise<SignView> {
    const id = parseItsSignId(text);
    const asOf = isoSeconds(Math.floor(asOfMs / 1000));
    const record = await this.versionAt(itsSignRecordKey(id), Math.floor(asOfMs / 1000));
    if (!record) throw this.notFound(id, { asOf });
    if (record.status === 'tombstoned') throw this.deleted(id, record);
    this.assertType(id, record);
    return renderSignView(parseItsSignId(record.id), record);
  }

  /**
   * Every version of a sign, for `/api/history/its:…` (deleted signs included). The identity
   * names the record; a type in the id must be the registered type of some version.
   */
  async history(id: ItsSignId): Promise<{ current: StoredRecord; older: StoredRecord[] }> {
    const key = itsSignRecordKey(id);
    const current = this.store.findRecord(key);
    if (!current) throw this.notFound(id);
    const older = await this.store.historyOf(key);
    if (id.type && ![...older, current].some((r) => r.status === 'active' && codeMatches(id.type!, valuesToSign(r.values).type))) {
      this.assertType(id, current.status === 'active' ? current : older.at(-1) ?? current);
    }
    return { current, older };
  }

  /** Every version of an issuer record (grants, re-grants, withdrawals), for `/api/history/its-issuer:…`. */
  async issuerHistory(text: string): Promise<{ current: StoredRecord; older: StoredRecord[] }> {
    const issuer = parseIssuer(text);
    const current = this.findIssuer(issuer);
    if (!current) throw new ItsIssuerNotFound(`Issuer ${issuerText(issuer)} was never granted`, { issuer: issuerText(issuer) });
    return { current, older: await this.store.historyOf(itsIssuerRecordKey(issuer)) };
  }

  // ---- queries --------------------------------------------------------------------------------

  /**
   * `asOf` spatial queries: record keys listed in the `ever` index under the cells covering the
   * boxes, deduplicated. The index key names the sign's 9-character cell (about 5 m): a key whose
   * cell cannot meet the area (`near`) is left out before its history is read.
   */
  private async candidates(index: string, boxes: readonly Box[], near: (cell: Box) => boolean): Promise<Set<string>> {
    const keys = new Set<string>();
    const prefix = index.length + SEP.length;
    for (const r of coverBoxes(boxes).ranges) {
      // One native call per range (`all`), not one round trip per key: the scan is the query's main cost.
      for (const k of await this.store.index.keys({ gte: `${index}${SEP}${r.from}`, lt: `${index}${SEP}${r.to}~` }).all()) {
        const sep = k.lastIndexOf(SEP);
        const cell = cellBox(k.slice(prefix, sep));
        if (cell === undefined || near(cell)) keys.add(k.slice(sep + 1));
      }
    }
    return keys;
  }

  /**
   * Current spatial queries: the hits among the entries of the cells covering the area, tested on
   * the entry itself (position, facing and the filters it carries: geo-entry.ts); a record is read
   * only for a candidate in the area whose entry cannot answer a filter (`code`, or `at` with time
   * windows).
   */
  private async currentHits(q: ItsQuery, area: Exclude<QueryArea, { mode: 'alias' }>): Promise<Hit[]> {
    const hits: Hit[] = [];
    const seen = new Set<string>();
    const prefix = GEO.length + SEP.length;
    for (const r of coverBoxes(queryBoxes(area)).ranges) {
      // One native call per range (`all`), not one round trip per key.
      for (const k of await this.store.index.keys({ gte: `${GEO}${SEP}${r.from}`, lt: `${GEO}${SEP}${r.to}~` }).all()) {
        const sep = k.lastIndexOf(SEP);
        const key = k.slice(sep + 1);
        if (seen.has(key)) continue;
        seen.add(key);
        const entry = parseGeoEntry(k.slice(prefix, sep));
        if (entry !== undefined) {
          const match = areaMatch(area, { position: entry.position, facing: entry.facing, aliases: [] });
          if (match === undefined) continue;
          const passes = entryFiltersMatch(q, entry);
          if (passes === false) continue;
          if (passes === true) {
            hits.push({ key, ...match });
            continue;
          }
        }
        const hit = this.recordHit(q, key, this.store.findRecord(key));
        if (hit) hits.push(hit);
      }
    }
    return hits;
  }

  /** A record that matches the query's area and filters, as a hit; undefined if it does not. */
  private recordHit(q: ItsQuery, key: string, record: StoredRecord | undefined): Hit | undefined {
    if (record?.status !== 'active') return undefined;
    const { sign, type } = valuesToSign(record.values);
    if (!filtersMatch(q, parseItsSignId(record.id).kind, sign, type)) return undefined;
    const match = areaMatch(q.area, sign);
    return match ? { key, record, ...match } : undefined;
  }

  private async aliasCandidates(index: string, alias: string): Promise<Set<string>> {
    const keys = new Set<string>();
    const term = `${index}${SEP}${alias}${SEP}`;
    for await (const k of this.store.index.keys({ gte: term, lt: `${index}${SEP}${alias}\u0001` })) keys.add(k.slice(term.length));
    return keys;
  }

  /**
   * `GET /api/its?...`: reads only the index ranges of the cells covering the area (geo.ts
   * `coverBoxes`: at most 32 cells at the finest precision that allows it, merged into runs) or
   * the alias, then filters the candidates exactly: current spatial queries on the index entries
   * (`currentHits`), reading only the stored views of the page they answer with; `asOf` reads the
   * `ever` indexes and each candidate's version in force then. Past `limit`, `next` links the
   * following page: the same query with a cursor naming the last sign shown; each page reads the
   * same bounded area again and keeps what comes after the cursor in the result order.
   */
  async query(q: ItsQuery, nextLink?: (cursor: string) => string): Promise<QueryResult> {
    const asOfSeconds = q.asOf === undefined ? undefined : Math.floor(q.asOf / 1000);
    const area = q.area;
    let hits: Hit[];
    if (asOfSeconds === undefined && area.mode !== 'alias') hits = await this.currentHits(q, area);
    else {
      const keys =
        area.mode === 'alias'
          ? await this.aliasCandidates(asOfSeconds === undefined ? ALIAS : ALIAS_EVER, area.alias)
          : await this.candidates(GEO_EVER, queryBoxes(area), cellFilter(area));
      hits = [];
      for (const key of keys) {
        const hit = this.recordHit(q, key, asOfSeconds === undefined ? this.store.findRecord(key) : await this.versionAt(key, asOfSeconds));
        if (hit) hits.push(hit);
      }
    }
    const position = (h: Hit): PagePosition => ({ distance: h.distance ?? 0, key: h.key });
    const after = q.after;
    const rest = after === undefined ? hits : hits.filter((h) => pageOrder(position(h), after) > 0);
    rest.sort((a, b) => pageOrder(position(a), position(b)));
    const shown: Hit[] = [];
    const items: string[] = [];
    let used = 0;
    for (; used < rest.length && shown.length < q.limit; used++) {
      const h = rest[used]!;
      const body = this.hitBody(h, asOfSeconds !== undefined);
      // Without a record in hand, a sign deleted since the index was read has no 200 view: not shown.
      if (body === undefined) continue;
      const extra = [
        ...(h.distance !== undefined ? [`"distance":${Math.round(h.distance * 100) / 100}`] : []),
        ...(h.bearing !== undefined ? [`"bearing":${Math.round(h.bearing * 100) / 100}`] : []),
      ];
      shown.push(h);
      items.push(extra.length === 0 ? body : `{${extra.join(',')},${body.slice(1)}`);
    }
    // Truncated only once a full page is shown, so the page has a last sign to continue after.
    const truncated = used < rest.length;
    const cursor = truncated ? formatCursor(position(shown.at(-1)!)) : undefined;
    const next = cursor === undefined || nextLink === undefined ? null : nextLink(cursor);
    return {
      count: shown.length,
      truncated,
      ...(cursor === undefined ? {} : { cursor }),
      json: `{"count":${shown.length},"truncated":${truncated},"next":${JSON.stringify(next)},"signs":[${items.join(',')}]}`,
    };
  }

  /** A hit's signed JSON: the stored view of the current version, else rendered from the record it was found with. */
  private hitBody(h: Hit, past: boolean): string | undefined {
    const stored = past ? undefined : this.store.findView(h.key);
    if (stored !== undefined && stored.readUInt16BE(0) === 200) return stored.subarray(2).toString('utf8');
    return h.record === undefined ? undefined : JSON.stringify(renderSignView(parseItsSignId(h.record.id), h.record));
  }

  /**
   * Builds the `itspos` index (its-storage.ts) for the signs stored before it existed, from the
   * records, and removes the `itsgeo` entries it replaces. Runs once per data directory (recorded
   * in meta) and is idempotent, so an interrupted run is simply repeated at the next start.
   */
  async reindexIfNeeded(): Promise<number> {
    const built = async (): Promise<boolean> => ((await this.store.getMeta<number>(ITS_GEO_INDEX_META)) ?? 0) >= ITS_GEO_INDEX_VERSION;
    if (await built()) return 0;
    return this.store.exclusive(async () => {
      if (await built()) return 0;
      const BATCH = 1000;
      let entries: { term: string; key: string; id: string }[] = [];
      let total = 0;
      const flush = async (): Promise<void> => {
        total += entries.length;
        await this.store.addIndexEntries(entries);
        entries = [];
      };
      // Sign keys are `its:…`; issuers (`its-issuer:…`) sort before them.
      for await (const key of this.store.records.keys({ gte: SIGN_KEY, lt: `${SIGN_KEY.slice(0, -1)};` })) {
        const record = this.store.findRecord(key);
        if (record === undefined) continue;
        for (const term of itsCurrentIndexTerms(record)) if (term.startsWith(`${GEO}${SEP}`)) entries.push({ term, key, id: record.id });
        if (entries.length >= BATCH) await flush();
      }
      await flush();
      let legacy: string[] = [];
      const drop = async (): Promise<void> => {
        await this.store.index.batch(legacy.map((key) => ({ type: 'del' as const, key })));
        legacy = [];
      };
      for await (const k of this.store.index.keys({ gt: `${ITS_LEGACY_GEO_INDEX}${SEP}`, lt: `${ITS_LEGACY_GEO_INDEX}\u0001` })) {
        legacy.push(k);
        if (legacy.length >= BATCH) await drop();
      }
      await drop();
      await this.store.addIndexEntries([], { [ITS_GEO_INDEX_META]: ITS_GEO_INDEX_VERSION });
      return total;
    });
  }

  /**
   * `GET /api/its/changes?since=`: the signs' changes after `since`, oldest first, at most
   * `limit`. `next` is the cursor for the following page (issuer grants are skipped but
   * advance it); the feed is caught up when `next` equals `last`.
   */
  async changes(since: number, limit: number): Promise<{ since: number; next: number; last: number; changes: ItsChange[] }> {
    const out: ItsChange[] = [];
    let next = since;
    for await (const e of this.store.familyChangesSince('its', since)) {
      if (out.length >= limit) break;
      next = e.seq;
      if (!e.key.startsWith(SIGN_KEY)) continue;
      out.push({ seq: e.seq, id: e.id, identity: identityText(parseItsSignId(e.id)), version: e.version, op: e.op, at: isoSeconds(e.at) });
    }
    return { since, next, last: await this.store.lastSeqOf('its'), changes: out };
  }
}

/** Whether an index cell may hold a sign of the area (a cheap test before the record is read; never false for one that does). */
function cellFilter(area: Exclude<QueryArea, { mode: 'alias' }>): (cell: Box) => boolean {
  switch (area.mode) {
    case 'near':
      return (cell) => boxNear(cell, area.center, area.radius);
    case 'ahead':
      return (cell) => boxNear(cell, area.center, area.distance);
    case 'bbox': {
      const b = area.box;
      const e = 1e-9;
      return (cell) => cell.maxLon >= b.minLon - e && cell.minLon <= b.maxLon + e && cell.maxLat >= b.minLat - e && cell.minLat <= b.maxLat + e;
    }
  }
}
