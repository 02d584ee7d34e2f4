import { createHash } from 'node:crypto';
import { v4 as uuidv4 } from 'uuid';
import {
  AuthFailed,
  BodyInvalid,
  CairnError,
  ImportLineInvalid,
  HandleDeleted,
  HandleExists,
  HandleInvalid,
  HandleNotFound,
  PrefixNotHomed,
  RecordProtected,
  ValueExists,
  ValueIndexDuplicate,
  ValueInvalid,
  ValueNotFound,
  ValueTypeReserved,
} from '../../errors.js';
import { foldHandleCase, isHomed, parentPrefix, parseHandle, prefixHandle, type Handle } from '../../ids/handle.js';
import { encodeAdmin } from '../../records/admin.js';
import { valueFromJson } from '../../records/handle-json.js';
import { DEFAULT_CREATOR_PERMISSIONS, type AdminPermissionName } from '../../records/permissions.js';
import type { StoredRecord, Tombstone } from '../../records/record.js';
import { nextVersion, sameValue, sameValues } from '../../records/record.js';
import { PERM_ADMIN_READ, PERM_PUBLIC_READ, typeMatches, type HandleValue } from '../../records/value.js';
import { dummySecretHash, hashSecret, verifySecret } from '../../signing/secrets.js';
import { SIGNATURE_TYPE, withSignature } from '../../signing/record-signature.js';
import type { Signer } from '../../signing/signer.js';
import type { RecordStore, RecordWrite } from '../../store/store.js';
import { hasPermission, requirePermission, type Principal } from './authorize.js';
import { valueIndexTerms } from './reverse-index.js'; // reverse lookup by value (GET /api/search)
import { checkVlistWrite, VLIST_TYPE, type ValuesLookup } from './vlist.js';
import { formatIdentity, parseIdentity, sameIdentity, type Identity } from './identity.js';
import { handleResponse, publicValues, renderHandleView, tombstoneJson } from './views.js';

export interface HandleServiceOptions {
  /** The service prefix, e.g. `20.5000`. */
  readonly prefix: string;
  /** `index:handle` of the signing key's HS_PUBKEY, the `iss` of every record signature. */
  readonly issuer: string;
  readonly signatureValiditySeconds: number;
  /** HS_PUBKEY indexes of the signing keys on the service record (protected from edits). */
  readonly signingKeyIndexes?: readonly number[];
  /** Seconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

export interface PutRequest {
  /** Values as JSON, already unwrapped from `[...]`, `{values: [...]}` or a single value. */
  readonly values: readonly unknown[];
  readonly overwrite: boolean;
  /** `index=N` parameters: add or replace only these values. */
  readonly indexes?: readonly number[];
  /** `mintNewSuffix=true`: the path names a prefix followed by `/`, and a UUID suffix is minted. */
  readonly mintNewSuffix?: boolean;
}

export interface PutResult {
  readonly handle: string;
  readonly created: boolean;
}

export interface ImportLine {
  readonly handle: string;
  readonly values: readonly unknown[];
  /** Line number in the import file, for error messages. */
  readonly line?: number;
}

export interface ImportOutcome {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
}

const PREFIX_INDEX = 'prefix';
const NA_PREFIX = '0.NA';
const ADMIN_TYPE = 'HS_ADMIN';
const SECKEY_TYPE = 'HS_SECKEY';
const CREATOR_ADMIN_INDEX = 100;
const MAX_SECRETS_PER_WRITE = 4;

/**
 * Handles as Handle.Net serves them: resolution, create/replace, value edits, tombstones, listing.
 * Every write re-signs the record and is committed with its view, indexes, history and change-log
 * entry in one batch.
 */
