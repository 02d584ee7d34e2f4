import type { AbstractLevel, AbstractSublevel, AbstractBatchOperation } from 'abstract-level';
import { deserializeRecord, serializeRecord, type StoredRecord } from '../records/record.js';

/**
 * The only module that touches LevelDB. Every write (records, pre-rendered views, indexes, history,
 * change log, meta) is one atomic batch, so a crash leaves the old state or the new, never half.
 *
 * Key layout. Record keys are the identifier's lookup key (for handles, the case-folded handle).
 * Identifier parsers reject control characters, so U+0000 never occurs inside a component and can
 * separate them; the version and sequence numbers are fixed-width hex so that keys sort numerically.
 *
 *   records   <key>                     -> record JSON (values as RFC 3651 Base64)
 *   views     <key>                     -> u16 HTTP status || pre-rendered response body
 *   history   <key> 00 <version:8 hex>  -> the record JSON that version replaced
 *   changes   <seq:16 hex>              -> change-log entry JSON
 *   index     <name> 00 <term> 00 <key> -> the record's id (e.g. prefix 00 20.5000 00 20.5000/ABC)
 *   meta      <name>                    -> JSON
 */
export type Db = AbstractLevel<string | Buffer | Uint8Array, string, string>;
type Sub<V> = AbstractSublevel<Db, string | Buffer | Uint8Array, string, V>;

export const SEP = '\u0000';

export interface ChangeEntry {
  readonly seq: number;
  readonly key: string;
  readonly id: string;
  readonly version: number;
  readonly op: 'create' | 'update' | 'delete';
  readonly at: number;
}

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
}

export class RecordStore {
  readonly records: Sub<string>;
  readonly views: Sub<Buffer>;
  readonly history: Sub<string>;
  readonly changes: Sub<string>;
  readonly index: Sub<string>;
  readonly meta: Sub<string>;
  private seq = 0;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(readonly db: Db, private readonly options: StoreOptions) {
    this.records = db.sublevel('records', { valueEncoding: 'utf8' }) as Sub<string>;
    this.views = db.sublevel<string, Buffer>('views', { valueEncoding: 'buffer' }) as unknown as Sub<Buffer>;
    this.history = db.sublevel('history', { valueEncoding: 'utf8' }) as Sub<string>;
    this.changes = db.sublevel('changes', { valueEncoding: 'utf8' }) as Sub<string>;
    this.index = db.sublevel('index', { valueEncoding: 'utf8' }) as Sub<string>;
    this.meta = db.sublevel('meta', { valueEncoding: 'utf8' }) as Sub<string>;
  }

  static async open(db: Db, options: StoreOptions = { sync: true }): Promise<RecordStore> {
    await db.open();
    const store = new RecordStore(db, options);
    // The change log is the source of truth for the sequence: resume after its last entry.
    for await (const key of store.changes.keys({ reverse: true, limit: 1 })) store.seq = parseInt(key, 16);
    return store;
  }

  get isOpen(): boolean {
    return this.db.status === 'open';
  }

  /** Position of the last committed change (0 for an empty store). */
  get lastSeq(): number {
    return this.seq;
  }

  async close(): Promise<void> {
    await this.lock.catch(() => undefined);
    await this.db.close();
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

  findRecord(key: string): StoredRecord | undefined {
    const text = this.records.getSync(key);
    return text === undefined ? undefined : deserializeRecord(text);
  }

  /** Hot path: the pre-rendered response bytes, no JSON parsed. */
  findView(key: string): Buffer | undefined {
    return this.views.getSync(key);
  }

  /**
   * Commits record writes, with their views, index changes, history and change-log entries, plus
   * optional meta entries, in one batch. Call inside `exclusive`.
   */
  async commit(writes: readonly RecordWrite[], meta: Readonly<Record<string, unknown>> = {}): Promise<ChangeEntry[]> {
    const ops: AbstractBatchOperation<Db, string, string | Buffer>[] = [];
    const entries: ChangeEntry[] = [];
    let seq = this.seq;
    for (const w of writes) {
      const { key, record, previous } = w;
      ops.push({ type: 'put', sublevel: this.records, key, value: serializeRecord(record) } as never);
      const view = Buffer.allocUnsafe(2 + w.view.body.length);
      view.writeUInt16BE(w.view.status, 0);
      w.view.body.copy(view, 2);
      ops.push({ type: 'put', sublevel: this.views, key, value: view } as never);
      if (previous) {
        ops.push({ type: 'put', sublevel: this.history, key: historyKey(key, previous.version), value: serializeRecord(previous) } as never);
      }
      const next = new Set(w.indexTerms);
      for (const term of w.previousIndexTerms) {
        if (!next.has(term)) ops.push({ type: 'del', sublevel: this.index, key: `${term}${SEP}${key}` } as never);
      }
      for (const term of next) ops.push({ type: 'put', sublevel: this.index, key: `${term}${SEP}${key}`, value: record.id } as never);
      const op = !previous ? 'create' : record.status === 'tombstoned' ? 'delete' : 'update';
      const entry: ChangeEntry = { seq: ++seq, key, id: record.id, version: record.version, op, at: record.updated };
      ops.push({ type: 'put', sublevel: this.changes, key: seqKey(entry.seq), value: JSON.stringify(entry) } as never);
      entries.push(entry);
    }
    for (const [name, value] of Object.entries(meta)) {
      ops.push({ type: 'put', sublevel: this.meta, key: name, value: JSON.stringify(value) } as never);
    }
    await this.db.batch(ops as never, { sync: this.options.sync } as never);
    this.seq = seq;
    return entries;
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
}

export function seqKey(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

export function historyKey(key: string, version: number): string {
  return `${key}${SEP}${version.toString(16).padStart(8, '0')}`;
}
