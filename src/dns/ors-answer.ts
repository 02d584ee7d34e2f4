import type { StoredRecord } from '../records/record.js';
import { isArcLabel, orsName } from './ors-name.js';
import { glueRecord, naptrRecords, negativeSoa, nsRecord, APEX_LABELS, soaRecord, type OrsZoneOptions } from './ors-zone.js';
import { CLASS_IN, foldLabel, MAX_NAME_OCTETS, nameOctets, RCODE, TYPE, type Name, type ResourceRecord } from './wire.js';

/** What the answering logic reads; the OID registry behind it is the store. */
export interface OrsData {
  /** The zone serial (from the OID change log). */
  serial(): number;
  /** The arc's current record, if any (tombstones included; the caller checks the status). */
  arc(arcs: readonly bigint[]): StoredRecord | undefined;
  /** The arc under `parent` that an active registration labels `label` (a DNS label). */
  childByLabel(parent: readonly bigint[], label: string): Promise<bigint | undefined>;
  /** True when an active arc lies strictly beneath `arcs`. */
  hasDescendant(arcs: readonly bigint[]): Promise<boolean>;
}

export interface Answer {
  readonly rcode: number;
  /** False when the name is outside the zone (the answer is then REFUSED). */
  readonly authoritative: boolean;
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
}

const MAX_CHAIN = 8;

/**
 * Answers one question for the ORS zone as an authoritative server does (RFC 1034 section 4.3.2,
 * RFC 6672 for DNAME, RFC 2308 for negative answers): NXDOMAIN only for names with nothing at or
 * beneath them; empty non-terminals (the unregistered ancestors of a registered arc) are NODATA.
 */
export async function answerQuestion(z: OrsZoneOptions, data: OrsData, qname: Name, qtype: number): Promise<Answer> {
  const folded = qname.map(foldLabel);
  if (!isUnder(folded, z.apex)) return { rcode: RCODE.REFUSED, authoritative: false, answers: [], authority: [], additional: [] };
  const answers: ResourceRecord[] = [];
  let name: Name = folded;
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const found = await lookup(z, data, name, qtype);
    answers.push(...found.records);
    if (found.kind === 'redirect') {
      if (nameOctets(found.target) > MAX_NAME_OCTETS) return { rcode: RCODE.YXDOMAIN, authoritative: true, answers, authority: [], additional: [] };
      answers.push({ name, type: TYPE.CNAME, class: CLASS_IN, ttl: z.ttl, data: { kind: 'CNAME', target: found.target } });
      name = found.target;
      continue;
    }
    const negative = found.kind !== 'answer' || found.records.length === 0;
    return {
      rcode: found.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR,
      authoritative: true,
      answers,
      authority: negative ? [negativeSoa(z, data.serial())] : [],
      additional: found.additional ?? [],
    };
  }
  return { rcode: RCODE.SERVFAIL, authoritative: true, answers, authority: [], additional: [] };
}

type Lookup =
  | { kind: 'answer'; records: ResourceRecord[]; additional?: ResourceRecord[] }
  | { kind: 'nxdomain'; records: ResourceRecord[]; additional?: undefined }
  | { kind: 'redirect'; records: ResourceRecord[]; target: Name; additional?: undefined };

const NX: Lookup = { kind: 'nxdomain', records: [] };
const answer = (records: ResourceRecord[], additional?: ResourceRecord[]): Lookup => ({ kind: 'answer', records, ...(additional ? { additional } : {}) });

function isUnder(name: Name, apex: Name): boolean {
  if (name.length < apex.length) return false;
  for (let i = 1; i <= apex.length; i++) if (name[name.length - i] !== apex[apex.length - i]) return false;
  return true;
}

const pick = (records: ResourceRecord[], qtype: number): ResourceRecord[] =>
  qtype === TYPE.ANY ? records : records.filter((rr) => rr.type === qtype);

async function lookup(z: OrsZoneOptions, data: OrsData, name: Name, qtype: number): Promise<Lookup> {
  // Labels below the apex, from the top down: 37476.1.4.1.6.3.1.<apex> -> 1 3 6 1 4 1 37476.
  const below = name.slice(0, name.length - z.apex.length).reverse();
  if (below.length === 0) {
    const apex = [soaRecord(z, data.serial()), nsRecord(z)];
    return answer(pick(apex, qtype), qtype === TYPE.NS ? [glueRecord(z)] : undefined);
  }
  if (below.length === 1 && below[0] === z.nameServer[0] && z.nameServer.length === z.apex.length + 1) {
    return answer(pick([glueRecord(z)], qtype));
  }
  const arcs: bigint[] = [];
  for (let i = 0; i < below.length; i++) {
    const label = below[i]!;
    if (isArcLabel(label)) {
      const arc = BigInt(label);
      if (!validArc(arcs, arc)) return NX;
      arcs.push(arc);
      continue;
    }
    const named = i === 0 ? APEX_LABELS.get(label) : await data.childByLabel(arcs, label).then((arc) => (arc === undefined ? undefined : [...arcs, arc]));
    if (named === undefined) return NX;
    const target = named;
    const targetName = orsName(target, z.apex);
    if (!targetName) return NX;
    const owner = name.slice(below.length - 1 - i);
    const dname: ResourceRecord = { name: owner, type: TYPE.DNAME, class: CLASS_IN, ttl: z.ttl, data: { kind: 'DNAME', target: targetName } };
    if (i === below.length - 1) {
      // The labelled node itself: its DNAME and, if the arc is registered, its NAPTR copies.
      const record = data.arc(target);
      const naptrs = record?.status === 'active' ? naptrRecords(z, target, record).map((rr) => ({ ...rr, name: owner })) : [];
      return answer(pick([dname, ...naptrs], qtype));
    }
    // A name beneath the label: the DNAME rewrites it (RFC 6672 section 2.2).
    return { kind: 'redirect', records: [dname], target: [...name.slice(0, below.length - 1 - i), ...targetName] };
  }
  const record = data.arc(arcs);
  if (record?.status === 'active' && orsName(arcs, z.apex)) {
    return answer(pick(naptrRecords(z, arcs, record), qtype));
  }
  return (await data.hasDescendant(arcs)) ? answer([]) : NX;
}

/** X.660: roots 0-2; under roots 0 and 1 the second arc is 0-39. */
function validArc(parent: readonly bigint[], arc: bigint): boolean {
  if (parent.length === 0) return arc <= 2n;
  if (parent.length === 1 && parent[0]! < 2n) return arc <= 39n;
  return true;
}
