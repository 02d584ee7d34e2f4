/**
 * `npm run bench`: Cairn's performance budgets (DESIGN.md section 7), each a ratio measured in one
 * run against an anchor on the same machine, written to BENCHMARKS.md.
 *
 *   (a) resolving a signed handle over HTTP (keep-alive, 32 connections) against a bare fastify
 *       route serving the same bytes: budget >= 0.8x, at the default log level (info) and at warn;
 *   (b) `cairn import` of generated handles against the raw signing rate of the algorithm on the
 *       same single core: budget >= 0.7x, for EdDSA (the default) and ES256;
 *   (c) ORS NAPTR queries over UDP, Cairn's DNS responder against Knot DNS serving the same zone,
 *       both loaded with dnsperf: budget >= 0.5x (tests/bench/ors.ts; skipped with a message when
 *       knotd or dnsperf is not installed).
 *   (d) device verification (device-signature, Ed25519 and P-256) against raw crypto.verify, and
 *       `cairn products import` of 10^6 items against raw signing with the peak RSS: budget >= 0.7x
 *       (tests/bench/verify.ts).
 *
 * Options:
 *   --quick               smoke run (~45 s): one round of 2 s HTTP runs, 3,000-handle imports, a
 *                         2,000-arc ORS zone with one 2 s DNS round per server; writes
 *                         tests/artifacts/bench-quick.md (gitignored) unless --out is given
 *   --out FILE            where to write the report (default BENCHMARKS.md, or the quick file)
 *   --loadgen wrk|autocannon   force a load generator (default: wrk if installed, else autocannon)
 *   --duration S --rounds N --warmup S --connections N --import N --sign-seconds S   override settings
 *   --no-es256            skip the ES256 import
 *   --only ors            run only (c) and put its summary row and section into the existing report
 *                         (--out, else BENCHMARKS.md or the quick file), keeping the other sections
 *   --ors-arcs N          OID arcs in the ORS zone (default 10,000; quick 2,000)
 *   --only verify         run only (d), device verification and bulk item registration (tests/bench/verify.ts),
 *                         and splice its rows and section into the existing report the same way
 *   --verify-items N      items of (d)'s bulk registration (default 1,000,000; quick 2,000)
 *   --only its            run only (e), ITS near/ahead queries against PostGIS (tests/bench/its.ts), spliced in the same way
 *   --its-signs N --its-queries N   signs loaded for (e) (default 1,000,000; quick 20,000; cached in
 *                         tests/artifacts/) and queries per mode (default 2,000; quick 200)
 *   --dns-clients N --dns-outstanding N   dnsperf -c and -q for (c) (default 8 and 128)
 *   --scale               run only (f), resolution, start-up and memory at 10^4, 10^6 and 10^7 handles
 *                         (tests/bench/scale.ts; data generated once by tests/bench/scale-fixture.ts and
 *                         cached in tests/artifacts/: about an hour for 10^7 on one core, 17 GB)
 *   --scale-sizes A,B,C --scale-oids N --scale-signs N --scale-seconds S   override (f)'s settings
 *   --scale-max-open-files N   (f) also measures the largest store with CAIRN_STORE_MAX_OPEN_FILES=N (default 12,000; 0: not)
 *   --only soak           the soak test (tests/bench/soak.ts): mixed resolve/register/verify load at 70% of
 *                         measured capacity, spliced in the same way; exits 1 if any request failed
 *   --soak-seconds N      the soak's length (default 600; quick 30)
 *   Every option may also be written --name=value.
 *
 * A full run takes about 6 minutes (5 rounds x 3 servers x 10 s of HTTP, then two 100,000-handle
 * imports with raw signing before and after each, then 5 rounds x 2 servers x 10 s of DNS).
 *
 * Every server, import and load generator is a child process on loopback; all are killed at the
 * end, on error, on SIGINT/SIGTERM, and when the global deadline passes.
 */
import { createPublicKey, verify } from 'node:crypto';
import { spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem, type as osType, arch } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHandle } from '../../src/ids/handle.js';
import { loadOrCreateSigningKeys } from '../../src/service/key-files.js';
import { openStore } from '../../src/store/open.js';
import { pickLoadGenerator, type LoadGenerator, type LoadResult } from './loadgen.js';
import { orsPhase, orsSection, orsSummaryRow, spliceOrs, type OrsOptions, type OrsResults } from './ors.js';
import { spliceVerify, verifyPhase, verifySection, verifySummaryRows, type VerifyOptions } from './verify.js';
import { itsPhase, itsSection, itsSummaryRows, spliceIts, type ItsOptions } from './its.js';
import { carrySections } from './report-splice.js';
import { SOAK_ROW_LABELS, soakOneLine, soakOptions, soakPhase, spliceSoak, type SoakOptions } from './soak.js';
import { SCALE_ROW_LABELS, scalePhase, scaleSection, scaleSummaryRows, spliceScale, type ScaleOptions } from './scale.js';
import {
  cleanEnv,
  coreBusy,
  cpuTimes,
  freePort,
  hasTaskset,
  killAll,
  killAllSync,
  processCpuSeconds,
  runChecked,
  spawnTracked,
  stop,
  waitHttp,
} from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const BARE = join(HERE, 'bare-fastify.js');
const RAW_SIGN = join(HERE, 'raw-sign.js');
const NODE = process.execPath;

const PREFIX = '20.5000';
const BENCH_HANDLE = `${PREFIX}/bench-1`;
const ADMIN_SECRET = 'bench-admin-secret-0123';
const HTTP_FIXTURE_HANDLES = 1000;
const HTTP_BUDGET = 0.8;
const IMPORT_BUDGET = 0.7;

type Alg = 'EdDSA' | 'ES256';

// -------------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly quick: boolean;
  readonly out: string;
  readonly loadgen: 'wrk' | 'autocannon' | undefined;
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  readonly rounds: number;
  readonly importCount: number;
  readonly signSeconds: number;
  readonly es256: boolean;
  readonly only: 'ors' | 'verify' | 'its' | 'scale' | 'soak' | undefined;
  readonly ors: OrsOptions;
  readonly verify: VerifyOptions;
  readonly its: ItsOptions;
  readonly scale: ScaleOptions;
  readonly soak: SoakOptions;
  readonly deadlineMs: number;
}

