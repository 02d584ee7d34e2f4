import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AHEAD_CONE_HALF_ANGLE_DEG, AHEAD_FACING_TOLERANCE_DEG } from '../../src/families/its/its-query.js';
import { formatItsSignId, ITS_KINDS, parseItsSignType, type ItsKind } from '../../src/ids/its-sign.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { mulberry32 } from '../helpers/prng.js';

/*
 * Spatial queries against a brute-force filter computed here, independently of the service's
 * code, over a few hundred seeded-random signs in three clusters: Berlin, across the antimeridian
 * (Fiji) and around the North Pole.
 */

let t: TestService;

const put = (url: string, body: unknown) =>
  t.app.inject({ method: 'PUT', url, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const get = (url: string) => t.app.inject({ url });

const rnd = mulberry32(20261125);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const between = (a: number, b: number): number => a + (b - a) * rnd();
const round = (x: number, digits = 6): number => Math.round(x * 10 ** digits) / 10 ** digits;

// ---- the brute-force model ----------------------------------------------------------------------

const R = 6_371_008.8;
const rad = (d: number): number => (d * Math.PI) / 180;
function haversine(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}
function bearing(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const y = Math.sin(rad(b.lon - a.lon)) * Math.cos(rad(b.lat));
  const x = Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) - Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lon - a.lon));
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}
const diff = (a: number, b: number): number => {
  const d = Math.abs((((a - b) % 360) + 360) % 360);
  return Math.min(d, 360 - d);
};

