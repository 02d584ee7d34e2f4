import { domainToASCII } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, type Message, type ResourceRecord } from '../../src/dns/wire.js';
import {
  APEX,
  buildQuery,
  countsOf,
  dotted,
  flagsOf,
  freshId,
  idOf,
  labelsOf,
  naptrValue,
  optRr,
  R,
  startOrsServer,
  T,
  TcpClient,
  tcpQuery,
  UdpClient,
  udpQuery,
  wireName,
  type OrsServer,
  type QueryOptions,
} from './helpers.js';
import { mulberry32 } from '../helpers/prng.js';

/**
 * The ORS responder end to end: a real Cairn server, arcs registered over HTTP, queries over
 * UDP and TCP sockets on 127.0.0.1.
 */

const PUBLIC = 'https://ors.example.net';
const SENSOR_ORS = ['https://sensors.example.com/ors?q=a!b', 'urn:example:ors:1'];
const ANGSTROM = 'Ångström';
const ANGSTROM_A = domainToASCII(ANGSTROM.toLowerCase());
const mirrors = (arc: string, n: number): string[] => Array.from({ length: n }, (_, i) => `https://mirror-${String(i).padStart(2, '0')}.example.org/ors/oid/${arc}`);

let s: OrsServer;
let udp: UdpClient;

