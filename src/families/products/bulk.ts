import { createHash, type Hash } from 'node:crypto';
import { CairnError, ManifestCountMismatch, ManifestInvalid, ProductItemInvalid, ProductSerialDuplicate } from '../../errors.js';
import { foldHandleCase } from '../../ids/handle.js';
import { parseJsonBody } from '../../records/strict-json.js';
import type { BulkRow } from './product-service.js';

/**
 * Bulk registration bodies (HTTP `POST /api/products/{prefix}/items` and `cairn products import`):
 * NDJSON, the first non-empty line a manifest, then one item per line.
 *
 *   {"manifestId": "acme-2026-03-01", "count": 2, "prefix": "20.5000.7"}
 *   {"serial": "SN-1", "class": "widget", "devicePublicKey": {...}, "imei": "...", ...}
 *   {"serial": "SN-2", "class": "widget", ...}
 *
 * - `manifestId`: 1 to 128 of letters, digits, `.`, `_`, `:`, `-`; names the batch: a repeat of the
 *   same body answers the stored result and writes nothing; different rows under the same id are
 *   refused (ERR_MANIFEST_REUSED).
 * - `count`: how many item lines follow; another number is ERR_MANIFEST_COUNT_MISMATCH and nothing
 *   is written.
 * - `prefix`: optional over HTTP (the path names it; another one is ERR_PRODUCT_PREFIX_MISMATCH),
 *   required by the CLI. A row may carry `prefix` too; another manufacturer's is a failed row.
 * - Blank lines are skipped; lines are compared (fingerprint) trimmed, so CRLF and LF files agree.
 *
 * Rows are checked one by one: a row that is not JSON, lacks a serial, repeats an earlier row's
 * serial (ERR_PRODUCT_SERIAL_DUPLICATE; the first one stands), or fails any item rule fails alone.
 */
export interface Manifest {
  readonly manifestId: string;
  readonly count: number;
  readonly prefix?: string;
}

const MANIFEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Most item lines one HTTP request may carry (the CLI has no limit). */
export const MAX_HTTP_ROWS = 10_000;
export const MAX_COUNT = 100_000_000;

export function parseManifest(text: string): Manifest {
  let json: unknown;
  try {
    json = parseJsonBody(text);
  } catch (e) {
    throw new ManifestInvalid(`The first line must be the manifest {"manifestId", "count"}: ${(e as Error).message}`, { line: 1 });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ManifestInvalid('The first line must be the manifest {"manifestId", "count"}', { line: 1 });
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !['manifestId', 'count', 'prefix', 'description'].includes(k));
  if (unknown !== undefined) throw new ManifestInvalid(`Unknown manifest member "${unknown.slice(0, 40)}" (a manifest has manifestId, count, prefix, description)`, { field: unknown.slice(0, 40) });
  if (typeof o.manifestId !== 'string' || !MANIFEST_ID.test(o.manifestId)) {
    throw new ManifestInvalid('"manifestId" must be 1 to 128 letters, digits, ".", "_", ":" or "-"', { field: 'manifestId' });
  }
  if (typeof o.count !== 'number' || !Number.isInteger(o.count) || o.count < 0 || o.count > MAX_COUNT) {
    throw new ManifestInvalid('"count" must be the number of item lines that follow', { field: 'count' });
  }
  if (o.prefix !== undefined && typeof o.prefix !== 'string') throw new ManifestInvalid('"prefix" must be a string', { field: 'prefix' });
  if (o.description !== undefined && typeof o.description !== 'string') throw new ManifestInvalid('"description" must be a string', { field: 'description' });
  return { manifestId: o.manifestId, count: o.count, ...(typeof o.prefix === 'string' ? { prefix: o.prefix } : {}) };
}

/** One item line: parsed strictly; its serial read if it has one. Errors become the row's error. */
export function parseRow(text: string, line: number): BulkRow {
  let json: unknown;
  try {
    json = parseJsonBody(text);
  } catch (e) {
    return { line, error: e instanceof CairnError ? e : new ProductItemInvalid(`line ${line}: not JSON`) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { line, error: new ProductItemInvalid(`line ${line}: an item line must be a JSON object`) };
  const serial = (json as Record<string, unknown>).serial;
  if (typeof serial !== 'string') return { line, json, error: new ProductItemInvalid(`line ${line}: "serial" is required`, { field: 'serial' }) };
  return { line, serial, json };
}

/** The batch's fingerprint: SHA-256 over its non-empty lines, trimmed, each followed by LF. */
export function addLine(hash: Hash, text: string): void {
  hash.update(text).update('\n');
}

export interface ParsedBatch {
  readonly manifest: Manifest;
  readonly rows: BulkRow[];
  readonly fingerprint: string;
}

/** A whole NDJSON body (HTTP): the manifest, the rows with duplicate serials marked, the fingerprint. */
export function parseBatch(body: string): ParsedBatch {
  const hash = createHash('sha256');
  const lines: { text: string; line: number }[] = [];
  body.split('\n').forEach((raw, i) => {
    const text = raw.trim();
    if (text.length === 0) return;
    addLine(hash, text);
    lines.push({ text, line: i + 1 });
  });
  if (lines.length === 0) throw new ManifestInvalid('The body is empty: the first line must be the manifest {"manifestId", "count"}');
  const manifest = parseManifest(lines[0]!.text);
  const items = lines.slice(1);
  if (items.length !== manifest.count) {
    throw new ManifestCountMismatch(`The manifest announces ${manifest.count} item lines; the body has ${items.length}`, { count: manifest.count, rows: items.length });
  }
  if (items.length > MAX_HTTP_ROWS) throw new ManifestInvalid(`At most ${MAX_HTTP_ROWS} item lines per request; use cairn products import for more`, { count: items.length });
  const seen = new Map<string, number>();
  const rows = items.map(({ text, line }) => markDuplicate(parseRow(text, line), seen));
  return { manifest, rows, fingerprint: hash.digest('hex') };
}

/** Marks a row whose serial (case-folded, as handles compare) an earlier row already has. */
export function markDuplicate(row: BulkRow, seen: Map<string, number>): BulkRow {
  if (row.serial === undefined || row.error) return row;
  const key = foldHandleCase(row.serial);
  const first = seen.get(key);
  if (first === undefined) {
    seen.set(key, row.line);
    return row;
  }
  return { ...row, error: new ProductSerialDuplicate(`line ${row.line}: serial "${row.serial}" is already on line ${first} of this batch`, { field: 'serial', firstLine: first }) };
}
