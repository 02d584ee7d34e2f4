import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/**
 * Runs the built `cairn` CLI (dist/src/cli/main.js) in child processes: one-shot commands and
 * `cairn serve`. Every child started here is tracked so that `killAllChildren()` (called from
 * afterAll) leaves nothing behind, whatever a test did.
 */

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root from tests/helpers/child.ts');
}

export const ROOT = findRoot();
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Fails loudly when the compiled CLI is missing or older than the sources it is built from. */
export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const built = newestMtime(join(ROOT, 'dist', 'src'));
  const source = newestMtime(join(ROOT, 'src'));
  if (source > built) throw new Error('dist/ is older than src/: run `npm run build` first (these tests spawn the compiled CLI)');
}

type Child = ChildProcessByStdio<null, Readable, Readable>;
const children = new Set<Child>();

/** The parent's environment without any CAIRN_* setting, plus `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CAIRN_')) base[k] = v;
  return { ...base, ...env };
}

function spawnCli(args: readonly string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cairn ARGS` to completion (killed after `timeoutMs`). */
export function runCairn(args: readonly string[], env: Record<string, string>, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServerChild {
  readonly child: Child;
  readonly pid: number;
  /** `http://127.0.0.1:PORT`, from the ready line. */
  readonly url: string;
  /** The parsed ready log line. */
  readonly ready: Record<string, unknown>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the server wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILL, and wait for the exit. */
  crash(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful shutdown), SIGKILL after `timeoutMs`; resolves with how it exited. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `cairn serve` with `env` (CAIRN_HTTP_PORT defaults to 0, CAIRN_LOG_LEVEL to info: the
 * ready line is logged at info) and resolves once it has logged `"event":"ready"`.
 */
export function startServer(env: Record<string, string>, timeoutMs = 15_000): Promise<ServerChild> {
  const child = spawnCli(['serve'], { CAIRN_HTTP_PORT: '0', CAIRN_DNS_PORT: '0', CAIRN_DOIP_PORT: '0', CAIRN_LOG_LEVEL: 'info', ...env });
  const tail: string[] = [];
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > 50) tail.shift();
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const output = (): string => tail.join('\n');
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}\n--- server output ---\n${output()}`));
    };
    const timer = setTimeout(() => fail(`cairn serve did not log "ready" within ${timeoutMs} ms`), timeoutMs);
    child.once('error', (e) => fail(`cairn serve could not start: ${e.message}`));
    void exited.then(({ code, signal }) => fail(`cairn serve exited before ready (code ${code}, signal ${signal})`));
    child.stderr.setEncoding('utf8').on('data', (s: string) => s.split('\n').filter(Boolean).forEach(remember));
    let buffered = '';
    // Keep draining stdout for the whole life of the child: at info level every request is logged.
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      buffered += s;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        remember(line);
        if (settled || !line.includes('"event":"ready"')) continue;
        let ready: Record<string, unknown>;
        try {
          ready = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (typeof ready.http !== 'string') continue;
        settled = true;
        clearTimeout(timer);
        const stop = async (ms = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const timeout = setTimeout(() => child.kill('SIGKILL'), ms);
          try {
            return await exited;
          } finally {
            clearTimeout(timeout);
          }
        };
        const crash = async (): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          return exited;
        };
        resolve({ child, pid: child.pid!, url: ready.http, ready, exited, output, crash, stop });
      }
    });
  });
}

/** Kills every child still running (for afterAll and finally blocks). */
export async function killAllChildren(): Promise<void> {
  const running = [...children];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
