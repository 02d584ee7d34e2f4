import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { foldHandleCase } from '../../src/ids/handle.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { liveView, RESIGN_META, signatureKid, signedSubject, type ResignState } from '../../src/ops/resign.js';
import type { StoredRecord } from '../../src/records/record.js';
import { startService } from '../../src/service/bootstrap.js';
import { loadOrCreateSigningKeys, readKeyRegistry } from '../../src/service/key-files.js';
import { findSignature, verifyRecordSignature } from '../../src/signing/record-signature.js';
import { Signer } from '../../src/signing/signer.js';
import { openStore } from '../../src/store/open.js';
import { seqKey, type ChangeEntry } from '../../src/store/store.js';
import { childEnv, CLI, killAllChildren, requireBuiltCli, ROOT, runCairn, startServer } from '../helpers/child.js';

/**
 * A rotation interrupted by SIGKILL and resumed. `cairn keys rotate` runs in a child process with
 * one record per batch and a pause between batches, and is killed at a random moment; the store is
 * then inspected on disk: every live record carries a valid signature by the old key or the new
 * one (never none, never a broken one), at the version that says how often it was signed, with its
 * view, history and change log consistent. `cairn keys resign` resumes, is killed again, and so on;
 * finally `cairn serve` resumes the rest in the background and the old key leaves the JWKS once no
 * live record needs it. At the end every live record was signed exactly once by the new key.
 */

const SECRET = 'rotate-crash-admin-secret';
const HANDLES = 60;
const PREFIX_KEY = foldHandleCase('0.NA/20.5000');
/** About 75 live records at one per batch and 40 ms apart: a run takes over 3 s, so a kill within 2.8 s lands. */
const SLOW = ['--batch', '1', '--pause-ms', '40'];

let dir: string;
let env: Record<string, string>;
let config: Config;

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-crash-'));
  env = { CAIRN_DATA_DIR: join(dir, 'data'), CAIRN_CERTS_DIR: join(dir, 'certs'), CAIRN_ADMIN_SECRET: SECRET, CAIRN_LOG_LEVEL: 'info' };
  config = loadConfig({}, { dataDir: env.CAIRN_DATA_DIR!, certsDir: env.CAIRN_CERTS_DIR!, adminSecret: SECRET, syncWrites: false });
});

afterAll(async () => {
  await killAllChildren();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const itsId = (serial: number): string => formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial, type: parseItsSignType('nat.DE-274[60]') });

async function populate(): Promise<Map<string, StoredRecord>> {
  const service = await startService({ ...config, adminSecret: SECRET });
  const app = await buildApp(service);
  const auth = `Basic ${Buffer.from(`${encodeURIComponent('300:0.NA/20.5000')}:${SECRET}`).toString('base64')}`;
  const send = async (method: 'PUT' | 'DELETE', url: string, body?: unknown): Promise<void> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  };
  try {
    for (let i = 0; i < HANDLES; i++) await send('PUT', `/api/handles/20.5000/crash-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/${i}` }]);
    await send('DELETE', '/api/handles/20.5000/crash-0');
    for (let i = 1; i <= 6; i++) await send('PUT', `/api/oids/2.999.${i}`, { description: `arc ${i}` });
    await send('PUT', '/api/its/issuers/DE.417', { identity: '300:20.5000/roads' });
    for (let i = 1; i <= 6; i++) await send('PUT', `/api/its/${encodeURIComponent(itsId(i))}`, { position: { lat: 50 + i / 100, lon: 8 }, facing: 0 });
    const out = new Map<string, StoredRecord>();
    for await (const [key, record] of service.store.allRecords()) out.set(key, record);
    return out;
  } finally {
    await app.close();
    await service.close();
  }
}

