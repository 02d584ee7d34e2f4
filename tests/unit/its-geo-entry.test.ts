import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { geoEntryTerm, parseGeoEntry } from '../../src/families/its/geo-entry.js';
import { geohash, INDEX_PRECISION } from '../../src/families/its/geo.js';
import { SIGN_STATUSES, type ItsSign, type SignStatus } from '../../src/families/its/its-record.js';
import { entryFiltersMatch, filtersMatch, parseItsQuery } from '../../src/families/its/its-query.js';
import { ITS_KINDS } from '../../src/ids/its-sign.js';

/*
 * The current spatial index's entries carry what a query tests (geo-entry.ts): they must give back
 * the sign's position and facing exactly (the same doubles, so distances and cones agree with the
 * record to the last bit), sort inside their cell's key range, and answer the filters as the
 * record would, or say that they cannot.
 */

const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 0, 1) }).map((ms) => new Date(ms).toISOString().replace('.000Z', 'Z'));
const window = { days: ['Mon'] as const, from: '07:00', to: '09:00', tz: 'UTC' };

const sign = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true }),
  facing: fc.double({ min: 0, max: 360, noNaN: true }),
  status: fc.constantFrom(...SIGN_STATUSES),
  temporary: fc.boolean(),
  from: fc.option(instant, { nil: null }),
  to: fc.option(instant, { nil: null }),
  windows: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom(...ITS_KINDS),
});

interface Drawn {
  readonly lat: number;
  readonly lon: number;
  readonly facing: number;
  readonly status: SignStatus;
  readonly temporary: boolean;
  readonly from: string | null;
  readonly to: string | null;
  readonly windows: number;
}

/** A sign as parseSign leaves it (one zero: JSON's -0 is read as 0). */
function itsSign(s: Drawn): ItsSign {
  return {
    position: { lat: s.lat === 0 ? 0 : s.lat, lon: s.lon === 0 ? 0 : s.lon, height: 2 },
    facing: s.facing === 0 ? 0 : s.facing,
    status: s.status,
    value: null,
    unit: null,
    validity: { from: s.from, to: s.to, windows: Array.from({ length: s.windows }, () => window) },
    temporary: s.temporary,
    mount: null,
    lanes: [],
    road: null,
    aliases: [],
    source: null,
  };
}

describe('geo index entries', () => {
  test('round-trip exactly: position, facing, kind, status, temporary, validity bounds, window count', () => {
    fc.assert(
      fc.property(sign, (s) => {
        const x = itsSign(s);
        const term = geoEntryTerm(s.kind, x);
        const e = parseGeoEntry(term);
        expect(e).toEqual({
          position: { lat: x.position.lat, lon: x.position.lon },
          facing: x.facing,
          kind: s.kind,
          status: s.status,
          temporary: s.temporary,
          from: s.from,
          to: s.to,
          windows: s.windows,
        });
        expect(Object.is(e!.position.lat, x.position.lat) && Object.is(e!.position.lon, x.position.lon)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("sort inside their cell's key range [cell, cell~) at every precision", () => {
    fc.assert(
      fc.property(sign, fc.integer({ min: 1, max: INDEX_PRECISION }), (s, p) => {
        const x = itsSign(s);
        const term = geoEntryTerm(s.kind, x);
        const cell = geohash(x.position, p);
        expect(term >= cell && term < `${cell}~`).toBe(true);
        expect(term.startsWith(geohash(x.position))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('answer the filters as the record does, and defer to the record for code and for at with windows', () => {
    const queries = [
      'near=0,0&radius=10',
      'near=0,0&radius=10&kind=sign,plate',
      'near=0,0&radius=10&temporary=true',
      'near=0,0&radius=10&status=placed,planned',
      'near=0,0&radius=10&at=2030-06-01T12:00:00Z',
      'near=0,0&radius=10&at=2030-06-03T08:00:00Z&kind=vms',
      'near=0,0&radius=10&code=nat.DE-274',
    ].map((q) => parseItsQuery(Object.fromEntries(new URLSearchParams(q))));
    let deferred = 0;
    let answered = 0;
    fc.assert(
      fc.property(sign, fc.constantFrom(...queries), (s, q) => {
        const x = itsSign(s);
        const verdict = entryFiltersMatch(q, parseGeoEntry(geoEntryTerm(s.kind, x))!);
        if (q.code !== undefined || (q.at !== undefined && s.windows > 0)) {
          expect(verdict).toBeUndefined();
          deferred++;
        } else {
          expect(verdict).toBe(filtersMatch(q, s.kind, x, undefined));
          answered++;
        }
      }),
      { numRuns: 1000 },
    );
    expect(deferred).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(0);
  });

  test('refuse terms they did not write: the cell-only term of the index they replace, and damaged ones', () => {
    const x = itsSign({ lat: 52.5, lon: 13.4, facing: 90, status: 'placed', temporary: false, from: null, to: null, windows: 0 });
    const good = geoEntryTerm('sign', x);
    expect(parseGeoEntry(good)).toBeDefined();
    expect(parseGeoEntry(geohash(x.position))).toBeUndefined();
    expect(parseGeoEntry(good.replace(' sign ', ' road '))).toBeUndefined();
    expect(parseGeoEntry(good.replace(' placed ', ' gone '))).toBeUndefined();
    expect(parseGeoEntry(good.replace(' 52.5 ', ' x '))).toBeUndefined();
    expect(parseGeoEntry(good.replace(' 52.5 ', '  '))).toBeUndefined();
    expect(parseGeoEntry(`${good} 1`)).toBeUndefined();
  });
});
