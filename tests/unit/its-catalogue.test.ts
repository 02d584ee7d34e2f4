import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CairnError, ItsCodeUnknown } from '../../src/errors.js';
import {
  catalogueEntries,
  checkCatalogue,
  findCatalogueEntry,
  natCatalogueCountries,
  type CatalogueEntry,
} from '../../src/families/its/catalogue.js';
import { formatItsSignType, GDD_CATEGORIES, parseItsSignType, VC_CLASSES, type ItsSignType } from '../../src/ids/its-sign.js';

/**
 * The sign-code catalogues behind ERR_ITS_CODE_UNKNOWN (issue 5). Types are written in their text
 * form and parsed with its-sign.ts, so every row here is also a valid identifier type part.
 * Errors are matched by `code` and `details.field`, never by message.
 */

const REGISTRY = fileURLToPath(new URL('../../registries/its/', import.meta.url));

function thrown(fn: () => unknown): CairnError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CairnError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

function check(text: string): void {
  checkCatalogue(parseItsSignType(text));
}

describe('codes in their catalogue pass', () => {
  it.each([
    ['vc.C14', 'C14', 'C', 2],
    ['vc.C14[50]', 'C14', 'C', 2],
    ['vc.A1A', 'A1A', 'A', 0],
    ['vc.a1a', 'A1A', 'A', 0],
    ['vc.B2a', 'B2A', 'B', 1],
    ['vc.B1', 'B1', 'B', 1],
    ['vc.D4', 'D4', 'D', 3],
    ['vc.E5A', 'E5A', 'E', 4],
    ['vc.F4', 'F4', 'F', 5],
    ['vc.G13', 'G13', 'G', 6],
    ['vc.H9', 'H9', 'H', 7],
    ['vc.A32', 'A32', 'A', 0],
  ])('%s is Vienna %s, class %s, IVI VcClass %i', (text, code, viennaClass, iviCode) => {
    check(text);
    expect(findCatalogueEntry(parseItsSignType(text))).toMatchObject({ scheme: 'vc', code, viennaClass, iviCode });
  });

  it.each([
    ['nat.DE-274[60]', 'DE-274', 'Zulässige Höchstgeschwindigkeit'],
    ['nat.DE-274', 'DE-274', 'Zulässige Höchstgeschwindigkeit'],
    ['nat.de-101', 'DE-101', 'Gefahrstelle'],
    ['nat.DE-205', 'DE-205', 'Vorfahrt gewähren.'],
    ['nat.DE-206', 'DE-206', 'Halt. Vorfahrt gewähren.'],
    ['nat.DE-274.1[30]', 'DE-274.1', 'Beginn einer Tempo 30-Zone'],
    ['nat.DE-1020-30', 'DE-1020-30', 'Anlieger frei'],
    ['nat.DE-265[4]', 'DE-265', 'Tatsächliche Höhe'],
    ['nat.NL-A1[50]', 'NL-A1', 'Maximumsnelheid'],
    ['nat.NL-B6', 'NL-B6', 'Verleen voorrang aan bestuurders op de kruisende weg'],
    ['nat.NL-C2', 'NL-C2', 'Eenrichtingsweg, in deze richting gesloten voor voertuigen, ruiters en geleiders van rij- of trekdieren of vee'],
    ['nat.NL-G12a', 'NL-G12A', 'Verplicht fiets/bromfietspad'],
    ['nat.NL-C23-01', 'NL-C23-01', 'Spitsstrook open'],
  ])('%s is %s (%s)', (text, code, localName) => {
    check(text);
    expect(findCatalogueEntry(parseItsSignType(text))).toMatchObject({ scheme: 'nat', code, localName });
  });

  it.each([
    ['nat.US-R1-1', 'US-R1-1', 'Stop'],
    ['nat.US-R1-2', 'US-R1-2', 'Yield'],
    ['nat.US-R2-1[55]', 'US-R2-1', 'Speed Limit'],
    ['nat.US-W3-1', 'US-W3-1', 'Stop Ahead'],
    ['nat.US-W13-1P[35]', 'US-W13-1P', 'Advisory Speed (plaque)'],
    ['nat.us-r5-1a', 'US-R5-1A', 'Wrong Way'],
  ])('%s is MUTCD %s (%s)', (text, code, name) => {
    check(text);
    expect(findCatalogueEntry(parseItsSignType(text))).toMatchObject({ scheme: 'nat', code, name });
  });

  it.each([
    ['gdd.11-1-57', '11-1-57', 'ISO 14823 danger warning 1-57', 0],
    ['gdd.12-5-57', '12-5-57', 'ISO 14823 regulatory 5-57', 1],
    ['gdd.13-9-99', '13-9-99', 'ISO 14823 informative 9-99', 2],
    ['gdd.21-1-0', '21-1-0', 'ISO 14823 public facilities 1-0', 0],
    ['gdd.31-2-3', '31-2-3', 'ISO 14823 ambient condition 2-3', 0],
    ['gdd.32-4-10[7]', '32-4-10', 'ISO 14823 road condition 4-10', 1],
  ])('%s is in the ISO 14823 structure as %s', (text, code, name, iviCode) => {
    check(text);
    expect(findCatalogueEntry(parseItsSignType(text))).toMatchObject({ scheme: 'gdd', code, name, iviCode });
  });

  it.each(['itis.0', 'itis.1234', 'itis.65535', 'itis.268[3]'])('%s is in the ITIS range', (text) => {
    check(text);
    const entry = findCatalogueEntry(parseItsSignType(text))!;
    expect(entry.scheme).toBe('itis');
    expect(entry.iviCode).toBe(Number(entry.code));
  });

  it.each(['any.FOO', 'any.X1[99]', 'any.274.1', 'any.R99-9'])('%s passes: scheme any has no catalogue', (text) => {
    check(text);
    expect(findCatalogueEntry(parseItsSignType(text))).toBeUndefined();
  });

  it('canonical and lower-case spellings find the same row', () => {
    expect(findCatalogueEntry(parseItsSignType('nat.nl-g12a'))).toBe(findCatalogueEntry(parseItsSignType('nat.NL-G12A')));
    expect(findCatalogueEntry(parseItsSignType('vc.c14'))).toBe(findCatalogueEntry(parseItsSignType('vc.C14')));
  });
});