beforeAll(async () => {
  s = await startOrsServer({ publicUrl: PUBLIC });
  udp = await UdpClient.open(s.dnsPort);
  const arcs: [string, unknown][] = [
    ['2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] }],
    ['2.999.1', { description: 'Sensors', asn1Ids: ['sensors'], ors: SENSOR_ORS }],
    ['2.999.1.7', { description: 'Sensor seven' }],
    ['2.999.5', { description: 'Unicode label', unicodeLabels: [ANGSTROM] }],
    ['1.3.6.1.4.1.99999', { description: 'A deep arc' }],
    ['2.999.20', { description: 'Medium answer', ors: mirrors('2.999.20', 4) }],
    ['2.999.21', { description: 'Big answer', ors: mirrors('2.999.21', 14) }],
    ['2.999.123456789012345678901234567890', { description: 'Long arc number, short label', asn1Ids: ['z'] }],
  ];
  for (const [oid, body] of arcs) expect([oid, await s.put(oid, body)]).toEqual([oid, 201]);
});

afterAll(async () => {
  await udp?.close();
  await s?.close();
});

const q = (o: QueryOptions): Buffer => buildQuery(o);
const ask = async (o: QueryOptions): Promise<{ raw: Buffer; m: Message }> => {
  const raw = await udp.query(q(o));
  return { raw, m: decodeMessage(raw) };
};
const names = (rrs: readonly ResourceRecord[]): string[] => rrs.map((rr) => dotted(rr.name));
const soaSerial = (m: Message): number => {
  const soa = [...m.answers, ...m.authority].find((rr) => rr.data.kind === 'SOA');
  if (soa?.data.kind !== 'SOA') throw new Error('no SOA in the answer');
  return soa.data.serial;
};

/** The NAPTRs an arc must have: COID, own UINF, registrant UINFs, CINF, RINF. */
function expectOrsNaptrs(rrs: readonly ResourceRecord[], owner: string, oid: string, ors: readonly string[] = []): void {
  const own = `${PUBLIC}/api/oids/${oid}`;
  const expected: [string, string, string][] = [
    ['', 'ORS+COID', oid],
    ['U', 'ORS+UINF', own],
    ...ors.map((u): [string, string, string] => ['U', 'ORS+UINF', u]),
    ['U', 'ORS+CINF', `${own}/children`],
    ['U', 'ORS+RINF', own],
  ];
  expect(rrs.map((rr) => [dotted(rr.name), rr.type, rr.class, rr.ttl])).toEqual(expected.map(() => [owner, T.NAPTR, 1, 3600]));
  expect(rrs.map((rr) => (rr.data.kind === 'NAPTR' ? [rr.data.flags, rr.data.service, naptrValue(rr)] : undefined))).toEqual(expected);
  for (const [i, rr] of rrs.entries()) {
    if (rr.data.kind !== 'NAPTR') throw new Error('not a NAPTR');
    expect(rr.data.order).toBe(100);
    expect(rr.data.preference).toBe(10 + i);
    expect(rr.data.replacement).toEqual([]);
    expect(rr.data.regexp.startsWith('!^.*$!') && rr.data.regexp.endsWith('!')).toBe(true);
  }
}

describe('NAPTR at a registered arc', () => {
  it('answers a hand-written query with the five ORS record kinds (checked octet by octet where hand-computable)', async () => {
    // ID 0xBEEF, RD; one question: 1.999.2.oid-res.org NAPTR IN.
    const query = Buffer.from('beef01000001000000000000' + '0131' + '03393939' + '0132' + '076f69642d726573' + '036f7267' + '00' + '0023' + '0001', 'hex');
    const raw = await udp.query(query);
    expect(raw.subarray(0, 2).toString('hex')).toBe('beef');
    expect(raw[2]).toBe(0x85); // QR=1 OPCODE=0 AA=1 TC=0 RD=1
    expect(raw[3]).toBe(0x00); // RA=0 Z=0 AD=0 CD=0 RCODE=0
    expect(raw.subarray(4, 12).toString('hex')).toBe('0001' + '0006' + '0000' + '0000');
    expect(raw.subarray(12, query.length).equals(query.subarray(12))).toBe(true); // the question, as asked
    // First answer: owner = pointer to the question name, NAPTR IN TTL 3600, then the COID RDATA.
    const regexp = Buffer.from('!^.*$!2.999.1!', 'latin1');
    const rdata = Buffer.concat([Buffer.from('0064000a00', 'hex'), Buffer.from([8]), Buffer.from('ORS+COID'), Buffer.from([regexp.length]), regexp, Buffer.from([0])]);
    const first = Buffer.concat([Buffer.from('c00c0023000100000e10', 'hex'), Buffer.from([0, rdata.length]), rdata]);
    expect(raw.subarray(query.length, query.length + first.length).toString('hex')).toBe(first.toString('hex'));

    const m = decodeMessage(raw);
    expectOrsNaptrs(m.answers, `1.999.2.${APEX}`, '2.999.1', SENSOR_ORS);
    expect(m.answers.map((rr) => (rr.data.kind === 'NAPTR' ? rr.data.regexp : ''))[2]).toBe('!^.*$!https://sensors.example.com/ors?q=a\\!b!');
    expect([m.authority, m.additional, m.edns]).toEqual([[], [], undefined]);
  });

  it('sets AA and echoes RD (set and clear) and CD, on a first and on a cached answer', async () => {
    for (const rd of [true, false, true, false]) {
      for (const cd of [false, true]) {
        const { raw, m } = await ask({ name: `999.2.${APEX}`, type: T.NAPTR, rd, cd });
        expect(flagsOf(raw)).toEqual({ qr: true, opcode: 0, aa: true, tc: false, rd, ra: false, cd, rcode: 0 });
        expectOrsNaptrs(m.answers, `999.2.${APEX}`, '2.999');
      }
    }
  });

  it('keeps the asker\'s letter case (0x20) in the question and owner names; every other octet as for lower case', async () => {
    // Mixed case first (full path), then lower case (cached); and the other way round for a second name.
    const pairs: [string, string][] = [
      [`7.1.999.2.OiD-ReS.oRg`, `7.1.999.2.oid-res.org`],
      [`99999.1.4.1.6.3.1.oid-res.org`, `99999.1.4.1.6.3.1.OID-RES.ORG`],
    ];
    for (const [first, second] of pairs) {
      const id = freshId();
      const qa = q({ id, name: first, type: T.NAPTR });
      const qb = q({ id, name: second, type: T.NAPTR });
      const ra = await udp.query(qa);
      const rb = await udp.query(qb);
      expect(ra.length).toBe(rb.length);
      const qEnd = 12 + wireName(first).length;
      for (let i = 0; i < ra.length; i++) {
        if (i >= 12 && i < qEnd) {
          expect([i, ra[i]]).toEqual([i, qa[i]]);
          expect([i, rb[i]]).toEqual([i, qb[i]]);
        } else {
          expect([i, ra[i]]).toEqual([i, rb[i]]);
        }
      }
      for (const [raw, asked] of [
        [ra, first],
        [rb, second],
      ] as const) {
        const m = decodeMessage(raw);
        expect(m.questions[0]!.name).toEqual(labelsOf(asked));
        expect(m.answers.length).toBeGreaterThan(0);
        for (const rr of m.answers) expect(rr.name).toEqual(labelsOf(asked));
      }
    }
  });
});

describe('NXDOMAIN and NODATA', () => {
  const expectNegativeSoa = (m: Message): void => {
    expect(m.authority).toHaveLength(1);
    const soa = m.authority[0]!;
    expect([dotted(soa.name), soa.type, soa.ttl]).toEqual([APEX, T.SOA, 300]); // min(3600, MINIMUM 300)
    if (soa.data.kind !== 'SOA') throw new Error('not an SOA');
    expect([dotted(soa.data.mname), dotted(soa.data.rname), soa.data.refresh, soa.data.retry, soa.data.expire, soa.data.minimum]).toEqual([
      `ns.${APEX}`,
      `hostmaster.${APEX}`,
      3600,
      600,
      1_209_600,
      300,
    ]);
  };

  it('answers an unregistered leaf NXDOMAIN, authoritative, with the SOA (TTL = min(TTL, MINIMUM)) in authority', async () => {
    for (const name of [`3.999.2.${APEX}`, `8.1.999.2.${APEX}`, `100000.1.4.1.6.3.1.${APEX}`, `0.${APEX}`, `5.0.${APEX}`]) {
      const { raw, m } = await ask({ name, type: T.NAPTR });
      expect([name, flagsOf(raw).rcode, flagsOf(raw).aa]).toEqual([name, R.NXDOMAIN, true]);
      expect(m.answers).toEqual([]);
      expectNegativeSoa(m);
    }
  });

  it('answers empty non-terminals (ancestors of registered arcs, single root arcs included) NOERROR with no answers', async () => {
    for (const name of [`2.${APEX}`, `1.${APEX}`, `3.1.${APEX}`, `6.3.1.${APEX}`, `1.4.1.6.3.1.${APEX}`, `4.1.6.3.1.${APEX}`]) {
      for (const type of [T.NAPTR, T.A, T.ANY]) {
        const { raw, m } = await ask({ name, type });
        expect([name, type, flagsOf(raw).rcode, flagsOf(raw).aa, m.answers.length]).toEqual([name, type, R.NOERROR, true, 0]);
        expectNegativeSoa(m);
      }
    }
  });

  it('answers another type at a registered name NODATA', async () => {
    for (const type of [T.A, T.AAAA, T.TXT, T.CNAME, T.DNAME, T.SOA, T.NS]) {
      const { raw, m } = await ask({ name: `999.2.${APEX}`, type });
      expect([type, flagsOf(raw).rcode, flagsOf(raw).aa, m.answers.length]).toEqual([type, R.NOERROR, true, 0]);
      expectNegativeSoa(m);
    }
  });

  it('answers names that are not OIDs (root 5, 40 under root 1, leading zeros, unknown labels) NXDOMAIN', async () => {
    for (const name of [`5.${APEX}`, `40.1.${APEX}`, `3.${APEX}`, `41.0.${APEX}`, `0999.2.${APEX}`, `-1.2.${APEX}`, `nothing.${APEX}`, `nothing.999.2.${APEX}`, `x.ns.${APEX}`]) {
      const { raw, m } = await ask({ name, type: T.NAPTR });
      expect([name, flagsOf(raw).rcode, flagsOf(raw).aa, m.answers.length]).toEqual([name, R.NXDOMAIN, true, 0]);
      expectNegativeSoa(m);
    }
  });

  it('REFUSES names outside the zone, without AA and without records', async () => {
    for (const name of ['example.com', 'org', `res.org`, `999.2.oid-res.net`, '.', `${APEX}.evil.example`]) {
      for (let round = 0; round < 2; round++) {
        const { raw, m } = await ask({ name, type: T.NAPTR });
        expect([name, flagsOf(raw).rcode, flagsOf(raw).aa]).toEqual([name, R.REFUSED, false]);
        expect(countsOf(raw).slice(1)).toEqual([0, 0, 0]);
        expect(m.questions[0]!.name).toEqual(labelsOf(name));
      }
    }
  });
});

describe('DNAME', () => {
  it('rewrites a name beneath a registered ASN.1 identifier: DNAME, synthesized CNAME, then the target NAPTRs', async () => {
    const { raw, m } = await ask({ name: `7.sensors.999.2.${APEX}`, type: T.NAPTR });
    expect([flagsOf(raw).rcode, flagsOf(raw).aa]).toEqual([R.NOERROR, true]);
    const [dname, cname, ...naptrs] = m.answers;
    expect([dotted(dname!.name), dname!.type, dname!.ttl, dname!.data.kind === 'DNAME' && dotted(dname!.data.target)]).toEqual([
      `sensors.999.2.${APEX}`,
      T.DNAME,
      3600,
      `1.999.2.${APEX}`,
    ]);
    expect([dotted(cname!.name), cname!.type, cname!.ttl, cname!.data.kind === 'CNAME' && dotted(cname!.data.target)]).toEqual([
      `7.sensors.999.2.${APEX}`,
      T.CNAME,
      3600,
      `7.1.999.2.${APEX}`,
    ]);
    expectOrsNaptrs(naptrs, `7.1.999.2.${APEX}`, '2.999.1.7');
    expect(m.authority).toEqual([]);
  });

  it('answers an unregistered name beneath a label with the DNAME, the CNAME and NXDOMAIN for the target', async () => {
    const { raw, m } = await ask({ name: `8.sensors.999.2.${APEX}`, type: T.NAPTR });
    expect(flagsOf(raw).rcode).toBe(R.NXDOMAIN);
    expect(m.answers.map((rr) => rr.type)).toEqual([T.DNAME, T.CNAME]);
    expect(names(m.authority)).toEqual([APEX]);
  });

  it('answers the label node itself with the arc\'s NAPTRs (DNAME does not cover its owner), and ANY with the DNAME too', async () => {
    const { m } = await ask({ name: `sensors.999.2.${APEX}`, type: T.NAPTR });
    expectOrsNaptrs(m.answers, `sensors.999.2.${APEX}`, '2.999.1', SENSOR_ORS);
    const any = (await ask({ name: `SENSORS.999.2.${APEX}`, type: T.ANY })).m;
    expect(any.answers.map((rr) => rr.type)).toEqual([T.DNAME, ...Array(6).fill(T.NAPTR)]);
    expect(any.answers[0]!.data.kind === 'DNAME' && dotted(any.answers[0]!.data.target)).toBe(`1.999.2.${APEX}`);
  });

  it('reaches a non-ASCII Unicode label through its IDNA A-label, in any letter case', async () => {
    expect(ANGSTROM_A.startsWith('xn--')).toBe(true);
    for (const label of [ANGSTROM_A, ANGSTROM_A.toUpperCase()]) {
      const { raw, m } = await ask({ name: `${label}.999.2.${APEX}`, type: T.NAPTR });
      expect(flagsOf(raw).rcode).toBe(R.NOERROR);
      expectOrsNaptrs(m.answers, `${ANGSTROM_A}.999.2.${APEX}`, '2.999.5');
    }
    const dname = (await ask({ name: `${ANGSTROM_A}.999.2.${APEX}`, type: T.DNAME })).m.answers;
    expect(dname.map((rr) => rr.data.kind === 'DNAME' && dotted(rr.data.target))).toEqual([`5.999.2.${APEX}`]);
  });

  it('publishes the root names and the long arc "example" (2.999) as DNAMEs at the apex, and follows chains of them', async () => {
    for (const [label, target] of [
      ['iso', `1.${APEX}`],
      ['joint-iso-itu-t', `2.${APEX}`],
      ['itu-t', `0.${APEX}`],
      ['example', `999.2.${APEX}`],
      ['uuid', `25.2.${APEX}`],
    ]) {
      const { raw, m } = await ask({ name: `${label}.${APEX}`, type: T.DNAME });
      expect([label, flagsOf(raw).rcode, flagsOf(raw).aa]).toEqual([label, R.NOERROR, true]);
      expect(m.answers.map((rr) => [dotted(rr.name), rr.data.kind === 'DNAME' && dotted(rr.data.target)])).toEqual([[`${label}.${APEX}`, target]]);
    }
    // joint-iso-itu-t -> 2, then 999.2 is registered.
    const viaRoot = (await ask({ name: `999.joint-iso-itu-t.${APEX}`, type: T.NAPTR })).m;
    expect(viaRoot.answers.slice(0, 2).map((rr) => rr.type)).toEqual([T.DNAME, T.CNAME]);
    expectOrsNaptrs(viaRoot.answers.slice(2), `999.2.${APEX}`, '2.999');
    // example -> 999.2, sensors -> 1: two DNAMEs, two CNAMEs.
    const chain = (await ask({ name: `7.sensors.example.${APEX}`, type: T.NAPTR })).m;
    expect(chain.answers.slice(0, 4).map((rr) => [rr.type, dotted(rr.name)])).toEqual([
      [T.DNAME, `example.${APEX}`],
      [T.CNAME, `7.sensors.example.${APEX}`],
      [T.DNAME, `sensors.999.2.${APEX}`],
      [T.CNAME, `7.sensors.999.2.${APEX}`],
    ]);
    expectOrsNaptrs(chain.answers.slice(4), `7.1.999.2.${APEX}`, '2.999.1.7');
    // iso -> 1, then the empty non-terminal 3.1: NODATA through the DNAME.
    const ent = await ask({ name: `3.iso.${APEX}`, type: T.NAPTR });
    expect([flagsOf(ent.raw).rcode, ent.m.answers.map((rr) => rr.type), names(ent.m.authority)]).toEqual([R.NOERROR, [T.DNAME, T.CNAME], [APEX]]);
  });

  it('answers YXDOMAIN with the DNAME when the rewritten name would exceed 255 octets', async () => {
    // "z" (2 octets) stands for a 31-octet arc label: a long name beneath it grows by 29 octets.
    const filler = Array.from({ length: 3 }, () => 'a'.repeat(63));
    const name = [...filler, 'b'.repeat(23), 'z', '999', '2', 'oid-res', 'org'];
    expect(wireName(name).length).toBeLessThanOrEqual(255);
    const { raw, m } = await ask({ name, type: T.NAPTR });
    expect([flagsOf(raw).rcode, m.answers.map((rr) => rr.type)]).toEqual([6 /* YXDOMAIN */, [T.DNAME]]);
  });
});

describe('the apex', () => {
  it('answers SOA, NS with glue in additional, ANY, and the name server\'s A', async () => {
    const soa = await ask({ name: APEX, type: T.SOA });
    expect([flagsOf(soa.raw).aa, soa.m.answers.map((rr) => [dotted(rr.name), rr.type, rr.ttl])]).toEqual([true, [[APEX, T.SOA, 3600]]]);
    const ns = (await ask({ name: APEX, type: T.NS })).m;
    expect(ns.answers.map((rr) => rr.data.kind === 'NS' && dotted(rr.data.host))).toEqual([`ns.${APEX}`]);
    expect(ns.additional.map((rr) => [dotted(rr.name), rr.type, rr.data.kind === 'A' && rr.data.address])).toEqual([[`ns.${APEX}`, T.A, '127.0.0.1']]);
    const any = (await ask({ name: APEX.toUpperCase(), type: T.ANY })).m;
    expect(any.answers.map((rr) => rr.type)).toEqual([T.SOA, T.NS]);
    const glue = (await ask({ name: `ns.${APEX}`, type: T.A })).m;
    expect(glue.answers.map((rr) => rr.data.kind === 'A' && rr.data.address)).toEqual(['127.0.0.1']);
    const noAaaa = await ask({ name: `ns.${APEX}`, type: T.AAAA });
    expect([flagsOf(noAaaa.raw).rcode, noAaaa.m.answers.length, noAaaa.m.authority.length]).toEqual([R.NOERROR, 0, 1]);
  });

  it('moves the serial up on PUT and DELETE, and never serves a cached answer from before the change', async () => {
    const name = `30.999.2.${APEX}`;
    // Each question asked twice: the second is answered from the cache when the first was cached.
    const state = async (): Promise<{ serials: number[]; rcodes: number[]; values: (string | undefined)[][] }> => {
      const soas = [(await ask({ name: APEX, type: T.SOA })).m, (await ask({ name: APEX, type: T.SOA })).m];
      const arcs = [(await ask({ name, type: T.NAPTR, edns: {} })).m, (await ask({ name, type: T.NAPTR, edns: {} })).m];
      const serials = soas.map(soaSerial);
      expect(serials[1]).toBe(serials[0]);
      // A negative answer carries the SOA too: it must be the current one.
      for (const m of arcs) if (m.header.rcode !== R.NOERROR) expect(soaSerial(m)).toBe(serials[0]);
      return { serials, rcodes: arcs.map((m) => m.header.rcode), values: arcs.map((m) => m.answers.map(naptrValue)) };
    };
    const s0 = await state();
    expect(s0.rcodes).toEqual([R.NXDOMAIN, R.NXDOMAIN]);

    expect(await s.put('2.999.30', { description: 'v1' })).toBe(201);
    const s1 = await state();
    expect(s1.serials[0]).toBeGreaterThan(s0.serials[0]!);
    expect(s1.rcodes).toEqual([R.NOERROR, R.NOERROR]);
    expect(s1.values.map((v) => v.length)).toEqual([4, 4]);

    expect(await s.put('2.999.30', { description: 'v2', ors: ['https://v2.example/ors'] })).toBe(200);
    const s2 = await state();
    expect(s2.serials[0]).toBeGreaterThan(s1.serials[0]!);
    for (const v of s2.values) expect(v).toEqual(['2.999.30', `${PUBLIC}/api/oids/2.999.30`, 'https://v2.example/ors', `${PUBLIC}/api/oids/2.999.30/children`, `${PUBLIC}/api/oids/2.999.30`]);

    expect(await s.del('2.999.30')).toBe(200);
    const s3 = await state();
    expect(s3.serials[0]).toBeGreaterThan(s2.serials[0]!);
    expect(s3.rcodes).toEqual([R.NXDOMAIN, R.NXDOMAIN]);
    // Its registered parent is unaffected.
    expect((await ask({ name: `999.2.${APEX}`, type: T.NAPTR })).m.answers).toHaveLength(4);
  });
});

describe('EDNS0', () => {
  it('answers with an OPT (payload 1232) exactly when the query had one, echoing DO (octets checked)', async () => {
    for (const udpSize of [512, 1232, 4096, 65535]) {
      for (const dnssecOk of [false, true, false]) {
        const { raw, m } = await ask({ name: `999.2.${APEX}`, type: T.NAPTR, edns: { udpSize, dnssecOk } });
        expect(countsOf(raw)[3]).toBe(1);
        // The OPT is the last record: root, TYPE 41, CLASS 1232, ext-rcode 0, version 0, DO, Z, RDLENGTH 0.
        expect(raw.subarray(raw.length - 11).toString('hex')).toBe(`00002904d00000${dnssecOk ? '8000' : '0000'}0000`);
        expect(m.edns).toEqual({ udpSize: 1232, extendedRcode: 0, version: 0, dnssecOk });
        expect(m.answers).toHaveLength(4);
      }
    }
    const plain = await ask({ name: `999.2.${APEX}`, type: T.NAPTR });
    expect([countsOf(plain.raw)[3], plain.m.edns]).toEqual([0, undefined]);
  });

  it('answers EDNS version 1 BADVERS (extended RCODE 16) with an OPT of version 0', async () => {
    for (let round = 0; round < 2; round++) {
      const { raw, m } = await ask({ name: `999.2.${APEX}`, type: T.NAPTR, edns: { version: 1, dnssecOk: true } });
      expect(flagsOf(raw).rcode).toBe(0); // the low four bits of 16
      expect(raw.subarray(raw.length - 11, raw.length - 6).toString('hex')).toBe('00002904d0');
      expect(raw[raw.length - 6]).toBe(1); // high eight bits: 16 >> 4
      expect(raw[raw.length - 5]).toBe(0); // version 0
      expect((m.edns!.extendedRcode << 4) | m.header.rcode).toBe(R.BADVERS);
      expect(countsOf(raw).slice(1, 3)).toEqual([0, 0]);
    }
  });

  it('answers a query with two OPT records FORMERR', async () => {
    const base = q({ name: `999.2.${APEX}`, type: T.NAPTR });
    const two = Buffer.concat([base, optRr(1232), optRr(4096)]);
    two.writeUInt16BE(2, 10);
    const raw = await udp.query(two);
    expect(flagsOf(raw)).toMatchObject({ qr: true, rcode: R.FORMERR });
    expect(idOf(raw)).toBe(idOf(two));
  });
});

describe('truncation', () => {
  it('sets TC with no records for answers over 512 octets without EDNS, sends them whole with EDNS up to 1232, and whole over TCP', async () => {
    const medium = `20.999.2.${APEX}`;
    const big = `21.999.2.${APEX}`;
    const tcpMedium = await tcpQuery(s.dnsPort, q({ name: medium, type: T.NAPTR }));
    const tcpBig = await tcpQuery(s.dnsPort, q({ name: big, type: T.NAPTR, edns: { udpSize: 4096 } }));
    // Preconditions on the sizes this test relies on.
    expect(tcpMedium.length).toBeGreaterThan(512);
    expect(tcpMedium.length + 11).toBeLessThanOrEqual(1232);
    expect(tcpBig.length).toBeGreaterThan(1232);
    expectOrsNaptrs(decodeMessage(tcpMedium).answers, medium, '2.999.20', mirrors('2.999.20', 4));
    expectOrsNaptrs(decodeMessage(tcpBig).answers, big, '2.999.21', mirrors('2.999.21', 14));
    expect(flagsOf(tcpBig).tc).toBe(false);

    for (let round = 0; round < 2; round++) {
      for (const name of [medium, big]) {
        const { raw, m } = await ask({ name, type: T.NAPTR });
        expect([name, flagsOf(raw).tc, flagsOf(raw).aa, flagsOf(raw).rcode]).toEqual([name, true, true, 0]);
        expect(countsOf(raw)).toEqual([1, 0, 0, 0]);
        expect(m.questions[0]!.name).toEqual(labelsOf(name));
      }
      const mediumEdns = await ask({ name: medium, type: T.NAPTR, edns: { udpSize: 4096 } });
      expect([flagsOf(mediumEdns.raw).tc, mediumEdns.m.answers.length]).toEqual([false, 4 + 4]);
      expect(mediumEdns.raw.length).toBeLessThanOrEqual(1232);
      const mediumSmall = await ask({ name: medium, type: T.NAPTR, edns: { udpSize: 512 } });
      expect([flagsOf(mediumSmall.raw).tc, mediumSmall.m.answers.length, mediumSmall.m.edns?.udpSize]).toEqual([true, 0, 1232]);
      const bigEdns = await ask({ name: big, type: T.NAPTR, edns: { udpSize: 4096 } });
      expect([flagsOf(bigEdns.raw).tc, bigEdns.m.answers.length, bigEdns.m.edns?.udpSize]).toEqual([true, 0, 1232]);
      // Over TCP, with or without EDNS, the whole answer every time.
      for (const edns of [undefined, { udpSize: 512 }]) {
        const whole = decodeMessage(await tcpQuery(s.dnsPort, q({ name: big, type: T.NAPTR, ...(edns ? { edns } : {}) })));
        expect([whole.header.tc, whole.answers.length]).toEqual([false, 4 + 14]);
      }
    }
  });
});

describe('malformed input', () => {
  const valid = (): Buffer => q({ name: `999.2.${APEX}`, type: T.NAPTR });
  const formerr = async (packet: Buffer): Promise<void> => {
    const raw = await udp.query(packet);
    expect(raw.length).toBe(12);
    expect(idOf(raw)).toBe(idOf(packet));
    expect(flagsOf(raw)).toMatchObject({ qr: true, aa: false, tc: false, rcode: R.FORMERR });
  };

  it('drops packets shorter than a header and packets with QR=1', async () => {
    await udp.send(Buffer.from('beef0100000100', 'hex'));
    await udp.send(Buffer.alloc(0));
    const response = valid();
    response[2] = response[2]! | 0x80;
    await udp.send(response);
    expect(await udp.collect(400)).toEqual([]);
  });

  it('answers a header-only packet claiming a question FORMERR (octets checked)', async () => {
    const packet = Buffer.from('c0de01000001000000000000', 'hex');
    const raw = await udp.query(packet);
    expect(raw.toString('hex')).toBe('c0de81010000000000000000');
  });

  it('answers FORMERR for a compression-pointer loop, a forward pointer, a label of 64 octets or more, and trailing octets', async () => {
    const head = (id: number): Buffer => Buffer.from(`${id.toString(16).padStart(4, '0')}01000001000000000000`, 'hex');
    const tail = Buffer.from('00230001', 'hex');
    // Loop: "a" then a pointer back to the start of the name (offset 12), forever.
    await formerr(Buffer.concat([head(freshId()), Buffer.from('0161c00c', 'hex'), tail]));
    // A pointer to itself.
    await formerr(Buffer.concat([head(freshId()), Buffer.from('c00c', 'hex'), tail]));
    // A forward pointer (to offset 20, past itself).
    await formerr(Buffer.concat([head(freshId()), Buffer.from('c014', 'hex'), tail, Buffer.from('0161000023', 'hex')]));
    // Label lengths 64 and 0x80 (reserved label types).
    for (const len of [64, 0x80]) await formerr(Buffer.concat([head(freshId()), Buffer.from([len]), Buffer.alloc(len, 0x61), Buffer.from([0]), tail]));
    // Trailing garbage after a valid question.
    await formerr(Buffer.concat([valid(), Buffer.from('00', 'hex')]));
    await formerr(Buffer.concat([valid(), Buffer.from('deadbeef', 'hex')]));
    // Question cut short.
    await formerr(valid().subarray(0, valid().length - 1));
  });

  it('answers the NOTIFY and UPDATE opcodes NOTIMP, class CH REFUSED, and a message with no question FORMERR', async () => {
    for (const opcode of [4, 5, 2]) {
      const { raw, m } = await ask({ name: APEX, type: T.SOA, opcode });
      expect(flagsOf(raw)).toMatchObject({ qr: true, opcode, aa: false, rcode: R.NOTIMP });
      expect(m.answers).toEqual([]);
    }
    for (const cls of [3, 4]) {
      const { raw } = await ask({ name: `999.2.${APEX}`, type: T.NAPTR, cls });
      expect(flagsOf(raw)).toMatchObject({ qr: true, aa: false, rcode: R.REFUSED });
      expect(countsOf(raw)).toEqual([1, 0, 0, 0]);
    }
    const none = Buffer.from('abcd00000000000000000000', 'hex');
    expect(flagsOf(await udp.query(none)).rcode).toBe(R.FORMERR);
  });

  /** Deterministic garbage: random packets and valid queries with bytes flipped, cut, extended or re-counted. */
  function fuzzPackets(seed: number, n: number, minLength: number, avoidId: number): Buffer[] {
    const rnd = mulberry32(seed);
    const int = (k: number): number => Math.floor(rnd() * k);
    const seeds = [
      valid(),
      q({ name: `7.sensors.999.2.${APEX}`, type: T.NAPTR, edns: { udpSize: 4096, dnssecOk: true } }),
      q({ name: APEX, type: T.SOA }),
      q({ name: APEX, type: T.AXFR }),
      q({ name: `${ANGSTROM_A}.999.2.${APEX}`, type: T.ANY, edns: {} }),
      q({ name: `example.${APEX}`, type: T.DNAME }),
    ];
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      let p: Buffer;
      if (rnd() < 0.25) {
        p = Buffer.from(Array.from({ length: int(80) }, () => int(256)));
      } else {
        p = Buffer.from(seeds[int(seeds.length)]!);
        const ops = 1 + int(3);
        for (let k = 0; k < ops; k++) {
          const op = int(6);
          if (op === 0 && p.length > 0) p[int(p.length)] = int(256);
          else if (op === 1 && p.length > 0) p = p.subarray(0, int(p.length));
          else if (op === 2) p = Buffer.concat([p, Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)))]);
          else if (op === 3 && p.length >= 12) p.writeUInt16BE(int(4), 4 + 2 * int(4));
          else if (op === 4 && p.length > 13) p[12 + int(p.length - 13)] = [0xc0, 0x3f, 0x40, 0x00, 0xff][int(5)]!;
          else if (op === 5 && p.length >= 4) p[2 + int(2)] = int(256);
        }
      }
      if (p.length < minLength) p = Buffer.concat([p, Buffer.alloc(minLength - p.length)]);
      if (p.length >= 2 && idOf(p) === avoidId) p[1] = p[1]! ^ 1;
      out.push(p);
    }
    return out;
  }

  it('keeps answering correctly over UDP after 2,000 random and mutated packets', async () => {
    const checkId = 0x7e57;
    const check = q({ id: checkId, name: `1.999.2.${APEX}`, type: T.NAPTR, edns: {} });
    const before = await udp.query(check);
    const client = await UdpClient.open(s.dnsPort);
    try {
      const packets = fuzzPackets(0xc0ffee, 2000, 0, checkId);
      for (let i = 0; i < packets.length; i++) {
        await client.send(packets[i]!);
        if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      }
      const after = await client.query(check, 5000);
      expect(after.toString('hex')).toBe(before.toString('hex'));
      // Whatever came back was a well-formed response.
      await client.collect(200);
      const replies = client.log;
      expect(replies.length).toBeGreaterThan(100);
      for (const r of replies) {
        expect(r.length).toBeGreaterThanOrEqual(12);
        expect(flagsOf(r).qr).toBe(true);
        expect(decodeMessage(r).header.qr).toBe(true);
      }
    } finally {
      await client.close();
    }
    // And a fresh client gets the same answer.
    expect((await udpQuery(s.dnsPort, check)).toString('hex')).toBe(before.toString('hex'));
  });

  it('keeps answering correctly over TCP after 2,000 random and mutated frames, and closes a connection on a frame shorter than a header', async () => {
    const checkId = 0x7e58;
    const check = q({ id: checkId, name: `1.999.2.${APEX}`, type: T.NAPTR });
    const before = await tcpQuery(s.dnsPort, check);
    const c = await TcpClient.connect(s.dnsPort);
    try {
      const packets = fuzzPackets(0xbadf00d, 2000, 12, checkId);
      await c.write(Buffer.concat(packets.map(TcpClient.frame)));
      await c.send(check);
      let after: Buffer | undefined;
      for (let i = 0; i < 10_000 && !after; i++) {
        const m = await c.read(10_000);
        expect(m.length).toBeGreaterThanOrEqual(12);
        expect(decodeMessage(m).header.qr).toBe(true);
        if (idOf(m) === checkId) after = m;
      }
      expect(after?.toString('hex')).toBe(before.toString('hex'));
      expect(c.isClosed).toBe(false);
    } finally {
      await c.close();
    }
    for (const short of [Buffer.from('0005beef010000', 'hex'), Buffer.from('0000', 'hex'), Buffer.from('000b' + '00'.repeat(11), 'hex')]) {
      const bad = await TcpClient.connect(s.dnsPort);
      try {
        await bad.write(short);
        expect(await bad.closedWithin(2000)).toBe(true);
      } finally {
        await bad.close();
      }
    }
    expect((await tcpQuery(s.dnsPort, check)).toString('hex')).toBe(before.toString('hex'));
  });
});

