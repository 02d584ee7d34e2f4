import { closeSync, createWriteStream, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGzip } from 'node:zlib';
import type { ClientConfig, Config } from '../config.js';
import { AuthRequired, CairnError, ERRORS, StoreLocked, type ErrorCode } from '../errors.js';
import { prefixHandle } from '../ids/handle.js';
import { ADMIN_INDEX } from '../service/bootstrap.js';
import type { Signer } from '../signing/signer.js';
import type { RecordStore } from '../store/store.js';
import { backupLines, checkBackupFile, type BackupSource } from './backup-format.js';
import { loadExistingSigner } from './keys.js';
import { hasStore, openExistingStore } from './open.js';

/**
 * `cairn backup FILE` and `POST /api/admin/backup`: the whole store, from one LevelDB snapshot,
 * as the gzip-compressed NDJSON of backup-format.ts.
 *
 * A running server holds the data directory's lock, so the command asks it for the file (the
 * service admin's credentials, as `cairn put` sends them); with the server stopped it opens the
 * store itself. Either way the file is written beside FILE, read back and checked (gzip, framing,
 * hash), flushed to disk and only then renamed to FILE, so FILE is never a partial backup, not even
 * after a power cut. A backup killed midway leaves `FILE.partial`, which restore refuses as
 * truncated (ERR_BACKUP_DAMAGED); the next backup to FILE replaces it.
 */

/**
 * The backup as a gzip stream (for an HTTP answer); the snapshot is taken when it is first read.
 * `onError` hears of a backup that failed midway (the reader then sees the stream break off).
 */
export function backupStream(store: RecordStore, signer: Signer, from: BackupSource, onError?: (err: unknown) => void): Readable {
  const gzip = createGzip();
  // Errors (and a client going away) destroy every stream of the chain, which stops the
  // generator and releases its snapshot.
  pipeline(Readable.from(backupLines(store, signer, from)), gzip).catch((err: unknown) => {
    if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') onError?.(err);
  });
  return gzip;
}

export interface BackupOutcome {
  readonly file: string;
  /** `server`: taken by the running server; `offline`: read from the data directory. */
  readonly source: 'server' | 'offline';
  readonly created: string;
  readonly changeLog: number;
  readonly entries: number;
  readonly counts: Readonly<Record<string, number>>;
  /** Compressed size on disk. */
  readonly bytes: number;
  readonly seconds: number;
}

export interface BackupClient {
  readonly client: () => ClientConfig;
  /** The CLI's "server unreachable" error (exit 69). */
  readonly unreachable: (message: string) => Error;
}

export async function backupCommand(config: Config, client: BackupClient, file: string): Promise<BackupOutcome> {
  const started = Date.now();
  const partial = `${file}.partial`;
  let source: BackupOutcome['source'] = 'offline';
  try {
    let store: RecordStore | undefined;
    if (hasStore(config.dataDir)) {
      try {
        store = await openExistingStore(config.dataDir, 'asking it for the backup');
      } catch (e) {
        if (!(e instanceof StoreLocked)) throw e;
      }
    }
    if (store) {
      try {
        const signer = loadExistingSigner(config, 'cairn backup (offline, to seal the file)');
        await pipeline(Readable.from(backupLines(store, signer, { prefix: config.prefix, source: 'offline' })), createGzip(), createWriteStream(partial, { mode: 0o600 }));
      } finally {
        await store.close();
      }
    } else {
      source = 'server';
      await downloadBackup(config, client, partial);
    }
    const checked = await checkBackupFile(partial);
    fsyncPath(partial, 'r+');
    renameSync(partial, file);
    fsyncPath(dirname(resolve(file)), 'r');
    const { header } = checked;
    return {
      file,
      source,
      created: header.created,
      changeLog: header.changeLog,
      entries: header.entries,
      counts: header.counts,
      bytes: statSync(file).size,
      seconds: Math.round((Date.now() - started) / 10) / 100,
    };
  } finally {
    rmSync(partial, { force: true });
  }
}

/** fsync of a file (its content) or a directory (a rename in it). */
function fsyncPath(path: string, flags: 'r' | 'r+'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function downloadBackup(config: Config, client: BackupClient, partial: string): Promise<void> {
  const { url } = client.client();
  const { identity, secret } = credentials(config, client.client());
  const user = encodeURIComponent(identity);
  let res: Response;
  try {
    res = await fetch(`${url}/api/admin/backup`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`, accept: 'application/gzip' },
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw client.unreachable(`the data directory is not here or is in use, and ${new URL(url).origin} cannot be reached (${cause}); is the server running? (CAIRN_URL)`);
  }
  if (res.status !== 200 || res.body === null) throw await serverError(res);
  try {
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), createWriteStream(partial, { mode: 0o600 }));
  } catch (e) {
    throw client.unreachable(`the server's backup stream broke off: ${(e as Error).message}`);
  }
}

function credentials(config: Config, client: ClientConfig): { identity: string; secret: string } {
  if (client.identity && client.secret) return { identity: client.identity, secret: client.secret };
  const file = join(config.dataDir, 'admin-credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { identity: string; secret: string };
  // The service admin's secret as the server was first started with it.
  if (config.adminSecret !== undefined) return { identity: `${ADMIN_INDEX}:${prefixHandle(config.prefix)}`, secret: config.adminSecret };
  throw new AuthRequired(
    'The backup is taken by the running server for the service admin: set CAIRN_IDENTITY and CAIRN_SECRET (or CAIRN_ADMIN_SECRET), or run where CAIRN_DATA_DIR holds admin-credentials.json',
  );
}

/** The server's problem+json as the CairnError it names. */
async function serverError(res: Response): Promise<CairnError> {
  const text = await res.text();
  let code: ErrorCode = res.status === 401 ? 'ERR_AUTH_REQUIRED' : res.status === 403 ? 'ERR_PERMISSION_DENIED' : 'ERR_INTERNAL';
  let detail = text.slice(0, 200);
  try {
    const body = JSON.parse(text) as { code?: string; detail?: string; message?: string };
    if (body.code && body.code in ERRORS) code = body.code as ErrorCode;
    detail = body.detail ?? body.message ?? detail;
  } catch {
    // Not JSON: the status decides.
  }
  return new CairnError(code, `server answered ${res.status}: ${detail}`);
}
