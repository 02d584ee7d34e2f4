/**
 * The soak test of `npm run bench -- --only soak` (issue 8, "Soak and faults"): mixed resolve,
 * register and verify load at 70% of measured capacity for a bounded time (default 10 minutes),
 * loopback only, with errors (budget: none), p99 drift and the server's memory growth.
 *
 *   1. A fresh data directory: `handles` handles `20.5000/soak-N` (`cairn import`), a manufacturer
 *      with its device-signature class (verify.ts `prepareManufacturer`) and `items` items, each
 *      with its own Ed25519 device key (`cairn products import`).
 *   2. `cairn serve` with default settings, pinned to the work core, its log to a file, except
 *      CAIRN_VERIFY_RATE_LIMIT / _PER_SECOND raised: every verifier here is 127.0.0.1, and the
 *      per-address limit (30 burst, 1/s) would otherwise answer 429 to nearly all verifications.
 *   3. Capacity: the load generator (soak-worker.ts, pinned to the other core) in a closed loop,
 *      `connections` operations in flight, the same mix; capacity = operations answered / second.
 *   4. The soak: the same generator in an open loop at `load` x capacity (fixed start times,
 *      latency from the scheduled start, at most `connections` in flight plus as many waiting),
 *      reported per window (a minute by default); the server's VmRSS / RssAnon / RssFile and CPU
 *      time are read from /proc every second.
 *
 * Summary: p99 drift per kind (last window / first), memory growth (last window's end - first
 * window's end), total errors. The run fails (exit 1) when any error occurred, after writing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cleanEnv, coreBusy, cpuTimes, freePort, processCpuSeconds, runChecked, sleep, spawnTracked, stop, waitHttp } from './procs.js';
import { splicePhase } from './report-splice.js';
import { KINDS, drift, growthMiB, parseStatusMemory, sampleAt, type Kind, type MemorySample } from './soak-stats.js';
import type { WorkerOptions, WorkerResult } from './soak-worker.js';
import { prepareManufacturer, writeItems } from './verify.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const WORKER = join(HERE, 'soak-worker.js');
const NODE = process.execPath;
const PREFIX = '20.5000';
const ADMIN_SECRET = 'bench-admin-secret-0123';

export const SOAK_SECTION = '## Soak';
const ROW = 'Soak: mixed resolve, register and verify';
/** The soak's summary row, which a full run (that does not soak) carries over. */
export const SOAK_ROW_LABELS: readonly string[] = [ROW];

export interface SoakOptions {
  readonly seconds: number;
  readonly windowSeconds: number;
  readonly capacitySeconds: number;
  readonly capacityWarmupSeconds: number;
  /** Closed-loop operations in flight for the capacity. */
  readonly connections: number;
  /** The open loop's cap on operations in flight (one socket each). */
  readonly openConnections: number;
  /** Share of the capacity the soak runs at. */
  readonly load: number;
  readonly handles: number;
  readonly items: number;
  readonly timeoutMs: number;
}

/** `seconds` of soak; windows of a minute, or a sixth of a run shorter than 5 minutes. */
export function soakOptions(quick: boolean, seconds: number): SoakOptions {
  return {
    seconds,
    windowSeconds: seconds >= 300 ? 60 : Math.max(1, Math.round(seconds / 6)),
    capacitySeconds: quick ? 5 : 15,
    capacityWarmupSeconds: quick ? 2 : 5,
    connections: 32,
    openConnections: 256,
    load: 0.7,
    handles: quick ? 2000 : 5000,
    items: quick ? 100 : 1000,
    timeoutMs: 5000,
  };
}

interface Sample {
  readonly memory: MemorySample | undefined;
  readonly atMs: number;
  readonly cpuSeconds: number | undefined;
  readonly cores: ReturnType<typeof cpuTimes>;
}

export interface SoakWindow {
  readonly index: number;
  readonly seconds: number;
  readonly okPerSecond: number;
  readonly httpPerSecond: number;
  readonly ops: WorkerResult['windows'][number]['ops'];
  readonly errors: Record<string, number>;
  readonly rssMiB: number | undefined;
  readonly anonMiB: number | undefined;
  readonly fileMiB: number | undefined;
  readonly serverCpuPct: number | undefined;
  readonly workCorePct: number | undefined;
  readonly loadCorePct: number | undefined;
  readonly clientLoopDelayP99Ms: number;
}

