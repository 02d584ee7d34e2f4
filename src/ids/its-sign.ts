import countryData from '../../registries/its/iso3166-alpha2.json' with { type: 'json' };
import { ItsCheckMismatch, ItsIdInvalid } from '../errors.js';

/**
 * ITS road-sign and signal identifiers (issue 5):
 *
 *   its:<kind>:<CC>.<authority>[:<scheme>.<code>[<value>]]:<serial>~<check>
 *   its:sign:DE.417:nat.DE-274[60]:3K7QJ2~R
 *
 * Identity is kind + country + authority + serial. The type part (`nat.DE-274[60]`) is what the
 * writer asserts the sign shows; it is kept on the parsed value but is not part of the identity,
 * and the check character does not cover it (the registry compares it with the record).
 *
 * Spelling rules beyond the (the issue is silent on them; chosen to keep one spelling per
 * value, apart from letter case and the serial, which is read the way Crockford decodes):
 * - Input is case-insensitive, ASCII only (checked before case folding, so `ı` or `ſ` cannot fold
 *   into `I` or `S`). Output: kind and scheme lower case, everything else upper case, so a Vienna
 *   code the Convention writes `B2a` is `vc.B2A`.
 * - Decimal fields (authority, itis, value, the gdd parts, vc number) have no leading zeros.
 * - The serial is read as Crockford decodes: `I` and `L` are 1, `O` is 0, `U` and `-` are refused,
 *   leading zeros are allowed within the 10 characters (a fixed-width printed serial reads back).
 *   Output is the shortest form. The check character is not Crockford: its alphabet is 0-9 A-Z,
 *   so I, L, O and U there are values of their own, never aliases.
 * - `nat.<CC>-<code>`: CC is an assigned alpha-2 code (not necessarily the issuer's: a sign may
 *   carry a neighbour's catalogue code); `<code>` is 1-16 characters of A-Z and 0-9 in runs joined
 *   by single `-` or `.` (`274`, `274.1`, `1020-30`, `R1-1`, `C2`, `OB01`). `any.<code>` uses the
 *   same code grammar without the country. Whether a code is in its catalogue is the registry's
 *   check, not this parser's.
 * - The bracketed value is a whole number 0-65535 and may follow any scheme.
 */

export const ITS_KINDS = ['sign', 'plate', 'vms', 'sgnl', 'isct'] as const;
export type ItsKind = (typeof ITS_KINDS)[number];

export const ITS_SCHEMES = ['vc', 'gdd', 'itis', 'nat', 'any'] as const;
export type ItsScheme = (typeof ITS_SCHEMES)[number];

export const VC_CLASSES = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'] as const;
export type VcClass = (typeof VC_CLASSES)[number];
export const VC_OPTIONS = ['A', 'B', 'C', 'D', 'E', 'F', 'G'] as const;
export type VcOption = (typeof VC_OPTIONS)[number];

/** ISO 14823 service categories: traffic signs (danger 11, regulatory 12, informative 13), public facilities 21, ambient 31, road condition 32. */
export const GDD_CATEGORIES = [11, 12, 13, 21, 31, 32] as const;
export type GddCategory = (typeof GDD_CATEGORIES)[number];

export const MAX_AUTHORITY = 16383;
export const MAX_SERIAL = 2 ** 48 - 1;
export const MAX_SERIAL_CHARS = 10;
export const MAX_ITIS = 65535;
export const MAX_VALUE = 65535;
export const MAX_CATALOGUE_CODE_CHARS = 16;
/** Longer than any valid identifier; refused before any other work. */
export const MAX_TEXT_LENGTH = 128;

/** The asserted sign type: one scheme's code, plus an optional value (a speed limit, a weight). */
export type ItsSignCode =
  | { readonly scheme: 'vc'; readonly signClass: VcClass; readonly number: number; readonly option?: VcOption }
  | { readonly scheme: 'gdd'; readonly category: GddCategory; readonly nature: number; readonly serial: number }
  | { readonly scheme: 'itis'; readonly code: number }
  | { readonly scheme: 'nat'; readonly country: string; readonly code: string }
  | { readonly scheme: 'any'; readonly code: string };

