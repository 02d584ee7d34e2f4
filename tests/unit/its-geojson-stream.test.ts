import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FeatureCollectionScanner, readFeatures, type FeatureItem } from '../../src/cli/geojson-features.js';
import { CairnError } from '../../src/errors.js';

/*
 * The streaming reader of `cairn its import` against JSON.parse of the whole document: the same
 * features for any split of the text into chunks, and a refusal exactly when JSON.parse refuses
 * (or the document is no FeatureCollection).
 */

function scan(text: string, cuts: readonly number[]): FeatureItem[] {
  const scanner = new FeatureCollectionScanner('test.geojson');
  const out: FeatureItem[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...scanner.push(text.slice(from, cut)));
    from = Math.max(from, cut);
  }
  out.push(...scanner.push(text.slice(from)));
  scanner.end();
  return out;
}

function refusal(text: string): string | undefined {
  try {
    scan(text, []);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(CairnError);
    return `${(e as CairnError).code}: ${(e as Error).message}`;
  }
}

const feature = fc.record({
  type: fc.constant('Feature'),
  geometry: fc.record({ type: fc.constant('Point'), coordinates: fc.tuple(fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: -90, max: 90, noNaN: true })) }),
  properties: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }))),
});
const collection = fc.record(
  { type: fc.constant('FeatureCollection'), features: fc.array(feature, { maxLength: 8 }), name: fc.string({ maxLength: 8 }), bbox: fc.array(fc.integer(), { maxLength: 4 }) },
  { requiredKeys: ['type', 'features'] },
);
const indent = fc.constantFrom(undefined, 0, 1, 2, '\t');

describe('FeatureCollectionScanner', () => {
  it('gives the features JSON.parse gives, whatever the chunks', () => {
    fc.assert(
      fc.property(collection, indent, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (doc, space, bom, cuts) => {
        const text = `${bom ? '\uFEFF' : ''}${JSON.stringify(doc, null, space)}\n`;
        const items = scan(text, cuts.map((c) => c % (text.length + 1)));
        // JSON.parse of the whole, not `doc`: JSON has no -0.
        expect(items.map((f) => f.value)).toEqual((JSON.parse(text.replace(/^\uFEFF/, '')) as typeof doc).features);
        expect(items).toHaveLength(doc.features.length);
        expect(items.map((f) => f.index)).toEqual(doc.features.map((_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('names the line each feature starts on', () => {
    const text = '{"type": "FeatureCollection",\n "features": [\n\n  {"type": "Feature"},\n  {"type":\n"Feature"}, {"type": "Feature"}\n]}';
    expect(scan(text, [3, 40]).map((f) => f.line)).toEqual([4, 5, 6]);
  });

  it('refuses exactly what JSON.parse refuses, after any one character is cut out or doubled', () => {
    fc.assert(
      fc.property(collection, indent, fc.nat(), fc.boolean(), (doc, space, at, doubled) => {
        const whole = JSON.stringify(doc, null, space);
        const i = at % whole.length;
        const text = doubled ? whole.slice(0, i + 1) + whole.slice(i) : whole.slice(0, i) + whole.slice(i + 1);
        let parsed: unknown;
        let valid = true;
        try {
          parsed = JSON.parse(text);
        } catch {
          valid = false;
        }
        const p = parsed as { type?: unknown; features?: unknown } | null;
        const isCollection = valid && typeof p === 'object' && p !== null && !Array.isArray(p) && p.type === 'FeatureCollection' && Array.isArray(p.features);
        const refused = refusal(text);
        if (!valid) expect(refused).toMatch(/^ERR_IMPORT_LINE_INVALID: test\.geojson is not GeoJSON: not JSON \(line \d+\)$/);
        else if (!isCollection) expect(refused).toMatch(/^ERR_IMPORT_LINE_INVALID: .*not a GeoJSON FeatureCollection/);
        else expect(scan(text, [i]).map((f) => f.value)).toEqual(p!.features);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['', /not JSON \(line 1\)/],
    ['[]', /not JSON/],
    ['{"type": "FeatureCollection", "features": [1,]}', /not JSON/],
    ['{"type": "FeatureCollection", "features": [}', /not JSON/],
    ['{"type": "FeatureCollection", "features": []} x', /not JSON/],
    ['{"type": "FeatureCollection"}', /not a GeoJSON FeatureCollection/],
    ['{"type": "Feature", "features": []}', /not a GeoJSON FeatureCollection/],
    ['{"type": "FeatureCollection", "features": "x"}', /not a GeoJSON FeatureCollection/],
    ['{"type": "FeatureCollection", "features": [\n{"type": "Feature",,}\n]}', /not JSON \(line 2\)/],
  ])('refuses %j', (text, message) => {
    expect(refusal(text)).toMatch(message);
  });
});

describe('readFeatures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-geojson-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('streams a file larger than one read chunk, one feature at a time', async () => {
    const features = Array.from({ length: 3000 }, (_, i) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [13 + i / 1e4, 52] }, properties: { '@id': i + 1, traffic_sign: 'DE:206', note: 'ü'.repeat(i % 50) } }));
    const path = join(dir, 'big.geojson');
    const text = `{"type": "FeatureCollection", "features": [\n${features.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 64 * 1024);
    writeFileSync(path, text);
    let n = 0;
    for await (const item of readFeatures(path)) {
      expect(item.value).toEqual(features[n]);
      expect(item.line).toBe(n + 2);
      n++;
    }
    expect(n).toBe(features.length);
  });
});
