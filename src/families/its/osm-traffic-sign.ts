import { isIso3166Alpha2, itsSignTypeFrom, MAX_VALUE, type ItsSignType } from '../../ids/its-sign.js';

/**
 * The OpenStreetMap `traffic_sign=*` value, as `cairn its import` reads it (issue 5). Pure: no
 * catalogue look-ups, no I/O; the importer checks the codes against the catalogues.
 *
 * Grammar (ABNF-like; whitespace around elements and inside brackets is ignored):
 *
 *   traffic-sign = post-sign *( ";" post-sign )
 *   post-sign    = element *( "," element )        ; the first element is a sign, each element
 *                                                   ; after a "," a supplementary sign (plate)
 *                                                   ; attached to that sign
 *   element      = [ country ":" ] code [ "[" value "]" ]
 *   country      = 2ALPHA                           ; ISO 3166-1 alpha-2, assigned codes only
 *   code         = 1*16( ALPHA / DIGIT / "-" / "." ) ; runs of A-Z 0-9 joined by single "-" or "."
 *   value        = 1*DIGIT [ "." 1*DIGIT ]          ; a number 0-65535
 *
 *   DE:274[60],1020-30;265[3.8]
 *     sign  nat.DE-274[60]          (value 60, in the identifier's type)
 *     plate nat.DE-1020-30          attached to the sign before it
 *     sign  nat.DE-265, value 3.8   (not a whole number: kept on the record only)
 *
 * - Country: a `CC:` prefix applies to its element and to every later element until the next
 *   prefix (`DE:274;265` is two German signs; `DE:274;AT:52` a German and an Austrian one). An
 *   element before any prefix takes `defaultCountry` (the issuer's country); without one it is
 *   an error. Letter case is free; codes and countries come out upper case.
 * - Type: a national code maps to `nat.<CC>-<code>` (its-sign.ts): `DE:1020-30` is
 *   `nat.DE-1020-30`. OSM's human-readable values (`city_limit`, `maxspeed`, `stop`) are not codes
 *   and are refused (`code`); a code that passes the grammar but is not in its catalogue is the
 *   importer's error (ERR_ITS_CODE_UNKNOWN), not this parser's.
 * - Value: a whole number 0-65535 becomes the type's bracketed value (`nat.DE-274[60]`). Any other
 *   number (`3.8`) cannot be written in an identifier (its-sign.ts allows whole numbers only):
 *   `typeValue` is then absent and `value` carries it for the record's `value` field (with the
 *   catalogue's unit). A value above 65535, a negative one, a unit (`[3.8 m]`), a comma decimal
 *   (`[3,8]`) or a time range (`[6-19]`) is refused (`value`).
 * - Refused with a TrafficSignSyntaxError whose `code` says why:
 *   `empty` (nothing but whitespace), `too-long` (over 255 characters, OSM's limit for a tag
 *   value), `too-many` (over 32 elements), `empty-element` (`;;`, a leading `,`, a trailing `;`),
 *   `country` (a prefix that is not an assigned alpha-2 code: `XX:`, `DEU:`, `B-W:`), `no-country`
 *   (no prefix and no default), `code` (not the code grammar: `city_limit`, `2 74`), `bracket`
 *   (an unclosed, nested or stray bracket, text after `]`, two bracket groups), `value` (see
 *   above).
 */

export const MAX_TRAFFIC_SIGN_LENGTH = 255;
export const MAX_TRAFFIC_SIGN_ELEMENTS = 32;

export const TRAFFIC_SIGN_ERRORS = ['empty', 'too-long', 'too-many', 'empty-element', 'country', 'no-country', 'code', 'bracket', 'value'] as const;
export type TrafficSignErrorCode = (typeof TRAFFIC_SIGN_ERRORS)[number];

