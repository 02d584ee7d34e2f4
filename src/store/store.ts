import type { AbstractLevel, AbstractSublevel } from 'abstract-level';
import type { CairnError } from '../errors.js';
import { deserializeRecord, serializeRecord, type Family, type StoredRecord } from '../records/record.js';
import { roomToReopen } from './free-space.js';
import { TwoGenerationCache } from './view-cache.js';
import { WriteGuard } from './write-guard.js';

/**
 * The only module that touches LevelDB. Every write (records with their pre-rendered views,
 * indexes, history, change log, meta) is one atomic batch, so a crash leaves the old state or the
 * new, never half.
 *
 * Key layout, as abstract-level sublevels lay it out (`!name!key`). Record keys are the
 * identifier's lookup key (for handles, the case-folded handle). Identifier parsers reject control
 * characters, so U+0000 never occurs inside a component and can separate them; the version and
 * sequence numbers are fixed-width hex so that keys sort numerically.
 *
 *   records   <key>                     -> RecordEntry (below)
 *   history   <key> 00 <version:8 hex>  -> the record (binary) that version replaced
 *   changes   <seq:16 hex>              -> change-log entry JSON
 *   fchanges  <family> 00 <seq:16 hex>  -> the same entry, per family (DNS serial and IXFR read
 *                                          the OID family's changes without walking the others)
 *   index     <name> 00 <term> 00 <key> -> the record's id (e.g. prefix 00 20.5000 00 20.5000/ABC)
 *   meta      <name>                    -> JSON
 *   tlog      ...                       -> the transparency log's Merkle tree, a follower of the change
 *                                          log written outside these batches (src/log/log-storage.ts)
 *
 *   RecordEntry ::= <viewLength: 4 octets> <status: 2 octets> <view body> <record: serializeRecord>
 *
 * The view is the exact response the hot read path sends (status and body), so reading it parses
 * nothing. Writes go through one chained batch on the root database with the sublevel prefixes
 * applied here: the per-operation sublevel machinery costs more than the LevelDB write itself.
 *
 * A write that fails with an I/O error (a full disk) stops every write, of this module or any other
 * writer of the database, until the store has reopened it, which it retries by itself once there
 * is room (write-guard.ts says why; reads go on meanwhile).
 */
export type Db = AbstractLevel<string | Buffer | Uint8Array, string, Buffer>;
export type Sub<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>;

export const SEP = '\u0000';

export interface ChangeEntry {
  readonly seq: number;
  readonly family: Family;
  readonly key: string;
  readonly id: string;
  readonly version: number;
  readonly op: 'create' | 'update' | 'delete';
  readonly at: number;
}

/** Called after a commit landed: its change-log entries and, at the same positions, the writes they record. */
export type CommitListener = (entries: readonly ChangeEntry[], writes: readonly RecordWrite[]) => void;

/** One record's new state, with everything derived from it that is stored beside it. */
export interface RecordWrite {
  readonly key: string;
  readonly record: StoredRecord;
  /** The state it replaces (undefined on create), read under the same write lock. */
  readonly previous: StoredRecord | undefined;
  /** Pre-rendered response: status and body served by the hot read path. */
  readonly view: { status: number; body: Buffer };
  /** Index terms `<name> 00 <term>` this record is listed under. */
  readonly indexTerms: readonly string[];
  readonly previousIndexTerms: readonly string[];
}

export interface StoreOptions {
  /** fsync every batch (survives power loss, not only process death). */
  readonly sync: boolean;
  /** LevelDB table files kept open (default: LevelDB's 1,000). */
  readonly maxOpenFiles?: number;
  /** Views kept in memory per cache generation (0 turns the cache off). */
  readonly viewCacheSize?: number;
  /** Where a failed write and the reopen after it are reported (default: a line on stderr). */
  readonly report?: (message: string) => void;
}

/** After a failed write, the first reopen attempt waits this long; each failed attempt doubles it... */
const REOPEN_FIRST_DELAY_MS = 250;
/** ... up to this (also the Retry-After refused writes answer, write-guard.ts). */
const REOPEN_MAX_DELAY_MS = 5_000;

