import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/families/products/verify/rate-limit.js';
import { MemoryCounterStore, StoreCounterStore } from '../../src/families/products/verify/sun-counters.js';
import { VerificationLog } from '../../src/families/products/verify/verification-log.js';
import { RecordStore, type Db } from '../../src/store/store.js';

function clock(start = 1_750_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('VerificationLog', () => {
  it('keys subjects by an HMAC: stable for one secret, unlinkable across secrets, never the identifier', () => {
    const a = new VerificationLog({ secret: Buffer.alloc(32, 1) });
    const b = new VerificationLog({ secret: Buffer.alloc(32, 2) });
    const tag = a.tag('item', '20.5000.7/SN-1');
    expect(tag).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.tag('item', '20.5000.7/SN-1')).toBe(tag);
    expect(a.tag('imei', '20.5000.7/SN-1')).not.toBe(tag);
    expect(b.tag('item', '20.5000.7/SN-1')).not.toBe(tag);
    a.append(tag, { at: Date.now(), location: { country: 'DE', geohash: 'u33db' } });
    expect(JSON.stringify(a.dump())).not.toContain('SN-1');
  });

  it('expires entries after the retention', () => {
    const c = clock();
    const log = new VerificationLog({ retentionMs: 1000, now: c.now });
    log.append('s', { at: c.now() });
    c.advance(600);
    log.append('s', { at: c.now() });
    expect(log.recent('s')).toHaveLength(2);
    c.advance(600);
    expect(log.recent('s')).toHaveLength(1);
    c.advance(600);
    expect(log.recent('s')).toEqual([]);
    expect(log.size).toBe(0);
  });

  it('idle subjects expire as other subjects are written', () => {
    const c = clock();
    const log = new VerificationLog({ retentionMs: 1000, now: c.now });
    log.append('idle', { at: c.now() });
    c.advance(5000);
    log.append('busy', { at: c.now() });
    expect(log.dump().map(([tag]) => tag)).toEqual(['busy']);
  });

  it('is bounded per subject and in subjects', () => {
    const log = new VerificationLog({ maxEventsPerSubject: 3, maxSubjects: 2 });
    for (let i = 0; i < 5; i++) log.append('a', { at: Date.now(), counter: i });
    expect(log.recent('a').map((e) => e.counter)).toEqual([2, 3, 4]);
    log.append('b', { at: Date.now() });
    log.append('c', { at: Date.now() });
    expect(log.size).toBe(2);
    expect(log.recent('a')).toEqual([]);
  });
});

describe('RateLimiter', () => {
  it('a bucket per client: capacity, then refusal with Retry-After, then refill', () => {
    const c = clock();
    const rl = new RateLimiter({ capacity: 3, refillPerSecond: 0.5, now: c.now });
    expect([rl.take('a'), rl.take('a'), rl.take('a')].every((d) => d.ok)).toBe(true);
    expect(rl.take('a')).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(rl.take('b').ok).toBe(true);
    c.advance(2000);
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
    c.advance(60_000);
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')].map((d) => d.ok)).toEqual([true, true, true, false]);
  });

  it('keeps at most maxClients buckets', () => {
    const rl = new RateLimiter({ capacity: 1, refillPerSecond: 0.001, maxClients: 2 });
    rl.take('a');
    rl.take('b');
    rl.take('c');
    // 'a' was forgotten, so it has a full bucket again.
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('c').ok).toBe(false);
  });

  it('refuses nonsense settings', () => {
    expect(() => new RateLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('SUN counter stores', () => {
  it('in memory: accepts only rising counters', async () => {
    const s = new MemoryCounterStore();
    expect(await s.raise('04DE5F1EACC040', 61)).toEqual({ accepted: true, highest: undefined });
    expect(await s.raise('04DE5F1EACC040', 61)).toEqual({ accepted: false, highest: 61 });
    expect(await s.raise('04DE5F1EACC040', 60)).toEqual({ accepted: false, highest: 61 });
    expect(await s.raise('04DE5F1EACC040', 62)).toEqual({ accepted: true, highest: 61 });
    expect(await s.raise('04958CAA5C5E80', 8)).toEqual({ accepted: true, highest: undefined });
  });

  it('in LevelDB: survives reopening, and concurrent raises of one counter accept one', async () => {
    const db = new MemoryLevel<string, Buffer>({ valueEncoding: 'buffer' }) as unknown as Db;
    let store = await RecordStore.open(db, { sync: false });
    const s = new StoreCounterStore(store);
    const results = await Promise.all([s.raise('04DE5F1EACC040', 61), s.raise('04DE5F1EACC040', 61), s.raise('04de5f1eacc040', 61)]);
    expect(results.filter((r) => r.accepted)).toHaveLength(1);
    expect(StoreCounterStore.keyOf('04DE5F1EACC040')).not.toContain('04DE5F');
    await store.close();
    store = await RecordStore.open(db, { sync: false });
    expect(await new StoreCounterStore(store).raise('04DE5F1EACC040', 61)).toEqual({ accepted: false, highest: 61 });
    expect(await new StoreCounterStore(store).raise('04DE5F1EACC040', 62)).toEqual({ accepted: true, highest: 61 });
    await store.close();
  });
});