describe('TCP', () => {
  it('answers two queries pipelined in one write, in order', async () => {
    const a = q({ name: `999.2.${APEX}`, type: T.NAPTR });
    const b = q({ name: `3.999.2.${APEX}`, type: T.NAPTR });
    const c = await TcpClient.connect(s.dnsPort);
    try {
      await c.write(Buffer.concat([TcpClient.frame(a), TcpClient.frame(b)]));
      const ra = await c.read();
      const rb = await c.read();
      expect([idOf(ra), idOf(rb)]).toEqual([idOf(a), idOf(b)]);
      expect([flagsOf(ra).rcode, flagsOf(rb).rcode]).toEqual([R.NOERROR, R.NXDOMAIN]);
      // Many more, including ones that miss the cache, still in order.
      const many = Array.from({ length: 40 }, (_, i) => q({ name: `${i % 3 === 0 ? 999 : 4000 + i}.2.${APEX}`, type: T.NAPTR }));
      await c.write(Buffer.concat(many.map(TcpClient.frame)));
      const ids = [];
      for (let i = 0; i < many.length; i++) ids.push(idOf(await c.read()));
      expect(ids).toEqual(many.map(idOf));
    } finally {
      await c.close();
    }
  });

  it('answers a query split across two writes (inside the length prefix and inside the message)', async () => {
    for (const cut of [1, 2, 9, 20]) {
      const query = q({ name: `7.1.999.2.${APEX}`, type: T.NAPTR });
      const frame = TcpClient.frame(query);
      const c = await TcpClient.connect(s.dnsPort);
      try {
        await c.write(frame.subarray(0, cut));
        await new Promise((r) => setTimeout(r, 30));
        await c.write(frame.subarray(cut));
        const m = decodeMessage(await c.read());
        expect(m.header.id).toBe(idOf(query));
        expectOrsNaptrs(m.answers, `7.1.999.2.${APEX}`, '2.999.1.7');
      } finally {
        await c.close();
      }
    }
  });
});