export interface SoakResults {
  readonly date: string;
  readonly cpus: { readonly work: number | undefined; readonly load: number | undefined };
  readonly options: SoakOptions;
  readonly capacity: SoakWindow & { readonly okOps: number };
  readonly rate: number;
  readonly scheduled: number;
  readonly completed: number;
  readonly ok: number;
  readonly windows: SoakWindow[];
  readonly errors: Record<string, number>;
  readonly totalErrors: number;
  readonly p99Drift: Record<Kind, number | undefined>;
  readonly growthMiB: { readonly rss: number | undefined; readonly anon: number | undefined; readonly file: number | undefined };
  readonly peakRssMiB: number | undefined;
  readonly serverLog: { readonly warnings: number; readonly errors: number; readonly examples: string[]; readonly bytes: number };
  readonly serverAlive: boolean;
  /** `cairn_http_requests_total` by status class, scraped at the end (capacity run included). */
  readonly serverStatusClasses: Record<string, number>;
}

// -------------------------------------------------------------------------------------------------
// Set-up

function writeHandles(file: string, count: number): void {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    lines.push(JSON.stringify({ handle: `${PREFIX}/soak-${i}`, values: [{ index: 1, type: 'URL', data: `https://objects.example.org/soak/${i}` }, { index: 2, type: 'EMAIL', data: `registrar-${i % 97}@example.org` }] }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Handles, a manufacturer and its items (with the devices' private keys in `devicesFile`). */
async function prepare(dir: string, o: SoakOptions, cpu: number | undefined, log: (s: string) => void): Promise<{ data: string; certs: string; devicesFile: string }> {
  const data = join(dir, 'data');
  const certs = join(dir, 'certs');
  mkdirSync(dir, { recursive: true });
  const env = cleanEnv({ CAIRN_DATA_DIR: data, CAIRN_CERTS_DIR: certs, CAIRN_ADMIN_SECRET: ADMIN_SECRET });
  const prefix = await prepareManufacturer(data, certs);
  const pairs = Array.from({ length: o.items }, () => generateKeyPairSync('ed25519'));
  const itemsFile = join(dir, 'items.ndjson');
  await writeItems(itemsFile, prefix, o.items, 'soak-items', pairs.map((p) => JSON.stringify(p.publicKey.export({ format: 'jwk' }))));
  log(`soak: importing ${o.items} items under ${prefix} and ${o.handles} handles`);
  await runChecked(NODE, [CLI, 'products', 'import', itemsFile], { cpu, env, timeoutMs: 120_000 + o.items * 20 });
  const handlesFile = join(dir, 'handles.ndjson');
  writeHandles(handlesFile, o.handles);
  await runChecked(NODE, [CLI, 'import', handlesFile], { cpu, env, timeoutMs: 120_000 + o.handles * 5 });
  const devicesFile = join(dir, 'devices.json');
  writeFileSync(
    devicesFile,
    JSON.stringify(pairs.map((p, i) => ({ id: `${prefix}/SN-${String(i).padStart(8, '0')}`, key: p.privateKey.export({ format: 'pem', type: 'pkcs8' }) }))),
  );
  return { data, certs, devicesFile };
}


// -------------------------------------------------------------------------------------------------
// Measuring

function sample(pid: number | undefined): Sample {
  const atMs = Date.now();
  let memory: MemorySample | undefined;
  try {
    memory = pid === undefined ? undefined : parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'), atMs);
  } catch {
    memory = undefined;
  }
  return { atMs, memory, cpuSeconds: processCpuSeconds(pid), cores: cpuTimes() };
}

function vmHwmMiB(pid: number | undefined): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the worker, sampling the server every second; worker progress goes to `log`. */
async function runWorker(w: WorkerOptions, cpu: number | undefined, serverPid: number | undefined, log: (s: string) => void): Promise<{ result: WorkerResult; samples: Sample[] }> {
  const child = spawnTracked(NODE, [WORKER, JSON.stringify(w)], { cpu, env: cleanEnv({}) });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const line of d.split('\n')) if (line.startsWith('window ')) log(`soak: ${line}`);
  });
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  const samples: Sample[] = [sample(serverPid)];
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + (w.warmupSeconds + w.seconds) * 1000 + 4 * w.timeoutMs + 60_000;
  while (!done) {
    await sleep(1000);
    samples.push(sample(serverPid));
    if (Date.now() > deadline) {
      await stop(child, 1000);
      throw new Error('soak worker: timed out');
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`soak worker exited ${code}:\n${stderr.slice(-2000)}`);
  return { result: JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as WorkerResult, samples };
}

function describeWindow(r: WorkerResult['windows'][number], samples: readonly Sample[], cpus: SoakResults['cpus']): SoakWindow {
  const seconds = (r.endMs - r.startMs) / 1000;
  const at = (ms: number): Sample | undefined => {
    let found: Sample | undefined;
    for (const s of samples) if (s.atMs <= ms) found = s;
    return found ?? samples[0];
  };
  const a = at(r.startMs);
  const b = at(r.endMs);
  const end = sampleAt(samplesAsMemory(samples), r.endMs);
  const cpuPct = a?.cpuSeconds !== undefined && b?.cpuSeconds !== undefined && b.atMs > a.atMs ? (100 * (b.cpuSeconds - a.cpuSeconds)) / ((b.atMs - a.atMs) / 1000) : undefined;
  const ok = KINDS.reduce((n, k) => n + r.ops[k].ok, 0);
  return {
    index: r.index,
    seconds,
    okPerSecond: ok / seconds,
    httpPerSecond: r.httpRequests / seconds,
    ops: r.ops,
    errors: r.errors,
    rssMiB: end ? end.rssKiB / 1024 : undefined,
    anonMiB: end ? end.anonKiB / 1024 : undefined,
    fileMiB: end ? end.fileKiB / 1024 : undefined,
    serverCpuPct: cpuPct,
    workCorePct: a && b ? coreBusy(a.cores, b.cores, cpus.work) : undefined,
    loadCorePct: a && b ? coreBusy(a.cores, b.cores, cpus.load) : undefined,
    clientLoopDelayP99Ms: r.clientLoopDelayP99Ms,
  };
}

const samplesAsMemory = (samples: readonly Sample[]): MemorySample[] => samples.flatMap((s) => (s.memory ? [s.memory] : []));

/** Warning (40) and error (50+) lines of the server's pino log. */
async function scanLog(file: string): Promise<SoakResults['serverLog']> {
  let warnings = 0;
  let errors = 0;
  let bytes = 0;
  const examples: string[] = [];
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    bytes += line.length + 1;
    const m = /"level":(\d+)/.exec(line);
    const level = m ? Number(m[1]) : line.trim() === '' ? 0 : 50; // not pino: a crash trace
    if (level >= 50) errors++;
    else if (level >= 40) warnings++;
    else continue;
    if (examples.length < 3) examples.push(line.slice(0, 300));
  }
  return { warnings, errors, examples, bytes };
}

async function statusClasses(base: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    for (const m of text.matchAll(/^cairn_http_requests_total\{[^}]*status="(\dxx)"[^}]*\} (\d+)/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  } catch {
    // No metrics: the client's counts stand alone.
  }
  return out;
}

