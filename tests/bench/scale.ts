/**
 * `npm run bench -- --scale` (issue 8): resolution latency, start-up time, resident memory and
 * on-disk size as the store grows from 10^4 to 10^7 handle records (tests/bench/scale-fixture.ts
 * makes and caches the data). For each size a real `cairn serve` starts on the cached directory,
 * pinned to the work core; wrk (on the load core) resolves uniformly random records with one
 * connection (the service time) and with 32 keep-alive connections (the loaded latency).
 *
 * Budgets (issue 8): p50 at 10^7 less than 1.5x the p50 at 10^4; start-up at 10^7 under 2 s;
 * memory independent of the record count (resident memory after the same load, compared between
 * the smallest and the largest store).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWrk, type LoadResult } from './loadgen.js';
import { freePort, runChecked, sleep, spawnTracked, stop, waitHttp } from './procs.js';
import { splicePhase } from './report-splice.js';
import { scaleEnv, scaleFixtures, scaleHandle, scaleOid, scaleSign, type ScaleFixture } from './scale-fixture.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');

export const SCALE_LATENCY_BUDGET = 1.5;
export const SCALE_STARTUP_BUDGET_S = 2;
/** Resident memory after the same load may grow by at most this factor from the smallest store to the largest. */
export const SCALE_MEMORY_BUDGET = 1.5;
const STARTS = 3;

export interface ScaleOptions {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly oids: number;
  readonly signs: number;
  /** Seconds per wrk run. */
  readonly seconds: number;
  readonly warmup: number;
  /** For the largest store, a second run of the handle load with this CAIRN_STORE_MAX_OPEN_FILES (0: none). */
  readonly variantMaxOpenFiles: number;
}

type Family = 'handle' | 'oid' | 'its';

interface Memory {
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
}

interface FamilyLatency {
  readonly single: LoadResult;
  readonly loaded: LoadResult;
}

export interface ScalePoint {
  readonly handles: number;
  readonly oids: number;
  readonly signs: number;
  readonly bytes: number;
  readonly generatedSeconds: number;
  /** Seconds from spawn to the first 200, per start (the first may do one-time work). */
  readonly startups: readonly number[];
  /** The server's `startupMs` of each start (every listener bound), in seconds. */
  readonly readies: readonly number[];
  readonly afterStart: Memory;
  /** After the handle load alone: the same load at every size. */
  readonly afterHandles: Memory;
  readonly afterLoad: Memory;
  readonly families: Partial<Record<Family, FamilyLatency>>;
  /** The largest store again, with more LevelDB table files open. */
  readonly variant?: { readonly maxOpenFiles: number; readonly startup: number; readonly handle: FamilyLatency; readonly afterHandles: Memory };
}

export interface ScaleResults {
  readonly date: string;
  readonly points: readonly ScalePoint[];
}

const records = (p: ScalePoint): number => p.handles + p.oids + p.signs;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function memoryOf(pid: number | undefined): Memory {
  const text = pid === undefined ? '' : readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, anonMiB: kb('RssAnon') / 1024, fileMiB: kb('RssFile') / 1024 };
}

function dirBytes(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]) || 0;
}

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  /** Spawn to the first 200 of HTTP. */
  readonly seconds: number;
  /** The server's own figure: process start to every listener (HTTP, DNS, DOIP) bound. */
  readonly readySeconds: number;
}

const readyLines = (logFile: string): string[] => readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"event":"ready"'));

