import { Gs1LinkInvalid, GtinCheckMismatch, GtinInvalid } from '../errors.js';

/**
 * GS1 identifiers used for products (GS1 General Specifications 3.3.2, 7.9; GS1 Digital Link
 * URI Syntax 1.2):
 *
 * - GTIN-8, GTIN-12, GTIN-13 and GTIN-14: digits only, the last one a mod-10 check digit (weights
 *   3, 1, 3, ... from the digit left of the check digit). Every length is one GTIN-14 with leading
 *   zeros, the form Cairn stores and compares (`09506000134352`).
 * - AI 21 (serial number), AI 10 (batch/lot) and AI 22 (consumer product variant): 1 to 20
 *   characters of GS1 AI encodable character set 82 (`! " % & ' ( ) * + , - . / 0-9 : ; < = > ?
 *   A-Z _ a-z`).
 * - A Digital Link path `/01/{gtin}[/22/{cpv}][/10/{lot}]/21/{serial}`, possibly after a path
 *   prefix and inside an `http(s)://` URI (the query string carries data attributes and is
 *   ignored). Segments are percent-decoded (strictly); a value outside set 82 is refused.
 */
export type GtinLength = 8 | 12 | 13 | 14;

export interface Gtin {
  /** The GTIN-14 form: 14 digits, leading zeros added. */
  readonly gtin14: string;
  /** The digits as given. */
  readonly text: string;
  readonly length: GtinLength;
}

export interface Gs1DigitalLink {
  readonly gtin: Gtin;
  /** AI 21, as decoded from the path. */
  readonly serial: string;
  /** AI 10, when the path carries it. */
  readonly lot?: string;
  /** AI 22, when the path carries it. */
  readonly cpv?: string;
}

const GTIN_LENGTHS: readonly number[] = [8, 12, 13, 14];
/** GS1 AI encodable character set 82. */
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/;
export const MAX_AI_VALUE_LENGTH = 20;

/** The mod-10 check digit for the digits before it. */
export function gtinCheckDigit(body: string): number {
  let sum = 0;
  for (let i = body.length - 1, weight = 3; i >= 0; i--, weight = 4 - weight) sum += (body.charCodeAt(i) - 48) * weight;
  return (10 - (sum % 10)) % 10;
}

/** GTIN-8/12/13/14 with its check digit (ERR_GTIN_INVALID, ERR_GTIN_CHECK_MISMATCH). */
export function parseGtin(text: string): Gtin {
  if (typeof text !== 'string' || !/^[0-9]+$/.test(text) || !GTIN_LENGTHS.includes(text.length)) {
    throw new GtinInvalid(`GTIN "${String(text).slice(0, 20)}" must be 8, 12, 13 or 14 digits`, { gtin: typeof text === 'string' ? text.slice(0, 20) : null });
  }
  const expected = gtinCheckDigit(text.slice(0, -1));
  if (expected !== text.charCodeAt(text.length - 1) - 48) {
    throw new GtinCheckMismatch(`GTIN ${text}: the check digit should be ${expected}`, { gtin: text, expected: String(expected) });
  }
  return { gtin14: text.padStart(14, '0'), text, length: text.length as GtinLength };
}

export function isGtin(text: unknown): text is string {
  try {
    parseGtin(text as string);
    return true;
  } catch {
    return false;
  }
}

/** An AI 21 (or 10, 22) value: 1 to 20 characters of set 82. */
export function isAiValue(text: unknown): text is string {
  return typeof text === 'string' && text.length >= 1 && text.length <= MAX_AI_VALUE_LENGTH && CSET82.test(text);
}

function aiValue(raw: string, ai: string, what: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw new Gs1LinkInvalid(`${what} (AI ${ai}) is not valid percent-encoding`, { ai });
  }
  if (!isAiValue(text)) throw new Gs1LinkInvalid(`${what} (AI ${ai}) must be 1 to ${MAX_AI_VALUE_LENGTH} characters of GS1 character set 82`, { ai });
  return text;
}

/**
 * `/01/{gtin}[/22/{cpv}][/10/{lot}]/21/{serial}`, or a URI whose path ends with it. A GTIN with
 * a wrong check digit keeps its own code (ERR_GTIN_CHECK_MISMATCH); anything else malformed is
 * ERR_GS1_LINK_INVALID.
 */
export function parseGs1DigitalLink(text: string): Gs1DigitalLink {
  if (typeof text !== 'string' || text.length === 0 || text.length > 2048) throw new Gs1LinkInvalid('GS1 Digital Link is empty or too long');
  let path = text;
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Gs1LinkInvalid('GS1 Digital Link URI does not parse');
    }
    path = url.pathname;
  } else {
    path = text.split(/[?#]/, 1)[0]!;
  }
  const segments = path.split('/');
  const at = segments.indexOf('01');
  if (at < 0 || segments[0] !== '') throw new Gs1LinkInvalid('A GS1 Digital Link path names the GTIN as /01/{gtin}');
  const rest = segments.slice(at);
  if (rest.length % 2 !== 0 || rest.some((s) => s.length === 0)) throw new Gs1LinkInvalid('GS1 Digital Link path must be /01/{gtin}[/22/{cpv}][/10/{lot}]/21/{serial}');
  const gtinText = rest[1]!;
  if (!/^[0-9]+$/.test(gtinText) || !GTIN_LENGTHS.includes(gtinText.length)) throw new Gs1LinkInvalid('The GTIN (AI 01) must be 8, 12, 13 or 14 digits', { ai: '01' });
  const gtin = parseGtin(gtinText);
  const qualifiers = new Map<string, string>();
  let order = 0;
  const allowed = ['22', '10', '21'];
  for (let i = 2; i < rest.length; i += 2) {
    const ai = rest[i]!;
    const position = allowed.indexOf(ai);
    if (position < order) throw new Gs1LinkInvalid(`AI ${ai.slice(0, 4)} is not a key qualifier of GTIN in this place (order: 22, 10, 21)`, { ai: ai.slice(0, 4) });
    order = position + 1;
    qualifiers.set(ai, rest[i + 1]!);
  }
  const serial = qualifiers.get('21');
  if (serial === undefined) throw new Gs1LinkInvalid('GS1 Digital Link path has no serial (/21/{serial}) after the GTIN', { ai: '21' });
  const lot = qualifiers.get('10');
  const cpv = qualifiers.get('22');
  return {
    gtin,
    serial: aiValue(serial, '21', 'serial'),
    ...(lot === undefined ? {} : { lot: aiValue(lot, '10', 'lot') }),
    ...(cpv === undefined ? {} : { cpv: aiValue(cpv, '22', 'consumer product variant') }),
  };
}

export function isGs1DigitalLink(text: unknown): boolean {
  try {
    parseGs1DigitalLink(text as string);
    return true;
  } catch {
    return false;
  }
}

/** Percent-encodes every character but letters, digits, `-`, `.` and `_` (GS1 Digital Link 1.2, 6.6). */
export function encodeAiValue(value: string): string {
  return value.replace(/[^A-Za-z0-9\-._]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** The canonical path `/01/{gtin-14}/21/{serial}` (no lot or variant: they do not identify the item). */
export function formatGs1DigitalLink(gtin: string, serial: string): string {
  const g = parseGtin(gtin);
  if (!isAiValue(serial)) throw new Gs1LinkInvalid(`serial (AI 21) must be 1 to ${MAX_AI_VALUE_LENGTH} characters of GS1 character set 82`, { ai: '21' });
  return `/01/${g.gtin14}/21/${encodeAiValue(serial)}`;
}
