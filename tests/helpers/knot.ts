import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config.js';
import type { RunningServer } from '../../src/server.js';
import { oidRequest, startRealServer } from './service.js';

/**
 * DNS interop helpers: a real Cairn with its ORS responder in a temporary directory, the
 * command-line tools `dig` and `kdig` run asynchronously (Cairn answers from this same process,
 * so nothing here may block the event loop) with a parser for their text output, and Knot DNS
 * (`knotd`) as a secondary or primary in a temporary directory of its own.
 *
 * Nothing here uses Cairn's DNS code: queries are built by hand and answers are read from what
 * the tools print.
 */

// ---------------------------------------------------------------- processes

const running = new Set<ChildProcess>();

/** Kills (SIGKILL, by pid) every child started here that is still running; for afterAll. */
export async function killStrayChildren(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
          child.once('exit', () => resolve());
          process.kill(child.pid, 'SIGKILL');
        }),
    ),
  );
}

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` to completion without blocking; killed (SIGKILL) after `timeoutMs`. */
export function runTool(command: string, args: readonly string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port free on 127.0.0.1 for both TCP and UDP at the moment of asking. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (port > 0 && udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------- Cairn

export interface CairnUnderTest {
  readonly dir: string;
  readonly config: Config;
  readonly server: RunningServer;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly httpPort: number;
  readonly dnsPort: number;
  /** PUT /api/oids/{oid} as admin; throws unless 200/201. */
  put(oid: string, body: unknown): Promise<number>;
  /** DELETE /api/oids/{oid} as admin; throws unless 200/204. */
  remove(oid: string): Promise<number>;
  /** Stops the server (idempotent); the data directory stays until `cleanup`. */
  stop(): Promise<void>;
  /** Stops the server and removes the temporary directory. */
  cleanup(): Promise<void>;
}

/** A real Cairn (`runServer`) on 127.0.0.1 with free HTTP and DNS ports in a new temporary directory. */
export async function startCairn(overrides: Partial<Config> = {}): Promise<CairnUnderTest> {
  const { dir, config, server, url } = await startRealServer(overrides);
  const call = async (method: 'PUT' | 'DELETE', oid: string, body?: unknown): Promise<number> => {
    const { status, text } = await oidRequest(url, method, oid, body);
    const ok = method === 'PUT' ? [200, 201] : [200, 204];
    if (!ok.includes(status)) throw new Error(`${method} /api/oids/${oid}: ${status} ${text}`);
    return status;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= server.stop());
  return {
    dir,
    config,
    server,
    url,
    httpPort: server.http.port,
    dnsPort: server.dns.port,
    put: (oid, body) => call('PUT', oid, body),
    remove: (oid) => call('DELETE', oid),
    stop,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- hand-built queries

export interface QueryOptions {
  readonly id?: number;
  readonly type?: number;
  readonly qclass?: number;
  /** Adds an OPT record (EDNS version and payload size). */
  readonly edns?: { version: number; udpSize: number };
  readonly rd?: boolean;
}

/** A DNS query message (RFC 1035 section 4.1), built byte by byte. Labels may contain any octet. */
export function encodeQuery(labels: readonly string[], options: QueryOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(options.id ?? 0x1234, 0);
  header[2] = options.rd ? 0x01 : 0x00;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.edns ? 1 : 0, 10);
  parts.push(header);
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    parts.push(Buffer.of(bytes.length), bytes);
  }
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(options.type ?? 35, 1);
  tail.writeUInt16BE(options.qclass ?? 1, 3);
  parts.push(tail);
  if (options.edns) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(options.edns.udpSize, 3);
    opt[6] = options.edns.version;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** True once something answers a UDP query at 127.0.0.1:port within `timeoutMs`. */
export function udpAnswers(port: number, query: Buffer, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('message', () => done(true));
    socket.once('error', () => done(false));
    socket.send(query, port, '127.0.0.1');
  });
}

// ---------------------------------------------------------------- dig and kdig

export interface Rr {
  /** Owner as printed (case kept). */
  readonly name: string;
  readonly ttl: number;
  readonly class: string;
  readonly type: string;
  /** RDATA fields, character strings unquoted and unescaped. */
  readonly rdata: readonly string[];
  readonly line: string;
}

export interface DigOutput {
  readonly raw: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly status: string | undefined;
  readonly flags: readonly string[];
  readonly ednsVersion: number | undefined;
  /** UDP or TCP, from the SERVER (dig) or From (kdig) line. */
  readonly transport: string | undefined;
  readonly question: readonly { name: string; class: string; type: string }[];
  readonly answer: readonly Rr[];
  readonly authority: readonly Rr[];
  readonly additional: readonly Rr[];
  /** Every record line of the output, whatever its section (zone transfers print no sections). */
  readonly records: readonly Rr[];
}

/** Splits RDATA text into fields: `"..."` strings decoded (`\"`, `\\`, `\DDD`), other tokens as they are. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') {
          const ddd = /^\d{3}/.exec(text.slice(i + 1, i + 4));
          if (ddd) {
            s += String.fromCharCode(Number(ddd[0]));
            i += 4;
          } else {
            s += text[i + 1] ?? '';
            i += 2;
          }
        } else {
          s += text[i];
          i++;
        }
      }
      i++; // closing quote
      out.push(s);
      continue;
    }
    let token = '';
    while (i < text.length && text[i] !== ' ' && text[i] !== '\t') token += text[i++];
    out.push(token);
  }
  return out;
}

