/**
 * ORS NAPTR over UDP (issue 4, "Performance"): Cairn's DNS responder against Knot DNS serving the
 * same zone, both loaded with dnsperf in the same run; budget: Cairn >= 0.5x Knot's queries/s.
 *
 *   1. A fresh data directory gets `arcs` OID arcs under 1.3.6.1.4.1.32473 (the documentation PEN of
 *      RFC 5612), registered in-process through the service's `oids.put` as the admin (no server
 *      running): the PEN arc, groups `.g` (ASN.1 id `group<g>`) of up to 99 items `.g.i`, every
 *      fifth item with the ASN.1 id `sensor<i>`.
 *   2. `cairn zone export FILE` writes the zone; knotd loads that file (knot.ts).
 *   3. `cairn serve` (CAIRN_LOG_LEVEL=warn, CAIRN_DNS_PORT) and knotd run pinned to the work core,
 *      dnsperf to the load core. The answers of both servers to a sample of the query file are
 *      compared with dig before measuring.
 *   4. A warm-up per server, then `rounds` runs of `duration` seconds per server, the order
 *      alternating; the figure is the median queries/s.
 *
 * The section is skipped, with a message, when knotd or dnsperf is not installed.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/families/doa/authorize.js';
import { ADMIN_INDEX, startService } from '../../src/service/bootstrap.js';
import { knotdVersion, pinAllThreads, startKnot, threadAffinities } from './knot.js';
import { cleanEnv, coreBusy, cpuTimes, freePort, processCpuSeconds, run, runChecked, sleep, spawnTracked, stop } from './procs.js';
import { splicePhase } from './report-splice.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const NODE = process.execPath;

export const ORS_BUDGET = 0.5;
const DOMAIN = 'oid-res.org';
const PEN = '1.3.6.1.4.1.32473';
/** The PEN arc's ORS name: 32473.1.4.1.6.3.1.oid-res.org. */
const PEN_NAME = `${PEN.split('.').reverse().join('.')}.${DOMAIN}`;
const PUBLIC_URL = 'https://ors.example.org';
const ADMIN_SECRET = 'bench-admin-secret-0123';
const GROUP_SIZE = 99;
/** A run whose server core was more than this share busy with other processes is "disturbed". */
const DISTURBED_PCT = 10;
const SAMPLE = 240;

export interface OrsOptions {
  readonly quick: boolean;
  /** Registered arcs (the PEN arc, groups and items). */
  readonly arcs: number;
  readonly duration: number;
  readonly warmup: number;
  readonly rounds: number;
  /** dnsperf -c: client sockets. */
  readonly clients: number;
  /** dnsperf -q: queries outstanding at most. */
  readonly outstanding: number;
}

type Target = 'cairn' | 'knot';

