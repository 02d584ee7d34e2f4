import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BackupDamaged } from '../errors.js';
import type { Signer } from '../signing/signer.js';
import type { RecordStore } from '../store/store.js';

/**
 * The backup file: gzip-compressed NDJSON, one LevelDB entry a line, read from one snapshot.
 *
 *   line 1      header   {"format":"cairn-backup","version":1,"created":"<RFC 3339>","prefix":"20.5000",
 *                         "source":"server"|"offline","changeLog":<position>,"entries":<n>,
 *                         "counts":{"records":…,"history":…,"changes":…,"fchanges":…,"index":…,"meta":…},
 *                         "jwks":{"keys":[…]}}
 *   lines 2..   entries  {"k":"!records!20.5000/DEMO","v":"<value, standard Base64>"}
 *                        every key of the root database (all sublevels, their `!name!` prefixes
 *                        included) in key order, as the store's UTF-8 key encoding reads it
 *   last line   trailer  {"end":"cairn-backup","entries":<n>,"sha256":"<hex>","seal":"<compact JWS>"}
 *
 * `sha256` covers every byte before the trailer line (header and entry lines, each with its
 * newline). `seal` is a JWS (`typ` cairn-backup+jws) by the service's signing key over
 * {format, version, created, prefix, changeLog, entries, sha256}: the hash finds damage, the seal
 * finds deliberate changes to what record signatures do not cover (versions, owners, tombstones,
 * indexes, meta), since only the holder of the signing key can make one.
 */
export const BACKUP_FORMAT = 'cairn-backup';
export const BACKUP_VERSION = 1;
export const SEAL_TYP = 'cairn-backup+jws';
/** Longest line a reader accepts (a record is bounded by the request body limit, far below this). */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  readonly created: string;
  readonly prefix: string;
  readonly source: 'server' | 'offline';
  readonly changeLog: number;
  readonly entries: number;
  /** Entries per sublevel name (`records`, `history`, …; `` for keys outside any sublevel). */
  readonly counts: Readonly<Record<string, number>>;
  /** The keys the service published when the backup was taken (informational: restore trusts CAIRN_CERTS_DIR). */
  readonly jwks: { readonly keys: readonly Readonly<Record<string, string>>[] };
}

export interface BackupTrailer {
  readonly end: typeof BACKUP_FORMAT;
  readonly entries: number;
  readonly sha256: string;
  readonly seal: string;
}

export interface SealPayload {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  readonly created: string;
  readonly prefix: string;
  readonly changeLog: number;
  readonly entries: number;
  readonly sha256: string;
}

/** The sublevel a raw root-database key belongs to: `!records!x` -> `records`. */
export function sublevelOf(key: string): string {
  if (!key.startsWith('!')) return '';
  const end = key.indexOf('!', 1);
  return end < 0 ? '' : key.slice(1, end);
}

export interface BackupSource {
  readonly prefix: string;
  readonly source: BackupHeader['source'];
  /** Clock, for tests. */
  readonly now?: () => Date;
}

/**
 * The backup's lines (uncompressed, each ending in a newline), read from one snapshot of the store
 * taken when the first line is asked for: writes committed meanwhile are not in it, and every
 * entry is as that moment left it. Stop early (`return()`) and the snapshot is released.
 */
export async function* backupLines(store: RecordStore, signer: Signer, from: BackupSource): AsyncGenerator<Buffer> {
  const snapshot = store.snapshot();
  try {
    const counts: Record<string, number> = {};
    let entries = 0;
    for await (const key of snapshot.keys()) {
      const name = sublevelOf(key);
      counts[name] = (counts[name] ?? 0) + 1;
      entries++;
    }
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      created: (from.now?.() ?? new Date()).toISOString(),
      prefix: from.prefix,
      source: from.source,
      changeLog: await snapshot.lastSeq(),
      entries,
      counts,
      jwks: signer.jwks(),
    };
    const hash = createHash('sha256');
    const first = Buffer.from(`${JSON.stringify(header)}\n`);
    hash.update(first);
    yield first;
    // Lines are gathered into chunks of about 64 KiB: one stream write per entry costs more than the entry.
    let chunk: string[] = [];
    let size = 0;
    let written = 0;
    for await (const [k, v] of snapshot.entries()) {
      const line = `{"k":${JSON.stringify(k)},"v":"${v.toString('base64')}"}\n`;
      chunk.push(line);
      size += line.length;
      written++;
      if (size >= 65536) {
        const bytes = Buffer.from(chunk.join(''));
        hash.update(bytes);
        yield bytes;
        chunk = [];
        size = 0;
      }
    }
    if (chunk.length > 0) {
      const bytes = Buffer.from(chunk.join(''));
      hash.update(bytes);
      yield bytes;
    }
    // One snapshot: the count pass and the entry pass see the same entries.
    if (written !== entries) throw new Error(`snapshot yielded ${written} entries after counting ${entries}`);
    const sha256 = hash.digest('hex');
    const payload: SealPayload = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      created: header.created,
      prefix: header.prefix,
      changeLog: header.changeLog,
      entries,
      sha256,
    };
    const trailer: BackupTrailer = { end: BACKUP_FORMAT, entries, sha256, seal: signer.sign(payload, SEAL_TYP) };
    yield Buffer.from(`${JSON.stringify(trailer)}\n`);
  } finally {
    await snapshot.close();
  }
}

/**
 * The lines of a gzip-compressed file, without their newlines. A gzip stream that is not one or
 * stops short, or a last line without its newline, is ERR_BACKUP_DAMAGED.
 */
