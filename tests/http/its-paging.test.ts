import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatItsSignId, type ItsKind } from '../../src/ids/its-sign.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { mulberry32 } from '../helpers/prng.js';

/*
 * Paging past `limit`: following `next` from page to page gives exactly the one-page answer, in
 * the same order, with no sign twice, for every query mode; ties in distance (signs on one post)
 * are ordered by record key. Each page reads only the cells of the query's area.
 */

let t: TestService;
const put = (url: string, body: unknown) =>
  t.app.inject({ method: 'PUT', url, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const get = (url: string) => t.app.inject({ url });

const rnd = mulberry32(5150);
const KINDS: ItsKind[] = ['sign', 'plate', 'vms'];
const CENTER = { lat: 50.85, lon: 4.35 };
const N = 150;
const FAR = 40;
let lastPosition = { lat: 0, lon: 0 };

interface Page {
  count: number;
  truncated: boolean;
  next: string | null;
  signs: { id: string; distance?: number }[];
}

beforeAll(async () => {
  t = await startTestService();
  expect((await put('/api/its/issuers/BE.7', { identity: '300:20.5000/roads-be' })).statusCode).toBe(201);
  for (let i = 0; i < N; i++) {
    // Every fifth sign shares its post (and so its distance) with the one before it.
    const lat = i % 5 === 4 ? undefined : Math.round((CENTER.lat + (rnd() - 0.5) * 0.02) * 1e6) / 1e6;
    const lon = Math.round((CENTER.lon + (rnd() - 0.5) * 0.03) * 1e6) / 1e6;
    const prev = i > 0 ? lastPosition : { lat: CENTER.lat, lon: CENTER.lon };
    const position = lat === undefined ? prev : { lat, lon };
    lastPosition = position;
    const id = formatItsSignId({ kind: KINDS[i % 3]!, country: 'BE', authority: 7, serial: 1 + i });
    const body = { position, facing: Math.floor(rnd() * 360), temporary: i % 4 === 0, aliases: i % 2 === 0 ? ['osm:node/42'] : [] };
    expect((await put(`/api/its/${encodeURIComponent(id)}`, body)).statusCode).toBe(201);
  }
  // Far away (Liège): in no query's area.
  for (let i = 0; i < FAR; i++) {
    const id = formatItsSignId({ kind: 'sign', country: 'BE', authority: 7, serial: 1001 + i });
    expect((await put(`/api/its/${encodeURIComponent(id)}`, { position: { lat: 50.63 + i * 1e-4, lon: 5.57 }, facing: 0 })).statusCode).toBe(201);
  }
}, 60_000);
afterAll(async () => t.close());

async function page(url: string): Promise<Page> {
  const res = await get(url);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Page;
}

/** Follows `next` from the first page; returns every page. */
async function follow(query: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let url: string | null = `/api/its?${query}&limit=${limit}`;
  while (url !== null) {
    const p: Page = await page(url);
    pages.push(p);
    expect(pages.length).toBeLessThan(200);
    url = p.next;
  }
  return pages;
}

const QUERIES = [
  `near=${CENTER.lat},${CENTER.lon}&radius=2000`,
  `near=${CENTER.lat},${CENTER.lon}&radius=2000&kind=sign,vms&temporary=false`,
  `ahead=${CENTER.lat - 0.02},${CENTER.lon},0&distance=5000`,
  `bbox=${CENTER.lon - 0.02},${CENTER.lat - 0.01},${CENTER.lon + 0.02},${CENTER.lat + 0.01}`,
  'alias=osm:node/42',
  `near=${CENTER.lat},${CENTER.lon}&radius=2000&asOf=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
];

describe('paging past limit', () => {
  it.each(QUERIES)('following next gives the one-page answer exactly: %s', async (query) => {
    const whole = await page(`/api/its?${query}&limit=1000`);
    expect([whole.truncated, whole.next]).toEqual([false, null]);
    expect(whole.count).toBeGreaterThan(14);
    for (const limit of [1, 7]) {
      const pages = await follow(query, limit);
      const ids = pages.flatMap((p) => p.signs.map((s) => s.id));
      expect(ids).toEqual(whole.signs.map((s) => s.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages.slice(0, -1).every((p) => p.truncated && p.count === limit && p.next !== null)).toBe(true);
      expect(pages.at(-1)!.truncated).toBe(false);
      expect(pages.at(-1)!.next).toBeNull();
    }
  });

  it('orders ties in distance (signs on one post) stably, nearest first', async () => {
    const whole = await page(`/api/its?near=${CENTER.lat},${CENTER.lon}&radius=2000&limit=1000`);
    const distances = whole.signs.map((s) => s.distance!);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    const tied = distances.filter((d, i) => i > 0 && d === distances[i - 1]).length;
    expect(tied).toBeGreaterThan(5);
  });

  it('the next link repeats the query and the filters, with the cursor', async () => {
    const first = await page(`/api/its?near=${CENTER.lat},${CENTER.lon}&radius=2000&kind=sign&limit=3`);
    expect(first.next).toMatch(/^\/api\/its\?near=[^&]+&radius=2000&kind=sign&limit=3&cursor=[\w-]+$/);
  });

  it('refuses a cursor it did not give out (400, ERR_ITS_QUERY_INVALID, param cursor)', async () => {
    const forged = Buffer.from(JSON.stringify(['x', 'its:'])).toString('base64url');
    for (const cursor of ['', 'not*base64', forged, Buffer.from('[1]').toString('base64url'), 'A'.repeat(600)]) {
      const res = await get(`/api/its?near=${CENTER.lat},${CENTER.lon}&radius=100&cursor=${cursor}`);
      expect([res.statusCode, res.json().code, res.json().param], cursor).toEqual([400, 'ERR_ITS_QUERY_INVALID', 'cursor']);
    }
  });

  it('reads only the cells of the area on every page, never all signs', async () => {
    const index = t.service.store.index;
    const ranges: { gte?: string; lt?: string }[] = [];
    const original = index.keys.bind(index);
    const spy = vi.spyOn(index, 'keys').mockImplementation(((options?: { gte?: string; lt?: string }) => {
      ranges.push(options ?? {});
      return original(options as never);
    }) as never);
    const query = `near=${CENTER.lat},${CENTER.lon}&radius=300`;
    await page(`/api/its?${query}&limit=1000`);
    const oneRead = ranges.splice(0);
    const pages = await follow(query, 2);
    spy.mockRestore();
    expect(pages.length).toBeGreaterThan(3);
    // Every page reads the same key ranges as the query without paging: the cells of its area.
    expect(ranges).toEqual(Array.from({ length: pages.length }, () => oneRead).flat());
    let visited = 0;
    for (const r of oneRead) {
      expect(r.gte).toMatch(/^itspos\u0000[0-9b-hjkmnp-z]+$/);
      for await (const _ of index.keys(r as never)) visited++;
    }
    expect(visited).toBeGreaterThan(0);
    expect(visited).toBeLessThanOrEqual(N);
  });
});