export class RecordStore {
  readonly records: Sub<Buffer>;
  readonly history: Sub<Buffer>;
  readonly changes: Sub<string>;
  readonly familyChanges: Sub<string>;
  readonly index: Sub<string>;
  readonly meta: Sub<string>;
  private readonly prefix: { records: string; history: string; changes: string; familyChanges: string; index: string; meta: string };
  private readonly views: TwoGenerationCache<string, Buffer> | undefined;
  private seq = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly commitListeners = new Set<CommitListener>();
  private commitGate: (() => Promise<void> | undefined) | undefined;
  /** Every sublevel handed out: a reopen of the database closes them, and reopens them after. */
  private readonly sublevels = new Map<string, Sub<unknown>>();
  private readonly guard: WriteGuard;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenDelay = 0;
  private reopening: Promise<void> | undefined;
  private closing = false;

  private constructor(readonly db: Db, private readonly options: StoreOptions) {
    this.guard = new WriteGuard((error, cause) => {
      this.report(`a write to the store failed (${(cause as Error).message}); ${error.code}: writes are refused until the store reopens`);
      this.scheduleReopen();
    });
    this.guard.install(db);
    this.records = this.sublevel('records', 'buffer');
    this.history = this.sublevel('history', 'buffer');
    this.changes = this.sublevel('changes', 'utf8');
    this.familyChanges = this.sublevel('fchanges', 'utf8');
    this.index = this.sublevel('index', 'utf8');
    this.meta = this.sublevel('meta', 'utf8');
    this.prefix = {
      records: this.records.prefix,
      history: this.history.prefix,
      changes: this.changes.prefix,
      familyChanges: this.familyChanges.prefix,
      index: this.index.prefix,
      meta: this.meta.prefix,
    };
    const size = options.viewCacheSize ?? 50_000;
    this.views = size > 0 ? new TwoGenerationCache(size) : undefined;
  }

  static async open(db: Db, options: StoreOptions = { sync: true }): Promise<RecordStore> {
    await db.open();
    const store = new RecordStore(db, options);
    // The change log is the source of truth for the sequence: resume after its last entry.
    for await (const key of store.changes.keys({ reverse: true, limit: 1 })) store.seq = parseInt(key, 16);
    await store.indexFamilyChanges();
    return store;
  }

  get isOpen(): boolean {
    return this.db.status === 'open';
  }

  /** The error writes answer while a failed write keeps them refused (write-guard.ts); undefined when writable. */
  get writeFailure(): CairnError | undefined {
    return this.guard.failure;
  }

  /**
   * A sublevel of the database (one object per name). Sublevels close with the database, so they
   * are taken from here: a reopen after a failed write reopens every one of them.
   */
  sublevel<V>(name: string, valueEncoding: 'buffer' | 'utf8'): Sub<V> {
    let sub = this.sublevels.get(name);
    if (sub === undefined) {
      sub = this.db.sublevel<string, V>(name, { valueEncoding } as never) as unknown as Sub<unknown>;
      this.sublevels.set(name, sub);
    }
    return sub as Sub<V>;
  }

