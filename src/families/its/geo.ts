/**
 * Geometry for the ITS sign registry: geohash cells for the spatial index, great-circle distance
 * and bearing on a spherical Earth, and the cell cover of a query area.
 *
 * Geohash (G. Niemeyer's public-domain scheme): longitude and latitude are bisected alternately,
 * longitude first, and every 5 bits become one character of `0123456789bcdefghjkmnpqrstuvwxyz`.
 * A cell at precision p is the prefix of every cell inside it at a finer precision, and the
 * alphabet is in ASCII order, so the cells of an area at any precision are key ranges over keys
 * written at the finest one. Here a point's cell is computed as `floor(x * 2^bits)` of its
 * normalised longitude or latitude; scaling by a power of two is exact in floating point, so the
 * cell at a coarse precision is exactly the prefix of the cell at a fine one, and a point inside
 * a box always falls in a cell between the cells of the box's corners.
 */

export const EARTH_RADIUS_M = 6_371_008.8;
/** Precision of the cells written to the index: about 4.8 m x 4.8 m. */
export const INDEX_PRECISION = 9;
/** A query area is covered with at most this many cells (the finest precision that stays within). */
export const MAX_COVER_CELLS = 32;

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';
const RAD = Math.PI / 180;

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

/** A box in degrees, `minLon <= maxLon` (never across the antimeridian: split it in two). */
export interface Box {
  readonly minLon: number;
  readonly minLat: number;
  readonly maxLon: number;
  readonly maxLat: number;
}

const lonBits = (p: number): number => Math.ceil((5 * p) / 2);
const latBits = (p: number): number => Math.floor((5 * p) / 2);

function cellIndex(x: number, bits: number): number {
  const n = 2 ** bits;
  return Math.min(n - 1, Math.max(0, Math.floor(x * n)));
}

const lonIndex = (lon: number, p: number): number => cellIndex((lon + 180) / 360, lonBits(p));
const latIndex = (lat: number, p: number): number => cellIndex((lat + 90) / 180, latBits(p));

/** The cell number (5p bits, longitude bits first) of column i and row j at precision p. */
function interleave(i: number, j: number, p: number): number {
  const lb = lonBits(p);
  const tb = latBits(p);
  let code = 0;
  let li = lb;
  let ti = tb;
  for (let k = 0; k < 5 * p; k++) {
    let bit: number;
    if (k % 2 === 0) bit = Math.floor(i / 2 ** --li) % 2;
    else bit = Math.floor(j / 2 ** --ti) % 2;
    code = code * 2 + bit;
  }
  return code;
}

function cellText(code: number, p: number): string {
  let out = '';
  let n = code;
  for (let k = 0; k < p; k++) {
    out = BASE32[n % 32]! + out;
    n = Math.floor(n / 32);
  }
  return out;
}

/** Geohash of a point at precision p (1-9). */
export function geohash(point: LatLon, p = INDEX_PRECISION): string {
  return cellText(interleave(lonIndex(point.lon, p), latIndex(point.lat, p), p), p);
}

/** The box of a geohash cell (the inverse of `geohash` at the hash's precision); undefined for text that is no geohash. */
export function cellBox(hash: string): Box | undefined {
  const p = hash.length;
  let code = 0;
  for (let k = 0; k < p; k++) {
    const v = BASE32.indexOf(hash[k]!);
    if (v < 0) return undefined;
    code = code * 32 + v;
  }
  // Undo the interleaving: bit k (from the top) is longitude when k is even.
  let i = 0;
  let j = 0;
  for (let k = 5 * p - 1, bit = 0; k >= 0; k--, bit++) {
    const b = Math.floor(code / 2 ** k) % 2;
    if (bit % 2 === 0) i = i * 2 + b;
    else j = j * 2 + b;
  }
  const w = 360 / 2 ** lonBits(p);
  const h = 180 / 2 ** latBits(p);
  return { minLon: -180 + i * w, maxLon: -180 + (i + 1) * w, minLat: -90 + j * h, maxLat: -90 + (j + 1) * h };
}

/** Whether some point of the box may lie within `radiusM` of `center` (never false when one does). */
export function boxNear(box: Box, center: LatLon, radiusM: number): boolean {
  const lat = Math.min(Math.max(center.lat, box.minLat), box.maxLat);
  const lon = Math.min(Math.max(center.lon, box.minLon), box.maxLon);
  // The box's point nearest in degrees is not always the nearest on the sphere: allow twice the
  // box's diagonal (metres for an index cell), which any point of the box is within.
  const diagonal = distanceM({ lat: box.minLat, lon: box.minLon }, { lat: box.maxLat, lon: box.maxLon });
  return distanceM(center, { lat, lon }) <= radiusM + 2 * diagonal;
}

