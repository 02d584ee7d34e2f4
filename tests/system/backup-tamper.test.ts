import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { backupCommand } from '../../src/ops/backup.js';
import { loadOrCreateSigningKeys } from '../../src/service/key-files.js';
import { startService } from '../../src/service/bootstrap.js';
import { killAllChildren, requireBuiltCli, runCairn } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * `cairn restore` refuses every damaged or tampered backup with a precise code, and a refused
 * restore leaves the target as it was (absent) with no staging directory behind. The backup comes
 * from a store written through the service (handles, an OID arc, an ITS sign); each case alters a
 * copy of it the way a damaged disk or an attacker would.
 */

let root: string;
let config: Config;
let good: string;

beforeAll(async () => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-tamper-'));
  config = loadConfig({}, { dataDir: join(root, 'data'), certsDir: join(root, 'certs'), adminSecret: 'tamper-admin-secret', syncWrites: false });
  const service = await startService(config);
  const app = await buildApp(service);
  const put = async (method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<void> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: basic(ADMIN_IDENTITY, 'tamper-admin-secret'), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  };
  try {
    for (let i = 1; i <= 3; i++) await put('PUT', `/api/handles/20.5000/t-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/t/${i}` }]);
    await put('PUT', '/api/handles/20.5000/t-1', [{ index: 1, type: 'URL', data: 'https://example.org/t/1/v2' }]);
    await put('PUT', '/api/oids/2.999', { description: 'Example arc', asn1Ids: ['example'] });
    await put('PUT', '/api/its/issuers/DE.417', { identity: ADMIN_IDENTITY });
    await put('POST', '/api/its/sign/DE.417', { position: { lat: 52.5, lon: 13.4 }, facing: 90 });
  } finally {
    await app.close();
    await service.close();
  }
  good = join(root, 'good.ndjson.gz');
  await backupCommand(config, { client: () => ({ url: 'http://127.0.0.1:9', identity: undefined, secret: undefined }), unreachable: (m) => new Error(m) }, good);
}, 60_000);

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

let cases = 0;
/** Restores `file` into a fresh, absent target; returns the CLI's result and the target. */
async function restore(file: string, extra: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string; target: string }> {
  const parent = join(root, `restore-${++cases}`);
  mkdirSync(parent);
  const target = join(parent, 'data');
  const result = await runCairn(['restore', file], { CAIRN_DATA_DIR: target, CAIRN_CERTS_DIR: config.certsDir, ...extra });
  return { ...result, target };
}

/** A refused restore: exit 65 with the code, and nothing left where the data directory would be. */
function expectRefused(result: { code: number | null; stderr: string; target: string }, code: string, detail?: string | RegExp): void {
  expect(result.stderr).toContain(`cairn: ${code}: `);
  if (detail !== undefined) expect(result.stderr).toMatch(detail);
  expect(result.code, result.stderr).toBe(65);
  expect(existsSync(result.target), 'the target stays absent').toBe(false);
  const parent = join(result.target, '..');
  expect(readdirSync(parent), 'no staging directory left behind').toEqual([]);
}

/** The backup's lines (header, entries, trailer). */
const linesOf = (file: string): string[] => gunzipSync(readFileSync(file)).toString('utf8').split('\n').slice(0, -1);

/** Writes lines as a backup; `fixHash` recomputes the trailer's SHA-256 (the seal stays the original's). */
function writeLines(name: string, lines: readonly string[], fixHash: boolean): string {
  const out = [...lines];
  if (fixHash) {
    const body = out.slice(0, -1).map((l) => `${l}\n`).join('');
    const trailer = JSON.parse(out.at(-1)!) as Record<string, unknown>;
    out[out.length - 1] = JSON.stringify({ ...trailer, sha256: createHash('sha256').update(body).digest('hex') });
  }
  const file = join(root, name);
  writeFileSync(file, gzipSync(`${out.join('\n')}\n`));
  return file;
}

const entryIndex = (lines: readonly string[], key: string): number => {
  const i = lines.findIndex((l) => l.startsWith(`{"k":${JSON.stringify(key)},`));
  expect(i, key).toBeGreaterThan(0);
  return i;
};

