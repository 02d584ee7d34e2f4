import { CairnError, MirrorFeedInvalid } from '../errors.js';
import { isoSeconds } from '../records/handle-json.js';
import type { StoredRecord } from '../records/record.js';
import { foldHandleCase, isHomed, parseHandle } from '../ids/handle.js';
import { parseOid, type Oid } from '../ids/oid.js';
import { oidRecordKey } from '../families/oid/oid-service.js';
import { parseIssuer } from '../families/its/its-service.js';
import { ITS_ISSUER_ID, itsIssuerRecordKey, itsSignRecordKey } from '../families/its/its-storage.js';
import { parseItsSignId } from '../ids/its-sign.js';
import type { RecordWrite } from '../store/store.js';
import { handleWrite, itsWrite, oidWrite } from './apply.js';
import { PrimaryUnavailable, type FeedEntry, type Primary } from './primary.js';
import type { MirrorService, MirrorState, RejectedEntry } from './service.js';
import { JWKS_META, STATE_META } from './service.js';
import { checkHistory, signatureKidOf, verifiedVersion, type HistoryDoc, type Target } from './verify.js';

/** The few logger methods the follower uses (pino's signature). */
export interface MirrorLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface FollowerOptions {
  /** Milliseconds between polls when the primary has nothing new; also the first retry delay. */
  readonly pollMs: number;
  /** Feed entries fetched per poll (the primary allows up to 1000). */
  readonly batch?: number;
  /** Attempts at a feed entry that fails verification before it is given up. */
  readonly maxAttempts?: number;
  /** Longest wait between retries. */
  readonly maxBackoffMs?: number;
  /** Histories fetched at once. */
  readonly concurrency?: number;
}

/** What the step did: more to fetch right away, nothing new, or wait before trying again. */
type Step = 'more' | 'idle' | 'retry';

/** One applied feed entry or a reason to stop before it. */
type EntryOutcome = { readonly write?: RecordWrite; readonly oid?: Oid } | { readonly rejected: CairnError };

const KEEP_REJECTED = 20;
/** The primary serves its JWKS with max-age 300 at most (keys retire): a mirror re-reads it as often. */
const KEYS_MAX_AGE_MS = 300_000;

/**
 * Follows the primary's change feed into the mirror's store.
 *
 * From its cursor (the primary's change-log position, stored in meta and committed in the same
 * batch as the records it covers, so a crash never skips or repeats an entry), it reads a page of
 * the feed, fetches the history of each record named there, and for each entry stores the version
 * it names, verified (verify.ts) against the primary's JWKS: fetched at start, fetched again when a
 * signature names a key the mirror does not know. Versions are stored with the primary's version
 * numbers, times and tombstones, with the same views and indexes as on the primary.
 *
 * An entry that fails verification stops the follower before it: the good entries before it are
 * committed, the failure is logged (`mirror-rejected`, error level) and counted, and the entry is
 * retried with backoff (its history fetched anew) up to `maxAttempts` times. After the
 * last attempt it is given up: logged (`mirror-gave-up`), kept in the state's `rejected` list and
 * `cairn_mirror_rejected_total`, the record stays as the mirror had it (never the unverified
 * version), and the follower goes on. It does not stop for good, because a primary can hold records
 * that a mirror cannot rebuild from the public view (see README "Mirrors"), and one such record
 * must not freeze every mirror.
 *
 * ITS signs and issuers (`its:…` and `its-issuer:…` in the feed) are copied like the rest, from
 * `/api/history/its:…`. Primaries from before ITS history was published name them `hdl:its:…`
 * and serve no history for them: those entries are counted as unsupported and passed over.
 */
export class MirrorFollower {
  private state: MirrorState;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly maxAttempts: number;
  private readonly maxBackoffMs: number;
  private readonly concurrency: number;
  private primaryLast: number | undefined;
  private failing: { seq: number; attempts: number } | undefined;
  private failures = 0;
  private halted: string | undefined;
  private prefixChecked = false;
  /** When the primary's JWKS was last fetched (ms); it is fetched again after KEYS_MAX_AGE_MS. */
  private keysFetchedAt: number | undefined;
  private lastSync: number | undefined;
  private lastError: { code: string; message: string; at: number } | undefined;
  private readonly counters = { applied: 0, verificationFailures: 0, fetchErrors: 0 };
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  /** The JWKS as last committed to the store. */
  private savedJwks: string;

