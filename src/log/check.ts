import { SEP, seqKey, type ChangeEntry, type RecordStore } from '../store/store.js';
import { encodeLeaf } from './leaf.js';
import { locatorKey, logSublevel, nodeKey, parseNodeKey, readSize } from './log-storage.js';
import { HASH_BYTES, leafHash, nodeHash } from './merkle.js';
import { leafForEntry } from './transparency-log.js';

export interface LogCheck {
  /** Leaves in the log. */
  readonly size: number;
  readonly leavesChecked: number;
  readonly nodesChecked: number;
}

/**
 * `cairn doctor`'s view of the transparency log: every leaf is the hash of the leaf data its
 * change-log entry (and that record version's signed bytes) gives now, every stored inner node is
 * the hash of its two children, every entry has its locator, and the log is no longer than the
 * change log. A log shorter than the change log is a warning: the server appends the rest at start.
 */
export async function checkLog(
  store: RecordStore,
  problem: (message: string, key?: string) => void,
  warning: (message: string) => void,
): Promise<LogCheck> {
  const sub = await logSublevel(store);
  const size = readSize(sub);
  if (size > store.lastSeq) problem(`The transparency log holds ${size} leaves, the change log only ${store.lastSeq} entries`);
  else if (size < store.lastSeq) warning(`The transparency log holds ${size} of ${store.lastSeq} change-log entries (the server appends the rest when it starts)`);
  let leavesChecked = 0;
  let bySeq: Map<number, string> | undefined;
  for (let index = 0; index < size; index++) {
    const stored = sub.getSync(nodeKey(0, index));
    const json = store.changes.getSync(seqKey(index + 1));
    if (json === undefined) {
      // Name what the log recorded there (one scan of the locators, only when an entry is gone).
      bySeq ??= await locatorsBySeq(store);
      const what = bySeq.get(index + 1);
      problem(`Leaf ${index} of the transparency log logged ${what ?? 'an entry'} at change-log position ${index + 1}, which the change log no longer holds`);
      continue;
    }
    leavesChecked++;
    let entry: ChangeEntry;
    let expected: Buffer;
    try {
      entry = JSON.parse(json) as ChangeEntry;
      expected = leafHash(encodeLeaf(await leafForEntry(store, entry)));
    } catch (e) {
      problem(`Leaf ${index}: its leaf data cannot be rebuilt from change-log entry ${index + 1}: ${(e as Error).message}`);
      continue;
    }
    if (stored === undefined) problem(`Leaf ${index} (${entry.id} version ${entry.version}) is missing from the transparency log`, entry.key);
    else if (!stored.equals(expected)) {
      problem(`Leaf ${index} of the transparency log is not the hash of change-log entry ${index + 1} (${entry.id} version ${entry.version}): the change log or the record was rewritten after it was logged`, entry.key);
    }
    const located = sub.getSync(locatorKey(entry.key, entry.version));
    if (located === undefined || Number(located.toString('utf8')) !== entry.seq) {
      problem(`The transparency log does not locate ${entry.id} version ${entry.version} at position ${entry.seq}`, entry.key);
    }
  }
  let nodesChecked = 0;
  for await (const [key, hash] of sub.iterator({ gt: 'n', lt: 'o' })) {
    const node = parseNodeKey(key);
    if (!node) {
      problem(`Transparency-log key ${JSON.stringify(key)} is not a node`);
      continue;
    }
    nodesChecked++;
    const width = 2 ** node.level;
    if ((node.index + 1) * width > size) problem(`Transparency-log node ${node.index} at level ${node.level} lies beyond its ${size} leaves`);
    else if (hash.length !== HASH_BYTES) problem(`Transparency-log node ${node.index} at level ${node.level} is ${hash.length} octets, not ${HASH_BYTES}`);
    else if (node.level > 0) {
      const left = sub.getSync(nodeKey(node.level - 1, node.index * 2));
      const right = sub.getSync(nodeKey(node.level - 1, node.index * 2 + 1));
      if (left === undefined || right === undefined || !nodeHash(left, right).equals(hash)) {
        problem(`Transparency-log node ${node.index} at level ${node.level} is not the hash of its children`);
      }
    }
  }
  let expectedNodes = 0;
  for (let width = 1; width <= size; width *= 2) expectedNodes += Math.floor(size / width);
  if (nodesChecked < expectedNodes) problem(`The transparency log stores ${nodesChecked} subtree hashes, its ${size} leaves need ${expectedNodes}`);
  return { size, leavesChecked, nodesChecked };
}

/** Change-log position -> "<record key> version <n>", from the log's locators. */
async function locatorsBySeq(store: RecordStore): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const [key, seq] of (await logSublevel(store)).iterator({ gt: 'v', lt: 'w' })) {
    const sep = key.lastIndexOf(SEP);
    out.set(Number(seq.toString('utf8')), `${key.slice(1, sep)} version ${parseInt(key.slice(sep + 1), 16)}`);
  }
  return out;
}
