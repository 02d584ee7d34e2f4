import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, CLI, killAllChildren, requireBuiltCli, ROOT, runCairn, startServer } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * `cairn backup` killed by SIGKILL while it writes, with the server stopped (the CLI reads the
 * data directory) and with it running (the CLI downloads the server's stream); then the server
 * killed while it streams a backup. Each time: the file the backup was to replace is untouched
 * (the backup writes `FILE.partial` and renames it only once it is complete and checked), the
 * partial file is refused by `cairn restore` as truncated (ERR_BACKUP_DAMAGED) without creating or
 * touching the target directory, the source store is intact (the doctor finds nothing, the server
 * keeps serving and writing), and the next backup succeeds and restores. A restore killed midway
 * leaves its target as it was (it writes a staging directory and renames it at the end).
 */

const SECRET = 'backup-crash-admin-secret';
const AUTH = basic(ADMIN_IDENTITY, SECRET);
/** About 2.4 MB of backup (40,000 entries): long enough to be killed midway (about half a second idle). */
const HANDLES = 5_000;
const KILLS_PER_MODE = 2;

let root: string;
let source: string;
let certs: string;

beforeAll(async () => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-backup-crash-'));
  source = join(root, 'data');
  certs = join(root, 'certs');
  const file = join(root, 'handles.ndjson');
  const lines: string[] = [];
  for (let i = 0; i < HANDLES; i++) lines.push(JSON.stringify({ handle: `20.5000/bk-${i}`, values: [{ index: 1, type: 'URL', data: `https://example.org/bk/${i}` }] }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const imported = await runCairn(['import', file], env(source), 60_000);
  expect(imported.code, imported.stderr).toBe(0);
}, 90_000);

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

function env(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certs, CAIRN_ADMIN_SECRET: SECRET, ...extra };
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

interface KilledBackup {
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
  /** Size of FILE.partial when last seen (when the kill was sent, for a killed run). */
  readonly partialBytes: number;
  /** Whether FILE.partial was ever seen while the backup ran. */
  readonly sawPartial: boolean;
}

/** Runs `cairn backup FILE` and SIGKILLs it once FILE.partial has reached `killAtBytes`. */
function backupKilled(file: string, extra: Record<string, string>, killAtBytes: number): Promise<KilledBackup> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'backup', file], { cwd: ROOT, env: childEnv(env(source, extra)), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let partialBytes = 0;
    let sawPartial = false;
    const poller = setInterval(() => {
      try {
        partialBytes = statSync(`${file}.partial`).size;
      } catch {
        return; // not created yet
      }
      sawPartial = true;
      if (partialBytes >= killAtBytes) {
        clearInterval(poller);
        child.kill('SIGKILL');
      }
    }, 5);
    const bound = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearInterval(poller);
      clearTimeout(bound);
      resolve({ code, signal, stderr, partialBytes, sawPartial });
    });
  });
}

/**
 * `cairn restore` of a partial file: refused as truncated, the target (a new directory, or an
 * existing empty one) neither created nor touched.
 */
