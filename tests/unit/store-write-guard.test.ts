import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { errorResult } from '../../src/doip/message.js';
import { StorageFull } from '../../src/errors.js';
import { startService, type Service } from '../../src/service/bootstrap.js';
import { ADMIN_SECRET } from '../helpers/service.js';

/*
 * The store after a failed write (src/store/write-guard.ts), in process: LevelDB's chained-batch
 * write is made to fail as it does on a full disk, and the free-space check to say "no room" until
 * the test frees it. The full-disk system test does the same on a real tmpfs.
 */

const room = vi.hoisted(() => ({ free: true, checks: 0 }));
vi.mock('../../src/store/free-space.js', () => ({
  roomToReopen: () => {
    room.checks++;
    return Promise.resolve(room.free);
  },
}));

const noSpace = (): Error => Object.assign(new Error('IO error: /data/leveldb/000003.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });

let dir: string;
let config: Config;
let service: Service | undefined;
let failing: MockInstance | undefined;

async function writeHandle(s: Service, i: number): Promise<void> {
  await s.handles.writeSystemRecord(`20.5000/g-${i}`, [
    { index: 1, type: 'URL', data: Buffer.from(`https://example.org/g/${i}`), permissions: 0b1110, ttlType: 'relative', ttl: 86400, timestamp: 1_764_000_000, references: [] },
  ]);
}

/** Makes every chained-batch write of the service's database fail with `error` (until restored). */
function failWrites(s: Service, error: () => Error): MockInstance {
  const batch = s.store.db.batch();
  const proto = Object.getPrototypeOf(batch) as { _write(options: unknown): Promise<void> };
  void batch.close();
  return vi.spyOn(proto, '_write').mockImplementation(() => Promise.reject(error()));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-write-guard-'));
  config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false });
});
afterEach(async () => {
  failing?.mockRestore();
  failing = undefined;
  room.free = true;
  await service?.close();
  service = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the store after a failed write', () => {
  it('is answered on DOIP as 0.DOIP/Status.500 with the stable code in the output', () => {
    expect(errorResult(new StorageFull('full', { retryAfterSeconds: 5 }))).toEqual({
      status: '0.DOIP/Status.500',
      output: { message: 'full', code: 'ERR_STORAGE_FULL', retryAfterSeconds: 5 },
    });
  });

  it('refuses every later write of any writer with ERR_STORAGE_FULL, keeps reads, and reopens once there is room', { timeout: 30_000 }, async () => {
    service = await startService(config, { resign: 'manual' });
    const s = service;
    const log = s.log!;
    const reports: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      reports.push(String(chunk));
      return true;
    });
    try {
      for (let i = 0; i < 5; i++) await writeHandle(s, i);
      await vi.waitFor(() => expect(log.size).toBe(s.store.lastSeq), { timeout: 5000, interval: 10 });
      const before = s.store.lastSeq;

      room.free = false;
      failing = failWrites(s, noSpace);
      await expect(writeHandle(s, 5)).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL', details: { retryAfterSeconds: 5 } });
      expect(failing).toHaveBeenCalledTimes(1);
      expect(s.store.writeFailure?.code).toBe('ERR_STORAGE_FULL');
      // Refused before LevelDB: a commit, a meta write (verification log, counters) and the log's own batches.
      await expect(writeHandle(s, 6)).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL' });
      await expect(s.store.meta.put('guard-test', '"x"')).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL' });
      expect(failing).toHaveBeenCalledTimes(1);
      expect(s.store.lastSeq).toBe(before);
      // Reads go on, and the log's tree head is answered with what it holds.
      expect(s.handles.findView('20.5000/g-0')).toBeDefined();
      expect(await s.store.getMeta('guard-test')).toBeUndefined();
      expect(await log.current()).toBe(before);
      await vi.waitFor(() => expect(room.checks).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
      expect(s.store.writeFailure, 'no reopen without room').toBeDefined();
      expect(s.store.isOpen).toBe(true);

      // Space returns: the store reopens by itself, every sublevel with it.
      failing.mockRestore();
      failing = undefined;
      room.free = true;
      await vi.waitFor(() => expect(s.store.writeFailure).toBeUndefined(), { timeout: 10_000, interval: 20 });
      await writeHandle(s, 7);
      await s.store.meta.put('guard-test', '"y"');
      expect(await s.store.getMeta('guard-test')).toBe('y');
      expect(s.store.lastSeq).toBe(before + 1);
      await vi.waitFor(() => expect(log.size).toBe(s.store.lastSeq), { timeout: 5000, interval: 10 });
      const [entry] = await s.store.changesSince(before, 1);
      expect(entry?.id).toBe('20.5000/g-7');
      const proof = await log.inclusion(entry!.key);
      expect(proof.leafIndex).toBe(before);
      expect(s.handles.findView('20.5000/g-5')).toBeUndefined();
      expect(s.handles.findView('20.5000/g-7')).toBeDefined();
      expect(reports.join('')).toMatch(/a write to the store failed \(IO error: .*No space left on device\); ERR_STORAGE_FULL/);
      expect(reports.join('')).toContain('the store reopened after a failed write');
    } finally {
      stderr.mockRestore();
    }
  });

  it('answers other LevelDB I/O errors with ERR_STORAGE_WRITE_FAILED, and lets errors that are not I/O pass without refusing', { timeout: 30_000 }, async () => {
    service = await startService(config, { resign: 'manual' });
    const s = service;
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      failing = failWrites(s, () => new Error('not an I/O error'));
      await expect(writeHandle(s, 20)).rejects.toThrow('not an I/O error');
      expect(s.store.writeFailure).toBeUndefined();
      failing.mockRestore();

      room.free = false;
      failing = failWrites(s, () => Object.assign(new Error('IO error: /data/leveldb/000005.log: Input/output error'), { code: 'LEVEL_IO_ERROR' }));
      await expect(writeHandle(s, 21)).rejects.toMatchObject({ code: 'ERR_STORAGE_WRITE_FAILED' });
      await expect(writeHandle(s, 22)).rejects.toMatchObject({ code: 'ERR_STORAGE_WRITE_FAILED' });
      expect(failing).toHaveBeenCalledTimes(1);
    } finally {
      stderr.mockRestore();
    }
  });
});
