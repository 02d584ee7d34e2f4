import deData from '../../../registries/its/de-stvo.json' with { type: 'json' };
import gddData from '../../../registries/its/iso14823-structure.json' with { type: 'json' };
import itisData from '../../../registries/its/itis-range.json' with { type: 'json' };
import nlData from '../../../registries/its/nl-rvv.json' with { type: 'json' };
import usData from '../../../registries/its/us-mutcd.json' with { type: 'json' };
import vcData from '../../../registries/its/vienna-convention.json' with { type: 'json' };
import { ItsCodeUnknown } from '../../errors.js';
import type { ItsSignType } from '../../ids/its-sign.js';

/**
 * Sign-code catalogues for ITS sign identifiers (issue 5), read from `registries/its/` (each file
 * states its source and edition; registries/its/README.md lists them):
 *
 * - `vc`: Vienna Convention Annex 1 signs, A-H, with the ISO TS 19321 VcClass integer.
 * - `nat`: hand-built subsets of national catalogues (German StVO, US MUTCD, Dutch RVV 1990).
 * - `gdd`: ISO 14823 structure only; every nature 1-9 / serial 0-99 inside the six service
 *   categories is in the catalogue, with a generic name.
 * - `itis`: range only (0-65535); the SAE J2540-2 table could not be sourced.
 * - `any`: no catalogue; always passes.
 *
 * A bracketed value is checked against the row's `takesValue`: refused when the row takes no
 * value or the value is outside `min`..`max`. Range-only catalogues (gdd, itis) do not know
 * which of their codes take values, so they accept any value the identifier grammar allows.
 */
export interface CatalogueEntry {
  readonly scheme: 'vc' | 'gdd' | 'itis' | 'nat';
  /** Canonical code as its-sign.ts formats it (e.g. 'C14', 'DE-274', '12-5-57', '1234'). */
  readonly code: string;
  /** English name. */
  readonly name: string;
  /** Name in the catalogue's language, where it has one. */
  readonly localName?: string;
  /** The sign carries a value (a speed limit in km/h, a mass in t), whole numbers only. */
  readonly takesValue?: { readonly unit: string; readonly min?: number; readonly max?: number };
  /** Vienna Convention class A-H, where known. */
  readonly viennaClass?: string;
  /** The IVI (ISO TS 19321) integer, where one is defined: VcClass for vc, the ENUMERATED service category for gdd, the code for itis. */
  readonly iviCode?: number;
  /** Which file and edition the entry comes from. */
  readonly source: string;
}

type CatalogueScheme = CatalogueEntry['scheme'];

interface RowJson {
  readonly code: string;
  readonly name: string;
  readonly localName?: string;
  readonly takesValue?: { readonly unit: string; readonly min?: number; readonly max?: number };
  readonly viennaClass?: string;
  readonly source?: string;
}

interface TableJson {
  readonly edition: string;
  readonly entries: readonly RowJson[];
}

const REGISTRY_DIR = 'registries/its/';

function sourceOf(file: string, table: { readonly edition: string }): string {
  return `${REGISTRY_DIR}${file} (${table.edition})`;
}

function toEntry(scheme: CatalogueScheme, row: RowJson, source: string, extra: Partial<CatalogueEntry> = {}): CatalogueEntry {
  return Object.freeze({
    scheme,
    code: row.code,
    name: row.name,
    ...(row.localName === undefined ? {} : { localName: row.localName }),
    ...(row.takesValue === undefined ? {} : { takesValue: Object.freeze({ ...row.takesValue }) }),
    ...(row.viennaClass === undefined ? {} : { viennaClass: row.viennaClass }),
    ...extra,
    source: row.source === undefined ? source : `${row.source} (${source})`,
  });
}

// ---- vc ---------------------------------------------------------------------------------------

const VC_CLASS_IVI = new Map<string, number>(vcData.classes.map((c) => [c.class, c.iviCode]));
const VC_SOURCE = sourceOf('vienna-convention.json', vcData);
const VC_ENTRIES: readonly CatalogueEntry[] = Object.freeze(
  (vcData as TableJson).entries.map((row) => {
    const viennaClass = row.code[0]!;
    const iviCode = VC_CLASS_IVI.get(viennaClass);
    return toEntry('vc', row, VC_SOURCE, { viennaClass, ...(iviCode === undefined ? {} : { iviCode }) });
  }),
);

// ---- nat --------------------------------------------------------------------------------------

const NAT_TABLES: readonly { readonly file: string; readonly table: TableJson & { readonly country: string } }[] = [
  { file: 'de-stvo.json', table: deData },
  { file: 'us-mutcd.json', table: usData },
  { file: 'nl-rvv.json', table: nlData },
];

const NAT_BY_COUNTRY = new Map<string, readonly CatalogueEntry[]>(
  NAT_TABLES.map(({ file, table }) => {
    const source = sourceOf(file, table);
    return [table.country, Object.freeze(table.entries.map((row) => toEntry('nat', row, source)))];
  }),
);
const NAT_ENTRIES: readonly CatalogueEntry[] = Object.freeze([...NAT_BY_COUNTRY.values()].flat());

const BY_KEY = new Map<string, CatalogueEntry>();
for (const entry of [...VC_ENTRIES, ...NAT_ENTRIES]) {
  const key = `${entry.scheme}:${entry.code}`;
  // A duplicate is a data error; the test suite reports it, start-up keeps the first row.
  if (!BY_KEY.has(key)) BY_KEY.set(key, entry);
}

// ---- gdd and itis (ranges) --------------------------------------------------------------------

