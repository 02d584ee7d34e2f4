import { distanceM } from '../../its/geo.js';

/**
 * Coarse places for the impossible-travel rule. A verifier may say where it is as an ISO 3166-1
 * alpha-2 country code or as a geohash cell of at most 5 characters (about 4.9 km x 4.9 km); nothing
 * finer is accepted or kept. Each place is a centre and a radius that contains the whole area, so
 *
 *   lower bound of the distance between two places = max(0, centre distance - r1 - r2)
 *
 * and the rule flags only travel that is impossible however the two places are placed inside their
 * areas: a scan in Strasbourg and one in Kehl (other country, 3 km away) five minutes later is
 * fine, Berlin and Sydney an hour apart is not.
 *
 * Geohash cells: decoded to their box; the centre is the box centre, the radius the distance to a
 * corner.
 *
 * Countries: bounding boxes from Natural Earth's 1:110m admin-0 countries (public domain,
 * naturalearthdata.com, ne_110m_admin_0_countries; the boxes as extracted in the widely copied
 * "country_bounding_boxes" table, (min lon, min lat, max lon, max lat)). The centre is the box
 * centre and the radius the farthest of its corners and edge midpoints, plus 10 %: a generous
 * circle, so large countries (US with Alaska, France with French Guiana) rarely flag anything, which
 * is the safe side for a clone rule. Countries whose box crosses the antimeridian (RU, FJ) and codes
 * not in the table give no place, and the rule then says nothing.
 */
export interface Place {
  readonly lat: number;
  readonly lon: number;
  readonly radiusKm: number;
}

export interface CoarseLocation {
  readonly country?: string;
  readonly geohash?: string;
}

type Bbox = readonly [minLon: number, minLat: number, maxLon: number, maxLat: number];

/* Natural Earth 1:110m bounding boxes, rounded to 0.01 degree outward. */
const COUNTRY_BOXES: Readonly<Record<string, Bbox>> = {
  AE: [51.57, 22.49, 56.4, 26.06],
  AR: [-73.42, -55.25, -53.62, -21.83],
  AT: [9.47, 46.43, 16.98, 49.04],
  AU: [113.33, -43.64, 153.57, -10.66],
  BE: [2.51, 49.52, 6.16, 51.48],
  BG: [22.38, 41.23, 28.56, 44.24],
  BR: [-73.99, -33.77, -34.72, 5.25],
  CA: [-141.0, 41.67, -52.64, 83.24],
  CH: [6.02, 45.77, 10.45, 47.84],
  CL: [-75.65, -55.62, -66.95, -17.58],
  CN: [73.67, 18.19, 135.03, 53.46],
  CZ: [12.24, 48.55, 18.86, 51.12],
  DE: [5.98, 47.3, 15.02, 54.99],
  DK: [8.08, 54.8, 12.7, 57.74],
  EG: [24.7, 22.0, 36.87, 31.59],
  ES: [-9.4, 35.94, 3.04, 43.75],
  FI: [20.64, 59.84, 31.52, 70.17],
  FR: [-54.53, 2.05, 9.57, 51.15],
  GB: [-7.58, 49.95, 1.69, 58.64],
  GR: [20.15, 34.91, 26.61, 41.83],
  HU: [16.2, 45.75, 22.72, 48.63],
  IE: [-9.98, 51.66, -6.03, 55.14],
  IL: [34.26, 29.5, 35.84, 33.28],
  IN: [68.17, 7.96, 97.41, 35.5],
  IT: [6.74, 36.61, 18.49, 47.12],
  JP: [129.4, 31.02, 145.55, 45.56],
  KE: [33.89, -4.68, 41.86, 5.51],
  KR: [126.11, 34.39, 129.47, 38.62],
  LU: [5.67, 49.44, 6.25, 50.13],
  MX: [-117.13, 14.53, -86.81, 32.73],
  NG: [2.69, 4.24, 14.58, 13.87],
  NL: [3.31, 50.8, 7.1, 53.52],
  NO: [4.99, 58.07, 31.3, 80.66],
  NZ: [166.5, -46.65, 178.52, -34.45],
  PL: [14.07, 49.02, 24.03, 54.86],
  PT: [-9.53, 36.83, -6.38, 42.29],
  RO: [20.22, 43.68, 29.63, 48.23],
  SA: [34.63, 16.34, 55.67, 32.17],
  SE: [11.02, 55.36, 23.91, 69.11],
  TR: [26.04, 35.82, 44.8, 42.15],
  UA: [22.08, 44.36, 40.09, 52.34],
  US: [-171.8, 18.91, -66.96, 71.36],
  ZA: [16.34, -34.82, 32.84, -22.09],
};

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';
export const MAX_GEOHASH_LENGTH = 5;
export const GEOHASH = /^[0-9b-hjkmnp-z]{1,5}$/;
export const COUNTRY = /^[A-Z]{2}$/;

const km = (a: { lat: number; lon: number }, b: { lat: number; lon: number }): number => distanceM(a, b) / 1000;

function placeOfBox([minLon, minLat, maxLon, maxLat]: Bbox, margin: number): Place {
  const centre = { lat: (minLat + maxLat) / 2, lon: (minLon + maxLon) / 2 };
  const edges = [
    { lat: minLat, lon: minLon }, { lat: minLat, lon: maxLon }, { lat: maxLat, lon: minLon }, { lat: maxLat, lon: maxLon },
    { lat: minLat, lon: centre.lon }, { lat: maxLat, lon: centre.lon }, { lat: centre.lat, lon: minLon }, { lat: centre.lat, lon: maxLon },
  ];
  return { ...centre, radiusKm: Math.max(...edges.map((e) => km(centre, e))) * margin };
}

/** The box of a geohash cell (Niemeyer's scheme: bits alternate, longitude first). */
export function geohashBox(hash: string): Bbox | undefined {
  if (!GEOHASH.test(hash)) return undefined;
  let minLon = -180, maxLon = 180, minLat = -90, maxLat = 90;
  let even = true;
  for (const ch of hash) {
    const v = BASE32.indexOf(ch);
    for (let bit = 4; bit >= 0; bit--) {
      const on = ((v >> bit) & 1) === 1;
      if (even) {
        const mid = (minLon + maxLon) / 2;
        if (on) minLon = mid; else maxLon = mid;
      } else {
        const mid = (minLat + maxLat) / 2;
        if (on) minLat = mid; else maxLat = mid;
      }
      even = !even;
    }
  }
  return [minLon, minLat, maxLon, maxLat];
}

export function geohashPlace(hash: string): Place | undefined {
  const box = geohashBox(hash);
  return box && placeOfBox(box, 1);
}

export function countryPlace(code: string): Place | undefined {
  const box = COUNTRY_BOXES[code];
  return box && placeOfBox(box, 1.1);
}

/** The finer of the two a location carries: its geohash cell, else its country. */
export function placeOf(location: CoarseLocation | undefined): Place | undefined {
  if (!location) return undefined;
  if (location.geohash) return geohashPlace(location.geohash);
  if (location.country) return countryPlace(location.country);
  return undefined;
}

/** The least distance, in km, between any point of `a` and any point of `b`. */
export function minDistanceKm(a: Place, b: Place): number {
  return Math.max(0, km(a, b) - a.radiusKm - b.radiusKm);
}
