import {
  LogEntryNotFound,
  LogEntryNotInTree,
  LogInconsistent,
  LogRangeInvalid,
  LogTreeSizeBeyond,
} from '../errors.js';
import { findSignature } from '../signing/record-signature.js';
import type { StoredRecord } from '../records/record.js';
import { seqKey, type ChangeEntry, type RecordStore } from '../store/store.js';
import { isWriteRefused } from '../store/write-guard.js';
import { encodeLeaf, signedBytesDigest, type LeafFields } from './leaf.js';
import { locatorKey, locatorRange, logSublevel, nodeKey, readSize, SIZE_KEY, storedNodeReader, type LogSublevel } from './log-storage.js';
import { consistencyPath, EMPTY_ROOT, inclusionPath, leafHash, nodeHash, rootHash, type Hash } from './merkle.js';

/**
 * The transparency log: an RFC 9162 Merkle tree with one leaf per change-log entry (leaf index =
 * position - 1), following the change log rather than living in the write batch. Change-log
 * entries never change, so the follower appends their leaves after each commit (and catches up at
 * start) in batches of its own; writers only schedule it.
 *
 * In memory it keeps the tree's right edge (the hash of each complete subtree a power-of-two
 * decomposition of the size needs), so appending and the current root read nothing. Proofs read
 * the stored complete subtrees: O(log n) reads each.
 */

/**
 * Catch-up batch: change-log entries read and leaves written per LevelDB batch. Small enough that
 * one batch holds the event loop for milliseconds only (a start-up catch-up of a large store runs
 * beside live requests); the loop yields to I/O between batches.
 */
const BATCH = 256;
/** An answer waits for the follower to catch up when it lags by at most this many entries. */
const WAIT_LAG = 10_000;
/**
 * The follower appends once no commit has landed for this long, so that a burst of writes (an
 * import) does not share its CPU and LevelDB with the follower, and what accumulated is one read
 * and a few batches (one batch per commit would cost the writers about as much as their own)...
 */
const FOLLOW_DELAY_MS = 20;
/** ... or once it lags by this many entries, so that the lag stays bounded under sustained writes... */
const FOLLOW_MAX_LAG = 65_536;
/**
 * ... or once the oldest entry not appended has waited this long: under a steady stream of writes
 * (never 20 ms apart) the follower otherwise waited for the lag bound, and then held writers
 * for a second or more at its gate (the soak's p99 showed it).
 */
const FOLLOW_MAX_WAIT_MS = 250;
/**
 * Leaves appended per batch when their fields were taken at commit time: no reads, a few µs each.
 * Reading the change log and the record back instead cost about 55 µs a leaf (an import ran 38%
 * longer), so commits hand over what the leaf needs while it is in memory.
 */
const CACHED_BATCH = 1024;
/** A catch-up refused for lack of space is tried again this often (the store reopens once space returns). */
const REFUSED_RETRY_MS = 1_000;

/** A leaf's fields and the record key its locator entry is filed under. */
type PendingLeaf = LeafFields & { readonly key: string };

interface TreeState {
  readonly size: number;
  /** frontier[level]: the complete subtree at that level on the right edge, present iff bit `level` of size is set. */
  readonly frontier: readonly (Hash | undefined)[];
}

export interface LeafView extends LeafFields {
  readonly data: Buffer;
  readonly hash: Hash;
}

export interface InclusionProof {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly rootHash: Hash;
  readonly leaf: LeafView;
  /** PATH(leafIndex, D[treeSize]), leaf side first. */
  readonly auditPath: Hash[];
}

export interface ConsistencyProof {
  readonly first: number;
  readonly second: number;
  readonly firstRootHash: Hash;
  readonly secondRootHash: Hash;
  /** PROOF(first, D[second]); empty when first = second. */
  readonly consistencyPath: Hash[];
}

export interface LogOptions {
  /** A catch-up that failed in the background (the next commit retries). */
  readonly onError?: (e: unknown) => void;
  /** Leaves held in memory between a commit and their append (default 65,536; tests lower it). */
  readonly maxPending?: number;
}

/** Leaf fields of a change-log entry: the entry, and the digest of its version's signed bytes. */
export async function leafForEntry(store: RecordStore, entry: ChangeEntry): Promise<LeafFields> {
  const record = await store.recordAt(entry.key, entry.version);
  if (!record) throw new LogInconsistent(`Change ${entry.seq} names version ${entry.version} of ${entry.id}, which the store does not hold`, { seq: entry.seq });
  return leafOf(entry, record);
}