/** Replaces the first occurrence of `from` in the record part of a records entry (after the view). */
function alterRecord(lines: string[], key: string, from: string, to: string): void {
  const i = entryIndex(lines, key);
  const { k, v } = JSON.parse(lines[i]!) as { k: string; v: string };
  const entry = Buffer.from(v, 'base64');
  const recordStart = 4 + entry.readUInt32BE(0);
  const at = entry.indexOf(from, recordStart);
  expect(at).toBeGreaterThan(recordStart);
  Buffer.from(to).copy(entry, at);
  lines[i] = JSON.stringify({ k, v: entry.toString('base64') });
}

describe('restore refuses damaged and tampered backups', () => {
  it('restores the untouched backup (the cases below differ from it only by their damage)', { timeout: 30_000 }, async () => {
    const result = await restore(good);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ records: 7, history: 1 });
  });

  it('a record value changed, the hash fixed: its signature no longer verifies (ERR_BACKUP_UNVERIFIED)', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    alterRecord(lines, '!records!20.5000/T-2', 'example.org/t/2', 'exbmple.org/t/2');
    const result = await restore(writeLines('value.ndjson.gz', lines, true));
    expectRefused(result, 'ERR_BACKUP_UNVERIFIED', /\[signature\] 20\.5000\/t-2 \(version 1\): signature does not verify: Signed digests do not match/);
  });

  it('a history version changed, the hash fixed: refused too', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    const i = entryIndex(lines, '!history!20.5000/T-1\u000000000001');
    const { k, v } = JSON.parse(lines[i]!) as { k: string; v: string };
    const record = Buffer.from(v, 'base64');
    const at = record.indexOf('example.org/t/1');
    Buffer.from('exbmple').copy(record, at);
    lines[i] = JSON.stringify({ k, v: record.toString('base64') });
    expectRefused(await restore(writeLines('history.ndjson.gz', lines, true)), 'ERR_BACKUP_UNVERIFIED', /\[signature\] version 1 of 20\.5000\/t-1 \(history\)/);
  });

  it('a byte flipped without fixing the hash: ERR_BACKUP_DAMAGED', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    alterRecord(lines, '!records!20.5000/T-2', 'example.org/t/2', 'exbmple.org/t/2');
    expectRefused(await restore(writeLines('flipped.ndjson.gz', lines, false)), 'ERR_BACKUP_DAMAGED', /SHA-256 of the content is [0-9a-f]{64}, the trailer says/);
  });

  it('a truncated file: ERR_BACKUP_DAMAGED', { timeout: 30_000 }, async () => {
    const bytes = readFileSync(good);
    const half = join(root, 'half.ndjson.gz');
    writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectRefused(await restore(half), 'ERR_BACKUP_DAMAGED', /truncated/);
    // Cut at a line boundary and compressed again: the trailer is gone.
    const lines = linesOf(good);
    expectRefused(await restore(writeLines('cut.ndjson.gz', lines.slice(0, -3), false)), 'ERR_BACKUP_DAMAGED', /not the backup's trailer/);
    const empty = join(root, 'empty.ndjson.gz');
    writeFileSync(empty, '');
    expectRefused(await restore(empty), 'ERR_BACKUP_DAMAGED');
  });

  it('not gzip, or not a backup: ERR_BACKUP_DAMAGED', { timeout: 30_000 }, async () => {
    const plain = join(root, 'plain.ndjson');
    writeFileSync(plain, gunzipSync(readFileSync(good)));
    expectRefused(await restore(plain), 'ERR_BACKUP_DAMAGED', /not a readable gzip file/);
    const other = writeLines('other.ndjson.gz', ['{"hello":"world"}', '{"end":"cairn-backup"}'], false);
    expectRefused(await restore(other), 'ERR_BACKUP_DAMAGED', /line 1 is not a Cairn backup header/);
  });

  it('a stored view changed to match nothing signed: refused ([view])', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    const i = entryIndex(lines, '!records!20.5000/T-3');
    const { k, v } = JSON.parse(lines[i]!) as { k: string; v: string };
    const entry = Buffer.from(v, 'base64');
    Buffer.from('evil.org').copy(entry, entry.indexOf('example.org/t/3'));
    lines[i] = JSON.stringify({ k, v: entry.toString('base64') });
    expectRefused(await restore(writeLines('view.ndjson.gz', lines, true)), 'ERR_BACKUP_UNVERIFIED', /\[view\] The stored view of 20\.5000\/t-3/);
  });

  it('a change-log entry removed (counts and hash fixed): the gap is found ([changes])', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    const i = entryIndex(lines, '!changes!0000000000000003');
    lines.splice(i, 1);
    const header = JSON.parse(lines[0]!) as { entries: number; counts: Record<string, number> };
    lines[0] = JSON.stringify({ ...header, entries: header.entries - 1, counts: { ...header.counts, changes: header.counts.changes! - 1 } });
    const trailer = JSON.parse(lines.at(-1)!) as { entries: number };
    lines[lines.length - 1] = JSON.stringify({ ...trailer, entries: trailer.entries - 1 });
    expectRefused(await restore(writeLines('gap.ndjson.gz', lines, true)), 'ERR_BACKUP_UNVERIFIED', /\[changes\] Change log has a gap: positions 3\.\.3 are missing/);
  });

  it('what no record signature covers changed (a meta entry), the hash fixed: the seal finds it', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    const i = entryIndex(lines, '!meta!itsserial:DE.00417');
    lines[i] = JSON.stringify({ k: '!meta!itsserial:DE.00417', v: Buffer.from('0').toString('base64') });
    expectRefused(await restore(writeLines('meta.ndjson.gz', lines, true)), 'ERR_BACKUP_UNVERIFIED', /seal is for another content \(sha256/);
  });

  it('keys out of order or twice: ERR_BACKUP_DAMAGED', { timeout: 30_000 }, async () => {
    const lines = linesOf(good);
    const [a, b] = [lines[2]!, lines[3]!];
    lines[2] = b;
    lines[3] = a;
    expectRefused(await restore(writeLines('order.ndjson.gz', lines, true)), 'ERR_BACKUP_DAMAGED', /line 4 is out of key order/);
  });

  it('signing keys other than the backed-up service’s: ERR_BACKUP_UNVERIFIED naming the key; none at all: ERR_CONFIG_INVALID', { timeout: 30_000 }, async () => {
    const otherCerts = join(root, 'other-certs');
    loadOrCreateSigningKeys(otherCerts, 'EdDSA');
    expectRefused(await restore(good, { CAIRN_CERTS_DIR: otherCerts }), 'ERR_BACKUP_UNVERIFIED', /signing key [\w-]+ \(EdDSA\), which .*other-certs does not hold/);
    const noCerts = await restore(good, { CAIRN_CERTS_DIR: join(root, 'no-certs') });
    expect(noCerts.code, noCerts.stderr).toBe(78);
    expect(noCerts.stderr).toContain('ERR_CONFIG_INVALID');
    expect(existsSync(join(root, 'no-certs')), 'no key is created for a restore').toBe(false);
    expect(existsSync(noCerts.target)).toBe(false);
  });

  it('another prefix than the backup’s: ERR_CONFIG_INVALID', { timeout: 30_000 }, async () => {
    const result = await restore(good, { CAIRN_PREFIX: '20.6000' });
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toContain('The backup is of prefix 20.5000, CAIRN_PREFIX is 20.6000');
    expect(existsSync(result.target)).toBe(false);
  });

  it('a data directory that is not empty: ERR_RESTORE_TARGET_NOT_EMPTY, and it is left alone', { timeout: 30_000 }, async () => {
    const target = join(root, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'mine');
    const result = await runCairn(['restore', good], { CAIRN_DATA_DIR: target, CAIRN_CERTS_DIR: config.certsDir });
    expect(result.code, result.stderr).toBe(65);
    expect(result.stderr).toContain('cairn: ERR_RESTORE_TARGET_NOT_EMPTY: ');
    expect(readdirSync(target)).toEqual(['keep.txt']);
    expect(readFileSync(join(target, 'keep.txt'), 'utf8')).toBe('mine');
    const missing = await runCairn(['restore', join(root, 'no-such-file.gz')], { CAIRN_DATA_DIR: join(root, 'x'), CAIRN_CERTS_DIR: config.certsDir });
    expect(missing.code, missing.stderr).toBe(66);
  });
});
