import { describe, expect, it } from 'vitest';
import { DEFAULT_ANOMALY_RULES, detectAnomalies, type AnomalyInput, type VerificationEvent } from '../../src/families/products/verify/anomalies.js';
import { countryPlace, geohashBox, geohashPlace, minDistanceKm, placeOf } from '../../src/families/products/verify/locations.js';

const H = 3600_000;
const T0 = 1_750_000_000_000;

const base = (over: Partial<AnomalyInput> = {}): AnomalyInput => ({
  status: 'active',
  current: { at: T0 },
  history: [],
  ...over,
});

describe('locations', () => {
  it('decodes geohash cells to their boxes (u33db: Berlin; ezs42, the classic example)', () => {
    const [minLon, minLat, maxLon, maxLat] = geohashBox('ezs42')!;
    expect(minLat).toBeCloseTo(42.583, 2);
    expect(maxLat).toBeCloseTo(42.627, 2);
    expect(minLon).toBeCloseTo(-5.625, 2);
    expect(maxLon).toBeCloseTo(-5.581, 2);
    const berlin = geohashPlace('u33db')!;
    expect(berlin.lat).toBeCloseTo(52.5, 0);
    expect(berlin.lon).toBeCloseTo(13.4, 0);
    expect(berlin.radiusKm).toBeGreaterThan(2);
    expect(berlin.radiusKm).toBeLessThan(4);
    expect(geohashBox('u33da0')).toBeUndefined();
    expect(geohashBox('aaaa')).toBeUndefined();
  });

  it('gives countries a centre and a generous radius; unknown codes give nothing', () => {
    const de = countryPlace('DE')!;
    expect(de.lat).toBeCloseTo(51.1, 0);
    expect(de.radiusKm).toBeGreaterThan(450);
    expect(countryPlace('XX')).toBeUndefined();
    expect(countryPlace('RU')).toBeUndefined();
    expect(placeOf({ country: 'DE', geohash: 'u33db' })).toEqual(geohashPlace('u33db'));
    expect(placeOf({})).toBeUndefined();
  });

  it('the least distance is zero for neighbours and overlapping areas, thousands of km across oceans', () => {
    expect(minDistanceKm(countryPlace('DE')!, countryPlace('FR')!)).toBe(0);
    expect(minDistanceKm(countryPlace('DE')!, countryPlace('AU')!)).toBeGreaterThan(10_000);
    // Berlin to Sydney cells: about 16,000 km.
    expect(minDistanceKm(geohashPlace('u33db')!, geohashPlace('r3gx2')!)).toBeGreaterThan(15_000);
  });
});