/** Leaf fields of a change-log entry whose record version is at hand. */
function leafOf(entry: ChangeEntry, record: StoredRecord): LeafFields {
  return {
    seq: entry.seq,
    at: entry.at,
    op: entry.op,
    // Entries written before the change log named families: as the store's own migration infers them.
    family: entry.family ?? (entry.key.startsWith('oid:') ? 'oid' : 'handle'),
    id: entry.id,
    version: entry.version,
    digest: signedBytesDigest(findSignature(record.values)?.data),
  };
}

export class TransparencyLog {
  private state: TreeState;
  private running: Promise<void> | undefined;
  /** The change-log position the running catch-up goes to. */
  private target = 0;
  private scheduled = false;
  /** performance.now() of the last commit seen. */
  private lastCommit = 0;
  /** performance.now() when the oldest entry not yet appended was committed (0: none waits). */
  private waitingSince = 0;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  /** Leaf fields of committed, not yet appended entries, by change-log position (at most `maxPending`). */
  private readonly pending = new Map<number, PendingLeaf>();
  private readonly maxPending: number;
  /**
   * Leaves appended since open and the wall time the follower spent on them (ms); `readBack`: of
   * them, those rebuilt from the change log and the records (not handed over by their commit).
   */
  readonly stats = { appended: 0, ms: 0, readBack: 0 };

  private constructor(
    private readonly store: RecordStore,
    private readonly sub: LogSublevel,
    state: TreeState,
    private readonly options: LogOptions,
  ) {
    this.state = state;
    this.maxPending = options.maxPending ?? FOLLOW_MAX_LAG;
  }

  /** Opens the stored tree (reading its right edge); `follow` starts appending. */
  static async open(store: RecordStore, options: LogOptions = {}): Promise<TransparencyLog> {
    const sub = await logSublevel(store);
    const size = readSize(sub);
    const read = storedNodeReader(sub);
    const frontier: (Hash | undefined)[] = [];
    for (let level = 0, rest = size; rest > 0; level++, rest = Math.floor(rest / 2)) {
      if (rest % 2 === 1) frontier[level] = read(level, Math.floor(size / 2 ** level) - 1);
    }
    return new TransparencyLog(store, sub, { size, frontier }, options);
  }

  /** Follows the change log: catches up now (in the background) and after every commit. */
  follow(): this {
    this.store.setCommitGate(() => this.gate());
    this.unsubscribe ??= this.store.onCommit((entries, writes) => {
      this.lastCommit = performance.now();
      if (this.waitingSince === 0) this.waitingSince = this.lastCommit;
      // Past the bound the follower reads them back instead: memory stays bounded under any lag.
      if (this.pending.size + entries.length <= this.maxPending) entries.forEach((entry, i) => this.pending.set(entry.seq, { ...leafOf(entry, writes[i]!.record), key: entry.key }));
      this.schedule();
    });
    this.schedule();
    return this;
  }

  /**
   * Writers wait while the leaves commits handed over fill half the pending bound, until the
   * follower has appended them (a few µs each): under sustained writes (an import) the follower
   * then keeps up from memory instead of dropping leaves it must later read back at about 55 µs
   * each. Not while it reads back older entries (a first start on a big store): writes go on.
   */
  private gate(): Promise<void> | undefined {
    if (this.closed || this.pending.size < this.maxPending / 2 || !this.pending.has(this.state.size + 1)) return undefined;
    return this.sync().catch(() => undefined);
  }

  /** True when every entry not yet logged was handed over by its commit (appending them reads nothing). */
  private allPending(): boolean {
    return this.lag > 0 && this.pending.has(this.state.size + 1) && this.pending.size >= this.lag;
  }

  /** Leaves in the log (committed). */
  get size(): number {
    return this.state.size;
  }

  /** Change-log entries not yet in the log. */
  get lag(): number {
    return Math.max(0, this.store.lastSeq - this.state.size);
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size = this.state.size): Hash {
    if (size === this.state.size) return frontierRoot(this.state.frontier);
    this.checkSize(size);
    return rootHash(size, storedNodeReader(this.sub));
  }

  /** Appends every change-log entry committed before the call. */
  async sync(): Promise<void> {
    const target = this.store.lastSeq;
    this.target = Math.max(this.target, target);
    // A catch-up that was just ending may stop short of this target: then one more.
    while (this.state.size < target && !this.closed && this.store.isOpen) {
      this.running ??= this.loop().finally(() => {
        this.running = undefined;
      });
      await this.running;
    }
  }