export type ItsSignType = ItsSignCode & { readonly value?: number };

export interface ItsSignId {
  readonly kind: ItsKind;
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string;
  /** Issuer number (ISO 14816 IssuerIdentifier), 0..16383. */
  readonly authority: number;
  /** 0..2^48-1; a JS number is exact up to 2^53. */
  readonly serial: number;
  /** Asserted, not part of the identity. */
  readonly type?: ItsSignType;
}

const COUNTRIES: ReadonlySet<string> = new Set(countryData.codes.map((c) => c.alpha2));

export function isIso3166Alpha2(code: string): boolean {
  return COUNTRIES.has(code);
}

function invalid(field: string, message: string): ItsIdInvalid {
  return new ItsIdInvalid(message, { field });
}

// ---- Crockford base32 -------------------------------------------------------------------------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CROCKFORD_VALUE = new Map<string, number>([...CROCKFORD].map((c, i) => [c, i]));
CROCKFORD_VALUE.set('I', 1);
CROCKFORD_VALUE.set('L', 1);
CROCKFORD_VALUE.set('O', 0);

/** Shortest Crockford base32 of a serial (`0` for zero). */
export function formatItsSerial(serial: number): string {
  checkSerial(serial);
  let out = '';
  let n = serial;
  do {
    out = CROCKFORD[n % 32]! + out;
    n = Math.floor(n / 32);
  } while (n > 0);
  return out;
}

/** Reads a serial written in Crockford base32 (case-insensitive, I/L = 1, O = 0). */
export function parseItsSerial(text: string): number {
  if (text.length === 0 || text.length > MAX_SERIAL_CHARS) {
    throw invalid('serial', `Serial "${text}" has ${text.length} characters; 1 to ${MAX_SERIAL_CHARS}`);
  }
  // ASCII first: toUpperCase would fold `ı` into `I` (= 1) and `ſ` into `S`.
  if (!/^[0-9A-Za-z]+$/.test(text)) throw invalid('serial', `Serial "${text}" has characters other than 0-9 and A-Z`);
  let n = 0;
  for (const ch of text.toUpperCase()) {
    const v = CROCKFORD_VALUE.get(ch);
    if (v === undefined) throw invalid('serial', `Serial "${text}": "${ch}" is not a Crockford base32 character`);
    n = n * 32 + v; // at most 50 bits: exact in a double
  }
  if (n > MAX_SERIAL) throw invalid('serial', `Serial "${text}" exceeds 2^48-1`);
  return n;
}

function checkSerial(serial: number): void {
  if (!Number.isSafeInteger(serial) || serial < 0 || serial > MAX_SERIAL) {
    throw invalid('serial', `Serial ${serial} is not an integer in 0..2^48-1`);
  }
}

// ---- ISO/IEC 7064 MOD 37,36 -------------------------------------------------------------------

const CHECK_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * ISO/IEC 7064 hybrid MOD 37,36 check character of a string of 0-9 A-Z (values 0-35).
 * The running product P starts at M = 36; each character gives S = (P + a) mod M (0 read as M)
 * and P = 2S mod (M + 1); the check character c makes (P + c) mod M = 1.
 */
export function mod3736CheckCharacter(input: string): string {
  let p = 36;
  for (const ch of input) {
    const a = CHECK_ALPHABET.indexOf(ch);
    if (a < 0) throw new RangeError(`"${ch}" is not in 0-9 A-Z`);
    const s = (p + a) % 36 || 36;
    p = (s * 2) % 37;
  }
  return CHECK_ALPHABET[(37 - p) % 36]!;
}

/** The string the check character covers: `SIGN` `DE` `00417` `00003K7QJ2`. */
export function itsCheckInput(id: Pick<ItsSignId, 'kind' | 'country' | 'authority' | 'serial'>): string {
  return `${id.kind.toUpperCase()}${id.country}${String(id.authority).padStart(5, '0')}${formatItsSerial(id.serial).padStart(MAX_SERIAL_CHARS, '0')}`;
}

export function itsCheckCharacter(id: Pick<ItsSignId, 'kind' | 'country' | 'authority' | 'serial'>): string {
  return mod3736CheckCharacter(itsCheckInput(id));
}

