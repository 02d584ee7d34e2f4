import { StorageFull, StorageWriteFailed, type CairnError } from '../errors.js';

/**
 * Stops writes to a LevelDB database after one of them failed with an I/O error (a full disk,
 * above all), until the database has been reopened.
 *
 * Why: when LevelDB 1.20 (classic-level 3) fails to append a batch to its write-ahead log, it
 * answers the error but keeps writing that log after the bytes it lost, so the records of later
 * writes sit at offsets recovery cannot parse. Tried on a tmpfs: after ENOSPC, space freed, then
 * 528 further acknowledged writes were dropped ("checksum mismatch") when the database was opened
 * again after a SIGKILL. A failed memtable flush also leaves LevelDB refusing every later write.
 * Reopening starts a fresh log file (recovery keeps every complete record of the old one), so the
 * guard refuses all writes from the first failure until `clear()` after a reopen.
 *
 * It wraps the write hooks abstract-level calls for every write of the root database and of all its
 * sublevels (`_put`, `_del`, `_batch`, chained batches' `_write`), so writers outside the store
 * (the transparency-log follower, verification-log flushes, counters) are covered too.
 */

/** Seconds a client should wait before retrying a refused write (the store checks for space this often). */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

interface WriteHooks {
  _put(key: unknown, value: unknown, options: unknown): Promise<void>;
  _del(key: unknown, options: unknown): Promise<void>;
  _batch(operations: unknown, options: unknown): Promise<void>;
  _chainedBatch(): ChainedBatchHooks;
}

interface ChainedBatchHooks {
  _write(options: unknown): Promise<void>;
}

export class WriteGuard {
  private failed: CairnError | undefined;

  /** `onFailure` runs once per failure (the first refused write), with LevelDB's own error. */
  constructor(private readonly onFailure: (error: CairnError, cause: unknown) => void) {}

  /** The error every write answers until `clear()`, if a write failed. */
  get failure(): CairnError | undefined {
    return this.failed;
  }

  /** The database was reopened: writes go through again. */
  clear(): void {
    this.failed = undefined;
  }

  /** Routes every write of `db` (and of its sublevels) through the guard. */
  install(db: object): void {
    const hooks = db as WriteHooks;
    const put = hooks._put.bind(db);
    const del = hooks._del.bind(db);
    const batch = hooks._batch.bind(db);
    const chained = hooks._chainedBatch.bind(db);
    hooks._put = (key, value, options) => this.run(() => put(key, value, options));
    hooks._del = (key, options) => this.run(() => del(key, options));
    hooks._batch = (operations, options) => this.run(() => batch(operations, options));
    hooks._chainedBatch = () => {
      const made = chained();
      const write = made._write.bind(made);
      made._write = (options) => this.run(() => write(options));
      return made;
    };
  }

  private async run(write: () => Promise<void>): Promise<void> {
    if (this.failed) throw this.failed;
    try {
      await write();
    } catch (e) {
      if (!isIoError(e)) throw e;
      // Writes that were already queued in LevelDB fail too: the first failure is the one reported.
      if (!this.failed) {
        this.failed = storageError(e);
        this.onFailure(this.failed, e);
      }
      throw this.failed;
    }
  }
}

function isIoError(e: unknown): boolean {
  return (e as { code?: string }).code === 'LEVEL_IO_ERROR';
}

/** LevelDB's messages carry strerror(): ENOSPC and EDQUOT read as "no space". */
export function isNoSpace(e: unknown): boolean {
  const text = `${(e as { message?: string }).message ?? ''} ${(e as { cause?: { message?: string } }).cause?.message ?? ''}`;
  return /No space left on device|Disk quota exceeded/i.test(text);
}

/** The stable error for a failed write. LevelDB's message names server paths: it goes to the log, not to clients. */
function storageError(e: unknown): CairnError {
  const details = { retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS };
  return isNoSpace(e)
    ? new StorageFull('No space is left on the device that holds the data directory: writes are refused until space is freed; reads are still answered', details)
    : new StorageWriteFailed('Writing to the data directory failed: writes are refused until the store has reopened it; reads are still answered', details);
}

/** A write refused because an earlier one failed (the store reopens once it can). */
export function isWriteRefused(e: unknown): boolean {
  return e instanceof StorageFull || e instanceof StorageWriteFailed;
}