const addErrors = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

// -------------------------------------------------------------------------------------------------

export async function soakPhase(tmp: string, cpus: SoakResults['cpus'], o: SoakOptions, log: (s: string) => void): Promise<SoakResults> {
  const dir = join(tmp, 'soak');
  const { data, certs, devicesFile } = await prepare(dir, o, cpus.work, log);
  const port = await freePort();
  const logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'a');
  let server: ReturnType<typeof spawnTracked>;
  try {
    server = spawnTracked(NODE, [CLI, 'serve'], {
      cpu: cpus.work,
      env: cleanEnv({
        CAIRN_DATA_DIR: data,
        CAIRN_CERTS_DIR: certs,
        CAIRN_ADMIN_SECRET: ADMIN_SECRET,
        CAIRN_HTTP_PORT: String(port),
        CAIRN_VERIFY_RATE_LIMIT: '1000000000',
        CAIRN_VERIFY_RATE_PER_SECOND: '1000000000',
      }),
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(server, `${base}/api/handles/${PREFIX}/soak-1`, () => readFileSync(logFile, 'utf8').slice(-2000), 60_000);
    const common = {
      base,
      prefix: PREFIX,
      handles: o.handles,
      admin: `Basic ${Buffer.from(`${encodeURIComponent(`300:0.NA/${PREFIX}`)}:${ADMIN_SECRET}`).toString('base64')}`,
      devicesFile,
      timeoutMs: o.timeoutMs,
    };

    log(`soak: capacity, closed loop, ${o.connections} operations in flight, ${o.capacityWarmupSeconds} s warm-up + ${o.capacitySeconds} s`);
    const cap = await runWorker(
      { ...common, mode: 'closed', tag: 'cap', connections: o.connections, waitingCap: 0, warmupSeconds: o.capacityWarmupSeconds, seconds: o.capacitySeconds, rate: 0, windowSeconds: o.capacitySeconds },
      cpus.load,
      server.pid,
      log,
    );
    const capacity = { ...describeWindow(cap.result.windows[0]!, cap.samples, cpus), okOps: cap.result.ok };
    const rate = o.load * capacity.okPerSecond;
    log(`soak: capacity ${capacity.okPerSecond.toFixed(0)} operations/s (server CPU ${capacity.serverCpuPct?.toFixed(0) ?? 'n/a'}%); soaking ${o.seconds} s at ${rate.toFixed(0)}/s`);
    if (!(rate > 0)) throw new Error(`soak: no capacity measured (${JSON.stringify(capacity.errors)})`);

    // An operation that would wait for a slot longer than the timeout is dropped.
    const waitingCap = Math.ceil((rate * o.timeoutMs) / 1000);
    const soak = await runWorker({ ...common, mode: 'open', tag: 'soak', connections: o.openConnections, waitingCap, warmupSeconds: 0, seconds: o.seconds, rate, windowSeconds: o.windowSeconds }, cpus.load, server.pid, log);
    const windows = soak.result.windows.map((w) => describeWindow(w, soak.samples, cpus));
    const peakRssMiB = vmHwmMiB(server.pid);
    const serverStatusClasses = await statusClasses(base);
    const serverAlive = server.exitCode === null && server.signalCode === null;
    await stop(server);
    const serverLog = await scanLog(logFile);

    const errors: Record<string, number> = {};
    for (const w of windows) addErrors(errors, w.errors);
    if (!serverAlive) errors['server exited'] = 1;
    const totalErrors = Object.values(errors).reduce((a, b) => a + b, 0);
    const first = windows[0]!;
    const last = windows.at(-1)!;
    const memory = samplesAsMemory(soak.samples);
    const firstMem = sampleAt(memory, soak.result.windows[0]!.endMs);
    const lastMem = sampleAt(memory, soak.result.windows.at(-1)!.endMs);
    const p99Drift = Object.fromEntries(KINDS.map((k) => [k, drift(first.ops[k].p99Ms, last.ops[k].p99Ms)])) as Record<Kind, number | undefined>;
    return {
      date: new Date().toISOString().slice(0, 10),
      cpus,
      options: o,
      capacity,
      rate,
      scheduled: soak.result.scheduled,
      completed: soak.result.completed,
      ok: soak.result.ok,
      windows,
      errors,
      totalErrors,
      p99Drift,
      growthMiB: { rss: growthMiB(firstMem, lastMem, 'rssKiB'), anon: growthMiB(firstMem, lastMem, 'anonKiB'), file: growthMiB(firstMem, lastMem, 'fileKiB') },
      peakRssMiB,
      serverLog,
      serverAlive,
      serverStatusClasses,
    };
  } finally {
    await stop(server);
  }
}

// -------------------------------------------------------------------------------------------------
// Report

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number | undefined): string => (n === undefined ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtX = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(2)}x`);
const fmtMiB = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n >= 0 ? '+' : ''}${n.toFixed(1)} MiB`);
const fmtPct = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(0)}%`);
const fmtErrors = (e: Record<string, number>): string =>
  Object.keys(e).length === 0
    ? '0'
    : Object.entries(e)
        .map(([k, v]) => `${fmtInt(v)} ${k}`)
        .join('; ');
const duration = (s: number): string => (s >= 120 && s % 60 === 0 ? `${s / 60} min` : `${s} s`);
const worstDrift = (r: SoakResults): number | undefined => {
  const xs = KINDS.map((k) => r.p99Drift[k]).filter((x): x is number => x !== undefined);
  return xs.length > 0 ? Math.max(...xs) : undefined;
};

export function soakSummaryRow(r: SoakResults): string {
  return `| ${ROW} at ${Math.round(r.options.load * 100)}% of capacity, ${duration(r.options.seconds)} | ${fmtInt(r.totalErrors)} errors in ${fmtInt(r.completed)} operations; p99 drift ${fmtX(worstDrift(r))} (worst kind); RSS ${fmtMiB(r.growthMiB.rss)} | ${fmtInt(r.capacity.okPerSecond)} operations/s capacity (closed loop) | ${r.options.load.toFixed(2)}x load | no errors | ${r.totalErrors === 0 ? 'yes' : '**NO**'} |`;
}

/** One line for the console. */
export function soakOneLine(r: SoakResults): string {
  return `Soak: ${duration(r.options.seconds)} at ${fmtInt(r.rate)} operations/s (${Math.round(r.options.load * 100)}% of ${fmtInt(r.capacity.okPerSecond)}): ${fmtInt(r.totalErrors)} errors${r.totalErrors > 0 ? ` (${fmtErrors(r.errors)})` : ''}; p99 drift ${KINDS.map((k) => `${k} ${fmtX(r.p99Drift[k])}`).join(', ')}; RSS ${fmtMiB(r.growthMiB.rss)} (anon ${fmtMiB(r.growthMiB.anon)}, file ${fmtMiB(r.growthMiB.file)})`;
}

export function soakSection(r: SoakResults, partial: string | undefined): string[] {
  const o = r.options;
  const L: string[] = [SOAK_SECTION, ''];
  if (partial) L.push(`Written by \`${partial}\` on ${r.date}, apart from the full run.`, '');
  L.push(
    `- Data: a fresh data directory with ${fmtInt(o.handles)} handles \`${PREFIX}/soak-N\` (\`cairn import\`), one manufacturer with a device-signature class and`,
    `  ${fmtInt(o.items)} items, each with its own Ed25519 device key (\`cairn products import\`).`,
    `- Server: \`cairn serve\` with default settings (log level info, its log to a file), pinned to ${r.cpus.work === undefined ? 'no core' : `CPU ${r.cpus.work}`},`,
    '  except `CAIRN_VERIFY_RATE_LIMIT` and `CAIRN_VERIFY_RATE_PER_SECOND` raised: every verifier here is 127.0.0.1, whose default',
    '  allowance (30, then 1/s) would refuse nearly every verification with 429.',
    `- Load: tests/bench/soak-worker.ts (node:http, keep-alive) pinned to ${r.cpus.load === undefined ? 'no core' : `CPU ${r.cpus.load}`}. Mix per 10 operations: 8 resolves`,
    `  (\`GET /api/handles/${PREFIX}/soak-N\`, N random), 1 registration (\`PUT /api/handles/${PREFIX}/soak-soak-K?overwrite=false\` as the prefix admin, HTTP Basic;`,
    '  expects 201), 1 verification (`POST /api/verify/challenges`, the device signs the challenge, `POST /api/verify`: expects verdict "genuine";',
    '  two HTTP requests, timed together).',
    `- Capacity: closed loop, ${o.connections} operations in flight, ${o.capacityWarmupSeconds} s warm-up then ${o.capacitySeconds} s: ${fmtInt(r.capacity.okPerSecond)} operations/s`,
    `  (${fmtInt(r.capacity.httpPerSecond)} HTTP requests/s; server process CPU ${fmtPct(r.capacity.serverCpuPct)}, server core busy ${fmtPct(r.capacity.workCorePct)}, load-generator core busy`,
    `  ${fmtPct(r.capacity.loadCorePct)}; errors: ${fmtErrors(r.capacity.errors)}). Server process CPU well short of 100% means something else set the capacity:`,
    '  the load generator, or other processes on the server\'s core (core busy minus process CPU).',
    `- Soak: open loop at ${Math.round(o.load * 100)}% of that, ${fmtInt(r.rate)} operations/s for ${duration(o.seconds)}: each operation has a fixed start time and its latency runs`,
    `  from that time, so queueing counts. At most ${o.openConnections} operations in flight (one keep-alive socket each) and ${fmtInt(Math.ceil((r.rate * o.timeoutMs) / 1000))} waiting for a slot`,
    `  (${o.timeoutMs / 1000} s of schedule); past that an operation is dropped (an error), so the loop cannot run away.`,
    `  Errors: any status but the expected one, socket errors, no answer within ${o.timeoutMs / 1000} s, drops, verdicts other than genuine. Budget: none.`,
    `- Memory: the server's VmRSS, RssAnon and RssFile from /proc/PID/status at the end of each window (sampled every second); growth is the last`,
    '  window\'s end minus the first window\'s end. The V8 heap is not shown: /metrics exposes no process figures.',
    '',
  );
  L.push(
    '| window | operations/s (HTTP/s) | resolve p50 / p99 | register p50 / p99 | verify p50 / p99 | errors | server RSS (anon + file) | server CPU | server core busy | load core busy | client loop delay p99 |',
    '|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  );
  for (const w of r.windows) {
    const lat = (k: Kind): string => `${fmtMs(w.ops[k].p50Ms)} / ${fmtMs(w.ops[k].p99Ms)} ms`;
    const mem = w.rssMiB === undefined ? 'n/a' : `${w.rssMiB.toFixed(0)} MiB (${w.anonMiB!.toFixed(0)} + ${w.fileMiB!.toFixed(0)})`;
    L.push(
      `| ${w.index + 1} | ${fmtInt(w.okPerSecond)} (${fmtInt(w.httpPerSecond)}) | ${lat('resolve')} | ${lat('register')} | ${lat('verify')} | ${fmtErrors(w.errors)} | ${mem} | ${fmtPct(w.serverCpuPct)} | ${fmtPct(w.workCorePct)} | ${fmtPct(w.loadCorePct)} | ${fmtMs(w.clientLoopDelayP99Ms)} ms |`,
    );
  }
  L.push('');
  L.push(
    `- **Errors: ${fmtInt(r.totalErrors)}** in ${fmtInt(r.completed)} operations (${fmtInt(r.scheduled)} scheduled)${r.totalErrors > 0 ? `: ${fmtErrors(r.errors)}` : ''}.`,
    `- p99 drift (last window / first): ${KINDS.map((k) => `${k} ${fmtX(r.p99Drift[k])}`).join(', ')}.`,
    `- Memory growth (last window / first): RSS ${fmtMiB(r.growthMiB.rss)} (anonymous ${fmtMiB(r.growthMiB.anon)}, file-backed ${fmtMiB(r.growthMiB.file)}); peak RSS (VmHWM) ${r.peakRssMiB === undefined ? 'n/a' : `${r.peakRssMiB.toFixed(0)} MiB`}.`,
    `- Server: ${r.serverAlive ? 'running at the end' : '**exited during the run**'}; its log: ${fmtInt(r.serverLog.bytes / 2 ** 20)} MiB, ${r.serverLog.warnings} warning and ${r.serverLog.errors} error lines; \`cairn_http_requests_total\` at the end (capacity run included): ${Object.entries(r.serverStatusClasses).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') || 'n/a'}.`,
  );
  for (const e of r.serverLog.examples) L.push(`  - \`${e.replace(/`/g, "'")}\``);
  L.push(
    '',
    'Reproduce: `npm run bench -- --only soak` (10 minutes; `--soak-seconds N` to change it, `--quick` for 30 s). The run exits 1 when any error',
    'occurred, after writing this section.',
    '',
    '<details><summary>Raw results (JSON)</summary>',
    '',
    '```json',
    JSON.stringify(r),
    '```',
    '',
    '</details>',
  );
  return L;
}

export function spliceSoak(existing: string | undefined, r: SoakResults, partial: string | undefined): string {
  return splicePhase(existing, [ROW], [soakSummaryRow(r)], SOAK_SECTION, soakSection(r, partial));
}