function parseOptions(argv: readonly string[]): Options {
  const flags = new Set(['--quick', '--no-es256', '--scale']);
  const valued = new Set(['--out', '--loadgen', '--connections', '--duration', '--warmup', '--rounds', '--import', '--sign-seconds', '--only', '--ors-arcs', '--dns-clients', '--dns-outstanding', '--verify-items', '--its-signs', '--its-queries', '--scale-sizes', '--scale-seconds', '--scale-oids', '--scale-signs', '--scale-max-open-files', '--soak-seconds']);
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && valued.has(a.slice(0, eq))) given.set(a.slice(0, eq), a.slice(eq + 1));
    else if (flags.has(a)) given.set(a, '');
    else if (valued.has(a)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      given.set(a, v);
    } else throw new Error(`unknown argument ${a} (options: ${[...flags, ...valued].join(' ')})`);
  }
  const quick = given.has('--quick');
  const value = (name: string): string | undefined => given.get(name);
  const num = (name: string, fallback: number, min: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  const loadgen = value('--loadgen');
  if (loadgen !== undefined && loadgen !== 'wrk' && loadgen !== 'autocannon') throw new Error('--loadgen must be wrk or autocannon');
  const duration = num('--duration', quick ? 2 : 10, 1);
  const warmup = num('--warmup', quick ? 1 : 3, 0);
  const rounds = Math.floor(num('--rounds', quick ? 1 : 5, 1));
  const importCount = Math.floor(num('--import', quick ? 3000 : 100_000, 10));
  const signSeconds = num('--sign-seconds', quick ? 0.5 : 3, 0.2);
  const onlyGiven = value('--only');
  if (onlyGiven !== undefined && onlyGiven !== 'ors' && onlyGiven !== 'verify' && onlyGiven !== 'its' && onlyGiven !== 'soak') throw new Error('--only must be ors, verify, its or soak');
  if (onlyGiven !== undefined && given.has('--scale')) throw new Error('--scale is a run of its own: drop --only');
  const only = given.has('--scale') ? 'scale' : onlyGiven;
  const scale: ScaleOptions = {
    quick,
    sizes: (value('--scale-sizes') ?? (quick ? '3000' : '10000,1000000,10000000')).split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 100) throw new Error(`--scale-sizes: "${x}" is not a whole number >= 100`);
      return n;
    }),
    oids: Math.floor(num('--scale-oids', quick ? 1000 : 1_000_000, 0)),
    signs: Math.floor(num('--scale-signs', quick ? 1000 : 1_000_000, 0)),
    seconds: num('--scale-seconds', quick ? 2 : 10, 1),
    warmup: quick ? 1 : 5,
    variantMaxOpenFiles: Math.floor(num('--scale-max-open-files', quick ? 0 : 12_000, 0)),
  };
  // Generation when nothing is cached (>= 1,500 records/s), then per size 3 starts and 3 wrk runs per family.
  const scaleSeconds = (Math.max(...scale.sizes) + scale.oids + scale.signs) / 1500 + scale.sizes.length * (3 * 3 * (scale.seconds + scale.warmup + 10) + 180) + 300;
  const soak = soakOptions(quick, num('--soak-seconds', quick ? 30 : 600, 6));
  // Set-up (imports at >= 200 records/s on a busy machine), the capacity run, the soak and its stragglers.
  const soakSeconds = (soak.handles + soak.items) / 200 + soak.capacityWarmupSeconds + soak.capacitySeconds + soak.seconds + 240;
  const verify: VerifyOptions = {
    seconds: quick ? 0.3 : 1,
    rounds: quick ? 2 : 6,
    deviceItems: quick ? 50 : 1000,
    bulkItems: Math.floor(num('--verify-items', quick ? 2000 : 1_000_000, 10)),
    signSeconds,
  };
  const its: ItsOptions = {
    quick,
    signs: Math.floor(num('--its-signs', quick ? 20_000 : 1_000_000, 100)),
    queries: Math.floor(num('--its-queries', quick ? 200 : 2000, 10)),
    radius: 500,
    aheadDistance: 1000,
  };
  // Generating the signs (when not cached) at >= 250 signs/s on a busy machine, loading PostGIS, and the queries.
  const itsSeconds = its.signs / 250 + its.signs / 20_000 + its.queries * 0.5 + 180;
  const verifySeconds = 4 * (verify.rounds * verify.seconds * 3 + 30 + verify.deviceItems / 50) + verify.bulkItems * 0.004 + 180; // the import at >= 250 items/s on a busy machine
  const ors: OrsOptions = {
    quick,
    arcs: Math.floor(num('--ors-arcs', quick ? 2000 : 10_000, 10)),
    duration,
    // Cairn's answer cache and JIT need the first pass over the query file: at least 2 s.
    warmup: value('--warmup') === undefined ? Math.max(warmup, 2) : warmup,
    rounds,
    clients: Math.floor(num('--dns-clients', 8, 1)),
    outstanding: Math.floor(num('--dns-outstanding', 128, 1)),
  };
  // Generous bound: HTTP runs, two imports at >= 1,000 records/s, raw signing, DNS runs, arcs at
  // >= 200/s, and startup slack.
  const orsSeconds = 2 * (warmup + rounds * (duration + 1)) + ors.arcs / 200 + 60;
  const deadlineMs = Math.round(
    (only === 'soak' ? soakSeconds : only === 'scale' ? scaleSeconds : only === 'ors' ? orsSeconds + 60 : only === 'verify' ? verifySeconds : only === 'its' ? itsSeconds : 3 * (warmup + rounds * duration) + 4 * (importCount / 1000) + 8 * signSeconds + 240 + orsSeconds + verifySeconds + itsSeconds) * 1000,
  );
  return {
    quick,
    out: resolve(REPO, value('--out') ?? (quick ? join('tests', 'artifacts', 'bench-quick.md') : 'BENCHMARKS.md')),
    loadgen,
    connections: Math.floor(num('--connections', 32, 1)),
    duration,
    warmup,
    rounds,
    importCount,
    signSeconds,
    es256: !given.has('--no-es256'),
    only,
    ors,
    verify,
    its,
    scale,
    soak,
    deadlineMs,
  };
}

// -------------------------------------------------------------------------------------------------
// Machine

interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly fastify: string;
  readonly commit: string;
  readonly taskset: boolean;
  /** Core the servers, imports and raw signing run on. */
  readonly workCpu: number | undefined;
  /** Core the load generator runs on. */
  readonly loadCpu: number | undefined;
}