  constructor(
    private readonly primary: Primary,
    private readonly mirror: MirrorService,
    private log: MirrorLog,
    options: FollowerOptions,
  ) {
    this.state = mirror.state;
    this.pollMs = options.pollMs;
    this.batch = options.batch ?? 200;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.concurrency = options.concurrency ?? 8;
    this.savedJwks = JSON.stringify(mirror.keys.jwks());
  }

  /** Starts following in the background (logging to `log` from then on, if given). */
  start(log?: MirrorLog): void {
    if (log) this.log = log;
    this.running ??= this.run();
  }

  /** Stops after the step in progress (its fetches are aborted; nothing half-applied is committed). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    let delay = 0;
    while (!this.stopped && this.halted === undefined) {
      if (delay > 0) await this.sleep(delay);
      if (this.stopped) break;
      let step: Step;
      try {
        step = await this.step();
        this.failures = 0;
      } catch (e) {
        if (this.stopped) break;
        this.fetchFailed(e);
        step = 'retry';
      }
      delay = step === 'more' ? 0 : step === 'idle' ? this.pollMs : this.backoff();
    }
  }

  private backoff(): number {
    const n = Math.max(this.failures, this.failing?.attempts ?? 0, 1);
    return Math.min(this.pollMs * 2 ** (n - 1), this.maxBackoffMs);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private fetchFailed(e: unknown): void {
    this.failures++;
    this.counters.fetchErrors++;
    const code = e instanceof CairnError ? e.code : e instanceof PrimaryUnavailable ? 'PRIMARY_UNAVAILABLE' : 'ERR_INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    // One line per new kind of failure, not one per retry.
    if (this.lastError?.message !== message) {
      if (code === 'ERR_INTERNAL') this.log.error({ event: 'mirror-error', err: e }, 'mirror follower failed');
      else this.log.warn({ event: 'mirror-fetch-failed', primary: this.primary.url, code, reason: message }, 'cannot read the primary; retrying with backoff');
    }
    this.lastError = { code, message, at: Date.now() };
  }

  /**
   * One poll: check the prefix and keys once, read a page of the feed, verify and commit what it
   * names. Throws when the primary cannot be read (the caller backs off).
   */
  async step(): Promise<Step> {
    const signal = this.abort.signal;
    if (!this.prefixChecked) {
      const prefix = this.mirror.service.config.prefix;
      if (!(await this.primary.servesPrefix(prefix, signal))) {
        this.halted = `The primary ${this.primary.url} does not serve prefix ${prefix}: set CAIRN_PREFIX to the primary's prefix`;
        this.log.error({ event: 'mirror-halted', primary: this.primary.url, prefix, reason: this.halted }, 'mirror stopped following');
        this.lastError = { code: 'ERR_CONFIG_INVALID', message: this.halted, at: Date.now() };
        return 'idle';
      }
      this.prefixChecked = true;
    }
    if (this.keysFetchedAt === undefined || Date.now() - this.keysFetchedAt > KEYS_MAX_AGE_MS) await this.refreshKeys();
    const page = await this.primary.changes(this.state.cursor, this.batch, signal);
    this.primaryLast = page.last;
    this.lastSync = Date.now();
    if (this.lastError?.code === 'PRIMARY_UNAVAILABLE') {
      this.log.info({ event: 'mirror-reconnected', primary: this.primary.url }, 'reading the primary again');
      this.lastError = undefined;
    }
    if (page.changes.length === 0) {
      if (JSON.stringify(this.mirror.keys.jwks()) !== this.savedJwks) await this.commit([], [], this.state);
      return 'idle';
    }
    const histories = await this.fetchHistories(page.changes);
    const writes: RecordWrite[] = [];
    const oids: Oid[] = [];
    const pending = new Map<string, StoredRecord>();
    let unsupported = 0;
    let refreshed = false;
    for (const entry of page.changes) {
      let outcome: EntryOutcome | 'unsupported';
      try {
        outcome = await this.apply(entry, histories.get(entry.id)!, pending, () => {
          if (refreshed) return Promise.resolve(false);
          refreshed = true;
          return this.refreshKeys().then(() => true);
        });
      } catch (e) {
        if (!(e instanceof CairnError)) throw e;
        outcome = { rejected: e };
      }
      if (outcome === 'unsupported') {
        unsupported++;
        continue;
      }
      if ('rejected' in outcome) {
        return this.rejectAt(entry, outcome.rejected, writes, oids, unsupported);
      }
      if (outcome.write) {
        writes.push(outcome.write);
        pending.set(outcome.write.key, outcome.write.record);
        if (outcome.oid) oids.push(outcome.oid);
      }
    }
    const last = page.changes.at(-1)!.seq;
    await this.commit(writes, oids, { ...this.state, cursor: last, unsupportedTotal: this.state.unsupportedTotal + unsupported });
    if (this.failing && this.failing.seq <= last) this.failing = undefined;
    return page.changes.length === this.batch || last < page.last ? 'more' : 'idle';
  }

