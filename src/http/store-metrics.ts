import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordStore } from '../store/store.js';
import type { Gauge } from './metrics.js';

/**
 * Store size for `/metrics`: live record keys per family and the bytes of the LevelDB files.
 * Counting walks every record key, so it runs in the background at most once per `refreshMs`, and
 * never more often than every 20 times the last count took (at most 5% of the time on a large
 * store); a scrape starts it when the last count is older and reports the last finished count.
 * The figures are approximate by design and cost nothing on the request paths.
 */
export class StoreSize {
  private records: ReadonlyMap<string, number> = new Map();
  private bytes = 0;
  private counted = 0;
  private tookMs = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: RecordStore,
    private readonly dir: string,
    private readonly refreshMs = 60_000,
  ) {}

  /** Counts now unless a count is running or fresh; resolves when the figures are current. */
  refresh(): Promise<void> {
    if (this.running) return this.running;
    if (this.counted > 0 && Date.now() - this.counted < Math.max(this.refreshMs, 20 * this.tookMs)) return Promise.resolve();
    this.running = this.count().finally(() => (this.running = undefined));
    return this.running;
  }

  gauges(): Record<string, Gauge> {
    void this.refresh().catch(() => undefined);
    return {
      cairn_store_records: { help: 'Records in the store by family, tombstones included (counted at most once a minute).', value: this.records },
      cairn_store_disk_bytes: { help: 'Bytes of the LevelDB files of the store (measured at most once a minute).', value: this.bytes },
    };
  }

  private async count(): Promise<void> {
    const started = Date.now();
    const counts = new Map<string, number>([['family="handle"', 0], ['family="oid"', 0], ['family="its"', 0]]);
    if (this.store.isOpen) {
      for await (const key of this.store.records.keys()) {
        // Record keys name their family: oid:<arcs>, its:<sign>, its-issuer:<issuer>, else a handle (products included).
        const family = key.startsWith('oid:') ? 'family="oid"' : key.startsWith('its') && /^its(-issuer)?:/.test(key) ? 'family="its"' : 'family="handle"';
        counts.set(family, counts.get(family)! + 1);
      }
    }
    let bytes = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      bytes += (await stat(join(this.dir, name)).catch(() => undefined))?.size ?? 0;
    }
    this.records = counts;
    this.bytes = bytes;
    this.counted = Date.now();
    this.tookMs = this.counted - started;
  }
}
