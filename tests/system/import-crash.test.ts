import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { ImportResult } from '../../src/cli/import.js';
import { checkStore } from '../../src/ops/doctor.js';
import { loadExistingSigner } from '../../src/ops/keys.js';
import type { StoredRecord } from '../../src/records/record.js';
import { verifyRecordSignature } from '../../src/signing/record-signature.js';
import { openStore } from '../../src/store/open.js';
import type { ChangeEntry } from '../../src/store/store.js';
import { childEnv, CLI, killAllChildren, requireBuiltCli, ROOT, runCairn, startServer } from '../helpers/child.js';

/**
 * `cairn import` killed by SIGKILL mid-file and resumed. The import commits batches of 1000 lines,
 * each together with its checkpoint (the number of lines done and their hash). The test watches
 * the child's LevelDB write-ahead log for the checkpoint key, kills it a random time after a
 * random number of batches landed, and inspects the store on disk: the imported records are
 * exactly the checkpoint's lines (none beyond, none missing, each once, signed), and every doctor
 * check passes (records, views, indexes, history, change log, transparency log). Repeated for
 * several kill points; `cairn serve` on a killed import's directory serves what was committed;
 * the final run resumes at the checkpoint (`resumedAt`) and completes the file, each line's record
 * then present exactly once.
 */

const SECRET = 'import-crash-admin-secret';
const LINES = 10_000;
const BATCH = 1000;
/** Kill points wanted before the final run, and the bound on attempts to get them. */
const KILLS = 3;
const ATTEMPTS = 8;

let dir: string;
let file: string;
let env: Record<string, string>;
let config: Config;

const handleOf = (i: number): string => `20.5000/imp-${i}`;
const urlOf = (i: number): string => `https://example.org/imp/${i}`;

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(join(tmpdir(), 'cairn-import-crash-'));
  file = join(dir, 'handles.ndjson');
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) lines.push(JSON.stringify({ handle: handleOf(i), values: [{ index: 1, type: 'URL', data: urlOf(i) }] }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  env = { CAIRN_DATA_DIR: join(dir, 'data'), CAIRN_CERTS_DIR: join(dir, 'certs'), CAIRN_ADMIN_SECRET: SECRET };
  config = loadConfig({}, { dataDir: env.CAIRN_DATA_DIR!, certsDir: env.CAIRN_CERTS_DIR!, adminSecret: SECRET, syncWrites: false });
});

afterAll(async () => {
  await killAllChildren();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Counts the checkpoints that reach LevelDB's write-ahead log (`*.log`) from now on: each batch is
 * written there, checkpoint included, before `importBatch` returns. Only bytes appended after the
 * watcher started count, so checkpoints of earlier runs are not seen again.
 */
function checkpointWatcher(leveldb: string): { poll(): number } {
  const needle = Buffer.from(`import:${file}`);
  const offsets = new Map<string, number>();
  const tails = new Map<string, Buffer>();
  let seen = 0;
  const logs = (): string[] => {
    try {
      return readdirSync(leveldb).filter((n) => n.endsWith('.log'));
    } catch {
      return [];
    }
  };
  for (const name of logs()) offsets.set(name, statSync(join(leveldb, name)).size);
  return {
    poll(): number {
      for (const name of logs()) {
        const path = join(leveldb, name);
        let size: number;
        try {
          size = statSync(path).size;
        } catch {
          continue; // removed by a compaction meanwhile
        }
        const from = offsets.get(name) ?? 0;
        if (size <= from) continue;
        const fresh = Buffer.alloc(size - from);
        const fd = openSync(path, 'r');
        try {
          readSync(fd, fresh, 0, fresh.length, from);
        } finally {
          closeSync(fd);
        }
        offsets.set(name, size);
        // A checkpoint key split between two reads is found in the previous tail plus this read.
        const text = Buffer.concat([tails.get(name) ?? Buffer.alloc(0), fresh]);
        for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) seen++;
        tails.set(name, text.subarray(Math.max(0, text.length - needle.length + 1)));
      }
      return seen;
    },
  };
}

interface KilledRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Checkpoints the watcher saw land in this run before the kill. */
  readonly batchesSeen: number;
}