export async function* readBackupLines(file: string): AsyncGenerator<Buffer> {
  const gunzip = createGunzip();
  // pipeline destroys the gunzip stream with the file's error, so iterating it rejects.
  pipeline(createReadStream(file), gunzip, () => undefined);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, nl);
        yield pending.length === 0 ? part : Buffer.concat([...pending, part]);
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) throw new BackupDamaged(`${file}: a line is longer than ${MAX_LINE_BYTES} bytes`);
      }
    }
  } catch (e) {
    if (e instanceof BackupDamaged) throw e;
    const err = e as NodeJS.ErrnoException;
    // A missing or unreadable file keeps its errno (the CLI exits 66, EX_NOINPUT).
    if (err.syscall !== undefined) throw e;
    const what = err.code === 'Z_BUF_ERROR' ? 'the gzip stream stops short (truncated file)' : `not a readable gzip file (${err.message})`;
    throw new BackupDamaged(`${file}: ${what}`, { file });
  } finally {
    gunzip.destroy();
  }
  if (pendingBytes > 0) throw new BackupDamaged(`${file}: the last line has no newline (truncated file)`, { file });
}

function parseJson(line: Buffer, what: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch {
    throw new BackupDamaged(`${file}: the ${what} is not JSON`, { file });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BackupDamaged(`${file}: the ${what} is not a JSON object`, { file });
  return parsed as Record<string, unknown>;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function parseHeader(line: Buffer, file: string): BackupHeader {
  const h = parseJson(line, 'header (line 1)', file);
  if (h.format !== BACKUP_FORMAT) throw new BackupDamaged(`${file}: line 1 is not a Cairn backup header`, { file });
  if (h.version !== BACKUP_VERSION) throw new BackupDamaged(`${file}: backup format version ${String(h.version)} is not ${BACKUP_VERSION}, the one this Cairn reads`, { file });
  const counts = h.counts as Record<string, unknown> | undefined;
  const jwks = h.jwks as { keys?: unknown } | undefined;
  if (
    typeof h.created !== 'string' ||
    typeof h.prefix !== 'string' ||
    (h.source !== 'server' && h.source !== 'offline') ||
    !isCount(h.changeLog) ||
    !isCount(h.entries) ||
    typeof counts !== 'object' ||
    counts === null ||
    !Object.values(counts).every(isCount) ||
    typeof jwks !== 'object' ||
    jwks === null ||
    !Array.isArray(jwks.keys)
  ) {
    throw new BackupDamaged(`${file}: the header lacks a field or has one of the wrong type`, { file });
  }
  return h as unknown as BackupHeader;
}

function parseTrailer(line: Buffer, file: string): BackupTrailer {
  const t = parseJson(line, 'trailer (last line)', file);
  if (t.end !== BACKUP_FORMAT) throw new BackupDamaged(`${file}: the last line is not the backup's trailer (truncated file?)`, { file });
  if (!isCount(t.entries) || typeof t.sha256 !== 'string' || typeof t.seal !== 'string') {
    throw new BackupDamaged(`${file}: the trailer lacks a field or has one of the wrong type`, { file });
  }
  return t as unknown as BackupTrailer;
}

/** One entry line: `{"k": <key>, "v": <Base64>}` and nothing else. */
export function parseEntryLine(line: Buffer, lineNo: number, file: string): { key: string; value: Buffer } {
  const e = parseJson(line, `entry on line ${lineNo}`, file);
  const { k, v } = e;
  if (Object.keys(e).length !== 2 || typeof k !== 'string' || typeof v !== 'string' || !k.isWellFormed()) {
    throw new BackupDamaged(`${file}: line ${lineNo} is not an entry {"k": key, "v": Base64 value}`, { file, line: lineNo });
  }
  const value = Buffer.from(v, 'base64');
  if (value.toString('base64') !== v) throw new BackupDamaged(`${file}: line ${lineNo} has a value that is not canonical Base64`, { file, line: lineNo });
  return { key: k, value };
}

export interface CheckedBackup {
  readonly header: BackupHeader;
  readonly trailer: BackupTrailer;
  /** Uncompressed size. */
  readonly bytes: number;
}

/**
 * Reads the whole file once: gzip intact, a header, `entries` lines and a trailer whose hash
 * matches every byte before it. Does not look inside the entries (restore does).
 */
export async function checkBackupFile(file: string): Promise<CheckedBackup> {
  const hash = createHash('sha256');
  let header: BackupHeader | undefined;
  let previous: Buffer | undefined;
  let lines = 0;
  let bytes = 0;
  for await (const line of readBackupLines(file)) {
    if (previous !== undefined) {
      hash.update(previous);
      hash.update('\n');
    }
    lines++;
    bytes += line.length + 1;
    if (lines === 1) header = parseHeader(line, file);
    previous = line;
  }
  if (header === undefined || previous === undefined || lines < 2) throw new BackupDamaged(`${file}: no header and trailer (empty or truncated file)`, { file });
  const trailer = parseTrailer(previous, file);
  const sha256 = hash.digest('hex');
  if (trailer.sha256 !== sha256) {
    throw new BackupDamaged(`${file}: SHA-256 of the content is ${sha256}, the trailer says ${trailer.sha256}: the file was altered or damaged`, { file });
  }
  if (trailer.entries !== header.entries || lines !== header.entries + 2) {
    throw new BackupDamaged(`${file}: ${lines - 2} entry lines, the header says ${header.entries} and the trailer ${trailer.entries}`, { file });
  }
  return { header, trailer, bytes };
}