  /** The size to answer with: caught up first unless far behind (then what is there). */
  async current(): Promise<number> {
    // While writes are refused (a full disk) the tree there is still a valid answer.
    if (this.lag > 0 && this.lag <= WAIT_LAG) await this.sync().catch((e: unknown) => {
      if (!isWriteRefused(e)) throw e;
    });
    return this.state.size;
  }

  /** Stops following; a short lag (or one held in memory) is appended first, so a stopped server's log is complete. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.store.setCommitGate(undefined);
    // Handed-over leaves are appended whatever their number: a restart would read them back.
    if (this.store.isOpen && ((this.lag > 0 && this.lag <= WAIT_LAG) || this.allPending())) await this.sync().catch(() => undefined);
    this.closed = true;
    await this.running?.catch(() => undefined);
  }

  /** The change-log position of a record version's entry (default: its last logged version). */
  async findEntry(recordKey: string, version?: number, shownId = recordKey): Promise<number> {
    if (version !== undefined) {
      const raw = this.sub.getSync(locatorKey(recordKey, version));
      if (raw === undefined) {
        const known = await this.lastLoggedVersion(recordKey);
        throw new LogEntryNotFound(
          known === undefined
            ? `${shownId} has no entry in the transparency log${this.behind()}`
            : `${shownId} has no version ${version} in the transparency log (its last logged version is ${known})${this.behind()}`,
          { id: shownId, version },
        );
      }
      return Number(raw.toString('utf8'));
    }
    for await (const raw of this.sub.values({ ...locatorRange(recordKey), reverse: true, limit: 1 })) return Number(raw.toString('utf8'));
    throw new LogEntryNotFound(`${shownId} has no entry in the transparency log${this.behind()}`, { id: shownId });
  }

  /** Says so when the log has not caught up (a newer write may not be logged yet). */
  private behind(): string {
    return this.lag > 0 ? `; the log is ${this.lag} entries behind the change log` : '';
  }

  private async lastLoggedVersion(recordKey: string): Promise<number | undefined> {
    for await (const key of this.sub.keys({ ...locatorRange(recordKey), reverse: true, limit: 1 })) return parseInt(key.slice(-8), 16);
    return undefined;
  }

  /** The leaf at `index`, rebuilt from the change log and checked against the stored leaf hash. */
  async leaf(index: number): Promise<LeafView> {
    this.checkSize(index + 1);
    const json = this.store.changes.getSync(seqKey(index + 1));
    if (json === undefined) throw new LogInconsistent(`Leaf ${index} has no change-log entry at position ${index + 1}`, { leafIndex: index });
    const fields = await leafForEntry(this.store, JSON.parse(json) as ChangeEntry);
    const data = encodeLeaf(fields);
    const hash = leafHash(data);
    if (!hash.equals(storedNodeReader(this.sub)(0, index))) {
      throw new LogInconsistent(`Change-log entry ${index + 1} (${fields.id} version ${fields.version}) no longer matches leaf ${index} of the log: the change log or the record was rewritten`, {
        leafIndex: index,
      });
    }
    return { ...fields, data, hash };
  }

  /** Inclusion proof of a record version's entry against the tree of `treeSize` leaves (default: all). */
  async inclusion(recordKey: string, version?: number, treeSize?: number, shownId = recordKey): Promise<InclusionProof> {
    const size = treeSize ?? (await this.current());
    this.checkSize(size);
    const seq = await this.findEntry(recordKey, version, shownId);
    const leafIndex = seq - 1;
    if (leafIndex >= size) {
      throw new LogEntryNotInTree(`${shownId} was logged at leaf ${leafIndex}, after the tree of size ${size}`, { leafIndex, treeSize: size });
    }
    const leaf = await this.leaf(leafIndex);
    const read = storedNodeReader(this.sub);
    return { leafIndex, treeSize: size, rootHash: this.root(size), leaf, auditPath: inclusionPath(leafIndex, size, read) };
  }

  /** Consistency proof from the tree of `first` leaves to that of `second` (default: all). */
  async consistency(first: number, second?: number): Promise<ConsistencyProof> {
    const to = second ?? (await this.current());
    this.checkSize(to);
    if (!(first >= 1 && first <= to)) {
      throw new LogRangeInvalid(`A consistency proof needs 1 <= first <= second; got first ${first}, second ${to}`, { first, second: to });
    }
    const read = storedNodeReader(this.sub);
    return { first, second: to, firstRootHash: this.root(first), secondRootHash: this.root(to), consistencyPath: consistencyPath(first, to, read) };
  }