interface Window {
  days: string[];
  from: string;
  to: string;
}
interface Sign {
  id: string;
  kind: ItsKind;
  type?: string;
  body: {
    position: { lat: number; lon: number };
    facing: number;
    status: string;
    temporary: boolean;
    validity: { from: string | null; to: string | null; windows: Window[] };
    aliases: string[];
  };
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
/** UTC windows only, read the documented way (overnight windows belong to the day they start). */
function validAt(s: Sign, ms: number): boolean {
  const v = s.body.validity;
  if (s.body.status === 'removed') return false;
  if (v.from !== null && ms < Date.parse(v.from)) return false;
  if (v.to !== null && ms >= Date.parse(v.to)) return false;
  if (v.windows.length === 0) return true;
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Mon = 0
  const m = d.getUTCHours() * 60 + d.getUTCMinutes();
  return v.windows.some((w) => {
    const from = minutes(w.from);
    const to = w.to === '24:00' ? 1440 : minutes(w.to);
    const on = (k: number): boolean => w.days.includes(DAYS[(k + 7) % 7]!);
    return from < to ? on(day) && m >= from && m < to : (on(day) && m >= from) || (on(day - 1) && m < to);
  });
}

interface Filters {
  kind?: ItsKind[];
  code?: string;
  temporary?: boolean;
  status?: string[];
  at?: number;
}
function filtersMatch(s: Sign, f: Filters): boolean {
  if (f.kind && !f.kind.includes(s.kind)) return false;
  if (f.code) {
    if (!s.type) return false;
    const [code, value] = f.code.split('[');
    const [sCode, sValue] = s.type.split('[');
    if (code !== sCode || (value !== undefined && value !== sValue)) return false;
  }
  if (f.temporary !== undefined && s.body.temporary !== f.temporary) return false;
  if (f.status && !f.status.includes(s.body.status)) return false;
  if (f.at !== undefined && !validAt(s, f.at)) return false;
  return true;
}
function filterParams(f: Filters): string {
  const p = new URLSearchParams();
  if (f.kind) p.set('kind', f.kind.join(','));
  if (f.code) p.set('code', f.code);
  if (f.temporary !== undefined) p.set('temporary', String(f.temporary));
  if (f.status) p.set('status', f.status.join(','));
  if (f.at !== undefined) p.set('at', new Date(f.at).toISOString());
  const s = p.toString();
  return s ? `&${s}` : '';
}
function randomFilters(): Filters {
  const f: Filters = {};
  if (rnd() < 0.2) f.kind = [pick(ITS_KINDS), pick(ITS_KINDS)];
  if (rnd() < 0.2) f.code = pick(['nat.DE-274', 'nat.DE-274[50]', 'nat.DE-206', 'any.X1']);
  if (rnd() < 0.2) f.temporary = rnd() < 0.5;
  if (rnd() < 0.2) f.status = [pick(['planned', 'placed', 'removed'])];
  if (rnd() < 0.3) f.at = Date.parse('2026-01-01T00:00:00Z') + Math.floor(rnd() * 400 * 86400) * 1000 + Math.floor(rnd() * 1440) * 60000;
  return f;
}

// ---- the signs ------------------------------------------------------------------------------------

const signs: Sign[] = [];
const BERLIN = { lat: 52.5, lon: 13.4 };
const FIJI = { lat: -16.5, lon: 179.995 };
const wrapLon = (lon: number): number => (lon > 180 ? lon - 360 : lon < -180 ? lon + 360 : lon);

function randomPosition(i: number): { lat: number; lon: number } {
  if (i < 360) return { lat: round(BERLIN.lat + between(-0.03, 0.03)), lon: round(BERLIN.lon + between(-0.045, 0.045)) };
  if (i < 420) return { lat: round(FIJI.lat + between(-0.02, 0.02)), lon: round(wrapLon(FIJI.lon + between(-0.025, 0.025))) };
  return { lat: round(between(89.985, 90)), lon: round(between(-180, 180)) };
}

function randomWindow(): Window {
  const from = Math.floor(rnd() * 24);
  let to = Math.floor(rnd() * 24) + 1;
  if (to === from) to = from + 1;
  const hh = (h: number): string => `${String(h).padStart(2, '0')}:00`;
  return { days: DAYS.filter(() => rnd() < 0.6), from: hh(from), to: hh(to) };
}

function randomSign(i: number): Sign {
  const kind = pick(ITS_KINDS);
  const type = pick([undefined, 'nat.DE-274[30]', 'nat.DE-274[50]', 'nat.DE-206', 'any.X1', 'any.X2']);
  const fromDay = rnd() < 0.5 ? null : Date.parse('2026-01-01T00:00:00Z') + Math.floor(rnd() * 200) * 86400000;
  const toDay = rnd() < 0.5 ? null : Date.parse('2026-07-01T00:00:00Z') + Math.floor(rnd() * 200) * 86400000;
  const windows = rnd() < 0.4 ? [randomWindow(), ...(rnd() < 0.3 ? [randomWindow()] : [])].filter((w) => w.days.length > 0) : [];
  const aliases = [...new Set([pick(['osm:node/1', 'osm:node/2', 'osm:node/3', 'bast:DE/7']), `osm:node/${1000 + i}`])].slice(0, 1 + Math.floor(rnd() * 2));
  const id = formatItsSignId({ kind, country: 'DE', authority: 417, serial: 1000 + i, ...(type ? { type: parseItsSignType(type) } : {}) });
  return {
    id,
    kind,
    ...(type ? { type } : {}),
    body: {
      position: randomPosition(i),
      facing: round((pick([0, 90, 180, 270]) + between(-30, 30) + 360) % 360, 2),
      status: pick(['planned', 'placed', 'placed', 'placed', 'removed']),
      temporary: rnd() < 0.2,
      validity: { from: fromDay === null ? null : new Date(fromDay).toISOString().replace('.000', ''), to: toDay === null ? null : new Date(toDay).toISOString().replace('.000', ''), windows },
      aliases,
    },
  };
}

beforeAll(async () => {
  t = await startTestService();
  expect((await put('/api/its/issuers/DE.417', { identity: '300:20.5000/roads-de' })).statusCode).toBe(201);
  for (let i = 0; i < 450; i++) {
    const s = randomSign(i);
    const res = await put(`/api/its/${encodeURIComponent(s.id)}`, s.body);
    expect(res.statusCode, res.body).toBe(201);
    signs.push(s);
  }
}, 120_000);
afterAll(async () => t.close());

interface Hit {
  id: string;
  distance?: number;
}
async function query(q: string): Promise<Hit[]> {
  const res = await get(`/api/its?${q}&limit=1000`);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  expect(body.truncated).toBe(false);
  expect(body.count).toBe(body.signs.length);
  return body.signs;
}
const sorted = (ids: string[]): string[] => [...ids].sort();

describe('bbox, near and ahead agree with a brute-force filter', () => {
  it('bbox: exactly the signs inside, with the filters', async () => {
    for (let k = 0; k < 60; k++) {
      const c = k % 3 === 2 ? { lat: FIJI.lat, lon: pick([179.99, -179.99]) } : BERLIN;
      const lon = wrapLon(c.lon + between(-0.03, 0.03));
      const lat = c.lat + between(-0.03, 0.03);
      const box = [lon, lat, Math.min(180, lon + between(0, 0.05)), lat + between(0, 0.05)].map((x) => round(x));
      const f = randomFilters();
      const got = await query(`bbox=${box.join(',')}${filterParams(f)}`);
      const want = signs.filter((s) => {
        const p = s.body.position;
        return p.lon >= box[0]! && p.lon <= box[2]! && p.lat >= box[1]! && p.lat <= box[3]! && filtersMatch(s, f);
      });
      expect(sorted(got.map((h) => h.id))).toEqual(sorted(want.map((s) => s.id)));
    }
  });

  it('near: exactly the signs within the radius, nearest first, with distances', async () => {
    let total = 0;
    for (let k = 0; k < 60; k++) {
      const cluster = k % 6;
      const c =
        cluster < 4
          ? { lat: round(BERLIN.lat + between(-0.03, 0.03)), lon: round(BERLIN.lon + between(-0.04, 0.04)) }
          : cluster === 4
            ? { lat: round(FIJI.lat + between(-0.01, 0.01)), lon: round(wrapLon(FIJI.lon + between(-0.01, 0.01))) }
            : { lat: round(between(89.99, 90)), lon: round(between(-180, 180)) };
      const radius = round(between(20, 5000), 1);
      const f = randomFilters();
      const got = await query(`near=${c.lat},${c.lon}&radius=${radius}${filterParams(f)}`);
      const want = signs
        .map((s) => ({ s, d: haversine(c, s.body.position) }))
        .filter(({ s, d }) => d <= radius && filtersMatch(s, f))
        .sort((a, b) => a.d - b.d);
      expect(got.map((h) => h.id)).toEqual(want.map((w) => w.s.id));
      got.forEach((h, i) => expect(h.distance).toBeCloseTo(want[i]!.d, 1));
      total += got.length;
    }
    expect(total).toBeGreaterThan(500);
  });

  it('ahead: signs in the cone around the heading whose faces point back, nearest first', async () => {
    let total = 0;
    for (let k = 0; k < 80; k++) {
      const cluster = k % 5;
      const c =
        cluster < 3
          ? { lat: round(BERLIN.lat + between(-0.03, 0.03)), lon: round(BERLIN.lon + between(-0.04, 0.04)) }
          : cluster === 3
            ? { lat: round(FIJI.lat + between(-0.01, 0.01)), lon: round(wrapLon(FIJI.lon + between(-0.01, 0.01))) }
            : { lat: round(between(89.99, 89.999)), lon: round(between(-180, 180)) };
      const heading = round((pick([0, 90, 180, 270]) + between(-20, 20) + 360) % 360, 2);
      const distance = round(between(100, 5000), 1);
      const f = k % 2 === 0 ? {} : randomFilters();
      const got = await query(`ahead=${c.lat},${c.lon},${heading}&distance=${distance}${filterParams(f)}`);
      const want = signs
        .map((s) => ({ s, d: haversine(c, s.body.position), b: bearing(c, s.body.position) }))
        .filter(({ s, d, b }) => d > 0 && d <= distance && diff(b, heading) <= AHEAD_CONE_HALF_ANGLE_DEG && diff(s.body.facing, heading + 180) <= AHEAD_FACING_TOLERANCE_DEG && filtersMatch(s, f))
        .sort((a, b) => a.d - b.d);
      expect(got.map((h) => h.id)).toEqual(want.map((w) => w.s.id));
      total += got.length;
    }
    expect(total).toBeGreaterThan(50);
  });

  it('limit truncates and says so', async () => {
    const all = await query(`near=${BERLIN.lat},${BERLIN.lon}&radius=5000`);
    expect(all.length).toBeGreaterThan(10);
    const res = (await get(`/api/its?near=${BERLIN.lat},${BERLIN.lon}&radius=5000&limit=10`)).json();
    expect([res.count, res.truncated]).toEqual([10, true]);
    expect(res.signs.map((s: Hit) => s.id)).toEqual(all.slice(0, 10).map((h) => h.id));
  });

  it('reads only the index ranges of the cells covering the area, never all signs', async () => {
    const index = t.service.store.index;
    const ranges: { gte?: string; lt?: string }[] = [];
    const original = index.keys.bind(index);
    const keys = vi.spyOn(index, 'keys').mockImplementation(((options?: { gte?: string; lt?: string }) => {
      ranges.push(options ?? {});
      return original(options as never);
    }) as never);
    const one = signs[5]!.body.position;
    await query(`near=${one.lat},${one.lon}&radius=100`);
    keys.mockRestore();
    expect(ranges.length).toBeGreaterThan(0);
    let visited = 0;
    for (const r of ranges) {
      expect(r.gte).toMatch(/^itspos\u0000[0-9b-hjkmnp-z]+$/);
      expect(r.lt!.startsWith('itspos\u0000')).toBe(true);
      for await (const _ of index.keys(r as never)) visited++;
    }
    expect(visited).toBeGreaterThan(0);
    expect(visited).toBeLessThan(signs.length / 10);
  });
});

describe('at: validity and recurring windows', () => {
  const tz = 'Europe/Berlin';
  const id = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 5000, type: parseItsSignType('nat.DE-274[30]') });
  const where = { lat: 48.137, lon: 11.575 }; // Munich, away from the random signs
  const near = (at: string): string => `/api/its?near=${where.lat},${where.lon}&radius=50&at=${encodeURIComponent(at)}`;

