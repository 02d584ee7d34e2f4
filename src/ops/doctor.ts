import { existsSync } from 'node:fs';
import type { Config } from '../config.js';
import { CairnError, StoreCorrupt } from '../errors.js';
import { deserializeRecord, type Family, type StoredRecord } from '../records/record.js';
import { decodeCompact } from '../signing/jws.js';
import { findSignature, verifyRecordSignature, type SignaturePayload } from '../signing/record-signature.js';
import type { Signer } from '../signing/signer.js';
import { familyChangeKey, historyKey, seqKey, SEP, type ChangeEntry, type RecordStore } from '../store/store.js';
import {
  CURRENT_INDEX_NAMES,
  currentIndexTerms,
  DOIP_INDEX_NAMES,
  DOIP_POSITION_META,
  doipIndexEntries,
  EVER_INDEX_NAMES,
  everIndexTerms,
  expectedKey,
  INDEX_MIGRATIONS,
  indexName,
  recordKind,
  renderStoredView,
  signatureSubject,
} from './derived.js';
import { loadExistingSigner } from './keys.js';
import { checkLog, type LogCheck } from '../log/check.js';
import { damageMessage, hasStore, isDamage, openExistingStore, storeDir } from './open.js';

/**
 * `cairn doctor`: reads a stopped server's store and checks that everything stored beside the
 * records still agrees with them.
 *
 * - records: each entry's framing, its record decodes, it is stored under the key its id gives;
 * - views: the pre-rendered view is exactly what the writing service renders for the record;
 * - signatures: every record's and every history version's HS_SIGNATURE verifies with the keys
 *   in CAIRN_CERTS_DIR and names the record (a current signature past its validity window is a
 *   warning: the record is intact but needs re-signing);
 * - history: versions 1..v-1 of every record at version v, each the version its key says;
 * - change log: positions 1..n without gaps, each entry names an existing version of an existing
 *   record, each record's versions appear in order and end at its current version, and the
 *   per-family copy (fchanges) holds the same entries and nothing else;
 * - indexes: every entry of an index derived from records (derived.ts lists them: handle prefix,
 *   value search, product aliases, OID children/active/labels/ledger, ITS geo cells and aliases,
 *   the ITS `ever` indexes from history, the DOIP type index up to the position it has caught up
 *   to) points at a record that yields exactly that term and carries its id, and every term a
 *   record yields is there. Entries of other index names are counted as unchecked.
 *
 * It keeps one small entry per record key in memory (change-log and history counts).
 */

export type Check = 'open' | 'read' | 'keys' | 'record' | 'view' | 'signature' | 'history' | 'changes' | 'index' | 'log';

export interface Finding {
  readonly check: Check;
  /** The storage key concerned, when there is one. */
  readonly key?: string;
  readonly message: string;
}

export interface DoctorReport {
  ok: boolean;
  store: string;
  /** Change-log position (its last entry). */
  changeLog: number;
  checked: {
    records: number;
    history: number;
    changes: number;
    familyChanges: number;
    signatures: number;
    index: number;
    indexByName: Record<string, number>;
  };
  /** Index entries of names not derived from records (or not built yet), by name. */
  unchecked: Record<string, number>;
  /** The transparency log against the change log (src/log/check.ts), when that pass ran. */
  transparencyLog?: LogCheck;
  problemCount: number;
  /** The first `maxProblems` problems. */
  problems: Finding[];
  warnings: Finding[];
}

export interface CheckOptions {
  /** Verifies signatures; without it they are not checked (and that is a problem). */
  readonly signer: Signer | undefined;
  /** Seconds since the epoch, for signature validity warnings. */
  readonly now?: number;
  readonly maxProblems?: number;
  /** Where the store is, for the report. */
  readonly location?: string;
}

interface HistoryStats {
  count: number;
  max: number;
  recordSeen: boolean;
}

