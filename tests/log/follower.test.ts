import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { checkLog } from '../../src/log/check.js';
import { logSublevel, nodeKey, readSize, SIZE_KEY } from '../../src/log/log-storage.js';
import { inclusionProofOf } from '../../src/log/proof-json.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { startService, type Service } from '../../src/service/bootstrap.js';
import { openStore } from '../../src/store/open.js';
import type { RecordStore } from '../../src/store/store.js';
import { ADMIN_SECRET } from '../helpers/service.js';
import { refLeafHash, verifyInclusion } from './reference.js';

/*
 * The log as a follower of the change log: it appends after commits without being asked, is
 * complete when a server stops, rebuilds a lost tail (or all of it) to the same hashes, and the
 * doctor's check finds damage in it.
 */

let dir: string;
let config: Config;
const WRITES = 40;

async function withStore<T>(fn: (store: RecordStore) => Promise<T>): Promise<T> {
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function writeHandles(service: Service, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    await service.handles.writeSystemRecord(`20.5000/f-${i}`, [
      { index: 1, type: 'URL', data: Buffer.from(`https://example.org/f/${i}`), permissions: 0b1110, ttlType: 'relative', ttl: 86400, timestamp: 1_764_000_000, references: [] },
    ]);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-log-follow-'));
  config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the transparency log follower', () => {
  let rootAfterWrites: Buffer;

  it('appends leaves after commits by itself, and is complete when the server stops', async () => {
    const service = await startService(config);
    try {
      const log = service.log!;
      await writeHandles(service, 0, WRITES);
      // No one asks: the commit hook schedules the catch-up.
      await vi.waitFor(() => expect(log.size).toBe(service.store.lastSeq), { timeout: 5000, interval: 10 });
      expect(log.stats.appended).toBe(service.store.lastSeq);
      // Written just before the stop: close appends them.
      await writeHandles(service, WRITES, WRITES + 3);
    } finally {
      await service.close();
    }
    await withStore(async (store) => {
      expect(readSize(await logSublevel(store))).toBe(store.lastSeq);
      const log = await TransparencyLog.open(store);
      expect(log.size).toBe(WRITES + 4);
      rootAfterWrites = log.root();
      const report = await checkLog(store, (m) => expect.fail(m), (m) => expect.fail(m));
      expect(report).toEqual({ size: WRITES + 4, leavesChecked: WRITES + 4, nodesChecked: 2 * (WRITES + 4) - 3 });
    });
  });

  it('rebuilds a lost tail, or the whole log, to the same root', async () => {
    await withStore(async (store) => {
      const sub = await logSublevel(store);
      // As if the last unsynced batch was lost: 17 leaves remain.
      for (let level = 0; level < 6; level++) for (let i = Math.floor(17 / 2 ** level); i < 64; i++) await sub.del(nodeKey(level, i));
      await sub.put(SIZE_KEY, Buffer.from('17'));
      let log = await TransparencyLog.open(store);
      expect([log.size, log.lag]).toEqual([17, WRITES + 4 - 17]);
      expect(log.root().equals(rootAfterWrites)).toBe(false);
      await log.sync();
      expect(log.size).toBe(WRITES + 4);
      expect(log.root().equals(rootAfterWrites)).toBe(true);
      await sub.clear();
      log = await TransparencyLog.open(store);
      expect(log.size).toBe(0);
      await log.sync();
      expect(log.root().equals(rootAfterWrites)).toBe(true);
      await log.close();
    });
  });

  it('gives an inclusion proof by identifier for a verdict to carry', async () => {
    const service = await startService(config);
    try {
      const proof = await inclusionProofOf(service.log!, 'hdl:20.5000/f-7', 1);
      expect(proof.leaf.id).toBe('20.5000/f-7');
      expect(proof.leaf.digest).toMatch(/^sha-256:/);
      expect(proof.treeSize).toBe(service.store.lastSeq);
      const ok = verifyInclusion(refLeafHash(Buffer.from(proof.leaf.data, 'base64')), proof.leafIndex, proof.treeSize, proof.auditPath.map((h) => Buffer.from(h, 'base64')), Buffer.from(proof.rootHash, 'base64'));
      expect(ok).toBe(true);
      await expect(inclusionProofOf(service.log!, '20.5000/f-7', 2)).rejects.toMatchObject({ code: 'ERR_LOG_ENTRY_NOT_FOUND' });
      await expect(inclusionProofOf(service.log!, '20.5000/f-7', 1, service.store.lastSeq + 1)).rejects.toMatchObject({ code: 'ERR_LOG_TREE_SIZE_BEYOND' });
    } finally {
      await service.close();
    }
  });

  it("lets the doctor's check find a damaged node, a lost leaf and a log longer than the change log", async () => {
    await withStore(async (store) => {
      const sub = await logSublevel(store);
      const node = (await sub.get(nodeKey(2, 3)))!;
      await sub.put(nodeKey(2, 3), Buffer.from(node.map((b, i) => (i === 0 ? b ^ 0xff : b))));
      await sub.del(nodeKey(0, 30));
      await sub.put(SIZE_KEY, Buffer.from(String(store.lastSeq + 1)));
      const problems: string[] = [];
      await checkLog(store, (m) => problems.push(m), () => undefined);
      expect(problems).toContain(`The transparency log holds ${store.lastSeq + 1} leaves, the change log only ${store.lastSeq} entries`);
      expect(problems).toContain('Transparency-log node 3 at level 2 is not the hash of its children');
      expect(problems).toContain('Transparency-log node 1 at level 3 is not the hash of its children');
      expect(problems.some((m) => /^Leaf 30 \(20\.5000\/f-\d+ version 1\) is missing from the transparency log$/.test(m)), problems.join('\n')).toBe(true);
      expect(problems).toContain('Transparency-log node 15 at level 1 is not the hash of its children');
    });
  });
  it('keeps up from memory under sustained writes: writers wait rather than the follower dropping leaves', async () => {
    const own = join(dir, 'sustained');
    const service = await startService(loadConfig({}, { dataDir: join(own, 'data'), certsDir: join(own, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false }));
    // The service's own follower steps aside for one with a small bound (the default is 65,536).
    await service.log!.close();
    const log = (await TransparencyLog.open(service.store, { maxPending: 64 })).follow();
    try {
      await log.sync();
      const before = log.stats.readBack;
      // Back-to-back commits, never 20 ms apart: without the gate most of them would be read back.
      await writeHandles(service, 1000, 1400);
      await log.sync();
      expect(log.size).toBe(service.store.lastSeq);
      expect(log.stats.readBack - before).toBe(0);
    } finally {
      await log.close();
      await service.close();
    }
    const store = await openStore(join(own, 'data', 'leveldb'), { sync: false });
    try {
      expect(await checkLog(store, (m) => expect.fail(m), (m) => expect.fail(m))).toMatchObject({ size: store.lastSeq });
    } finally {
      await store.close();
    }
  });
});
