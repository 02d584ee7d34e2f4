import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { loadOrCreateLogKey, VERIFY_LOG_KEY_FILE } from '../../src/families/products/verify/log-key-file.js';
import { LOG_META_PREFIX, PersistedLog } from '../../src/families/products/verify/log-store.js';
import { VerificationLog } from '../../src/families/products/verify/verification-log.js';
import { RecordStore, type Db } from '../../src/store/store.js';

const H = 3600_000;

async function persisted(store: RecordStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const [k, v] of store.meta.iterator({ gt: LOG_META_PREFIX, lt: `${LOG_META_PREFIX}\uffff` })) out[k.slice(LOG_META_PREFIX.length)] = JSON.parse(v);
  return out;
}

describe('PersistedLog', () => {
  it('writes changed subjects, deletes expired ones, and loads into a new log minus what expired meanwhile', async () => {
    let now = 1_750_000_000_000;
    const db = new MemoryLevel<string, Buffer>({ valueEncoding: 'buffer' }) as unknown as Db;
    let store = await RecordStore.open(db, { sync: false });
    const secret = Buffer.alloc(32, 7);
    const log = new VerificationLog({ secret, retentionMs: 10 * H, now: () => now });
    const p = new PersistedLog(store, log);
    const a = log.tag('item', '20.5000.1/A');
    const b = log.tag('item', '20.5000.1/B');
    log.append(a, { at: now, location: { country: 'DE' } });
    now += 6 * H;
    log.append(b, { at: now, counter: 7 });
    await p.flush();
    expect(Object.keys(await persisted(store)).sort()).toEqual([a, b].sort());
    await p.flush(); // nothing changed: nothing written
    now += 5 * H; // a's only event is past the retention
    expect(log.recent(a)).toEqual([]);
    await p.flush();
    expect(Object.keys(await persisted(store))).toEqual([b]);
    await store.close();

    now += 2 * H;
    store = await RecordStore.open(db, { sync: false });
    const again = new VerificationLog({ secret, retentionMs: 10 * H, now: () => now });
    expect(await new PersistedLog(store, again).load()).toEqual({ subjects: 1, expired: 0 });
    expect(again.recent(again.tag('item', '20.5000.1/B'))).toEqual([{ at: now - 7 * H, counter: 7 }]);

    now += 10 * H;
    const late = new VerificationLog({ secret, retentionMs: 10 * H, now: () => now });
    expect(await new PersistedLog(store, late).load()).toEqual({ subjects: 0, expired: 1 });
    expect(await persisted(store)).toEqual({});
    await store.close();
  });
});

describe('the log key file', () => {
  it('is made once (32 bytes, mode 0600), read back the same, and a damaged one is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-logkey-'));
    try {
      const k = loadOrCreateLogKey(dir);
      expect(k).toHaveLength(32);
      expect(loadOrCreateLogKey(dir).equals(k)).toBe(true);
      writeFileSync(join(dir, VERIFY_LOG_KEY_FILE), 'short\n');
      expect(() => loadOrCreateLogKey(dir)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
