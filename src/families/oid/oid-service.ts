import { encodeOid } from '../../asn1/oid-der.js';
import { OidDeleted, OidDltTxTaken, OidExists, OidInvalid, OidLabelTaken, OidNotFound, PermissionDenied } from '../../errors.js';
import { formatOidValueNotation } from '../../ids/oid-asn1.js';
import { formatOidIri, splitOidIri, standardIriArcs } from '../../ids/oid-iri.js';
import { labelKey } from '../../ids/oid-label.js';
import { oidFromArcs, parseOid, type Oid } from '../../ids/oid.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import { nextVersion, type StoredRecord, type Tombstone } from '../../records/record.js';
import { isPublicRead } from '../../records/value.js';
import { decodeCompact } from '../../signing/jws.js';
import { findSignature, withSignature } from '../../signing/record-signature.js';
import type { Signer } from '../../signing/signer.js';
import { encodeOidKey } from '../../store/oid-key.js';
import { SEP, type ChangeEntry, type RecordStore, type RecordWrite } from '../../store/store.js';
import type { Principal } from '../doa/authorize.js';
import { formatIdentity, parseIdentity, sameIdentity } from '../doa/identity.js';
import { tombstoneJson } from '../doa/views.js';
import { dltTxTerm, parseDltTxRef } from './oid-dlt.js';
import { OID_TYPES, parseRegistration, registrationToValues, valuesToRegistration, type OidRegistration } from './oid-record.js';
import { longArcByKey, standardArcByKey } from './oid-standard-labels.js';

export interface OidServiceOptions {
  readonly issuer: string;
  readonly signatureValiditySeconds: number;
  readonly now?: () => number;
}

/*
 * Index terms of an active arc (the store appends `00 <record key>`; a tombstone drops them all):
 *   oidchild  00 <parent OidKey>                  children pages (arcs of 3 or more arcs only)
 *   oidlabel  00 <parent OidKey> 00 <labelKey>    one per distinct label key of its ASN.1
 *                                                 identifiers and Unicode labels: sibling
 *                                                 uniqueness and lookup by label
 *   oidactive                                     every active arc; the record keys sort as the
 *                                                 OIDs do, so a subtree is one key range
 *   oiddlt    00 <chain> 00 <txHash>              the Y.4476 ledger transaction (oid-dlt.ts)
 */
/** Meta entry recording that the label, active-arc and ledger indexes cover every stored arc. */
export const OID_INDEX_META = 'oidIndexVersion';
export const OID_INDEX_VERSION = 1;
const CHILDREN = 'oidchild';
const LABEL = 'oidlabel';
const ACTIVE = 'oidactive';
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** One change of an arc, as `onChange` listeners get it. */
export interface OidChange {
  readonly oid: Oid;
  /** Change-log position of the write. */
  readonly seq: number;
}

const labelTerm = (parent: readonly bigint[], key: string): string => `${LABEL}${SEP}${encodeOidKey(parent)}${SEP}${key}`;

/** Distinct label keys of a registration's ASN.1 identifiers and Unicode labels, each with a label that has it. */
function labelsByKey(reg: OidRegistration): Map<string, string> {
  const out = new Map<string, string>();
  for (const label of [...reg.asn1Ids, ...reg.unicodeLabels]) if (!out.has(labelKey(label))) out.set(labelKey(label), label);
  return out;
}

/** Storage key of an OID record: never contains "/", so it cannot meet a handle's key. */
export function oidRecordKey(oid: Oid): string {
  return `oid:${encodeOidKey(oid.arcs)}`;
}

/**
 * The OID registry (X.660 arcs, issue 4): registrations are signed records of OID.* values.
 * Authority: the service admin everywhere; anyone named by an OID.GRANT on an arc, for the arcs
 * strictly beneath it (including granting those further).
 */
export class OidService {
  private readonly now: () => number;
  private readonly listeners = new Set<{ readonly listener: (change: OidChange) => void }>();