/** Runs `cairn import FILE`; SIGKILLs it `delayMs` after the watcher has seen `afterBatches` checkpoints land. */
function importKilled(afterBatches: number, delayMs: number): Promise<KilledRun> {
  const watcher = checkpointWatcher(join(config.dataDir, 'leveldb'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'import', file], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let batchesSeen = 0;
    let armed = false;
    const poller = setInterval(() => {
      batchesSeen = watcher.poll();
      if (!armed && batchesSeen >= afterBatches) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    }, 10);
    // A bound on the whole run: a child that hangs is killed too, and the test then fails on it.
    const bound = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearInterval(poller);
      clearTimeout(bound);
      resolve({ code, signal, stdout, stderr, batchesSeen });
    });
  });
}

interface Inspection {
  /** The checkpoint's line count (0 when no batch landed). */
  readonly committed: number;
  readonly changeLog: number;
  readonly warnings: string[];
}

/**
 * The store as the kill left it: the imported records are exactly lines 1..checkpoint, each at
 * version 1 with its line's value, signed, logged once in the change log; the doctor finds no
 * problem (a transparency log behind the change log is a warning, appended at the next start).
 */
async function inspect(problems: string[]): Promise<Inspection> {
  const signer = loadExistingSigner(config, 'the test checks signatures');
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
  try {
    const checkpoint = await store.getMeta<{ lines: number; sha256: string }>(`import:${file}`);
    const committed = checkpoint?.lines ?? 0;
    if (committed % BATCH !== 0 && committed !== LINES) problems.push(`checkpoint at line ${committed}, not at a batch boundary`);
    const imported = new Map<number, StoredRecord>();
    let beyond = 0;
    const now = Math.floor(Date.now() / 1000);
    for await (const [, record] of store.allRecords()) {
      const m = /^20\.5000\/imp-(\d+)$/.exec(record.id);
      if (!m) continue;
      const i = Number(m[1]);
      imported.set(i, record);
      if (i >= committed) beyond++;
      if (record.version !== 1) problems.push(`${record.id} is at version ${record.version}: imported more than once`);
      const url = record.values.find((v) => v.type === 'URL');
      if (!url || Buffer.from(url.data).toString('utf8') !== urlOf(i)) problems.push(`${record.id}: not its line's URL`);
      try {
        verifyRecordSignature(record.id, record.values, signer, now);
      } catch (e) {
        problems.push(`${record.id}: ${(e as Error).message}`);
      }
    }
    if (beyond > 0) problems.push(`${beyond} records of lines beyond the checkpoint (${committed} lines) are stored`);
    const missing = Array.from({ length: committed }, (_, i) => i).filter((i) => !imported.has(i));
    if (missing.length > 0) problems.push(`${missing.length} lines below the checkpoint have no record, the first ${handleOf(missing[0]!)} (line ${missing[0]! + 1})`);
    const logged = new Map<string, number>();
    for await (const [, text] of store.changes.iterator()) {
      const entry = JSON.parse(text) as ChangeEntry;
      if (entry.id.startsWith('20.5000/imp-')) logged.set(entry.id, (logged.get(entry.id) ?? 0) + 1);
    }
    if (logged.size !== imported.size) problems.push(`the change log names ${logged.size} imported handles, the store holds ${imported.size}`);
    for (const [id, n] of logged) if (n !== 1) problems.push(`the change log has ${n} entries for ${id}`);

    const report = await checkStore(store, { signer, location: join(config.dataDir, 'leveldb'), maxProblems: 20 });
    for (const p of report.problems) problems.push(`doctor [${p.check}] ${p.key ?? ''} ${p.message}`);
    if (report.checked.signatures < imported.size) problems.push(`the doctor verified ${report.checked.signatures} signatures for ${imported.size} imported records`);
    return { committed, changeLog: report.changeLog, warnings: report.warnings.map((w) => `[${w.check}] ${w.message}`) };
  } finally {
    await store.close();
  }
}

