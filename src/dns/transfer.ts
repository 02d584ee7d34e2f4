import { decodeOidKey } from '../store/oid-key.js';
import type { StoredRecord } from '../records/record.js';
import type { OrsSource } from './ors-source.js';
import { arcRecords, glueRecord, nsRecord, apexDnameRecords, soaRecord, type OrsZoneOptions } from './ors-zone.js';
import { CLASS_ANY, CLASS_IN, foldLabel, MessageWriter, nameKey, RCODE, rdataKey, type Message, type Question, type ResourceRecord } from './wire.js';

/** Messages of a transfer are cut at about this size (TCP allows 65535; smaller keeps memory flat). */
const MESSAGE_TARGET = 16_000;

/**
 * Zone transfers over TCP. AXFR (RFC 5936): SOA, every record, SOA. IXFR (RFC 1995): the OID
 * changes since the client's serial, replayed from the change log and condensed into one
 * difference (old SOA, records removed, new SOA, records added), or a single SOA when the client
 * is current; a client ahead of us, or one whose serial we cannot place, gets the whole zone.
 */
export async function* transferMessages(z: OrsZoneOptions, source: OrsSource, query: Message, question: Question): AsyncGenerator<Buffer> {
  const isApex = nameKey(question.name.map(foldLabel)) === nameKey(z.apex);
  if (question.class !== CLASS_IN && question.class !== CLASS_ANY) {
    yield single(query, question, RCODE.REFUSED, []);
    return;
  }
  if (!isApex) {
    yield single(query, question, RCODE.NOTAUTH, []);
    return;
  }
  const sequence = source.sequence;
  const serial = sequence >>> 0;
  const soa = soaRecord(z, serial);
  if (question.type === 251 /* IXFR */) {
    const clientSoa = query.authority.find((rr) => rr.data.kind === 'SOA');
    const clientSerial = clientSoa?.data.kind === 'SOA' ? clientSoa.data.serial : undefined;
    if (clientSerial === undefined) {
      yield single(query, question, RCODE.FORMERR, []);
      return;
    }
    if (clientSerial === serial) {
      yield single(query, question, RCODE.NOERROR, [soa]);
      return;
    }
    // Serial numbers are change-log positions; one below ours is a position we can replay from.
    if (clientSerial < serial && sequence < 2 ** 32) {
      const diff = await difference(z, source, clientSerial);
      yield* pack(query, question, [soa, soaRecord(z, clientSerial), ...diff.removed, soa, ...diff.added, soa]);
      return;
    }
  }
  yield* pack(query, question, [soa, ...(await zoneRecords(z, source)), soa]);
}

/** Every record of the zone but the SOA, in OID order. */
export async function zoneRecords(z: OrsZoneOptions, source: Pick<OrsSource, 'activeArcs'>): Promise<ResourceRecord[]> {
  // Gathered before sending so the transfer is one consistent state even if writes land meanwhile.
  const out: ResourceRecord[] = [nsRecord(z), glueRecord(z), ...apexDnameRecords(z)];
  for await (const { oid, record } of source.activeArcs()) out.push(...arcRecords(z, oid.arcs, record));
  return out;
}

async function difference(z: OrsZoneOptions, source: OrsSource, since: number): Promise<{ removed: ResourceRecord[]; added: ResourceRecord[] }> {
  // The first change after `since` of each arc tells which version the client holds.
  const firstVersion = new Map<string, number>();
  for await (const change of source.changesSince(since)) if (!firstVersion.has(change.key)) firstVersion.set(change.key, change.version);
  const removed: ResourceRecord[] = [];
  const added: ResourceRecord[] = [];
  for (const [key, version] of firstVersion) {
    const arcs = decodeOidKey(key.slice('oid:'.length));
    const before: StoredRecord | undefined = version > 1 ? await source.recordAt(key, version - 1) : undefined;
    const now = source.arc(arcs);
    const oldRecords = before ? arcRecords(z, arcs, before) : [];
    const newRecords = now ? arcRecords(z, arcs, now) : [];
    const oldKeys = new Set(oldRecords.map(rdataKey));
    const newKeys = new Set(newRecords.map(rdataKey));
    removed.push(...oldRecords.filter((rr) => !newKeys.has(rdataKey(rr))));
    added.push(...newRecords.filter((rr) => !oldKeys.has(rdataKey(rr))));
  }
  return { removed, added };
}

function header(query: Message, rcode: number) {
  return { id: query.header.id, qr: true, opcode: query.header.opcode, aa: rcode === RCODE.NOERROR, tc: false, rd: query.header.rd, ra: false, ad: false, cd: false, rcode };
}

function single(query: Message, question: Question, rcode: number, records: ResourceRecord[]): Buffer {
  const w = new MessageWriter(512);
  w.header(header(query, rcode));
  w.question(question);
  for (const rr of records) w.record(1, rr);
  if (query.edns) w.opt(65535, 0, false);
  return w.finish();
}

function* pack(query: Message, question: Question, records: readonly ResourceRecord[]): Generator<Buffer> {
  let w: MessageWriter | undefined;
  let first = true;
  for (const rr of records) {
    if (!w) {
      w = new MessageWriter(MESSAGE_TARGET + 1024);
      w.header(header(query, RCODE.NOERROR));
      // The question goes in the first message only (RFC 5936 section 2.2).
      if (first) w.question(question);
      first = false;
    }
    w.record(1, rr);
    if (w.size >= MESSAGE_TARGET) {
      yield w.finish();
      w = undefined;
    }
  }
  if (w) yield w.finish();
}