  /** Commits the entries before a rejected one, then counts the attempt or gives the entry up. */
  private async rejectAt(entry: FeedEntry, error: CairnError, writes: RecordWrite[], oids: Oid[], unsupported: number): Promise<Step> {
    const attempts = (this.failing?.seq === entry.seq ? this.failing.attempts : 0) + 1;
    this.counters.verificationFailures++;
    this.lastError = { code: error.code, message: error.message, at: Date.now() };
    const facts = { seq: entry.seq, id: entry.id, version: entry.version, code: error.code, reason: error.message };
    this.log.error({ event: 'mirror-rejected', ...facts, attempt: attempts, of: this.maxAttempts }, 'mirror rejected a record from the primary; not stored');
    const before = { ...this.state, cursor: entry.seq - 1, unsupportedTotal: this.state.unsupportedTotal + unsupported };
    if (attempts < this.maxAttempts) {
      await this.commit(writes, oids, before);
      this.failing = { seq: entry.seq, attempts };
      return 'retry';
    }
    const given: RejectedEntry = { seq: entry.seq, id: entry.id, version: entry.version, code: error.code, message: error.message, at: isoSeconds(Math.floor(Date.now() / 1000)) };
    this.log.error({ event: 'mirror-gave-up', ...facts, attempts }, 'mirror gave up a record after every attempt failed; the mirror keeps its earlier state of it');
    await this.commit(writes, oids, { ...before, cursor: entry.seq, rejectedTotal: before.rejectedTotal + 1, rejected: [...before.rejected, given].slice(-KEEP_REJECTED) });
    this.failing = undefined;
    return 'more';
  }

  private async refreshKeys(): Promise<void> {
    const { added, ignored } = this.mirror.keys.learn(await this.primary.jwks(this.abort.signal));
    this.keysFetchedAt = Date.now();
    if (added > 0 || ignored > 0) this.log.info({ event: 'mirror-keys', added, ignored, known: this.mirror.keys.size }, 'fetched the primary\'s JWKS');
  }

