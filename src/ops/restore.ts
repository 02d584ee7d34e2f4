import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { BackupDamaged, BackupUnverified, ConfigInvalid, RestoreTargetNotEmpty, SignatureInvalid } from '../errors.js';
import { parseHandle, prefixHandle } from '../ids/handle.js';
import { encodePublicKeyJwk } from '../records/pubkey.js';
import { KEY_INDEX } from '../service/bootstrap.js';
import type { Signer } from '../signing/signer.js';
import { openStore } from '../store/open.js';
import type { RecordStore } from '../store/store.js';
import { BACKUP_FORMAT, BACKUP_VERSION, checkBackupFile, parseEntryLine, readBackupLines, SEAL_TYP, sublevelOf, type BackupHeader, type BackupTrailer, type SealPayload } from './backup-format.js';
import { checkStore, type DoctorReport } from './doctor.js';
import { loadExistingSigner } from './keys.js';
import { storeDir } from './open.js';

/**
 * `cairn restore FILE` into an empty data directory (CAIRN_DATA_DIR absent, or an empty
 * directory). Nothing is accepted on trust:
 *
 * 1. the file: gzip intact, header, entries and trailer framed, SHA-256 of the content as the
 *    trailer says (ERR_BACKUP_DAMAGED otherwise);
 * 2. the keys: the trust anchor is CAIRN_CERTS_DIR, the keys the restored service will run with,
 *    never the backup's own JWKS. Every key the backup's header lists must be there (else
 *    ERR_BACKUP_UNVERIFIED, naming it), and the backup's prefix must be CAIRN_PREFIX;
 * 3. the content, written to a staging directory beside the target: every entry line well-formed,
 *    keys strictly ascending, counts as the header says; then the doctor's checks over the staged
 *    store (doctor.ts): every record's and every history version's signature against the certs
 *    directory's keys, views, history, change-log continuity, indexes;
 * 4. the seal: the trailer's JWS by the service's key over the hash, so what signatures do not
 *    cover (versions, owners, tombstones, indexes, meta) cannot be changed either without the
 *    signing key.
 *
 * Only then is the staging directory renamed to the target; any refusal removes it, leaving the
 * target as it was. The admin secret comes back as the scrypt hash on `0.NA/<prefix>`;
 * `admin-credentials.json` is not part of a backup.
 */

export interface RestoreOutcome {
  readonly file: string;
  readonly dataDir: string;
  readonly created: string;
  readonly changeLog: number;
  readonly entries: number;
  readonly records: number;
  readonly history: number;
  readonly signatures: number;
  readonly warnings: number;
  readonly seconds: number;
}

const BATCH = 1000;

/** The target may not exist, or may be an empty directory. */
function requireEmptyTarget(dir: string): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new RestoreTargetNotEmpty(`${dir} is a file, not a data directory`, { dataDir: dir });
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (entries.length > 0) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
    throw new RestoreTargetNotEmpty(`${dir} is not empty (${shown}): restore only into an empty or new data directory (CAIRN_DATA_DIR)`, { dataDir: dir });
  }
}

export async function restoreBackup(config: Config, file: string): Promise<RestoreOutcome> {
  const started = Date.now();
  statSync(file); // a missing file is the CLI's EX_NOINPUT, before anything else
  const target = resolve(config.dataDir);
  requireEmptyTarget(target);
  const signer = loadExistingSigner(config, 'cairn restore (every signature is verified against them)');
  const { header, trailer } = await checkBackupFile(file);
  if (header.prefix !== config.prefix) {
    throw new ConfigInvalid(`The backup is of prefix ${header.prefix}, CAIRN_PREFIX is ${config.prefix}: restore with the backed-up service's configuration`);
  }
  const known = new Set(signer.keys().map((k) => k.kid));
  for (const key of header.jwks.keys) {
    if (!known.has(key.kid ?? '')) {
      throw new BackupUnverified(
        `The backup was taken by a service with signing key ${key.kid ?? '(no kid)'} (${key.alg ?? '?'}), which ${config.certsDir} does not hold: restore with the certs directory of the backed-up service (CAIRN_CERTS_DIR)`,
        { kid: key.kid },
      );
    }
  }

  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(target)}.restore-`));
  try {
    await writeEntries(file, storeDir(staging), header);
    const store = await openStore(storeDir(staging), { sync: false, viewCacheSize: 0 });
    let report: DoctorReport;
    try {
      report = await checkStore(store, { signer, location: storeDir(staging), maxProblems: 20 });
      if (report.ok) checkPublishedKey(store, config, signer);
    } finally {
      await store.close();
    }
    if (!report.ok) {
      const first = report.problems.slice(0, 3).map((p) => `[${p.check}] ${p.message}`).join('; ');
      throw new BackupUnverified(`${file}: ${report.problemCount} problem${report.problemCount === 1 ? '' : 's'} in the backup's content: ${first}`, {
        problems: report.problems,
        problemCount: report.problemCount,
      });
    }
    if (report.changeLog !== header.changeLog) {
      throw new BackupUnverified(`${file}: the header says change-log position ${header.changeLog}, the content ends at ${report.changeLog}`);
    }
    verifySeal(file, header, trailer, signer);
    requireEmptyTarget(target);
    renameSync(staging, target);
    syncDirectory(parent);
    return {
      file,
      dataDir: target,
      created: header.created,
      changeLog: header.changeLog,
      entries: header.entries,
      records: report.checked.records,
      history: report.checked.history,
      signatures: report.checked.signatures,
      warnings: report.warnings.length,
      seconds: Math.round((Date.now() - started) / 10) / 100,
    };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** Second read of the file: each entry into the staging store, in ascending key order. */
