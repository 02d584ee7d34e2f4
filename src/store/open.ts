import { Level } from 'level';
import { StorageFull, StoreLocked } from '../errors.js';
import { RecordStore, type Db, type StoreOptions } from './store.js';
import { isNoSpace, STORAGE_RETRY_AFTER_SECONDS } from './write-guard.js';

/**
 * Opens the LevelDB store in a directory; a directory held by another process is ERR_STORE_LOCKED,
 * and a device too full for LevelDB's recovery is ERR_STORAGE_FULL (not damage: freeing space is the fix).
 */
export async function openStore(dir: string, options?: StoreOptions): Promise<RecordStore> {
  const db = new Level<string, Buffer>(dir, {
    keyEncoding: 'utf8',
    valueEncoding: 'buffer',
    ...(options?.maxOpenFiles === undefined ? {} : { maxOpenFiles: options.maxOpenFiles }),
  }) as unknown as Db;
  try {
    return await RecordStore.open(db, options);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if ((e as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN' && /lock/i.test(String(cause?.message))) {
      throw new StoreLocked(`Data directory ${dir} is in use by another Cairn process`);
    }
    if (isNoSpace(e)) {
      throw new StorageFull(`No space is left on the device that holds ${dir} to open it (${String(cause?.message)}): free space and start again`, {
        retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS,
      });
    }
    throw e;
  }
}
