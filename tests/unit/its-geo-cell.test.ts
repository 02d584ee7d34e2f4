import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boxNear, cellBox, distanceM, geohash, INDEX_PRECISION } from '../../src/families/its/geo.js';

/* The index cell of a point, read back from its geohash, and the cheap "may be near" test on it. */

const point = fc.record({ lat: fc.double({ min: -90, max: 90, noNaN: true }), lon: fc.double({ min: -180, max: 180, noNaN: true }) });

describe('cellBox', () => {
  it('is the cell that holds the point, at every precision', () => {
    fc.assert(
      fc.property(point, fc.integer({ min: 1, max: INDEX_PRECISION }), (p, precision) => {
        const box = cellBox(geohash(p, precision))!;
        // Within rounding: geohash() adds 90 or 180 first, which rounds a denormal like -5e-324 to 0.
        const e = 1e-12;
        expect(p.lat).toBeGreaterThanOrEqual(box.minLat - e);
        expect(p.lat).toBeLessThanOrEqual(box.maxLat + e);
        expect(p.lon).toBeGreaterThanOrEqual(box.minLon - e);
        expect(p.lon).toBeLessThanOrEqual(box.maxLon + e);
        expect(geohash({ lat: (box.minLat + box.maxLat) / 2, lon: (box.minLon + box.maxLon) / 2 }, precision)).toBe(geohash(p, precision));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the published examples and refuses what is no geohash', () => {
    // Niemeyer's example: ezs42 is the cell around 42.6, -5.6.
    const box = cellBox('ezs42')!;
    expect(box.minLat).toBeCloseTo(42.583, 2);
    expect(box.maxLon).toBeCloseTo(-5.581, 2);
    expect(cellBox('ezs4a')).toBeUndefined();
  });
});

describe('boxNear', () => {
  it('never rules out the cell of a point within the radius', () => {
    fc.assert(
      fc.property(point, point, fc.double({ min: 1, max: 5000, noNaN: true }), (center, p, radius) => {
        if (distanceM(center, p) <= radius) expect(boxNear(cellBox(geohash(p))!, center, radius)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('rules out cells well beyond the radius', () => {
    const center = { lat: 52.5, lon: 13.4 };
    expect(boxNear(cellBox(geohash({ lat: 52.52, lon: 13.4 }))!, center, 1000)).toBe(false);
    expect(boxNear(cellBox(geohash({ lat: 52.505, lon: 13.4 }))!, center, 1000)).toBe(true);
  });
});
