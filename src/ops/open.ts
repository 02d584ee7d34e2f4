import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StoreCorrupt, StoreLocked } from '../errors.js';
import { openStore } from '../store/open.js';
import type { RecordStore } from '../store/store.js';

/** The LevelDB directory inside a data directory (as bootstrap.ts opens it). */
export const storeDir = (dataDir: string): string => join(dataDir, 'leveldb');

/** Whether a data directory holds a store at all (LevelDB's CURRENT file names its manifest). */
export function hasStore(dataDir: string): boolean {
  return existsSync(join(storeDir(dataDir), 'CURRENT'));
}

/** A LevelDB error that says the files are damaged or unreadable, not that Cairn misused them. */
export function isDamage(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  const cause = (e as { cause?: { code?: string } }).cause?.code;
  return code === 'LEVEL_CORRUPTION' || code === 'LEVEL_IO_ERROR' || cause === 'LEVEL_CORRUPTION' || cause === 'LEVEL_IO_ERROR';
}

export function damageMessage(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string } };
  return err.cause?.message ?? err.message ?? String(e);
}

/**
 * Opens an existing store for an operations command: held by a running server is
 * ERR_STORE_LOCKED (saying what to do instead), damaged files are ERR_STORE_CORRUPT.
 */
export async function openExistingStore(dataDir: string, whenLocked: string): Promise<RecordStore> {
  const dir = storeDir(dataDir);
  try {
    return await openStore(dir, { sync: true, viewCacheSize: 0 });
  } catch (e) {
    if (e instanceof StoreLocked) throw new StoreLocked(`Data directory ${dataDir} is in use by a running Cairn server: ${whenLocked}`, { dataDir });
    if (isDamage(e)) {
      throw new StoreCorrupt(`LevelDB cannot open ${dir}: ${damageMessage(e)}. Restore the data directory from a backup (cairn restore)`, { dataDir });
    }
    throw e;
  }
}
