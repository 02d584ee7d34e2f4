import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/families/doa/authorize.js';
import { parseOid } from '../../src/ids/oid.js';
import { startService } from '../../src/service/bootstrap.js';
import { ADMIN_SECRET } from '../helpers/service.js';

const admin: Principal = { identity: { index: 300, handle: '0.NA/20.5000' }, serverAdmin: true };

describe('OID indexes for arcs stored before the indexes existed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-reindex-'));
  const config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are built once at start-up, so labels, descendants and iteration see every arc', async () => {
    let service = await startService(config);
    await service.oids.put('2.999', { description: 'Example', asn1Ids: ['example'] }, admin);
    await service.oids.put('2.999.7.1', { description: 'Deep', unicodeLabels: ['Tief'] }, admin);
    // Make the store look like one written before the label and active-arc indexes existed.
    const stale: string[] = [];
    for await (const key of service.store.index.keys()) if (/^(oidlabel|oidactive)\u0000/.test(key)) stale.push(key);
    expect(stale.length).toBeGreaterThan(0);
    await service.store.index.batch(stale.map((key) => ({ type: 'del' as const, key })));
    await service.store.meta.del('oidIndexVersion');
    expect(await service.oids.hasActiveDescendant(parseOid('2.999'))).toBe(false);
    await service.close();

    service = await startService(config);
    try {
      expect((await service.oids.findChildByLabel([2n], 'EXAMPLE'))?.text).toBe('2.999');
      expect(await service.oids.hasActiveDescendant(parseOid('2.999'))).toBe(true);
      expect(await service.oids.hasActiveDescendant(parseOid('2.999.7.1'))).toBe(false);
      const arcs: string[] = [];
      for await (const { oid } of service.oids.activeArcs()) arcs.push(oid.text);
      expect(arcs).toEqual(['2.999', '2.999.7.1']);
      expect(await service.oids.reindexIfNeeded()).toBe(0); // once only
    } finally {
      await service.close();
    }
  });
});