  beforeAll(async () => {
    const body = {
      position: where,
      facing: 0,
      validity: {
        from: '2026-03-01T00:00:00Z',
        to: '2026-12-01T00:00:00Z',
        windows: [
          { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], from: '07:00', to: '09:00', tz },
          { days: ['Fri'], from: '22:00', to: '06:00', tz },
        ],
      },
    };
    expect((await put(`/api/its/${encodeURIComponent(id)}`, body)).statusCode).toBe(201);
  });

  it.each([
    ['Monday 07:30 Berlin (CET, 06:30Z)', '2026-03-02T06:30:00Z', true],
    ['Monday 06:59 Berlin', '2026-03-02T05:59:00Z', false],
    ['Monday 09:00 Berlin (end is exclusive)', '2026-03-02T08:00:00Z', false],
    ['Monday 07:30 Berlin in summer time (CEST, 05:30Z)', '2026-06-01T05:30:00Z', true],
    ['Monday 06:30 Berlin in summer time (05:30Z would be 06:30 in winter)', '2026-06-01T04:30:00Z', false],
    ['Saturday 07:30 Berlin', '2026-03-07T06:30:00Z', false],
    ['Friday 23:00 Berlin', '2026-03-06T22:00:00Z', true],
    ['Saturday 05:59 Berlin (overnight from Friday)', '2026-03-07T04:59:00Z', true],
    ['Saturday 06:00 Berlin', '2026-03-07T05:00:00Z', false],
    ['Friday 05:00 Berlin (Thursday is not listed for the night)', '2026-03-06T04:00:00Z', false],
    ['a window, but before validity.from', '2026-02-23T06:30:00Z', false],
    ['a window, but at validity.to', '2026-12-07T06:30:00Z', false],
    ['with an offset in the query', '2026-03-02T07:30:00+01:00', true],
  ])('%s: %s -> %s', async (_name, when, expected) => {
    const res = await get(near(when));
    expect(res.statusCode).toBe(200);
    expect(res.json().signs.map((s: Hit) => s.id)).toEqual(expected ? [id] : []);
  });

  it('stores the windows with their defaults and canonical zone', async () => {
    const sign = (await get(`/api/its/${encodeURIComponent(id)}`)).json();
    expect(sign.validity.windows[1]).toEqual({ days: ['Fri'], from: '22:00', to: '06:00', tz });
    const all = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 5001 });
    const res = await put(`/api/its/${encodeURIComponent(all)}`, { position: { lat: 0, lon: 0 }, facing: 0, validity: { windows: [{ from: '00:00', to: '24:00' }] } });
    expect(res.json().validity.windows).toEqual([{ days: DAYS, from: '00:00', to: '24:00', tz: 'UTC' }]);
  });
});

