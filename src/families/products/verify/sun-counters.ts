import { createHash } from 'node:crypto';
import type { RecordStore } from '../../../store/store.js';

/**
 * The highest SUN read counter accepted per tag. `raise` checks and records in one step: it
 * accepts a counter only if it is above the stored one, and then stores it, so the same tag read
 * (the same URL) is accepted once at most.
 *
 * Two implementations: in memory (tests, and a store-less service) and in LevelDB, in the store's
 * `meta` sublevel under `verify.sun-counter.<hex SHA-256 of the tag UID>`, because losing the
 * high-water mark on a restart would let every earlier tag read be replayed. The key is a plain
 * hash (not keyed like the verification log's): the UID itself is already in the item record in
 * the same database. Calls are serialised in-process, which is enough: one process owns the data
 * directory (the store takes a lock).
 */
export interface CounterStore {
  /** Accepts `counter` if above the highest seen (and records it); answers the previous highest. */
  raise(uid: string, counter: number): Promise<{ readonly accepted: boolean; readonly highest: number | undefined }>;
}

export class MemoryCounterStore implements CounterStore {
  private readonly highest = new Map<string, number>();

  async raise(uid: string, counter: number): Promise<{ accepted: boolean; highest: number | undefined }> {
    const previous = this.highest.get(uid);
    if (previous !== undefined && counter <= previous) return { accepted: false, highest: previous };
    this.highest.set(uid, counter);
    return { accepted: true, highest: previous };
  }
}

export class StoreCounterStore implements CounterStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: RecordStore) {}

  static keyOf(uid: string): string {
    return `verify.sun-counter.${createHash('sha256').update(uid.toUpperCase()).digest('hex')}`;
  }

  raise(uid: string, counter: number): Promise<{ accepted: boolean; highest: number | undefined }> {
    const run = this.chain.then(async () => {
      const key = StoreCounterStore.keyOf(uid);
      const text = await this.store.meta.get(key);
      const previous = text === undefined ? undefined : Number(text);
      if (previous !== undefined && counter <= previous) return { accepted: false, highest: previous };
      await this.store.meta.put(key, String(counter));
      return { accepted: true, highest: previous };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}
