import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ensureValueIndex } from '../../src/families/doa/reverse-index.js';
import { startService } from '../../src/service/bootstrap.js';
import { ADMIN_SECRET } from '../helpers/service.js';

/*
 * The start-up migrations (value index, OID indexes, ITS position index) walk every record of a
 * store written before their index existed. A new store is written with all of them from its first
 * record, so it says so at creation: its first `cairn serve`, after an import of millions of
 * records, walks nothing.
 */
const dir = mkdtempSync(join(tmpdir(), 'cairn-fresh-indexes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a new data directory', () => {
  it('records that its indexes cover every record, so no start-up migration walks it', async () => {
    const config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false });
    const service = await startService(config);
    try {
      expect(await service.store.getMeta('valueIndexVersion')).toBe(1);
      expect(await service.store.getMeta('oidIndexVersion')).toBe(1);
      expect(await service.store.getMeta('itsGeoIndexVersion')).toBe(1);
      expect(await ensureValueIndex(service.store)).toBe(0);
      expect(await service.oids.reindexIfNeeded()).toBe(0);
      expect(await service.its.reindexIfNeeded()).toBe(0);
    } finally {
      await service.close();
    }
  });
});