async function writeEntries(file: string, dir: string, header: BackupHeader): Promise<void> {
  const store = await openStore(dir, { sync: false, viewCacheSize: 0 });
  try {
    const counts: Record<string, number> = {};
    let batch = store.db.batch();
    let pending = 0;
    let lineNo = 0;
    let previous: Buffer | undefined;
    const last = header.entries + 2;
    for await (const line of readBackupLines(file)) {
      lineNo++;
      if (lineNo === 1 || lineNo === last) continue; // header and trailer, checked already
      const { key, value } = parseEntryLine(line, lineNo, file);
      const bytes = Buffer.from(key, 'utf8');
      if (previous !== undefined && Buffer.compare(previous, bytes) >= 0) {
        throw new BackupDamaged(`${file}: line ${lineNo} is out of key order (a backup lists keys ascending, each once)`, { file, line: lineNo });
      }
      previous = bytes;
      const name = sublevelOf(key);
      counts[name] = (counts[name] ?? 0) + 1;
      batch.put(key, value);
      if (++pending >= BATCH) {
        await batch.write();
        batch = store.db.batch();
        pending = 0;
      }
    }
    // One synced write makes every earlier one durable (same log, or already in synced tables).
    await batch.write({ sync: true } as never);
    const names = new Set([...Object.keys(counts), ...Object.keys(header.counts)]);
    for (const name of names) {
      if ((counts[name] ?? 0) !== (header.counts[name] ?? 0)) {
        throw new BackupDamaged(`${file}: ${counts[name] ?? 0} entries of ${name || 'the root'}, the header says ${header.counts[name] ?? 0}`, { file });
      }
    }
  } finally {
    await store.close();
  }
}

/** The trailer's seal: a JWS by one of the service's keys over exactly this file's facts. */
function verifySeal(file: string, header: BackupHeader, trailer: BackupTrailer, signer: Signer): void {
  let payload: SealPayload;
  try {
    const jws = signer.verify(trailer.seal);
    if (jws.header.typ !== SEAL_TYP) throw new SignatureInvalid(`typ is ${String(jws.header.typ)}, not ${SEAL_TYP}`);
    payload = jws.payload as SealPayload;
  } catch (e) {
    throw new BackupUnverified(`${file}: the backup's seal does not verify with the keys in CAIRN_CERTS_DIR: ${(e as Error).message}`);
  }
  const expected: SealPayload = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    created: header.created,
    prefix: header.prefix,
    changeLog: header.changeLog,
    entries: header.entries,
    sha256: trailer.sha256,
  };
  for (const k of Object.keys(expected) as (keyof SealPayload)[]) {
    if (payload?.[k] !== expected[k]) {
      throw new BackupUnverified(`${file}: the backup's seal is for another content (${k} ${JSON.stringify(payload?.[k])}, the file has ${JSON.stringify(expected[k])}): the file was altered`);
    }
  }
}

/**
 * The restored prefix record publishes the certs directory's active key (as bootstrap.ts insists
 * at every start), so the restored service starts.
 */
function checkPublishedKey(store: RecordStore, config: Config, signer: Signer): void {
  const record = store.findRecord(parseHandle(prefixHandle(config.prefix)).key);
  // Rotated keys carry their own index (key-files.ts); the first key of an algorithm has KEY_INDEX's.
  const index = (signer.active as { index?: number }).index ?? KEY_INDEX[signer.active.alg];
  const published = record?.values.find((v) => v.type === 'HS_PUBKEY' && v.index === index);
  if (published && !Buffer.from(published.data).equals(encodePublicKeyJwk({ ...signer.active.jwk }))) {
    throw new ConfigInvalid(
      `The backup's ${prefixHandle(config.prefix)} publishes another ${signer.active.alg} key at index ${index} than ${config.certsDir} holds: restore with the certs directory of the backed-up service`,
    );
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
