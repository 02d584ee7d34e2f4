/**
 * Child processes of the benchmark: every one is registered so that `killAll()` can end them on
 * completion, on error, on a signal and on the global deadline. Children are pinned to a CPU with
 * `taskset` when it is available (taskset execs the program, so the pid is the program's).
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { ENVIRONMENT } from '../../src/config.js';

const children = new Set<ChildProcess>();

export const hasTaskset: boolean = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** The command line that runs `cmd args` on `cpu` (or unpinned without taskset or cpu). */
export function pinned(cpu: number | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return hasTaskset && cpu !== undefined ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, [...args]];
}

/** Every listener port setting of Cairn (CAIRN_HTTP_PORT, CAIRN_DNS_PORT, ...). */
const PORT_SETTINGS = Object.entries(ENVIRONMENT)
  .filter(([key]) => key.endsWith('Port'))
  .map(([, name]) => name);

/**
 * The environment without any inherited CAIRN_* setting, plus `extra`. Every listener port is 0
 * (a free port) unless `extra` names one, so that servers started side by side never contend for
 * a default port such as DNS's 5353.
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CAIRN_')) env[k] = v;
  for (const name of PORT_SETTINGS) env[name] = '0';
  return { ...env, ...extra };
}

export interface SpawnOptions {
  readonly cpu?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdio?: StdioOptions;
  readonly cwd?: string;
}

export function spawnTracked(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [c, a] = pinned(opts.cpu, cmd, args);
  const child = spawn(c, a, { env: opts.env ?? process.env, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to completion, capturing its output; kills it after `timeoutMs`. */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawnTracked(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs} ms`));
      else resolve({ code, signal, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    });
  });
}

/** `run`, failing unless the command exits 0. */
export async function runChecked(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs: number }): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
  return r;
}

/** Ends a child: SIGTERM, then SIGKILL after `graceMs`. */
export function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function killAll(): Promise<void> {
  await Promise.all([...children].map((c) => stop(c, 3000)));
}

/** Synchronous last resort (process 'exit' handler). */
export function killAllSync(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system, all threads) a process has used, in seconds; undefined without /proc. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Busy and total jiffies per CPU from /proc/stat, to tell how loaded each core was during a run. */
export function cpuTimes(): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>();
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out.set(Number(m[1]), { busy: total - idle, total });
    }
  } catch {
    // No /proc: no per-core figures.
  }
  return out;
}

/** Percentage busy of `cpu` between two `cpuTimes()` snapshots. */
export function coreBusy(before: Map<number, { busy: number; total: number }>, after: Map<number, { busy: number; total: number }>, cpu: number | undefined): number | undefined {
  if (cpu === undefined) return undefined;
  const a = before.get(cpu);
  const b = after.get(cpu);
  if (!a || !b || b.total === a.total) return undefined;
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}

/**
 * Waits until `url` answers 200, polling every `pollMs`; fails at once when `child` exits, with
 * `describe()` (the end of its log) in the message.
 */
export async function waitHttp(child: ChildProcess, url: string, describe: () => string, timeoutMs = 30_000, pollMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before answering:\n${describe()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(pollMs);
  }
  throw new Error(`server did not answer ${url} within ${timeoutMs} ms:\n${describe()}`);
}