/** Runs the CLI; SIGKILLs it after `killAfterMs` unless it is done by then. */
function runKilled(args: readonly string[], killAfterMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

interface Inspection {
  readonly oldSigned: number;
  readonly newSigned: number;
  readonly state: ResignState | undefined;
}

/** The store as a kill left it: nothing unsigned or half-signed, each record signed by the new key at most once. */
async function inspect(before: ReadonlyMap<string, StoredRecord>, oldKid: string, problems: string[]): Promise<Inspection> {
  const ring = loadOrCreateSigningKeys(config.certsDir, 'EdDSA');
  const signer = new Signer(ring.active, ring.others);
  const newKid = readKeyRegistry(config.certsDir)?.keys.find((k) => k.kid !== oldKid)?.kid;
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
  let oldSigned = 0;
  let newSigned = 0;
  try {
    const now = Math.floor(Date.now() / 1000);
    const seen = new Set<string>();
    for await (const [key, record] of store.allRecords()) {
      seen.add(key);
      const was = before.get(key);
      if (!was) {
        problems.push(`${key}: a record the test never wrote`);
        continue;
      }
      if (was.status !== 'active') {
        if (JSON.stringify(record) !== JSON.stringify(was)) problems.push(`${key}: a tombstone changed`);
        continue;
      }
      if (!findSignature(record.values)) {
        problems.push(`${key} v${record.version}: no HS_SIGNATURE`);
        continue;
      }
      try {
        verifyRecordSignature(signedSubject(record)!, record.values, signer, now);
      } catch (e) {
        problems.push(`${key} v${record.version}: ${(e as Error).message}`);
      }
      const kid = signatureKid(record);
      // The prefix record is written once more, by the old key, when the new key is published on it.
      const published = key === PREFIX_KEY ? 1 : 0;
      if (kid === oldKid) {
        oldSigned++;
        if (record.version < was.version || record.version > was.version + published) problems.push(`${key}: old signature at version ${record.version} (was ${was.version})`);
      } else if (kid !== undefined && kid === newKid) {
        newSigned++;
        if (record.version !== was.version + 1 + published) problems.push(`${key}: new signature at version ${record.version} (was ${was.version})`);
      } else problems.push(`${key}: signed by unknown key ${String(kid)}`);
      const versions = [...(await store.historyOf(key)), record];
      if (versions.map((r) => r.version).join() !== Array.from({ length: record.version }, (_, i) => i + 1).join()) problems.push(`${key}: history is not 1..${record.version}`);
      const byNew = versions.filter((r) => newKid !== undefined && signatureKid(r) === newKid).length;
      if (byNew > 1) problems.push(`${key}: signed ${byNew} times by the new key`);
      const view = store.storedView(key)!;
      const expected = liveView(record);
      if (view.readUInt16BE(0) !== expected.status || !view.subarray(2).equals(expected.body)) problems.push(`${key}: stored view is not its record's`);
    }
    for (const key of before.keys()) if (!seen.has(key)) problems.push(`${key}: gone`);
    // The change log stays contiguous.
    let seq = 0;
    for await (const [k, text] of store.changes.iterator()) {
      seq++;
      const entry = JSON.parse(text) as ChangeEntry;
      if (k !== seqKey(seq) || entry.seq !== seq) problems.push(`change log: ${k} where ${seq} was expected`);
    }
    if (store.lastSeq !== seq) problems.push(`change log has ${seq} entries, lastSeq ${store.lastSeq}`);
    return { oldSigned, newSigned, state: await store.getMeta<ResignState>(RESIGN_META) };
  } finally {
    await store.close();
  }
}

describe('key rotation interrupted by SIGKILL', () => {
  it('never leaves a record unsigned, resumes, and signs every live record exactly once with the new key', { timeout: 180_000 }, async () => {
    const before = await populate();
    const live = [...before.values()].filter((r) => r.status === 'active').length;
    const oldKid = loadOrCreateSigningKeys(config.certsDir, 'EdDSA').active.kid;

    let kills = 0;
    let midResign = 0;
    let switched = false;
    const log: string[] = [];
    let slack = 0;
    for (let attempt = 0; attempt < 12 && !(switched && midResign >= 2 && kills >= 3); attempt++) {
      const started = readKeyRegistry(config.certsDir) !== undefined;
      const args = started ? ['keys', 'resign', ...SLOW] : ['keys', 'rotate', '--alg', 'ES256', '--retire-after', '0s', ...SLOW];
      // A loaded machine starts node slowly: each run that got nowhere widens the window.
      const killAfter = 300 + slack + Math.floor(Math.random() * (started ? 1200 : 2500));
      const run = await runKilled(args, killAfter);
      if (run.signal === 'SIGKILL') kills++;
      else expect(run.code, `cairn ${args.join(' ')}: ${run.stderr}`).toBe(0);
      const problems: string[] = [];
      const seen = await inspect(before, oldKid, problems);
      expect(problems, `after attempt ${attempt} (${args[1]}, ${run.signal ?? `exit ${run.code}`} at ${killAfter} ms)`).toEqual([]);
      expect(seen.oldSigned + seen.newSigned).toBe(live);
      switched = readKeyRegistry(config.certsDir)?.active !== undefined && readKeyRegistry(config.certsDir)!.active !== oldKid;
      if (!switched && run.signal === 'SIGKILL') slack += 700;
      if (seen.state && !seen.state.done && seen.newSigned > 0 && seen.oldSigned > 0) midResign++;
      log.push(JSON.stringify({ attempt, cmd: args[1], killAfter, signal: run.signal, old: seen.oldSigned, new: seen.newSigned, after: seen.state?.after, done: seen.state?.done }));
      if (seen.state?.done) break;
    }
    expect(switched, `the rotation switched keys\n${log.join('\n')}`).toBe(true);
    expect(kills, `at least one run was killed\n${log.join('\n')}`).toBeGreaterThan(0);
    expect(midResign, `at least one kill landed in the middle of the re-sign\n${log.join('\n')}`).toBeGreaterThan(0);

    // `cairn serve` resumes what is left in the background; the old key leaves the JWKS when it is done.
    const server = await startServer(env);
    try {
      const newKid = readKeyRegistry(config.certsDir)!.active;
      let jwks: JSONWebKeySet;
      const deadline = Date.now() + 30_000;
      for (;;) {
        jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
        if (!jwks.keys.some((k) => k.kid === oldKid) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(jwks.keys.map((k) => k.kid)).toEqual([newKid]);
      const keySet = createLocalJWKSet(jwks);
      const urls = [
        ...Array.from({ length: HANDLES - 1 }, (_, i) => `/api/handles/20.5000/crash-${i + 1}`),
        ...Array.from({ length: 6 }, (_, i) => `/api/oids/2.999.${i + 1}`),
        ...Array.from({ length: 6 }, (_, i) => `/api/its/${encodeURIComponent(itsId(i + 1))}`),
        '/api/its/issuers/DE.417',
        '/api/handles/0.NA/20.5000',
      ];
      for (const url of urls) {
        const body = (await (await fetch(`${server.url}${url}`)).json()) as { signature?: { jws: string }; values?: { type: string; data: { value: string } }[] };
        const jws = body.signature?.jws ?? body.values!.find((v) => v.type === 'HS_SIGNATURE')!.data.value;
        expect((await compactVerify(jws, keySet)).protectedHeader, url).toMatchObject({ kid: newKid, alg: 'ES256' });
      }
    } finally {
      await server.stop();
    }

    const problems: string[] = [];
    const final = await inspect(before, oldKid, problems);
    expect(problems).toEqual([]);
    expect(final).toMatchObject({ oldSigned: 0, newSigned: live, state: { done: true } });
  });
});

describe('cairn keys on the command line', () => {
  it('refuses to rotate under a running server (ERR_STORE_LOCKED, exit 75) and refuses bad arguments (exit 64)', { timeout: 60_000 }, async () => {
    const other = mkdtempSync(join(tmpdir(), 'cairn-rotate-cli-'));
    const otherEnv = { CAIRN_DATA_DIR: join(other, 'data'), CAIRN_CERTS_DIR: join(other, 'certs'), CAIRN_ADMIN_SECRET: SECRET };
    try {
      const server = await startServer(otherEnv);
      try {
        const locked = await runCairn(['keys', 'rotate'], otherEnv);
        expect(locked.code, locked.stderr).toBe(75);
        expect(locked.stderr).toMatch(/ERR_STORE_LOCKED: .*stop the server first/);
        const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
        expect(jwks.keys).toHaveLength(1);
      } finally {
        await server.stop();
      }
      for (const args of [['keys'], ['keys', 'rotate', '--alg', 'HS256'], ['keys', 'rotate', '--retire-after', 'soon'], ['keys', 'resign', '--batch', '0'], ['keys', 'list', '--defer']]) {
        const bad = await runCairn(args, otherEnv);
        expect(bad.code, `cairn ${args.join(' ')}: ${bad.stderr}`).toBe(64);
      }
      const listed = await runCairn(['keys', 'list'], otherEnv);
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ keys: [{ alg: 'EdDSA', index: 301, state: 'active' }], resign: null });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
