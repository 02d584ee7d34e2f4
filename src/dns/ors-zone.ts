import { valuesToRegistration } from '../families/oid/oid-record.js';
import { dnsLabelOf } from '../ids/oid-label.js';
import { findIdentifier, findLabel, longArcEntries } from '../ids/oid-names.js';
import type { StoredRecord } from '../records/record.js';
import { isPublicRead } from '../records/value.js';
import { orsName } from './ors-name.js';
import { CLASS_IN, TYPE, type Name, type ResourceRecord } from './wire.js';

/**
 * What the ORS zone holds (X.672 clause 6.3) and how Cairn's OID records become its records.
 *
 * At the name of every registered, active arc (ors-name.ts), NAPTR records with `regexp`
 * `!^.*$!<value>!` and replacement `.`:
 *
 *   ORS+COID  flags ""   the canonical OID, dotted
 *   ORS+UINF  flags "U"  where the record resolves over HTTP (Cairn's /api/oids/<oid>), then
 *                        the registrant's own service URIs (`ors` in the registration)
 *   ORS+CINF  flags "U"  the child-information document (/api/oids/<oid>/children)
 *   ORS+RINF  flags "U"  the registration-information document (/api/oids/<oid>)
 *
 * Each ASN.1 identifier and Unicode label of an arc that has a DNS label (IDNA A-label when not
 * ASCII) owns a DNAME to the arc's numeric name, so names beneath the label are rewritten to
 * numbers; since DNAME does not cover its own owner (RFC 6672), that owner also carries the
 * arc's NAPTR records, so a query for the labelled node itself is answered. The three roots'
 * standard names (itu-t, iso, joint-iso-itu-t) are DNAMEs at the apex.
 *
 * The flags of the COID record are empty because its result is an OID, not a URI; X.672's own
 * text was not available here, so this is Cairn's reading of the ORS service types.
 */
export interface OrsZoneOptions {
  readonly apex: Name;
  /** Base of the URLs the URI services point at, without a trailing slash. */
  readonly publicUrl: string;
  /** The name server named by the apex NS record, with its address as glue. */
  readonly nameServer: Name;
  readonly nameServerAddress: string;
  readonly hostmaster: Name;
  readonly ttl: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  /** Negative-caching TTL (RFC 2308). */
  readonly minimum: number;
}

export function zoneOptions(apexText: string, publicUrl: string, nameServerAddress: string): OrsZoneOptions {
  const apex = apexText.toLowerCase().replace(/\.$/, '').split('.');
  return {
    apex,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    nameServer: ['ns', ...apex],
    nameServerAddress,
    hostmaster: ['hostmaster', ...apex],
    ttl: 3600,
    refresh: 3600,
    retry: 600,
    expire: 1_209_600,
    minimum: 300,
  };
}

export function soaRecord(z: OrsZoneOptions, serial: number): ResourceRecord {
  return {
    name: z.apex,
    type: TYPE.SOA,
    class: CLASS_IN,
    ttl: z.ttl,
    data: { kind: 'SOA', mname: z.nameServer, rname: z.hostmaster, serial: serial >>> 0, refresh: z.refresh, retry: z.retry, expire: z.expire, minimum: z.minimum },
  };
}

/** The SOA as negative answers carry it: TTL the lesser of its own and MINIMUM (RFC 2308 section 3). */
export function negativeSoa(z: OrsZoneOptions, serial: number): ResourceRecord {
  return { ...soaRecord(z, serial), ttl: Math.min(z.ttl, z.minimum) };
}

export function nsRecord(z: OrsZoneOptions): ResourceRecord {
  return { name: z.apex, type: TYPE.NS, class: CLASS_IN, ttl: z.ttl, data: { kind: 'NS', host: z.nameServer } };
}

export function glueRecord(z: OrsZoneOptions): ResourceRecord {
  return { name: z.nameServer, type: TYPE.A, class: CLASS_IN, ttl: z.ttl, data: { kind: 'A', address: z.nameServerAddress } };
}

/**
 * Labels directly under the apex: the roots' standard names and the long arcs of X.660 (an
 * OID-IRI may start `/Example` for 2.999 or `/UUID` for 2.25), as DNS labels -> the arcs named.
 */
