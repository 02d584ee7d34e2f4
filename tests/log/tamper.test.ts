import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { LOG_SUBLEVEL } from '../../src/log/log-storage.js';
import { checkStore } from '../../src/ops/doctor.js';
import { startService } from '../../src/service/bootstrap.js';
import { openStore } from '../../src/store/open.js';
import { familyChangeKey, seqKey, type ChangeEntry, type RecordStore } from '../../src/store/store.js';
import { adminAuth, ADMIN_SECRET } from '../helpers/service.js';
import { refLeafHash, verifyConsistency, verifyInclusion } from './reference.js';

/*
 * A rewritten history. An operator (or whoever holds the store) back-dates one change-log entry
 * offline, as a stolen key would want to: a verifier who kept an earlier signed tree head must be
 * able to tell. Two ways the rewrite can go:
 *  - the log is left as it was: Cairn notices that the entry no longer matches its leaf (proof
 *    answers ERR_LOG_INCONSISTENT, the doctor reports it), and the log still proves consistent
 *    with the old head, because it still commits to the original history;
 *  - the log is rebuilt from the rewritten change log: everything looks consistent inside Cairn
 *    (the doctor is clean), but the consistency proof from the old head to the new one fails the
 *    verifier's independent RFC 9162 check against the old root it kept.
 */

interface Sth {
  treeSize: number;
  rootHash: string;
  signature: string;
}

let root: string;
let config: Config;
/** The head a verifier kept before the rewrite. */
let kept: Sth;
const TAMPERED_SEQ = 4;
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

async function withServer<T>(fn: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const service = await startService(config);
  const app = await buildApp(service);
  try {
    return await fn(app);
  } finally {
    await app.close();
    await service.close();
  }
}

async function withStore<T>(fn: (store: RecordStore) => Promise<T>): Promise<T> {
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function verifiedSth(app: FastifyInstance): Promise<Sth> {
  const sth = (await app.inject({ url: '/api/log/sth' })).json() as Sth;
  const jwks = createLocalJWKSet((await app.inject({ url: '/.well-known/jwks.json' })).json() as JSONWebKeySet);
  const { payload } = await jwtVerify(sth.signature, jwks, { typ: 'tree-head+jwt' });
  expect(payload).toMatchObject({ treeSize: sth.treeSize, rootHash: sth.rootHash });
  return sth;
}

const put = (app: FastifyInstance, i: number) =>
  app.inject({
    method: 'PUT',
    url: `/api/handles/20.5000/t-${i}`,
    headers: { authorization: adminAuth(), 'content-type': 'application/json' },
    payload: JSON.stringify([{ index: 1, type: 'URL', data: `https://example.org/t/${i}` }]),
  });

/** Back-dates one change-log entry (and its per-family copy) by a year. */
async function backdate(store: RecordStore, seq: number): Promise<ChangeEntry> {
  const entry = JSON.parse((await store.changes.get(seqKey(seq)))!) as ChangeEntry;
  const rewritten = { ...entry, at: entry.at - 365 * 86400 };
  await store.changes.put(seqKey(seq), JSON.stringify(rewritten));
  await store.familyChanges.put(familyChangeKey(rewritten.family, seq), JSON.stringify(rewritten));
  return rewritten;
}

const logProblems = async (store: RecordStore): Promise<string[]> =>
  (await checkStore(store, { signer: undefined })).problems.filter((p) => p.check === 'log').map((p) => p.message);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cairn-log-tamper-'));
  config = loadConfig({}, { dataDir: join(root, 'data'), certsDir: join(root, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false });
  await withServer(async (app) => {
    for (let i = 0; i < 11; i++) expect((await put(app, i)).statusCode).toBe(201);
    kept = await verifiedSth(app);
    for (let i = 11; i < 16; i++) expect((await put(app, i)).statusCode).toBe(201);
  });
  expect(kept.treeSize).toBe(12);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a change-log entry rewritten offline', () => {
  let tampered: ChangeEntry;

  it('is detected by Cairn while the log keeps the original history', async () => {
    await withStore(async (store) => {
      expect(await logProblems(store)).toEqual([]);
      tampered = await backdate(store, TAMPERED_SEQ);
      expect(await logProblems(store)).toEqual([
        `Leaf ${TAMPERED_SEQ - 1} of the transparency log is not the hash of change-log entry ${TAMPERED_SEQ} (${tampered.id} version 1): the change log or the record was rewritten after it was logged`,
      ]);
    });
    await withServer(async (app) => {
      const proof = await app.inject({ url: `/api/log/proof?id=${tampered.id}&version=1` });
      expect(proof.statusCode).toBe(500);
      expect(proof.json().code).toBe('ERR_LOG_INCONSISTENT');
      // Untouched entries still prove; the log still extends the head the verifier kept.
      const other = (await app.inject({ url: '/api/log/proof?id=20.5000/t-9&version=1' })).json();
      expect(verifyInclusion(refLeafHash(b64(other.leaf.data)), other.leafIndex, other.treeSize, other.auditPath.map(b64), b64(other.sth.rootHash))).toBe(true);
      const now = await verifiedSth(app);
      const c = (await app.inject({ url: `/api/log/consistency?first=${kept.treeSize}&second=${now.treeSize}` })).json();
      expect(verifyConsistency(kept.treeSize, now.treeSize, b64(kept.rootHash), b64(now.rootHash), c.consistencyPath.map(b64))).toBe(true);
    });
  });

  it('breaks consistency with the kept tree head once the log is rebuilt from the rewritten history', async () => {
    await withStore(async (store) => {
      await store.db.sublevel(LOG_SUBLEVEL).clear();
    });
    await withServer(async (app) => {
      const now = await verifiedSth(app);
      expect(now.treeSize).toBe(17);
      // Validly signed, and inside Cairn everything agrees again ...
      const proof = await app.inject({ url: `/api/log/proof?id=${tampered.id}&version=1` });
      expect(proof.statusCode).toBe(200);
      expect(proof.json().leaf.at).toBe(tampered.at);
      const c = await app.inject({ url: `/api/log/consistency?first=${kept.treeSize}&second=${now.treeSize}` });
      expect(c.statusCode).toBe(200);
      const body = c.json() as { firstRootHash: string; consistencyPath: string[] };
      // ... but the tree the rebuilt log has at the kept size is another one,
      expect(body.firstRootHash).not.toBe(kept.rootHash);
      // and no proof it gives gets from the kept head to the new one.
      expect(verifyConsistency(kept.treeSize, now.treeSize, b64(kept.rootHash), b64(now.rootHash), body.consistencyPath.map(b64))).toBe(false);
      expect(verifyConsistency(kept.treeSize, now.treeSize, b64(body.firstRootHash), b64(now.rootHash), body.consistencyPath.map(b64))).toBe(true);
    });
    await withStore(async (store) => expect(await logProblems(store)).toEqual([]));
  });
});