describe('bugs found', () => {
  // Regression (was a bug in src/dns/responder.ts, scanQuery): the answer-cache key joins labels with "." without
  // escaping, so a QNAME whose single label is "20.999" (an octet 0x2E inside a label) has the
  // key of 20.999.2.oid-res.org. One such query poisons the cache: the registered name is then
  // answered NXDOMAIN to everyone until the serial moves.
  it('does not let a query with a "." inside a label poison the cached answer of another name', async () => {
    const poison = await ask({ name: ['20.999', '2', 'oid-res', 'org'], type: T.NAPTR, edns: { udpSize: 4096, dnssecOk: true } });
    expect(flagsOf(poison.raw).rcode).toBe(R.NXDOMAIN);
    const real = await ask({ name: `20.999.2.${APEX}`, type: T.NAPTR, edns: { udpSize: 4096, dnssecOk: true } });
    expect([flagsOf(real.raw).rcode, real.m.answers.length]).toEqual([R.NOERROR, 8]);
  });

  // Same bug, other direction: once 7.1.999.2.oid-res.org NAPTR is cached, the one-label
  // QNAME "7.1" + 999.2.oid-res.org (which names nothing) gets the registered arc's NAPTRs.
  it('does not answer a name with a "." inside a label from the cached answer of another name', async () => {
    await ask({ name: `7.1.999.2.${APEX}`, type: T.NAPTR });
    const wrong = await ask({ name: ['7.1', '999', '2', 'oid-res', 'org'], type: T.NAPTR });
    expect([flagsOf(wrong.raw).rcode, wrong.m.answers.length]).toEqual([R.NXDOMAIN, 0]);
  });

  // Regression (was a bug in src/dns/responder.ts, questionLength/patch): a QNAME ending in a (legal, backwards)
  // compression pointer - here to offset 4, the high octet of QDCOUNT, which is 0, the root -
  // is measured one octet short and the response's question is overwritten with the query's
  // bytes at the wrong length: the response is misaligned and cannot be parsed.
  it('answers a query whose QNAME ends in a compression pointer with a well-formed response', async () => {
    const plain = q({ name: `999.2.${APEX}`, type: T.NAPTR });
    const labels = wireName(`999.2.${APEX}`);
    const packet = Buffer.concat([plain.subarray(0, 12), labels.subarray(0, labels.length - 1), Buffer.from('c004', 'hex'), plain.subarray(12 + labels.length)]);
    expect(decodeMessage(packet).questions[0]!.name).toEqual(labelsOf(`999.2.${APEX}`));
    const raw = await udp.query(packet);
    expect(() => decodeMessage(raw)).not.toThrow(); // it once came back misaligned (ERR_DNS_MESSAGE_INVALID)
    const m = decodeMessage(raw);
    expect([m.header.rcode, m.answers.length]).toEqual([R.NOERROR, 4]);
  });
});