export class TrafficSignSyntaxError extends Error {
  constructor(
    readonly code: TrafficSignErrorCode,
    message: string,
    /** 0-based offset in the text where the faulty element starts. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TrafficSignSyntaxError';
  }
}

/** One sign or plate as written. */
export interface OsmSignElement {
  /** ISO 3166-1 alpha-2, upper case: the prefix in force, or the default country. */
  readonly country: string;
  /** The national code, upper case (`274`, `1020-30`, `R1-1`). */
  readonly code: string;
  /** The bracketed value as a number, when there is one. */
  readonly value?: number;
  /** The value when it can go into the identifier's type: a whole number 0-65535. */
  readonly typeValue?: number;
  /** The element as written, trimmed (`DE:274[60]`). */
  readonly text: string;
}

export interface OsmSign extends OsmSignElement {
  /** Supplementary signs attached with `,`, in the order written (top to bottom). */
  readonly plates: readonly OsmSignElement[];
}

const PREFIX = /^([A-Za-z]{2}):/;
const VALUE = /^[0-9]+(\.[0-9]+)?$/;

interface Piece {
  readonly separator: 'start' | ';' | ',';
  readonly text: string;
  readonly offset: number;
}

/** Splits at `;` and `,` outside brackets; checks bracket balance. */
function split(text: string): Piece[] {
  const pieces: Piece[] = [];
  let separator: Piece['separator'] = 'start';
  let start = 0;
  let open = -1;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (ch === '[') {
      if (open >= 0) throw new TrafficSignSyntaxError('bracket', `nested "[" at offset ${i}`, i);
      open = i;
    } else if (ch === ']') {
      if (open < 0) throw new TrafficSignSyntaxError('bracket', `"]" without "[" at offset ${i}`, i);
      open = -1;
    } else if (ch === undefined || ((ch === ';' || ch === ',') && open < 0)) {
      if (ch === undefined && open >= 0) throw new TrafficSignSyntaxError('bracket', `"[" at offset ${open} is not closed`, open);
      pieces.push({ separator, text: text.slice(start, i), offset: start });
      if (pieces.length > MAX_TRAFFIC_SIGN_ELEMENTS) throw new TrafficSignSyntaxError('too-many', `more than ${MAX_TRAFFIC_SIGN_ELEMENTS} signs and plates`, start);
      separator = ch === ',' ? ',' : ';';
      start = i + 1;
    }
  }
  return pieces;
}

function parseValue(raw: string, offset: number): { value: number; typeValue?: number } {
  const t = raw.trim();
  if (!VALUE.test(t)) throw new TrafficSignSyntaxError('value', `value "[${raw}]" is not a number such as 60 or 3.8`, offset);
  const value = Number(t);
  if (!Number.isFinite(value) || value > MAX_VALUE) throw new TrafficSignSyntaxError('value', `value ${t} is over ${MAX_VALUE}`, offset);
  return Number.isInteger(value) ? { value, typeValue: value } : { value };
}

/**
 * Parses a `traffic_sign` value into the signs on the post, each with its plates. Throws
 * TrafficSignSyntaxError (see the module comment for the codes).
 */
export function parseTrafficSign(text: string, defaultCountry?: string): OsmSign[] {
  if (typeof text !== 'string' || text.trim() === '') throw new TrafficSignSyntaxError('empty', 'traffic_sign is empty', 0);
  if (text.length > MAX_TRAFFIC_SIGN_LENGTH) throw new TrafficSignSyntaxError('too-long', `traffic_sign is longer than ${MAX_TRAFFIC_SIGN_LENGTH} characters`, 0);
  let country = defaultCountry?.toUpperCase();
  const signs: { sign: OsmSignElement; plates: OsmSignElement[] }[] = [];
  for (const piece of split(text)) {
    let body = piece.text.trim();
    const at = piece.offset + (piece.text.length - piece.text.trimStart().length);
    if (body === '') {
      const where = piece.separator === 'start' ? 'at the start' : `after "${piece.separator}" at offset ${piece.offset - 1}`;
      throw new TrafficSignSyntaxError('empty-element', `empty sign ${where}`, piece.offset);
    }
    const colon = body.indexOf(':');
    const bracket = body.indexOf('[');
    if (colon >= 0 && (bracket < 0 || colon < bracket)) {
      const prefix = PREFIX.exec(body);
      const cc = prefix?.[1]?.toUpperCase();
      if (cc === undefined || !isIso3166Alpha2(cc)) {
        throw new TrafficSignSyntaxError('country', `"${body.slice(0, colon)}:" is not an assigned ISO 3166-1 alpha-2 country prefix`, at);
      }
      country = cc;
      body = body.slice(colon + 1).trimStart();
    }
    let code = body;
    let value: { value?: number; typeValue?: number } = {};
    const open = body.indexOf('[');
    if (open >= 0) {
      const close = body.indexOf(']', open);
      if (close !== body.length - 1) throw new TrafficSignSyntaxError('bracket', `"${body}": nothing may follow the "[...]" value`, at);
      value = parseValue(body.slice(open + 1, close), at);
      code = body.slice(0, open).trimEnd();
    }
    code = code.toUpperCase();
    if (country === undefined) throw new TrafficSignSyntaxError('no-country', `"${piece.text.trim()}" has no country prefix (CC:) and no default country is known`, at);
    try {
      itsSignTypeFrom({ scheme: 'nat', country, code });
    } catch {
      throw new TrafficSignSyntaxError('code', `"${code}" is not a sign code (1-16 characters of A-Z 0-9 joined by single "-" or ".")`, at);
    }
    const element: OsmSignElement = { country, code, ...value, text: piece.text.trim() };
    if (piece.separator === ',') signs.at(-1)!.plates.push(element);
    else signs.push({ sign: element, plates: [] });
  }
  return signs.map(({ sign, plates }) => ({ ...sign, plates }));
}

/** The identifier's type of a sign or plate: `nat.<CC>-<code>[<whole value>]`. */
export function osmSignType(element: OsmSignElement): ItsSignType {
  return { scheme: 'nat', country: element.country, code: element.code, ...(element.typeValue === undefined ? {} : { value: element.typeValue }) };
}