  /** Histories of the records a page names, each fetched once; a per-record failure is kept for its entries. */
  private async fetchHistories(entries: readonly FeedEntry[]): Promise<Map<string, HistoryDoc | CairnError>> {
    const copied = (id: string): boolean => {
      try {
        return targetOf(id, this.mirror.service.config.prefix) !== 'unsupported';
      } catch {
        return false; // rejected as an entry by `apply`
      }
    };
    const ids = [...new Set(entries.filter((e) => copied(e.id)).map((e) => e.id))];
    const out = new Map<string, HistoryDoc | CairnError>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          out.set(id, checkHistory(await this.primary.history(id, this.abort.signal), id));
        } catch (e) {
          if (e instanceof CairnError) out.set(id, e);
          else throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, ids.length) }, worker));
    return out;
  }

  /** Verifies the version one entry names and builds its write; nothing to write if the mirror has it already. */
  private async apply(
    entry: FeedEntry,
    history: HistoryDoc | CairnError | undefined,
    pending: ReadonlyMap<string, StoredRecord>,
    refresh: () => Promise<boolean>,
  ): Promise<EntryOutcome | 'unsupported'> {
    const target = targetOf(entry.id, this.mirror.service.config.prefix);
    if (target === 'unsupported') return 'unsupported';
    if (history instanceof CairnError) throw history;
    if (history === undefined) throw new MirrorFeedInvalid(`No history fetched for ${entry.id}`);
    const previous = pending.get(target.key) ?? this.mirror.service.store.findRecord(target.key);
    if (previous && previous.version >= entry.version) return {}; // applied before
    const kid = signatureKidOf(history.versions[entry.version - 1]);
    if (kid !== undefined && !this.mirror.keys.has(kid)) await refresh();
    const record = verifiedVersion(target, history, entry.version, this.mirror.keys, previous);
    if ((entry.op === 'delete') !== (record.status === 'tombstoned')) {
      throw new MirrorFeedInvalid(`${entry.id} version ${entry.version}: the feed says ${entry.op}, the history says ${record.status}`);
    }
    if (target.family === 'oid') {
      const oid = parseOid(record.id);
      return { write: oidWrite(oid, record, previous), oid };
    }
    if (target.family === 'its') return { write: itsWrite(record, previous) };
    return { write: handleWrite(record, previous) };
  }

  /** Commits record writes with the state (cursor) they bring, and the JWKS if it changed, in one batch. */
  private async commit(writes: readonly RecordWrite[], oids: readonly Oid[], state: MirrorState): Promise<void> {
    const store = this.mirror.service.store;
    const jwks = JSON.stringify(this.mirror.keys.jwks());
    const meta: Record<string, unknown> = { [STATE_META]: state, ...(jwks !== this.savedJwks ? { [JWKS_META]: JSON.parse(jwks) as unknown } : {}) };
    const entries = await store.exclusive(() => store.commit(writes, meta));
    this.state = state;
    this.savedJwks = jwks;
    this.counters.applied += writes.length;
    entries.forEach((change, i) => {
      if (change.family === 'oid') this.mirror.oids.announce({ oid: oids.find((o) => oidRecordKey(o) === writes[i]!.key)!, seq: change.seq });
    });
    if (writes.length > 0) this.log.info({ event: 'mirror-applied', records: writes.length, position: state.cursor, primary: this.primaryLast }, 'mirrored records from the primary');
  }

  /** For `GET /api/mirror`. */
  status() {
    const position = this.state.cursor;
    const state = this.halted !== undefined ? 'halted' : this.failing ? 'retrying' : this.failures > 0 ? 'unavailable' : 'following';
    return {
      primary: this.primary.url,
      state,
      position,
      primaryPosition: this.primaryLast ?? null,
      behind: this.primaryLast === undefined ? null : Math.max(0, this.primaryLast - position),
      lastSync: this.lastSync === undefined ? null : new Date(this.lastSync).toISOString(),
      retrying: this.failing ? { seq: this.failing.seq, attempts: this.failing.attempts, of: this.maxAttempts } : null,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message, at: new Date(this.lastError.at).toISOString() } : null,
      rejectedTotal: this.state.rejectedTotal,
      rejected: this.state.rejected,
      unsupportedTotal: this.state.unsupportedTotal,
      keys: this.mirror.keys.size,
    };
  }

  /** Prometheus lines appended to `/metrics`. */
  metrics(): string {
    const s = this.status();
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    };
    metric('cairn_mirror_position', 'gauge', 'Change-log position of the primary up to which this mirror has applied or given up entries.', s.position);
    metric('cairn_mirror_primary_position', 'gauge', 'The primary\'s last change-log position when last read (-1 before the first read).', s.primaryPosition ?? -1);
    metric('cairn_mirror_applied_total', 'counter', 'Record versions verified and stored since start.', this.counters.applied);
    metric('cairn_mirror_verification_failures_total', 'counter', 'Attempts at feed entries that failed verification since start (each retry counts).', this.counters.verificationFailures);
    metric('cairn_mirror_rejected_total', 'counter', 'Feed entries given up after every attempt failed verification; their records were not stored.', s.rejectedTotal);
    metric('cairn_mirror_unsupported_total', 'counter', 'Feed entries a mirror does not copy (ITS records named hdl:its: by primaries that publish no ITS history).', s.unsupportedTotal);
    metric('cairn_mirror_fetch_errors_total', 'counter', 'Polls that could not read the primary since start.', this.counters.fetchErrors);
    metric('cairn_mirror_retrying', 'gauge', '1 while the follower is stopped at a rejected entry, retrying it.', this.failing ? 1 : 0);
    metric('cairn_mirror_halted', 'gauge', '1 when the follower stopped for good (the primary does not serve the configured prefix).', this.halted !== undefined ? 1 : 0);
    metric('cairn_mirror_last_sync_seconds', 'gauge', 'Unix time of the last successful read of the primary\'s feed (0 before the first).', this.lastSync === undefined ? 0 : Math.floor(this.lastSync / 1000));
    return `${lines.join('\n')}\n`;
  }
}

