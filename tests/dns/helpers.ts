import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { Config } from '../../src/config.js';
import { decodeMessage, type Message, type ResourceRecord } from '../../src/dns/wire.js';
import type { RunningServer } from '../../src/server.js';
import { oidRequest, startRealServer } from '../helpers/service.js';

/**
 * Helpers for the ORS DNS tests: a real Cairn server (HTTP + DNS on 127.0.0.1, free ports) in a
 * temporary directory, and small UDP/TCP DNS clients whose every wait has a timeout. Queries are
 * built here by hand (not with Cairn's MessageWriter) so the tests do not only trust the codec
 * they test; responses are read with Cairn's decodeMessage plus byte-level checks in the tests.
 */

export const APEX = 'oid-res.org';

export const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, NAPTR: 35, DNAME: 39, OPT: 41, TSIG: 250, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const R = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, BADVERS: 16 } as const;

// ---------------------------------------------------------------------------------------------
// The server

export interface OrsServer {
  readonly dir: string;
  readonly config: Config;
  readonly server: RunningServer;
  readonly url: string;
  readonly dnsPort: number;
  put(oid: string, body: unknown): Promise<number>;
  del(oid: string): Promise<number>;
  close(): Promise<void>;
}

export async function startOrsServer(overrides: Partial<Config> = {}): Promise<OrsServer> {
  const { dir, config, server, url } = await startRealServer(overrides);
  const request = async (method: 'PUT' | 'DELETE', oid: string, body?: unknown): Promise<number> => (await oidRequest(url, method, oid, body)).status;
  let closed: Promise<void> | undefined;
  return {
    dir,
    config,
    server,
    url,
    dnsPort: server.dns.port,
    put: (oid, body) => request('PUT', oid, body),
    del: (oid) => request('DELETE', oid),
    close: () =>
      (closed ??= (async () => {
        try {
          await server.stop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      })()),
  };
}

// ---------------------------------------------------------------------------------------------
// Building queries by hand

export type NameInput = string | readonly string[];

export const labelsOf = (name: NameInput): string[] =>
  typeof name === 'string' ? (name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.')) : [...name];

/** Uncompressed wire form of a name (labels as latin1 octets). */
export function wireName(name: NameInput): Buffer {
  const parts: Buffer[] = [];
  for (const label of labelsOf(name)) {
    const b = Buffer.from(label, 'latin1');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface QueryOptions {
  readonly id?: number;
  readonly name: NameInput;
  readonly type: number;
  readonly cls?: number;
  readonly rd?: boolean;
  readonly cd?: boolean;
  readonly qr?: boolean;
  readonly opcode?: number;
  /** Adds an OPT record (EDNS0). */
  readonly edns?: { readonly udpSize?: number; readonly version?: number; readonly dnssecOk?: boolean };
  /** Records for the authority section, as raw wire bytes each (e.g. `soaRr`). */
  readonly authority?: readonly Buffer[];
}

let nextId = 0x1000;
export const freshId = (): number => (nextId = (nextId + 7919) & 0xffff);

/** An OPT pseudo-record (RFC 6891 section 6.1.2), written out field by field. */
export function optRr(udpSize = 1232, version = 0, dnssecOk = false): Buffer {
  const b = Buffer.alloc(11);
  b[0] = 0; // root owner
  b.writeUInt16BE(T.OPT, 1);
  b.writeUInt16BE(udpSize, 3);
  b[5] = 0; // extended rcode
  b[6] = version;
  b.writeUInt16BE(dnssecOk ? 0x8000 : 0, 7);
  b.writeUInt16BE(0, 9); // RDLENGTH
  return b;
}

/** An SOA record as the authority section of an IXFR query carries it (only the serial matters). */
export function soaRr(apex: NameInput, serial: number): Buffer {
  const rdata = Buffer.concat([wireName(['ns', ...labelsOf(apex)]), wireName(['hostmaster', ...labelsOf(apex)]), Buffer.alloc(20)]);
  rdata.writeUInt32BE(serial >>> 0, rdata.length - 20);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(T.SOA, 0);
  head.writeUInt16BE(1, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([wireName(apex), head, rdata]);
}

export function buildQuery(o: QueryOptions): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(o.id ?? freshId(), 0);
  header[2] = (o.qr ? 0x80 : 0) | (((o.opcode ?? 0) & 0xf) << 3) | (o.rd ?? true ? 0x01 : 0);
  header[3] = o.cd ? 0x10 : 0;
  const authority = o.authority ?? [];
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(0, 6);
  header.writeUInt16BE(authority.length, 8);
  header.writeUInt16BE(o.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(o.type, 0);
  tail.writeUInt16BE(o.cls ?? 1, 2);
  return Buffer.concat([
    header,
    wireName(o.name),
    tail,
    ...authority,
    ...(o.edns ? [optRr(o.edns.udpSize ?? 1232, o.edns.version ?? 0, o.edns.dnssecOk ?? false)] : []),
  ]);
}

export const idOf = (b: Buffer): number => b.readUInt16BE(0);

// ---------------------------------------------------------------------------------------------
// UDP and TCP clients (every wait bounded)

export class UdpClient {
  private readonly socket: UdpSocket;
  private readonly inbox: Buffer[] = [];
  /** Every datagram received, matched or not (for checks over a whole exchange). */
  readonly log: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(
    socket: UdpSocket,
    readonly port: number,
  ) {
    this.socket = socket;
    socket.on('message', (msg) => {
      this.inbox.push(msg);
      this.log.push(msg);
      this.waiter?.();
    });
  }

  static open(port: number): Promise<UdpClient> {
    const socket = createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve(new UdpClient(socket, port));
      });
    });
  }

  send(packet: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(packet, this.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** The next datagram that `match` accepts (others are dropped); rejects after `timeoutMs`. */
  next(match: (b: Buffer) => boolean, timeoutMs = 2000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        while (this.inbox.length > 0) {
          const b = this.inbox.shift()!;
          if (match(b)) {
            clearTimeout(timer);
            this.waiter = undefined;
            resolve(b);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no matching UDP answer within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiter = () => void check();
    });
  }

  /** Sends `packet` and waits for the reply with its ID. */
  async query(packet: Buffer, timeoutMs = 2000): Promise<Buffer> {
    const id = idOf(packet);
    await this.send(packet);
    return this.next((b) => b.length >= 2 && idOf(b) === id, timeoutMs);
  }

  /** Everything received within `ms` (for "no answer" checks), then the inbox is empty. */
  async collect(ms: number): Promise<Buffer[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.splice(0);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** One UDP query on a fresh socket. */
export async function udpQuery(port: number, packet: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const c = await UdpClient.open(port);
  try {
    return await c.query(packet, timeoutMs);
  } finally {
    await c.close();
  }
}

export class TcpClient {
  private buffered = Buffer.alloc(0);
  private readonly messages: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 2) {
        const n = this.buffered.readUInt16BE(0);
        if (this.buffered.length < 2 + n) break;
        this.messages.push(Buffer.from(this.buffered.subarray(2, 2 + n)));
        this.buffered = this.buffered.subarray(2 + n);
      }
      this.waiter?.();
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static connect(port: number, timeoutMs = 2000): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('TCP connect timed out'));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpClient(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  static frame(message: Buffer): Buffer {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(message.length, 0);
    return Buffer.concat([len, message]);
  }

  send(message: Buffer): Promise<void> {
    return this.write(TcpClient.frame(message));
  }

  /** The next whole message; rejects on timeout or when the connection closes first. */
  read(timeoutMs = 3000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.shift();
        if (m) {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(m);
          return true;
        }
        if (this.ended) {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(new Error('TCP connection closed before a message arrived'));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no TCP message within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) this.waiter = () => void check();
    });
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.closedPromise.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }
}

export async function tcpQuery(port: number, packet: Buffer, timeoutMs = 3000): Promise<Buffer> {
  const c = await TcpClient.connect(port);
  try {
    await c.send(packet);
    return await c.read(timeoutMs);
  } finally {
    await c.close();
  }
}

/**
 * A zone transfer: reads messages until the answer stream is complete (AXFR: SOA ... SOA;
 * IXFR condensed: SOA new, SOA old, ..., SOA new, ..., SOA new; or one message with a single SOA
 * or an error), at most 200 messages.
 */
export async function transfer(port: number, packet: Buffer, timeoutMs = 5000): Promise<{ messages: Message[]; records: ResourceRecord[] }> {
  const c = await TcpClient.connect(port);
  try {
    await c.send(packet);
    const messages: Message[] = [];
    const records: ResourceRecord[] = [];
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 200; i++) {
      const m = decodeMessage(await c.read(Math.max(1, deadline - Date.now())));
      messages.push(m);
      records.push(...m.answers);
      if (m.header.rcode !== 0 || transferComplete(records)) return { messages, records };
    }
    throw new Error('transfer did not end within 200 messages');
  } finally {
    await c.close();
  }
}

const serialOf = (rr: ResourceRecord | undefined): number | undefined => (rr?.data.kind === 'SOA' ? rr.data.serial : undefined);

function transferComplete(records: readonly ResourceRecord[]): boolean {
  const first = serialOf(records[0]);
  if (first === undefined) return true; // not a transfer: let the test look at it
  if (records.length === 1) return true; // a single SOA (IXFR: up to date) - or the first of many, see below
  const incremental = records.length >= 2 && serialOf(records[1]) !== undefined && serialOf(records[1]) !== first;
  const closing = records.filter((rr) => serialOf(rr) === first).length;
  return serialOf(records.at(-1)) === first && closing >= (incremental ? 3 : 2);
}

// ---------------------------------------------------------------------------------------------
// Looking at answers

export function flagsOf(b: Buffer): { qr: boolean; opcode: number; aa: boolean; tc: boolean; rd: boolean; ra: boolean; cd: boolean; rcode: number } {
  return {
    qr: (b[2]! & 0x80) !== 0,
    opcode: (b[2]! >> 3) & 0xf,
    aa: (b[2]! & 0x04) !== 0,
    tc: (b[2]! & 0x02) !== 0,
    rd: (b[2]! & 0x01) !== 0,
    ra: (b[3]! & 0x80) !== 0,
    cd: (b[3]! & 0x10) !== 0,
    rcode: b[3]! & 0x0f,
  };
}

export const countsOf = (b: Buffer): [number, number, number, number] => [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)];