describe('codes outside their catalogue throw ERR_ITS_CODE_UNKNOWN', () => {
  it.each([
    'vc.A33', // the Convention's danger warning symbols stop at A, 32
    'vc.A1E', // bends have models a to d
    'vc.B7',
    'vc.C21',
    'vc.F16',
    'vc.H10',
    'vc.D12',
    'nat.DE-999',
    'nat.DE-274.3',
    'nat.DE-1020-31',
    'nat.US-R99-1',
    'nat.US-W3-99',
    'nat.NL-Z1',
    'nat.NL-A9',
    'nat.FR-B14', // a valid country with no catalogue
    'nat.GB-601.1',
  ])('%s', (text) => {
    const e = thrown(() => check(text));
    expect(e).toBeInstanceOf(ItsCodeUnknown);
    expect(e.code).toBe('ERR_ITS_CODE_UNKNOWN');
    expect(e.status).toBe(400);
    expect(e.handleCode).toBe(4);
    expect(e.details).toMatchObject({ field: 'code' });
    expect(findCatalogueEntry(parseItsSignType(text))).toBeUndefined();
  });

  it.each<[string, ItsSignType]>([
    ['gdd category 14', { scheme: 'gdd', category: 14 as 11, nature: 1, serial: 0 }],
    ['gdd nature 0', { scheme: 'gdd', category: 11, nature: 0, serial: 0 }],
    ['gdd nature 10', { scheme: 'gdd', category: 11, nature: 10, serial: 0 }],
    ['gdd serial 100', { scheme: 'gdd', category: 12, nature: 1, serial: 100 }],
    ['gdd serial 1.5', { scheme: 'gdd', category: 12, nature: 1, serial: 1.5 }],
    ['itis 65536', { scheme: 'itis', code: 65536 }],
    ['itis -1', { scheme: 'itis', code: -1 }],
  ])('%s, built in code past the parser, is refused', (_label, type) => {
    expect(findCatalogueEntry(type)).toBeUndefined();
    expect(thrown(() => checkCatalogue(type)).details).toMatchObject({ field: 'code' });
  });
});