async function expectRestoreRefused(partial: string, existingTarget: boolean): Promise<void> {
  const parent = join(root, `targets-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(parent);
  const target = join(parent, 'data');
  if (existingTarget) mkdirSync(target);
  const restore = await runCairn(['restore', partial], env(target), 30_000);
  expect(restore.code, restore.stderr).toBe(65);
  expect(restore.stderr).toMatch(/^cairn: ERR_BACKUP_DAMAGED: .*truncated/);
  // Nothing created beside or in it: no target, no staging directory left behind.
  expect(readdirSync(parent)).toEqual(existingTarget ? ['data'] : []);
  if (existingTarget) expect(readdirSync(target)).toEqual([]);
}

/** A complete backup to `file`; returns its outcome. */
async function backup(file: string, extra: Record<string, string> = {}): Promise<{ changeLog: number; counts: { records: number } }> {
  const run = await runCairn(['backup', file], env(source, extra), 60_000);
  expect(run.code, run.stderr).toBe(0);
  expect(existsSync(file)).toBe(true);
  expect(existsSync(`${file}.partial`)).toBe(false);
  return JSON.parse(run.stdout) as { changeLog: number; counts: { records: number } };
}

/** A complete backup to `file` that restores into a new directory; returns its change-log position. */
async function backupAndRestore(file: string, extra: Record<string, string> = {}): Promise<number> {
  const outcome = await backup(file, extra);
  const target = join(root, `restored-${Math.random().toString(36).slice(2, 8)}`);
  const restore = await runCairn(['restore', file], env(target), 60_000);
  expect(restore.code, restore.stderr).toBe(0);
  expect(JSON.parse(restore.stdout)).toMatchObject({ changeLog: outcome.changeLog, records: outcome.counts.records });
  expect(outcome.counts.records).toBeGreaterThan(HANDLES);
  rmSync(target, { recursive: true, force: true });
  return outcome.changeLog;
}

async function expectDoctorClean(): Promise<void> {
  const doctor = await runCairn(['doctor', '--json'], env(source), 60_000);
  expect(doctor.code, doctor.stdout).toBe(0);
  expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, problemCount: 0 });
}

/**
 * Kills a backup to `file` (which holds a complete earlier backup) at random points while it
 * writes; each time `file` stays byte for byte the earlier backup and the partial is refused.
 */
async function killBackups(file: string, extra: Record<string, string>, log: string[]): Promise<void> {
  const full = statSync(file).size;
  const before = sha256(file);
  let kills = 0;
  for (let attempt = 0; attempt < 3 * KILLS_PER_MODE && kills < KILLS_PER_MODE; attempt++) {
    // Somewhere in the first 60% of the file: the kill lands while entries are written.
    const killAt = 16_384 + Math.floor(Math.random() * (full * 0.6 - 16_384));
    const run = await backupKilled(file, extra, killAt);
    log.push(JSON.stringify({ attempt, full, killAt, partialBytes: run.partialBytes, sawPartial: run.sawPartial, signal: run.signal, code: run.code }));
    if (run.signal !== 'SIGKILL') {
      // Done before the poller saw the size (a fast machine): a complete backup, nothing to check here.
      expect(run.code, `${run.stderr}\n${log.join('\n')}`).toBe(0);
      expect(run.sawPartial, `the backup writes FILE.partial, never FILE itself, until it is complete\n${log.join('\n')}`).toBe(true);
      continue;
    }
    kills++;
    expect(sha256(file), 'the earlier backup under the final name is untouched').toBe(before);
    const partial = `${file}.partial`;
    expect(existsSync(partial), log.join('\n')).toBe(true);
    expect(statSync(partial).size).toBeLessThan(full);
    await expectRestoreRefused(partial, kills % 2 === 0);
  }
  expect(kills, `backups killed midway\n${log.join('\n')}`).toBe(KILLS_PER_MODE);
}

describe('backup interrupted by SIGKILL', () => {
  it('server stopped: the killed backup leaves FILE untouched and a partial that restore refuses; the store stays clean; the next backup restores', { timeout: 180_000 }, async () => {
    const file = join(root, 'offline.ndjson.gz');
    await backup(file);
    const log: string[] = [];
    await killBackups(file, {}, log);
    await expectDoctorClean();
    await backupAndRestore(file);
  });

  it('a restore killed midway leaves the target as it was; the next restore succeeds', { timeout: 180_000 }, async () => {
    const file = join(root, 'offline.ndjson.gz');
    expect(existsSync(file), 'the previous test left a complete backup').toBe(true);
    const parent = join(root, 'restore-kill');
    const target = join(parent, 'data');
    mkdirSync(parent);
    // Killed once its staging store (beside the target) holds some of the entries.
    const child = spawn(process.execPath, [CLI, 'restore', file], { cwd: ROOT, env: childEnv(env(target)), stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const staged = (): number => {
      const staging = readdirSync(parent).find((n) => n.startsWith('.data.restore-'));
      if (staging === undefined || !existsSync(join(parent, staging, 'leveldb'))) return 0;
      return readdirSync(join(parent, staging, 'leveldb')).reduce((n, f) => n + statSync(join(parent, staging, 'leveldb', f)).size, 0);
    };
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline && child.exitCode === null && staged() < 262_144) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    expect(await exited, 'the restore was still running when killed').toBe('SIGKILL');
    expect(existsSync(target)).toBe(false);
    // The killed restore's staging directory stays beside the target (a new restore makes its own).
    const restore = await runCairn(['restore', file], env(target), 60_000);
    expect(restore.code, restore.stderr).toBe(0);
    const doctor = await runCairn(['doctor', '--json'], env(target), 60_000);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true, problemCount: 0, checked: { records: HANDLES + 1 } });
  });

  it('server running: killing the CLI mid-download leaves the server serving and writing; the next backup restores', { timeout: 180_000 }, async () => {
    const server = await startServer(env(source));
    try {
      const file = join(root, 'server.ndjson.gz');
      const extra = { CAIRN_URL: server.url };
      await backup(file, extra);
      const log: string[] = [];
      await killBackups(file, extra, log);
      // The server lost its client midway, released that backup's snapshot and serves on.
      const read = await fetch(`${server.url}/api/handles/20.5000/bk-7`);
      expect(read.status).toBe(200);
      expect(await read.text()).toContain('https://example.org/bk/7');
      const write = await fetch(`${server.url}/api/handles/20.5000/after-kill`, {
        method: 'PUT',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify([{ index: 1, type: 'URL', data: 'https://example.org/after-kill' }]),
      });
      expect(write.status, await write.text()).toBe(201);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { changeLog: number };
      expect(await backupAndRestore(file, extra)).toBe(ready.changeLog);
      expect(server.output()).not.toContain('backup failed midway');
    } finally {
      expect((await server.stop()).code, server.output()).toBe(0);
    }
    await expectDoctorClean();
  });

  it('server killed while it streams a backup: the CLI says the stream broke off and leaves no file; the restarted store is clean', { timeout: 180_000 }, async () => {
    const file = join(root, 'server-killed.ndjson.gz');
    const server = await startServer(env(source));
    let result: { code: number | null; stderr: string };
    try {
      const backup = runCairn(['backup', file], env(source, { CAIRN_URL: server.url }), 60_000);
      // Kill the server once the CLI has written part of what it streams.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(existsSync(`${file}.partial`) && statSync(`${file}.partial`).size >= 65_536)) await new Promise((r) => setTimeout(r, 5));
      await server.crash();
      result = await backup;
    } finally {
      await server.crash();
    }
    expect(result.code, result.stderr).toBe(69);
    expect(result.stderr).toContain("the server's backup stream broke off");
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
    await expectDoctorClean();
    expect((await backup(file)).counts.records).toBeGreaterThan(HANDLES);
  });
});
