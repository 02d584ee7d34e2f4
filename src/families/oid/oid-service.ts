import { encodeOid } from '../../asn1/oid-der.js';
import { OidDeleted, OidExists, OidInvalid, OidNotFound, PermissionDenied } from '../../errors.js';
import { formatOidValueNotation } from '../../ids/oid-asn1.js';
import { formatOidIri } from '../../ids/oid-iri.js';
import { oidFromArcs, parseOid, type Oid } from '../../ids/oid.js';
import { isoSeconds, valueToJson } from '../../records/handle-json.js';
import { nextVersion, type StoredRecord, type Tombstone } from '../../records/record.js';
import { isPublicRead } from '../../records/value.js';
import { decodeCompact } from '../../signing/jws.js';
import { findSignature, withSignature } from '../../signing/record-signature.js';
import type { Signer } from '../../signing/signer.js';
import { encodeOidKey } from '../../store/oid-key.js';
import { SEP, type RecordStore, type RecordWrite } from '../../store/store.js';
import type { Principal } from '../doa/authorize.js';
import { formatIdentity, parseIdentity, sameIdentity } from '../doa/identity.js';
import { tombstoneJson } from '../doa/views.js';
import { OID_TYPES, parseRegistration, registrationToValues, valuesToRegistration } from './oid-record.js';

export interface OidServiceOptions {
  readonly issuer: string;
  readonly signatureValiditySeconds: number;
  readonly now?: () => number;
}

const CHILDREN = 'oidchild';
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

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
      const record = this.nextRecord(oid, previous, registrationToValues(registration, now), who, now);
      await this.store.commit([this.write(oid, record, previous)]);
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
      await this.store.commit([this.write(oid, record, previous)]);
    });
  }

  private nextRecord(oid: Oid, previous: StoredRecord | undefined, values: StoredRecord['values'], who: Principal, now: number): StoredRecord {
    const { issuer, signatureValiditySeconds: validitySeconds } = this.options;
    const signed = withSignature(`urn:oid:${oid.text}`, values, this.signer, { issuer, now, validitySeconds });
    return nextVersion(previous, { id: oid.text, family: 'oid', owner: formatIdentity(who.identity), values: signed, now });
  }

  private write(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
    const parentTerm = `${CHILDREN}${SEP}${encodeOidKey(oid.arcs.slice(0, -1))}`;
    const terms = (r: StoredRecord | undefined): string[] => (r?.status === 'active' && oid.arcs.length > 2 ? [parentTerm] : []);
    const view =
      record.status === 'active'
        ? { status: 200, body: Buffer.from(JSON.stringify(renderOidView(oid, record, false))) }
        : // Not served: a deleted arc answers through `view`, as problem+json.
          { status: 410, body: Buffer.from(JSON.stringify({ oid: oid.text, status: 'tombstoned', tombstone: tombstoneJson(record.tombstone) })) };
    return { key: oidRecordKey(oid), record, previous, view, indexTerms: terms(record), previousIndexTerms: terms(previous) };
  }
}

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
    status: record.status,
    version: record.version,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: visible.map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, kid: String(header?.kid), alg: String(header?.alg) } : null,
  };
}