  private checkSize(size: number): void {
    if (size > this.state.size) {
      throw new LogTreeSizeBeyond(`The transparency log holds ${this.state.size} leaves, not ${size}`, { treeSize: this.state.size, requested: size });
    }
  }

  private schedule(delay = FOLLOW_DELAY_MS): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    // Never in the writer's call: after the writes pause (or the lag grows too long).
    setTimeout(() => {
      this.scheduled = false;
      // A store closed under a running log (without `close` here) ends the following quietly.
      if (this.closed || !this.store.isOpen) return;
      const now = performance.now();
      const quiet = now - this.lastCommit;
      const waited = this.waitingSince === 0 ? 0 : now - this.waitingSince;
      if (quiet < FOLLOW_DELAY_MS && waited < FOLLOW_MAX_WAIT_MS && this.lag < this.maxPending) {
        this.schedule(Math.min(FOLLOW_DELAY_MS - quiet, FOLLOW_MAX_WAIT_MS - waited));
        return;
      }
      this.waitingSince = 0;
      this.sync().catch((e: unknown) => {
        // Not a stop: retried until the store takes writes again, even if no commit comes to schedule it.
        if (isWriteRefused(e)) this.schedule(REFUSED_RETRY_MS);
        else this.options.onError?.(e);
      });
    }, delay).unref();
  }

  /**
   * Appends up to the target, not after every commit that lands meanwhile: chasing the writers
   * one entry at a time would cost a read and a batch per entry; later commits are scheduled.
   */
  private async loop(): Promise<void> {
    while (!this.closed && this.store.isOpen && this.state.size < this.target) {
      await this.appendBatch(this.target - this.state.size);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The fields of the next leaves: as their commits handed them over, or else (entries committed
   * before this process, or past the pending bound) read back from the change log and the records.
   */
  private async nextLeaves(wanted: number): Promise<PendingLeaf[]> {
    const from = this.state.size + 1;
    const handed: PendingLeaf[] = [];
    for (let seq = from; handed.length < Math.min(CACHED_BATCH, wanted); seq++) {
      const leaf = this.pending.get(seq);
      if (leaf === undefined) break;
      handed.push(leaf as LeafFields & { key: string });
    }
    if (handed.length > 0) return handed;
    const entries = await this.store.changesSince(this.state.size, Math.min(BATCH, wanted));
    if (entries.length === 0) throw new LogInconsistent(`The change log ends before position ${from}, the store is at ${this.store.lastSeq}`);
    const read: PendingLeaf[] = [];
    for (const entry of entries) read.push({ ...(await leafForEntry(this.store, entry)), key: entry.key });
    this.stats.readBack += read.length;
    return read;
  }

  /** Appends up to BATCH entries after the current size in one batch; the state moves once it landed. */
  private async appendBatch(wanted: number): Promise<void> {
    const started = performance.now();
    const leaves = await this.nextLeaves(wanted);
    // On the root database with the sublevel's prefix: per-operation sublevel batches cost more than the write.
    const batch = this.store.db.batch();
    const p = this.sub.prefix;
    let size = this.state.size;
    const frontier = [...this.state.frontier];
    try {
      for (const leaf of leaves) {
        if (leaf.seq !== size + 1) throw new LogInconsistent(`The change log jumps from position ${size} to ${leaf.seq}`, { seq: leaf.seq });
        let hash = leafHash(encodeLeaf(leaf));
        batch.put(p + nodeKey(0, size), hash);
        let level = 0;
        let index = size;
        // Each complete left sibling on the right edge merges with the new subtree into its parent.
        while (frontier[level] !== undefined) {
          hash = nodeHash(frontier[level]!, hash);
          frontier[level] = undefined;
          level++;
          index = Math.floor(index / 2);
          batch.put(p + nodeKey(level, index), hash);
        }
        frontier[level] = hash;
        size++;
        batch.put(p + locatorKey(leaf.key, leaf.version), Buffer.from(String(leaf.seq)));
      }
      batch.put(p + SIZE_KEY, Buffer.from(String(size)));
    } catch (e) {
      await batch.close();
      throw e;
    }
    // Not synced: a lost tail is rebuilt from the change log, to the same hashes.
    await batch.write();
    this.state = { size, frontier };
    for (const leaf of leaves) this.pending.delete(leaf.seq);
    this.stats.appended += leaves.length;
    this.stats.ms += performance.now() - started;
  }
}

function frontierRoot(frontier: readonly (Hash | undefined)[]): Hash {
  let root: Hash | undefined;
  for (const hash of frontier) if (hash !== undefined) root = root === undefined ? hash : nodeHash(hash, root);
  return root ?? EMPTY_ROOT;
}