// ---- fields -----------------------------------------------------------------------------------

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const CATALOGUE_CODE = /^[A-Z0-9]+([-.][A-Z0-9]+)*$/;

function parseDecimal(text: string, field: string, min: number, max: number): number {
  // Length bound first: a long digit run must not reach Number() as something huge.
  if (!DECIMAL.test(text) || text.length > String(max).length) {
    throw invalid(field, `${field} "${text}" is not a decimal number ${min}..${max} without leading zeros`);
  }
  const n = Number(text);
  if (n < min || n > max) throw invalid(field, `${field} ${n} is outside ${min}..${max}`);
  return n;
}

function checkInteger(n: unknown, field: string, min: number, max: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(field, `${field} ${String(n)} is not an integer in ${min}..${max}`);
  }
}

function checkCountry(cc: unknown, field = 'country'): void {
  if (typeof cc !== 'string' || !/^[A-Z]{2}$/.test(cc)) throw invalid(field, `${field} "${String(cc)}" is not two letters A-Z`);
  if (!COUNTRIES.has(cc)) throw invalid(field, `${field} "${cc}" is not an assigned ISO 3166-1 alpha-2 code`);
}

function checkCatalogueCode(code: unknown, field: string): void {
  if (typeof code !== 'string' || code.length > MAX_CATALOGUE_CODE_CHARS || !CATALOGUE_CODE.test(code)) {
    throw invalid(field, `${field} "${String(code)}" is not 1-${MAX_CATALOGUE_CODE_CHARS} characters of A-Z 0-9 joined by single "-" or "."`);
  }
}

function isOneOf<T extends string | number>(list: readonly T[], x: unknown): x is T {
  return (list as readonly unknown[]).includes(x);
}

// ---- the type part ----------------------------------------------------------------------------

/** Validates a sign type built in code and returns a copy with only the known fields. */
export function itsSignTypeFrom(type: ItsSignType): ItsSignType {
  const value = type.value === undefined ? {} : { value: type.value };
  if (type.value !== undefined) checkInteger(type.value, 'value', 0, MAX_VALUE);
  switch (type.scheme) {
    case 'vc':
      if (!isOneOf(VC_CLASSES, type.signClass)) throw invalid('code', `Vienna class "${String(type.signClass)}" is not A-H`);
      checkInteger(type.number, 'code', 1, 64);
      if (type.option !== undefined && !isOneOf(VC_OPTIONS, type.option)) throw invalid('code', `Vienna option "${String(type.option)}" is not a-g`);
      return { scheme: 'vc', signClass: type.signClass, number: type.number, ...(type.option === undefined ? {} : { option: type.option }), ...value };
    case 'gdd':
      if (!isOneOf(GDD_CATEGORIES, type.category)) throw invalid('code', `ISO 14823 service category ${String(type.category)} is not one of ${GDD_CATEGORIES.join(', ')}`);
      checkInteger(type.nature, 'code', 1, 9);
      checkInteger(type.serial, 'code', 0, 99);
      return { scheme: 'gdd', category: type.category, nature: type.nature, serial: type.serial, ...value };
    case 'itis':
      checkInteger(type.code, 'code', 0, MAX_ITIS);
      return { scheme: 'itis', code: type.code, ...value };
    case 'nat':
      checkCountry(type.country, 'code');
      checkCatalogueCode(type.code, 'code');
      return { scheme: 'nat', country: type.country, code: type.code, ...value };
    case 'any':
      checkCatalogueCode(type.code, 'code');
      return { scheme: 'any', code: type.code, ...value };
    default:
      throw invalid('scheme', `Scheme "${String((type as { scheme: unknown }).scheme)}" is not one of ${ITS_SCHEMES.join(', ')}`);
  }
}

