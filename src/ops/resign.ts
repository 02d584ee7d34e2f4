import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { signatureSubject, storedView } from './derived.js';
import type { StoredRecord } from '../records/record.js';
import { findSignature, withSignature } from '../signing/record-signature.js';
import { tokenKid, type Signer } from '../signing/signer.js';
import type { RecordStore, RecordWrite } from '../store/store.js';

/**
 * Re-signing every live record with the active key after a rotation (`cairn keys rotate`).
 *
 * The job walks the records in key order, a batch at a time. Each batch is one store commit under
 * the write lock: the re-signed records (with their views, history entries and change-log entries)
 * together with the checkpoint in meta (`keys:resign`: the target key and the last record key
 * handled). A crash loses at most the batch in flight, which is redone on resume; a record already
 * signed by the target key (re-signed before, or written since by the service) is left alone, so
 * every record is re-signed at most once, and each record is replaced whole, so a reader sees the
 * old signed version or the new signed one, never a record without a valid signature.
 *
 * A re-sign is a write: the record's version goes up by one, the version it replaces goes to
 * history, and the change log gets an `update` entry (mirrors, the ITS change feed and the DNS
 * zone serial follow the change log; IXFR compares the zone's RRs, which hold no signature, so a
 * re-signed OID yields an empty difference). Only `HS_SIGNATURE` and the record's `updated` time
 * change; the other values keep their bytes and timestamps. Tombstones are not re-signed (a
 * deleted identifier answers 410 without its values; re-signing one would log a change mirrors
 * read as a re-creation); they, and history versions, keep the signature they were written with.
 *
 * The signed subject is what each family signs: a handle (products included) its id, an OID
 * `urn:oid:<dotted>`, an ITS sign or issuer its id. Records of any other family are left as they
 * are, and the keys that signed them stay published (`others`).
 */
export const RESIGN_META = 'keys:resign';

export interface ResignState {
  /** kid of the key records are re-signed with (the active key). */
  readonly target: string;
  /** Last record key handled; null before the first batch. */
  readonly after: string | null;
  readonly done: boolean;
  /** Records re-signed so far. */
  readonly resigned: number;
  /** Live records found already signed with the target key. */
  readonly current: number;
  /** Tombstones and records of families this job does not re-sign. */
  readonly skipped: number;
  /** kids on live records left as they were: those keys stay in the JWKS whatever their retire time. */
  readonly others: readonly string[];
  /**
   * The keys published when the job began: live records may carry their signatures until it is
   * done, so they stay in the JWKS meanwhile whatever their retire time.
   */
  readonly pinned: readonly string[];
  /** Records that could not be re-signed (`key: reason`, the first few): left as they were. */
  readonly failed?: readonly string[];
  /** RFC 3339 with milliseconds. */
  readonly started: string;
  readonly finished?: string;
}

export interface ResignContext {
  readonly store: RecordStore;
  readonly signer: Signer;
  /** `iss` of new signatures: `<index of the active key's HS_PUBKEY>:0.NA/<prefix>`. */
  readonly issuer: () => string;
  readonly validitySeconds: number;
  /** Seconds since the epoch (injectable in tests). */
  readonly now?: () => number;
}

export interface ResignOptions {
  /** Records per batch (one commit each); default 256. */
  readonly batchSize?: number;
  /** Pause between batches, in milliseconds (throttling on a busy server; tests slow it down). */
  readonly pauseMs?: number;
  /** Called after each committed batch. */
  readonly onBatch?: (state: ResignState) => void;
}

const DEFAULT_BATCH = 256;
const MAX_FAILED = 20;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** The `sub` a family signs a record under, or undefined for a family this job does not know. */
export function signedSubject(record: StoredRecord): string | undefined {
  return KNOWN_FAMILIES.has(record.family) ? signatureSubject(record) : undefined;
}

const KNOWN_FAMILIES: ReadonlySet<string> = new Set(['handle', 'oid', 'its']);

/** The pre-rendered view a live record of the family is stored with (what its service stores). */
export function liveView(record: StoredRecord): { status: number; body: Buffer } {
  return storedView(record);
}

/** kid of the key that signed the record, or undefined (no signature, or none naming a key). */
export function signatureKid(record: StoredRecord): string | undefined {
  const sig = findSignature(record.values);
  return sig === undefined ? undefined : tokenKid(Buffer.from(sig.data).toString('utf8'));
}

/** The record re-signed by the active key: the next version, only HS_SIGNATURE and `updated` changed. */
export function resignedRecord(record: StoredRecord, subject: string, ctx: ResignContext, now: number): StoredRecord {
  const values = withSignature(subject, record.values, ctx.signer, { issuer: ctx.issuer(), now, validitySeconds: ctx.validitySeconds });
  return { ...record, version: record.version + 1, updated: now, values };
}

/**
 * Decides, when a store is opened, what re-sign is due and writes its checkpoint: an unfinished
 * job continues (from the start if the active key changed since it began); a new one starts when
 * the active key was made by a rotation (`activeWantsResign`) and has not been re-signed with yet.
 * Pins the keys that must stay published meanwhile: those published when the job began (a key
 * already retired then signs no live record), and once it is done those of records it left alone. Returns the job's state, undefined if none is due.
 */