/**
 * The record a feed id names, or 'unsupported' for the families a mirror does not copy. Throws
 * ERR_MIRROR_FEED_INVALID for ids that are no identifier, or handles not under the mirror's prefix.
 */
export function targetOf(id: string, prefix: string): Target | 'unsupported' {
  if (/^hdl:its(-issuer)?:/i.test(id)) return 'unsupported';
  if (id.startsWith(ITS_ISSUER_ID)) return itsIssuerTarget(id);
  if (id.startsWith('its:')) return itsSignTarget(id);
  if (id.startsWith('urn:oid:')) {
    let oid: Oid;
    try {
      oid = parseOid(id.slice(8));
    } catch (e) {
      throw new MirrorFeedInvalid(`The feed names ${id}, which is no OID`, { cause: e instanceof CairnError ? e.code : undefined });
    }
    const sub = `urn:oid:${oid.text}`;
    return { family: 'oid', key: oidRecordKey(oid), idFromSub: (s) => (s === sub ? oid.text : undefined) };
  }
  if (id.startsWith('hdl:')) {
    let key: string;
    try {
      const handle = parseHandle(id.slice(4));
      key = handle.key;
      if (!isHomed(handle, prefix)) throw new MirrorFeedInvalid(`${id} is not under prefix ${prefix}, which this mirror serves`);
    } catch (e) {
      if (e instanceof MirrorFeedInvalid) throw e;
      throw new MirrorFeedInvalid(`The feed names ${id}, which is no handle`, { cause: e instanceof CairnError ? e.code : undefined });
    }
    return { family: 'handle', key, idFromSub: (s) => (foldHandleCase(s) === key ? s : undefined) };
  }
  throw new MirrorFeedInvalid(`The feed names ${id}, an identifier of no family a mirror copies`);
}

/** A sign: its identity names the record; each version's `sub` is its id with that version's type. */
function itsSignTarget(id: string): Target {
  let key: string;
  try {
    key = itsSignRecordKey(parseItsSignId(id));
  } catch (e) {
    throw new MirrorFeedInvalid(`The feed names ${id}, which is no ITS sign identifier`, { cause: e instanceof CairnError ? e.code : undefined });
  }
  const idFromSub = (sub: string): string | undefined => {
    try {
      return sub.startsWith('its:') && itsSignRecordKey(parseItsSignId(sub)) === key ? sub : undefined;
    } catch {
      return undefined;
    }
  };
  return { family: 'its', key, idFromSub };
}

/** An issuer record: `its-issuer:<CC>.<authority>`, signed with exactly that `sub`. */
function itsIssuerTarget(id: string): Target {
  let key: string;
  try {
    key = itsIssuerRecordKey(parseIssuer(id.slice(ITS_ISSUER_ID.length)));
  } catch (e) {
    throw new MirrorFeedInvalid(`The feed names ${id}, which is no ITS issuer`, { cause: e instanceof CairnError ? e.code : undefined });
  }
  return { family: 'its', key, idFromSub: (sub) => (sub === id ? sub : undefined) };
}