interface GddCategoryJson {
  readonly category: number;
  readonly name: string;
  readonly iviChoice: string;
  readonly iviCode: number;
}

const GDD_SOURCE = sourceOf('iso14823-structure.json', gddData);
const GDD_CATEGORY = new Map<number, GddCategoryJson>(gddData.categories.map((c) => [c.category, c]));
const [GDD_NATURE_MIN, GDD_NATURE_MAX] = gddData.natureRange as [number, number];
const [GDD_SERIAL_MIN, GDD_SERIAL_MAX] = gddData.serialRange as [number, number];

const ITIS_SOURCE = sourceOf('itis-range.json', itisData);
const [ITIS_MIN, ITIS_MAX] = itisData.range as [number, number];

function inRange(n: unknown, min: number, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
}

function gddEntry(category: unknown, nature: unknown, serial: unknown): CatalogueEntry | undefined {
  const cat = typeof category === 'number' ? GDD_CATEGORY.get(category) : undefined;
  if (cat === undefined || !inRange(nature, GDD_NATURE_MIN, GDD_NATURE_MAX) || !inRange(serial, GDD_SERIAL_MIN, GDD_SERIAL_MAX)) return undefined;
  return Object.freeze({
    scheme: 'gdd',
    code: `${cat.category}-${nature}-${serial}`,
    name: `ISO 14823 ${cat.name} ${nature}-${serial}`,
    iviCode: cat.iviCode,
    source: GDD_SOURCE,
  });
}

function itisEntry(code: unknown): CatalogueEntry | undefined {
  if (!inRange(code, ITIS_MIN, ITIS_MAX)) return undefined;
  return Object.freeze({ scheme: 'itis', code: String(code), name: `ITIS code ${code}`, iviCode: code, source: ITIS_SOURCE });
}

// ---- API --------------------------------------------------------------------------------------

/** The entry for a sign type's code, or undefined if the code is not in its catalogue ('any' never is). */
export function findCatalogueEntry(type: ItsSignType): CatalogueEntry | undefined {
  switch (type.scheme) {
    case 'vc':
      return BY_KEY.get(`vc:${type.signClass}${type.number}${type.option ?? ''}`);
    case 'nat':
      return BY_KEY.get(`nat:${type.country}-${type.code}`);
    case 'gdd':
      return gddEntry(type.category, type.nature, type.serial);
    case 'itis':
      return itisEntry(type.code);
    default:
      return undefined;
  }
}

function describe(type: ItsSignType): string {
  switch (type.scheme) {
    case 'vc':
      return `vc.${type.signClass}${type.number}${type.option ?? ''}`;
    case 'gdd':
      return `gdd.${type.category}-${type.nature}-${type.serial}`;
    case 'itis':
      return `itis.${type.code}`;
    case 'nat':
      return `nat.${type.country}-${type.code}`;
    case 'any':
      return `any.${type.code}`;
  }
}

/**
 * Throws ERR_ITS_CODE_UNKNOWN unless the code is in its catalogue; scheme 'any' always passes.
 * Also checks a bracketed value against takesValue (ERR_ITS_CODE_UNKNOWN with details.field 'value').
 */
export function checkCatalogue(type: ItsSignType): void {
  if (type.scheme === 'any') return;
  const text = describe(type);
  const entry = findCatalogueEntry(type);
  if (entry === undefined) {
    const why =
      type.scheme === 'nat' && !NAT_BY_COUNTRY.has(type.country)
        ? `there is no nat catalogue for ${type.country} (only ${[...NAT_BY_COUNTRY.keys()].join(', ')}; use any.<code>)`
        : `it is not in the ${type.scheme} catalogue`;
    throw new ItsCodeUnknown(`${text}: ${why}`, { field: 'code', scheme: type.scheme, code: text });
  }
  if (type.value === undefined || entry.scheme === 'gdd' || entry.scheme === 'itis') return;
  const takes = entry.takesValue;
  if (takes === undefined) {
    throw new ItsCodeUnknown(`${text} (${entry.name}) takes no value, got [${type.value}]`, { field: 'value', scheme: type.scheme, code: text, value: type.value });
  }
  const { min, max } = takes;
  if ((min !== undefined && type.value < min) || (max !== undefined && type.value > max)) {
    throw new ItsCodeUnknown(`${text} (${entry.name}): value ${type.value} ${takes.unit} is outside ${min ?? 0}..${max ?? 65535}`, {
      field: 'value',
      scheme: type.scheme,
      code: text,
      value: type.value,
      unit: takes.unit,
      ...(min === undefined ? {} : { min }),
      ...(max === undefined ? {} : { max }),
    });
  }
}

/**
 * The rows of a catalogue: `vc` (the Convention, `country` ignored) or `nat` (all national
 * catalogues, or one country's, e.g. `catalogueEntries('nat', 'DE')`). `gdd` and `itis` are
 * ranges, not tables, so they list no rows (use findCatalogueEntry); so does any other scheme.
 */
export function catalogueEntries(scheme: string, country?: string): readonly CatalogueEntry[] {
  switch (scheme.toLowerCase()) {
    case 'vc':
      return VC_ENTRIES;
    case 'nat':
      return country === undefined ? NAT_ENTRIES : (NAT_BY_COUNTRY.get(country.toUpperCase()) ?? []);
    default:
      return [];
  }
}

/** Countries with a `nat` catalogue, in file order (DE, US, NL). */
export function natCatalogueCountries(): readonly string[] {
  return [...NAT_BY_COUNTRY.keys()];
}