/** One master-file style record line: `owner TTL CLASS TYPE RDATA...`. */
export function parseRecordLine(line: string): Rr | undefined {
  const m = /^(\S+)\s+(\d+)\s+([A-Z0-9]+)\s+([A-Z0-9]+)\s*(.*)$/.exec(line.trim());
  if (!m) return undefined;
  return { name: m[1]!, ttl: Number(m[2]), class: m[3]!, type: m[4]!, rdata: tokenize(m[5]!), line: line.trim() };
}

/** Parses the text dig (BIND 9.18) or kdig (Knot 3.2) prints; the last response shown wins. */
export function parseDig(raw: string, stderr = '', code: number | null = 0): DigOutput {
  const blocks = raw.split('->>HEADER<<-');
  const last = blocks.length > 1 ? blocks.at(-1)! : raw;
  const sections: Record<string, Rr[]> = { QUESTION: [], ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  const question: { name: string; class: string; type: string }[] = [];
  const records: Rr[] = [];
  let section: string | undefined;
  for (const line of last.split('\n')) {
    const heading = /^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (heading) {
      section = heading[1];
      continue;
    }
    if (line.trim() === '') {
      section = undefined;
      continue;
    }
    if (section === 'QUESTION') {
      const q = /^;+\s*(\S+)\s+([A-Z0-9]+)\s+([A-Z0-9]+)\s*$/.exec(line);
      if (q) question.push({ name: q[1]!, class: q[2]!, type: q[3]! });
      continue;
    }
    if (line.startsWith(';')) continue;
    const rr = parseRecordLine(line);
    if (!rr) continue;
    records.push(rr);
    if (section) sections[section]!.push(rr);
  }
  const status = /status: ([A-Z]+)/.exec(last)?.[1];
  const flags = /^;; [Ff]lags: ([a-z ]*);/m.exec(last)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  const edns = /EDNS: version: (\d+)/.exec(last) ?? /^;; Version: (\d+);/m.exec(last);
  const transport = /^;; (?:SERVER|From):? .*\((UDP|TCP)\)/m.exec(last)?.[1];
  return {
    raw,
    stderr,
    code,
    status,
    flags,
    ednsVersion: edns ? Number(edns[1]) : undefined,
    transport,
    question,
    answer: sections.ANSWER!,
    authority: sections.AUTHORITY!,
    additional: sections.ADDITIONAL!,
    records,
  };
}

/** `dig @127.0.0.1 -p PORT +norec +time=2 +tries=1 ARGS` */
export async function dig(port: number, args: readonly string[]): Promise<DigOutput> {
  const r = await runTool('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+time=2', '+tries=1', ...args]);
  return parseDig(r.stdout, r.stderr, r.code);
}

/** `kdig @127.0.0.1 -p PORT +norec +time=2 +retry=0 +noidn ARGS` (kdig spells dig's +tries=1 as +retry=0). */
export async function kdig(port: number, args: readonly string[]): Promise<DigOutput> {
  const r = await runTool('kdig', ['@127.0.0.1', '-p', String(port), '+norec', '+time=2', '+retry=0', '+noidn', ...args]);
  return parseDig(r.stdout, r.stderr, r.code);
}

const NAME_RDATA: Record<string, number[]> = { NS: [0], CNAME: [0], DNAME: [0], SOA: [0, 1], NAPTR: [5] };

/** A record as a comparable string: names lower-cased (in the owner and in RDATA), strings kept exact. */
export function rrKey(rr: Rr): string {
  const names = NAME_RDATA[rr.type] ?? [];
  const rdata = rr.rdata.map((f, i) => (names.includes(i) ? f.toLowerCase() : f));
  return [rr.name.toLowerCase(), rr.ttl, rr.class, rr.type, ...rdata.map((f) => JSON.stringify(f))].join(' ');
}

export const rrKeys = (rrs: readonly Rr[]): string[] => rrs.map(rrKey).sort();

export interface Naptr {
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly service: string;
  readonly regexp: string;
  readonly replacement: string;
}

export function naptr(rr: Rr): Naptr {
  if (rr.type !== 'NAPTR' || rr.rdata.length !== 6) throw new Error(`not a NAPTR record: ${rr.line}`);
  const [order, preference, flags, service, regexp, replacement] = rr.rdata as [string, string, string, string, string, string];
  return { order: Number(order), preference: Number(preference), flags, service, regexp, replacement };
}

/**
 * The result of an ORS NAPTR regexp `!^.*$!VALUE!` (RFC 3402 section 3.2: the first character is
 * the delimiter, `\` escapes the delimiter and itself in the replacement); undefined otherwise.
 */
