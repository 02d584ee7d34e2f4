import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';

/** Room beyond the write-ahead logs' size for the new manifest, log and info log of a reopen. */
const REOPEN_MARGIN_BYTES = 1024 * 1024;

/**
 * Whether the device holding a LevelDB directory has room to reopen it: opening writes the
 * write-ahead logs' content to a new table (at most their size) before starting a new log.
 */
export async function roomToReopen(dir: string): Promise<boolean> {
  const fs = await statfs(dir);
  let logs = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.log')) logs += (await stat(join(dir, name))).size;
  return fs.bavail * fs.bsize >= logs + REOPEN_MARGIN_BYTES;
}