  constructor(
    private readonly store: RecordStore,
    private readonly signer: Signer,
    private readonly options: OidServiceOptions,
  ) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  find(oid: Oid): StoredRecord | undefined {
    return this.store.findRecord(oidRecordKey(oid));
  }

  /** The registered arc nearest above `oid`, as OID-IP answers for unregistered OIDs. */
  nearestRegistered(oid: Oid): { oid: string; distance: number } | undefined {
    for (let n = oid.arcs.length - 1; n >= 2; n--) {
      const ancestor = oidFromArcs(oid.arcs.slice(0, n));
      if (this.find(ancestor)?.status === 'active') return { oid: ancestor.text, distance: oid.arcs.length - n };
    }
    return undefined;
  }

  /** Anonymous readers' view of a registered arc, as stored at write time; undefined otherwise. */
  findPublicView(text: string): Buffer | undefined {
    const view = this.store.findView(oidRecordKey(parseOid(text)));
    return view !== undefined && view.readUInt16BE(0) === 200 ? view.subarray(2) : undefined;
  }

  /** The record as readers see it; those who may edit the arc also see confidential values. */
  view(text: string, who?: Principal) {
    const oid = parseOid(text);
    const record = this.find(oid);
    if (!record) {
      const nearest = this.nearestRegistered(oid);
      throw new OidNotFound(`${oid.text} is not registered`, { oid: oid.text, ...(nearest ? { nearest: nearest.oid, distance: nearest.distance } : {}) });
    }
    if (record.status === 'tombstoned') throw new OidDeleted(`${oid.text} was deleted`, { oid: oid.text, tombstone: tombstoneJson(record.tombstone) });
    return renderOidView(oid, record, who !== undefined && this.mayEdit(who, oid));
  }

  viewByUuid(uuid: string) {
    if (!UUID.test(uuid)) throw new OidInvalid(`"${uuid}" is not a UUID`);
    return this.view(`2.25.${BigInt(`0x${uuid.replace(/-/g, '')}`)}`);
  }

  /**
   * The active arc directly under `parent` that has `label` as an ASN.1 identifier or Unicode
   * label, compared by `labelKey` (so case-insensitively; see src/ids/oid-label.ts).
   * Registered arcs only: the standard names of `registries/oid/` are not consulted.
   */
  async findChildByLabel(parent: Oid | readonly bigint[], label: string): Promise<Oid | undefined> {
    const arcs = 'arcs' in parent ? parent.arcs : parent;
    if (label === '' || CONTROL.test(label)) return undefined; // U+0000 would reach into other terms
    const [id] = await this.store.indexIds(labelTerm(arcs, labelKey(label)), { limit: 1 });
    if (id === undefined) return undefined;
    const child = parseOid(id);
    return this.find(child)?.status === 'active' ? child : undefined;
  }

  /**
   * The OID an OID-IRI names, walking it label by label: integer labels are arcs; the first
   * label may be a long arc (`/Example`, `/UUID`); under 2.25 a UUID is its arc; any other label
   * is, in this order, a standard name of `registries/oid/` matched exactly, a label registered
   * through PUT on an active child (`findChildByLabel`), or a standard name matched by
   * `labelKey`. X.660 says nothing found about case or normalisation (registries/oid/README.md,
   * section D), so a label that differs only in case still resolves; registered labels are unique
   * among siblings by the same key, so this never makes a lookup ambiguous. ASN.1 identifiers of
   * registered arcs share that namespace and resolve as labels too.
   */
  async resolveIri(text: string): Promise<Oid> {
    const arcs: bigint[] = [];
    for (const [i, label] of splitOidIri(text).entries()) {
      const standard = standardIriArcs(arcs, i, label);
      if (standard) {
        arcs.push(...standard);
        continue;
      }
      const registered = arcs.length > 0 ? await this.findChildByLabel(arcs, label) : undefined;
      if (registered) {
        arcs.push(registered.arcs.at(-1)!);
        continue;
      }
      const parent = arcs.join('.');
      const key = labelKey(label);
      const folded = i === 0 ? (longArcByKey(key) ?? optional(standardArcByKey('', key))) : optional(standardArcByKey(parent, key));
      if (!folded) throw new OidInvalid(`Unicode label "${label}" is not known under ${parent === '' ? 'the root' : parent}`);
      arcs.push(...folded);
    }
    return oidFromArcs(arcs);
  }

