import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../config.js';
import { ManifestCountMismatch, ManifestInvalid, ManifestReused, ProductSerialDuplicate } from '../errors.js';
import type { Principal } from '../families/doa/authorize.js';
import { addLine, parseManifest, parseRow, type Manifest } from '../families/products/bulk.js';
import { manifestMetaKey, type BulkRow, type BulkRowFailure, type BulkRowResult, type StoredManifest } from '../families/products/product-service.js';
import { foldHandleCase } from '../ids/handle.js';
import { startService } from '../service/bootstrap.js';

/**
 * `cairn products import FILE.ndjson` (server stopped): the bulk registration of
 * `POST /api/products/{prefix}/items` from a file of any size, as the service admin. The format is
 * the same (families/products/bulk.ts); the manifest must name the `prefix`.
 *
 * 1. A first pass reads the manifest, counts the item lines (a count that differs refuses the
 *    file before anything is written), computes the file's fingerprint, and finds serials that
 *    occur twice, in bounded memory: 4 bytes per line (a 32-bit hash of each case-folded serial),
 *    the exact serials kept only for the few hashes seen more than once.
 * 2. The second pass registers the rows in batches of `batchSize`; each batch is committed with a
 *    checkpoint (`pimport:<PREFIX> 00 <manifestId>`: the fingerprint, lines done, totals and the
 *    failed rows so far). An interrupted import resumes after the last committed batch; a
 *    different file under the same manifest id is refused (ERR_MANIFEST_REUSED).
 * 3. The last batch also stores the manifest's answer, as the HTTP route does, so a repeat (by
 *    CLI or HTTP) answers it again and writes nothing.
 *
 * Rows fail one by one, as over HTTP; at most `MAX_LISTED_FAILURES` failures are listed (all are
 * counted).
 */
export interface ProductImportResult {
  readonly file: string;
  readonly manifestId: string;
  readonly prefix: string;
  readonly count: number;
  readonly resumedAt: number;
  readonly created: number;
  readonly failed: number;
  readonly failures: readonly BulkRowFailure[];
  readonly replayed: boolean;
  readonly seconds: number;
}

interface Checkpoint {
  readonly fingerprint: string;
  /** Lines of the file (all lines, blank ones included) done. */
  readonly lines: number;
  readonly created: number;
  readonly failed: number;
  readonly failures: readonly BulkRowFailure[];
}

export interface ProductImportOptions {
  readonly progress: boolean;
  readonly batchSize?: number;
  /** Called after each committed batch (tests interrupt an import here). */
  readonly afterBatch?: (linesDone: number) => void;
}

const BATCH = 1000;
export const MAX_LISTED_FAILURES = 1000;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

interface Scan {
  readonly manifest: Manifest;
  readonly manifestLine: number;
  readonly rows: number;
  readonly fingerprint: string;
  /** Hashes of serials that occur more than once (their rows are checked exactly in pass 2). */
  readonly suspicious: ReadonlySet<number>;
}

function lines(path: string) {
  return createInterface({ input: createReadStream(path), crlfDelay: Infinity });
}

/** Serial of a line without the strict parse (pass 1 only looks). */
function quickSerial(text: string): string | undefined {
  try {
    const o = JSON.parse(text) as { serial?: unknown };
    return typeof o?.serial === 'string' ? o.serial : undefined;
  } catch {
    return undefined;
  }
}

async function scan(path: string): Promise<Scan> {
  const hash = createHash('sha256');
  let manifest: Manifest | undefined;
  let manifestLine = 0;
  let rows = 0;
  let hashed = 0;
  let lineNo = 0;
  let hashes = new Uint32Array(1024);
  for await (const raw of lines(path)) {
    lineNo++;
    const text = raw.trim();
    if (text.length === 0) continue;
    addLine(hash, text);
    if (!manifest) {
      manifest = parseManifest(text);
      manifestLine = lineNo;
      continue;
    }
    rows++;
    const serial = quickSerial(text);
    if (serial === undefined) continue;
    if (hashed >= hashes.length) {
      const bigger = new Uint32Array(hashes.length * 2);
      bigger.set(hashes);
      hashes = bigger;
    }
    hashes[hashed++] = fnv1a(foldHandleCase(serial));
  }
  if (!manifest) throw new ManifestInvalid('The file is empty: its first line must be the manifest {"manifestId", "count", "prefix"}');
  const sorted = hashes.subarray(0, hashed).sort();
  const suspicious = new Set<number>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) suspicious.add(sorted[i]!);
  return { manifest, manifestLine, rows, fingerprint: hash.digest('hex'), suspicious };
}

