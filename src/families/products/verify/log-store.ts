import type { RecordStore } from '../../../store/store.js';
import type { VerificationEvent } from './anomalies.js';
import type { VerificationLog } from './verification-log.js';

/**
 * Persists the verification log (verification-log.ts) in the store's `meta` sublevel, one entry
 * per subject: `verify.log.<keyed hash>` -> JSON array of its events. What is stored is what the log
 * holds in memory: keyed hashes, times, coarse locations, SUN counters; expired subjects are
 * deleted, and expired events are dropped when loaded.
 *
 * Write-behind: the verification path never waits for LevelDB; `flush()` writes the subjects
 * changed since the last flush in one batch, every `intervalMs` (default 1 s) and on close. A
 * crash loses at most that last interval of clone-rule memory; the SUN counters, whose loss would
 * allow a replay, are not written here but on every accepted read (sun-counters.ts).
 */
export const LOG_META_PREFIX = 'verify.log.';

export class PersistedLog {
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RecordStore,
    private readonly log: VerificationLog,
    private readonly intervalMs = 1000,
  ) {}

  /** Loads what an earlier run persisted, deleting what has expired meanwhile. */
  async load(): Promise<{ subjects: number; expired: number }> {
    let subjects = 0;
    const expired: string[] = [];
    for await (const [key, value] of this.store.meta.iterator({ gt: LOG_META_PREFIX, lt: `${LOG_META_PREFIX}\uffff` })) {
      const events = parseEvents(value);
      if (events && this.log.restore(key.slice(LOG_META_PREFIX.length), events)) subjects++;
      else expired.push(key);
    }
    if (expired.length > 0) await this.store.meta.batch(expired.map((key) => ({ type: 'del' as const, key })));
    return { subjects, expired: expired.length };
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  /** Writes the changed subjects; flushes never overlap. */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      const changes = this.log.takeChanges();
      if (changes.length === 0 || !this.store.isOpen) return;
      await this.store.meta.batch(
        changes.map(([tag, events]) =>
          events ? { type: 'put' as const, key: LOG_META_PREFIX + tag, value: JSON.stringify(events) } : { type: 'del' as const, key: LOG_META_PREFIX + tag },
        ),
      );
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

function parseEvents(text: string): VerificationEvent[] | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((e) => typeof e === 'object' && e !== null && typeof (e as VerificationEvent).at === 'number') ? (v as VerificationEvent[]) : undefined;
  } catch {
    return undefined;
  }
}
