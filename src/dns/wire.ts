import { DnsMessageInvalid } from '../errors.js';

/**
 * DNS messages on the wire (RFC 1035 section 4, EDNS0 from RFC 6891), only as much as an
 * authoritative ORS server needs: the types below, name compression, and strict reading that
 * never trusts a length or a pointer.
 *
 *   Header   ::= ID(16) QR(1) OPCODE(4) AA(1) TC(1) RD(1) RA(1) Z(1) AD(1) CD(1) RCODE(4)
 *                QDCOUNT(16) ANCOUNT(16) NSCOUNT(16) ARCOUNT(16)
 *   Question ::= QNAME QTYPE(16) QCLASS(16)
 *   RR       ::= NAME TYPE(16) CLASS(16) TTL(32) RDLENGTH(16) RDATA
 *   Name     ::= { <length 1..63> <octets> }* 0  |  ... <pointer: 11xxxxxx xxxxxxxx>
 */

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS_IN = 1;
export const CLASS_ANY = 255;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, NOTAUTH: 9, BADVERS: 16 } as const;
export const OPCODE = { QUERY: 0, NOTIFY: 4 } as const;

/** A domain name as its labels, most specific first, without the root label. */
export type Name = readonly string[];

export interface Header {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The low 4 bits; an OPT record carries the high 8 bits of extended codes. */
  readonly rcode: number;
}

export interface Question {
  readonly name: Name;
  readonly type: number;
  readonly class: number;
}