class Doctor {
  readonly report: DoctorReport;
  private readonly maxProblems: number;
  private readonly now: number;
  /** Per record key: the last version the change log names. */
  private readonly logVersions = new Map<string, number>();
  private readonly history = new Map<string, HistoryStats>();
  /** Index names whose migration has not run yet: a missing entry is a warning. */
  private readonly pendingNames = new Set<string>();
  private doipPosition: number | undefined;
  /** Keys written after the DOIP index's position: their DOIP entries may lag. */
  private readonly doipPending = new Set<string>();

  constructor(
    private readonly store: RecordStore,
    private readonly options: CheckOptions,
  ) {
    this.maxProblems = options.maxProblems ?? 100;
    this.now = options.now ?? Math.floor(Date.now() / 1000);
    this.report = {
      ok: true,
      store: options.location ?? '',
      changeLog: store.lastSeq,
      checked: { records: 0, history: 0, changes: 0, familyChanges: 0, signatures: 0, index: 0, indexByName: {} },
      unchecked: {},
      problemCount: 0,
      problems: [],
      warnings: [],
    };
  }

  problem(check: Check, key: string | undefined, message: string): void {
    this.report.ok = false;
    this.report.problemCount++;
    if (this.report.problems.length < this.maxProblems) this.report.problems.push(key === undefined ? { check, message } : { check, key, message });
  }

  warning(check: Check, key: string | undefined, message: string): void {
    if (this.report.warnings.length < this.maxProblems) this.report.warnings.push(key === undefined ? { check, message } : { check, key, message });
  }

  async run(): Promise<DoctorReport> {
    if (!this.options.signer) this.problem('keys', undefined, 'Signatures not checked: no signing keys (CAIRN_CERTS_DIR)');
    await this.pass('meta', () => this.readMeta());
    await this.pass('changes', () => this.checkChanges());
    await this.pass('fchanges', () => this.checkFamilyChanges());
    await this.pass('history', () => this.checkHistory());
    await this.pass('records', () => this.checkRecords());
    await this.pass('index', () => this.checkIndex());
    await this.pass('log', async () => {
      this.report.transparencyLog = await checkLog(this.store, (m, key) => this.problem('log', key, m), (m) => this.warning('log', undefined, m));
    });
    return this.report;
  }

