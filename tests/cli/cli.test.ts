import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldHandleCase } from '../../src/ids/handle.js';
import type { StoredRecord } from '../../src/records/record.js';
import { loadOrCreateSigningKeys } from '../../src/service/key-files.js';
import { verifyRecordSignature } from '../../src/signing/record-signature.js';
import { Signer } from '../../src/signing/signer.js';
import { openStore } from '../../src/store/open.js';
import type { RecordStore } from '../../src/store/store.js';
import { killAllChildren, requireBuiltCli, runCairn, startServer, type ServerChild } from '../helpers/child.js';
import { hasTool } from '../helpers/tools.js';

/** The `cairn` command as users run it: the compiled CLI in a child process. */

const SECRET = 'cli-test-admin-secret';
let root: string;

beforeAll(() => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-cli-'));
});

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

let dirs = 0;
/** A fresh data and certs directory, and the environment that points the CLI at them. */
function freshEnv(extra: Record<string, string> = {}): { dataDir: string; certsDir: string; env: Record<string, string> } {
  const base = join(root, `case-${++dirs}`);
  mkdirSync(base);
  const dataDir = join(base, 'data');
  const certsDir = join(base, 'certs');
  return { dataDir, certsDir, env: { CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certsDir, CAIRN_LOG_LEVEL: 'warn', ...extra } };
}

