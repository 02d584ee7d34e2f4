import { BodyInvalid } from '../../errors.js';
import { checkUnicodeLabel } from '../../ids/oid-iri.js';
import { DLT_TX_TYPE, parseDltTx, type DltTx } from './oid-dlt.js';
import { DEFAULT_VALUE_PERMISSIONS, PERM_ADMIN_READ, PERM_ADMIN_WRITE, type HandleValue } from '../../records/value.js';

/**
 * An OID arc's registration as typed values (DESIGN section 2: every family is values), so one
 * signature and one verifier cover it:
 *
 *   OID.DESCRIPTION      text              OID.INFORMATION   text
 *   OID.ASN1ID           one per ASN.1 identifier
 *   OID.UNICODE_LABEL    one per Unicode label (X.660 7.5)
 *   OID.REGISTRANT       JSON {name, contact?, since}: the current registrant
 *   OID.FIRST_REGISTRANT JSON {name, contact?, since}: kept from the first registration
 *   OID.ORS              one per ORS service URI
 *   OID.GRANT            one per identity (`index:handle`) granted this arc's subtree
 *   DLT.TX               JSON {chain, txHash, block?, contract?, time?}: the ledger transaction
 *                        this arc stands for (Y.4476, see oid-dlt.ts); at most one
 *
 * A confidential registrant's values are admin-readable only (permissions 1100): anonymous
 * readers do not see them, and the public signature does not cover them.
 */
export interface Registrant {
  readonly name: string;
  readonly contact?: string;
  /** ISO-8601 time the registrant took the arc. */
  readonly since: string;
}

export interface OidRegistration {
  readonly description: string;
  readonly information?: string;
  readonly asn1Ids: readonly string[];
  readonly unicodeLabels: readonly string[];
  readonly registrant?: Registrant;
  readonly firstRegistrant?: Registrant;
  readonly confidential: boolean;
  readonly ors: readonly string[];
  readonly grants: readonly string[];
  readonly dltTx?: DltTx;
}

export const OID_TYPES = {
  description: 'OID.DESCRIPTION',
  information: 'OID.INFORMATION',
  asn1Id: 'OID.ASN1ID',
  unicodeLabel: 'OID.UNICODE_LABEL',
  registrant: 'OID.REGISTRANT',
  firstRegistrant: 'OID.FIRST_REGISTRANT',
  ors: 'OID.ORS',
  grant: 'OID.GRANT',
  dltTx: DLT_TX_TYPE,
} as const;

const ASN1_IDENTIFIER = /^[a-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$/;
const IDENTITY = /^\d{1,10}:[^\s]+\/[^\s]+$/;
const MAX_TEXT = 4096;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function text(x: unknown, field: string, required: boolean): string | undefined {
  if (x === undefined && !required) return undefined;
  if (typeof x !== 'string' || x.trim() === '' || x.length > MAX_TEXT || /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(x)) {
    throw new BodyInvalid(`${field} must be non-empty text of at most ${MAX_TEXT} characters`);
  }
  return x;
}

function list(x: unknown, field: string, check: (s: string) => void): string[] {
  if (x === undefined) return [];
  if (!Array.isArray(x) || x.length > 64 || !x.every((s) => typeof s === 'string')) throw new BodyInvalid(`${field} must be an array of strings`);
  const out = x as string[];
  if (new Set(out).size !== out.length) throw new BodyInvalid(`${field} has duplicates`);
  out.forEach(check);
  return out;
}

function registrant(x: unknown, now: string): Registrant | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) throw new BodyInvalid('registrant must be {"name": ..., "contact": ...}');
  for (const k of Object.keys(x)) if (k !== 'name' && k !== 'contact') throw new BodyInvalid(`registrant has an unknown member "${k}"`);
  const contact = text(x.contact, 'registrant.contact', false);
  return { name: text(x.name, 'registrant.name', true)!, ...(contact ? { contact } : {}), since: now };
}

const BODY_KEYS = new Set(['description', 'information', 'asn1Ids', 'unicodeLabels', 'registrant', 'confidential', 'ors', 'grants', 'dltTx']);

