import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { geohash } from '../../src/families/its/geo.js';
import { ITS_GEO_INDEX_META, ITS_INDEX, ITS_LEGACY_GEO_INDEX } from '../../src/families/its/its-storage.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { checkStore } from '../../src/ops/doctor.js';
import { currentIndexTerms } from '../../src/ops/derived.js';
import { SEP } from '../../src/store/store.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/*
 * The current spatial index (`itspos`) carries each sign's position, facing and filter fields, so
 * that `near`, `ahead` and `bbox` read no record to pick their answers and only the views of the
 * page they return. Data directories written before it hold `itsgeo` (cells only): the service
 * builds `itspos` from the records at start, once, and removes `itsgeo`; the doctor accepts the
 * store before and after.
 */

let t: TestService;
const CENTER = { lat: 48.2, lon: 16.37 };
const N = 60;
const put = (url: string, body: unknown) =>
  t.app.inject({ method: 'PUT', url, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const get = async (url: string): Promise<{ count: number; signs: { id: string }[] }> => {
  const res = await t.app.inject({ url });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

const QUERIES = [
  `near=${CENTER.lat},${CENTER.lon}&radius=400`,
  `near=${CENTER.lat},${CENTER.lon}&radius=400&temporary=true`,
  `near=${CENTER.lat},${CENTER.lon}&radius=400&at=2026-03-02T08:00:00Z`,
  `near=${CENTER.lat},${CENTER.lon}&radius=400&code=nat.DE-274[50]`,
  `ahead=${CENTER.lat},${CENTER.lon},90&distance=600`,
  `bbox=${CENTER.lon - 0.004},${CENTER.lat - 0.003},${CENTER.lon + 0.004},${CENTER.lat + 0.003}&status=placed`,
];

async function answers(): Promise<string[][]> {
  const out: string[][] = [];
  for (const q of QUERIES) out.push((await get(`/api/its?${q}`)).signs.map((s) => s.id));
  return out;
}

async function indexKeys(name: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of t.service.store.index.keys({ gt: `${name}${SEP}`, lt: `${name}\u0001` })) keys.push(k);
  return keys;
}

beforeAll(async () => {
  t = await startTestService();
  const res = await put('/api/its/issuers/DE.417', { identity: '300:0.NA/20.5000' });
  expect(res.statusCode, res.body).toBeLessThan(300);
  for (let i = 1; i <= N; i++) {
    // A spiral around the centre, within about 450 m; every fourth sign temporary, every fifth with a morning window.
    const r = 0.0001 * i * 0.7;
    const id = formatItsSignId({ kind: i % 7 === 0 ? 'plate' : 'sign', country: 'DE', authority: 417, serial: i, type: parseItsSignType(`nat.DE-274[${i % 2 === 0 ? 50 : 70}]`) });
    const body = {
      position: { lat: Math.round((CENTER.lat + r * Math.sin(i)) * 1e7) / 1e7, lon: Math.round((CENTER.lon + 1.5 * r * Math.cos(i)) * 1e7) / 1e7 },
      facing: (i * 47) % 360,
      status: i % 9 === 0 ? 'planned' : 'placed',
      temporary: i % 4 === 0,
      validity: { from: '2026-01-01T00:00:00Z', to: i % 6 === 0 ? '2026-02-01T00:00:00Z' : null, windows: i % 5 === 0 ? [{ days: ['Mon'], from: '07:00', to: '09:00' }] : [] },
    };
    const w = await put(`/api/its/${id}`, body);
    expect(w.statusCode, w.body).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('queries read the index, not the records', () => {
  it('near, ahead and bbox without code read no record, and one stored view per sign shown', async () => {
    const store = t.service.store;
    const records = vi.spyOn(store, 'findRecord');
    const views = vi.spyOn(store, 'findView');
    try {
      for (const q of [QUERIES[0], QUERIES[1], QUERIES[4], QUERIES[5]]) {
        records.mockClear();
        views.mockClear();
        const res = await get(`/api/its?${q}`);
        expect(res.count, q).toBeGreaterThan(0);
        expect(records, q).not.toHaveBeenCalled();
        expect(views.mock.calls.length, q).toBe(res.count);
      }
      // A time-window sign cannot answer `at` from its entry: its record is read, the others' not.
      records.mockClear();
      await get(`/api/its?${QUERIES[2]}`);
      expect(records.mock.calls.length).toBeGreaterThan(0);
      expect(records.mock.calls.length).toBeLessThan(N / 4);
    } finally {
      records.mockRestore();
      views.mockRestore();
    }
  });
});

describe('a data directory from before the itspos index', () => {
  it('is migrated once: itspos built from the records, itsgeo removed, the same answers, the doctor clean before and after', async () => {
    const store = t.service.store;
    const before = await answers();
    expect(before.every((a) => a.length > 0)).toBe(true);
    const built = await indexKeys(ITS_INDEX.geo);
    expect(built.length).toBeGreaterThan(N - 5);

    // Rewind to the old layout: `itsgeo 00 <geohash> 00 <key>` for every active sign, no itspos, no meta.
    const legacy: string[] = [];
    for await (const [key, record] of store.allRecords()) {
      if (record.family !== 'its' || record.status !== 'active' || !key.startsWith('its:')) continue;
      const pos = (currentIndexTerms(record).find((term) => term.startsWith(`${ITS_INDEX.geo}${SEP}`)) ?? '').split(SEP)[1]!.split(' ');
      legacy.push(`${ITS_LEGACY_GEO_INDEX}${SEP}${geohash({ lat: Number(pos[1]), lon: Number(pos[2]) })}${SEP}${key}`);
      await store.index.put(legacy.at(-1)!, record.id);
    }
    await store.index.batch(built.map((key) => ({ type: 'del' as const, key })));
    await store.meta.del(ITS_GEO_INDEX_META);
    expect(await indexKeys(ITS_INDEX.geo)).toEqual([]);

    // The doctor accepts the old layout (what `restore` runs on a backup made before): itsgeo is
    // no longer checked, the missing itspos entries are warnings that the server builds them.
    const old = await checkStore(store, { signer: t.service.signer });
    expect(old.problems).toEqual([]);
    expect(old.unchecked[ITS_LEGACY_GEO_INDEX]).toBe(legacy.length);
    expect(old.warnings.filter((w) => w.message.includes('not built yet')).length).toBe(built.length);

    expect(await t.service.its.reindexIfNeeded()).toBe(built.length);
    expect(await indexKeys(ITS_INDEX.geo)).toEqual(built);
    expect(await indexKeys(ITS_LEGACY_GEO_INDEX)).toEqual([]);
    expect(await store.getMeta(ITS_GEO_INDEX_META)).toBe(1);
    expect(await answers()).toEqual(before);
    expect(await t.service.its.reindexIfNeeded()).toBe(0);

    const after = await checkStore(store, { signer: t.service.signer });
    expect(after.problems).toEqual([]);
    expect(after.warnings.filter((w) => w.check === 'index')).toEqual([]);
    expect(after.unchecked).toEqual({});
    expect(after.checked.indexByName[ITS_INDEX.geo]).toBe(built.length);
  });

  it('keeps the entry in step with the sign: moved, re-filtered and deleted signs', async () => {
    const id = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 1, type: parseItsSignType('nat.DE-274[70]') });
    const far = { lat: CENTER.lat + 0.05, lon: CENTER.lon };
    let res = await put(`/api/its/${id}`, { position: far, facing: 10, temporary: true });
    expect(res.statusCode, res.body).toBe(200);
    const entries = (await indexKeys(ITS_INDEX.geo)).filter((k) => k.endsWith('.sign.0000000001'));
    expect(entries.length).toBe(1);
    expect(entries[0]!.split(SEP)[1]!.startsWith(`${geohash(far)} ${far.lat} ${far.lon} 10 sign placed 1 `)).toBe(true);
    expect((await get(`/api/its?near=${far.lat},${far.lon}&radius=5&temporary=true`)).signs.map((s) => s.id)).toEqual([id]);
    expect((await get(`/api/its?near=${far.lat},${far.lon}&radius=5&temporary=false`)).count).toBe(0);
    res = await t.app.inject({ method: 'DELETE', url: `/api/its/${id}`, headers: { authorization: adminAuth() } });
    expect(res.statusCode, res.body).toBeLessThan(300);
    expect((await indexKeys(ITS_INDEX.geo)).filter((k) => k.endsWith('.sign.0000000001'))).toEqual([]);
    expect((await get(`/api/its?near=${far.lat},${far.lon}&radius=5`)).count).toBe(0);
  });
});