function parseCode(scheme: ItsScheme, code: string): ItsSignCode {
  switch (scheme) {
    case 'vc': {
      const m = /^([A-H])(0|[1-9][0-9]?)([A-G]?)$/.exec(code);
      if (!m) throw invalid('code', `Vienna code "${code}" is not a class A-H, a number 1-64 and an optional option a-g`);
      const number = parseDecimal(m[2]!, 'code', 1, 64);
      const option = m[3] ? { option: m[3] as VcOption } : {};
      return { scheme, signClass: m[1] as VcClass, number, ...option };
    }
    case 'gdd': {
      const parts = code.split('-');
      if (parts.length !== 3) throw invalid('code', `ISO 14823 code "${code}" is not category-nature-serial (e.g. 12-5-57)`);
      const category = parseDecimal(parts[0]!, 'code', 11, 32);
      if (!isOneOf(GDD_CATEGORIES, category)) throw invalid('code', `ISO 14823 service category ${category} is not one of ${GDD_CATEGORIES.join(', ')}`);
      return { scheme, category, nature: parseDecimal(parts[1]!, 'code', 1, 9), serial: parseDecimal(parts[2]!, 'code', 0, 99) };
    }
    case 'itis':
      return { scheme, code: parseDecimal(code, 'code', 0, MAX_ITIS) };
    case 'nat': {
      const dash = code.indexOf('-');
      if (dash < 0) throw invalid('code', `National code "${code}" is not <CC>-<code> (e.g. DE-274)`);
      const country = code.slice(0, dash);
      const rest = code.slice(dash + 1);
      checkCountry(country, 'code');
      checkCatalogueCode(rest, 'code');
      return { scheme, country, code: rest };
    }
    case 'any':
      checkCatalogueCode(code, 'code');
      return { scheme, code };
  }
}

/** Parses the type part alone, `nat.DE-274[60]` (case-insensitive); for queries by code. */
export function parseItsSignType(text: string): ItsSignType {
  const t = foldAscii(text, 'type');
  const dot = t.indexOf('.');
  if (dot < 0) throw invalid('type', `Type "${text}" is not <scheme>.<code>`);
  const scheme = t.slice(0, dot).toLowerCase();
  if (!isOneOf(ITS_SCHEMES, scheme)) throw invalid('scheme', `Scheme "${scheme}" is not one of ${ITS_SCHEMES.join(', ')}`);
  let code = t.slice(dot + 1);
  let value: { value?: number } = {};
  const open = code.indexOf('[');
  if (open >= 0) {
    if (!code.endsWith(']')) throw invalid('value', `Type "${text}": a value is written [0-65535] at the end`);
    value = { value: parseDecimal(code.slice(open + 1, -1), 'value', 0, MAX_VALUE) };
    code = code.slice(0, open);
  }
  return { ...parseCode(scheme, code), ...value };
}

/** Canonical text of a type part: `nat.DE-274[60]`, `vc.B2A`, `gdd.12-5-57`. */
export function formatItsSignType(type: ItsSignType): string {
  const t = itsSignTypeFrom(type);
  const value = t.value === undefined ? '' : `[${t.value}]`;
  switch (t.scheme) {
    case 'vc':
      return `vc.${t.signClass}${t.number}${t.option ?? ''}${value}`;
    case 'gdd':
      return `gdd.${t.category}-${t.nature}-${t.serial}${value}`;
    case 'itis':
      return `itis.${t.code}${value}`;
    case 'nat':
      return `nat.${t.country}-${t.code}${value}`;
    case 'any':
      return `any.${t.code}${value}`;
  }
}

// ---- the identifier ---------------------------------------------------------------------------