  /** Position of the last committed change (0 for an empty store). */
  get lastSeq(): number {
    return this.seq;
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reopenTimer);
    await this.reopening;
    await this.lock.catch(() => undefined);
    await this.db.close();
  }

  private report(message: string): void {
    if (this.options.report) this.options.report(message);
    else process.stderr.write(`cairn: ${message}\n`);
  }

  /** Tries to reopen after a failed write, with a growing delay, until it works or the store closes. */
  private scheduleReopen(): void {
    if (this.closing || this.reopenTimer !== undefined || this.reopening !== undefined) return;
    this.reopenDelay = Math.min(REOPEN_MAX_DELAY_MS, this.reopenDelay === 0 ? REOPEN_FIRST_DELAY_MS : this.reopenDelay * 2);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.reopening = this.tryReopen().finally(() => {
        this.reopening = undefined;
        if (this.guard.failure !== undefined) this.scheduleReopen();
      });
    }, this.reopenDelay);
    this.reopenTimer.unref();
  }

  private async tryReopen(): Promise<void> {
    const dir = (this.db as { location?: unknown }).location;
    try {
      // Recovery writes the old log's content to a table first: without room for it the open
      // would fail and leave the store closed, so it waits (reads go on meanwhile).
      if (typeof dir === 'string' && !(await roomToReopen(dir))) return;
      await this.exclusive(() => this.reopen());
      this.reopenDelay = 0;
      this.report('the store reopened after a failed write: writes are accepted again');
    } catch (e) {
      this.report(`reopening the store after a failed write failed (${(e as Error).message}); retrying`);
    }
  }

  /**
   * Close and open: LevelDB recovers the old log up to its last complete record (the failed
   * write's torn record is dropped) and starts a new one, which clears its error state.
   */
  private async reopen(): Promise<void> {
    await this.db.close();
    await this.db.open();
    for (const sub of this.sublevels.values()) await sub.open();
    // A batch whose log record landed although LevelDB answered an error (a failed fsync) is
    // back after recovery: continue after the change log's real end.
    for await (const key of this.changes.keys({ reverse: true, limit: 1 })) this.seq = parseInt(key, 16);
    this.guard.clear();
  }

  /**
   * Runs `fn` with no other exclusive section in between: read-modify-write of records is
   * serialised here so that versions and the change-log sequence never race.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private entry(key: string): Buffer | undefined {
    return this.db.getSync(this.prefix.records + key) ?? undefined;
  }

  findRecord(key: string): StoredRecord | undefined {
    const entry = this.entry(key);
    return entry === undefined ? undefined : deserializeRecord(entryRecord(entry));
  }

  /** Hot path: `<status: 2 octets> <body>` of the pre-rendered response, no JSON parsed. */
  findView(key: string): Buffer | undefined {
    const cached = this.views?.get(key);
    if (cached !== undefined) return cached;
    const entry = this.entry(key);
    if (entry === undefined) return undefined;
    // A copy, so the cache does not pin the record bytes that share the entry's memory.
    const view = Buffer.from(entryView(entry));
    this.views?.set(key, view);
    return view;
  }

  /**
   * Commits record writes, with their views, index changes, history and change-log entries, plus
   * optional meta entries, in one batch. Call inside `exclusive`.
   */
  async commit(writes: readonly RecordWrite[], meta: Readonly<Record<string, unknown>> = {}): Promise<ChangeEntry[]> {
    const gate = this.commitGate?.();
    if (gate) await gate;
    const batch = this.db.batch();
    const entries: ChangeEntry[] = [];
    const p = this.prefix;
    let seq = this.seq;
    try {
      for (const w of writes) {
        const { key, record, previous } = w;
        const stored = serializeRecord(record);
        const entry = Buffer.allocUnsafe(4 + 2 + w.view.body.length + stored.length);
        entry.writeUInt32BE(2 + w.view.body.length, 0);
        entry.writeUInt16BE(w.view.status, 4);
        w.view.body.copy(entry, 6);
        stored.copy(entry, 6 + w.view.body.length);
        batch.put(p.records + key, entry);
        if (previous) batch.put(p.history + historyKey(key, previous.version), serializeRecord(previous));
        const next = new Set(w.indexTerms);
        for (const term of w.previousIndexTerms) if (!next.has(term)) batch.del(`${p.index}${term}${SEP}${key}`);
        for (const term of next) batch.put(`${p.index}${term}${SEP}${key}`, Buffer.from(record.id));
        // Re-creating a tombstoned record is a create for feed readers and mirrors.
        const op = previous?.status !== 'active' ? 'create' : record.status === 'tombstoned' ? 'delete' : 'update';
        const change: ChangeEntry = { seq: ++seq, family: record.family, key, id: record.id, version: record.version, op, at: record.updated };
        const json = Buffer.from(JSON.stringify(change));
        batch.put(p.changes + seqKey(change.seq), json);
        batch.put(p.familyChanges + familyChangeKey(record.family, change.seq), json);
        entries.push(change);
      }
      for (const [name, value] of Object.entries(meta)) batch.put(p.meta + name, Buffer.from(JSON.stringify(value)));
    } catch (e) {
      await batch.close();
      throw e;
    }
    try {
      await batch.write({ sync: this.options.sync } as never);
    } finally {
      // Drop cached views of what was written, whether or not the batch landed; the next read
      // fetches the state LevelDB holds.
      for (const w of writes) this.views?.delete(w.key);
    }
    this.seq = seq;
    for (const listener of this.commitListeners) listener(entries, writes);
    return entries;
  }

  /**
   * Calls `listener` after every commit that landed, with its change-log entries (followers such
   * as the transparency log, src/log/). It runs inside the writer's call: keep it to scheduling.
   */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Backpressure: before each commit, `gate` may return a promise the commit waits for (a
   * follower that must catch up before it would have to drop what commits hand it). One gate.
   */
  setCommitGate(gate: (() => Promise<void> | undefined) | undefined): void {
    this.commitGate = gate;
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    const text = await this.meta.get(name);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  /** Ids of the records listed under an index term, in key order, paged. */
  async indexIds(term: string, options: { offset?: number; limit?: number } = {}): Promise<string[]> {
    const ids: string[] = [];
    let skip = options.offset ?? 0;
    const limit = options.limit ?? Infinity;
    if (limit <= 0) return ids;
    for await (const id of this.index.values({ gt: `${term}${SEP}`, lt: `${term}\u0001` })) {
      if (skip > 0) {
        skip--;
        continue;
      }
      ids.push(id);
      if (ids.length >= limit) break;
    }
    return ids;
  }

  async countIndex(term: string): Promise<number> {
    let n = 0;
    for await (const _ of this.index.keys({ gt: `${term}${SEP}`, lt: `${term}\u0001` })) n++;
    return n;
  }

  /** Distinct terms of an index name (e.g. every prefix with at least one handle). */
  async indexTermsOf(name: string): Promise<string[]> {
    const terms: string[] = [];
    const start = `${name}${SEP}`;
    let from = start;
    for (;;) {
      let found: string | undefined;
      for await (const k of this.index.keys({ gt: from, lt: `${name}\u0001`, limit: 1 })) found = k;
      if (found === undefined) return terms;
      const term = found.slice(start.length, found.indexOf(SEP, start.length));
      terms.push(term);
      from = `${start}${term}\u0001`;
    }
  }

  async historyOf(key: string): Promise<StoredRecord[]> {
    const out: StoredRecord[] = [];
    for await (const v of this.history.values({ gt: `${key}${SEP}`, lt: `${key}\u0001` })) out.push(deserializeRecord(v));
    return out;
  }

  async changesSince(since: number, limit: number): Promise<ChangeEntry[]> {
    const out: ChangeEntry[] = [];
    for await (const v of this.changes.values({ gt: seqKey(since), limit })) out.push(JSON.parse(v) as ChangeEntry);
    return out;
  }

  /**
   * Adds index entries for records already stored (an index introduced after they were written),
   * with meta entries, in one batch. Call inside `exclusive`.
   */
  async addIndexEntries(entries: readonly { term: string; key: string; id: string }[], meta: Readonly<Record<string, unknown>> = {}): Promise<void> {
    const batch = this.db.batch();
    for (const e of entries) batch.put(`${this.prefix.index}${e.term}${SEP}${e.key}`, Buffer.from(e.id));
    for (const [name, value] of Object.entries(meta)) batch.put(this.prefix.meta + name, Buffer.from(JSON.stringify(value)));
    await batch.write({ sync: this.options.sync } as never);
  }

  /** Sequence number of the family's last change (0 when it has none). */
  async lastSeqOf(family: Family): Promise<number> {
    for await (const entry of this.familyChanges.values({ gt: `${family}${SEP}`, lt: `${family}\u0001`, reverse: true, limit: 1 })) {
      return (JSON.parse(entry) as ChangeEntry).seq;
    }
    return 0;
  }

  /** The family's changes after `since`, oldest first. */
  async *familyChangesSince(family: Family, since: number): AsyncGenerator<ChangeEntry> {
    for await (const entry of this.familyChanges.values({ gt: familyChangeKey(family, since), lt: `${family}\u0001` })) {
      yield JSON.parse(entry) as ChangeEntry;
    }
  }

  /** A record as it was at `version`, from history or the current entry; undefined if never. */
  async recordAt(key: string, version: number): Promise<StoredRecord | undefined> {
    const current = this.findRecord(key);
    if (current?.version === version) return current;
    const old = await this.history.get(historyKey(key, version));
    return old === undefined ? undefined : deserializeRecord(old);
  }

  /**
   * Stores written before the per-family change log existed get it built once from the change
   * log (entries then lacked `family`: handle keys hold "/", OID keys start "oid:").
   */
  private async indexFamilyChanges(): Promise<void> {
    if ((await this.meta.get('familyChanges')) !== undefined) return;
    let batch = this.db.batch();
    let pending = 0;
    for await (const json of this.changes.values()) {
      const entry = JSON.parse(json) as Omit<ChangeEntry, 'family'> & { family?: Family };
      const family: Family = entry.family ?? (entry.key.startsWith('oid:') ? 'oid' : 'handle');
      batch.put(this.prefix.familyChanges + familyChangeKey(family, entry.seq), Buffer.from(JSON.stringify({ ...entry, family })));
      if (++pending === 1000) {
        await batch.write();
        batch = this.db.batch();
        pending = 0;
      }
    }
    batch.put(this.prefix.meta + 'familyChanges', Buffer.from('1'));
    await batch.write({ sync: this.options.sync } as never);
  }

  /** Every record key with its record, in key order (consistency checks, backups). */
  async *allRecords(): AsyncGenerator<[string, StoredRecord]> {
    for await (const [key, entry] of this.records.iterator()) {
      yield [key, deserializeRecord(entryRecord(entry))];
    }
  }

  /** The pre-rendered view stored for a key, bypassing the cache (consistency checks). */
  storedView(key: string): Buffer | undefined {
    const entry = this.entry(key);
    return entry === undefined ? undefined : entryView(entry);
  }

  /**
   * An explicit LevelDB snapshot of the whole database, taken now: every read through it sees this
   * moment's state whatever is written meanwhile, so a backup taken while the service writes is
   * consistent. Close it when done (an open snapshot holds back compaction).
   */
  snapshot(): StoreSnapshot {
    const snapshot = this.db.snapshot();
    const { db, changes } = this;
    return {
      entries: () => db.iterator({ snapshot }) as AsyncIterable<[string, Buffer]>,
      keys: () => db.keys({ snapshot }) as AsyncIterable<string>,
      async lastSeq() {
        for await (const key of changes.keys({ reverse: true, limit: 1, snapshot })) return parseInt(key, 16);
        return 0;
      },
      close: () => snapshot.close(),
    };
  }
}

/** A read-only view of the whole database at one moment (`RecordStore.snapshot`). */
export interface StoreSnapshot {
  /** Every entry of every sublevel, raw (prefixed keys, value bytes), in key order. */
  entries(): AsyncIterable<[string, Buffer]>;
  keys(): AsyncIterable<string>;
  /** Position of the last change in the snapshot. */
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

/** `<status> <body>` of a RecordEntry. */
function entryView(entry: Buffer): Buffer {
  return entry.subarray(4, 4 + entry.readUInt32BE(0));
}

/** The serialised record of a RecordEntry. */
function entryRecord(entry: Buffer): Buffer {
  return entry.subarray(4 + entry.readUInt32BE(0));
}

export function seqKey(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

export function familyChangeKey(family: Family, seq: number): string {
  return `${family}${SEP}${seqKey(seq)}`;
}

export function historyKey(key: string, version: number): string {
  return `${key}${SEP}${version.toString(16).padStart(8, '0')}`;
}