export type RData =
  | { readonly kind: 'A'; readonly address: string }
  | { readonly kind: 'NS'; readonly host: Name }
  | { readonly kind: 'CNAME'; readonly target: Name }
  | { readonly kind: 'DNAME'; readonly target: Name }
  | {
      readonly kind: 'SOA';
      readonly mname: Name;
      readonly rname: Name;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | {
      readonly kind: 'NAPTR';
      readonly order: number;
      readonly preference: number;
      readonly flags: string;
      readonly service: string;
      readonly regexp: string;
      readonly replacement: Name;
    }
  | { readonly kind: 'OTHER'; readonly bytes: Buffer };

export interface ResourceRecord {
  readonly name: Name;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: RData;
}

/** EDNS0 as the OPT pseudo-record carries it (RFC 6891 section 6.1.3). */
export interface Edns {
  readonly udpSize: number;
  readonly extendedRcode: number;
  readonly version: number;
  readonly dnssecOk: boolean;
}

export interface Message {
  readonly header: Header;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
  /** Present when the additional section held one OPT record (it is not in `additional`). */
  readonly edns?: Edns;
}

export const MAX_NAME_OCTETS = 255;
export const MAX_LABEL_OCTETS = 63;
/** A name has at most 127 labels; a writer needs no more than one pointer per label (Cairn's, one per name). */
export const MAX_POINTERS = 127;

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
export const typeName = (type: number): string => TYPE_NAMES.get(type) ?? `TYPE${type}`;

/** Lower-cases ASCII letters only: DNS names compare case-insensitively in ASCII (RFC 4343). */
export function foldLabel(label: string): string {
  return /[A-Z]/.test(label) ? label.replace(/[A-Z]/g, (c) => c.toLowerCase()) : label;
}

/** A comparable key for a name (case-folded; dots inside a label escaped). */
export function nameKey(name: Name): string {
  let key = '';
  for (const label of name) key += `${foldLabel(label).replace(/[.\\]/g, '\\$&')}.`;
  return key;
}

export function nameOctets(name: Name): number {
  let n = 1;
  for (const label of name) n += 1 + Buffer.byteLength(label, 'latin1');
  return n;
}

/** Presentation form with a trailing dot, escaping as RFC 1035 section 5.1 does. */
export function formatName(name: Name): string {
  if (name.length === 0) return '.';
  return `${name.map(escapeLabel).join('.')}.`;
}

function escapeLabel(label: string): string {
  let out = '';
  for (const ch of label) {
    const c = ch.charCodeAt(0);
    if (ch === '.' || ch === '\\' || ch === '"' || ch === ';' || ch === '(' || ch === ')' || ch === '@' || ch === '$') out += `\\${ch}`;
    else if (c <= 0x20 || c >= 0x7f) out += `\\${String(c).padStart(3, '0')}`;
    else out += ch;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) throw new DnsMessageInvalid(`Message ends inside ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /**
   * A name, following compression pointers only backwards, so a loop cannot occur; and at most
   * MAX_POINTERS of them, or a chain of pointers to pointers (a few thousand fit in 16 KiB) would
   * cost every record naming its end the whole walk: quadratic work for one message.
   */
  name(what: string): Name {
    const labels: string[] = [];
    let octets = 1;
    let at = this.offset;
    let jumped = false;
    let pointers = 0;
    for (;;) {
      if (at >= this.buf.length) throw new DnsMessageInvalid(`Message ends inside ${what}`);
      const len = this.buf[at]!;
      if (len === 0) {
        if (!jumped) this.offset = at + 1;
        return labels;
      }
      if ((len & 0xc0) === 0xc0) {
        if (at + 1 >= this.buf.length) throw new DnsMessageInvalid(`Message ends inside ${what}`);
        const target = ((len & 0x3f) << 8) | this.buf[at + 1]!;
        if (target >= at) throw new DnsMessageInvalid(`Compression pointer in ${what} does not point backwards`);
        if (++pointers > MAX_POINTERS) throw new DnsMessageInvalid(`${what} follows more than ${MAX_POINTERS} compression pointers`);
        if (!jumped) this.offset = at + 2;
        jumped = true;
        at = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsMessageInvalid(`Unknown label type in ${what}`);
      if (at + 1 + len > this.buf.length) throw new DnsMessageInvalid(`Message ends inside ${what}`);
      octets += 1 + len;
      if (octets > MAX_NAME_OCTETS) throw new DnsMessageInvalid(`${what} is longer than 255 octets`);
      labels.push(this.buf.toString('latin1', at + 1, at + 1 + len));
      at += 1 + len;
    }
  }

  characterString(what: string): string {
    const n = this.u8(what);
    return this.bytes(n, what).toString('latin1');
  }
}

export function decodeHeader(buf: Buffer): Header & { counts: [number, number, number, number] } {
  if (buf.length < 12) throw new DnsMessageInvalid('Message shorter than a DNS header');
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    counts: [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)],
  };
}

function decodeRData(r: Reader, type: number, length: number): RData {
  const end = r.offset + length;
  r.need(length, 'RDATA');
  const sub = (what: string): void => {
    if (r.offset !== end) throw new DnsMessageInvalid(`RDATA length does not match its ${what} content`);
  };
  let data: RData;
  switch (type) {
    case TYPE.A: {
      if (length !== 4) throw new DnsMessageInvalid('A record RDATA must be 4 octets');
      data = { kind: 'A', address: [...r.bytes(4, 'A')].join('.') };
      break;
    }
    case TYPE.NS:
      data = { kind: 'NS', host: r.name('NS host') };
      break;
    case TYPE.CNAME:
      data = { kind: 'CNAME', target: r.name('CNAME target') };
      break;
    case TYPE.DNAME:
      data = { kind: 'DNAME', target: r.name('DNAME target') };
      break;
    case TYPE.SOA:
      data = {
        kind: 'SOA',
        mname: r.name('SOA MNAME'),
        rname: r.name('SOA RNAME'),
        serial: r.u32('SOA'),
        refresh: r.u32('SOA'),
        retry: r.u32('SOA'),
        expire: r.u32('SOA'),
        minimum: r.u32('SOA'),
      };
      break;
    case TYPE.NAPTR:
      data = {
        kind: 'NAPTR',
        order: r.u16('NAPTR'),
        preference: r.u16('NAPTR'),
        flags: r.characterString('NAPTR flags'),
        service: r.characterString('NAPTR service'),
        regexp: r.characterString('NAPTR regexp'),
        replacement: r.name('NAPTR replacement'),
      };
      break;
    default:
      data = { kind: 'OTHER', bytes: Buffer.from(r.bytes(length, 'RDATA')) };
  }
  sub(typeName(type));
  return data;
}

/** Parses a whole message; throws ERR_DNS_MESSAGE_INVALID on anything malformed or trailing. */
export function decodeMessage(buf: Buffer): Message {
  // RFC 1035 4.2: a message travels in one UDP datagram or after a 16-bit TCP length.
  if (buf.length > 65_535) throw new DnsMessageInvalid(`Message of ${buf.length} bytes is longer than 65,535`);
  const { counts, ...header } = decodeHeader(buf);
  const r = new Reader(buf);
  r.offset = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name('QNAME'), type: r.u16('QTYPE'), class: r.u16('QCLASS') });
  const section = (n: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) {
      const name = r.name('owner name');
      const type = r.u16('TYPE');
      const cls = r.u16('CLASS');
      const ttl = r.u32('TTL');
      const length = r.u16('RDLENGTH');
      out.push({ name, type, class: cls, ttl, data: decodeRData(r, type, length) });
    }
    return out;
  };
  const answers = section(counts[1]);
  const authority = section(counts[2]);
  const additionalAll = section(counts[3]);
  if (r.offset !== buf.length) throw new DnsMessageInvalid('Trailing octets after the last record');
  const opts = additionalAll.filter((rr) => rr.type === TYPE.OPT);
  if (opts.length > 1) throw new DnsMessageInvalid('More than one OPT record');
  const opt = opts[0];
  if (opt && opt.name.length !== 0) throw new DnsMessageInvalid('OPT record owner must be the root');
  const edns: Edns | undefined = opt
    ? { udpSize: opt.class, extendedRcode: opt.ttl >>> 24, version: (opt.ttl >>> 16) & 0xff, dnssecOk: (opt.ttl & 0x8000) !== 0 }
    : undefined;
  return {
    header,
    questions,
    answers,
    authority,
    additional: additionalAll.filter((rr) => rr.type !== TYPE.OPT),
    ...(edns ? { edns } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Builds a message with name compression (RFC 1035 section 4.1.4). Owner names and the names in
 * NS, CNAME and SOA data are compressed; DNAME targets (RFC 6672 section 2.5) and NAPTR
 * replacements (RFC 3403 section 4.1) never are.
 */
export class MessageWriter {
  private buf: Buffer;
  private length = 0;
  private readonly names = new Map<string, number>();
  private readonly counts = [0, 0, 0, 0];

  constructor(initialSize = 512) {
    this.buf = Buffer.alloc(initialSize);
    this.length = 12;
  }

  get size(): number {
    return this.length;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  private u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  private u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16BE(v, this.length);
    this.length += 2;
  }
  private u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }
  private characterString(s: string): void {
    const bytes = Buffer.from(s, 'latin1');
    if (bytes.length > 255) throw new DnsMessageInvalid('Character string longer than 255 octets');
    this.u8(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }

  name(name: Name, compress: boolean): void {
    if (nameOctets(name) > MAX_NAME_OCTETS) throw new DnsMessageInvalid(`${formatName(name)} is longer than 255 octets`);
    // Keys of every suffix, built once from the right (nameKey of each suffix would be quadratic).
    const keys = new Array<string>(name.length);
    let suffix = '';
    for (let i = name.length - 1; i >= 0; i--) keys[i] = suffix = `${foldLabel(name[i]!).replace(/[.\\]/g, '\\$&')}.${suffix}`;
    for (let i = 0; i < name.length; i++) {
      const key = keys[i]!;
      const at = compress ? this.names.get(key) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x3fff && !this.names.has(key)) this.names.set(key, this.length);
      const label = Buffer.from(name[i]!, 'latin1');
      if (label.length === 0 || label.length > MAX_LABEL_OCTETS) throw new DnsMessageInvalid('Label must be 1-63 octets');
      this.u8(label.length);
      this.reserve(label.length);
      label.copy(this.buf, this.length);
      this.length += label.length;
    }
    this.u8(0);
  }

  header(h: Header): void {
    const flags =
      (h.qr ? 0x8000 : 0) |
      ((h.opcode & 0xf) << 11) |
      (h.aa ? 0x0400 : 0) |
      (h.tc ? 0x0200 : 0) |
      (h.rd ? 0x0100 : 0) |
      (h.ra ? 0x0080 : 0) |
      (h.ad ? 0x0020 : 0) |
      (h.cd ? 0x0010 : 0) |
      (h.rcode & 0xf);
    this.buf.writeUInt16BE(h.id, 0);
    this.buf.writeUInt16BE(flags, 2);
  }

  question(q: Question): void {
    this.name(q.name, true);
    this.u16(q.type);
    this.u16(q.class);
    this.counts[0]!++;
  }

  /** Appends a record to section 1 (answer), 2 (authority) or 3 (additional). */
  record(section: 1 | 2 | 3, rr: ResourceRecord): void {
    this.name(rr.name, true);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lengthAt = this.length;
    this.u16(0);
    const d = rr.data;
    switch (d.kind) {
      case 'A': {
        const parts = d.address.split('.').map(Number);
        for (const p of parts) this.u8(p);
        break;
      }
      case 'NS':
        this.name(d.host, true);
        break;
      case 'CNAME':
        this.name(d.target, true);
        break;
      case 'DNAME':
        this.name(d.target, false);
        break;
      case 'SOA':
        this.name(d.mname, true);
        this.name(d.rname, true);
        for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(v);
        break;
      case 'NAPTR':
        this.u16(d.order);
        this.u16(d.preference);
        this.characterString(d.flags);
        this.characterString(d.service);
        this.characterString(d.regexp);
        this.name(d.replacement, false);
        break;
      case 'OTHER':
        this.reserve(d.bytes.length);
        d.bytes.copy(this.buf, this.length);
        this.length += d.bytes.length;
    }
    this.buf.writeUInt16BE(this.length - lengthAt - 2, lengthAt);
    this.counts[section]!++;
  }

  /** The OPT pseudo-record (RFC 6891): our UDP size, the high bits of the rcode, DO echoed. */
  opt(udpSize: number, extendedRcode: number, dnssecOk: boolean): void {
    this.u8(0);
    this.u16(TYPE.OPT);
    this.u16(udpSize);
    this.u32(((extendedRcode & 0xff) << 24) | (dnssecOk ? 0x8000 : 0));
    this.u16(0);
    this.counts[3]!++;
  }

  finish(): Buffer {
    for (let i = 0; i < 4; i++) this.buf.writeUInt16BE(this.counts[i]!, 4 + 2 * i);
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** Encodes one record's RDATA alone (no compression), e.g. to compare records for IXFR. */
export function rdataKey(rr: ResourceRecord): string {
  const w = new MessageWriter(64);
  w.record(1, { ...rr, name: [], ttl: 0 });
  return `${nameKey(rr.name)} ${rr.type} ${w.finish().subarray(12 + 1 + 8).toString('hex')}`;
}
