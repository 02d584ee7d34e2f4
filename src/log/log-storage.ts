import type { AbstractSublevel } from 'abstract-level';
import { LogInconsistent } from '../errors.js';
import { SEP, type Db, type RecordStore } from '../store/store.js';
import { HASH_BYTES, type Hash, type NodeReader } from './merkle.js';

/**
 * Where the transparency log keeps its tree: the `tlog` sublevel, written by the follower only
 * (its own batches, after the change-log entries they follow have committed).
 *
 *   n <level: 2 hex> <index: 12 hex>        -> 32-octet hash of the complete subtree of 2^level
 *                                              leaves starting at leaf index * 2^level
 *   v <record key> 00 <version: 8 hex>      -> change-log position (decimal) of that version's entry
 *   size                                    -> number of leaves (decimal), in the batch that adds them
 *
 * Complete subtrees never change once written, so any tree size up to `size` reads them safely
 * while the follower appends.
 */
export const LOG_SUBLEVEL = 'tlog';
export const SIZE_KEY = 'size';

export type LogSublevel = AbstractSublevel<Db, string | Buffer | Uint8Array, string, Buffer>;

/** The log's sublevel, open (a new sublevel opens asynchronously; synchronous reads need it open). */
export async function logSublevel(store: RecordStore): Promise<LogSublevel> {
  // From the store: it reopens its sublevels when it reopens the database after a failed write.
  const sub: LogSublevel = store.sublevel<Buffer>(LOG_SUBLEVEL, 'buffer');
  await sub.open();
  return sub;
}

export function nodeKey(level: number, index: number): string {
  return `n${level.toString(16).padStart(2, '0')}${index.toString(16).padStart(12, '0')}`;
}

/** Level and index of a node key, or undefined for another key. */
export function parseNodeKey(key: string): { level: number; index: number } | undefined {
  if (!/^n[0-9a-f]{14}$/.test(key)) return undefined;
  return { level: parseInt(key.slice(1, 3), 16), index: parseInt(key.slice(3), 16) };
}

export function locatorKey(recordKey: string, version: number): string {
  return `v${recordKey}${SEP}${version.toString(16).padStart(8, '0')}`;
}

/** The range of locator keys of one record (all its versions). */
export function locatorRange(recordKey: string): { gt: string; lt: string } {
  return { gt: `v${recordKey}${SEP}`, lt: `v${recordKey}\u0001` };
}

export function readSize(sub: LogSublevel): number {
  const raw = sub.getSync(SIZE_KEY);
  return raw === undefined ? 0 : Number(raw.toString('utf8'));
}

/** Reads stored nodes synchronously; a missing or malformed one is an inconsistent log. */
export function storedNodeReader(sub: LogSublevel): NodeReader {
  return (level, index): Hash => {
    const hash = sub.getSync(nodeKey(level, index));
    if (hash === undefined || hash.length !== HASH_BYTES) {
      throw new LogInconsistent(`The transparency log lacks the hash of subtree ${index} at level ${level}`, { level, index });
    }
    return hash;
  };
}