export async function importProductsFile(config: Config, file: string, opts: ProductImportOptions): Promise<ProductImportResult> {
  const path = resolve(file);
  const size = statSync(path).size;
  const started = process.hrtime.bigint();
  const { manifest, manifestLine, rows, fingerprint, suspicious } = await scan(path);
  if (rows !== manifest.count) {
    throw new ManifestCountMismatch(`The manifest announces ${manifest.count} item lines; the file has ${rows}`, { count: manifest.count, rows });
  }
  if (manifest.prefix === undefined) throw new ManifestInvalid('The manifest must name the manufacturer: "prefix": "20.5000.7"', { field: 'prefix' });
  const service = await startService(config);
  try {
    const products = service.products!;
    const admin: Principal = { identity: service.handles.serviceAdmin, serverAdmin: true };
    const m = products.authorizeBulk(manifest.prefix, admin);
    const base = { file: path, manifestId: manifest.manifestId, prefix: m.prefix, count: manifest.count };
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    const stored = await products.storedManifest(m.prefix, manifest.manifestId, fingerprint);
    if (stored) {
      const r = stored.result as { created: number; failed: number; results: BulkRowResult[] };
      const failures = r.results.filter((x): x is BulkRowFailure => x.status === 'failed');
      return { ...base, resumedAt: rows, created: r.created, failed: r.failed, failures, replayed: true, seconds: seconds() };
    }
    const checkpointKey = `pimport:${foldHandleCase(m.prefix)}\u0000${manifest.manifestId}`;
    const previous = await service.store.getMeta<Checkpoint>(checkpointKey);
    if (previous && previous.fingerprint !== fingerprint) {
      throw new ManifestReused(`Manifest "${manifest.manifestId}" was partly imported from a different file; give this file another manifest id`, { manifestId: manifest.manifestId });
    }
    const resumedAt = previous?.lines ?? 0;
    const totals: { created: number; failed: number; failures: BulkRowFailure[] } = { created: previous?.created ?? 0, failed: previous?.failed ?? 0, failures: [...(previous?.failures ?? [])] };
    const batchSize = opts.batchSize ?? BATCH;
    const seen = new Map<string, number>();
    let batch: BulkRow[] = [];
    let lineNo = 0;
    let bytes = 0;
    let rowsSeen = 0;
    let resumedRows = 0;

    const flush = async (final: boolean): Promise<void> => {
      if (batch.length === 0 && !final) return;
      const linesDone = lineNo;
      await products.registerRows(m, batch, admin, (outcome) => {
        totals.created += outcome.created;
        totals.failed += outcome.failed;
        for (const r of outcome.results) if (r.status === 'failed' && totals.failures.length < MAX_LISTED_FAILURES) totals.failures.push(r);
        const checkpoint: Checkpoint = { fingerprint, lines: linesDone, ...totals };
        const meta: Record<string, unknown> = { [checkpointKey]: checkpoint };
        if (final) {
          const answer: StoredManifest = { fingerprint, at: Math.floor(Date.now() / 1000), result: { manifestId: base.manifestId, prefix: base.prefix, count: base.count, created: totals.created, failed: totals.failed, results: totals.failures } };
          meta[manifestMetaKey(m.prefix, manifest.manifestId)] = answer;
        }
        return meta;
      });
      batch = [];
      if (opts.progress) drawProgress(rowsSeen, bytes, size);
      opts.afterBatch?.(linesDone);
    };

    for await (const raw of lines(path)) {
      lineNo++;
      bytes += Buffer.byteLength(raw) + 1;
      const text = raw.trim();
      if (text.length === 0 || lineNo <= manifestLine) continue;
      rowsSeen++;
      const done = lineNo <= resumedAt;
      if (done) resumedRows++;
      // Serials that may repeat are tracked exactly, including in lines done before a resume.
      const quick = suspicious.size > 0 ? quickSerial(text) : undefined;
      if (quick !== undefined && suspicious.has(fnv1a(foldHandleCase(quick)))) {
        const first = seen.get(foldHandleCase(quick));
        if (first === undefined) seen.set(foldHandleCase(quick), lineNo);
        else if (!done) {
          batch.push({
            line: lineNo,
            serial: quick,
            error: new ProductSerialDuplicate(`line ${lineNo}: serial "${quick}" is already on line ${first} of this batch`, { field: 'serial', firstLine: first }),
          });
          if (batch.length >= batchSize) await flush(false);
          continue;
        }
      }
      if (done) continue;
      batch.push(parseRow(text, lineNo));
      if (batch.length >= batchSize) await flush(false);
    }
    await flush(true);
    if (opts.progress) process.stderr.write('\n');
    return { ...base, resumedAt: resumedRows, created: totals.created, failed: totals.failed, failures: totals.failures, replayed: false, seconds: seconds() };
  } finally {
    await service.close();
  }
}

function drawProgress(rows: number, done: number, total: number): void {
  const width = 30;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(1)}%  ${rows} items`);
}