  /** A pass that LevelDB cannot finish (damaged files) is reported, and the next one runs. */
  private async pass(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!isDamage(e)) throw e;
      this.problem('read', undefined, `Reading ${what} failed: ${damageMessage(e)} (ERR_STORE_CORRUPT: restore the data directory from a backup)`);
    }
  }

  private async readMeta(): Promise<void> {
    for (const [name, meta] of Object.entries(INDEX_MIGRATIONS)) {
      if (((await this.store.getMeta<number>(meta)) ?? 0) < 1) this.pendingNames.add(name);
    }
    this.doipPosition = await this.store.getMeta<number>(DOIP_POSITION_META);
    if (this.doipPosition !== undefined) {
      for await (const change of this.store.familyChangesSince('handle', this.doipPosition)) this.doipPending.add(change.key);
    }
  }

  /** The record at `key` as stored, or a reason it cannot be read. */
  private read(key: string): StoredRecord | undefined | Error {
    try {
      return this.store.findRecord(key);
    } catch (e) {
      return e as Error;
    }
  }

  private async checkChanges(): Promise<void> {
    let expected = 1;
    for await (const [k, text] of this.store.changes.iterator()) {
      this.report.checked.changes++;
      const seq = /^[0-9a-f]{16}$/.test(k) ? parseInt(k, 16) : NaN;
      if (Number.isNaN(seq)) {
        this.problem('changes', k, `Change-log key ${JSON.stringify(k)} is not a position`);
        continue;
      }
      if (seq !== expected) this.problem('changes', k, seq > expected ? `Change log has a gap: positions ${expected}..${seq - 1} are missing` : `Change-log position ${seq} is out of order`);
      expected = seq + 1;
      let entry: ChangeEntry;
      try {
        entry = JSON.parse(text) as ChangeEntry;
      } catch {
        this.problem('changes', k, `Change-log entry ${seq} is not JSON`);
        continue;
      }
      if (typeof entry?.key !== 'string' || typeof entry.id !== 'string' || !Number.isSafeInteger(entry.version) || entry.version < 1) {
        this.problem('changes', k, `Change-log entry ${seq} lacks its key, id or version`);
        continue;
      }
      if (entry.seq !== seq) this.problem('changes', k, `Change-log entry at position ${seq} says seq ${entry.seq}`);
      const previous = this.logVersions.get(entry.key) ?? 0;
      if (entry.version !== previous + 1) {
        this.problem('changes', entry.key, `Change ${seq} writes ${entry.id} version ${entry.version}, but the change log's previous version of it is ${previous}`);
      }
      this.logVersions.set(entry.key, Math.max(previous, entry.version));
      const record = this.read(entry.key);
      if (record === undefined) this.problem('changes', entry.key, `Change ${seq} names ${entry.id}, which has no record`);
      else if (!(record instanceof Error)) {
        if (record.version === entry.version) {
          if (record.id !== entry.id) this.problem('changes', entry.key, `Change ${seq} names ${entry.id}, the record is ${record.id}`);
        } else if (entry.version > record.version || this.store.history.getSync(historyKey(entry.key, entry.version)) === undefined) {
          this.problem('changes', entry.key, `Change ${seq} names version ${entry.version} of ${entry.id}, which is neither in history nor current (version ${record.version})`);
        }
      }
      // The per-family copy: the same entry (a legacy entry gained its family when copied).
      const family: Family = entry.family ?? (entry.key.startsWith('oid:') ? 'oid' : 'handle');
      const copy = this.store.familyChanges.getSync(familyChangeKey(family, seq));
      const expectedCopy = entry.family === undefined ? JSON.stringify({ ...entry, family }) : text;
      if (copy === undefined) this.problem('changes', entry.key, `Change ${seq} is missing from the per-family change log (${family})`);
      else if (copy !== expectedCopy) this.problem('changes', entry.key, `Change ${seq} differs in the per-family change log (${family})`);
    }
    if (this.report.checked.changes > 0 && this.store.lastSeq !== expected - 1) {
      this.problem('changes', undefined, `The store resumes at position ${this.store.lastSeq}, the change log ends at ${expected - 1}`);
    }
  }

  private async checkFamilyChanges(): Promise<void> {
    for await (const [k, text] of this.store.familyChanges.iterator()) {
      this.report.checked.familyChanges++;
      const sep = k.lastIndexOf(SEP);
      const seq = sep < 0 ? NaN : parseInt(k.slice(sep + 1), 16);
      const original = Number.isNaN(seq) ? undefined : this.store.changes.getSync(seqKey(seq));
      if (original === undefined) {
        let id = '';
        try {
          id = ` (${(JSON.parse(text) as ChangeEntry).id})`;
        } catch {
          // The key says enough.
        }
        this.problem('changes', k.replace(SEP, ' '), `Per-family change-log entry ${JSON.stringify(k.replace(SEP, ' '))}${id} has no entry in the change log`);
      }
    }
  }

  private async checkHistory(): Promise<void> {
    for await (const [hk, bytes] of this.store.history.iterator()) {
      this.report.checked.history++;
      const sep = hk.lastIndexOf(SEP);
      const versionText = sep < 0 ? '' : hk.slice(sep + 1);
      if (!/^[0-9a-f]{8}$/.test(versionText)) {
        this.problem('history', hk, `History key ${JSON.stringify(hk)} names no version`);
        continue;
      }
      const key = hk.slice(0, sep);
      const version = parseInt(versionText, 16);
      const stats = this.history.get(key) ?? { count: 0, max: 0, recordSeen: false };
      stats.count++;
      stats.max = Math.max(stats.max, version);
      this.history.set(key, stats);
      let record: StoredRecord;
      try {
        record = deserializeRecord(bytes);
      } catch (e) {
        this.problem('history', key, `Version ${version} of ${key} does not decode: ${(e as Error).message}`);
        continue;
      }
      if (record.version !== version) this.problem('history', key, `History entry for version ${version} of ${record.id} holds version ${record.version}`);
      this.checkKey(key, record, 'history');
      this.checkSignature(key, record, `version ${record.version} of ${record.id} (history)`, false);
    }
  }

  private checkKey(key: string, record: StoredRecord, check: Check): void {
    try {
      const expected = expectedKey(record);
      if (expected !== key) this.problem(check, key, `${record.id} is stored under ${JSON.stringify(key)}, its id belongs under ${JSON.stringify(expected)}`);
    } catch (e) {
      this.problem(check, key, `${JSON.stringify(record.id)} (family ${String(record.family)}) is not a valid identifier: ${(e as Error).message}`);
    }
  }

  private checkSignature(key: string, record: StoredRecord, what: string, current: boolean): void {
    const signer = this.options.signer;
    if (!signer) return;
    this.report.checked.signatures++;
    const sig = findSignature(record.values);
    if (!sig) {
      this.problem('signature', key, `${what}: no HS_SIGNATURE value`);
      return;
    }
    let payload: SignaturePayload;
    try {
      payload = decodeCompact(Buffer.from(sig.data).toString('utf8')).payload as SignaturePayload;
      if (typeof payload?.iat !== 'number') throw new Error('the payload has no iat');
      // The validity window is judged separately: verified as of its own issue time, a signature
      // checks the key, the subject and every value's digest.
      verifyRecordSignature(signatureSubject(record), record.values, signer, payload.iat);
    } catch (e) {
      this.problem('signature', key, `${what}: signature does not verify: ${(e as Error).message}`);
      return;
    }
    if (current && record.status === 'active' && !(payload.nbf <= this.now && this.now < payload.exp)) {
      this.warning('signature', key, `${what}: signature valid ${new Date(payload.nbf * 1000).toISOString()} to ${new Date(payload.exp * 1000).toISOString()}, not now: re-sign the record`);
    }
  }

  private async checkRecords(): Promise<void> {
    for await (const [key, entry] of this.store.records.iterator()) {
      this.report.checked.records++;
      const viewLength = entry.length >= 6 ? entry.readUInt32BE(0) : -1;
      if (viewLength < 2 || 4 + viewLength > entry.length) {
        this.problem('record', key, `Record entry of ${JSON.stringify(key)} is malformed (${entry.length} bytes, view length ${viewLength})`);
        continue;
      }
      let record: StoredRecord;
      try {
        record = deserializeRecord(entry.subarray(4 + viewLength));
        recordKind(record);
      } catch (e) {
        this.problem('record', key, `Record of ${JSON.stringify(key)} does not decode: ${(e as Error).message}`);
        continue;
      }
      this.checkKey(key, record, 'record');
      try {
        if (!renderStoredView(record).equals(entry.subarray(4, 4 + viewLength))) {
          this.problem('view', key, `The stored view of ${record.id} (version ${record.version}) is not the rendering of its record`);
        }
      } catch (e) {
        this.problem('view', key, `${record.id}: its view cannot be rendered: ${(e as Error).message}`);
      }
      this.checkSignature(key, record, `${record.id} (version ${record.version})`, true);
      const logged = this.logVersions.get(key);
      if (logged === undefined) this.problem('changes', key, `${record.id} (version ${record.version}) has no entry in the change log`);
      else if (logged !== record.version) this.problem('changes', key, `${record.id} is at version ${record.version}, its last change-log entry is version ${logged}`);
      const stats = this.history.get(key);
      if (stats) stats.recordSeen = true;
      if ((stats?.count ?? 0) !== record.version - 1 || (stats !== undefined && stats.max !== record.version - 1)) {
        this.problem('history', key, `${record.id} is at version ${record.version}: history should hold versions 1..${record.version - 1}, it holds ${stats?.count ?? 0} up to ${stats?.max ?? 0}`);
      }
      await this.checkRecordTerms(key, record);
    }
    for (const [key, stats] of this.history) {
      if (!stats.recordSeen) this.problem('history', key, `History holds ${stats.count} versions of ${JSON.stringify(key)}, which has no record`);
    }
  }

  /** Every term the record yields has its index entry, carrying the record's id. */
  private async checkRecordTerms(key: string, record: StoredRecord): Promise<void> {
    let expected: [string, string][];
    try {
      const terms = [...currentIndexTerms(record), ...(await this.everTerms(key, record))];
      expected = terms.map((term) => [`${term}${SEP}${key}`, record.id]);
      if (this.doipPosition !== undefined && !this.doipPending.has(key)) expected.push(...doipIndexEntries(key, record));
    } catch (e) {
      this.problem('index', key, `${record.id}: its index terms cannot be derived: ${(e as Error).message}`);
      return;
    }
    for (const [indexKey, value] of expected) {
      const stored = this.store.index.getSync(indexKey);
      const shown = JSON.stringify(indexKey.replaceAll(SEP, ' '));
      if (stored === undefined) {
        const name = indexName(indexKey);
        if (this.pendingNames.has(name)) this.warning('index', key, `Index entry ${shown} is not built yet (the server builds it at its next start)`);
        else this.problem('index', key, `Index entry ${shown} of ${record.id} is missing`);
      } else if (stored !== value) {
        this.problem('index', key, `Index entry ${shown} holds ${JSON.stringify(stored)}, expected ${JSON.stringify(value)}`);
      }
    }
  }

  /** The `ever` terms of a sign: those of its current version and of every version in history. */
  private async everTerms(key: string, record: StoredRecord): Promise<string[]> {
    if (record.family !== 'its' || recordKind(record) !== 'its-sign') return [];
    const terms = new Set(everIndexTerms(record));
    if (record.version > 1) for (const old of await this.store.historyOf(key)) for (const t of everIndexTerms(old)) terms.add(t);
    return [...terms];
  }

  private async checkIndex(): Promise<void> {
    const { checked, unchecked } = this.report;
    for await (const [ik, value] of this.store.index.iterator()) {
      const name = indexName(ik);
      const known = CURRENT_INDEX_NAMES.has(name) || EVER_INDEX_NAMES.has(name) || (DOIP_INDEX_NAMES.has(name) && this.doipPosition !== undefined);
      if (!known) {
        unchecked[name] = (unchecked[name] ?? 0) + 1;
        continue;
      }
      checked.index++;
      checked.indexByName[name] = (checked.indexByName[name] ?? 0) + 1;
      const shown = JSON.stringify(ik.replaceAll(SEP, ' '));
      const sep = ik.lastIndexOf(SEP);
      if (sep < 0) {
        this.problem('index', undefined, `Index entry ${shown} names no record key`);
        continue;
      }
      const key = ik.slice(sep + 1);
      const term = ik.slice(0, sep);
      const record = this.read(key);
      if (record === undefined) {
        this.problem('index', key, `Index entry ${shown} points at ${JSON.stringify(key)}, which has no record`);
        continue;
      }
      if (record instanceof Error) continue; // reported by the records pass
      try {
        if (DOIP_INDEX_NAMES.has(name)) {
          if (this.doipPending.has(key)) continue;
          const wanted = doipIndexEntries(key, record).find(([k]) => k === ik);
          if (!wanted) this.problem('index', key, `Index entry ${shown} is not among the DOIP type entries ${record.id} yields`);
          else if (wanted[1] !== value) this.problem('index', key, `Index entry ${shown} holds ${JSON.stringify(value)}, expected ${JSON.stringify(wanted[1])}`);
          continue;
        }
        const terms = EVER_INDEX_NAMES.has(name) ? await this.everTerms(key, record) : currentIndexTerms(record);
        if (!terms.includes(term)) {
          this.problem('index', key, `Index entry ${shown} is stray: ${record.id} (${record.status}, version ${record.version}) does not yield that term`);
        } else if (value !== record.id) {
          this.problem('index', key, `Index entry ${shown} holds ${JSON.stringify(value)}, the record is ${record.id}`);
        }
      } catch (e) {
        this.problem('index', key, `${record.id}: its index terms cannot be derived: ${(e as Error).message}`);
      }
    }
  }
}