/** Starts `cairn serve` on the fixture and times spawn to the first 200 for a generated handle. */
async function startTimed(f: ScaleFixture, logFile: string, cpu: number | undefined, extra: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const fd = openSync(logFile, 'a');
  const readyBefore = readyLines(logFile).length;
  const t0 = process.hrtime.bigint();
  let child: ChildProcess;
  try {
    child = spawnTracked(process.execPath, [CLI, 'serve'], { cpu, env: scaleEnv(f.dataDir, f.certsDir, { CAIRN_HTTP_PORT: String(port), ...extra }), stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const url = `http://127.0.0.1:${port}/api/handles/${scaleHandle(1)}`;
  // The first start after generation may run one-time work (a migration of a store written by older code).
  await waitHttp(child, url, () => `see ${logFile}`, 900_000, 10);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const until = Date.now() + 60_000;
  while (readyLines(logFile).length === readyBefore && Date.now() < until) await sleep(10);
  const ready = JSON.parse(readyLines(logFile).at(-1) ?? '{}') as { startupMs?: number };
  return { child, port, seconds, readySeconds: (ready.startupMs ?? NaN) / 1000 };
}

/** A wrk script requesting uniformly random generated handles, or random lines of a paths file. */
function luaScript(dir: string, family: Family, f: ScaleFixture): string {
  const file = join(dir, `${family}.lua`);
  let body: string;
  if (family === 'handle') {
    body = [`math.randomseed(20260)`, `local n = ${f.counts.handles}`, `request = function() return wrk.format("GET", "/api/handles/${encodeURI(scaleHandle(0).replace(/0$/, ''))}" .. math.random(n)) end`].join('\n');
  } else {
    const paths = join(dir, `${family}.paths`);
    const count = family === 'oid' ? f.counts.oids : f.counts.signs;
    const lines: string[] = [];
    for (let n = 1; n <= count; n++) lines.push(family === 'oid' ? `/api/oids/${scaleOid(n)}` : `/api/its/${encodeURIComponent(scaleSign(n))}`);
    writeFileSync(paths, `${lines.join('\n')}\n`);
    body = [
      `local paths = {}`,
      `for line in io.lines("${paths}") do paths[#paths + 1] = line end`,
      `math.randomseed(20261)`,
      `request = function() return wrk.format("GET", paths[math.random(#paths)]) end`,
    ].join('\n');
  }
  writeFileSync(file, `${body}\n`);
  return file;
}

async function wrk(port: number, script: string, connections: number, seconds: number, cpu: number | undefined): Promise<LoadResult> {
  const r = await runChecked('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', script, `http://127.0.0.1:${port}`], {
    cpu,
    timeoutMs: (seconds + 60) * 1000,
  });
  return parseWrk(r.stdout);
}

export async function scalePhase(tmp: string, cpus: { work: number | undefined; load: number | undefined }, o: ScaleOptions, log: (s: string) => void): Promise<ScaleResults> {
  const wrkOk = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (!wrkOk) throw new Error('--scale needs wrk (apt-get install -y wrk)');
  const work = join(tmp, 'scale');
  mkdirSync(work, { recursive: true });
  const fixtures = await scaleFixtures(o.sizes, { oids: o.oids, signs: o.signs }, log);
  const points: ScalePoint[] = [];
  for (const f of fixtures) {
    const logFile = join(work, `serve-${f.counts.handles}.log`);
    log(`scale: ${f.counts.handles} handles, ${f.counts.oids} OIDs, ${f.counts.signs} signs in ${f.dir}`);
    const startups: number[] = [];
    const readies: number[] = [];
    let running: Running | undefined;
    for (let i = 0; i < STARTS; i++) {
      if (running) await stop(running.child);
      running = await startTimed(f, logFile, cpus.work);
      startups.push(running.seconds);
      readies.push(running.readySeconds);
    }
    const server = running!;
    const afterStart = memoryOf(server.child.pid);
    log(`scale: start-up ${startups.map((s) => s.toFixed(2)).join(', ')} s (all listeners: ${readies.map((s) => s.toFixed(2)).join(', ')} s); RSS ${afterStart.rssMiB.toFixed(0)} MiB`);
    const families: Partial<Record<Family, FamilyLatency>> = {};
    let afterHandles: Memory | undefined;
    const kinds: Family[] = ['handle', ...(f.counts.oids > 0 ? (['oid'] as const) : []), ...(f.counts.signs > 0 ? (['its'] as const) : [])];
    try {
      for (const family of kinds) {
        const script = luaScript(work, family, f);
        await wrk(server.port, script, 32, o.warmup, cpus.load);
        const single = await wrk(server.port, script, 1, o.seconds, cpus.load);
        const loaded = await wrk(server.port, script, 32, o.seconds, cpus.load);
        for (const r of [single, loaded]) if (r.non2xx > 0 || r.errors > 0) throw new Error(`scale: ${family} answers were not all 200 (${r.non2xx} non-2xx, ${r.errors} errors); see ${logFile}`);
        families[family] = { single, loaded };
        if (family === 'handle') afterHandles = memoryOf(server.child.pid);
        log(`scale: ${family} p50 ${single.latencyP50Ms?.toFixed(3)} ms (1 conn), ${loaded.latencyP50Ms?.toFixed(2)} ms / p99 ${loaded.latencyP99Ms?.toFixed(2)} ms at ${Math.round(loaded.rps)}/s (32 conn)`);
      }
    } finally {
      const afterLoad = memoryOf(server.child.pid);
      await stop(server.child);
      const variant = f === fixtures.at(-1) && o.variantMaxOpenFiles > 0 ? await variantRun(f, work, logFile, cpus, o) : undefined;
      points.push({
        handles: f.counts.handles,
        oids: f.counts.oids,
        signs: f.counts.signs,
        bytes: dirBytes(f.dataDir),
        generatedSeconds: f.seconds.handles + f.seconds.oids + f.seconds.signs,
        startups,
        readies,
        afterStart,
        afterHandles: afterHandles ?? afterLoad,
        afterLoad,
        families,
        ...(variant ? { variant } : {}),
      });
    }
  }
  return { date: new Date().toISOString(), points };
}

/** The handle load once more on the largest store, with CAIRN_STORE_MAX_OPEN_FILES raised. */
async function variantRun(f: ScaleFixture, work: string, logFile: string, cpus: { work: number | undefined; load: number | undefined }, o: ScaleOptions): Promise<ScalePoint['variant']> {
  const server = await startTimed(f, logFile, cpus.work, { CAIRN_STORE_MAX_OPEN_FILES: String(o.variantMaxOpenFiles) });
  try {
    const script = luaScript(work, 'handle', f);
    await wrk(server.port, script, 32, o.warmup, cpus.load);
    const single = await wrk(server.port, script, 1, o.seconds, cpus.load);
    const loaded = await wrk(server.port, script, 32, o.seconds, cpus.load);
    return { maxOpenFiles: o.variantMaxOpenFiles, startup: server.seconds, handle: { single, loaded }, afterHandles: memoryOf(server.child.pid) };
  } finally {
    await stop(server.child);
  }
}

// -------------------------------------------------------------------------------------------------
// Report

export const SCALE_SECTION = '## (f) Scale: 10^4 to 10^7 records';
const ROW_LATENCY = 'Scale: handle resolution p50';
const ROW_STARTUP = 'Scale: start-up';
const ROW_MEMORY = 'Scale: resident memory';
export const SCALE_ROW_LABELS = [ROW_LATENCY, ROW_STARTUP, ROW_MEMORY];

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number | undefined): string => (n === undefined ? 'n/a' : n < 1 ? `${(n * 1000).toFixed(0)} µs` : `${n.toFixed(2)} ms`);
const pow = (n: number): string => {
  const e = Math.log10(n);
  return Number.isInteger(e) ? `10^${e}` : fmtInt(n);
};
const met = (ok: boolean): string => (ok ? 'yes' : '**NO**');

interface Verdicts {
  readonly smallest: ScalePoint;
  readonly largest: ScalePoint;
  /** The store memory is compared with: the next smaller one (see MEMORY_NOTE). */
  readonly memoryBase: ScalePoint;
  readonly growthSingle: number;
  readonly growthLoaded: number;
  readonly startup: number;
  readonly ready: number;
  readonly memoryGrowth: number;
}

function verdicts(r: ScaleResults): Verdicts | undefined {
  const smallest = r.points[0];
  const largest = r.points.at(-1);
  if (!smallest || !largest) return undefined;
  const p50 = (p: ScalePoint, k: 'single' | 'loaded'): number => p.families.handle?.[k].latencyP50Ms ?? NaN;
  const memoryBase = r.points.at(-2) ?? smallest;
  return {
    smallest,
    largest,
    memoryBase,
    growthSingle: p50(largest, 'single') / p50(smallest, 'single'),
    growthLoaded: p50(largest, 'loaded') / p50(smallest, 'loaded'),
    startup: median(largest.startups.slice(1).length > 0 ? largest.startups.slice(1) : largest.startups),
    ready: median(largest.readies.slice(1).length > 0 ? largest.readies.slice(1) : largest.readies),
    memoryGrowth: largest.afterHandles.anonMiB / memoryBase.afterHandles.anonMiB,
  };
}

export function scaleSummaryRows(r: ScaleResults): string[] {
  const v = verdicts(r);
  if (!v) return [];
  const growth = Math.max(v.growthSingle, v.growthLoaded);
  return [
    `| ${ROW_LATENCY} at ${pow(v.largest.handles)} vs ${pow(v.smallest.handles)} records (1 and 32 connections) | ${fmtMs(v.largest.families.handle?.single.latencyP50Ms)} / ${fmtMs(v.largest.families.handle?.loaded.latencyP50Ms)} | ${fmtMs(v.smallest.families.handle?.single.latencyP50Ms)} / ${fmtMs(v.smallest.families.handle?.loaded.latencyP50Ms)} | ${v.growthSingle.toFixed(2)}x / ${v.growthLoaded.toFixed(2)}x | < ${SCALE_LATENCY_BUDGET}x | ${met(growth < SCALE_LATENCY_BUDGET)} |`,
    `| ${ROW_STARTUP} at ${pow(v.largest.handles)} handles (${fmtInt(records(v.largest))} records; median of restarts; first HTTP 200 / all listeners) | ${v.startup.toFixed(2)} s / ${v.ready.toFixed(2)} s | | | < ${SCALE_STARTUP_BUDGET_S} s | ${met(Math.max(v.startup, v.ready) < SCALE_STARTUP_BUDGET_S)} |`,
    `| ${ROW_MEMORY} (anonymous, after the same handle load) at ${pow(v.largest.handles)} vs ${pow(v.memoryBase.handles)} | ${v.largest.afterHandles.anonMiB.toFixed(0)} MiB | ${v.memoryBase.afterHandles.anonMiB.toFixed(0)} MiB | ${v.memoryGrowth.toFixed(2)}x | < ${SCALE_MEMORY_BUDGET}x | ${met(v.memoryGrowth < SCALE_MEMORY_BUDGET)} |`,
  ];
}

export function scaleSection(r: ScaleResults, o: ScaleOptions, command: string): string[] {
  const L: string[] = [SCALE_SECTION, ''];
  const v = verdicts(r);
  if (!v) return [...L, 'Not measured.', ''];
  L.push(
    `Measured ${r.date} by \`${command}\` (tests/bench/scale.ts; data from tests/bench/scale-fixture.ts, cached in tests/artifacts/).`,
    '',
    '- Data: every record was written through the service\'s own write paths (`importBatch` for handles, `oids.put`, `its.createMany`),',
    '  so each is signed (EdDSA), indexed, in the change log and in the transparency log. Handles carry 2 or 3 values (URL, EMAIL,',
    `  DESC on every second). The largest store also holds ${fmtInt(v.largest.oids)} OID arcs and ${fmtInt(v.largest.signs)} road signs; the smaller ones hold handles only.`,
    `- Load: wrk (1 thread, on the load core) requests uniformly random records of the store for ${o.seconds} s, after a ${o.warmup} s warm-up at 32`,
    '  connections: once with 1 connection (the service time of one request) and once with 32 keep-alive connections. The server',
    `  (\`cairn serve\`, default settings, log level info) is pinned to the work core. Start-up: spawn to the first HTTP 200, and the server's own`,
    `  \`startupMs\` (process start to HTTP, DNS and DOIP all bound, from its ready line); ${STARTS} starts in a row;`,
    '  the budget is judged on the restarts (the first start after generation may finish one-time work).',
    '- Memory: /proc/PID/status after start-up, after the handle load (the same load at every size) and after all loads; RssFile',
    '  is LevelDB\'s memory-mapped table files and Node\'s code (page cache the kernel can drop), RssAnon is the process\'s own memory.',
    '  The budget is judged on RssAnon after the handle load, between the two largest stores: the caches are bounded by entries',
    '  (100,000 views, LevelDB\'s 1,000 open tables and 8 MiB of blocks), so memory grows with the store until they are full',
    '  (a 10^4 store never fills them) and must not grow after that.',
    '',
    '| records (handles + OIDs + signs) | on disk | bytes/record | generated in | start-ups: first HTTP 200 (all listeners) | RSS after start (anon + file) | after the handle load | after all loads |',
    '|---|---:|---:|---:|---|---:|---:|---:|',
  );
  for (const p of r.points) {
    L.push(
      `| ${fmtInt(p.handles)} + ${fmtInt(p.oids)} + ${fmtInt(p.signs)} | ${(p.bytes / 2 ** 30).toFixed(2)} GiB | ${fmtInt(p.bytes / records(p))} | ${fmtInt(p.generatedSeconds)} s | ${p.startups.map((s, i) => `${s.toFixed(2)} s (${p.readies[i]!.toFixed(2)} s)`).join(', ')} | ${p.afterStart.rssMiB.toFixed(0)} MiB (${p.afterStart.anonMiB.toFixed(0)} + ${p.afterStart.fileMiB.toFixed(0)}) | ${p.afterHandles.rssMiB.toFixed(0)} MiB (${p.afterHandles.anonMiB.toFixed(0)} + ${p.afterHandles.fileMiB.toFixed(0)}) | ${p.afterLoad.rssMiB.toFixed(0)} MiB (${p.afterLoad.anonMiB.toFixed(0)} + ${p.afterLoad.fileMiB.toFixed(0)}) |`,
    );
  }
  L.push('', '| store (handles) | family | p50, 1 conn | p99, 1 conn | requests/s, 1 conn | p50, 32 conn | p99, 32 conn | requests/s, 32 conn |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const p of r.points) {
    for (const [family, l] of Object.entries(p.families)) {
      L.push(
        `| ${pow(p.handles)} | ${family} | ${fmtMs(l.single.latencyP50Ms)} | ${fmtMs(l.single.latencyP99Ms)} | ${fmtInt(l.single.rps)} | ${fmtMs(l.loaded.latencyP50Ms)} | ${fmtMs(l.loaded.latencyP99Ms)} | ${fmtInt(l.loaded.rps)} |`,
      );
    }
  }
  const variant = v.largest.variant;
  if (variant) {
    const l = variant.handle;
    L.push(
      `| ${pow(v.largest.handles)}, CAIRN_STORE_MAX_OPEN_FILES=${variant.maxOpenFiles} | handle | ${fmtMs(l.single.latencyP50Ms)} | ${fmtMs(l.single.latencyP99Ms)} | ${fmtInt(l.single.rps)} | ${fmtMs(l.loaded.latencyP50Ms)} | ${fmtMs(l.loaded.latencyP99Ms)} | ${fmtInt(l.loaded.rps)} |`,
      '',
      `With ${fmtInt(variant.maxOpenFiles)} table files open (every table of the largest store) the handle p50 is ${((l.single.latencyP50Ms ?? NaN) / (v.smallest.families.handle?.single.latencyP50Ms ?? NaN)).toFixed(2)}x / ${((l.loaded.latencyP50Ms ?? NaN) / (v.smallest.families.handle?.loaded.latencyP50Ms ?? NaN)).toFixed(2)}x of the smallest store's (1 / 32 connections), and the`,
      `process holds ${variant.afterHandles.anonMiB.toFixed(0)} MiB anonymous memory after the handle load (${variant.afterHandles.rssMiB.toFixed(0)} MiB resident) against ${v.largest.afterHandles.anonMiB.toFixed(0)} MiB with the default 1,000: each open table keeps its index and filter blocks in memory.`,
    );
  }
  L.push(
    '',
    `Handle p50 growth from ${pow(v.smallest.handles)} to ${pow(v.largest.handles)} records: ${v.growthSingle.toFixed(2)}x with 1 connection, ${v.growthLoaded.toFixed(2)}x with 32 (budget < ${SCALE_LATENCY_BUDGET}x).`,
    `Start-up at ${pow(v.largest.handles)}: ${v.startup.toFixed(2)} s to the first HTTP answer, ${v.ready.toFixed(2)} s to every listener (budget < ${SCALE_STARTUP_BUDGET_S} s). Anonymous memory after the handle load: ${v.memoryGrowth.toFixed(2)}x of the ${pow(v.memoryBase.handles)} store's (budget < ${SCALE_MEMORY_BUDGET}x).`,
    '',
  );
  return L;
}

export function spliceScale(existing: string | undefined, rows: readonly string[], section: readonly string[]): string {
  return splicePhase(existing, SCALE_ROW_LABELS, rows, SCALE_SECTION, section);
}