export class HandleService {
  readonly serviceAdmin: Identity;
  /** HS_PUBKEY indexes of the service's signing keys on its own record. */
  readonly protectedKeyIndexes: ReadonlySet<number>;
  private readonly now: () => number;
  private readonly credentialCache = new Map<string, number>();
  /** HS_SECKEY values parsed from a request whose secret is not hashed yet. */
  private readonly pendingSecrets = new WeakSet<HandleValue>();
  /**
   * The values of a live handle record stored here, or undefined: what HS_VLIST groups and prefix
   * records say now, never a tombstone. Pass it to `requirePermission` so that groups expand.
   */
  readonly liveValues: ValuesLookup = (text) => {
    const record = this.store.findRecord(foldHandleCase(text));
    return record?.status === 'active' && record.family === 'handle' ? record.values : undefined;
  };

  constructor(
    readonly store: RecordStore,
    readonly signer: Signer,
    private readonly options: HandleServiceOptions,
  ) {
    this.serviceAdmin = { index: 300, handle: prefixHandle(options.prefix) };
    this.protectedKeyIndexes = new Set(options.signingKeyIndexes ?? []);
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  get prefix(): string {
    return this.options.prefix;
  }

  /** Seconds since the epoch, by the service's clock (injectable in tests). */
  nowSeconds(): number {
    return this.now();
  }

  // ----------------------------------------------------------------------------------------------
  // Reads

  /** Hot path: pre-rendered status and body for an unfiltered resolution, or undefined. */
  findView(handleText: string): Buffer | undefined {
    return this.store.findView(foldHandleCase(handleText));
  }

  findRecord(handle: Handle): StoredRecord | undefined {
    return this.store.findRecord(handle.key);
  }

  /** Whether these HS_ADMIN values give `who` the permission, HS_VLIST groups expanded against live records. */
  permits(who: Principal, values: readonly HandleValue[], permission: AdminPermissionName): boolean {
    return hasPermission(who, values, permission, this.liveValues);
  }

  /** Parses and checks that the handle is served here. */
  parseServed(text: string): Handle {
    const handle = parseHandle(text);
    if (!isHomed(handle, this.options.prefix)) throw new PrefixNotHomed(`Prefix ${handle.prefix} is not served here`);
    return handle;
  }

  /** Resolution with `type`/`index` filters (OR-ed). No match is data, not an error. */
  resolveFiltered(text: string, types: readonly string[], indexes: readonly number[]) {
    const handle = this.parseServed(text);
    const record = this.findRecord(handle);
    if (!record) throw new HandleNotFound(undefined, { handle: text });
    if (record.status === 'tombstoned') throw new HandleDeleted(undefined, { handle: record.id, tombstone: tombstoneJson(record.tombstone) });
    const selected = publicValues(record.values).filter(
      (v) => indexes.includes(v.index) || types.some((t) => typeMatches(v.type, t)),
    );
    if (selected.length === 0) return { responseCode: 200 as const, values: [], handle: record.id }; // Handle.Net's key order
    return handleResponse(record.id, selected);
  }

  /**
   * Resolution with credentials (Handle.Net's `auth=true`): the public values plus those only
   * admins may read (value permission ADMIN_READ), which need READ_VALUE on the handle; asking for
   * them without it is refused rather than answered without them. HS_SECKEY values never leave the
   * service (only their hash is stored). Filters as in `resolveFiltered`; none selects everything.
   */
  resolveAuthorized(text: string, types: readonly string[], indexes: readonly number[], who: Principal) {
    const handle = this.parseServed(text);
    const record = this.findRecord(handle);
    if (!record) throw new HandleNotFound(undefined, { handle: text });
    if (record.status === 'tombstoned') throw new HandleDeleted(undefined, { handle: record.id, tombstone: tombstoneJson(record.tombstone) });
    const readable = record.values.filter((v) => v.type !== SECKEY_TYPE && (v.permissions & (PERM_PUBLIC_READ | PERM_ADMIN_READ)) !== 0);
    const filtered = types.length === 0 && indexes.length === 0;
    const selected = filtered ? readable : readable.filter((v) => indexes.includes(v.index) || types.some((t) => typeMatches(v.type, t)));
    if (selected.some((v) => (v.permissions & PERM_PUBLIC_READ) === 0)) this.require(who, record.values, 'READ_VALUE', record.id);
    if (selected.length === 0) return { responseCode: 200 as const, values: [], handle: record.id };
    return handleResponse(record.id, selected);
  }

  // ----------------------------------------------------------------------------------------------
  // Authentication

  /** HTTP Basic against an HS_SECKEY value; successes are cached briefly so scrypt runs once. */
  async authenticate(identityText: string, secret: string): Promise<Principal> {
    const identity = parseIdentity(identityText);
    const record = this.store.findRecord(foldHandleCase(identity.handle));
    const seckey = record?.status === 'active' ? record.values.find((v) => v.index === identity.index && v.type === SECKEY_TYPE) : undefined;
    // One message for unknown identities and wrong secrets: failures must not reveal which identities exist.
    const failed = (): AuthFailed => new AuthFailed(`Authentication failed for ${formatIdentity(identity)}`);
    if (!seckey) {
      await verifySecret(secret, await dummySecretHash()); // the same time as a wrong secret
      throw failed();
    }
    const stored = Buffer.from(seckey.data).toString('utf8');
    const cacheKey = createHash('sha256').update(`${identityText}\u0000${secret}\u0000${stored}`).digest('base64');
    const cachedUntil = this.credentialCache.get(cacheKey);
    if (cachedUntil === undefined || cachedUntil < Date.now()) {
      if (!(await verifySecret(secret, stored))) throw failed();
      if (this.credentialCache.size > 10_000) this.credentialCache.clear();
      this.credentialCache.set(cacheKey, Date.now() + 60_000);
    }
    return { identity, serverAdmin: sameIdentity(identity, this.serviceAdmin) };
  }

  // ----------------------------------------------------------------------------------------------
  // Writes

  async put(text: string, req: PutRequest, who: Principal): Promise<PutResult> {
    const handle = req.mintNewSuffix ? this.mint(text) : this.parseServed(text);
    const now = this.now();
    const incoming = this.parseValues(req.values, now);
    return this.store.exclusive(async () => {
      const previous = this.findRecord(handle);
      const live = previous?.status === 'active' ? previous : undefined;
      let values: HandleValue[];
      if (req.indexes) {
        const wanted = [...new Set(req.indexes)].sort((a, b) => a - b).join(',');
        const given = incoming.map((v) => v.index).sort((a, b) => a - b).join(',');
        if (wanted !== given) throw new BodyInvalid(`index parameters (${wanted}) do not match the values' indexes (${given})`);
        if (!previous) throw new HandleNotFound(undefined, { handle: text });
        if (!live) throw new HandleDeleted(undefined, { handle: previous.id, tombstone: tombstoneJson(previous.tombstone) });
        if (!req.overwrite) {
          const taken = incoming.find((v) => live.values.some((o) => o.index === v.index));
          if (taken) throw new ValueExists(`Index ${taken.index} already exists`, { index: taken.index });
        }
        const replaced = new Set(incoming.map((v) => v.index));
        values = [...live.values.filter((v) => !replaced.has(v.index) && v.type !== SIGNATURE_TYPE), ...incoming];
      } else {
        if (live && !req.overwrite) throw new HandleExists(undefined, { handle: live.id });
        values = [...incoming];
        if (!incoming.some((v) => v.type === ADMIN_TYPE)) {
          values.push(...(live ? carriedAdmins(incoming, live) : [this.creatorAdmin(who.identity, incoming, now)]));
        }
      }
      if (live) {
        // A write that changes nothing still needs the right to change, and then writes nothing.
        if (this.checkEdits(who, live, values) === 0) {
          this.require(who, live.values, 'MODIFY_VALUE', live.id);
          return { handle: live.id, created: false };
        }
      } else this.checkCreate(who, handle);
      this.checkProtected(handle, values, who);
      this.checkVlists(handle, values, live);
      values = keepUnchangedTimestamps(await this.hashNewSecrets(values), live?.values ?? []);
      const record = this.nextRecord(handle, previous, values, who, now);
      await this.store.commit([this.recordWrite(handle, record, previous)]);
      return { handle: record.id, created: !live };
    });
  }

  async remove(text: string, indexes: readonly number[] | undefined, who: Principal, tomb: { reason?: string; successor?: string } = {}): Promise<StoredRecord> {
    const handle = this.parseServed(text);
    if (tomb.successor !== undefined) parseHandle(tomb.successor);
    return this.store.exclusive(async () => {
      const previous = this.findRecord(handle);
      if (!previous) throw new HandleNotFound(undefined, { handle: text });
      if (previous.status === 'tombstoned') throw new HandleDeleted(undefined, { handle: previous.id, tombstone: tombstoneJson(previous.tombstone) });
      const now = this.now();
      let record: StoredRecord;
      if (indexes && indexes.length > 0) {
        for (const index of indexes) {
          const v = previous.values.find((x) => x.index === index);
          if (!v) throw new ValueNotFound(`No value at index ${index}`, { index });
          if (v.type === SIGNATURE_TYPE) throw new ValueTypeReserved('The signature is maintained by the service');
        }
        const values = previous.values.filter((v) => !indexes.includes(v.index));
        this.checkEdits(who, previous, values);
        this.checkProtected(handle, values, who);
        record = this.nextRecord(handle, previous, values, who, now);
      } else {
        this.checkDelete(who, handle, previous);
        const tombstone: Tombstone = {
          reason: tomb.reason ?? 'deleted',
          at: now,
          ...(tomb.successor ? { successor: tomb.successor } : {}),
        };
        // The tombstone keeps the admins, so the same people can later re-create the handle.
        const admins = previous.values.filter((v) => v.type === ADMIN_TYPE);
        record = { ...this.nextRecord(handle, previous, admins, who, now), status: 'tombstoned', tombstone };
      }
      await this.store.commit([this.recordWrite(handle, record, previous)]);
      return record;
    });
  }

  // ----------------------------------------------------------------------------------------------
  // Listing

  async list(prefixText: string, page: number | undefined, pageSize: number | undefined, who: Principal) {
    const prefix = prefixText.toUpperCase().startsWith('0.NA/') ? prefixText.slice(5) : prefixText;
    const prefixRecord = this.parseServed(prefixHandle(prefix));
    this.require(who, this.liveValues(prefixRecord.text) ?? [], 'LIST_HANDLES', prefixRecord.text);
    const term = `${PREFIX_INDEX}\u0000${foldHandleCase(prefix)}`;
    const totalCount = await this.store.countIndex(term);
    // A pageSize alone pages from the first page (pageSize=0: the count only).
    const paged = pageSize !== undefined;
    const first = page ?? 0;
    const handles = paged ? await this.store.indexIds(term, { offset: first * pageSize, limit: pageSize }) : await this.store.indexIds(term);
    return { responseCode: 1, prefix: prefixText, totalCount: String(totalCount), ...(paged ? { page: first, pageSize } : {}), handles };
  }

  /** LIST_HANDLES on the service prefix (the service admin has it). */
  requireListing(who: Principal): void {
    if (who.serverAdmin) return;
    const text = prefixHandle(this.options.prefix);
    this.require(who, this.liveValues(text) ?? [], 'LIST_HANDLES', text);
  }

  /** Every prefix served here that has handles or a live prefix record (needs LIST_HANDLES on the service prefix). */
  async prefixes(who: Principal) {
    this.requireListing(who);
    // Prefix records (0.NA/<prefix>) are listed under 0.NA, which is no prefix of ours.
    const terms = (await this.store.indexTermsOf(PREFIX_INDEX)).filter((t) => t !== NA_PREFIX);
    const derived = (await this.prefixRecords()).map(foldHandleCase);
    const all = new Set([foldHandleCase(this.options.prefix), ...terms, ...derived]);
    return { responseCode: 1, totalCount: String(all.size), prefixes: [...all].sort() };
  }

  /** Prefixes served here with a live prefix record `0.NA/<prefix>`, the service's own included, as registered. */
  async prefixRecords(): Promise<string[]> {
    const ids = await this.store.indexIds(`${PREFIX_INDEX}\u0000${NA_PREFIX}`);
    return ids.map((id) => id.slice(NA_PREFIX.length + 1)).filter((p) => isHomed(parseHandle(prefixHandle(p)), this.options.prefix));
  }

  /** Live handles under a prefix (its own prefix record not counted). */
  countHandles(prefix: string): Promise<number> {
    return this.store.countIndex(`${PREFIX_INDEX}\u0000${foldHandleCase(prefix)}`);
  }

  // ----------------------------------------------------------------------------------------------
  // Bulk import (offline: the caller holds the data directory and acts as the service admin)

  async importBatch(lines: readonly ImportLine[], checkpoint: Readonly<Record<string, unknown>>): Promise<ImportOutcome> {
    const now = this.now();
    const admin: Principal = { identity: this.serviceAdmin, serverAdmin: true };
    const parsed = lines.map((line) => {
      try {
        const handle = this.parseServed(line.handle);
        // Prefix records hold the service's keys and admin secret: bulk loads never touch them.
        if (foldHandleCase(handle.prefix) === '0.NA') throw new ValueTypeReserved('prefix records (0.NA/...) cannot be imported');
        return { handle, values: this.parseValues(line.values, now) };
      } catch (e) {
        if (!(e instanceof CairnError)) throw e;
        throw new ImportLineInvalid(`line ${line.line ?? '?'}: ${e.code}: ${e.message}`, { line: line.line, cause: e.code });
      }
    });
    return this.store.exclusive(async () => {
      const writes: RecordWrite[] = [];
      const outcome = { created: 0, updated: 0, unchanged: 0 };
      const seen = new Map<string, StoredRecord>();
      for (const { handle, values: incoming } of parsed) {
        const previous = seen.get(handle.key) ?? this.findRecord(handle);
        const live = previous?.status === 'active' ? previous : undefined;
        let values = [...incoming];
        if (!incoming.some((v) => v.type === ADMIN_TYPE)) {
          // As a PUT does: a line that names no admins keeps the handle's, or makes the importer one.
          const kept = live ? carriedAdmins(incoming, live) : [];
          values.push(...(kept.length > 0 ? kept : [this.creatorAdmin(admin.identity, incoming, now)]));
        }
        if (live && !values.some((v) => this.pendingSecrets.has(v)) && sameValues(live.values, values, SIGNATURE_TYPE)) {
          outcome.unchanged++;
          continue;
        }
        values = keepUnchangedTimestamps(await this.hashNewSecrets(values), live?.values ?? []);
        const record = this.nextRecord(handle, previous, values, admin, now);
        writes.push(this.recordWrite(handle, record, previous));
        seen.set(handle.key, record);
        if (previous?.status === 'active') outcome.updated++;
        else outcome.created++;
      }
      await this.store.commit(writes, checkpoint);
      return outcome;
    });
  }

  /**
   * Creates a record the service maintains (a derived prefix's `0.NA/…`), signed, written by `who`.
   * `choose` runs under the write lock, so what it finds free stays free until the commit; a handle
   * that exists or existed (a tombstone) is refused. `also`: records that must land in the same
   * commit (a manufacturer's record beside its prefix), made under the same lock.
   */
  async createSystemRecord(
    who: Principal,
    choose: () => Promise<{ handle: string; values: readonly HandleValue[]; also?: () => readonly RecordWrite[] }>,
  ): Promise<StoredRecord> {
    return this.store.exclusive(async () => {
      const chosen = await choose();
      const handle = this.parseServed(chosen.handle);
      const previous = this.findRecord(handle);
      if (previous) throw new HandleExists(undefined, { handle: previous.id });
      const record = this.nextRecord(handle, undefined, keepUnchangedTimestamps(chosen.values, []), who, this.now());
      await this.store.commit([this.recordWrite(handle, record, undefined), ...(chosen.also?.() ?? [])]);
      return record;
    });
  }

  /** Writes a record as given, signed; for bootstrap records the service itself maintains. */
  async writeSystemRecord(text: string, values: readonly HandleValue[]): Promise<void> {
    const handle = parseHandle(text);
    await this.store.exclusive(async () => {
      const previous = this.findRecord(handle);
      const admin: Principal = { identity: this.serviceAdmin, serverAdmin: true };
      const record = this.nextRecord(handle, previous, keepUnchangedTimestamps([...values], previous?.values ?? []), admin, this.now());
      await this.store.commit([this.recordWrite(handle, record, previous)]);
    });
  }

  // ----------------------------------------------------------------------------------------------
  // Internals

  private mint(text: string): Handle {
    if (!text.endsWith('/')) throw new HandleInvalid('mintNewSuffix needs the path to end in "<prefix>/"');
    return this.parseServed(`${text}${uuidv4()}`);
  }

  private parseValues(raw: readonly unknown[], now: number): HandleValue[] {
    const seen = new Set<number>();
    let secrets = 0;
    return raw.map((input, i) => {
      const at = `values[${i}]`;
      let v = valueFromJson(input, now, at);
      const upper = v.type.toUpperCase();
      // HS_ types are the Handle System's own; a lower-case twin would slip past the checks below.
      if (upper.startsWith('HS_') && v.type !== upper) throw new ValueInvalid(`${at}: Handle System types are upper-case (${upper})`);
      if (v.type === SIGNATURE_TYPE) throw new ValueTypeReserved(`${at}: HS_SIGNATURE is computed by the service`);
      if (seen.has(v.index)) throw new ValueIndexDuplicate(`${at}: index ${v.index} appears twice`, { index: v.index });
      seen.add(v.index);
      if (v.type === SECKEY_TYPE) {
        if (++secrets > MAX_SECRETS_PER_WRITE) throw new ValueInvalid(`${at}: at most ${MAX_SECRETS_PER_WRITE} HS_SECKEY values per write`);
        v = this.protectSecret(v, input, at);
      }
      return v;
    });
  }

  /** HS_SECKEY secrets are stored hashed and never public; without explicit permissions they get `1100`. */
  private protectSecret(v: HandleValue, input: unknown, at: string): HandleValue {
    const explicit = (input as { permissions?: unknown }).permissions !== undefined;
    if (explicit && (v.permissions & PERM_PUBLIC_READ) !== 0) throw new ValueInvalid(`${at}: HS_SECKEY must not be publicly readable`);
    const secret = Buffer.from(v.data).toString('utf8');
    if (secret.length < 8) throw new ValueInvalid(`${at}: HS_SECKEY secret must be at least 8 characters`);
    const pending = { ...v, permissions: explicit ? v.permissions : 0b1100 };
    this.pendingSecrets.add(pending);
    return pending;
  }

  private creatorAdmin(identity: Identity, values: readonly HandleValue[], now: number): HandleValue {
    let index = CREATOR_ADMIN_INDEX;
    while (values.some((v) => v.index === index)) index++;
    return {
      index,
      type: ADMIN_TYPE,
      data: encodeAdmin({ handle: identity.handle, index: identity.index, permissions: DEFAULT_CREATOR_PERMISSIONS }),
      ttlType: 'relative',
      ttl: 86400,
      timestamp: now,
      permissions: 0b1110,
      references: [],
    };
  }

  private get serviceRecordKey(): string {
    return foldHandleCase(this.serviceAdmin.handle);
  }

  /**
   * The service record keeps what the service runs on: the admin's HS_SECKEY (which may be
   * replaced, not removed) and every signing key's HS_PUBKEY (which stay, so old signatures verify).
   */
  private checkProtected(handle: Handle, next: readonly HandleValue[], who: Principal): void {
    if (handle.key !== this.serviceRecordKey) return;
    const current = this.findRecord(handle);
    const secret = current?.values.find((v) => v.type === SECKEY_TYPE && v.index === this.serviceAdmin.index);
    const newSecret = next.find((v) => v.type === SECKEY_TYPE && v.index === this.serviceAdmin.index);
    if (secret && newSecret && newSecret !== secret && !who.serverAdmin) {
      throw new RecordProtected('Only the service admin changes the service admin secret', { handle: handle.text });
    }
    const kept = (index: number, type: string): boolean => next.some((v) => v.index === index && v.type === type);
    const needed = (current?.values ?? []).filter(
      (v) => (v.type === SECKEY_TYPE && v.index === this.serviceAdmin.index) || (v.type === 'HS_PUBKEY' && this.protectedKeyIndexes.has(v.index)),
    );
    for (const v of needed) {
      if (v.type === 'HS_PUBKEY' && !next.some((n) => sameValue(n, v))) {
        throw new RecordProtected(`HS_PUBKEY ${v.index} is a signing key of this service and cannot change or go`, { handle: handle.text });
      }
      if (!kept(v.index, v.type)) throw new RecordProtected(`${v.type} ${v.index} of the service record cannot be removed`, { handle: handle.text });
    }
  }

  private require(who: Principal, values: readonly HandleValue[], permission: AdminPermissionName, target: string): void {
    requirePermission(who, values, permission, target, this.liveValues);
  }

  /**
   * Creating a handle needs ADD_HANDLE on its live prefix record `0.NA/<prefix>`. Prefix records
   * themselves are made by the service admin only (`POST /api/prefixes`): ADD_DERIVED_PREFIX
   * (Handle.Net's ADD_NAMING_AUTH) grants nothing here.
   */
  private checkCreate(who: Principal, handle: Handle): void {
    if (who.serverAdmin) return;
    const prefixValues = foldHandleCase(handle.prefix) === NA_PREFIX ? [] : (this.liveValues(prefixHandle(handle.prefix)) ?? []);
    this.require(who, prefixValues, 'ADD_HANDLE', prefixHandle(handle.prefix));
  }

  /**
   * Tombstoning needs DELETE_HANDLE on the handle; a derived prefix's record `0.NA/<parent>.<n>`
   * needs DELETE_DERIVED_PREFIX (Handle.Net's DELETE_NAMING_AUTH) on its parent's record instead,
   * so an organisation's own admin cannot delete its prefix. The service's own record is kept.
   */
  private checkDelete(who: Principal, handle: Handle, record: StoredRecord): void {
    if (handle.key === this.serviceRecordKey) {
      this.require(who, record.values, 'DELETE_HANDLE', record.id);
      throw new RecordProtected(`${record.id} is the service's own record`, { handle: record.id });
    }
    if (foldHandleCase(handle.prefix) === NA_PREFIX) {
      const parent = parentPrefix(handle.suffix);
      const parentRecord = parent ? prefixHandle(parent) : `the parent of ${handle.suffix}`;
      this.require(who, parent ? (this.liveValues(parentRecord) ?? []) : [], 'DELETE_DERIVED_PREFIX', parentRecord);
      return;
    }
    this.require(who, record.values, 'DELETE_HANDLE', record.id);
  }

  /** New or changed HS_VLIST values must not close a cycle or nest too deep (vlist.ts). */
  private checkVlists(handle: Handle, values: readonly HandleValue[], live: StoredRecord | undefined): void {
    const written = values.filter((v) => v.type === VLIST_TYPE && !live?.values.some((o) => sameValue(o, v)));
    if (written.length === 0) return;
    checkVlistWrite(handle.text, written, (text) => (foldHandleCase(text) === handle.key ? values : this.liveValues(text)));
  }

  /**
   * Each added, changed or removed value needs its permission; admin values need the admin ones.
   * HS_VLIST values count as admin values: they are admin groups, and editing one with only the
   * value permissions would let a MODIFY_VALUE holder make itself an administrator.
   * Returns how many values change.
   */
  private checkEdits(who: Principal, current: StoredRecord, next: readonly HandleValue[]): number {
    const before = new Map(current.values.filter((v) => v.type !== SIGNATURE_TYPE).map((v) => [v.index, v]));
    const after = new Map(next.filter((v) => v.type !== SIGNATURE_TYPE).map((v) => [v.index, v]));
    let changes = 0;
    for (const [index, v] of after) {
      const old = before.get(index);
      const admin = isAdminClass(v) || (old !== undefined && isAdminClass(old));
      if (!old) {
        this.require(who, current.values, admin ? 'ADD_ADMIN' : 'ADD_VALUE', current.id);
        changes++;
      } else if (this.pendingSecrets.has(v) || !sameValue(old, v)) {
        this.require(who, current.values, admin ? 'MODIFY_ADMIN' : 'MODIFY_VALUE', current.id);
        changes++;
      }
    }
    for (const [index, v] of before) {
      if (!after.has(index)) {
        this.require(who, current.values, isAdminClass(v) ? 'REMOVE_ADMIN' : 'REMOVE_VALUE', current.id);
        changes++;
      }
    }
    return changes;
  }

  /** HS_SECKEY values from the request hold their secret until here: hashed only once the write is allowed. */
  private async hashNewSecrets(values: readonly HandleValue[]): Promise<HandleValue[]> {
    return Promise.all(
      values.map(async (v) => (this.pendingSecrets.has(v) ? { ...v, data: Buffer.from(await hashSecret(Buffer.from(v.data).toString('utf8'))) } : v)),
    );
  }

  private nextRecord(handle: Handle, previous: StoredRecord | undefined, values: readonly HandleValue[], who: Principal, now: number): StoredRecord {
    // A live handle keeps the spelling it was registered with, whatever case a later write used;
    // the signature's `sub` names that same spelling.
    const id = previous?.status === 'active' ? previous.id : handle.text;
    const { issuer, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(id, values, this.signer, { issuer, now, validitySeconds });
    return nextVersion(previous, { id, family: 'handle', owner: formatIdentity(who.identity), values: signed, now });
  }

  private recordWrite(handle: Handle, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
    const terms = (r: StoredRecord | undefined): string[] =>
      r?.status === 'active' ? [`${PREFIX_INDEX}\u0000${foldHandleCase(parseHandle(r.id).prefix)}`, ...valueIndexTerms(r)] : [];
    return { key: handle.key, record, previous, view: renderHandleView(record), indexTerms: terms(record), previousIndexTerms: terms(previous) };
  }
}

/** HS_ADMIN values and the HS_VLIST groups they may name. */
function isAdminClass(v: HandleValue): boolean {
  return v.type === ADMIN_TYPE || v.type === VLIST_TYPE;
}

/** A replacement that names no admins keeps the existing ones (at indexes it leaves free) rather than orphaning the handle. */
function carriedAdmins(incoming: readonly HandleValue[], live: StoredRecord): HandleValue[] {
  const used = new Set(incoming.map((v) => v.index));
  return live.values.filter((v) => v.type === ADMIN_TYPE && !used.has(v.index));
}

/** A value that did not change keeps its timestamp; changed and new values carry the write time. */
function keepUnchangedTimestamps(values: readonly HandleValue[], previous: readonly HandleValue[]): HandleValue[] {
  const old = new Map(previous.map((v) => [v.index, v]));
  return values
    .map((v) => {
      const o = old.get(v.index);
      if (!o || o.type === SIGNATURE_TYPE) return v;
      return sameValue(o, v) ? { ...v, timestamp: o.timestamp } : v;
    })
    .sort((a, b) => a.index - b.index);
}
