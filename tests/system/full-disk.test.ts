import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldHandleCase } from '../../src/ids/handle.js';
import { loadOrCreateSigningKeys } from '../../src/service/key-files.js';
import { verifyRecordSignature } from '../../src/signing/record-signature.js';
import { Signer } from '../../src/signing/signer.js';
import { openStore } from '../../src/store/open.js';
import { killAllChildren, requireBuiltCli, runCairn, startServer, type ServerChild } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * A full disk during writes (issue 8, "Soak and faults"). The real server runs in a child process
 * with its data directory on a small tmpfs that a ballast file fills. Writes must then fail with
 * 507 ERR_STORAGE_FULL and Retry-After (never a 500, a hang or a crash) while reads go on; once
 * the ballast is deleted, writes succeed again without a restart; every acknowledged write is
 * stored with a valid signature, after a graceful restart and after a SIGKILL while full, and
 * `cairn doctor` finds the stopped store clean.
 *
 * Mounting needs root (or CAP_SYS_ADMIN): without it the test skips with a message, except under
 * CI=true, where it fails.
 */

const SECRET = 'full-disk-test-admin-secret';
const AUTH = basic(ADMIN_IDENTITY, SECRET);
const TMPFS_MIB = 16;
/** Room left beside the ballast: a few hundred writes' worth of LevelDB log. */
const LEFT_BYTES = 1.5 * 1024 * 1024;
const WORKERS = 4;
/** Enough refused writes to be sure the disk is full, not a one-off. */
const REFUSALS_WANTED = 12;
const MAX_WRITES = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Bounded wait for writes to be accepted again after space returns (the store checks every 0.25-5 s). */
const RECOVERY_DEADLINE_MS = 30_000;
/** A value that does not compress, so that the disk fills with few writes. */
const padding = (i: number): string => Array.from({ length: 60 }, (_, k) => ((i * 7919 + k * 104_729) % 1_000_003).toString(36).padStart(4, '0')).join('-').repeat(12);

interface Written {
  readonly name: string;
  readonly url: string;
}

