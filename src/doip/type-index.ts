import type { RecordStore } from '../store/store.js';
import { SEP } from '../store/store.js';
import { objectType } from './objects.js';

/**
 * The search index of digital objects by type, derived from the change log:
 *
 *   index  doiptype 00 <type> 00 <record key>  -> the object's id
 *   index  doipkey 00 <record key>             -> the type it is listed under (to move or drop it)
 *   meta   doipIndexedSeq                      -> the last change-log position folded in
 *
 * Whichever path wrote a record (DOIP, the Handle REST API, an import), the index catches up from
 * the change log before every search, so a search sees every write acknowledged before it began.
 * Catching up is idempotent (each key is set to what its current record says), so a crash between
 * the index batch and the position update only repeats work.
 */

export const TYPE_TERM = 'doiptype';
const KEY_TERM = 'doipkey';
const POSITION = 'doipIndexedSeq';
const BATCH = 1000;
const MAX_TYPE_LENGTH = 1024;

/** The index term of a type; `undefined` for a type that cannot be a key (never written by DOIP). */
export function typeTerm(type: string): string | undefined {
  if (type.length > MAX_TYPE_LENGTH || /[\u0000\u0001]/.test(type)) return undefined;
  return `${TYPE_TERM}${SEP}${type}`;
}

export class DoipTypeIndex {
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly store: RecordStore) {}

  /** Folds in every change committed so far. Runs one at a time. */
  catchUp(): Promise<void> {
    const run = this.running.then(() => this.fold());
    this.running = run.catch(() => undefined);
    return run;
  }

  /** Ids of objects of `type`, in key order, paged. */
  ids(type: string | undefined, offset: number, limit: number): Promise<string[]> {
    const term = type === undefined ? TYPE_TERM : typeTerm(type);
    return term === undefined ? Promise.resolve([]) : this.store.indexIds(term, { offset, limit });
  }

  count(type: string | undefined): Promise<number> {
    const term = type === undefined ? TYPE_TERM : typeTerm(type);
    return term === undefined ? Promise.resolve(0) : this.store.countIndex(term);
  }

  /** Every id of `type` (or of every type), streamed in key order. */
  async *all(type: string | undefined): AsyncGenerator<string> {
    const term = type === undefined ? TYPE_TERM : typeTerm(type);
    if (term === undefined) return;
    for await (const id of this.store.index.values({ gt: `${term}${SEP}`, lt: `${term}\u0001` })) yield id;
  }

  private async fold(): Promise<void> {
    let since = (await this.store.getMeta<number>(POSITION)) ?? 0;
    for (;;) {
      const keys = new Set<string>();
      let last = since;
      let seen = 0;
      for await (const change of this.store.familyChangesSince('handle', since)) {
        keys.add(change.key);
        last = change.seq;
        if (++seen >= BATCH) break;
      }
      if (seen === 0) return;
      const ops: ({ type: 'put'; key: string; value: string } | { type: 'del'; key: string })[] = [];
      for (const key of keys) {
        const record = this.store.findRecord(key);
        const type = record ? objectType(record) : undefined;
        const term = type === undefined ? undefined : typeTerm(type);
        const listed = await this.store.index.get(`${KEY_TERM}${SEP}${key}`);
        const listedTerm = listed === undefined ? undefined : typeTerm(listed);
        if (listedTerm === term) continue;
        if (listedTerm !== undefined) ops.push({ type: 'del', key: `${listedTerm}${SEP}${key}` });
        if (term !== undefined && record) {
          ops.push({ type: 'put', key: `${term}${SEP}${key}`, value: record.id });
          ops.push({ type: 'put', key: `${KEY_TERM}${SEP}${key}`, value: type! });
        } else {
          ops.push({ type: 'del', key: `${KEY_TERM}${SEP}${key}` });
        }
      }
      if (ops.length > 0) await this.store.index.batch(ops);
      await this.store.addIndexEntries([], { [POSITION]: last });
      since = last;
      if (seen < BATCH) return;
    }
  }
}