  /** The active arc that stands for a ledger transaction, `?dltTx=<chain>:<txHash>` (Y.4476). */
  async findByDltTx(ref: string): Promise<Oid | undefined> {
    const [id] = await this.store.indexIds(dltTxTerm(parseDltTxRef(ref)), { limit: 1 });
    return id === undefined ? undefined : parseOid(id);
  }

  /** Whether some active registered arc lies strictly beneath `oid`, at any depth: one key read. */
  async hasActiveDescendant(oid: Oid | readonly bigint[]): Promise<boolean> {
    // Arcs alone too: a root (one arc) is not an Oid, but ORS asks whether it has descendants.
    const arcs = 'arcs' in oid ? oid.arcs : oid;
    const base = `${ACTIVE}${SEP}oid:${encodeOidKey(arcs)}`;
    // Descendants' keys continue the arc's key with hex digits; the arc's own key ends there.
    for await (const _ of this.store.index.keys({ gte: `${base}0`, lt: `${base}g`, limit: 1 })) return true;
    return false;
  }

  /** Every active arc with its record, in numeric OID order. */
  async *activeArcs(): AsyncGenerator<{ oid: Oid; record: StoredRecord }> {
    for await (const id of this.store.index.values({ gt: `${ACTIVE}${SEP}`, lt: `${ACTIVE}\u0001` })) {
      const oid = parseOid(id);
      const record = this.find(oid);
      // Removed since the iterator's snapshot was taken: skipped.
      if (record?.status === 'active') yield { oid, record };
    }
  }