export const APEX_LABELS: ReadonlyMap<string, readonly bigint[]> = (() => {
  const out = new Map<string, readonly bigint[]>();
  for (const root of ['0', '1', '2']) {
    for (const name of [findIdentifier(root), findLabel(root)]) {
      const label = name === undefined ? undefined : dnsLabelOf(name);
      if (label !== undefined) out.set(label, [BigInt(root)]);
    }
  }
  for (const [text, arcs] of longArcEntries()) {
    const label = dnsLabelOf(text);
    if (label !== undefined && !out.has(label) && arcs.length > 1) out.set(label, arcs);
  }
  return out;
})();

/** The apex labels that name `arcs` (e.g. `example` and its translations for 2.999). */
function apexLabelsOf(arcs: readonly bigint[]): string[] {
  const key = arcs.join('.');
  return [...APEX_LABELS].filter(([, named]) => named.join('.') === key).map(([label]) => label);
}

export function apexDnameRecords(z: OrsZoneOptions): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const [label, arcs] of APEX_LABELS) {
    const target = orsName(arcs, z.apex);
    if (target) out.push(dname(z, [label, ...z.apex], target));
  }
  return out;
}

/** Every record of one registered arc: NAPTRs at its name, and per label a DNAME plus NAPTR copies. */
export function arcRecords(z: OrsZoneOptions, arcs: readonly bigint[], record: StoredRecord): ResourceRecord[] {
  if (record.status !== 'active') return [];
  const name = orsName(arcs, z.apex);
  if (!name) return [];
  const naptrs = naptrRecords(z, arcs, record);
  const out = naptrs.map((rr) => ({ ...rr, name }));
  const parent = name.slice(1);
  for (const label of arcLabels(record)) {
    const owner = [label, ...parent];
    out.push(dname(z, owner, name), ...naptrs.map((rr) => ({ ...rr, name: owner })));
  }
  // Apex labels (long arcs, root names) carry their DNAME always, and the NAPTR copies while the arc is registered.
  for (const label of apexLabelsOf(arcs)) out.push(...naptrs.map((rr) => ({ ...rr, name: [label, ...z.apex] })));
  return out;
}

/** The NAPTR records of an arc, owned by its numeric name. */
export function naptrRecords(z: OrsZoneOptions, arcs: readonly bigint[], record: StoredRecord): ResourceRecord[] {
  const dotted = arcs.join('.');
  const name = orsName(arcs, z.apex) ?? [];
  const reg = valuesToRegistration(record.values.filter(isPublicRead));
  const own = `${z.publicUrl}/api/oids/${dotted}`;
  const entries: [string, string, string][] = [
    ['', 'ORS+COID', dotted],
    ['U', 'ORS+UINF', own],
    ...reg.ors.map((uri): [string, string, string] => ['U', 'ORS+UINF', uri]),
    ['U', 'ORS+CINF', `${own}/children`],
    ['U', 'ORS+RINF', own],
  ];
  return entries
    .filter(([, , value]) => Buffer.byteLength(`!^.*$!${value}!`, 'latin1') <= 255 && /^[\x21-\x7e]*$/.test(value))
    .map(([flags, service, value], i) => ({
      name,
      type: TYPE.NAPTR,
      class: CLASS_IN,
      ttl: z.ttl,
      data: { kind: 'NAPTR', order: 100, preference: 10 + i, flags, service, regexp: `!^.*$!${escapeRegexpReplacement(value)}!`, replacement: [] },
    }));
}

/** The distinct DNS labels of an arc's ASN.1 identifiers and Unicode labels. */
export function arcLabels(record: StoredRecord): string[] {
  const reg = valuesToRegistration(record.values.filter(isPublicRead));
  const labels = new Set<string>();
  for (const text of [...reg.asn1Ids, ...reg.unicodeLabels]) {
    const label = dnsLabelOf(text);
    if (label !== undefined) labels.add(label);
  }
  return [...labels];
}

function dname(z: OrsZoneOptions, owner: Name, target: Name): ResourceRecord {
  return { name: owner, type: TYPE.DNAME, class: CLASS_IN, ttl: z.ttl, data: { kind: 'DNAME', target } };
}

/** In the replacement part of a NAPTR regexp, `\` and the delimiter `!` are escaped (RFC 3402 section 3.2). */
function escapeRegexpReplacement(value: string): string {
  return value.replace(/[\\!]/g, '\\$&');
}
