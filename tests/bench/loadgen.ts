/**
 * The HTTP load generator: `wrk` when installed, else autocannon (a devDependency) run as its own
 * process. Both run keep-alive GETs over a fixed number of connections for a fixed time, pinned
 * to the load generator's core.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked } from './procs.js';

export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon';
  readonly version: string;
  /** Why this one was chosen. */
  readonly reason: string;
  /** Human-readable settings, for the report. */
  settings(connections: number, seconds: number): string;
  run(url: string, connections: number, seconds: number, cpu: number | undefined): Promise<LoadResult>;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly bytes: number | undefined;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP99Ms: number | undefined;
  readonly non2xx: number;
  readonly errors: number;
}

export function wrkVersion(): string | undefined {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (r.error) return undefined;
  const m = /wrk\s+(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  return m ? m[1]! : 'unknown';
}

const toMs = (value: string, unit: string): number => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 } as Record<string, number>)[unit]!;
const toBytes = (value: string, unit: string): number =>
  Number(value) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 } as Record<string, number>)[unit]!;

export function parseWrk(out: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!total || !rps) throw new Error(`unexpected wrk output:\n${out}`);
  const pct = (p: string): number | undefined => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : undefined;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const requests = Number(total[1]);
  return {
    requests,
    seconds: toMs(total[2]!, total[3]!) / 1000,
    rps: Number(rps[1]),
    bytes: toBytes(total[4]!, total[5]!),
    latencyP50Ms: pct('50'),
    latencyP99Ms: pct('99'),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
  };
}

export function wrk(version: string, reason: string): LoadGenerator {
  return {
    name: 'wrk',
    version,
    reason,
    settings: (c, s) => `wrk -t1 -c${c} -d${s}s --timeout 5s --latency (1 thread, ${c} keep-alive connections, ${s} s)`,
    async run(url, connections, seconds, cpu) {
      const r = await runChecked('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url], {
        cpu,
        timeoutMs: (seconds + 30) * 1000,
      });
      return parseWrk(r.stdout);
    },
  };
}

interface AutocannonJson {
  readonly duration: number;
  readonly requests: { readonly total: number; readonly average: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly throughput: { readonly total: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

export function autocannon(repoRoot: string, reason: string): LoadGenerator {
  const script = join(repoRoot, 'node_modules', 'autocannon', 'autocannon.js');
  if (!existsSync(script)) throw new Error(`neither wrk nor ${script} is available`);
  const pkg = spawnSync(process.execPath, ['-p', `require(${JSON.stringify(join(repoRoot, 'node_modules', 'autocannon', 'package.json'))}).version`], {
    encoding: 'utf8',
  });
  return {
    name: 'autocannon',
    version: pkg.stdout?.trim() || 'unknown',
    reason,
    settings: (c, s) => `node node_modules/autocannon/autocannon.js -c ${c} -p 1 -d ${s} -j (one process, ${c} keep-alive connections, no pipelining, ${s} s)`,
    async run(url, connections, seconds, cpu) {
      const r = await runChecked(process.execPath, [script, '-c', String(connections), '-p', '1', '-d', String(seconds), '-j', url], {
        cpu,
        timeoutMs: (seconds + 30) * 1000,
      });
      const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (!line) throw new Error(`unexpected autocannon output:\n${r.stdout}\n${r.stderr}`);
      const j = JSON.parse(line) as AutocannonJson;
      return {
        requests: j.requests.total,
        seconds: j.duration,
        rps: j.requests.total / j.duration,
        bytes: j.throughput.total,
        latencyP50Ms: j.latency.p50,
        latencyP99Ms: j.latency.p99,
        non2xx: j.non2xx,
        errors: j.errors + j.timeouts,
      };
    },
  };
}

/** wrk if installed (unless `force` says otherwise), else autocannon. */
export function pickLoadGenerator(repoRoot: string, force: 'wrk' | 'autocannon' | undefined): LoadGenerator {
  const version = force === 'autocannon' ? undefined : wrkVersion();
  if (version !== undefined) return wrk(version, force === 'wrk' ? 'forced with --loadgen wrk' : 'installed, preferred');
  if (force === 'wrk') throw new Error('--loadgen wrk: wrk is not installed (apt-get install -y wrk)');
  return autocannon(repoRoot, force === 'autocannon' ? 'forced with --loadgen autocannon' : 'fallback: wrk is not installed');
}
