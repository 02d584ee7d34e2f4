/**
 * Knot DNS as the anchor of the ORS benchmark: a generated configuration in a temporary folder
 * (one UDP, one TCP and one background worker, loopback only, the zone file Cairn exported), the
 * server started in the foreground as a tracked child pinned with taskset, and stopped by its pid.
 *
 * knotd sets the CPU affinity of its UDP workers itself (worker i on CPU i mod online CPUs, not
 * limited to the taskset it was started with), so once it is up every thread is pinned again
 * with `taskset -a -p`; the affinity of each thread before and after is kept for the report.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked, spawnTracked } from './procs.js';

export interface KnotServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly configFile: string;
  readonly logFile: string;
  readonly config: string;
}

/** `knotd --version`, or undefined when knotd is not installed. */
export function knotdVersion(): string | undefined {
  const r = spawnSync('knotd', ['--version'], { encoding: 'utf8' });
  if (r.error) return undefined;
  return /version\s+(\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'unknown';
}

/** Knot's configuration for serving `zoneFile` as `domain` on 127.0.0.1@port, everything under `dir`. */
export function knotConfig(dir: string, port: number, domain: string, zoneFile: string): string {
  return [
    'server:',
    `    rundir: "${join(dir, 'run')}"`,
    `    listen: 127.0.0.1@${port}`,
    '    udp-workers: 1',
    '    tcp-workers: 1',
    '    background-workers: 1',
    'database:',
    `    storage: "${join(dir, 'db')}"`,
    'log:',
    '  - target: stderr',
    '    any: notice',
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    'zone:',
    `  - domain: ${domain}`,
    `    file: "${zoneFile}"`,
    '',
  ].join('\n');
}

/** Starts knotd in the foreground on `cpu`; the caller waits for the zone to answer. */
export function startKnot(dir: string, port: number, domain: string, zoneFile: string, cpu: number | undefined): KnotServer {
  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'db'), { recursive: true });
  const config = knotConfig(dir, port, domain, zoneFile);
  const configFile = join(dir, 'knot.conf');
  writeFileSync(configFile, config);
  const logFile = join(dir, 'knotd.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnTracked('knotd', ['-c', configFile], { cpu, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  return { child, port, configFile, logFile, config };
}

/** The CPUs each thread of `pid` may run on (`Cpus_allowed_list`), by thread id. */
export function threadAffinities(pid: number | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out[tid] = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '?';
    }
  } catch {
    // No /proc or the process is gone.
  }
  return out;
}

/** Pins every thread of `pid` to `cpu` (`taskset -a -c -p`). */
export async function pinAllThreads(pid: number, cpu: number): Promise<void> {
  await runChecked('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { timeoutMs: 10_000 });
}