function machineInfo(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  const cores = availableParallelism();
  const git = (args: string[]): string => spawnSync('git', args, { cwd: REPO, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const pinning = hasTaskset && cores >= 2;
  return {
    cpuModel,
    cores,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    os: `${osType()} ${release()} ${arch()}`,
    fastify: (JSON.parse(readFileSync(join(REPO, 'node_modules', 'fastify', 'package.json'), 'utf8')) as { version: string }).version,
    commit: head ? `${head}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
    taskset: hasTaskset,
    workCpu: pinning ? 1 : undefined,
    loadCpu: pinning ? 0 : undefined,
  };
}

// -------------------------------------------------------------------------------------------------
// Fixtures

/** `count` handles `20.5000/bench-1..count`, with 2 values (odd) or 3 values (even). */
function writeHandles(file: string, count: number): void {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const values: { index: number; type: string; data: string }[] = [
      { index: 1, type: 'URL', data: `https://objects.example.org/items/${i}` },
      { index: 2, type: 'EMAIL', data: `registrar-${i % 97}@example.org` },
    ];
    if (i % 2 === 0) values.push({ index: 3, type: 'DESC', data: `Benchmark object ${i}, batch ${Math.floor(i / 1000)}` });
    lines.push(JSON.stringify({ handle: `${PREFIX}/bench-${i}`, values }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

const cairnEnv = (dataDir: string, certsDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  cleanEnv({ CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certsDir, CAIRN_ADMIN_SECRET: ADMIN_SECRET, ...extra });

interface ImportSummary {
  readonly lines: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly seconds: number;
}

async function cairnImport(file: string, env: NodeJS.ProcessEnv, cpu: number | undefined, timeoutMs: number): Promise<ImportSummary & { wallSeconds: number }> {
  const r = await runChecked(NODE, [CLI, 'import', file], { cpu, env, timeoutMs });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  const summary = JSON.parse(line) as ImportSummary;
  if (typeof summary.seconds !== 'number') throw new Error(`unexpected import output: ${r.stdout}`);
  return { ...summary, wallSeconds: r.seconds };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

function verifyJws(token: string, publicKeyPem: string, alg: Alg): { signingInput: string; ok: boolean } {
  const dot = token.lastIndexOf('.');
  const signingInput = token.slice(0, dot);
  const ok = verify(
    alg === 'EdDSA' ? null : 'sha256',
    Buffer.from(signingInput),
    { key: createPublicKey(publicKeyPem), dsaEncoding: 'ieee-p1363' },
    Buffer.from(token.slice(dot + 1), 'base64url'),
  );
  return { signingInput, ok };
}

// -------------------------------------------------------------------------------------------------
// (a) HTTP resolution

interface Server {
  readonly name: 'bare' | 'cairn-info' | 'cairn-warn';
  readonly label: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** The server's stdout and stderr. */
  readonly logFile: string;
  /** Whether the log is Cairn's request log, measured per request. */
  readonly measureLog: boolean;
}

/** Throws, with the server's exit status and the end of its log, if it is no longer running. */
function assertAlive(s: Server): void {
  const { exitCode, signalCode } = s.child;
  if (exitCode === null && signalCode === null) return;
  throw new Error(`${s.name} (pid ${s.child.pid}) is no longer running: exit code ${exitCode}, signal ${signalCode}. End of its output:\n${tail(s.logFile)}`);
}

interface HttpRun extends LoadResult {
  readonly round: number;
  readonly target: Server['name'];
  readonly serverCpuPct: number | undefined;
  /** Server CPU time (user + system, all threads) per request, in microseconds. */
  readonly cpuUsPerRequest: number | undefined;
  readonly workCorePct: number | undefined;
  readonly loadCorePct: number | undefined;
  readonly logBytesPerRequest: number | undefined;
}

interface HttpResults {
  readonly loadgen: { name: string; version: string; reason: string; settings: string };
  readonly url: string;
  readonly bodyBytes: number;
  readonly contentType: string;
  readonly cairnHeaders: string;
  readonly bareHeaders: string;
  readonly signingInputBytes: number;
  readonly signatureVerified: boolean;
  readonly readyLineSeen: boolean;
  readonly runs: HttpRun[];
  readonly median: Record<Server['name'], number>;
  /** Median server CPU microseconds per request, when /proc is available. */
  readonly medianCpuUs: Record<Server['name'], number> | undefined;
  readonly ratioInfo: number;
  readonly ratioWarn: number;
  readonly pairedInfo: number[];
  readonly pairedWarn: number[];
}


const tail = (file: string | undefined): string => {
  if (!file || !existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  return text.slice(-2000);
};

async function startCairn(name: 'cairn-info' | 'cairn-warn', dataDir: string, certsDir: string, logDir: string, cpu: number | undefined): Promise<Server> {
  const port = await freePort();
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const extra: Record<string, string> = { CAIRN_HTTP_PORT: String(port) };
  if (name === 'cairn-warn') extra.CAIRN_LOG_LEVEL = 'warn';
  let child: ChildProcess;
  try {
    child = spawnTracked(NODE, [CLI, 'serve'], { cpu, env: cairnEnv(dataDir, certsDir, extra), stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const url = `http://127.0.0.1:${port}/api/handles/${BENCH_HANDLE}`;
  await waitHttp(child, url, () => tail(logFile));
  const label = name === 'cairn-info' ? 'Cairn, default log level (info)' : 'Cairn, CAIRN_LOG_LEVEL=warn';
  return { name, label, child, url, logFile, measureLog: true };
}

async function startBare(bodyFile: string, contentType: string, logDir: string, cpu: number | undefined): Promise<Server> {
  const port = await freePort();
  const logFile = join(logDir, 'bare.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnTracked(NODE, [BARE, bodyFile, contentType, String(port)], { cpu, env: cleanEnv({}), stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const url = `http://127.0.0.1:${port}/api/handles/${BENCH_HANDLE}`;
  await waitHttp(child, url, () => tail(logFile));
  return { name: 'bare', label: 'bare fastify, same bytes', child, url, logFile, measureLog: false };
}

async function get(url: string): Promise<{ status: number; body: Buffer; contentType: string; headers: string }> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  const names = [...res.headers.keys()].filter((h) => !['date', 'connection', 'keep-alive'].includes(h));
  return { status: res.status, body, contentType: res.headers.get('content-type') ?? '', headers: names.join(', ') };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function httpPhase(tmp: string, machine: Machine, opts: Options, loadgen: LoadGenerator, log: (s: string) => void): Promise<HttpResults> {
  const dir = join(tmp, 'http');
  const certs = join(dir, 'certs');
  const dataInfo = join(dir, 'data-info');
  const dataWarn = join(dir, 'data-warn');
  mkdirSync(dir, { recursive: true });
  const fixture = join(dir, 'fixture.ndjson');
  writeHandles(fixture, HTTP_FIXTURE_HANDLES);
  log(`http: importing ${HTTP_FIXTURE_HANDLES} handles (including ${BENCH_HANDLE}) into a fresh data directory`);
  await cairnImport(fixture, cairnEnv(dataInfo, certs), undefined, 120_000);
  // Two servers cannot share a LevelDB directory: the warn server gets a copy (same bytes served).
  cpSync(dataInfo, dataWarn, { recursive: true });

  const servers: Server[] = [];
  try {
    const info = await startCairn('cairn-info', dataInfo, certs, dir, machine.workCpu);
    servers.push(info);
    const readyLineSeen = readFileSync(info.logFile, 'utf8')
      .split('\n')
      .some((l) => l.includes('"event":"ready"') && l.includes(`"http":"${new URL(info.url).origin}"`));
    const warn = await startCairn('cairn-warn', dataWarn, certs, dir, machine.workCpu);
    servers.push(warn);

    const fromInfo = await get(info.url);
    const fromWarn = await get(warn.url);
    if (fromInfo.status !== 200) throw new Error(`GET ${info.url}: ${fromInfo.status}`);
    if (!fromInfo.body.equals(fromWarn.body) || fromInfo.contentType !== fromWarn.contentType) throw new Error('the two Cairn servers answer differently');
    const parsed = JSON.parse(fromInfo.body.toString('utf8')) as { values: { type: string; data: { value: string } }[] };
    const sig = parsed.values.find((v) => v.type === 'HS_SIGNATURE');
    if (!sig) throw new Error(`${BENCH_HANDLE} has no HS_SIGNATURE value`);
    const checked = verifyJws(sig.data.value, readFileSync(join(certs, 'signing-eddsa.pub.pem'), 'utf8'), 'EdDSA');
    if (!checked.ok) throw new Error(`${BENCH_HANDLE}: signature does not verify`);

    const bodyFile = join(dir, 'body.json');
    writeFileSync(bodyFile, fromInfo.body);
    const bare = await startBare(bodyFile, fromInfo.contentType, dir, machine.workCpu);
    servers.push(bare);
    const fromBare = await get(bare.url);
    if (fromBare.status !== 200 || !fromBare.body.equals(fromInfo.body) || fromBare.contentType !== fromInfo.contentType) {
      throw new Error('the bare server does not answer the same bytes and content type as Cairn');
    }
    log(`http: ${fromInfo.body.length}-byte signed response, content-type "${fromInfo.contentType}"; bare server answers identically`);

    const targets: Server[] = [bare, info, warn];
    for (const t of targets) {
      if (opts.warmup <= 0) break;
      log(`http: warm-up ${t.name} ${opts.warmup} s`);
      await loadgen.run(t.url, opts.connections, opts.warmup, machine.loadCpu);
    }
    const runs: HttpRun[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      // Rotate the order each round so that no target always runs first or last.
      const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
      for (const t of order) {
        assertAlive(t);
        if (t.measureLog) truncateSync(t.logFile, 0);
        const cpuBefore = cpuTimes();
        const procBefore = processCpuSeconds(t.child.pid);
        const started = process.hrtime.bigint();
        let r: LoadResult;
        try {
          r = await loadgen.run(t.url, opts.connections, opts.duration, machine.loadCpu);
        } catch (e) {
          assertAlive(t);
          throw e;
        }
        assertAlive(t);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
        const procAfter = processCpuSeconds(t.child.pid);
        const cpuAfter = cpuTimes();
        const logBytes = t.measureLog ? statSync(t.logFile).size : undefined;
        const run: HttpRun = {
          ...r,
          round,
          target: t.name,
          serverCpuPct: procBefore !== undefined && procAfter !== undefined ? (100 * (procAfter - procBefore)) / elapsed : undefined,
          cpuUsPerRequest: procBefore !== undefined && procAfter !== undefined && r.requests > 0 ? ((procAfter - procBefore) * 1e6) / r.requests : undefined,
          workCorePct: coreBusy(cpuBefore, cpuAfter, machine.workCpu),
          loadCorePct: coreBusy(cpuBefore, cpuAfter, machine.loadCpu),
          logBytesPerRequest: logBytes !== undefined && r.requests > 0 ? logBytes / r.requests : undefined,
        };
        if (r.non2xx > 0) throw new Error(`${t.name}: ${r.non2xx} responses were not 2xx`);
        if (r.errors > r.requests / 1000) throw new Error(`${t.name}: ${r.errors} socket errors in ${r.requests} requests`);
        runs.push(run);
        log(`http: round ${round} ${t.name.padEnd(10)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${fmtMs(r.latencyP99Ms)}  errors ${r.errors}`);
        if (t.measureLog) truncateSync(t.logFile, 0);
      }
    }
    const med = (name: Server['name']): number => median(runs.filter((r) => r.target === name).map((r) => r.rps));
    const m = { bare: med('bare'), 'cairn-info': med('cairn-info'), 'cairn-warn': med('cairn-warn') };
    const cpuMed = (name: Server['name']): number | undefined => {
      const xs = runs.filter((r) => r.target === name).map((r) => r.cpuUsPerRequest);
      return xs.every((x) => x !== undefined) ? median(xs as number[]) : undefined;
    };
    const cb = cpuMed('bare');
    const ci = cpuMed('cairn-info');
    const cw = cpuMed('cairn-warn');
    const paired = (name: Server['name']): number[] =>
      Array.from({ length: opts.rounds }, (_, i) => {
        const c = runs.find((r) => r.round === i + 1 && r.target === name)!;
        const b = runs.find((r) => r.round === i + 1 && r.target === 'bare')!;
        return c.rps / b.rps;
      });
    return {
      loadgen: { name: loadgen.name, version: loadgen.version, reason: loadgen.reason, settings: loadgen.settings(opts.connections, opts.duration) },
      url: `/api/handles/${BENCH_HANDLE}`,
      bodyBytes: fromInfo.body.length,
      contentType: fromInfo.contentType,
      cairnHeaders: fromInfo.headers,
      bareHeaders: fromBare.headers,
      signingInputBytes: Buffer.byteLength(checked.signingInput),
      signatureVerified: checked.ok,
      readyLineSeen,
      runs,
      median: m,
      medianCpuUs: cb !== undefined && ci !== undefined && cw !== undefined ? { bare: cb, 'cairn-info': ci, 'cairn-warn': cw } : undefined,
      ratioInfo: m['cairn-info'] / m.bare,
      ratioWarn: m['cairn-warn'] / m.bare,
      pairedInfo: paired('cairn-info'),
      pairedWarn: paired('cairn-warn'),
    };
  } finally {
    await Promise.all(servers.map((s) => stop(s.child)));
  }
}

// -------------------------------------------------------------------------------------------------
// (b) Bulk import against raw signing

interface RawSign {
  readonly signs: number;
  readonly seconds: number;
  readonly rate: number;
  readonly inputs: number;
  readonly meanInputBytes: number;
}

interface ImportResults {
  readonly alg: Alg;
  readonly count: number;
  readonly import: ImportSummary & { wallSeconds: number };
  readonly rate: number;
  readonly rawBefore: RawSign;
  readonly rawAfter: RawSign;
  readonly rawRate: number;
  readonly ratio: number;
  readonly signingInputBytes: { mean: number; min: number; max: number; sampled: number };
  readonly signaturesVerified: number;
  readonly bytesOnDisk: number;
}

/** Real signing inputs of records in a data directory (the server must not be running). */
async function sampleSigningInputs(dataDir: string, certsDir: string, alg: Alg, count: number, samples: number): Promise<{ inputs: string[]; verified: number }> {
  const store = await openStore(join(dataDir, 'leveldb'), { sync: false });
  const pub = readFileSync(join(certsDir, `signing-${alg.toLowerCase()}.pub.pem`), 'utf8');
  const inputs: string[] = [];
  let verified = 0;
  try {
    const n = Math.min(samples, count);
    for (let k = 0; k < n; k++) {
      const i = 1 + Math.floor((k * count) / n);
      const record = store.findRecord(parseHandle(`${PREFIX}/bench-${i}`).key);
      const sig = record?.values.find((v) => v.type === 'HS_SIGNATURE');
      if (!sig) throw new Error(`${PREFIX}/bench-${i}: not imported or not signed`);
      const checked = verifyJws(Buffer.from(sig.data).toString('utf8'), pub, alg);
      if (!checked.ok) throw new Error(`${PREFIX}/bench-${i}: signature does not verify`);
      verified++;
      inputs.push(checked.signingInput);
    }
  } finally {
    await store.close();
  }
  return { inputs, verified };
}

async function rawSign(alg: Alg, certsDir: string, inputsFile: string, seconds: number, cpu: number | undefined): Promise<RawSign> {
  const keyFile = join(certsDir, `signing-${alg.toLowerCase()}.key.pem`);
  const r = await runChecked(NODE, [RAW_SIGN, alg, keyFile, inputsFile, String(seconds)], { cpu, env: cleanEnv({}), timeoutMs: (seconds + 30) * 1000 });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as RawSign;
}

async function importPhase(tmp: string, file: string, alg: Alg, machine: Machine, opts: Options, log: (s: string) => void): Promise<ImportResults> {
  const dir = join(tmp, `import-${alg.toLowerCase()}`);
  const certs = join(dir, 'certs');
  const data = join(dir, 'data');
  const scratch = join(dir, 'scratch');
  const env = (d: string): NodeJS.ProcessEnv => cairnEnv(d, certs, { CAIRN_SIGNING_ALG: alg });
  // The key the import will sign with, created as the service creates it.
  loadOrCreateSigningKeys(certs, alg);

  // Real signing inputs for the raw rate come from a small scratch import of the same file's head,
  // so that raw signing can be measured both before and after the real import.
  const head = join(dir, 'head.ndjson');
  mkdirSync(dir, { recursive: true });
  const headCount = Math.min(1000, opts.importCount);
  writeFileSync(head, `${readFileSync(file, 'utf8').split('\n').slice(0, headCount).join('\n')}\n`);
  await cairnImport(head, env(scratch), machine.workCpu, 120_000);
  const sample = await sampleSigningInputs(scratch, certs, alg, headCount, 256);
  const inputsFile = join(dir, 'inputs.json');
  writeFileSync(inputsFile, JSON.stringify(sample.inputs));
  rmSync(scratch, { recursive: true, force: true });

  log(`import ${alg}: raw signing ${opts.signSeconds} s`);
  const rawBefore = await rawSign(alg, certs, inputsFile, opts.signSeconds, machine.workCpu);
  log(`import ${alg}: raw ${rawBefore.rate.toFixed(0)} signatures/s; importing ${opts.importCount} handles into a fresh data directory`);
  const summary = await cairnImport(file, env(data), machine.workCpu, Math.max(120_000, opts.importCount * 10));
  const imported = summary.created + summary.updated + summary.unchanged;
  if (summary.created !== opts.importCount) throw new Error(`import ${alg}: created ${summary.created} of ${opts.importCount}`);
  const rate = imported / summary.seconds;
  log(`import ${alg}: ${rate.toFixed(0)} records/s (${summary.seconds.toFixed(1)} s)`);
  const rawAfter = await rawSign(alg, certs, inputsFile, opts.signSeconds, machine.workCpu);
  log(`import ${alg}: raw ${rawAfter.rate.toFixed(0)} signatures/s`);
  const check = await sampleSigningInputs(data, certs, alg, opts.importCount, 256);
  const lengths = check.inputs.map((s) => Buffer.byteLength(s));
  const rawRate = (rawBefore.rate + rawAfter.rate) / 2;
  return {
    alg,
    count: opts.importCount,
    import: summary,
    rate,
    rawBefore,
    rawAfter,
    rawRate,
    ratio: rate / rawRate,
    signingInputBytes: {
      mean: lengths.reduce((a, b) => a + b, 0) / lengths.length,
      min: Math.min(...lengths),
      max: Math.max(...lengths),
      sampled: lengths.length,
    },
    signaturesVerified: check.verified,
    bytesOnDisk: dirBytes(data),
  };
}

// -------------------------------------------------------------------------------------------------
// Report

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number | undefined): string => (n === undefined ? 'n/a' : n < 1 ? `${(n * 1000).toFixed(0)} µs` : `${n.toFixed(2)} ms`);
const fmtPct = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(0)}%`);
const fmtRatio = (n: number): string => `${n.toFixed(2)}x`;
const met = (ratio: number, budget: number): string => (ratio >= budget ? 'yes' : '**NO**');

function report(opts: Options, machine: Machine, started: Date, seconds: number, http: HttpResults, imports: ImportResults[], ors: OrsResults): string {
  const L: string[] = [];
  const cpuNote =
    machine.workCpu !== undefined
      ? `servers, imports and raw signing pinned to CPU ${machine.workCpu}, the load generator to CPU ${machine.loadCpu} (\`taskset -c\`)`
      : machine.taskset
        ? 'not pinned (fewer than 2 cores)'
        : 'not pinned (taskset not available)';
  L.push('# Benchmarks', '');
  L.push(
    `Written by \`npm run bench${opts.quick ? ' -- --quick' : ''}\` (tests/bench/run.ts); do not edit by hand. Every budget of DESIGN.md section 7 measured here is a`,
    'ratio between two figures taken in the same run on the same machine.',
    '',
  );
  if (opts.quick) L.push('> **Quick smoke run**: short runs and a small import; the figures are indicative only.', '');
  L.push('## Summary', '');
  L.push('| path | Cairn | anchor | ratio | budget | met |', '|---|---:|---:|---:|---:|:---:|');
  L.push(
    `| resolve a signed handle over HTTP, **default log level (info)** | ${fmtInt(http.median['cairn-info'])} req/s | ${fmtInt(http.median.bare)} req/s (bare fastify) | ${fmtRatio(http.ratioInfo)} | >= ${HTTP_BUDGET}x | ${met(http.ratioInfo, HTTP_BUDGET)} |`,
  );
  L.push(
    `| resolve a signed handle over HTTP, CAIRN_LOG_LEVEL=warn | ${fmtInt(http.median['cairn-warn'])} req/s | ${fmtInt(http.median.bare)} req/s (bare fastify) | ${fmtRatio(http.ratioWarn)} | >= ${HTTP_BUDGET}x | ${met(http.ratioWarn, HTTP_BUDGET)} |`,
  );
  for (const r of imports) {
    L.push(
      `| \`cairn import\` of ${fmtInt(r.count)} handles, ${r.alg}${r.alg === 'EdDSA' ? ' (default)' : ''} | ${fmtInt(r.rate)} records/s | ${fmtInt(r.rawRate)} signatures/s (raw ${r.alg === 'EdDSA' ? 'Ed25519' : 'P-256'}, 1 core) | ${fmtRatio(r.ratio)} | >= ${IMPORT_BUDGET}x | ${met(r.ratio, IMPORT_BUDGET)} |`,
    );
  }
  L.push(orsSummaryRow(ors));
  L.push('');
  L.push(
    'HTTP figures are the median requests/s over the rounds; the ratio is median(Cairn) / median(bare). The default log level is',
    '`info`, at which Cairn writes one access line per request (buffered, pino line format); `warn` turns the access log off.',
    'Unfiltered resolutions of stored handles are answered ahead of fastify\'s router (src/http/fast-resolve.ts), from the stored view.',
    '',
  );

  L.push('## Run', '');
  L.push(`- Date: ${started.toISOString()} (full run took ${seconds.toFixed(0)} s)`);
  L.push(`- Commit: ${machine.commit}`);
  L.push(`- CPU: ${machine.cpuModel}, ${machine.cores} cores available`);
  L.push(`- Memory: ${machine.memoryGiB.toFixed(1)} GiB`);
  L.push(`- OS: ${machine.os}`);
  L.push(`- Node ${machine.node}, fastify ${machine.fastify}`);
  L.push(`- CPU pinning: ${cpuNote}`);
  L.push('');

  L.push('## (a) Resolving a signed handle over HTTP', '');
  L.push(`- Request: \`GET ${http.url}\`, keep-alive, ${opts.connections} connections, loopback (127.0.0.1).`);
  L.push(`- Load generator: ${http.loadgen.name} ${http.loadgen.version}: \`${http.loadgen.settings}\` (${http.loadgen.reason}).`);
  L.push(
    `- Procedure: ${opts.warmup} s warm-up per server, then ${opts.rounds} round(s) of ${opts.duration} s per server, the order rotated each round; all three`,
    '  servers stay up for the whole phase (idle ones use no CPU), each a separate child process on the same pinned core.',
  );
  L.push(
    `- Cairn: \`node dist/src/cli/main.js serve\` over a fresh data directory holding ${fmtInt(HTTP_FIXTURE_HANDLES)} handles imported with \`cairn import\`;`,
    `  ${BENCH_HANDLE} has 2 values plus HS_ADMIN and HS_SIGNATURE (EdDSA; the signature was verified: ${http.signatureVerified ? 'yes' : 'no'},`,
    `  signing input ${http.signingInputBytes} bytes). Its stdout (the pino log) goes to a file, as a service manager would capture it.`,
    `  The info and warn servers each serve their own copy of the same data directory.${http.readyLineSeen ? ' The info server logged its `"event":"ready"` line.' : ''}`,
  );
  L.push(
    `- Bare: tests/bench/bare-fastify.ts, \`Fastify({ logger: false })\` with one route \`GET /api/handles/*\` replying with the same ${http.bodyBytes}`,
    `  bytes and content type \`${http.contentType}\` (checked byte for byte before measuring).`,
  );
  L.push(`- Response headers (besides date/connection/keep-alive): Cairn \`${http.cairnHeaders}\`; bare \`${http.bareHeaders}\`.`);
  L.push('');
  L.push(
    '| round | server | req/s | p50 | p99 | bytes/response | errors | server process CPU | server CPU µs/request | server core busy | load-generator core busy | log bytes/request |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  const names: Record<Server['name'], string> = { bare: 'bare fastify', 'cairn-info': 'Cairn (info, default)', 'cairn-warn': 'Cairn (warn)' };
  for (const r of http.runs) {
    L.push(
      `| ${r.round} | ${names[r.target]} | ${fmtInt(r.rps)} | ${fmtMs(r.latencyP50Ms)} | ${fmtMs(r.latencyP99Ms)} | ${r.bytes !== undefined && r.requests > 0 ? fmtInt(r.bytes / r.requests) : 'n/a'} | ${r.errors} | ${fmtPct(r.serverCpuPct)} | ${r.cpuUsPerRequest === undefined ? 'n/a' : r.cpuUsPerRequest.toFixed(1)} | ${fmtPct(r.workCorePct)} | ${fmtPct(r.loadCorePct)} | ${r.logBytesPerRequest === undefined ? '' : fmtInt(r.logBytesPerRequest)} |`,
    );
  }
  L.push('');
  const cpu = http.medianCpuUs;
  const cpuCells = (name: Server['name']): string =>
    cpu ? ` ${cpu[name].toFixed(1)} | ${fmtRatio(cpu.bare / cpu[name])} |` : ' n/a | n/a |';
  L.push(
    '| server | median req/s | ratio to bare (budget) | per-round ratios | median server CPU µs/request | CPU-efficiency ratio (bare µs / Cairn µs) |',
    '|---|---:|---:|---|---:|---:|',
  );
  L.push(`| bare fastify | ${fmtInt(http.median.bare)} | 1.00x | |${cpuCells('bare')}`);
  L.push(`| Cairn, default log level (info) | ${fmtInt(http.median['cairn-info'])} | ${fmtRatio(http.ratioInfo)} | ${http.pairedInfo.map(fmtRatio).join(', ')} |${cpuCells('cairn-info')}`);
  L.push(`| Cairn, CAIRN_LOG_LEVEL=warn | ${fmtInt(http.median['cairn-warn'])} | ${fmtRatio(http.ratioWarn)} | ${http.pairedWarn.map(fmtRatio).join(', ')} |${cpuCells('cairn-warn')}`);
  L.push('');
  L.push(
    '"server process CPU" is the server\'s user+system time over the run (100% = one core) and "server CPU µs/request" that time',
    'divided by the requests answered; "core busy" comes from /proc/stat. The budget is on req/s; the CPU-efficiency ratio is a',
    'second view of the same runs that does not depend on how fast the load generator and the kernel turn requests around.',
    '',
  );

  L.push('## (b) Bulk import against raw signing', '');
  const first = imports[0];
  if (first) {
    L.push(
      `- Data: ${fmtInt(first.count)} generated handles \`${PREFIX}/bench-N\`, 2 values (odd N) or 3 values (even N), one JSON line each;`,
      '  `cairn import` adds HS_ADMIN and signs each record (HS_SIGNATURE), so each record carries 4-5 values.',
    );
    L.push(
      `- Import: \`node dist/src/cli/main.js import FILE\` into a fresh data directory and certs directory, pinned to one core${machine.workCpu !== undefined ? ` (CPU ${machine.workCpu})` : ''},`,
      '  default settings (CAIRN_SYNC_WRITES=true: each 1,000-record batch is fsynced). Rate = lines / the `seconds` the command reports',
      '  (which excludes process start-up); the wall time of the whole command is shown too.',
    );
    L.push(
      '- Raw signing: tests/bench/raw-sign.ts, node:crypto `sign()` in a loop on one thread, on the same core, with the same key and call as',
      '  src/signing/jws.ts (`sign(null | "sha256", input, { key, dsaEncoding: "ieee-p1363" })`), over 256 real JWS signing inputs taken from',
      `  records Cairn signed (a 1,000-handle scratch import of the same file). Measured ${opts.signSeconds} s before and ${opts.signSeconds} s after the import; the anchor is their mean.`,
    );
    L.push('');
    L.push(
      '| algorithm | records | import s (wall) | records/s | raw signatures/s before / after | anchor | ratio | budget met | signing input bytes (mean, min-max) | signatures verified | data dir |',
      '|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|',
    );
    for (const r of imports) {
      L.push(
        `| ${r.alg} | ${fmtInt(r.count)} | ${r.import.seconds.toFixed(2)} (${r.import.wallSeconds.toFixed(2)}) | ${fmtInt(r.rate)} | ${fmtInt(r.rawBefore.rate)} / ${fmtInt(r.rawAfter.rate)} | ${fmtInt(r.rawRate)} | ${fmtRatio(r.ratio)} | ${met(r.ratio, IMPORT_BUDGET)} | ${r.signingInputBytes.mean.toFixed(0)} (${r.signingInputBytes.min}-${r.signingInputBytes.max}) | ${r.signaturesVerified}/${r.signingInputBytes.sampled} | ${(r.bytesOnDisk / 1024 ** 2).toFixed(1)} MiB |`,
      );
    }
    L.push('');
    L.push(
      'The ratio is also the share of the import\'s time that signing alone would take: at 0.7x, everything else (parsing, digests,',
      'encoding, rendering the view, LevelDB) may cost at most 0.43x the signing time.',
      '',
    );
  }

  L.push(...orsSection(ors, opts.ors, undefined));

  L.push('## Reproduce', '');
  L.push(
    '```sh',
    'apt-get install -y wrk          # optional: without wrk the harness uses autocannon (devDependency)',
    'apt-get install -y knot dnsperf # for (c); without knotd or dnsperf it is skipped',
    'npm run bench                   # builds, runs everything, writes BENCHMARKS.md',
    'npm run bench -- --quick        # smoke run, writes tests/artifacts/bench-quick.md',
    'npm run bench -- --only ors     # (c) alone, replacing its row and section in BENCHMARKS.md',
    'apt-get install -y postgis postgresql-15-postgis-3  # for (e)\'s PostGIS anchor; without it (e) measures Cairn alone',
    'npm run bench -- --only its     # (e) alone: ITS near/ahead against PostGIS, 10^6 signs cached in tests/artifacts/',
    'npm run bench -- --only soak    # 10 min of mixed resolve/register/verify at 70% of capacity; exits 1 on any error',
    'npm run bench -- --scale        # (f): 10^4, 10^6, 10^7 handles (+10^6 OIDs, 10^6 signs); about an hour to generate once, 17 GB',
    '```',
    '',
  );
  L.push(
    `Settings of this run: \`--connections ${opts.connections} --duration ${opts.duration} --warmup ${opts.warmup} --rounds ${opts.rounds} --import ${opts.importCount} --sign-seconds ${opts.signSeconds}${opts.es256 ? '' : ' --no-es256'}` +
      ` --ors-arcs ${opts.ors.arcs} --dns-clients ${opts.ors.clients} --dns-outstanding ${opts.ors.outstanding}\`` +
      ` (all overridable; \`--loadgen wrk|autocannon\` forces a load generator, \`--out FILE\` the report path).`,
    '',
  );
  L.push('<details><summary>Raw results (JSON)</summary>', '', '```json', JSON.stringify({ machine, options: opts, http, imports }, null, 1), '```', '', '</details>', '');
  return L.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  for (const f of [CLI, BARE, RAW_SIGN]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build (npm run bench does)`);
  const started = new Date();
  const t0 = process.hrtime.bigint();
  const log = (s: string): void => {
    process.stderr.write(`[bench ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(0).padStart(4)} s] ${s}\n`);
  };
  const tmp = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    killAllSync();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`bench: ${sig}, stopping children\n`);
      cleanup();
      process.exit(130);
    });
  }
  const deadline = setTimeout(() => {
    process.stderr.write(`bench: deadline of ${Math.round(opts.deadlineMs / 1000)} s passed, stopping children\n`);
    cleanup();
    process.exit(124);
  }, opts.deadlineMs);

  try {
    const machine = machineInfo();
    if (opts.only === 'ors') {
      log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; ORS only; ${machine.workCpu !== undefined ? `servers on CPU ${machine.workCpu}, dnsperf on CPU ${machine.loadCpu}` : 'no CPU pinning'}`);
      const ors = await orsPhase(tmp, { work: machine.workCpu, load: machine.loadCpu }, opts.ors, log);
      const partial = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
      const text = spliceOrs(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, orsSummaryRow(ors), orsSection(ors, opts.ors, partial));
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      process.stdout.write(`${orsSummaryRow(ors)}\nORS row and section written to ${relative(process.cwd(), opts.out) || opts.out} in ${seconds.toFixed(0)} s.\n`);
      return 0;
    }
    if (opts.only === 'verify') {
      const v = await verifyPhase(tmp, machine.workCpu, opts.verify, log);
      const text = spliceVerify(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, verifySummaryRows(v), verifySection(v, opts.verify, `npm run bench -- ${process.argv.slice(2).join(' ')}`));
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      process.stdout.write(`${verifySummaryRows(v).join('\n')}\nVerification rows and section written to ${relative(process.cwd(), opts.out) || opts.out}.\n`);
      return 0;
    }
    if (opts.only === 'its') {
      const r = await itsPhase(tmp, machine.workCpu, opts.its, log);
      const text = spliceIts(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, itsSummaryRows(r), itsSection(r, opts.its, `npm run bench -- ${process.argv.slice(2).join(' ')}`));
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      process.stdout.write(`${itsSummaryRows(r).join('\n')}\nITS rows and section written to ${relative(process.cwd(), opts.out) || opts.out}.\n`);
      return 0;
    }
    if (opts.only === 'soak') {
      log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; soak only; ${machine.workCpu !== undefined ? `server on CPU ${machine.workCpu}, load on CPU ${machine.loadCpu}` : 'no CPU pinning'}`);
      const r = await soakPhase(tmp, { work: machine.workCpu, load: machine.loadCpu }, opts.soak, log);
      const text = spliceSoak(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, r, `npm run bench -- ${process.argv.slice(2).join(' ')}`);
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      process.stdout.write(`${soakOneLine(r)}\nSoak row and section written to ${relative(process.cwd(), opts.out) || opts.out}.\n`);
      // The soak's budget is no errors at all.
      return r.totalErrors === 0 ? 0 : 1;
    }
    if (opts.only === 'scale') {
      log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; scale only; ${machine.workCpu !== undefined ? `server on CPU ${machine.workCpu}, wrk on CPU ${machine.loadCpu}` : 'no CPU pinning'}`);
      const r = await scalePhase(tmp, { work: machine.workCpu, load: machine.loadCpu }, opts.scale, log);
      const text = spliceScale(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, scaleSummaryRows(r), scaleSection(r, opts.scale, `npm run bench -- ${process.argv.slice(2).join(' ')}`));
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      process.stdout.write(`${scaleSummaryRows(r).join('\n')}\nScale rows and section written to ${relative(process.cwd(), opts.out) || opts.out}.\n`);
      return 0;
    }
    const loadgen = pickLoadGenerator(REPO, opts.loadgen);
    log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; load generator ${loadgen.name} ${loadgen.version}; ${machine.workCpu !== undefined ? `work on CPU ${machine.workCpu}, load on CPU ${machine.loadCpu}` : 'no CPU pinning'}`);
    const http = await httpPhase(tmp, machine, opts, loadgen, log);

    const file = join(tmp, `handles-${opts.importCount}.ndjson`);
    writeHandles(file, opts.importCount);
    const imports: ImportResults[] = [await importPhase(tmp, file, 'EdDSA', machine, opts, log)];
    if (opts.es256) imports.push(await importPhase(tmp, file, 'ES256', machine, opts, log));
    const ors = await orsPhase(tmp, { work: machine.workCpu, load: machine.loadCpu }, opts.ors, log);
    const v = await verifyPhase(tmp, machine.workCpu, opts.verify, log);
    const its = await itsPhase(tmp, machine.workCpu, opts.its, log);

    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const withVerify = spliceVerify(report(opts, machine, started, seconds, http, imports, ors), verifySummaryRows(v), verifySection(v, opts.verify, undefined));
    const fresh = spliceIts(withVerify, itsSummaryRows(its), itsSection(its, opts.its, undefined));
    // Sections this run does not write (fuzzing, the log follower's cost, scale, soak) stay as they were.
    const text = carrySections(existsSync(opts.out) ? readFileSync(opts.out, 'utf8') : undefined, fresh, [...SCALE_ROW_LABELS, ...SOAK_ROW_LABELS]);
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, text);
    const summary = text.slice(text.indexOf('## Summary'), text.indexOf('## Run'));
    process.stdout.write(`${summary}Written to ${relative(process.cwd(), opts.out) || opts.out} in ${seconds.toFixed(0)} s.\n`);
    return 0;
  } finally {
    clearTimeout(deadline);
    await killAll();
    cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