/** Refuses anything but printable ASCII, then upper-cases: locale- and Unicode-proof folding. */
function foldAscii(text: unknown, field: string): string {
  if (typeof text !== 'string' || text.length === 0) throw invalid(field, `${field} is empty or not a string`);
  if (text.length > MAX_TEXT_LENGTH) throw invalid(field, `${field} is longer than ${MAX_TEXT_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(text)) throw invalid(field, `${field} has characters outside printable ASCII`);
  return text.toUpperCase();
}

/** Validates an identifier built in code (a minted serial, a decoded DER value) and copies it. */
export function itsSignIdFrom(id: ItsSignId): ItsSignId {
  if (!isOneOf(ITS_KINDS, id.kind)) throw invalid('kind', `Kind "${String(id.kind)}" is not one of ${ITS_KINDS.join(', ')}`);
  checkCountry(id.country);
  checkInteger(id.authority, 'authority', 0, MAX_AUTHORITY);
  checkSerial(id.serial);
  const type = id.type === undefined ? {} : { type: itsSignTypeFrom(id.type) };
  return { kind: id.kind, country: id.country, authority: id.authority, serial: id.serial, ...type };
}

/**
 * Parses `its:<kind>:<CC>.<authority>[:<type>]:<serial>~<check>`; throws ERR_ITS_ID_INVALID
 * (with `details.field`) for a malformed or out-of-range field and ERR_ITS_CHECK_MISMATCH when
 * everything is well-formed but the check character is wrong.
 */
export function parseItsSignId(text: string): ItsSignId {
  const upper = foldAscii(text, 'identifier');
  const parts = upper.split(':');
  if (parts[0] !== 'ITS') throw invalid('identifier', 'An ITS sign identifier starts with "its:"');
  if (parts.length !== 4 && parts.length !== 5) {
    throw invalid('identifier', 'An ITS sign identifier is its:<kind>:<CC>.<authority>[:<scheme>.<code>[<value>]]:<serial>~<check>');
  }
  const kind = parts[1]!.toLowerCase();
  if (!isOneOf(ITS_KINDS, kind)) throw invalid('kind', `Kind "${kind}" is not one of ${ITS_KINDS.join(', ')}`);

  const issuer = /^([A-Z]*)\.([0-9]*)$/.exec(parts[2]!);
  if (!issuer) throw invalid('issuer', `Issuer "${parts[2]}" is not <CC>.<authority>`);
  const country = issuer[1]!;
  checkCountry(country);
  const authority = parseDecimal(issuer[2]!, 'authority', 0, MAX_AUTHORITY);

  const type = parts.length === 5 ? { type: parseItsSignType(parts[3]!) } : {};

  const tail = parts[parts.length - 1]!;
  const tilde = tail.indexOf('~');
  if (tilde < 0) throw invalid('check', 'The serial is followed by ~ and a check character');
  const serial = parseItsSerial(tail.slice(0, tilde));
  const given = tail.slice(tilde + 1);
  if (!/^[0-9A-Z]$/.test(given)) throw invalid('check', `Check "${given}" is not one character 0-9 or A-Z`);

  const id: ItsSignId = { kind, country, authority, serial, ...type };
  const expected = itsCheckCharacter(id);
  if (given !== expected) {
    throw new ItsCheckMismatch(`Check character ${given} does not match ${itsCheckInput(id)}`, { field: 'check', given, expected });
  }
  return id;
}

/** Canonical text with its check character. Validates first: never formats an impossible id. */
export function formatItsSignId(id: ItsSignId): string {
  const v = itsSignIdFrom(id);
  const type = v.type === undefined ? '' : `:${formatItsSignType(v.type)}`;
  return `its:${v.kind}:${v.country}.${v.authority}${type}:${formatItsSerial(v.serial)}~${itsCheckCharacter(v)}`;
}

export function isItsSignId(text: unknown): text is string {
  try {
    parseItsSignId(text as string);
    return true;
  } catch {
    return false;
  }
}

/**
 * Storage key of the identity (type excluded): `DE.00417.sign.00003K7QJ2`. Fixed-width fields
 * from a closed alphabet (A-Z a-z 0-9 and `.`; no `/`, no control characters), so byte order is
 * (country, authority, kind, serial) order and `itsIssuerKey` is the prefix of an issuer's range.
 */
export function itsIdentityKey(id: ItsSignId): string {
  const v = itsSignIdFrom(id);
  return `${itsIssuerKey(v)}.${v.kind}.${formatItsSerial(v.serial).padStart(MAX_SERIAL_CHARS, '0')}`;
}

/** `DE.00417`: the issuer's part of `itsIdentityKey`. */
export function itsIssuerKey(issuer: Pick<ItsSignId, 'country' | 'authority'>): string {
  checkCountry(issuer.country);
  checkInteger(issuer.authority, 'authority', 0, MAX_AUTHORITY);
  return `${issuer.country}.${String(issuer.authority).padStart(5, '0')}`;
}

export function sameItsIdentity(a: ItsSignId, b: ItsSignId): boolean {
  return a.kind === b.kind && a.country === b.country && a.authority === b.authority && a.serial === b.serial;
}