export async function prepareResign(
  ctx: ResignContext,
  activeWantsResign: boolean,
  signedSince: (kid: string, sinceMs: number) => boolean = () => true,
): Promise<ResignState | undefined> {
  const { store, signer } = ctx;
  const previous = await store.getMeta<ResignState>(RESIGN_META);
  const target = signer.active.kid;
  // Keys live records may carry: none but the last job's target and leftovers once it is done,
  // everything it began with while it is not, and whatever signed since it began.
  const since = previous === undefined ? undefined : Date.parse(previous.started);
  const carried = previous === undefined ? [] : previous.done ? previous.others : previous.pinned;
  const mayCarry = signer
    .keys()
    .map((k) => k.kid)
    .filter((kid) => since === undefined || Number.isNaN(since) || carried.includes(kid) || signedSince(kid, since));
  signer.pin(mayCarry);
  if (previous?.target === target) return previous.done ? undefined : previous;
  if (!(previous && !previous.done) && !activeWantsResign) return undefined;
  const fresh: ResignState = {
    target,
    after: null,
    done: false,
    resigned: 0,
    current: 0,
    skipped: 0,
    others: [],
    pinned: mayCarry,
    started: new Date(Math.max(Date.now(), (ctx.now ?? nowSeconds)() * 1000)).toISOString(),
  };
  await store.exclusive(() => store.commit([], { [RESIGN_META]: fresh }));
  return fresh;
}

/** A re-sign job over a store; `run` in the foreground or `start` it in the background. */
export class ResignJob {
  private stopping = false;
  private running: Promise<ResignState> | undefined;
  /** The error that ended a background run, if one did. */
  error: unknown;

  constructor(
    private readonly ctx: ResignContext,
    private current: ResignState,
    private readonly options: ResignOptions = {},
  ) {}

  get state(): ResignState {
    return this.current;
  }

  /** Runs batches until every record is handled (or `stop`); resolves with the last state. */
  run(): Promise<ResignState> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Runs in the background; an error ends the run and is kept in `error` and passed to `onError`. */
  start(onError: (e: unknown) => void = () => undefined): void {
    this.run().catch((e: unknown) => {
      this.error = e;
      onError(e);
    });
  }

  /** Stops after the batch in flight (its commit lands whole or not at all). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<ResignState> {
    const pause = this.options.pauseMs ?? 0;
    while (!this.stopping && !this.current.done) {
      await this.batch();
      this.options.onBatch?.(this.current);
      if (this.current.done || this.stopping) break;
      if (pause > 0) await sleep(pause);
      else await nextTurn();
    }
    return this.current;
  }

  private async batch(): Promise<void> {
    const { store, signer } = this.ctx;
    const limit = Math.max(1, this.options.batchSize ?? DEFAULT_BATCH);
    const keys: string[] = [];
    const after = this.current.after;
    for await (const key of store.records.keys(after === null ? { limit } : { gt: after, limit })) keys.push(key);
    await store.exclusive(async () => {
      if (signer.active.kid !== this.current.target) throw new Error(`The active key ${signer.active.kid} is not the re-sign target ${this.current.target}`);
      const now = (this.ctx.now ?? nowSeconds)();
      if (keys.length === 0) {
        const finished: ResignState = { ...this.current, done: true, finished: iso(now) };
        await store.commit([], { [RESIGN_META]: finished });
        this.current = finished;
        signer.pin(finished.others);
        return;
      }
      const writes: RecordWrite[] = [];
      let { current, skipped } = this.current;
      const others = new Set(this.current.others);
      const failed = [...(this.current.failed ?? [])];
      for (const key of keys) {
        // Read under the lock: a write since the key was listed is what gets re-signed (or skipped).
        const record = store.findRecord(key);
        if (record === undefined) continue;
        const kid = signatureKid(record);
        if (record.status !== 'active') {
          skipped++;
          continue;
        }
        if (kid === this.current.target) {
          current++;
          continue;
        }
        const subject = signedSubject(record);
        if (subject === undefined) {
          skipped++;
          if (kid !== undefined) others.add(kid);
          continue;
        }
        let write: RecordWrite;
        try {
          const next = resignedRecord(record, subject, this.ctx, now);
          // Only the signature changes, and no index is built from it: index terms stay as they are.
          write = { key, record: next, previous: record, view: liveView(next), indexTerms: [], previousIndexTerms: [] };
        } catch (e) {
          // A record its family cannot render any more stays as it is, and so does its key's publication.
          skipped++;
          if (kid !== undefined) others.add(kid);
          if (failed.length < MAX_FAILED) failed.push(`${key}: ${(e as Error)?.message ?? String(e)}`);
          continue;
        }
        writes.push(write);
      }
      const state: ResignState = {
        ...this.current,
        after: keys.at(-1)!,
        resigned: this.current.resigned + writes.length,
        current,
        skipped,
        others: [...others],
        ...(failed.length > 0 ? { failed } : {}),
      };
      await store.commit(writes, { [RESIGN_META]: state });
      this.current = state;
    });
  }
}