describe('values are checked against takesValue', () => {
  it.each([
    ['nat.NL-A1[140]', 15, 130],
    ['nat.NL-A1[10]', 15, 130],
    ['nat.NL-A2[5]', 15, 130],
    ['nat.NL-A3[40]', 50, 130],
    ['nat.DE-274.1[50]', 1, 30],
    ['nat.DE-274.2[40]', 1, 30],
  ])('%s is outside %i..%i', (text, min, max) => {
    const e = thrown(() => check(text));
    expect(e.code).toBe('ERR_ITS_CODE_UNKNOWN');
    expect(e.details).toMatchObject({ field: 'value', min, max });
  });

  it.each(['nat.DE-274[0]', 'nat.US-R2-1[0]', 'vc.C14[0]', 'nat.DE-262[0]'])('%s: a zero limit is refused', (text) => {
    expect(thrown(() => check(text)).details).toMatchObject({ field: 'value', min: 1 });
  });

  it.each(['nat.DE-101[3]', 'nat.DE-206[1]', 'nat.US-R1-1[30]', 'nat.NL-C2[5]', 'vc.B1[1]', 'vc.A1A[2]'])('%s: the sign takes no value', (text) => {
    const e = thrown(() => check(text));
    expect(e.code).toBe('ERR_ITS_CODE_UNKNOWN');
    expect(e.details).toMatchObject({ field: 'value' });
    expect(e.details).not.toHaveProperty('min');
  });

  it.each(['nat.NL-A1[15]', 'nat.NL-A1[130]', 'nat.DE-274.1[30]', 'nat.DE-274[130]', 'nat.US-R2-1[85]', 'vc.C14[90]', 'vc.A2[12]'])(
    '%s is inside the bounds',
    (text) => check(text),
  );

  it('gdd and itis accept any value the grammar allows (the range catalogues know no units)', () => {
    check('gdd.12-5-57[65535]');
    check('itis.7186[0]');
  });
});

// ---- the files themselves ---------------------------------------------------------------------

interface CatalogueFile {
  readonly source?: unknown;
  readonly edition?: unknown;
  readonly country?: unknown;
  readonly entries?: readonly { readonly code: string }[];
}

const FILES = readdirSync(REGISTRY)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => [file, JSON.parse(readFileSync(join(REGISTRY, file), 'utf8')) as CatalogueFile] as const);

const NAT_FILES = FILES.filter(([, data]) => typeof data.country === 'string');

describe('catalogue files', () => {
  it('the expected files are there', () => {
    expect(FILES.map(([f]) => f)).toEqual(
      expect.arrayContaining(['de-stvo.json', 'iso14823-structure.json', 'itis-range.json', 'nl-rvv.json', 'us-mutcd.json', 'vienna-convention.json']),
    );
  });

  it.each(FILES)('%s states its source and edition', (_file, data) => {
    expect(typeof data.source).toBe('string');
    expect((data.source as string).length).toBeGreaterThan(40);
    expect(typeof data.edition).toBe('string');
    expect((data.edition as string).length).toBeGreaterThan(5);
  });

  it.each(FILES)('%s is listed in registries/its/README.md', (file) => {
    expect(readFileSync(join(REGISTRY, 'README.md'), 'utf8')).toContain(`\`${file}\``);
  });

  it.each(FILES.filter(([, d]) => d.entries !== undefined))('%s has no duplicate codes', (_file, data) => {
    const codes = data.entries!.map((e) => e.code);
    expect(codes.filter((c, i) => codes.indexOf(c) !== i)).toEqual([]);
  });

  it('no code appears in two files', () => {
    const all = FILES.flatMap(([, d]) => (d.entries ?? []).map((e) => e.code));
    expect(all.filter((c, i) => all.indexOf(c) !== i)).toEqual([]);
  });

  it.each(NAT_FILES)('%s has 50 to 150 rows, all of its own country', (_file, data) => {
    expect(data.entries!.length).toBeGreaterThanOrEqual(50);
    expect(data.entries!.length).toBeLessThanOrEqual(150);
    for (const { code } of data.entries!) expect(code.startsWith(`${data.country as string}-`)).toBe(true);
  });
});

