import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { foldHandleCase } from '../../src/ids/handle.js';
import type { DoctorReport } from '../../src/ops/doctor.js';
import { startService } from '../../src/service/bootstrap.js';
import { encodeOidKey } from '../../src/store/oid-key.js';
import { openStore } from '../../src/store/open.js';
import { seqKey, SEP, type RecordStore } from '../../src/store/store.js';
import { killAllChildren, requireBuiltCli, runCairn } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * `cairn doctor` on a store written through the service (handles, OIDs, ITS signs, a product
 * item): clean, then broken through the store API the ways a bug or a bad disk would break it,
 * each found and named; a locked, a damaged and a missing data directory each said so.
 */

const SECRET = 'doctor-admin-secret';
let root: string;
let config: Config;
let signId: string;

beforeAll(async () => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-doctor-'));
  config = loadConfig({}, { dataDir: join(root, 'data'), certsDir: join(root, 'certs'), adminSecret: SECRET, syncWrites: false });
  const service = await startService(config);
  const app = await buildApp(service);
  const send = async (method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: basic(ADMIN_IDENTITY, SECRET), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res.body === '' ? {} : (res.json() as Record<string, unknown>);
  };
  try {
    for (let i = 1; i <= 5; i++) await send('PUT', `/api/handles/20.5000/d-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/d/${i}` }]);
    await send('PUT', '/api/handles/20.5000/d-1', [{ index: 1, type: 'URL', data: 'https://example.org/d/1/v2' }]);
    await send('DELETE', '/api/handles/20.5000/d-5');
    await send('PUT', '/api/oids/2.999', { description: 'Example arc', asn1Ids: ['example'] });
    await send('PUT', '/api/oids/2.999.7', { description: 'Child', unicodeLabels: ['Sieben'] });
    await send('PUT', '/api/its/issuers/DE.417', { identity: ADMIN_IDENTITY });
    signId = (await send('POST', '/api/its/sign/DE.417', { position: { lat: 52.5, lon: 13.4 }, facing: 90, aliases: ['osm:node/9'] })).id as string;
    await send('PUT', `/api/its/${encodeURIComponent(signId)}`, { position: { lat: 52.6, lon: 13.5 }, facing: 90, aliases: ['osm:node/10'] });
    const maker = await send('POST', '/api/manufacturers', { name: 'Acme' });
    await send('PUT', `/api/products/${maker.prefix as string}/classes/widget`, { name: 'Widget', model: 'W', evidence: 'none', gtin: '09506000134352' });
    await send('PUT', `/api/products/${maker.prefix as string}/items/sn-1`, { class: 'widget', imei: '260531793113837' });
    // A digital object, and a search that folds it into the DOIP type index.
    await send('POST', '/doip?operationId=0.DOIP/Op.Create&targetId=service', { type: 'Document', attributes: { name: 'doc' } });
    await send('POST', '/doip?operationId=0.DOIP/Op.Search&targetId=service&attributes.query=type:Document');
  } finally {
    await app.close();
    await service.close();
  }
}, 60_000);

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

let copies = 0;
/** A copy of the populated data directory to break. */
function copyData(): string {
  const dir = join(root, `copy-${++copies}`);
  cpSync(config.dataDir, dir, { recursive: true });
  return dir;
}