async function withStore<T>(dataDir: string, fn: (store: RecordStore) => Promise<T> | T): Promise<T> {
  const store = await openStore(join(dataDir, 'leveldb'), { sync: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function allRecords(store: RecordStore): Promise<Map<string, StoredRecord>> {
  const out = new Map<string, StoredRecord>();
  for await (const [key, record] of store.allRecords()) out.set(key, record);
  return out;
}

const handleOf = (i: number): string => `20.5000/imp-${i}`;
const urlOf = (i: number, tag = ''): string => `https://example.org/imp/${i}${tag}`;
const line = (i: number, tag = ''): string => JSON.stringify({ handle: handleOf(i), values: [{ index: 1, type: 'URL', data: urlOf(i, tag) }] });
const recordUrl = (r: StoredRecord | undefined): string | undefined => {
  const v = r?.values.find((x) => x.index === 1);
  return v ? Buffer.from(v.data).toString('utf8') : undefined;
};

/** `lines` NDJSON lines for handles 1..lines; `override` replaces chosen lines' text. */
function writeNdjson(path: string, lines: number, override: Record<number, string> = {}): void {
  const text = Array.from({ length: lines }, (_, k) => override[k + 1] ?? line(k + 1)).join('\n');
  writeFileSync(path, `${text}\n`);
}

interface ImportSummary {
  file: string;
  lines: number;
  resumedAt: number;
  created: number;
  updated: number;
  unchanged: number;
  seconds: number;
}

function summary(stdout: string): ImportSummary {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as ImportSummary;
}

describe('cairn usage', () => {
  it('without a command prints the usage and exits 64 (EX_USAGE)', async () => {
    const r = await runCairn([], freshEnv().env);
    expect(r.code).toBe(64);
    expect(r.stdout).toMatch(/^Usage: cairn <command>/);
    for (const cmd of ['serve', 'resolve ID', 'put HANDLE FILE', 'import FILE.ndjson']) expect(r.stdout).toContain(cmd);
  });

  it('with an unknown command names it, prints the usage on stderr and exits 64', async () => {
    const r = await runCairn(['frobnicate', 'x'], freshEnv().env);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain('Usage: cairn <command>');
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await runCairn(['--help'], freshEnv().env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: cairn <command>/);
  });
});

describe('cairn import', () => {
  it('imports 2000 handles, and importing them again changes nothing', { timeout: 60_000 }, async () => {
    const { dataDir, certsDir, env } = freshEnv({ CAIRN_ADMIN_SECRET: SECRET });
    const file = join(root, 'bulk-2000.ndjson');
    writeNdjson(file, 2000);

    const first = await runCairn(['import', file], env);
    expect(first.code, first.stderr).toBe(0);
    expect(summary(first.stdout)).toMatchObject({ file, lines: 2000, resumedAt: 0, created: 2000, updated: 0, unchanged: 0 });

    const keys = loadOrCreateSigningKeys(certsDir, 'EdDSA');
    const signer = new Signer(keys.active, keys.others);
    const now = Math.floor(Date.now() / 1000);
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(2001); // 2000 handles + the prefix record 0.NA/20.5000
      const records = await allRecords(store);
      expect(records.size).toBe(2001);
      for (let i = 1; i <= 2000; i++) {
        const r = records.get(foldHandleCase(handleOf(i)));
        expect(r?.version).toBe(1);
        expect(recordUrl(r)).toBe(urlOf(i));
        expect(() => verifyRecordSignature(r!.id, r!.values, signer, now)).not.toThrow();
      }
      expect(await store.countIndex('prefix\u000020.5000')).toBe(2000);
    });

    // Same file again: the checkpoint says it was fully imported, so nothing is read or written.
    const again = await runCairn(['import', file], env);
    expect(again.code, again.stderr).toBe(0);
    expect(summary(again.stdout)).toMatchObject({ lines: 2000, resumedAt: 2000, created: 0, updated: 0 });

    // Same content, newer mtime: the checkpoint is checked by content hash, so it still applies.
    const later = new Date(Date.now() + 5_000);
    utimesSync(file, later, later);
    const touched = await runCairn(['import', file], env);
    expect(summary(touched.stdout)).toMatchObject({ lines: 2000, resumedAt: 2000, created: 0, updated: 0 });

    // Line 1 respelled with the same values: the hash no longer matches, every line is read again and found unchanged.
    writeNdjson(file, 2000, { 1: line(1).replace('{', '{ ') });
    const respelled = await runCairn(['import', file], env);
    expect(respelled.code, respelled.stderr).toBe(0);
    expect(summary(respelled.stdout)).toMatchObject({ lines: 2000, resumedAt: 0, created: 0, updated: 0, unchanged: 2000 });
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(2001);
      const records = await allRecords(store);
      expect([...records.values()].every((r) => r.version === 1)).toBe(true);
      let history = 0;
      for await (const _ of store.history.keys()) history++;
      expect(history).toBe(0);
    });

    // Ten changed lines: ten updates, ten change-log entries, the old versions in history.
    const changed = [7, 99, 500, 1000, 1001, 1500, 1777, 1998, 1999, 2000];
    writeNdjson(file, 2000, Object.fromEntries(changed.map((i) => [i, line(i, '?v=2')])));
    const updated = await runCairn(['import', file], env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(summary(updated.stdout)).toMatchObject({ lines: 2000, resumedAt: 0, created: 0, updated: 10, unchanged: 1990 });
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(2011);
      const tail = await store.changesSince(2001, 100);
      expect(tail.map((c) => c.op)).toEqual(Array(10).fill('update'));
      expect(tail.map((c) => c.key).sort()).toEqual(changed.map((i) => foldHandleCase(handleOf(i))).sort());
      for (const i of changed) {
        const key = foldHandleCase(handleOf(i));
        const r = store.findRecord(key);
        expect(r?.version).toBe(2);
        expect(recordUrl(r)).toBe(urlOf(i, '?v=2'));
        expect((await store.historyOf(key)).map((h) => [h.version, recordUrl(h)])).toEqual([[1, urlOf(i)]]);
      }
      expect(recordUrl(store.findRecord(foldHandleCase(handleOf(8))))).toBe(urlOf(8));
    });
  });

  it.runIf(hasTool('script', ['--version']))('draws a progress bar when stderr is a terminal (through script(1))', async () => {
    const { env } = freshEnv({ CAIRN_ADMIN_SECRET: SECRET });
    const file = join(root, 'progress.ndjson');
    writeNdjson(file, 2500);
    const cli = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const r = spawnSync('script', ['-qec', `node ${cli} import ${file}`, '/dev/null'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\[#{10,}\.*\] \d+\.\d% +1000 lines/);
    expect(r.stdout).toMatch(/\[#{30}\] 100\.0% +2500 lines/);
    expect(r.stdout).toContain('"created":2500');
  });

  it.each([
    ['__proto__', '{"handle":"20.5000/p","values":[{"index":1,"type":"URL","data":"x","__proto__":{"admin":true}}]}'],
    ['constructor.prototype', '{"handle":"20.5000/p","values":[{"index":1,"type":"URL","data":"x","constructor":{"prototype":{}}}]}'],
  ])('refuses a line with a %s key (exit 65) and imports nothing of its batch', async (_name, bad) => {
    const { dataDir, env } = freshEnv({ CAIRN_ADMIN_SECRET: SECRET });
    const file = join(root, `proto-${_name}.ndjson`);
    writeNdjson(file, 5, { 3: bad });
    const r = await runCairn(['import', file], env);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/ERR_IMPORT_LINE_INVALID: line 3: .*(__proto__|constructor\.prototype)/);
    await withStore(dataDir, async (store) => expect(store.lastSeq).toBe(1)); // the prefix record only
  });

  it('stops at an invalid line with exit 65, keeps the batches before it, and resumes after the fix', { timeout: 60_000 }, async () => {
    const { dataDir, env } = freshEnv({ CAIRN_ADMIN_SECRET: SECRET });
    const file = join(root, 'broken-json.ndjson');
    const bad = line(1700).replace('"values":[', '"values":[ not json, ');
    writeNdjson(file, 2500, { 1700: bad });

    const failed = await runCairn(['import', file], env);
    expect(failed.code).toBe(65); // EX_DATAERR
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toMatch(/ERR_IMPORT_LINE_INVALID: line 1700\b/);

    // Import batches are 1000 lines: lines 1-1000 are committed with their checkpoint, 1001-1699 are not.
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(1001);
      expect(store.findRecord(foldHandleCase(handleOf(1)))?.version).toBe(1);
      expect(store.findRecord(foldHandleCase(handleOf(1000)))?.version).toBe(1);
      expect(store.findRecord(foldHandleCase(handleOf(1001)))).toBeUndefined();
      expect(store.findRecord(foldHandleCase(handleOf(1699)))).toBeUndefined();
      expect(await store.getMeta(`import:${file}`)).toEqual({ lines: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    });

    // Fixed after the checkpoint: lines 1-1000 hash as before, so the import resumes at line 1001.
    writeNdjson(file, 2500);
    const resumed = await runCairn(['import', file], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(summary(resumed.stdout)).toMatchObject({ lines: 2500, resumedAt: 1000, created: 1500, updated: 0, unchanged: 0 });
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(2501);
      const records = await allRecords(store);
      expect(records.size).toBe(2501);
      expect(recordUrl(records.get(foldHandleCase(handleOf(1700))))).toBe(urlOf(1700));
      expect([...records.values()].every((r) => r.version === 1)).toBe(true);
    });
  });

  it('after fixing a rejected handle, resumes after the committed batches and imports the rest', { timeout: 60_000 }, async () => {
    const { dataDir, env } = freshEnv({ CAIRN_ADMIN_SECRET: SECRET });
    const file = join(root, 'broken-handle.ndjson');
    // Valid JSON, but a prefix this service does not serve: rejected when its batch (lines 1001-2000) is checked.
    writeNdjson(file, 2500, { 1234: JSON.stringify({ handle: '99.1/elsewhere', values: [{ index: 1, type: 'URL', data: 'https://x' }] }) });

    const failed = await runCairn(['import', file], env);
    expect(failed.code).toBe(65);
    expect(failed.stderr).toMatch(/ERR_IMPORT_LINE_INVALID: line 1234: ERR_PREFIX_NOT_HOMED/);
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(1001);
      expect(store.findRecord(foldHandleCase(handleOf(1000)))).toBeDefined();
      expect(store.findRecord(foldHandleCase(handleOf(1001)))).toBeUndefined();
    });

    writeNdjson(file, 2500); // fixed at line 1234; lines 1-1000 are unchanged, so their checkpoint applies
    const rerun = await runCairn(['import', file], env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(summary(rerun.stdout)).toMatchObject({ lines: 2500, resumedAt: 1000, created: 1500, updated: 0, unchanged: 0 });
    await withStore(dataDir, async (store) => {
      expect(store.lastSeq).toBe(2501);
      const records = await allRecords(store);
      expect(records.size).toBe(2501);
      expect([...records.values()].every((r) => r.version === 1)).toBe(true);
      expect(records.has(foldHandleCase('99.1/elsewhere'))).toBe(false);
    });
  });
});

