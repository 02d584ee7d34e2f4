import type { StoredRecord } from '../../records/record.js';
import type { RecordStore } from '../../store/store.js';

/**
 * Decoded product records (items, classes, manufacturers), kept while their stored bytes are
 * unchanged. While the store has committed nothing since a value was cached (`lastSeq`, which
 * every record write moves), the value is answered as is; otherwise the raw LevelDB entry is
 * fetched (a few µs) and compared with the bytes the value was decoded from, so a write by anyone
 * (this process's registry, the handle API) is seen on the next read. What is saved is reading,
 * deserialising and decoding the record: together more than a third of a verification's own
 * work before this cache.
 *
 * Bounded: when full it starts over (the working set of a verifier is the items being scanned now).
 * Cached values are shared between callers and must not be mutated.
 */
export class RecordCache<T> {
  private readonly entries = new Map<string, { readonly raw: Buffer; readonly value: T; seq: number }>();

  constructor(
    private readonly store: RecordStore,
    private readonly decode: (record: StoredRecord) => T,
    private readonly maxEntries = 10_000,
  ) {}

  /** The decoded record at a record key, or undefined when there is none. */
  get(key: string): T | undefined {
    const seq = this.store.lastSeq;
    const hit = this.entries.get(key);
    if (hit && hit.seq === seq) return hit.value;
    const raw = this.store.db.getSync(this.store.records.prefix + key) ?? undefined;
    if (raw === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    if (hit && hit.raw.equals(raw)) {
      hit.seq = seq;
      return hit.value;
    }
    const record = this.store.findRecord(key);
    if (!record) return undefined;
    const value = this.decode(record);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { raw, value, seq });
    return value;
  }
}