async function withStore(dataDir: string, fn: (store: RecordStore) => Promise<void>): Promise<void> {
  const store = await openStore(join(dataDir, 'leveldb'), { sync: true });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

async function doctor(dataDir: string, extra: Record<string, string> = {}): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const result = await runCairn(['doctor', '--json'], { CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: config.certsDir, ...extra });
  let report: DoctorReport;
  try {
    report = JSON.parse(result.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}

const messages = (report: DoctorReport): string[] => report.problems.map((p) => `[${p.check}] ${p.message}`);

describe('cairn doctor', () => {
  it('finds a store written by the service clean, and says what it checked', { timeout: 30_000 }, async () => {
    const { code, report } = await doctor(config.dataDir);
    expect(messages(report)).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checked.records).toBe(15); // prefix record, 5 handles, 2 arcs, issuer, sign, manufacturer (prefix, record), class, item, object
    expect(report.checked.changes).toBe(report.changeLog);
    expect(report.checked.familyChanges).toBe(report.changeLog);
    expect(report.checked.signatures).toBe(report.checked.records + report.checked.history);
    for (const name of ['prefix', 'hvalue', 'palias', 'oidchild', 'oidactive', 'oidlabel', 'itspos', 'itsgeoh', 'itsalias', 'itsaliash', 'doiptype', 'doipkey']) {
      expect(report.checked.indexByName[name], name).toBeGreaterThan(0);
    }
    expect(report.unchecked).toEqual({});
    // The sign moved once: both places stay in the `ever` index, only the new one in the current.
    expect(report.checked.indexByName.itsgeoh).toBe(2);
    expect(report.checked.indexByName.itspos).toBe(1);
    const human = await runCairn(['doctor'], { CAIRN_DATA_DIR: config.dataDir, CAIRN_CERTS_DIR: config.certsDir });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^cairn doctor: .*leveldb\n/);
    expect(human.stdout).toContain('result: clean');
  });

  it('reports each inconsistency made through the store API, and exits 65', { timeout: 30_000 }, async () => {
    const dir = copyData();
    const d2 = foldHandleCase('20.5000/d-2');
    const d3 = foldHandleCase('20.5000/d-3');
    await withStore(dir, async (store) => {
      // An index entry deleted, and stray ones added (one for a record that yields no such term,
      // one for no record at all).
      await store.index.del(`prefix${SEP}20.5000${SEP}${d2}`);
      await store.index.put(`oidchild${SEP}${encodeOidKey([2n, 999n])}${SEP}${d3}`, '20.5000/d-3');
      await store.index.put(`itspos${SEP}u33dbczzz${SEP}its:DE.00417.sign.0000009999`, 'its:sign:DE.417:9999~X');
      // A record's value bytes altered (the record part of the entry, after the view).
      const entry = Buffer.from((await store.records.get(d3))!);
      const at = entry.indexOf('example.org/d/3', 4 + entry.readUInt32BE(0));
      entry[at] = 'E'.charCodeAt(0);
      await store.records.put(d3, entry);
      // A change-log entry removed.
      await store.changes.del(seqKey(3));
    });
    const { code, report } = await doctor(dir);
    expect(code).toBe(65);
    expect(report.ok).toBe(false);
    const found = messages(report);
    const expectFound = (pattern: RegExp): void => expect(found.some((m) => pattern.test(m)), `${pattern} in\n${found.join('\n')}`).toBe(true);
    expectFound(/^\[index\] Index entry "prefix 20\.5000 20\.5000\/D-2" of 20\.5000\/d-2 is missing$/);
    expectFound(/^\[index\] Index entry "oidchild 000102000203e7 20\.5000\/D-3" is stray: 20\.5000\/d-3 \(active, version 1\) does not yield that term$/);
    expectFound(/^\[index\] Index entry "itspos u33dbczzz its:DE\.00417\.sign\.0000009999" points at "its:DE\.00417\.sign\.0000009999", which has no record$/);
    expectFound(/^\[signature\] 20\.5000\/d-3 \(version 1\): signature does not verify: Signed digests do not match the record values$/);
    expectFound(/^\[view\] The stored view of 20\.5000\/d-3 \(version 1\) is not the rendering of its record$/);
    expectFound(/^\[changes\] Change log has a gap: positions 3\.\.3 are missing$/);
    expectFound(/^\[changes\] Per-family change-log entry "handle 0000000000000003" \(20\.5000\/d-2\) has no entry in the change log$/);
    expectFound(/^\[changes\] 20\.5000\/d-2 \(version 1\) has no entry in the change log$/);
    // Nothing else: the damage is reported where it is, not everywhere.
    expect(found.every((m) => /D-2|d-2|D-3|d-3|9999|positions 3\.\.3|EXAMPLE|example\.org%2Fd%2F3|hvalue/i.test(m)), found.join('\n')).toBe(true);
    const human = await runCairn(['doctor'], { CAIRN_DATA_DIR: dir, CAIRN_CERTS_DIR: config.certsDir });
    expect(human.code).toBe(65);
    expect(human.stdout).toMatch(/^problems \(\d+\):$/m);
    expect(human.stdout).toMatch(/result: \d+ problems\n$/);
  });

  it('checks history, the ever indexes of moved signs and the DOIP type index', { timeout: 30_000 }, async () => {
    const dir = copyData();
    await withStore(dir, async (store) => {
      // The sign's first place, which only its history version holds.
      let first: string | undefined;
      for await (const key of store.index.keys({ gt: `itsgeoh${SEP}`, lt: `itsgeoh\u0001` })) first ??= key;
      await store.index.del(first!);
      // A history version removed.
      await store.history.del(`${foldHandleCase('20.5000/d-1')}${SEP}00000001`);
      // The DOIP type index saying another type than the object has.
      for await (const key of store.index.keys({ gt: `doipkey${SEP}`, lt: `doipkey\u0001` })) await store.index.put(key, 'Spreadsheet');
    });
    const { code, report } = await doctor(dir);
    expect(code).toBe(65);
    const found = messages(report);
    expect(found.some((m) => /^\[index\] Index entry "itsgeoh \w+ its:DE\.00417\.sign\.\w+" of its:sign:DE\.417:.* is missing$/.test(m)), found.join('\n')).toBe(true);
    expect(found).toContain('[history] 20.5000/d-1 is at version 2: history should hold versions 1..1, it holds 0 up to 0');
    expect(found.some((m) => m.startsWith('[changes] Change 2 names version 1 of 20.5000/d-1, which is neither in history nor current')), found.join('\n')).toBe(true);
    expect(found.some((m) => /^\[index\] Index entry "doipkey 20\.5000\/[\w-]+" holds "Spreadsheet", expected "Document"$/i.test(m)), found.join('\n')).toBe(true);
  });

  it('says the data directory is in use while a server (here: this process) holds it: ERR_STORE_LOCKED, exit 75', { timeout: 30_000 }, async () => {
    const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
    try {
      const result = await runCairn(['doctor'], { CAIRN_DATA_DIR: config.dataDir, CAIRN_CERTS_DIR: config.certsDir });
      expect(result.code).toBe(75);
      expect(result.stderr).toMatch(/^cairn: ERR_STORE_LOCKED: Data directory .* is in use by a running Cairn server: stop it first/);
    } finally {
      await store.close();
    }
  });

  it('detects damaged LevelDB files with a clear message, and exits 65', { timeout: 30_000 }, async () => {
    // A damaged manifest: LevelDB refuses to open.
    const manifestDir = copyData();
    const leveldb = join(manifestDir, 'leveldb');
    const manifest = readdirSync(leveldb).find((f) => f.startsWith('MANIFEST-'))!;
    const bytes = readFileSync(join(leveldb, manifest));
    for (let i = 10; i < Math.min(bytes.length, 40); i++) bytes[i]! ^= 0xff;
    writeFileSync(join(leveldb, manifest), bytes);
    const opened = await doctor(manifestDir);
    expect(opened.code).toBe(65);
    expect(messages(opened.report)).toEqual([
      expect.stringMatching(/^\[open\] ERR_STORE_CORRUPT: LevelDB cannot open .*leveldb: Corruption: .*Restore the data directory from a backup \(cairn restore\)$/),
    ]);

    // A damaged table: the store opens, reading fails, and the passes that can still run do.
    const tableDir = copyData();
    await withStore(tableDir, async (store) => {
      await (store.db as unknown as { compactRange(a: string, b: string): Promise<void> }).compactRange('!', '~');
    });
    const tables = readdirSync(join(tableDir, 'leveldb')).filter((f) => f.endsWith('.ldb'));
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) {
      const t = readFileSync(join(tableDir, 'leveldb', table));
      for (let i = 64; i < Math.min(t.length - 64, 400); i++) t[i]! ^= 0x5a;
      writeFileSync(join(tableDir, 'leveldb', table), t);
    }
    const read = await doctor(tableDir);
    expect(read.code).toBe(65);
    expect(messages(read.report).some((m) => /^\[(read|open)\] .*Corruption/.test(m)), messages(read.report).join('\n')).toBe(true);

    // No CURRENT file: not opened (LevelDB would make an empty store there).
    const current = copyData();
    rmSync(join(current, 'leveldb', 'CURRENT'));
    const noCurrent = await doctor(current);
    expect(noCurrent.code).toBe(65);
    expect(messages(noCurrent.report)[0]).toMatch(/has no LevelDB CURRENT file/);
    expect(readdirSync(join(current, 'leveldb'))).not.toContain('CURRENT');
  });

  it('exits 66 where there is no store, and reports signatures it cannot check', { timeout: 30_000 }, async () => {
    const missing = join(root, 'missing');
    const none = await doctor(missing);
    expect(none.code).toBe(66);
    expect(messages(none.report)).toEqual([`[open] No store at ${join(missing, 'leveldb')} (CAIRN_DATA_DIR)`]);
    const emptyCerts = join(root, 'empty-certs');
    mkdirSync(emptyCerts);
    const noKeys = await doctor(config.dataDir, { CAIRN_CERTS_DIR: emptyCerts });
    expect(noKeys.code).toBe(65);
    expect(messages(noKeys.report)).toEqual([expect.stringMatching(/^\[keys\] Signatures not checked: Checking signatures needs the service's signing keys/)]);
    expect(readdirSync(emptyCerts), 'the doctor creates no key').toEqual([]);
    const usage = await runCairn(['doctor', '--yaml'], { CAIRN_DATA_DIR: config.dataDir });
    expect(usage.code).toBe(64);
  });
});