describe('bulk import interrupted by SIGKILL', () => {
  it('commits whole batches with their checkpoint, serves them after a crash, resumes at the checkpoint and completes', { timeout: 240_000 }, async () => {
    const log: string[] = [];
    const points: number[] = [];
    let committed = 0;
    let served = false;
    for (let attempt = 0; attempt < ATTEMPTS && points.length < KILLS; attempt++) {
      // 1 to 3 batches into this run, then up to a batch's time further (about 250 ms idle).
      const afterBatches = 1 + Math.floor(Math.random() * 3);
      const delayMs = Math.floor(Math.random() * 250);
      const run = await importKilled(afterBatches, delayMs);
      const problems: string[] = [];
      const seen = await inspect(problems);
      log.push(JSON.stringify({ attempt, afterBatches, delayMs, signal: run.signal, code: run.code, batchesSeen: run.batchesSeen, committed: seen.committed }));
      expect(problems, `after attempt ${attempt}\n${log.join('\n')}`).toEqual([]);
      if (run.signal !== 'SIGKILL') {
        // It finished before the kill: the file is done and there is nothing left to interrupt.
        expect(run.code, `${run.stderr}\n${log.join('\n')}`).toBe(0);
        expect(seen.committed).toBe(LINES);
        break;
      }
      expect(seen.committed, `a kill never loses a checkpoint that landed\n${log.join('\n')}`).toBeGreaterThanOrEqual(committed + run.batchesSeen * BATCH);
      committed = seen.committed;
      if (committed > 0 && committed < LINES) points.push(committed);

      if (!served && committed > 0 && committed < LINES) {
        // `cairn serve` on the crashed import's directory serves what was committed and nothing beyond.
        served = true;
        const server = await startServer(env);
        try {
          for (const i of [0, committed - 1]) {
            const res = await fetch(`${server.url}/api/handles/${handleOf(i)}`);
            const body = await res.text();
            expect(res.status, `${handleOf(i)}: ${body}`).toBe(200);
            expect(body).toContain(urlOf(i));
          }
          expect((await fetch(`${server.url}/api/handles/${handleOf(committed)}`)).status).toBe(404);
          const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { changeLog: number };
          expect(ready.changeLog).toBe(seen.changeLog);
        } finally {
          expect((await server.stop()).code, server.output()).toBe(0);
        }
      }
    }
    expect(points.length, `kills that landed between two checkpoints\n${log.join('\n')}`).toBeGreaterThanOrEqual(2);
    expect(served).toBe(true);

    // The last run resumes after the last checkpoint and imports exactly the rest.
    const final = await runCairn(['import', file], env, 60_000);
    expect(final.code, final.stderr).toBe(0);
    const summary = JSON.parse(final.stdout) as ImportResult;
    expect(summary).toMatchObject({ lines: LINES, resumedAt: committed, created: LINES - committed, updated: 0, unchanged: 0 });
    const problems: string[] = [];
    const done = await inspect(problems);
    expect(problems).toEqual([]);
    expect(done.committed).toBe(LINES);

    // A completed file resumes at its end and changes nothing.
    const again = await runCairn(['import', file], env, 60_000);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ lines: LINES, resumedAt: LINES, created: 0, updated: 0, unchanged: 0 });

    const doctor = await runCairn(['doctor', '--json'], env, 60_000);
    expect(doctor.code, doctor.stdout).toBe(0);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; problemCount: number; checked: { records: number; signatures: number } };
    expect(report).toMatchObject({ ok: true, problemCount: 0 });
    expect(report.checked.signatures).toBeGreaterThanOrEqual(LINES);
  });
});
