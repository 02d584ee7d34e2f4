import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatItsSignId, parseItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/*
 * asOf: the registry as it was at an instant, rebuilt from history. Only Date is faked, so the
 * writes get the timestamps chosen here while LevelDB and fastify run on real timers.
 */

let t: TestService;
const T0 = Date.parse('2026-01-10T10:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000', '');
const when = (minutes: number): number => T0 + minutes * 60_000;

const send = (method: 'PUT' | 'DELETE', url: string, body?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: { authorization: adminAuth(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const get = (url: string) => t.app.inject({ url });

const P1 = { lat: 52.52, lon: 13.405 };
const P2 = { lat: 52.53, lon: 13.43 }; // about 2 km from P1
const A = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 1 });
const B = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 2 });
const typed = (type: string): string => formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 1, type: parseItsSignType(type) });
const at = (id: string): string => `/api/its/${encodeURIComponent(id)}`;

async function ids(query: string): Promise<string[]> {
  const res = await get(`/api/its?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  // The identity alone: the type changes between versions.
  return res.json().signs.map((s: { id: string }) => {
    const { type: _type, ...identity } = parseItsSignId(s.id);
    return formatItsSignId(identity);
  });
}
const near = (p: { lat: number; lon: number }, asOf?: number): string => `near=${p.lat},${p.lon}&radius=100${asOf === undefined ? '' : `&asOf=${iso(asOf)}`}`;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  t = await startTestService();
  expect((await send('PUT', '/api/its/issuers/DE.417', { identity: '300:20.5000/roads-de' })).statusCode).toBe(201);
  vi.setSystemTime(when(1));
  expect((await send('PUT', at(typed('nat.DE-274[50]')), { position: P1, facing: 90, aliases: ['osm:node/1'] })).statusCode).toBe(201);
  vi.setSystemTime(when(2));
  expect((await send('PUT', at(typed('nat.DE-274[30]')), { position: P2, facing: 90, aliases: ['osm:node/2'] })).statusCode).toBe(200);
  vi.setSystemTime(when(3));
  expect((await send('PUT', at(B), { position: P1, facing: 180 })).statusCode).toBe(201);
  vi.setSystemTime(when(4));
  expect((await send('DELETE', at(A))).statusCode).toBe(200);
  vi.useRealTimers();
});
afterAll(async () => {
  vi.useRealTimers();
  await t.close();
});

describe('asOf', () => {
  it('answers spatial queries as the registry stood then: moves, creations and deletions', async () => {
    expect(await ids(near(P1, when(0.5)))).toEqual([]);
    expect(await ids(near(P1, when(1.5)))).toEqual([A]);
    expect(await ids(near(P2, when(1.5)))).toEqual([]);
    expect(await ids(near(P1, when(2.5)))).toEqual([]);
    expect(await ids(near(P2, when(2.5)))).toEqual([A]);
    expect(await ids(near(P1, when(3.5)))).toEqual([B]);
    expect(await ids(near(P2, when(3.5)))).toEqual([A]);
    expect(await ids(near(P2, when(4.5)))).toEqual([]);
    expect(await ids(near(P1))).toEqual([B]);
    expect(await ids(near(P2))).toEqual([]);
    // A write is in force from its second on.
    expect(await ids(near(P2, when(2)))).toEqual([A]);
  });

  it('returns the version in force, with its own type and values', async () => {
    const res = await get(`/api/its?${near(P1, when(1.5))}`);
    expect(res.json().signs[0]).toMatchObject({ id: typed('nat.DE-274[50]'), value: 50, version: 1, position: P1 });
    const later = await get(`/api/its?${near(P2, when(3))}&code=nat.DE-274[30]`);
    expect(later.json().signs[0]).toMatchObject({ id: typed('nat.DE-274[30]'), value: 30, version: 2 });
    expect((await ids(`${near(P2, when(3))}&code=nat.DE-274[50]`))).toEqual([]);
  });

  it('looks aliases up as they were', async () => {
    expect(await ids(`alias=osm:node/1&asOf=${iso(when(1.5))}`)).toEqual([A]);
    expect(await ids(`alias=osm:node/1&asOf=${iso(when(2.5))}`)).toEqual([]);
    expect(await ids(`alias=osm:node/2&asOf=${iso(when(2.5))}`)).toEqual([A]);
    expect(await ids('alias=osm:node/2')).toEqual([]);
  });

  it('reads one sign as it was: GET /api/its/{id}?asOf=', async () => {
    const v1 = await get(`${at(A)}?asOf=${iso(when(1.5))}`);
    expect(v1.statusCode).toBe(200);
    expect(v1.json()).toMatchObject({ id: typed('nat.DE-274[50]'), version: 1, position: P1, aliases: ['osm:node/1'] });
    expect((await get(`${at(A)}?asOf=${iso(when(2.5))}`)).json()).toMatchObject({ version: 2, position: P2 });
    expect((await get(`${at(A)}?asOf=${iso(when(4.5))}`)).json()).toMatchObject({ code: 'ERR_ITS_DELETED' });
    expect((await get(`${at(A)}?asOf=${iso(when(0.5))}`)).json()).toMatchObject({ code: 'ERR_ITS_NOT_FOUND', asOf: iso(when(0.5)) });
    const mismatch = await get(`${at(typed('nat.DE-274[30]'))}?asOf=${iso(when(1.5))}`);
    expect([mismatch.statusCode, mismatch.json().registered]).toEqual([409, 'nat.DE-274[50]']);
  });
});