export const dotted = (labels: readonly string[]): string => labels.join('.').toLowerCase();

/** Presentation text of a record, written here independently of Cairn's zone-file.ts. */
export function textOf(rr: ResourceRecord): string {
  const n = (labels: readonly string[]): string => `${labels.join('.').toLowerCase()}.`.replace(/^\.$/, '.');
  const q = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&')}"`;
  const d = rr.data;
  let rdata: string;
  switch (d.kind) {
    case 'A':
      rdata = d.address;
      break;
    case 'NS':
      rdata = n(d.host);
      break;
    case 'CNAME':
    case 'DNAME':
      rdata = n(d.target);
      break;
    case 'SOA':
      rdata = `${n(d.mname)} ${n(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
      break;
    case 'NAPTR':
      rdata = `${d.order} ${d.preference} ${q(d.flags)} ${q(d.service)} ${q(d.regexp)} ${n(d.replacement)}`;
      break;
    case 'OTHER':
      rdata = `\\# ${d.bytes.length} ${d.bytes.toString('hex')}`;
  }
  const types: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 35: 'NAPTR', 39: 'DNAME' };
  return `${n(rr.name)} ${rr.ttl} IN ${types[rr.type] ?? `TYPE${rr.type}`} ${rdata}`;
}

/** The value inside an ORS NAPTR regexp `!^.*$!<value>!` (with `\!` and `\\` unescaped). */
export function naptrValue(rr: ResourceRecord): string | undefined {
  if (rr.data.kind !== 'NAPTR') return undefined;
  const m = /^!\^\.\*\$!(.*)!$/.exec(rr.data.regexp);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
