import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importProductsFile } from '../../src/cli/products-import.js';
import { loadConfig, type Config } from '../../src/config.js';
import { CairnError } from '../../src/errors.js';
import type { Principal } from '../../src/families/doa/authorize.js';
import { luhnCheckDigit } from '../../src/ids/imei.js';
import { startService } from '../../src/service/bootstrap.js';
import { openStore } from '../../src/store/open.js';
import { killAllChildren, requireBuiltCli, runCairn } from '../helpers/child.js';

/**
 * `cairn products import`: the same rules as the bulk HTTP route, from a file, with checkpoints.
 * The resume tests run the importer in this process and interrupt it after a committed batch
 * (the `afterBatch` hook), which is where a killed process would stop too; one test runs the
 * built CLI.
 */
const SECRET = 'products-import-admin-secret';
let root: string;
let cases = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cairn-products-import-'));
});
afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

const imeiNo = (n: number): string => {
  const body = `35222222${String(n).padStart(6, '0')}`;
  return `${body}${luhnCheckDigit(body)}`;
};

/** A data directory with manufacturers 20.5000.1 (Acme, class `plain`) and 20.5000.2. */
async function freshData(): Promise<{ config: Config; env: Record<string, string> }> {
  const base = join(root, `case-${++cases}`);
  const config = loadConfig({}, { dataDir: join(base, 'data'), certsDir: join(base, 'certs'), adminSecret: SECRET, syncWrites: false });
  const service = await startService(config);
  const admin: Principal = { identity: service.handles.serviceAdmin, serverAdmin: true };
  const acme = await service.products!.createManufacturer(admin, { name: 'Acme Devices' });
  await service.products!.createManufacturer(admin, { name: 'Globex' });
  await service.products!.putClass(acme.prefix, 'plain', { name: 'Plain', model: 'P', evidence: 'none' }, admin);
  await service.close();
  return { config, env: { CAIRN_DATA_DIR: config.dataDir, CAIRN_CERTS_DIR: config.certsDir, CAIRN_ADMIN_SECRET: SECRET, CAIRN_LOG_LEVEL: 'warn' } };
}