/** Checks an open store (doctor, and restore before it accepts a backup). */
export function checkStore(store: RecordStore, options: CheckOptions): Promise<DoctorReport> {
  return new Doctor(store, options).run();
}

export interface DoctorOutcome {
  readonly report: DoctorReport;
  /** 0 clean, 65 (EX_DATAERR) problems, 66 (EX_NOINPUT) no store there. */
  readonly exit: number;
}

function emptyReport(location: string, finding: Finding): DoctorReport {
  return {
    ok: false,
    store: location,
    changeLog: 0,
    checked: { records: 0, history: 0, changes: 0, familyChanges: 0, signatures: 0, index: 0, indexByName: {} },
    unchecked: {},
    problemCount: 1,
    problems: [finding],
    warnings: [],
  };
}

/** `cairn doctor`: the data directory of a stopped server (a running one holds it: ERR_STORE_LOCKED). */
export async function runDoctor(config: Config): Promise<DoctorOutcome> {
  const location = storeDir(config.dataDir);
  if (!existsSync(location)) {
    return { report: emptyReport(location, { check: 'open', message: `No store at ${location} (CAIRN_DATA_DIR)` }), exit: 66 };
  }
  if (!hasStore(config.dataDir)) {
    // Opening would create an empty database in its place.
    const message = `ERR_STORE_CORRUPT: ${location} has no LevelDB CURRENT file: the store is damaged or not a store. Restore the data directory from a backup (cairn restore)`;
    return { report: emptyReport(location, { check: 'open', message }), exit: 65 };
  }
  let signer: Signer | undefined;
  let keysProblem: string | undefined;
  try {
    signer = loadExistingSigner(config, 'Checking signatures');
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    keysProblem = e.message;
  }
  let store: RecordStore;
  try {
    store = await openExistingStore(config.dataDir, 'stop it first (the doctor reads the store directly)');
  } catch (e) {
    if (e instanceof StoreCorrupt) return { report: emptyReport(location, { check: 'open', message: `${e.code}: ${e.message}` }), exit: 65 };
    throw e;
  }
  try {
    const report = await checkStore(store, { signer, location });
    if (keysProblem !== undefined) {
      const i = report.problems.findIndex((p) => p.check === 'keys');
      if (i >= 0) report.problems[i] = { check: 'keys', message: `Signatures not checked: ${keysProblem}` };
    }
    return { report, exit: report.ok ? 0 : 65 };
  } finally {
    await store.close();
  }
}

