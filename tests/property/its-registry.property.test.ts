import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { circleBoxes, coverBoxes, distanceM, geohash, inBox, MAX_COVER_CELLS, type Box } from '../../src/families/its/geo.js';
import { parseSign, signToValues, valuesToSign } from '../../src/families/its/its-record.js';
import { MAX_BBOX_SPAN_DEG, MAX_NEAR_RADIUS_M } from '../../src/families/its/its-query.js';
import { windowOpenAt, WEEKDAYS } from '../../src/families/its/validity.js';
import { parseItsSignType } from '../../src/ids/its-sign.js';

/**
 * Properties of the ITS registry's pure parts: the spatial index never misses a sign (every point
 * of a query area lies in a cell the query reads), a sign round-trips through its typed values,
 * and UTC time windows agree with a direct reading of their definition.
 */

const lat = fc.double({ min: -90, max: 90, noNaN: true });
const lon = fc.double({ min: -180, max: 180, noNaN: true });

const box = fc
  .record({ minLon: lon, minLat: lat, w: fc.double({ min: 0, max: MAX_BBOX_SPAN_DEG, noNaN: true }), h: fc.double({ min: 0, max: MAX_BBOX_SPAN_DEG, noNaN: true }) })
  .map(({ minLon, minLat, w, h }): Box => ({ minLon, minLat, maxLon: Math.min(180, minLon + w), maxLat: Math.min(90, minLat + h) }));

/** Whether the point's index cell is inside one of the cover's ranges. */
function covered(boxes: Box[], p: { lat: number; lon: number }): boolean {
  const cover = coverBoxes(boxes);
  const cell = geohash(p).slice(0, cover.precision);
  return cover.ranges.some((r) => cell >= r.from && cell <= r.to);
}

describe('the spatial index never misses a sign', () => {
  test('every point of a bbox lies in a covered cell, and the cover stays within its cell budget', () => {
    fc.assert(
      fc.property(box, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (b, u, v) => {
        const p = { lon: b.minLon + (b.maxLon - b.minLon) * u, lat: b.minLat + (b.maxLat - b.minLat) * v };
        if (!inBox(p, b)) return; // rounding at the far edge
        expect(covered([b], p)).toBe(true);
        expect(covered([b], { lat: b.minLat, lon: b.minLon })).toBe(true);
        expect(covered([b], { lat: b.maxLat, lon: b.maxLon })).toBe(true);
        expect(coverBoxes([b]).cells).toBeLessThanOrEqual(MAX_COVER_CELLS);
      }),
      { numRuns: 2000 },
    );
  });

  test('a coarse cell is the prefix of the fine cell of the same point', () => {
    fc.assert(
      fc.property(lat, lon, fc.integer({ min: 1, max: 9 }), (la, lo, p) => {
        expect(geohash({ lat: la, lon: lo }, p)).toBe(geohash({ lat: la, lon: lo }).slice(0, p));
      }),
      { numRuns: 2000 },
    );
  });

  test('every point within a radius lies in the circle boxes and in a covered cell, poles and antimeridian included', () => {
    const center = fc.oneof(
      fc.record({ lat, lon }),
      fc.record({ lat: fc.double({ min: 89.9, max: 90, noNaN: true }), lon }),
      fc.record({ lat, lon: fc.double({ min: 179.9, max: 180, noNaN: true }) }),
      fc.record({ lat, lon: fc.double({ min: -180, max: -179.9, noNaN: true }) }),
    );
    fc.assert(
      fc.property(center, fc.double({ min: 1, max: MAX_NEAR_RADIUS_M, noNaN: true }), fc.double({ min: -0.06, max: 0.06, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), (c, r, dLat, dLon) => {
        const wrap = (x: number): number => (x > 180 ? x - 360 : x < -180 ? x + 360 : x);
        const p = { lat: Math.max(-90, Math.min(90, c.lat + dLat)), lon: wrap(c.lon + dLon) };
        if (distanceM(c, p) > r) return;
        const boxes = circleBoxes(c, r);
        expect(boxes.some((b) => inBox(p, b))).toBe(true);
        expect(covered(boxes, p)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('a sign round-trips through its typed values', () => {
  const text = fc.stringMatching(/^[A-Za-z0-9 ./-]{1,40}$/).filter((s) => s.trim() !== '');
  const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const window = fc
    .record({ days: fc.subarray([...WEEKDAYS], { minLength: 1 }), from: clock, to: clock, tz: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York') })
    .filter((w) => w.from !== w.to);
  const instant = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2099-01-01T00:00:00Z') }).map((ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000', ''));
  const body = fc.record(
    {
      position: fc.record({ lat, lon, height: fc.double({ min: -100, max: 100, noNaN: true }) }, { requiredKeys: ['lat', 'lon'] }),
      facing: fc.double({ min: 0, max: 360, noNaN: true }),
      status: fc.constantFrom('planned', 'placed', 'removed'),
      value: fc.double({ min: 0, max: 65535, noNaN: true }),
      validity: fc.record({ from: fc.option(instant), windows: fc.array(window, { maxLength: 3 }) }),
      temporary: fc.boolean(),
      mount: fc.record({ post: text, order: fc.integer({ min: 0, max: 255 }) }, { requiredKeys: [] }),
      lanes: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
      road: text,
      aliases: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,5}:[!-~]{1,20}$/), { maxLength: 4 }),
      source: text,
    },
    { requiredKeys: ['position', 'facing'] },
  );

  test('parseSign -> values -> sign is the identity', () => {
    fc.assert(
      fc.property(body, fc.option(fc.constantFrom('nat.DE-274[60]', 'vc.C14', 'any.X1')), (b, type) => {
        const sign = parseSign(b);
        const t = type === null ? undefined : parseItsSignType(type);
        const back = valuesToSign(signToValues(sign, t, 1_800_000_000));
        expect(back.sign).toEqual(sign);
        expect(back.type).toEqual(t);
        // What GET shows is again a valid body that reads the same.
        expect(parseSign(JSON.parse(JSON.stringify(back.sign)))).toEqual(sign);
      }),
      { numRuns: 500 },
    );
  });
});

describe('time windows', () => {
  test('UTC windows agree with a direct reading (overnight windows belong to the day they start)', () => {
    const minute = fc.integer({ min: 0, max: 1439 });
    fc.assert(
      fc.property(fc.subarray([...WEEKDAYS], { minLength: 1 }), minute, fc.integer({ min: 1, max: 1440 }), fc.integer({ min: 0, max: 4_000_000_000 }), (days, from, to, seconds) => {
        if (from === to) return;
        const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const ms = seconds * 1000;
        const d = new Date(ms);
        const day = (d.getUTCDay() + 6) % 7;
        const m = d.getUTCHours() * 60 + d.getUTCMinutes();
        const on = (k: number): boolean => days.includes(WEEKDAYS[(k + 7) % 7]!);
        const expected = from < to ? on(day) && m >= from && m < to : (on(day) && m >= from) || (on(day - 1) && m < to);
        expect(windowOpenAt({ days, from: hhmm(from), to: hhmm(to), tz: 'UTC' }, ms)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