describe('every row is a canonical code', () => {
  const rows: [string, CatalogueEntry][] = [...catalogueEntries('vc'), ...catalogueEntries('nat')].map((e) => [`${e.scheme}.${e.code}`, e]);

  it.each(rows)('%s parses with parseItsSignType and prints back unchanged', (text, entry) => {
    const type = parseItsSignType(text);
    expect(formatItsSignType(type)).toBe(text);
    expect(findCatalogueEntry(type)).toBe(entry);
    checkCatalogue(type);
  });

  it.each(rows)('%s has a name, a source and a sane takesValue', (_text, entry) => {
    expect(entry.name.trim()).not.toBe('');
    expect(entry.source).toMatch(/^.*registries\/its\/[a-z0-9-]+\.json \(/);
    if (entry.takesValue !== undefined) {
      expect(entry.takesValue.unit).not.toBe('');
      const { min = 0, max = 65535 } = entry.takesValue;
      expect(Number.isInteger(min) && Number.isInteger(max) && min <= max && min >= 0 && max <= 65535).toBe(true);
    }
    if (entry.viennaClass !== undefined) expect(VC_CLASSES).toContain(entry.viennaClass);
  });

  it('vc rows carry the IVI VcClass integer of their class (classA(0) .. classH(7))', () => {
    for (const entry of catalogueEntries('vc')) {
      expect(entry.viennaClass).toBe(entry.code[0]);
      expect(entry.iviCode).toBe(VC_CLASSES.indexOf(entry.viennaClass as (typeof VC_CLASSES)[number]));
    }
  });

  it('vc covers all eight classes', () => {
    expect(new Set(catalogueEntries('vc').map((e) => e.viennaClass))).toEqual(new Set(VC_CLASSES));
  });
});

describe('catalogueEntries', () => {
  it('lists each national catalogue by country, case-insensitively', () => {
    expect(natCatalogueCountries()).toEqual(['DE', 'US', 'NL']);
    let total = 0;
    for (const cc of natCatalogueCountries()) {
      const rows = catalogueEntries('nat', cc.toLowerCase());
      expect(rows.length).toBeGreaterThanOrEqual(50);
      expect(rows.every((e) => e.scheme === 'nat' && e.code.startsWith(`${cc}-`))).toBe(true);
      total += rows.length;
    }
    expect(catalogueEntries('nat')).toHaveLength(total);
    expect(catalogueEntries('NAT', 'DE')).toBe(catalogueEntries('nat', 'DE'));
  });

  it('returns nothing for a country without a catalogue, for range schemes and for unknown schemes', () => {
    expect(catalogueEntries('nat', 'FR')).toEqual([]);
    expect(catalogueEntries('gdd')).toEqual([]);
    expect(catalogueEntries('itis')).toEqual([]);
    expect(catalogueEntries('any')).toEqual([]);
    expect(catalogueEntries('xyz')).toEqual([]);
  });

  it('ignores the country for vc', () => {
    expect(catalogueEntries('vc', 'DE')).toBe(catalogueEntries('vc'));
  });

  it('entries are frozen', () => {
    const entry = catalogueEntries('nat', 'DE')[0]!;
    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(catalogueEntries('vc'))).toBe(true);
  });
});

describe('range catalogues (property)', () => {
  it('every gdd code within the ranges is found and round-trips', () => {
    fc.assert(
      fc.property(fc.constantFrom(...GDD_CATEGORIES), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 99 }), (category, nature, serial) => {
        const text = `gdd.${category}-${nature}-${serial}`;
        const entry = findCatalogueEntry(parseItsSignType(text));
        expect(entry?.code).toBe(text.slice(4));
        checkCatalogue(parseItsSignType(text));
      }),
    );
  });

  it('every itis code 0..65535 is found', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (code) => {
        expect(findCatalogueEntry({ scheme: 'itis', code })?.code).toBe(String(code));
      }),
    );
  });

  it('any nat code of a country without a catalogue is refused by code, never by value', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z0-9]{1,6}$/), fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }), (code, value) => {
        const type: ItsSignType = { scheme: 'nat', country: 'FR', code, ...(value === undefined ? {} : { value }) };
        expect(thrown(() => checkCatalogue(type)).details).toMatchObject({ field: 'code' });
      }),
    );
  });
});