describe('detectAnomalies', () => {
  it('nothing for a first, ordinary verification', () => {
    expect(detectAnomalies(base({ current: { at: T0, location: { country: 'DE' } } }))).toEqual([]);
  });

  it('impossible travel: Berlin, then Sydney an hour later; not a day later; not within one country', () => {
    const berlin: VerificationEvent = { at: T0, location: { geohash: 'u33db' } };
    const sydney = (dt: number): VerificationEvent => ({ at: T0 + dt, location: { geohash: 'r3gx2' } });
    expect(detectAnomalies(base({ current: sydney(H), history: [berlin] }))).toEqual(['impossible-travel']);
    expect(detectAnomalies(base({ current: sydney(24 * H), history: [berlin] }))).toEqual([]);
    expect(detectAnomalies(base({ current: { at: T0 + 60_000, location: { geohash: 'u33dc' } }, history: [berlin] }))).toEqual([]);
    // Countries: DE then AU within two hours is impossible even with generous radii.
    expect(detectAnomalies(base({ current: { at: T0 + 2 * H, location: { country: 'AU' } }, history: [{ at: T0, location: { country: 'DE' } }] }))).toEqual([
      'impossible-travel',
    ]);
    // Same instant, two places far apart.
    expect(detectAnomalies(base({ current: sydney(0), history: [berlin] }))).toEqual(['impossible-travel']);
  });

  it('impossible travel compares with the latest earlier verification that has a place', () => {
    const history: VerificationEvent[] = [
      { at: T0 - 48 * H, location: { geohash: 'r3gx2' } },
      { at: T0 - H, location: { geohash: 'u33db' } },
      { at: T0 - 30 * 60_000 },
    ];
    expect(detectAnomalies(base({ current: { at: T0, location: { geohash: 'u33dc' } }, history }))).toEqual([]);
    expect(detectAnomalies(base({ current: { at: T0, location: { geohash: 'r3gx2' } }, history }))).toEqual(['impossible-travel']);
  });

  it('the speed is configurable', () => {
    const history: VerificationEvent[] = [{ at: T0, location: { geohash: 'u33db' } }];
    // Berlin -> Munich (u281z), about 500 km, in 1 hour.
    const current: VerificationEvent = { at: T0 + H, location: { geohash: 'u281z' } };
    expect(detectAnomalies(base({ current, history }))).toEqual([]);
    expect(detectAnomalies(base({ current, history }), { ...DEFAULT_ANOMALY_RULES, maxSpeedKmh: 300 })).toEqual(['impossible-travel']);
  });

  it('scans after consumed or destroyed', () => {
    expect(detectAnomalies(base({ status: 'consumed' }))).toEqual(['scan-after-consumed']);
    expect(detectAnomalies(base({ status: 'destroyed' }))).toEqual(['scan-after-destroyed']);
    expect(detectAnomalies(base({ status: 'recalled' }))).toEqual([]);
  });

  it('a counter that does not rise, against history or the stored high-water mark', () => {
    expect(detectAnomalies(base({ current: { at: T0, counter: 5 }, history: [{ at: T0 - H, counter: 5 }] }))).toEqual(['counter-not-rising']);
    expect(detectAnomalies(base({ current: { at: T0, counter: 6 }, history: [{ at: T0 - H, counter: 5 }] }))).toEqual([]);
    expect(detectAnomalies(base({ current: { at: T0, counter: 6 }, highestCounter: 9 }))).toEqual(['counter-not-rising']);
    expect(detectAnomalies(base({ current: { at: T0, counter: 0 } }))).toEqual([]);
  });

  it('more verifications in a day than the class allows', () => {
    const history = [{ at: T0 - 3 * H }, { at: T0 - 2 * H }, { at: T0 - 25 * H }];
    expect(detectAnomalies(base({ history, maxVerificationsPerDay: 3 }))).toEqual([]);
    expect(detectAnomalies(base({ history, maxVerificationsPerDay: 2 }))).toEqual(['verification-rate-exceeded']);
    expect(detectAnomalies(base({ history }))).toEqual([]);
  });

  it('one IMEI proven with two device keys', () => {
    const imeiHistory = [{ at: T0 - H, keyTag: 'k1' }];
    expect(detectAnomalies(base({ current: { at: T0, keyTag: 'k1' }, imeiHistory }))).toEqual([]);
    expect(detectAnomalies(base({ current: { at: T0, keyTag: 'k2' }, imeiHistory }))).toEqual(['imei-key-conflict']);
    expect(detectAnomalies(base({ current: { at: T0 + 31 * 24 * H, keyTag: 'k2' }, imeiHistory }))).toEqual([]);
    expect(detectAnomalies(base({ current: { at: T0 }, imeiHistory }))).toEqual([]);
  });

  it('several rules at once, in a fixed order', () => {
    const r = detectAnomalies(
      base({
        status: 'destroyed',
        current: { at: T0, location: { country: 'AU' }, counter: 1, keyTag: 'b' },
        history: [{ at: T0 - H, location: { country: 'DE' }, counter: 2 }],
        imeiHistory: [{ at: T0 - H, keyTag: 'a' }],
        maxVerificationsPerDay: 1,
      }),
    );
    expect(r).toEqual(['impossible-travel', 'scan-after-destroyed', 'counter-not-rising', 'verification-rate-exceeded', 'imei-key-conflict']);
  });
});