describe('cairn with a running server', () => {
  let server: ServerChild;
  let dataDir: string;
  let certsDir: string;
  let serverEnv: Record<string, string>;
  let admin: { identity: string; secret: string };
  /** Client environment: CAIRN_URL only (no data directory, so no credentials file to fall back on). */
  let client: Record<string, string>;

  beforeAll(async () => {
    // No CAIRN_ADMIN_SECRET: the server generates the admin secret into the data directory.
    ({ dataDir, certsDir, env: serverEnv } = freshEnv());
    server = await startServer({ ...serverEnv, CAIRN_LOG_LEVEL: 'info' });
    const credentials = join(dataDir, 'admin-credentials.json');
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    admin = JSON.parse(readFileSync(credentials, 'utf8')) as { identity: string; secret: string };
    client = { CAIRN_URL: server.url, CAIRN_DATA_DIR: join(root, 'no-such-data-dir') };
  });

  afterAll(async () => {
    if (server) await server.stop();
  });

  const valuesFile = (name: string, url: string): string => {
    const path = join(root, `${name}.json`);
    writeFileSync(path, JSON.stringify([{ index: 1, type: 'URL', data: url }, { index: 2, type: 'EMAIL', data: 'ops@example.org' }]));
    return path;
  };
  const served = async (handle: string): Promise<{ status: number; url: unknown }> => {
    const res = await fetch(`${server.url}/api/handles/${handle}`);
    const body = (await res.json()) as { values?: { index: number; data: { value: unknown } }[] };
    return { status: res.status, url: body.values?.find((v) => v.index === 1)?.data.value };
  };

  it('generated the admin credentials for 300:0.NA/20.5000', () => {
    expect(admin.identity).toBe('300:0.NA/20.5000');
    expect(admin.secret.length).toBeGreaterThanOrEqual(12);
  });

  it('put creates a handle with CAIRN_IDENTITY/CAIRN_SECRET and prints the Handle.Net acknowledgement', async () => {
    const r = await runCairn(['put', '20.5000/cli-1', valuesFile('v1', 'https://example.org/one')], {
      ...client,
      CAIRN_IDENTITY: admin.identity,
      CAIRN_SECRET: admin.secret,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ responseCode: 1, handle: '20.5000/cli-1' });
    expect(await served('20.5000/cli-1')).toEqual({ status: 200, url: 'https://example.org/one' });
  });

  it('put replaces a handle using the credentials file in CAIRN_DATA_DIR', async () => {
    const r = await runCairn(['put', '20.5000/cli-1', valuesFile('v2', 'https://example.org/two')], { CAIRN_URL: server.url, CAIRN_DATA_DIR: dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ responseCode: 1, handle: '20.5000/cli-1' });
    expect(await served('20.5000/cli-1')).toEqual({ status: 200, url: 'https://example.org/two' });
  });

  it('put with a wrong secret exits 77 (EX_NOPERM) and changes nothing', async () => {
    const r = await runCairn(['put', '20.5000/cli-1', valuesFile('v3', 'https://example.org/three')], {
      ...client,
      CAIRN_IDENTITY: admin.identity,
      CAIRN_SECRET: 'definitely-not-the-secret',
    });
    expect(r.code).toBe(77);
    expect(r.stderr).toContain('ERR_AUTH_FAILED');
    expect(await served('20.5000/cli-1')).toEqual({ status: 200, url: 'https://example.org/two' });
  });

  it('resolve prints the record with a signature that verifies against the service keys', async () => {
    const r = await runCairn(['resolve', 'hdl:20.5000/cli-1'], client);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as {
      id: string;
      handle: string;
      version: number;
      status: string;
      values: { index: number; type: string; data: { value: unknown } }[];
      signature: { index: number; jws: string; kid: string; alg: string } | null;
    };
    expect(body).toMatchObject({ id: 'hdl:20.5000/cli-1', handle: '20.5000/cli-1', version: 2, status: 'active' });
    expect(body.values.find((v) => v.index === 1)).toMatchObject({ type: 'URL', data: { value: 'https://example.org/two' } });
    expect(body.signature).not.toBeNull();
    const { jws, kid, alg } = body.signature!;
    expect(alg).toBe('EdDSA');
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    const keys = loadOrCreateSigningKeys(certsDir, 'EdDSA');
    const payload = new Signer(keys.active, keys.others).verify(jws).payload as { sub: string; digests: { digests: { index: number }[] } };
    expect(payload.sub).toBe('20.5000/cli-1');
    expect(payload.digests.digests.map((d) => d.index).sort((a, b) => a - b)).toEqual(
      body.values.filter((v) => v.type !== 'HS_SIGNATURE').map((v) => v.index).sort((a, b) => a - b),
    );
  });

  it('resolve of a missing handle exits 2', async () => {
    const r = await runCairn(['resolve', 'hdl:20.5000/missing'], client);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_HANDLE_NOT_FOUND');
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'ERR_HANDLE_NOT_FOUND' });
  });

  it('import into the data directory the server holds fails with ERR_STORE_LOCKED, exit 75', async () => {
    const file = join(root, 'locked.ndjson');
    writeNdjson(file, 3);
    const r = await runCairn(['import', file], serverEnv);
    expect(r.code).toBe(75); // EX_TEMPFAIL
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('ERR_STORE_LOCKED');
    expect(await served(handleOf(1))).toMatchObject({ status: 404 });
  });
});