/** The report for people. */
export function formatReport(report: DoctorReport): string {
  const c = report.checked;
  const names = Object.entries(c.indexByName).map(([n, k]) => `${n} ${k}`).join(', ') || 'none';
  const unchecked = Object.entries(report.unchecked).map(([n, k]) => `${n} ${k}`).join(', ') || 'none';
  const lines = [
    `cairn doctor: ${report.store}`,
    `  change log   ${c.changes} entries, position ${report.changeLog}; per-family copy ${c.familyChanges} entries`,
    `  records      ${c.records}; history ${c.history} versions; signatures verified ${c.signatures}`,
    `  indexes      ${c.index} entries checked (${names}); not derived from records: ${unchecked}`,
  ];
  const log = report.transparencyLog;
  if (log) lines.push(`  log          ${log.size} leaves, ${log.leavesChecked} rebuilt from the change log; ${log.nodesChecked} subtree hashes checked`);
  const list = (title: string, items: readonly Finding[], total: number): void => {
    if (total === 0) return;
    lines.push(`${title} (${total}${items.length < total ? `, first ${items.length} shown` : ''}):`);
    for (const f of items) lines.push(`  [${f.check}] ${f.message}`);
  };
  list('problems', report.problems, report.problemCount);
  list('warnings', report.warnings, report.warnings.length);
  lines.push(report.ok ? 'result: clean' : `result: ${report.problemCount} problem${report.problemCount === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}