/** Consecutive cells `from`..`to` (inclusive, same precision): one key range. */
export interface CellRange {
  readonly from: string;
  readonly to: string;
}

export interface Cover {
  readonly precision: number;
  readonly cells: number;
  readonly ranges: readonly CellRange[];
}

function cellCount(boxes: readonly Box[], p: number): number {
  let n = 0;
  for (const b of boxes) n += (lonIndex(b.maxLon, p) - lonIndex(b.minLon, p) + 1) * (latIndex(b.maxLat, p) - latIndex(b.minLat, p) + 1);
  return n;
}

/**
 * The cells covering the boxes at the finest precision (up to INDEX_PRECISION) that needs at
 * most `maxCells` of them, merged into runs of consecutive cells.
 */
export function coverBoxes(boxes: readonly Box[], maxCells = MAX_COVER_CELLS): Cover {
  let p = INDEX_PRECISION;
  while (p > 1 && cellCount(boxes, p) > maxCells) p--;
  const codes = new Set<number>();
  for (const b of boxes) {
    for (let i = lonIndex(b.minLon, p); i <= lonIndex(b.maxLon, p); i++) {
      for (let j = latIndex(b.minLat, p); j <= latIndex(b.maxLat, p); j++) codes.add(interleave(i, j, p));
    }
  }
  const sorted = [...codes].sort((a, b) => a - b);
  const ranges: CellRange[] = [];
  let start = sorted[0];
  for (let k = 0; k < sorted.length; k++) {
    const code = sorted[k]!;
    const next = sorted[k + 1];
    if (next !== code + 1) {
      ranges.push({ from: cellText(start!, p), to: cellText(code, p) });
      start = next;
    }
  }
  return { precision: p, cells: sorted.length, ranges };
}

/** Great-circle distance in metres (haversine, spherical Earth of mean radius). */
export function distanceM(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial great-circle bearing from `a` to `b`, degrees clockwise from north in [0, 360). */
export function bearingDeg(a: LatLon, b: LatLon): number {
  const f1 = a.lat * RAD;
  const f2 = b.lat * RAD;
  const dl = (b.lon - a.lon) * RAD;
  const y = Math.sin(dl) * Math.cos(f2);
  const x = Math.cos(f1) * Math.sin(f2) - Math.sin(f1) * Math.cos(f2) * Math.cos(dl);
  return normaliseDeg(Math.atan2(y, x) / RAD);
}

export function normaliseDeg(deg: number): number {
  const d = deg % 360;
  return d < 0 ? d + 360 : d;
}

/** Smallest difference between two directions, in [0, 180]. */
export function angleDiffDeg(a: number, b: number): number {
  const d = Math.abs(normaliseDeg(a) - normaliseDeg(b));
  return d > 180 ? 360 - d : d;
}

/** Margin added around computed boxes so that rounding never leaves a point on the edge outside. */
const MARGIN_DEG = 1e-7;

/**
 * Boxes that together contain every point within `radiusM` of `center` (the spherical cap's
 * bounding box, split at the antimeridian; the full longitude range when the cap holds a pole).
 */
export function circleBoxes(center: LatLon, radiusM: number): Box[] {
  const d = radiusM / EARTH_RADIUS_M;
  const lat = center.lat * RAD;
  const minLat = (lat - d) / RAD - MARGIN_DEG;
  const maxLat = (lat + d) / RAD + MARGIN_DEG;
  if (maxLat >= 90 || minLat <= -90) {
    return [{ minLon: -180, maxLon: 180, minLat: Math.max(-90, minLat), maxLat: Math.min(90, maxLat) }];
  }
  const dLon = Math.asin(Math.min(1, Math.sin(d) / Math.cos(lat))) / RAD + MARGIN_DEG;
  const minLon = center.lon - dLon;
  const maxLon = center.lon + dLon;
  if (minLon < -180) return [{ minLon: minLon + 360, maxLon: 180, minLat, maxLat }, { minLon: -180, maxLon, minLat, maxLat }];
  if (maxLon > 180) return [{ minLon, maxLon: 180, minLat, maxLat }, { minLon: -180, maxLon: maxLon - 360, minLat, maxLat }];
  return [{ minLon, maxLon, minLat, maxLat }];
}

export function inBox(p: LatLon, b: Box): boolean {
  return p.lon >= b.minLon && p.lon <= b.maxLon && p.lat >= b.minLat && p.lat <= b.maxLat;
}