function writeFile(name: string, manifest: Record<string, unknown>, rows: readonly unknown[]): string {
  const path = join(root, name);
  writeFileSync(path, `${[manifest, ...rows].map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return path;
}

const rowsOf = (n: number, override: Record<number, unknown> = {}): unknown[] =>
  Array.from({ length: n }, (_, k) => override[k + 1] ?? { serial: `S-${k + 1}`, class: 'plain', imei: imeiNo(k + 1) });

async function storeOf<T>(config: Config, fn: (s: Awaited<ReturnType<typeof openStore>>) => Promise<T> | T): Promise<T> {
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('cairn products import', () => {
  it('registers the rows, fails bad ones alone, and resumes after an interruption', { timeout: 60_000 }, async () => {
    const { config } = await freshData();
    const overrides = {
      7: { serial: 'S-7', class: 'plain', imei: '260531793113830' }, // wrong Luhn digit
      1500: { serial: 'S-3', class: 'plain' }, // the serial of line 4 (row 3), after the checkpoint
      2200: { serial: 'S-2200', prefix: '20.5000.2', class: 'plain' },
    };
    const file = writeFile('resume.ndjson', { manifestId: 'acme-resume', count: 2500, prefix: '20.5000.1' }, rowsOf(2500, overrides));
    const seqBefore = await storeOf(config, (s) => s.lastSeq);

    await expect(
      importProductsFile(config, file, {
        progress: false,
        afterBatch: (lines) => {
          if (lines < 2500) throw new Error(`interrupted after line ${lines}`);
        },
      }),
    ).rejects.toThrow('interrupted after line 1001');
    await storeOf(config, async (store) => {
      expect(store.lastSeq).toBe(seqBefore + 999); // rows 1-1000 minus the bad IMEI
      expect(store.findRecord('20.5000.1/S-1000')).toBeDefined();
      expect(store.findRecord('20.5000.1/S-1001')).toBeUndefined();
      expect(await store.getMeta('pimport:20.5000.1\u0000acme-resume')).toMatchObject({ lines: 1001, created: 999, failed: 1 });
    });

    const resumed = await importProductsFile(config, file, { progress: false });
    expect(resumed).toMatchObject({ manifestId: 'acme-resume', prefix: '20.5000.1', count: 2500, resumedAt: 1000, created: 2497, failed: 3, replayed: false });
    expect(resumed.failures.map((f) => [f.line, f.code])).toEqual([
      [8, 'ERR_IMEI_CHECK_MISMATCH'],
      [1501, 'ERR_PRODUCT_SERIAL_DUPLICATE'],
      [2201, 'ERR_PRODUCT_PREFIX_MISMATCH'],
    ]);
    expect(resumed.failures[1]).toMatchObject({ firstLine: 4 });
    await storeOf(config, async (store) => {
      expect(store.lastSeq).toBe(seqBefore + 2497);
      const s3 = store.findRecord('20.5000.1/S-3');
      expect(s3?.version).toBe(1);
      expect(store.findRecord('20.5000.1/S-2200')).toBeUndefined();
      expect(await store.countIndex(`palias\u0000imei\u0000${imeiNo(2500)}`)).toBe(1);
    });

    // Again: the manifest's stored answer, nothing read into the store, nothing written.
    const again = await importProductsFile(config, file, { progress: false });
    expect(again).toMatchObject({ replayed: true, created: 2497, failed: 3 });
    expect(again.failures.map((f) => f.line)).toEqual([8, 1501, 2201]);
    await storeOf(config, (store) => expect(store.lastSeq).toBe(seqBefore + 2497));

    // The same manifest id over HTTP answers the same stored result.
    const service = await startService(config);
    try {
      const admin: Principal = { identity: service.handles.serviceAdmin, serverAdmin: true };
      const { readFileSync } = await import('node:fs');
      const replay = await service.products!.registerBatch('20.5000.1', readFileSync(file, 'utf8'), admin);
      expect(replay).toMatchObject({ replayed: true, result: { created: 2497, failed: 3 } });
    } finally {
      await service.close();
    }
  });

  it('refuses a file whose count differs, and another file under a half-imported manifest id, writing nothing', { timeout: 30_000 }, async () => {
    const { config } = await freshData();
    const seqBefore = await storeOf(config, (s) => s.lastSeq);
    const short = writeFile('short.ndjson', { manifestId: 'm', count: 5, prefix: '20.5000.1' }, rowsOf(4));
    await expect(importProductsFile(config, short, { progress: false })).rejects.toMatchObject({ code: 'ERR_MANIFEST_COUNT_MISMATCH' });
    const noPrefix = writeFile('no-prefix.ndjson', { manifestId: 'm', count: 4 }, rowsOf(4));
    await expect(importProductsFile(config, noPrefix, { progress: false })).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID' });
    await storeOf(config, (store) => expect(store.lastSeq).toBe(seqBefore));

    const first = writeFile('half.ndjson', { manifestId: 'half', count: 30, prefix: '20.5000.1' }, rowsOf(30));
    await expect(
      importProductsFile(config, first, {
        progress: false,
        batchSize: 10,
        afterBatch: () => {
          throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    const other = writeFile('other.ndjson', { manifestId: 'half', count: 30, prefix: '20.5000.1' }, rowsOf(30, { 30: { serial: 'X', class: 'plain' } }));
    const seq = await storeOf(config, (s) => s.lastSeq);
    const err = await importProductsFile(config, other, { progress: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe('ERR_MANIFEST_REUSED');
    await storeOf(config, (store) => expect(store.lastSeq).toBe(seq));
  });

  it('runs as `cairn products import FILE` and exits 65 when a row failed', { timeout: 60_000 }, async () => {
    requireBuiltCli();
    const { env } = await freshData();
    const good = writeFile('cli-good.ndjson', { manifestId: 'cli-1', count: 3, prefix: '20.5000.1' }, rowsOf(3));
    const ok = await runCairn(['products', 'import', good], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ manifestId: 'cli-1', created: 3, failed: 0, replayed: false });
    const bad = writeFile('cli-bad.ndjson', { manifestId: 'cli-2', count: 2, prefix: '20.5000.1' }, [{ serial: 'S-1', class: 'plain' }, { serial: 'N-1', class: 'plain' }]);
    const partly = await runCairn(['products', 'import', bad], env);
    expect(partly.code).toBe(65);
    expect(JSON.parse(partly.stdout)).toMatchObject({ created: 1, failed: 1, failures: [{ line: 2, code: 'ERR_PRODUCT_ITEM_EXISTS' }] });
    const usage = await runCairn(['products', 'export'], env);
    expect(usage.code).toBe(64);
  });
});