/** Mounts a tmpfs; false (with a message) where this process may not, an error under CI=true. */
function mountTmpfs(dir: string, mib: number): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return true;
  const message = `full-disk test skipped: mounting a tmpfs needs root or CAP_SYS_ADMIN (mount: ${r.error?.message ?? r.stderr.trim()})`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI=true requires it`);
  console.warn(message);
  return false;
}

function fillWithBallast(mount: string, ballast: string): void {
  const fs = statfsSync(mount);
  const free = fs.bavail * fs.bsize;
  writeFileSync(ballast, Buffer.alloc(Math.max(0, free - LEFT_BYTES), 1));
}

async function put(server: ServerChild, w: Written): Promise<Response> {
  return fetch(`${server.url}/api/handles/${w.name}`, {
    method: 'PUT',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: JSON.stringify([
      { index: 1, type: 'URL', data: w.url },
      { index: 2, type: 'DESC', data: padding(w.url.length + w.name.length) + w.name },
    ]),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

interface FillResult {
  readonly acked: Written[];
  readonly refused: number;
  readonly problems: string[];
}

/**
 * Creates handles with WORKERS requests in flight until REFUSALS_WANTED writes were refused (or
 * MAX_WRITES were sent). Every refusal must be the precise one; anything else is a problem.
 */
async function writeUntilFull(server: ServerChild, phase: string): Promise<FillResult> {
  const acked: Written[] = [];
  const problems: string[] = [];
  let refused = 0;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (refused < REFUSALS_WANTED && sent < MAX_WRITES && problems.length < 10) {
      const i = sent++;
      const w = { name: `20.5000/full-${phase}-${i}`, url: `https://example.org/full/${phase}/${i}` };
      try {
        const res = await put(server, w);
        const text = await res.text();
        if (res.status === 201) {
          acked.push(w);
          continue;
        }
        const body = JSON.parse(text) as { responseCode?: number; code?: string };
        if (res.status === 507 && body.code === 'ERR_STORAGE_FULL' && body.responseCode === 2 && res.headers.get('retry-after') === '5') refused++;
        else problems.push(`PUT ${w.name}: ${res.status} retry-after=${res.headers.get('retry-after')} ${text.slice(0, 300)}`);
      } catch (e) {
        problems.push(`PUT ${w.name}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { acked, refused, problems };
}

/** Retries one write until it is accepted, within RECOVERY_DEADLINE_MS; resolves with how long it took. */
async function waitForWrites(server: ServerChild, phase: string): Promise<{ accepted: Written | undefined; ms: number; answers: Set<string> }> {
  const started = Date.now();
  /** `<status> <code>` of each distinct answer. */
  const answers = new Set<string>();
  for (let attempt = 0; Date.now() - started < RECOVERY_DEADLINE_MS; attempt++) {
    const w = { name: `20.5000/full-${phase}-retry-${attempt}`, url: `https://example.org/full/${phase}/retry/${attempt}` };
    const res = await put(server, w);
    const text = await res.text();
    answers.add(res.status === 201 ? '201' : `${res.status} ${(JSON.parse(text) as { code?: string }).code} retry-after=${res.headers.get('retry-after')}`);
    if (res.status === 201) return { accepted: w, ms: Date.now() - started, answers };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { accepted: undefined, ms: Date.now() - started, answers };
}

/** GETs every acknowledged handle from the server: each must answer its URL. */
async function checkServed(server: ServerChild, acked: readonly Written[]): Promise<string[]> {
  const problems: string[] = [];
  for (const w of acked) {
    const res = await fetch(`${server.url}/api/handles/${w.name}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await res.json()) as { values?: { index: number; data: { value: unknown } }[] };
    const url = body.values?.find((v) => v.index === 1)?.data.value;
    if (res.status !== 200 || url !== w.url) problems.push(`GET ${w.name}: ${res.status} ${String(url)}, expected 200 ${w.url}`);
  }
  return problems;
}

/** Opens the stopped store directly: every acknowledged handle holds its URL under a valid signature. */
async function checkStored(dataDir: string, signer: Signer, acked: readonly Written[]): Promise<string[]> {
  const problems: string[] = [];
  const store = await openStore(join(dataDir, 'leveldb'), { sync: false, viewCacheSize: 0 });
  try {
    const now = Math.floor(Date.now() / 1000);
    for (const w of acked) {
      const record = store.findRecord(foldHandleCase(w.name));
      const url = record?.values.find((v) => v.index === 1 && v.type === 'URL');
      if (!record || !url || Buffer.from(url.data).toString('utf8') !== w.url) {
        problems.push(`${w.name}: acknowledged, but the store holds ${record ? `version ${record.version}` : 'nothing'}`);
        continue;
      }
      try {
        verifyRecordSignature(record.id, record.values, signer, now);
      } catch (e) {
        problems.push(`${w.name}: signature: ${(e as Error).message}`);
      }
    }
  } finally {
    await store.close();
  }
  return problems;
}

async function doctor(env: Record<string, string>): Promise<{ ok: boolean; output: string; code: number | null }> {
  const result = await runCairn(['doctor', '--json'], env, 60_000);
  let ok = false;
  try {
    ok = (JSON.parse(result.stdout) as { ok?: boolean }).ok === true;
  } catch {
    ok = false;
  }
  return { ok, output: `${result.stdout}\n${result.stderr}`, code: result.code };
}

describe('full disk during writes', () => {
  let dir: string;
  let mount: string;
  let ballast: string;
  let mounted = false;
  let env: Record<string, string>;

  beforeAll(() => {
    requireBuiltCli();
    dir = mkdtempSync(join(tmpdir(), 'cairn-full-disk-'));
    mount = join(dir, 'mnt');
    mkdirSync(mount);
    ballast = join(mount, 'ballast');
    mounted = mountTmpfs(mount, TMPFS_MIB);
    env = {
      CAIRN_DATA_DIR: join(mount, 'data'),
      CAIRN_CERTS_DIR: join(dir, 'certs'),
      CAIRN_ADMIN_SECRET: SECRET,
      // Not an overload test: on this shared machine a shed write (503 ERR_OVERLOADED) would read as a wrong answer.
      CAIRN_OVERLOAD_MAX_IN_FLIGHT: '0',
      CAIRN_OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    };
  });

  afterAll(async () => {
    await killAllChildren();
    if (mounted) {
      const r = spawnSync('umount', [mount], { encoding: 'utf8' });
      if (r.status !== 0) spawnSync('umount', ['-l', mount]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses writes with 507 ERR_STORAGE_FULL, keeps every acknowledged write, and recovers when space returns', { timeout: 180_000 }, async (ctx) => {
    if (!mounted) ctx.skip('cannot mount a tmpfs here (see the warning above)');
    let server = await startServer(env);
    const keys = loadOrCreateSigningKeys(join(dir, 'certs'), 'EdDSA');
    const signer = new Signer(keys.active, keys.others);

    // 1. Fill the disk while writing.
    fillWithBallast(mount, ballast);
    const first = await writeUntilFull(server, 'a');
    expect(first.problems, 'answers other than 201 or the precise 507').toEqual([]);
    expect(first.refused, 'writes refused once the disk is full').toBeGreaterThanOrEqual(REFUSALS_WANTED);
    expect(first.acked.length, 'writes acknowledged before the disk filled').toBeGreaterThan(0);
    const acked = [...first.acked];

    // 2. While full: the process lives, reads are answered, the log's tree head too.
    expect(server.child.exitCode).toBeNull();
    expect(await checkServed(server, acked.slice(0, 20))).toEqual([]);
    const sth = await fetch(`${server.url}/api/log/sth`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    expect(sth.status).toBe(200);

    // 3. Space returns: writes are accepted again, without a restart.
    rmSync(ballast);
    const recovered = await waitForWrites(server, 'a');
    expect(recovered.accepted, `writes accepted again within ${RECOVERY_DEADLINE_MS} ms (answers: ${[...recovered.answers].join(', ')})\n${server.output()}`).toBeDefined();
    acked.push(recovered.accepted!);
    // Refused while full; during the moment the store is closed to reopen, a request that reads it is told to retry.
    const expectedAnswers = new Set(['201', '507 ERR_STORAGE_FULL retry-after=5', '503 ERR_NOT_READY retry-after=1']);
    expect([...recovered.answers].filter((a) => !expectedAnswers.has(a)), 'answers while recovering').toEqual([]);
    expect(server.output()).toContain('the store reopened after a failed write');
    console.info(`full disk: ${first.acked.length} writes acknowledged, ${first.refused} refused (507) while full; writes accepted again ${recovered.ms} ms after the ballast was deleted; answers meanwhile: ${[...recovered.answers].join(', ')}`);
    const after: Written[] = Array.from({ length: 100 }, (_, i) => ({ name: `20.5000/full-after-${i}`, url: `https://example.org/full/after/${i}` }));
    for (const w of after) {
      const res = await put(server, w);
      expect(res.status, `PUT ${w.name} after recovery: ${await res.text()}`).toBe(201);
      acked.push(w);
    }
    expect(await checkServed(server, acked)).toEqual([]);

    // 4. Stopped: doctor is clean and every acknowledged write is stored, signed; again after a restart.
    const stopped = await server.stop();
    expect(stopped.code, server.output()).toBe(0);
    const clean = await doctor(env);
    expect(clean.ok, clean.output).toBe(true);
    expect(await checkStored(env.CAIRN_DATA_DIR!, signer, acked)).toEqual([]);
    server = await startServer(env);
    expect(await checkServed(server, acked)).toEqual([]);

    // 5. Full again, then SIGKILL while full: nothing acknowledged is lost either.
    fillWithBallast(mount, ballast);
    const second = await writeUntilFull(server, 'b');
    expect(second.problems).toEqual([]);
    expect(second.refused).toBeGreaterThanOrEqual(REFUSALS_WANTED);
    acked.push(...second.acked);
    console.info(`full disk, second fill: ${second.acked.length} acknowledged, ${second.refused} refused, then SIGKILL`);
    const killed = await server.crash();
    expect(killed.signal).toBe('SIGKILL');
    // Still full: opening needs room for LevelDB's recovery. If it has too little, the answer says
    // so (never that the store is damaged).
    const whileFull = await doctor(env);
    console.info(`full disk: cairn doctor while still full: ${whileFull.ok ? 'opened the store and found it clean' : `exit ${whileFull.code}, ${whileFull.output.trim().split('\n').at(-1)}`}`);
    if (!whileFull.ok) {
      expect(whileFull.output).toContain('ERR_STORAGE_FULL');
      expect(whileFull.output).not.toContain('ERR_STORE_CORRUPT');
    }
    rmSync(ballast);
    expect(await checkStored(env.CAIRN_DATA_DIR!, signer, acked)).toEqual([]);
    const afterKill = await doctor(env);
    expect(afterKill.ok, afterKill.output).toBe(true);
    server = await startServer(env);
    expect(await checkServed(server, acked)).toEqual([]);
    await server.stop();
  });
});