export interface DnsperfResult {
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly seconds: number;
  readonly qps: number;
  readonly avgLatencyMs: number;
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly stddevLatencyMs: number;
  readonly rcodes: Record<string, number>;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

interface OrsRun extends DnsperfResult {
  readonly round: number;
  readonly target: Target;
  readonly serverCpuPct: number | undefined;
  readonly cpuUsPerQuery: number | undefined;
  readonly workCorePct: number | undefined;
  readonly loadCorePct: number | undefined;
  /** Share of the server's core spent in interrupts and softirq (the kernel's network work). */
  readonly workCoreSoftirqPct: number | undefined;
  /** Share of the server's core busy with neither the server process nor interrupts: other work. */
  readonly workCoreOtherPct: number | undefined;
  /** The 1-minute load average before the run: other work on the machine shows here. */
  readonly loadAverage: number | undefined;
  /** Other work took more than DISTURBED_PCT of the server's core: left out of the medians. */
  readonly disturbed: boolean;
}

interface QueryMix {
  readonly lines: number;
  /** Distinct questions among the lines. */
  readonly distinct: number;
  readonly existing: number;
  readonly nxdomain: number;
  readonly dname: number;
}

export interface OrsSkipped {
  readonly skipped: string;
}

export interface OrsMeasured {
  readonly skipped?: undefined;
  readonly date: string;
  readonly knotd: string;
  readonly dnsperf: string;
  readonly dnsperfSettings: string;
  readonly workCpu: number | undefined;
  readonly loadCpu: number | undefined;
  readonly arcs: number;
  readonly zone: { readonly records: number; readonly serial: number; readonly bytes: number };
  readonly prepareSeconds: number;
  readonly mix: QueryMix;
  /** One pass over the query file per server before the warm-up: Cairn's answer cache starts empty. */
  readonly firstPass: Record<Target, DnsperfResult>;
  /** Queries each server answered in its timed warm-up. */
  readonly warmupCompleted: Record<Target, number>;
  readonly agreement: { readonly compared: number; readonly identical: number; readonly differences: readonly string[] } | { readonly skipped: string };
  readonly knotThreads: { readonly atStart: Record<string, string>; readonly pinned: Record<string, string>; readonly atEnd: Record<string, string> };
  readonly runs: readonly OrsRun[];
  readonly median: Record<Target, number>;
  readonly medianCpuUs: Record<Target, number> | undefined;
  /** Runs the medians are taken over, per server (the undisturbed ones when each server has some). */
  readonly counted: Record<Target, number>;
  readonly ratio: number;
  readonly paired: readonly number[];
  readonly lost: Record<Target, number>;
  readonly sent: Record<Target, number>;
  readonly avgLatencyMs: Record<Target, number>;
  readonly maxLatencyMs: Record<Target, number>;
}

export type OrsResults = OrsSkipped | OrsMeasured;

// -------------------------------------------------------------------------------------------------
// Data

/** The arcs registered, in registration order (parents first). */
function arcList(count: number): { oid: string; body: Record<string, unknown> }[] {
  const out: { oid: string; body: Record<string, unknown> }[] = [{ oid: PEN, body: { description: 'Cairn benchmark arc', asn1Ids: ['cairnBench'] } }];
  for (let g = 1; out.length < count; g++) {
    out.push({ oid: `${PEN}.${g}`, body: { description: `Benchmark group ${g}`, asn1Ids: [`group${g}`] } });
    for (let i = 1; i <= GROUP_SIZE && out.length < count; i++) {
      out.push({
        oid: `${PEN}.${g}.${i}`,
        body: i % 5 === 0 ? { description: `Sensor ${g}.${i}`, asn1Ids: [`sensor${i}`] } : { description: `Item ${g}.${i}` },
      });
    }
  }
  return out;
}

const orsEnv = (dataDir: string, certsDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  cleanEnv({ CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certsDir, CAIRN_ADMIN_SECRET: ADMIN_SECRET, CAIRN_PUBLIC_URL: PUBLIC_URL, ...extra });

/** Registers the arcs in-process (no server: the store is ours), writes unsynced for speed. */
async function populate(dataDir: string, certsDir: string, count: number): Promise<void> {
  const service = await startService(loadConfig(orsEnv(dataDir, certsDir, { CAIRN_SYNC_WRITES: 'false' })));
  try {
    const admin: Principal = { identity: { index: ADMIN_INDEX, handle: `0.NA/${service.config.prefix}` }, serverAdmin: true };
    for (const { oid, body } of arcList(count)) await service.oids.put(oid, body, admin);
  } finally {
    await service.close();
  }
}

/**
 * dnsperf's input: 80% NAPTR of registered arcs (uniform over all of them), 10% names with
 * nothing at or beneath them (NXDOMAIN: unregistered item numbers and unknown labels), 10% names
 * through ASN.1-id labels (DNAME owners, and names beneath them that the DNAME rewrites).
 */
function queryFile(file: string, count: number): QueryMix {
  const arcs = arcList(count);
  const groups = arcs.filter((a) => a.oid.split('.').length === 8).length;
  const name = (oid: string): string => `${oid.split('.').reverse().join('.')}.${DOMAIN}`;
  const random = prng(0x0c41f);
  const pick = (n: number): number => 1 + Math.floor(random() * n);
  const lines = Math.max(20_000, 2 * count);
  const out: string[] = [];
  const mix = { existing: 0, nxdomain: 0, dname: 0 };
  for (let k = 0; k < lines; k++) {
    const x = random();
    const g = pick(Math.max(1, groups));
    if (x < 0.8) {
      out.push(`${name(arcs[Math.floor(random() * arcs.length)]!.oid)} NAPTR`);
      mix.existing++;
    } else if (x < 0.9) {
      out.push(x < 0.85 ? `${GROUP_SIZE + pick(900)}.${g}.${PEN_NAME} NAPTR` : `nosuch${pick(1000)}.${g}.${PEN_NAME} NAPTR`);
      mix.nxdomain++;
    } else {
      const which = Math.floor(random() * 3);
      const i = pick(Math.min(GROUP_SIZE, Math.max(5, count - 2)));
      const sensor = 5 * Math.max(1, Math.floor(i / 5));
      out.push(which === 0 ? `group${g}.${PEN_NAME} NAPTR` : which === 1 ? `${i}.group${g}.${PEN_NAME} NAPTR` : `sensor${sensor}.group${g}.${PEN_NAME} NAPTR`);
      mix.dname++;
    }
  }
  writeFileSync(file, `${out.join('\n')}\n`);
  return { lines, distinct: new Set(out).size, ...mix };
}

// -------------------------------------------------------------------------------------------------
// DNS helpers

/** A minimal SOA query for the apex; resolves to the response's RCODE and AA bit, or undefined on timeout. */
function soaProbe(port: number, timeoutMs = 500): Promise<{ rcode: number; aa: boolean; answers: number } | undefined> {
  const labels = DOMAIN.split('.');
  const q = Buffer.alloc(12 + labels.reduce((n, l) => n + 1 + l.length, 0) + 1 + 4);
  const id = Math.floor(Math.random() * 65536);
  q.writeUInt16BE(id, 0);
  q.writeUInt16BE(1, 4); // QDCOUNT
  let at = 12;
  for (const l of labels) {
    q[at++] = l.length;
    at += q.write(l, at, 'ascii');
  }
  q[at++] = 0;
  q.writeUInt16BE(6, at); // SOA
  q.writeUInt16BE(1, at + 2); // IN
  return new Promise((done) => {
    const socket = createSocket('udp4');
    const finish = (v: { rcode: number; aa: boolean; answers: number } | undefined): void => {
      clearTimeout(timer);
      socket.close();
      done(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', () => finish(undefined));
    socket.on('message', (m) => {
      if (m.length < 12 || m.readUInt16BE(0) !== id) return;
      finish({ rcode: m[3]! & 0x0f, aa: (m[2]! & 0x04) !== 0, answers: m.readUInt16BE(6) });
    });
    socket.send(q, port, '127.0.0.1');
  });
}

async function waitZone(child: ChildProcess, port: number, describe: () => string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before serving the zone:\n${describe()}`);
    const r = await soaProbe(port);
    if (r && r.rcode === 0 && r.aa && r.answers === 1) return;
    await sleep(100);
  }
  throw new Error(`no authoritative SOA answer on 127.0.0.1:${port} within ${timeoutMs} ms:\n${describe()}`);
}

const tail = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8').slice(-2000) : '');

function assertAlive(name: string, child: ChildProcess, logFile: string): void {
  if (child.exitCode === null && child.signalCode === null) return;
  throw new Error(`${name} (pid ${child.pid}) is no longer running: exit code ${child.exitCode}, signal ${child.signalCode}. End of its output:\n${tail(logFile)}`);
}

/** Each answer of `dig -f` as "STATUS\n<records, sorted>", comments and OPT left out. */
function digAnswers(port: number, file: string): Promise<string[]> {
  return runChecked('dig', [`@127.0.0.1`, '-p', String(port), '-f', file, '+norec', '+noall', '+comments', '+answer', '+authority', '+nocookie', '+tries=3', '+time=5'], {
    timeoutMs: 120_000,
  }).then((r) =>
    r.stdout
      .split(';; ->>HEADER<<-')
      .slice(1)
      .map((block) => {
        const status = /status: (\w+)/.exec(block)?.[1] ?? '?';
        const flags = /flags: ([^;]*);/.exec(block)?.[1]?.trim() ?? '?';
        const records = block
          .split('\n')
          .slice(1)
          .map((l) => l.trim().replace(/\s+/g, ' '))
          .filter((l) => l !== '' && !l.startsWith(';'))
          .map((l) => l.replace(/^\S+/, (owner) => owner.toLowerCase()))
          .sort();
        return [`${status} (${flags})`, ...records].join('\n');
      }),
  );
}

async function compareAnswers(dir: string, queries: string, cairnPort: number, knotPort: number): Promise<OrsMeasured['agreement']> {
  if (spawnSync('dig', ['-v'], { stdio: 'ignore' }).error) return { skipped: 'dig is not installed' };
  const all = readFileSync(queries, 'utf8').trim().split('\n');
  const sample = [`${DOMAIN} SOA`, `${DOMAIN} NS`, ...Array.from({ length: SAMPLE }, (_, k) => all[Math.floor((k * all.length) / SAMPLE)]!)];
  const file = join(dir, 'sample.txt');
  writeFileSync(file, `${sample.join('\n')}\n`);
  const [cairn, knot] = [await digAnswers(cairnPort, file), await digAnswers(knotPort, file)];
  if (cairn.length !== sample.length || knot.length !== sample.length) {
    throw new Error(`dig answered ${cairn.length} (Cairn) and ${knot.length} (Knot) of ${sample.length} sample queries`);
  }
  const differences: string[] = [];
  for (let k = 0; k < sample.length; k++) {
    if (cairn[k] !== knot[k]) differences.push(`${sample[k]}\n  Cairn: ${cairn[k]!.replace(/\n/g, '\n         ')}\n  Knot:  ${knot[k]!.replace(/\n/g, '\n         ')}`);
  }
  return { compared: sample.length, identical: sample.length - differences.length, differences: differences.slice(0, 5) };
}

// -------------------------------------------------------------------------------------------------
// dnsperf

/** dnsperf's version, or undefined when it is not installed. */
export function dnsperfVersion(): string | undefined {
  const r = spawnSync('dnsperf', ['-h'], { encoding: 'utf8' });
  if (r.error) return undefined;
  return /Version\s+(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

/** dnsperf's arguments: `seconds` long, or one pass over the file when `seconds` is 0. */
const dnsperfArgs = (port: string, file: string, seconds: number, o: OrsOptions): string[] => [
  '-s', '127.0.0.1', '-p', port, '-d', file, ...(seconds > 0 ? ['-l', String(seconds)] : ['-n', '1']), '-c', String(o.clients), '-q', String(o.outstanding), '-T', '1', '-e',
];

export function parseDnsperf(out: string): DnsperfResult {
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`unexpected dnsperf output (no ${re.source}):\n${out}`);
    return Number(m[1]);
  };
  const latency = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  const sizes = /Average packet size:\s+request (\d+), response (\d+)/.exec(out);
  if (!latency || !sizes) throw new Error(`unexpected dnsperf output:\n${out}`);
  const rcodes: Record<string, number> = {};
  for (const m of (/Response codes:\s+(.*)/.exec(out)?.[1] ?? '').matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    seconds: num(/Run time \(s\):\s+([\d.]+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: Number(latency[1]) * 1000,
    minLatencyMs: Number(latency[2]) * 1000,
    maxLatencyMs: Number(latency[3]) * 1000,
    stddevLatencyMs: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
    rcodes,
    requestBytes: Number(sizes[1]),
    responseBytes: Number(sizes[2]),
  };
}

async function dnsperf(port: number, file: string, seconds: number, o: OrsOptions, cpu: number | undefined): Promise<DnsperfResult> {
  const r = await run('dnsperf', dnsperfArgs(String(port), file, seconds, o), { cpu, timeoutMs: (seconds > 0 ? seconds + 30 : 300) * 1000 });
  if (r.code !== 0) throw new Error(`dnsperf exited ${r.code ?? r.signal}:\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
  return parseDnsperf(r.stdout);
}

// -------------------------------------------------------------------------------------------------
// The phase

/** irq + softirq jiffies of one CPU from /proc/stat. */
function irqJiffies(cpu: number | undefined): number | undefined {
  if (cpu === undefined) return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    const v = line?.trim().split(/\s+/).slice(1).map(Number);
    return v && v.length >= 7 ? v[5]! + v[6]! : undefined;
  } catch {
    return undefined;
  }
}

function loadAverage1(): number | undefined {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function orsPhase(tmp: string, cpus: { work: number | undefined; load: number | undefined }, o: OrsOptions, log: (s: string) => void): Promise<OrsResults> {
  const knotd = knotdVersion();
  const perf = dnsperfVersion();
  const missing = [knotd === undefined ? 'knotd (apt-get install knot)' : '', perf === undefined ? 'dnsperf (apt-get install dnsperf)' : ''].filter((x) => x !== '');
  if (missing.length > 0) {
    const skipped = `${missing.join(' and ')} not installed`;
    log(`ors: skipped, ${skipped}: the ORS NAPTR over UDP section says so and has no figures`);
    return { skipped };
  }
  const dir = join(tmp, 'ors');
  const data = join(dir, 'data');
  const certs = join(dir, 'certs');
  const zoneFile = join(dir, `${DOMAIN}.zone`);
  const queries = join(dir, 'queries.txt');
  mkdirSync(dir, { recursive: true });

  log(`ors: registering ${o.arcs} OID arcs under ${PEN} in a fresh data directory`);
  const t0 = process.hrtime.bigint();
  await populate(data, certs, o.arcs);
  const prepareSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const exported = await runChecked(NODE, [CLI, 'zone', 'export', zoneFile], { env: orsEnv(data, certs), timeoutMs: 300_000 });
  const zone = JSON.parse(exported.stdout.trim().split('\n').at(-1) ?? '') as { records: number; serial: number };
  const zoneBytes = readFileSync(zoneFile).length;
  const mix = queryFile(queries, o.arcs);
  log(`ors: ${o.arcs} arcs in ${prepareSeconds.toFixed(1)} s; zone exported: ${zone.records} records, serial ${zone.serial}; ${mix.lines} queries`);

  const children: ChildProcess[] = [];
  try {
    const knotPort = await freePort();
    const knot = startKnot(join(dir, 'knot'), knotPort, DOMAIN, zoneFile, cpus.work);
    children.push(knot.child);
    await waitZone(knot.child, knotPort, () => tail(knot.logFile));
    const atStart = threadAffinities(knot.child.pid);
    if (cpus.work !== undefined && knot.child.pid !== undefined) await pinAllThreads(knot.child.pid, cpus.work);
    const pinned = threadAffinities(knot.child.pid);

    const cairnPort = await freePort();
    const cairnLog = join(dir, 'cairn.log');
    const fd = openSync(cairnLog, 'a');
    let cairn: ChildProcess;
    try {
      const env = orsEnv(data, certs, { CAIRN_LOG_LEVEL: 'warn', CAIRN_DNS_PORT: String(cairnPort), CAIRN_HTTP_PORT: String(await freePort()) });
      cairn = spawnTracked(NODE, [CLI, 'serve'], { cpu: cpus.work, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    children.push(cairn);
    await waitZone(cairn, cairnPort, () => tail(cairnLog));
    log(`ors: knotd ${knotd} on 127.0.0.1:${knotPort} (pid ${knot.child.pid}), Cairn on 127.0.0.1:${cairnPort} (pid ${cairn.pid})`);

    const agreement = await compareAnswers(dir, queries, cairnPort, knotPort);
    if ('skipped' in agreement) log(`ors: answers not compared: ${agreement.skipped}`);
    else {
      log(`ors: dig sample: ${agreement.identical}/${agreement.compared} answers identical (status, flags, answer and authority sections)`);
      for (const d of agreement.differences) log(`ors: differs: ${d}`);
    }

    const servers: Record<Target, { child: ChildProcess; port: number; logFile: string; name: string }> = {
      knot: { child: knot.child, port: knotPort, logFile: knot.logFile, name: 'knotd' },
      cairn: { child: cairn, port: cairnPort, logFile: cairnLog, name: 'Cairn' },
    };
    const order: Target[] = ['knot', 'cairn'];
    const firstPass = {} as Record<Target, DnsperfResult>;
    for (const t of order) {
      firstPass[t] = await dnsperf(servers[t].port, queries, 0, o, cpus.load);
      log(`ors: first pass over the ${mix.lines} queries, ${t}: ${firstPass[t].qps.toFixed(0)} q/s, ${firstPass[t].lost} lost`);
    }
    const warmupCompleted: Record<Target, number> = { knot: 0, cairn: 0 };
    for (const t of order) {
      if (o.warmup <= 0) break;
      const w = await dnsperf(servers[t].port, queries, o.warmup, o, cpus.load);
      warmupCompleted[t] = w.completed;
      log(`ors: warm-up ${t} ${o.warmup} s: ${w.qps.toFixed(0)} q/s`);
    }
    const runs: OrsRun[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const t of round % 2 === 1 ? order : [...order].reverse()) {
        const s = servers[t];
        assertAlive(s.name, s.child, s.logFile);
        const loadAverage = loadAverage1();
        const irqBefore = irqJiffies(cpus.work);
        const cpuBefore = cpuTimes();
        const procBefore = processCpuSeconds(s.child.pid);
        const started = process.hrtime.bigint();
        const r = await dnsperf(s.port, queries, o.duration, o, cpus.load);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        const procAfter = processCpuSeconds(s.child.pid);
        const cpuAfter = cpuTimes();
        const irqAfter = irqJiffies(cpus.work);
        assertAlive(s.name, s.child, s.logFile);
        const used = procBefore !== undefined && procAfter !== undefined ? procAfter - procBefore : undefined;
        const workTotal = cpus.work === undefined ? undefined : (cpuAfter.get(cpus.work)?.total ?? 0) - (cpuBefore.get(cpus.work)?.total ?? 0);
        const softirqPct = irqBefore !== undefined && irqAfter !== undefined && workTotal ? (100 * (irqAfter - irqBefore)) / workTotal : undefined;
        const workBusy = coreBusy(cpuBefore, cpuAfter, cpus.work);
        const otherPct = workBusy !== undefined && softirqPct !== undefined && used !== undefined ? Math.max(0, workBusy - softirqPct - (100 * used) / elapsed) : undefined;
        const disturbed = otherPct !== undefined && otherPct > DISTURBED_PCT;
        runs.push({
          ...r,
          round,
          target: t,
          serverCpuPct: used === undefined ? undefined : (100 * used) / elapsed,
          cpuUsPerQuery: used === undefined || r.completed === 0 ? undefined : (used * 1e6) / r.completed,
          workCorePct: workBusy,
          loadCorePct: coreBusy(cpuBefore, cpuAfter, cpus.load),
          workCoreSoftirqPct: softirqPct,
          workCoreOtherPct: otherPct,
          loadAverage,
          disturbed,
        });
        if (r.completed === 0) throw new Error(`ors: ${t} answered no queries`);
        log(
          `ors: round ${round} ${t.padEnd(5)} ${r.qps.toFixed(0).padStart(7)} q/s  lost ${r.lost}  latency avg ${r.avgLatencyMs.toFixed(3)} ms max ${r.maxLatencyMs.toFixed(3)} ms` +
            (disturbed ? `  (disturbed: ${otherPct!.toFixed(0)}% of CPU ${cpus.work} went to other processes)` : ''),
        );
        if (r.lost > 0) log(`ors: warning: ${r.lost} of ${r.sent} queries to ${t} lost (dnsperf -c ${o.clients} -q ${o.outstanding})`);
      }
    }
    const atEnd = threadAffinities(knot.child.pid);
    // The medians leave out disturbed runs, as long as each server has an undisturbed one.
    const clean = (['cairn', 'knot'] as const).every((t) => runs.some((r) => r.target === t && !r.disturbed));
    const of = (t: Target): OrsRun[] => runs.filter((r) => r.target === t && (!clean || !r.disturbed));
    const m = { cairn: median(of('cairn').map((r) => r.qps)), knot: median(of('knot').map((r) => r.qps)) };
    const cpuMed = (t: Target): number | undefined => {
      const xs = of(t).map((r) => r.cpuUsPerQuery);
      return xs.every((x) => x !== undefined) ? median(xs as number[]) : undefined;
    };
    const cc = cpuMed('cairn');
    const ck = cpuMed('knot');
    const sum = (t: Target, f: (r: OrsRun) => number): number => runs.filter((r) => r.target === t).reduce((n, r) => n + f(r), 0);
    return {
      date: new Date().toISOString(),
      knotd: knotd!,
      dnsperf: perf!,
      dnsperfSettings: `dnsperf ${dnsperfArgs('PORT', 'queries.txt', o.duration, o).join(' ')}`,
      workCpu: cpus.work,
      loadCpu: cpus.load,
      arcs: o.arcs,
      zone: { ...zone, bytes: zoneBytes },
      prepareSeconds,
      mix,
      firstPass,
      warmupCompleted,
      agreement,
      knotThreads: { atStart, pinned, atEnd },
      runs,
      median: m,
      medianCpuUs: cc !== undefined && ck !== undefined ? { cairn: cc, knot: ck } : undefined,
      counted: { cairn: of('cairn').length, knot: of('knot').length },
      ratio: m.cairn / m.knot,
      paired: Array.from({ length: o.rounds }, (_, i) => runs.find((r) => r.round === i + 1 && r.target === 'cairn')!.qps / runs.find((r) => r.round === i + 1 && r.target === 'knot')!.qps),
      lost: { cairn: sum('cairn', (r) => r.lost), knot: sum('knot', (r) => r.lost) },
      sent: { cairn: sum('cairn', (r) => r.sent), knot: sum('knot', (r) => r.sent) },
      avgLatencyMs: { cairn: median(of('cairn').map((r) => r.avgLatencyMs)), knot: median(of('knot').map((r) => r.avgLatencyMs)) },
      maxLatencyMs: { cairn: Math.max(...of('cairn').map((r) => r.maxLatencyMs)), knot: Math.max(...of('knot').map((r) => r.maxLatencyMs)) },
    };
  } finally {
    await Promise.all(children.map((c) => stop(c)));
  }
}

// -------------------------------------------------------------------------------------------------
// Report

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtRatio = (n: number): string => `${n.toFixed(2)}x`;
const fmtPct = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(0)}%`);
const fmtMs = (n: number): string => `${n.toFixed(3)} ms`;
const met = (ratio: number): string => (ratio >= ORS_BUDGET ? 'yes' : '**NO**');

export const ORS_SECTION = '## (c) ORS NAPTR over UDP';
const ROW_LABEL = 'ORS NAPTR queries over UDP (dnsperf)';

/** The row of the report's summary table. */
export function orsSummaryRow(r: OrsResults): string {
  if (r.skipped !== undefined) return `| ${ROW_LABEL} | skipped: ${r.skipped} | Knot DNS | | >= ${ORS_BUDGET}x | n/a |`;
  return `| ${ROW_LABEL} | ${fmtInt(r.median.cairn)} queries/s | ${fmtInt(r.median.knot)} queries/s (Knot DNS ${r.knotd}, 1 UDP worker) | ${fmtRatio(r.ratio)} | >= ${ORS_BUDGET}x | ${met(r.ratio)} |`;
}

/** The report's section, from its `## ` heading to the blank line that ends it. */
export function orsSection(r: OrsResults, o: OrsOptions, partialRun: string | undefined): string[] {
  const L: string[] = [ORS_SECTION, ''];
  if (r.skipped !== undefined) {
    L.push(`Not measured in this run: ${r.skipped}. The measurement needs knotd (Knot DNS) and dnsperf on the PATH.`, '');
    return L;
  }
  if (partialRun) L.push(`> Measured on its own by \`${partialRun}\` on ${r.date}; the other sections come from the last full run.`, '');
  const pin =
    r.workCpu !== undefined
      ? `both servers on CPU ${r.workCpu}, dnsperf on CPU ${r.loadCpu} (\`taskset -c\`; knotd pins its UDP worker itself, so all its threads were pinned again with \`taskset -a -c -p ${r.workCpu}\` once it was up)`
      : 'not pinned';
  const threads = (t: Record<string, string>): string => Object.entries(t).map(([tid, cpusAllowed]) => `${tid}:${cpusAllowed}`).join(' ');
  L.push(
    `- Zone: ${fmtInt(r.arcs)} OID arcs registered under ${PEN} (RFC 5612's documentation PEN): the PEN arc (ASN.1 id \`cairnBench\`), groups`,
    `  \`${PEN}.g\` (ASN.1 id \`group<g>\`) of ${GROUP_SIZE} items \`.g.i\`, every fifth item with the ASN.1 id \`sensor<i>\`; registered through the`,
    '  service\'s `oids.put` as the admin, in-process, before any server starts. Each arc has 4 NAPTR records (ORS+COID, UINF, CINF,',
    '  RINF), each ASN.1 id a DNAME to the numeric name plus copies of the NAPTRs. `CAIRN_PUBLIC_URL` is fixed so that both servers',
    `  publish the same URIs. \`cairn zone export\` wrote ${fmtInt(r.zone.records)} records (${(r.zone.bytes / 1024 ** 2).toFixed(1)} MiB, serial ${r.zone.serial}).`,
    `- Cairn: \`node dist/src/cli/main.js serve\` on that data directory, CAIRN_LOG_LEVEL=warn, CAIRN_DNS_PORT on 127.0.0.1 (UDP and TCP).`,
    `- Knot DNS ${r.knotd}: \`knotd -c knot.conf\` (tests/bench/knot.ts): \`listen: 127.0.0.1@PORT\`, \`udp-workers: 1\`, \`tcp-workers: 1\`,`,
    '  `background-workers: 1`, one zone whose `file:` is the exported zone, `storage`/`rundir` in the run\'s temporary folder.',
    `- Queries: ${fmtInt(r.mix.lines)} lines (${fmtInt(r.mix.distinct)} distinct), generated with a fixed seed: ${fmtInt(r.mix.existing)} NAPTR of registered arcs (uniform), ${fmtInt(r.mix.nxdomain)} names`,
    `  with nothing at or beneath them (NXDOMAIN: unregistered item numbers, unknown labels), ${fmtInt(r.mix.dname)} names through ASN.1-id labels`,
    '  (`group<g>.…`, a DNAME owner; `<i>.group<g>.…` and `sensor<i>.group<g>.…`, rewritten by the DNAME). dnsperf cycles through the',
    '  file; after the first pass Cairn answers every query from its answer cache.',
    `- Load: dnsperf ${r.dnsperf}: \`${r.dnsperfSettings}\` (one thread, ${o.clients} client sockets, at most ${o.outstanding} queries`,
    '  outstanding, EDNS0 on), over loopback.',
    `- Procedure: per server one pass over the query file (\`-n 1\` instead of \`-l\`), then ${o.warmup} s of warm-up; then ${o.rounds} round(s) of ${o.duration} s`,
    '  per server, the order alternating; both servers stay up for the whole phase (the idle one uses no CPU). The figure is the median',
    '  queries/s; the ratio is median(Cairn) / median(Knot). A run in which other processes took more than',
    `  ${DISTURBED_PCT}% of the server's core ("other work" below) is marked disturbed and left out of the medians and latencies, as long as`,
    `  each server keeps an undisturbed run: this run counted ${r.counted.knot} of ${o.rounds} (Knot) and ${r.counted.cairn} of ${o.rounds} (Cairn). Lost queries are summed over all runs.`,
    `- First pass (not budgeted; Cairn's answer cache is empty, so each distinct question goes through the OID store once): Knot`,
    `  ${fmtInt(r.firstPass.knot.qps)} queries/s, Cairn ${fmtInt(r.firstPass.cairn.qps)} queries/s (${fmtRatio(r.firstPass.cairn.qps / r.firstPass.knot.qps)}); lost ${fmtInt(r.firstPass.knot.lost)} and ${fmtInt(r.firstPass.cairn.lost)}.`,
    `- CPU pinning: ${pin}. knotd threads (tid:CPUs) at start ${threads(r.knotThreads.atStart)}; after pinning ${threads(r.knotThreads.pinned)};`,
    `  at the end ${threads(r.knotThreads.atEnd)}.`,
  );
  if ('skipped' in r.agreement) L.push(`- Same answers: not checked (${r.agreement.skipped}).`);
  else {
    L.push(
      `- Same answers: before measuring, \`dig -f\` sent the apex SOA and NS and ${r.agreement.compared - 2} queries spread over the query file to both`,
      `  servers; ${r.agreement.identical} of ${r.agreement.compared} answers were identical (RCODE, flags, answer and authority sections, records sorted).`,
    );
    if (r.agreement.differences.length > 0) {
      L.push('', '  First differences:', '', '```', ...r.agreement.differences, '```');
    }
  }
  L.push('');
  L.push(
    '| round | server | queries/s | sent | lost | avg latency | min | max | stddev | response codes | response bytes | server process CPU | server CPU µs/query | server core busy | of which irq+softirq / other work | dnsperf core busy | load avg before |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  const names: Record<Target, string> = { cairn: 'Cairn', knot: 'Knot DNS' };
  for (const x of r.runs) {
    const codes = Object.entries(x.rcodes).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ');
    L.push(
      `| ${x.round} | ${names[x.target]}${x.disturbed ? ' (disturbed)' : ''} | ${fmtInt(x.qps)} | ${fmtInt(x.sent)} | ${fmtInt(x.lost)} | ${fmtMs(x.avgLatencyMs)} | ${fmtMs(x.minLatencyMs)} | ${fmtMs(x.maxLatencyMs)} | ${fmtMs(x.stddevLatencyMs)} | ${codes} | ${x.responseBytes} | ${fmtPct(x.serverCpuPct)} | ${x.cpuUsPerQuery === undefined ? 'n/a' : x.cpuUsPerQuery.toFixed(1)} | ${fmtPct(x.workCorePct)} | ${fmtPct(x.workCoreSoftirqPct)} / ${fmtPct(x.workCoreOtherPct)} | ${fmtPct(x.loadCorePct)} | ${x.loadAverage === undefined ? 'n/a' : x.loadAverage.toFixed(2)} |`,
    );
  }
  L.push('');
  const cpu = r.medianCpuUs;
  L.push(
    '| server | median queries/s | ratio to Knot (budget >= 0.5x) | per-round ratios (all rounds) | lost / sent | median avg latency | max latency | median server CPU µs/query | CPU-efficiency ratio (Knot µs / Cairn µs) |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|',
  );
  L.push(
    `| Knot DNS ${r.knotd} | ${fmtInt(r.median.knot)} | 1.00x | | ${fmtInt(r.lost.knot)} / ${fmtInt(r.sent.knot)} | ${fmtMs(r.avgLatencyMs.knot)} | ${fmtMs(r.maxLatencyMs.knot)} | ${cpu ? cpu.knot.toFixed(1) : 'n/a'} | 1.00x |`,
  );
  L.push(
    `| Cairn | ${fmtInt(r.median.cairn)} | ${fmtRatio(r.ratio)} (${met(r.ratio) === 'yes' ? 'met' : 'not met'}) | ${r.paired.map(fmtRatio).join(', ')} | ${fmtInt(r.lost.cairn)} / ${fmtInt(r.sent.cairn)} | ${fmtMs(r.avgLatencyMs.cairn)} | ${fmtMs(r.maxLatencyMs.cairn)} | ${cpu ? cpu.cairn.toFixed(1) : 'n/a'} | ${cpu ? fmtRatio(cpu.knot / cpu.cairn) : 'n/a'} |`,
  );
  L.push('');
  L.push(
    '"server process CPU" is the server\'s user+system time over the run (all threads; 100% = one core), "server CPU µs/query" that time',
    'divided by the queries answered. On loopback much of each query\'s cost is the kernel\'s (the reply\'s delivery runs in softirq on',
    'the server\'s core and is not charged to the process), so "server core busy" (/proc/stat) can reach 100% while the process is',
    'well below it; "irq+softirq" is that kernel share, "other work" what is left once the server process and interrupts are taken out',
    '(other processes on the core; above 10% the run is marked disturbed). An undisturbed run has a load average near 2 (the server',
    'and dnsperf\'s send and receive threads, partly idle). Latency is dnsperf\'s, from send to response, with up to the configured',
    'number of queries outstanding. CPU µs/query is the figure least moved by other work on the machine.',
    '',
  );
  L.push('<details><summary>ORS raw results (JSON)</summary>', '', '```json', JSON.stringify({ options: o, results: r }, null, 1), '```', '', '</details>', '');
  return L;
}

/**
 * The report text with the ORS row and section put in or replaced, for `--only ors`: the other
 * sections of an existing report are kept as they are.
 */
export function spliceOrs(existing: string | undefined, row: string, section: string[]): string {
  // The heading as written now, or as an earlier version of this file wrote it.
  return splicePhase(existing, [ROW_LABEL], [row], /^## (\(c\) )?ORS NAPTR over UDP\s*$/m, section);
}