/** Parses a PUT body; `previous` supplies the first registrant and unchanged registrant dates. */
export function parseRegistration(body: unknown, previous: OidRegistration | undefined, now: string): OidRegistration {
  if (!isObject(body)) throw new BodyInvalid('Body must be an object, e.g. {"description": "Example sensor arc"}');
  for (const k of Object.keys(body)) if (!BODY_KEYS.has(k)) throw new BodyInvalid(`Unknown member "${k}"`);
  if (body.confidential !== undefined && typeof body.confidential !== 'boolean') throw new BodyInvalid('confidential must be true or false');
  let current = registrant(body.registrant, now);
  // The same registrant again keeps the date it took the arc.
  if (current && previous?.registrant && previous.registrant.name === current.name && previous.registrant.contact === current.contact) {
    current = previous.registrant;
  }
  const information = text(body.information, 'information', false);
  const dltTx = body.dltTx === undefined ? undefined : parseDltTx(body.dltTx);
  return {
    description: text(body.description, 'description', true)!,
    ...(information ? { information } : {}),
    asn1Ids: list(body.asn1Ids, 'asn1Ids', (id) => {
      if (!ASN1_IDENTIFIER.test(id)) throw new BodyInvalid(`"${id}" is not an ASN.1 identifier`);
    }),
    unicodeLabels: list(body.unicodeLabels, 'unicodeLabels', (label) => {
      if (/^[0-9]+$/.test(label)) throw new BodyInvalid(`"${label}" is an integer label; the arc number is always its integer label`);
      checkUnicodeLabel(label);
    }),
    ...(current ? { registrant: current } : {}),
    ...(previous?.firstRegistrant ?? current ? { firstRegistrant: previous?.firstRegistrant ?? current! } : {}),
    // Once confidential, an arc stays so until a write says otherwise.
    confidential: typeof body.confidential === 'boolean' ? body.confidential : (previous?.confidential ?? false),
    ors: list(body.ors, 'ors', (uri) => {
      if (uri.length > 2048 || !/^[a-z][a-z0-9+.-]*:[^\s]+$/i.test(uri)) throw new BodyInvalid(`"${uri}" is not a URI`);
    }),
    grants: list(body.grants, 'grants', (id) => {
      if (!IDENTITY.test(id)) throw new BodyInvalid(`"${id}" is not an identity index:handle`);
    }),
    ...(dltTx ? { dltTx } : {}),
  };
}

export function registrationToValues(reg: OidRegistration, now: number): HandleValue[] {
  const values: HandleValue[] = [];
  let index = 1;
  const add = (type: string, data: string, permissions = DEFAULT_VALUE_PERMISSIONS): void => {
    values.push({ index: index++, type, data: Buffer.from(data), ttlType: 'relative', ttl: 86400, timestamp: now, permissions, references: [] });
  };
  const hidden = reg.confidential ? PERM_ADMIN_READ | PERM_ADMIN_WRITE : DEFAULT_VALUE_PERMISSIONS;
  add(OID_TYPES.description, reg.description);
  if (reg.information) add(OID_TYPES.information, reg.information);
  for (const id of reg.asn1Ids) add(OID_TYPES.asn1Id, id);
  for (const label of reg.unicodeLabels) add(OID_TYPES.unicodeLabel, label);
  if (reg.registrant) add(OID_TYPES.registrant, JSON.stringify(reg.registrant), hidden);
  if (reg.firstRegistrant) add(OID_TYPES.firstRegistrant, JSON.stringify(reg.firstRegistrant), hidden);
  for (const uri of reg.ors) add(OID_TYPES.ors, uri);
  for (const grant of reg.grants) add(OID_TYPES.grant, grant);
  if (reg.dltTx) add(OID_TYPES.dltTx, JSON.stringify(reg.dltTx));
  return values;
}

export function valuesToRegistration(values: readonly HandleValue[]): OidRegistration {
  const all = (type: string): string[] => values.filter((v) => v.type === type).map((v) => Buffer.from(v.data).toString('utf8'));
  const one = (type: string): string | undefined => all(type)[0];
  const person = (type: string): Registrant | undefined => {
    const json = one(type);
    return json === undefined ? undefined : (JSON.parse(json) as Registrant);
  };
  // Confidentiality is carried by the registrant values' permissions (admin-only when confidential).
  const people = values.filter((v) => v.type === OID_TYPES.registrant || v.type === OID_TYPES.firstRegistrant);
  const information = one(OID_TYPES.information);
  const current = person(OID_TYPES.registrant);
  const first = person(OID_TYPES.firstRegistrant);
  const dltTx = one(OID_TYPES.dltTx);
  return {
    description: one(OID_TYPES.description) ?? '',
    ...(information ? { information } : {}),
    asn1Ids: all(OID_TYPES.asn1Id),
    unicodeLabels: all(OID_TYPES.unicodeLabel),
    ...(current ? { registrant: current } : {}),
    ...(first ? { firstRegistrant: first } : {}),
    confidential: people.some((v) => (v.permissions & 0b0010) === 0),
    ors: all(OID_TYPES.ors),
    grants: all(OID_TYPES.grant),
    ...(dltTx !== undefined ? { dltTx: JSON.parse(dltTx) as DltTx } : {}),
  };
}