describe('aliases', () => {
  it('finds every sign with an alias, with the filters', async () => {
    for (const alias of ['osm:node/1', 'osm:node/2', 'bast:DE/7', 'osm:node/1003', 'OSM:node/1003']) {
      for (const f of [{}, { kind: ['sign' as ItsKind, 'plate' as ItsKind] }, { temporary: false }]) {
        const got = await query(`alias=${encodeURIComponent(alias)}${filterParams(f)}`);
        const canonical = alias.replace(/^OSM:/, 'osm:');
        const want = signs.filter((s) => s.body.aliases.includes(canonical) && filtersMatch(s, f));
        expect(sorted(got.map((h) => h.id))).toEqual(sorted(want.map((s) => s.id)));
      }
    }
    expect(await query('alias=osm:node/999999')).toEqual([]);
  });
});

describe('the change feed', () => {
  it('pages through every sign change in order with a cursor, issuer grants left out', async () => {
    const seen: { seq: number; id: string; op: string; version: number; identity: string }[] = [];
    let since = 0;
    for (let page = 0; page < 200; page++) {
      const res = (await get(`/api/its/changes?since=${since}&limit=37`)).json();
      expect(res.since).toBe(since);
      expect(res.changes.length).toBeLessThanOrEqual(37);
      seen.push(...res.changes);
      since = res.next;
      if (res.next === res.last) break;
    }
    expect(seen.length).toBe(signs.length + 2);
    expect(seen.slice(0, signs.length).map((c) => c.id)).toEqual(signs.map((s) => s.id));
    expect(seen.every((c) => c.op === 'create' && c.version === 1 && c.id.startsWith('its:'))).toBe(true);
    expect(seen[0]!.identity).toBe(formatItsSignId({ kind: signs[0]!.kind, country: 'DE', authority: 417, serial: 1000 }));
    const seqs = seen.map((c) => c.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Updates and deletes follow, from the cursor.
    const s = signs[0]!;
    expect((await put(`/api/its/${encodeURIComponent(s.id)}`, { ...s.body, facing: 1 })).statusCode).toBe(200);
    await t.app.inject({ method: 'DELETE', url: `/api/its/${encodeURIComponent(s.id)}`, headers: { authorization: adminAuth() } });
    const tail = (await get(`/api/its/changes?since=${since}`)).json();
    expect(tail.changes.map((c: { op: string; version: number }) => [c.op, c.version])).toEqual([['update', 2], ['delete', 3]]);
    expect(tail.next).toBe(tail.last);
    // The deleted sign has left the current indexes.
    const p = s.body.position;
    expect((await query(`near=${p.lat},${p.lon}&radius=1`)).map((h) => h.id)).not.toContain(s.id);
    expect((await query(`alias=${encodeURIComponent(s.body.aliases[0]!)}`)).map((h) => h.id)).not.toContain(s.id);
  });
});

describe('code filter', () => {
  it('matches the value the sign shows, from its type or its body', async () => {
    const where = { lat: 50.1, lon: 8.68 }; // Frankfurt, away from the others
    const fromBody = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 6000, type: parseItsSignType('nat.DE-274') });
    const fromType = formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial: 6001, type: parseItsSignType('nat.DE-274[60]') });
    expect((await put(`/api/its/${encodeURIComponent(fromBody)}`, { position: where, facing: 0, value: 60 })).json()).toMatchObject({ value: 60, unit: 'km/h' });
    expect((await put(`/api/its/${encodeURIComponent(fromType)}`, { position: where, facing: 0 })).statusCode).toBe(201);
    const ids = async (code: string) => (await query(`near=${where.lat},${where.lon}&radius=10&code=${encodeURIComponent(code)}`)).map((h) => h.id).sort();
    expect(await ids('nat.DE-274[60]')).toEqual([fromBody, fromType].sort());
    expect(await ids('NAT.de-274')).toEqual([fromBody, fromType].sort());
    expect(await ids('nat.DE-274[50]')).toEqual([]);
    expect(await ids('nat.DE-274.1')).toEqual([]);
  });
});