export function naptrRegexpValue(regexp: string): string | undefined {
  if (!regexp.startsWith('!^.*$!') || !regexp.endsWith('!')) return undefined;
  const body = regexp.slice('!^.*$!'.length, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') out += body[++i] ?? '';
    else if (body[i] === '!') return undefined; // an unescaped delimiter inside the replacement
    else out += body[i];
  }
  return out;
}

// ---------------------------------------------------------------- Knot

export interface KnotZone {
  readonly domain: string;
  /** Remote id of the primary to transfer from (declared in `remotes`). */
  readonly master?: string;
  /** Zone file (absolute) for a primary. */
  readonly file?: string;
  readonly acl?: readonly string[];
}

export interface KnotConfigOptions {
  readonly dir: string;
  readonly port: number;
  readonly remotes?: readonly { id: string; address: string }[];
  readonly acls?: readonly { id: string; address: string; actions: readonly string[] }[];
  readonly zones: readonly KnotZone[];
}

/**
 * A knotd 3.2 configuration (knot.conf(5)): sections in the order Knot requires, `remote` and
 * `acl` before the `zone` that names them; everything under `dir`; all logging to stderr at info.
 */
export function knotConfig(o: KnotConfigOptions): string {
  const lines = [
    'server:',
    `    listen: 127.0.0.1@${o.port}`,
    `    rundir: "${join(o.dir, 'run')}"`,
    '',
    'log:',
    '  - target: stderr',
    '    any: info',
    '',
    'database:',
    `    storage: "${join(o.dir, 'storage')}"`,
    '',
  ];
  if (o.remotes?.length) {
    lines.push('remote:');
    for (const r of o.remotes) lines.push(`  - id: ${r.id}`, `    address: ${r.address}`);
    lines.push('');
  }
  if (o.acls?.length) {
    lines.push('acl:');
    for (const a of o.acls) lines.push(`  - id: ${a.id}`, `    address: ${a.address}`, `    action: [${a.actions.join(', ')}]`);
    lines.push('');
  }
  lines.push('zone:');
  for (const z of o.zones) {
    lines.push(`  - domain: ${z.domain}`, `    storage: "${join(o.dir, 'storage')}"`);
    if (z.master) lines.push(`    master: ${z.master}`);
    if (z.file) lines.push(`    file: "${z.file}"`);
    if (z.acl?.length) lines.push(`    acl: [${z.acl.join(', ')}]`);
    if (z.master) {
      // A secondary keeps the zone in memory and its journal only: no zone file written.
      lines.push('    zonefile-sync: -1', '    zonefile-load: none', '    journal-content: changes');
    } else {
      lines.push('    zonefile-sync: -1', '    journal-content: none', '    semantic-checks: on');
    }
  }
  lines.push('');
  return lines.join('\n');
}

export interface Knot {
  readonly dir: string;
  readonly conf: string;
  readonly config: string;
  readonly port: number;
  readonly pid: number;
  /** Everything knotd has written so far (stderr and stdout). */
  log(): string;
  /** `knotc -c CONF ARGS` */
  knotc(args: readonly string[]): Promise<ToolResult>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the directory. */
  stop(graceMs?: number): Promise<void>;
}

/** Writes `config(dir)` into a new temporary directory, starts `knotd -c` on it and waits until it answers on UDP. */
export async function startKnot(port: number, config: (dir: string) => string, readyTimeoutMs = 5_000): Promise<Knot> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-knot-'));
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'storage'));
  const text = config(dir);
  const conf = join(dir, 'knot.conf');
  writeFileSync(conf, text);
  const child = spawn('knotd', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (log += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (log += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  let stopping: Promise<void> | undefined;
  const knot: Knot = {
    dir,
    conf,
    config: text,
    port,
    pid: child.pid ?? -1,
    log: () => log,
    knotc: (args) => runTool('knotc', ['-c', conf, ...args]),
    stop(graceMs = 3_000) {
      return (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          process.kill(child.pid, 'SIGTERM');
          const timer = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
          }, graceMs);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })());
    },
  };
  try {
    const probe = encodeQuery(['id', 'server'], { type: 16, qclass: 3 });
    await waitFor(
      'knotd to answer',
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`knotd exited:\n${log}`);
        return (await udpAnswers(port, probe)) ? true : undefined;
      },
      readyTimeoutMs,
      50,
    );
  } catch (e) {
    await knot.stop();
    throw new Error(`${(e as Error).message}\n--- knotd log ---\n${log}\n--- knot.conf ---\n${text}`);
  }
  return knot;
}

/** The SOA serial `port` serves for `zone` (kdig), or undefined when it has none yet. */
export async function soaSerial(port: number, zone: string): Promise<number | undefined> {
  const out = await kdig(port, [zone, 'SOA']);
  const soa = out.answer.find((rr) => rr.type === 'SOA');
  return soa ? Number(soa.rdata[2]) : undefined;
}