  /**
   * Calls `listener` after every committed put or remove of an arc, in commit order, before the
   * next write starts (so keep it short; it runs under the write lock). A listener that throws
   * does not affect the write or the other listeners; its error becomes a process warning.
   * Returns the function that unsubscribes.
   */
  onChange(listener: (change: OidChange) => void): () => void {
    const entry = { listener };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private emit(oid: Oid, changes: readonly ChangeEntry[]): void {
    for (const change of changes) {
      for (const { listener } of [...this.listeners]) {
        try {
          listener({ oid, seq: change.seq });
        } catch (e) {
          process.emitWarning(`OID change listener failed: ${e instanceof Error ? e.message : String(e)}`, 'CairnListenerWarning');
        }
      }
    }
  }

  async children(text: string, page: number, pageSize: number) {
    const oid = parseOid(text);
    const term = `${CHILDREN}${SEP}${encodeOidKey(oid.arcs)}`;
    const total = await this.store.countIndex(term);
    const ids = await this.store.indexIds(term, { offset: page * pageSize, limit: pageSize });
    return { oid: oid.text, total, page, pageSize, children: ids };
  }

  mayEdit(who: Principal, oid: Oid): boolean {
    if (who.serverAdmin) return true;
    const granted = (text: string): boolean => {
      try {
        return sameIdentity(parseIdentity(text), who.identity); // handles compare case-insensitively
      } catch {
        return false;
      }
    };
    for (let n = oid.arcs.length - 1; n >= 1; n--) {
      const ancestor = this.store.findRecord(`oid:${encodeOidKey(oid.arcs.slice(0, n))}`);
      if (ancestor?.status === 'active' && ancestor.values.some((v) => v.type === OID_TYPES.grant && granted(Buffer.from(v.data).toString()))) return true;
    }
    return false;
  }

  private requireEdit(who: Principal, oid: Oid): void {
    if (!this.mayEdit(who, oid)) throw new PermissionDenied(`${formatIdentity(who.identity)} holds no grant above ${oid.text}`);
  }

  async put(text: string, body: unknown, who: Principal, overwrite = true): Promise<{ oid: string; created: boolean }> {
    const oid = parseOid(text);
    encodeOid(oid); // the DER limits apply to every registered arc
    this.requireEdit(who, oid); // early, so a refused write never waits for the lock
    return this.store.exclusive(async () => {
      this.requireEdit(who, oid); // again under the lock: a grant may have been withdrawn meanwhile
      const previous = this.find(oid);
      const live = previous?.status === 'active' ? previous : undefined;
      if (live && !overwrite) throw new OidExists(`${oid.text} is registered`, { oid: oid.text });
      const now = this.now();
      const registration = parseRegistration(body, live ? valuesToRegistration(live.values) : undefined, isoSeconds(now));
      await this.checkUnique(oid, registration);
      const record = this.nextRecord(oid, previous, registrationToValues(registration, now), who, now);
      this.emit(oid, await this.store.commit([this.write(oid, record, previous)]));
      return { oid: oid.text, created: !live };
    });
  }

  async remove(text: string, who: Principal, reason = 'deleted'): Promise<void> {
    const oid = parseOid(text);
    this.requireEdit(who, oid);
    await this.store.exclusive(async () => {
      this.requireEdit(who, oid);
      const previous = this.find(oid);
      if (!previous) throw new OidNotFound(`${oid.text} is not registered`, { oid: oid.text });
      if (previous.status === 'tombstoned') throw new OidDeleted(`${oid.text} was deleted`, { oid: oid.text });
      const now = this.now();
      const tombstone: Tombstone = { reason, at: now };
      const record = { ...this.nextRecord(oid, previous, [], who, now), status: 'tombstoned' as const, tombstone };
      this.emit(oid, await this.store.commit([this.write(oid, record, previous)]));
    });
  }

  /**
   * Refuses, before anything is written, a label another active sibling (or a standard name of
   * `registries/oid/` for another arc under the same parent) already has, and a ledger
   * transaction another active arc stands for. Call under the write lock.
   */
  private async checkUnique(oid: Oid, reg: OidRegistration): Promise<void> {
    const parent = oid.arcs.slice(0, -1);
    const arc = oid.arcs.at(-1)!;
    for (const [key, label] of labelsByKey(reg)) {
      const standard = standardArcByKey(parent.join('.'), key);
      if (standard !== undefined && standard !== arc) {
        const takenBy = [...parent, standard].join('.');
        throw new OidLabelTaken(`"${label}" is a standard name of ${takenBy}`, { oid: oid.text, label, takenBy });
      }
      const takenBy = (await this.store.indexIds(labelTerm(parent, key), { limit: 2 })).find((id) => id !== oid.text);
      if (takenBy !== undefined) throw new OidLabelTaken(`"${label}" is already a label of ${takenBy}`, { oid: oid.text, label, takenBy });
    }
    if (reg.dltTx) {
      const takenBy = (await this.store.indexIds(dltTxTerm(reg.dltTx), { limit: 2 })).find((id) => id !== oid.text);
      if (takenBy !== undefined) throw new OidDltTxTaken(`${reg.dltTx.chain} transaction ${reg.dltTx.txHash} is assigned to ${takenBy}`, { oid: oid.text, takenBy });
    }
  }

  private nextRecord(oid: Oid, previous: StoredRecord | undefined, values: StoredRecord['values'], who: Principal, now: number): StoredRecord {
    const { issuer, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(`urn:oid:${oid.text}`, values, this.signer, { issuer, now, validitySeconds });
    return nextVersion(previous, { id: oid.text, family: 'oid', owner: formatIdentity(who.identity), values: signed, now });
  }

  /**
   * Builds the label, active-arc and ledger indexes for arcs stored before those indexes existed
   * (data directories from before they were introduced); runs once, recorded in meta.
   */
  async reindexIfNeeded(): Promise<number> {
    const VERSION = OID_INDEX_VERSION;
    if (((await this.store.getMeta<number>(OID_INDEX_META)) ?? 0) >= VERSION) return 0;
    return this.store.exclusive(async () => {
      const entries: { term: string; key: string; id: string }[] = [];
      for await (const [key, record] of this.store.allRecords()) {
        if (record.family !== 'oid') continue;
        for (const term of oidIndexTerms(parseOid(record.id), record)) entries.push({ term, key, id: record.id });
      }
      await this.store.addIndexEntries(entries, { [OID_INDEX_META]: VERSION });
      return entries.length;
    });
  }

  private write(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
    return oidRecordWrite(oid, record, previous);
  }
}

/** An arc's write: its stored view and index terms (the mirror applies the primary's records with it). */
export function oidRecordWrite(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  return { key: oidRecordKey(oid), record, previous, view: oidStoredView(oid, record), indexTerms: oidIndexTerms(oid, record), previousIndexTerms: oidIndexTerms(oid, previous) };
}

/** The view stored beside an arc's record: its JSON, or, for a deleted arc, a 410 body (not served: `view` answers problem+json). */
export function oidStoredView(oid: Oid, record: StoredRecord): { status: number; body: Buffer } {
  return record.status === 'active'
    ? { status: 200, body: Buffer.from(JSON.stringify(renderOidView(oid, record, false))) }
    : { status: 410, body: Buffer.from(JSON.stringify({ oid: oid.text, status: 'tombstoned', tombstone: tombstoneJson(record.tombstone) })) };
}

/** The index terms an arc's record is listed under: only active arcs are (mirrors and doctor use it too). */
export function oidIndexTerms(oid: Oid, r: StoredRecord | undefined): string[] {
  if (r?.status !== 'active') return [];
  const parent = oid.arcs.slice(0, -1);
  const reg = valuesToRegistration(r.values);
  return [
    ...(oid.arcs.length > 2 ? [`${CHILDREN}${SEP}${encodeOidKey(parent)}`] : []),
    ACTIVE,
    ...[...labelsByKey(reg).keys()].map((key) => labelTerm(parent, key)),
    ...(reg.dltTx ? [dltTxTerm(reg.dltTx)] : []),
  ];
}

const optional = (arc: bigint | undefined): bigint[] | undefined => (arc === undefined ? undefined : [arc]);

/** The JSON an OID resolves to: its forms, its registration, its values and signature. */
export function renderOidView(oid: Oid, record: StoredRecord, privileged: boolean) {
  const visible = privileged ? record.values : record.values.filter(isPublicRead);
  const reg = valuesToRegistration(visible);
  const sig = findSignature(visible);
  const jws = sig ? Buffer.from(sig.data).toString('utf8') : undefined;
  const header = jws ? decodeCompact(jws).header : undefined;
  return {
    oid: oid.text,
    der: encodeOid(oid).toString('hex'),
    iri: formatOidIri(oid),
    asn1: formatOidValueNotation(oid),
    description: reg.description,
    ...(reg.information ? { information: reg.information } : {}),
    asn1Ids: reg.asn1Ids,
    unicodeLabels: reg.unicodeLabels,
    ...(reg.registrant ? { registrant: reg.registrant } : {}),
    ...(reg.firstRegistrant ? { firstRegistrant: reg.firstRegistrant } : {}),
    confidential: valuesToRegistration(record.values).confidential,
    ors: reg.ors,
    grants: reg.grants,
    ...(reg.dltTx ? { dltTx: reg.dltTx } : {}),
    status: record.status,
    version: record.version,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: visible.map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, kid: String(header?.kid), alg: String(header?.alg) } : null,
  };
}
