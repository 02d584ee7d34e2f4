import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, type Message, type ResourceRecord } from '../../src/dns/wire.js';
import { APEX, buildQuery, countsOf, dotted, flagsOf, R, soaRr, startOrsServer, T, tcpQuery, textOf, transfer, udpQuery, type OrsServer } from './helpers.js';

/** Zone transfers from a real server over TCP: AXFR (RFC 5936) and IXFR (RFC 1995). */

const PUBLIC = 'https://ors.example.net';
let s: OrsServer;

beforeAll(async () => {
  s = await startOrsServer({ publicUrl: PUBLIC });
  const arcs: [string, unknown][] = [
    ['2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] }],
    ['2.999.1', { description: 'Sensors', asn1Ids: ['sensors'], unicodeLabels: ['Capteurs'], ors: ['https://sensors.example.com/ors'] }],
    ['2.999.1.7', { description: 'Sensor seven' }],
    ['2.999.5', { description: 'Unicode label', unicodeLabels: ['Ångström'] }],
    ['1.3.6.1.4.1.99999', { description: 'A deep arc', ors: ['urn:example:deep'] }],
  ];
  for (const [oid, body] of arcs) expect([oid, await s.put(oid, body)]).toEqual([oid, 201]);
});

afterAll(async () => {
  await s?.close();
});

const axfrQuery = (name = APEX): Buffer => buildQuery({ name, type: T.AXFR, rd: false });
const ixfrQuery = (serial: number, name = APEX): Buffer => buildQuery({ name, type: T.IXFR, rd: false, authority: [soaRr(name, serial)] });
const serialOf = (rr: ResourceRecord | undefined): number => {
  if (rr?.data.kind !== 'SOA') throw new Error(`expected an SOA, got ${rr ? textOf(rr) : 'nothing'}`);
  return rr.data.serial;
};
const currentSerial = async (): Promise<number> => serialOf(decodeMessage(await udpQuery(s.dnsPort, buildQuery({ name: APEX, type: T.SOA }))).answers[0]);

/** An AXFR as a set of text lines (the closing SOA dropped), after checking its framing. */
async function axfr(): Promise<{ serial: number; lines: Set<string>; records: ResourceRecord[]; messages: Message[] }> {
  const { messages, records } = await transfer(s.dnsPort, axfrQuery());
  expect(messages[0]!.header).toMatchObject({ qr: true, aa: true, rcode: 0 });
  expect(messages[0]!.questions.map((q) => [dotted(q.name), q.type])).toEqual([[APEX, T.AXFR]]);
  for (const m of messages.slice(1)) expect(m.questions).toEqual([]);
  const serial = serialOf(records[0]);
  expect(serialOf(records.at(-1))).toBe(serial);
  expect(records.filter((rr) => rr.type === T.SOA)).toHaveLength(2);
  const body = records.slice(0, -1);
  const lines = new Set(body.map(textOf));
  expect(lines.size).toBe(body.length); // no record twice
  return { serial, lines, records: body, messages };
}

const minus = (a: Set<string>, b: Set<string>): string[] => [...a].filter((x) => !b.has(x)).sort();

describe('AXFR', () => {
  it('starts and ends with the SOA and holds the apex NS and glue, the root and long-arc DNAMEs, and every arc\'s NAPTRs and DNAMEs', async () => {
    const z = await axfr();
    expect(z.serial).toBe(await currentSerial());
    const lines = z.lines;
    const has = (line: string): void => expect(lines.has(line), line).toBe(true);
    has(`${APEX}. 3600 IN NS ns.${APEX}.`);
    has(`ns.${APEX}. 3600 IN A 127.0.0.1`);
    has(`iso.${APEX}. 3600 IN DNAME 1.${APEX}.`);
    has(`joint-iso-itu-t.${APEX}. 3600 IN DNAME 2.${APEX}.`);
    has(`itu-t.${APEX}. 3600 IN DNAME 0.${APEX}.`);
    has(`example.${APEX}. 3600 IN DNAME 999.2.${APEX}.`);
    has(`example.2.${APEX}. 3600 IN DNAME 999.2.${APEX}.`);
    has(`sensors.999.2.${APEX}. 3600 IN DNAME 1.999.2.${APEX}.`);
    has(`capteurs.999.2.${APEX}. 3600 IN DNAME 1.999.2.${APEX}.`);
    has(`xn--ngstrm-hua5l.999.2.${APEX}. 3600 IN DNAME 5.999.2.${APEX}.`);
    has(`99999.1.4.1.6.3.1.${APEX}. 3600 IN NAPTR 100 12 "U" "ORS+UINF" "!^.*$!urn:example:deep!" .`);
    // Every NAPTR a query returns at each arc's numeric name and at its label names is in the zone.
    const owners = [
      `999.2.${APEX}`,
      `1.999.2.${APEX}`,
      `7.1.999.2.${APEX}`,
      `5.999.2.${APEX}`,
      `99999.1.4.1.6.3.1.${APEX}`,
      `example.2.${APEX}`,
      `sensors.999.2.${APEX}`,
      `capteurs.999.2.${APEX}`,
      `xn--ngstrm-hua5l.999.2.${APEX}`,
    ];
    for (const owner of owners) {
      const m = decodeMessage(await tcpQuery(s.dnsPort, buildQuery({ name: owner, type: T.NAPTR })));
      expect(m.answers.length, owner).toBeGreaterThanOrEqual(4);
      for (const rr of m.answers) has(textOf(rr));
    }
  });

  it('holds exactly the records each of its non-apex-label owner names answers to ANY', async () => {
    const z = await axfr();
    const byOwner = new Map<string, Set<string>>();
    for (const rr of z.records) {
      const owner = dotted(rr.name);
      if (!byOwner.has(owner)) byOwner.set(owner, new Set());
      byOwner.get(owner)!.add(textOf(rr));
    }
    for (const [owner, expected] of byOwner) {
      if (owner === APEX || owner.split('.').length === APEX.split('.').length + 1) continue; // the apex and its labels: below
      const m = decodeMessage(await tcpQuery(s.dnsPort, buildQuery({ name: owner, type: T.ANY })));
      expect([owner, m.header.rcode, m.answers.map(textOf).sort()]).toEqual([owner, 0, [...expected].sort()]);
    }
  });

  // Regression (was a bug in src/dns/ors-zone.ts apexDnameRecords vs src/dns/ors-answer.ts lookup): a labelled node
  // directly under the apex (`example`, `exemple`, `beispiel`, ... for 2.999; `uuid` for 2.25)
  // is answered with the DNAME *and* copies of the arc's NAPTRs when the arc is registered
  // (example.oid-res.org NAPTR -> 4 NAPTRs), but the zone (AXFR, IXFR, `cairn zone export`)
  // holds only the DNAME there, so secondaries answer NODATA where the primary answers NAPTRs.
  it('serves at the apex label names exactly what the zone holds there', async () => {
    const z = await axfr();
    for (const label of ['example', 'beispiel', 'iso', 'uuid']) {
      const owner = `${label}.${APEX}`;
      const inZone = [...z.lines].filter((l) => l.startsWith(`${owner}. `)).sort();
      const m = decodeMessage(await tcpQuery(s.dnsPort, buildQuery({ name: owner, type: T.ANY })));
      expect([owner, m.answers.map(textOf).sort()]).toEqual([owner, inZone]);
    }
  });

  it('is accepted for the apex in any letter case', async () => {
    const { records } = await transfer(s.dnsPort, axfrQuery('OID-Res.Org'));
    expect(records[0]!.type).toBe(T.SOA);
    expect(records.at(-1)!.type).toBe(T.SOA);
  });

  it('answers AXFR over UDP NOTIMP (octets checked)', async () => {
    const query = axfrQuery();
    const raw = await udpQuery(s.dnsPort, query);
    expect(raw.readUInt16BE(0)).toBe(query.readUInt16BE(0));
    expect(flagsOf(raw)).toMatchObject({ qr: true, aa: false, rcode: R.NOTIMP });
    expect(raw[3]! & 0x0f).toBe(4);
    expect(countsOf(raw)).toEqual([1, 0, 0, 0]);
  });

  it('answers AXFR for a name other than the apex NOTAUTH', async () => {
    for (const name of [`999.2.${APEX}`, `2.${APEX}`, 'example.com', `example.${APEX}`]) {
      const { messages, records } = await transfer(s.dnsPort, axfrQuery(name));
      expect([name, messages.length, messages[0]!.header.rcode, records.length]).toEqual([name, 1, R.NOTAUTH, 0]);
    }
  });

  it('REFUSES AXFR and IXFR from an address not in dnsTransferAllow (and still answers plain queries over TCP)', async () => {
    const other = await startOrsServer({ publicUrl: PUBLIC, dnsTransferAllow: ['10.9.9.9'] });
    try {
      expect(await other.put('2.999', { description: 'x' })).toBe(201);
      for (const query of [axfrQuery(), buildQuery({ name: APEX, type: T.IXFR, authority: [soaRr(APEX, 0)] })]) {
        const raw = await tcpQuery(other.dnsPort, query);
        expect(flagsOf(raw)).toMatchObject({ qr: true, aa: false, rcode: R.REFUSED });
        expect(countsOf(raw).slice(1, 3)).toEqual([0, 0]);
      }
      const plain = decodeMessage(await tcpQuery(other.dnsPort, buildQuery({ name: `999.2.${APEX}`, type: T.NAPTR })));
      expect(plain.answers).toHaveLength(4);
    } finally {
      await other.close();
    }
  });
});

describe('IXFR', () => {
  it('answers a client at the current serial with a single SOA', async () => {
    const serial = await currentSerial();
    const { messages, records } = await transfer(s.dnsPort, ixfrQuery(serial));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.header).toMatchObject({ qr: true, aa: true, rcode: 0 });
    expect(records.map((rr) => [dotted(rr.name), rr.type, serialOf(rr)])).toEqual([[APEX, T.SOA, serial]]);
  });

  it('answers IXFR without an SOA in authority FORMERR', async () => {
    const { messages } = await transfer(s.dnsPort, buildQuery({ name: APEX, type: T.IXFR }));
    expect(messages[0]!.header.rcode).toBe(R.FORMERR);
  });

  it('sends the condensed difference (update, registration, deletion) from older serials, equal to the difference of two AXFRs', async () => {
    const z0 = await axfr();
    // An update of an arc's ors (its NAPTRs move), ...
    expect(await s.put('2.999.1', { description: 'Sensors', asn1Ids: ['sensors'], unicodeLabels: ['Capteurs'], ors: ['https://sensors.example.com/ors2', 'urn:example:second'] })).toBe(200);
    const z1 = await axfr();
    expect(z1.serial).toBeGreaterThan(z0.serial);
    // ... a registration with a label, and a deletion.
    expect(await s.put('2.999.8', { description: 'New', asn1Ids: ['eight'] })).toBe(201);
    expect(await s.del('1.3.6.1.4.1.99999')).toBe(200);
    // A change that is undone again adds nothing to the difference.
    expect(await s.put('2.999.9', { description: 'Short-lived' })).toBe(201);
    expect(await s.del('2.999.9')).toBe(200);
    const z2 = await axfr();
    expect(z2.serial).toBeGreaterThan(z1.serial);

    for (const [from, label] of [
      [z0, 'z0'],
      [z1, 'z1'],
    ] as const) {
      const { messages, records } = await transfer(s.dnsPort, ixfrQuery(from.serial));
      expect(messages[0]!.header).toMatchObject({ qr: true, aa: true, rcode: 0 });
      // SOA new, SOA old, removed..., SOA new, added..., SOA new.
      const soaAt = records.flatMap((rr, i) => (rr.type === T.SOA ? [i] : []));
      expect(soaAt.length, label).toBe(4);
      expect([soaAt[0], soaAt[1], soaAt[3]]).toEqual([0, 1, records.length - 1]);
      expect(soaAt.map((i) => serialOf(records[i]))).toEqual([z2.serial, from.serial, z2.serial, z2.serial]);
      const removed = records.slice(2, soaAt[2]).map(textOf).sort();
      const added = records.slice(soaAt[2]! + 1, -1).map(textOf).sort();
      expect(new Set(removed).size).toBe(removed.length);
      expect(new Set(added).size).toBe(added.length);
      const [expectedRemoved, expectedAdded] = [minus(from.lines, z2.lines), minus(z2.lines, from.lines)].map((l) => l.filter((x) => !x.includes(' IN SOA ')));
      expect({ label, removed }).toEqual({ label, removed: expectedRemoved });
      expect({ label, added }).toEqual({ label, added: expectedAdded });
      expect(removed.length).toBeGreaterThan(0);
      expect(added.length).toBeGreaterThan(0);
    }
    // Applying the difference to the old zone gives the new one.
    const applied = new Set([...z0.lines].filter((l) => !l.includes(' IN SOA ')));
    const { records } = await transfer(s.dnsPort, ixfrQuery(z0.serial));
    const soaAt = records.flatMap((rr, i) => (rr.type === T.SOA ? [i] : []));
    for (const rr of records.slice(2, soaAt[2])) applied.delete(textOf(rr));
    for (const rr of records.slice(soaAt[2]! + 1, -1)) applied.add(textOf(rr));
    expect([...applied].sort()).toEqual([...z2.lines].filter((l) => !l.includes(' IN SOA ')).sort());
  });

  it('answers IXFR over UDP with a single SOA of the current serial', async () => {
    const serial = await currentSerial();
    for (const from of [serial - 1, serial, 0]) {
      const query = ixfrQuery(from);
      const raw = await udpQuery(s.dnsPort, query);
      const m = decodeMessage(raw);
      expect(flagsOf(raw)).toMatchObject({ qr: true, aa: true, tc: false, rcode: 0 });
      expect(countsOf(raw)[1]).toBe(1);
      expect(m.questions.map((q) => q.type)).toEqual([T.IXFR]);
      expect(m.answers.map((rr) => [dotted(rr.name), rr.type, serialOf(rr)])).toEqual([[APEX, T.SOA, serial]]);
    }
  });

  it('answers a client ahead of the server with the whole zone (AXFR form)', async () => {
    const z = await axfr();
    const { records } = await transfer(s.dnsPort, ixfrQuery(z.serial + 1000));
    expect(serialOf(records[0])).toBe(z.serial);
    expect(new Set(records.slice(0, -1).map(textOf))).toEqual(z.lines);
  });
});
