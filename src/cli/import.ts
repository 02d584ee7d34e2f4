import { createHash, type Hash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../config.js';
import { type CairnError, ImportLineInvalid } from '../errors.js';
import { parseJsonBody } from '../records/strict-json.js';
import type { ImportLine } from '../families/doa/handle-service.js';
import { startService } from '../service/bootstrap.js';

export interface ImportResult {
  readonly file: string;
  readonly lines: number;
  readonly resumedAt: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly seconds: number;
}

/** How far a file was imported: its first `lines` lines, whose content hashes to `sha256`. */
interface Checkpoint {
  readonly lines: number;
  readonly sha256: string;
}

const BATCH = 1000;

/**
 * Bulk import of handles, one JSON object `{"handle": ..., "values": [...]}` per line. Each batch
 * of records is committed together with the file's checkpoint, so an interrupted import resumes
 * after the last committed batch, provided the lines before it are still the same (checked by
 * hash: a file that only grew resumes, an edited one starts over). Records already holding the
 * same values are left untouched, so importing a file twice changes nothing.
 */
export async function importFile(config: Config, file: string, opts: { progress: boolean }): Promise<ImportResult> {
  const path = resolve(file);
  const stat = statSync(path);
  const service = await startService(config);
  const started = process.hrtime.bigint();
  const checkpointKey = `import:${path}`;
  try {
    const previous = await service.store.getMeta<Checkpoint>(checkpointKey);
    const resumedAt = previous && (await hashOfFirstLines(path, previous.lines)) === previous.sha256 ? previous.lines : 0;
    const hash = createHash('sha256');
    const totals = { created: 0, updated: 0, unchanged: 0 };
    let lineNo = 0;
    let batch: ImportLine[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const checkpoint: Checkpoint = { lines: lineNo, sha256: hash.copy().digest('hex') };
      const outcome = await service.handles.importBatch(batch, { [checkpointKey]: checkpoint });
      totals.created += outcome.created;
      totals.updated += outcome.updated;
      totals.unchanged += outcome.unchanged;
      batch = [];
      if (opts.progress) drawProgress(lineNo, stat.size, lineBytes);
    };
    let lineBytes = 0;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const text of lines) {
      lineNo++;
      lineBytes += Buffer.byteLength(text) + 1;
      addLine(hash, text);
      if (lineNo <= resumedAt || text.trim() === '') continue;
      batch.push(parseLine(text, lineNo));
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    if (opts.progress) process.stderr.write('\n');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { file: path, lines: lineNo, resumedAt, ...totals, seconds };
  } finally {
    await service.close();
  }
}

/** Lines are hashed as text plus a newline, so CRLF and LF files of the same lines agree. */
function addLine(hash: Hash, text: string): void {
  hash.update(text).update('\n');
}

async function hashOfFirstLines(path: string, count: number): Promise<string> {
  const hash = createHash('sha256');
  let n = 0;
  if (count > 0) {
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const text of lines) {
      addLine(hash, text);
      if (++n >= count) {
        lines.close();
        break;
      }
    }
  }
  return n === count ? hash.digest('hex') : '';
}

function parseLine(text: string, lineNo: number): ImportLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ImportLineInvalid(`line ${lineNo}: not JSON`, { line: lineNo });
  }
  // The same strictness as HTTP bodies; the full check runs only when the text could need it.
  if (text.includes('__proto__') || text.includes('constructor')) {
    try {
      parseJsonBody(text);
    } catch (e) {
      throw new ImportLineInvalid(`line ${lineNo}: ${(e as CairnError).message}`, { line: lineNo });
    }
  }
  const o = json as { handle?: unknown; values?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.handle !== 'string' || !Array.isArray(o.values)) {
    throw new ImportLineInvalid(`line ${lineNo}: expected {"handle": "...", "values": [...]}`, { line: lineNo });
  }
  return { handle: o.handle, values: o.values, line: lineNo };
}

function drawProgress(lines: number, total: number, done: number): void {
  const width = 30;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(1)}%  ${lines} lines`);
}
