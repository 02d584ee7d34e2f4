import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeRecord, type StoredRecord } from '../../src/records/record.js';
import { valueFromJson } from '../../src/records/handle-json.js';
import { RecordStore, type Db, type RecordWrite } from '../../src/store/store.js';

/**
 * One contract, run against every LevelDB implementation the store may sit on: memory-level
 * (tests, tools) and classic-level (production, through `level`).
 */
interface Impl {
  name: string;
  make(): { db: () => Db; cleanup: () => void };
}

const impls: Impl[] = [
  {
    name: 'memory-level',
    make() {
      const db = new MemoryLevel<string, Buffer>({ valueEncoding: 'buffer' }) as unknown as Db;
      // Reopening a memory-level keeps its data, like a directory on disk.
      return { db: () => db, cleanup: () => undefined };
    },
  },
  {
    name: 'classic-level',
    make() {
      const dir = mkdtempSync(join(tmpdir(), 'cairn-store-'));
      return { db: () => new Level<string, Buffer>(dir, { valueEncoding: 'buffer' }) as unknown as Db, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

const record = (id: string, version: number, status: 'active' | 'tombstoned' = 'active'): StoredRecord => ({
  id,
  family: 'handle',
  version,
  created: 1000,
  updated: 1000 + version,
  status,
  owner: '300:0.NA/20.5000',
  values: [valueFromJson({ index: 1, type: 'URL', data: `https://example.org/${id}/${version}` }, 1000 + version)],
});

const write = (r: StoredRecord, previous?: StoredRecord): RecordWrite => ({
  key: r.id.toUpperCase(),
  record: r,
  previous,
  view: { status: r.status === 'active' ? 200 : 410, body: Buffer.from(JSON.stringify({ v: r.version })) },
  indexTerms: r.status === 'active' ? ['prefix\u000020.5000'] : [],
  previousIndexTerms: previous?.status === 'active' ? ['prefix\u000020.5000'] : [],
});

describe.each(impls)('RecordStore on $name', (impl) => {
  let cleanup: () => void = () => undefined;
  afterEach(() => cleanup());

  it('commits record, view, index, history and change log together, and resumes the sequence on reopen', async () => {
    const made = impl.make();
    cleanup = made.cleanup;
    let store = await RecordStore.open(made.db(), { sync: false });
    const a1 = record('20.5000/a', 1);
    const b1 = record('20.5000/b', 1);
    await store.exclusive(() => store.commit([write(a1), write(b1)]));
    const a2 = record('20.5000/a', 2);
    const [entry] = await store.exclusive(() => store.commit([write(a2, a1)], { 'import:x': { lines: 5 } }));
    expect(entry).toMatchObject({ seq: 3, key: '20.5000/A', version: 2, op: 'update' });

    // Compared in storage form: exact bytes of every value.
    expect(serializeRecord(store.findRecord('20.5000/A')!).equals(serializeRecord(a2))).toBe(true);
    const view = store.findView('20.5000/A')!;
    expect(view.readUInt16BE(0)).toBe(200);
    expect(JSON.parse(view.subarray(2).toString())).toEqual({ v: 2 });
    expect((await store.historyOf('20.5000/A')).map((r) => serializeRecord(r).toString('hex'))).toEqual([serializeRecord(a1).toString('hex')]);
    expect(await store.indexIds('prefix\u000020.5000')).toEqual(['20.5000/a', '20.5000/b']);
    expect(await store.countIndex('prefix\u000020.5000')).toBe(2);
    expect(await store.indexIds('prefix\u000020.5000', { offset: 1, limit: 1 })).toEqual(['20.5000/b']);
    expect(await store.getMeta('import:x')).toEqual({ lines: 5 });

    await store.close();
    store = await RecordStore.open(made.db(), { sync: false });
    expect(store.lastSeq).toBe(3);
    const aDel = record('20.5000/a', 3, 'tombstoned');
    const [del] = await store.exclusive(() => store.commit([write(aDel, a2)]));
    expect(del).toMatchObject({ seq: 4, op: 'delete' });
    expect(await store.indexIds('prefix\u000020.5000')).toEqual(['20.5000/b']);
    expect(await store.indexTermsOf('prefix')).toEqual(['20.5000']);
    expect((await store.changesSince(2, 10)).map((c) => c.seq)).toEqual([3, 4]);
    await store.close();
  });

  it('leaves nothing behind when a batch fails', async () => {
    const made = impl.make();
    cleanup = made.cleanup;
    const store = await RecordStore.open(made.db(), { sync: false });
    const bad = { ...write(record('20.5000/c', 1)), view: { status: 200, body: undefined as unknown as Buffer } };
    await expect(store.exclusive(() => store.commit([write(record('20.5000/d', 1)), bad]))).rejects.toThrow();
    expect(store.findRecord('20.5000/D')).toBeUndefined();
    expect(store.lastSeq).toBe(0);
    expect(await store.changesSince(0, 10)).toEqual([]);
    await store.close();
  });

  it('runs exclusive sections one at a time, even when one fails', async () => {
    const made = impl.make();
    cleanup = made.cleanup;
    const store = await RecordStore.open(made.db(), { sync: false });
    const order: string[] = [];
    const slow = store.exclusive(async () => {
      order.push('a-start');
      await new Promise((r) => setTimeout(r, 20));
      order.push('a-end');
      throw new Error('boom');
    });
    const fast = store.exclusive(async () => {
      order.push('b');
    });
    await expect(slow).rejects.toThrow('boom');
    await fast;
    expect(order).toEqual(['a-start', 'a-end', 'b']);
    await store.close();
  });
});
