import { OidInvalid, OidLimit } from '../errors.js';

/**
 * Object identifiers (ITU-T X.660) in dotted decimal: `2.999.1`. Arcs are BigInt, never JS numbers:
 * UUID arcs under 2.25 run to 2^128 and arcs past 2^53 occur in the wild.
 *
 * X.660 rules: the first arc is 0 (itu-t), 1 (iso) or 2 (joint-iso-itu-t); under 0 and 1 the
 * second arc is 0..39; under 2 it is unbounded. Decimal arcs have no leading zeros and no sign.
 */
export interface Oid {
  readonly arcs: readonly bigint[];
  /** Canonical dotted form. */
  readonly text: string;
}

/** Cairn's limits (issue 4): arcs per OID, and DER content octets (checked by the codec). */
export const MAX_ARCS = 128;
export const MAX_CONTENT_OCTETS = 1024;

const ARC = /^(0|[1-9][0-9]*)$/;
// An arc of more than 1024 content octets (7 bits each) cannot fit anyway; refuse before BigInt.
const MAX_ARC_DIGITS = Math.ceil((MAX_CONTENT_OCTETS * 7 * Math.log10(2))) + 1;

/** One decimal arc, refusing before BigInt any arc too long for the DER limit (ERR_OID_LIMIT). */
export function decimalArc(text: string, what = 'OID arc'): bigint {
  if (!ARC.test(text)) throw new OidInvalid(`${what} "${text.slice(0, 40)}" is not a decimal number without leading zeros`);
  if (text.length > MAX_ARC_DIGITS) throw new OidLimit(`${what} is too large`);
  return BigInt(text);
}

/** Splits dotted decimal into arcs; no X.660 root rules (RELATIVE-OID uses this too). */
export function parseArcs(text: string, what = 'OID'): bigint[] {
  if (typeof text !== 'string' || text.length === 0) throw new OidInvalid(`${what} is empty`);
  const parts = text.split('.');
  if (parts.length > MAX_ARCS) throw new OidLimit(`${what} has ${parts.length} arcs; at most ${MAX_ARCS}`);
  return parts.map((part, i) => {
    if (!ARC.test(part)) throw new OidInvalid(`${what} arc ${i + 1} "${part}" is not a decimal number without leading zeros`);
    if (part.length > MAX_ARC_DIGITS) throw new OidLimit(`${what} arc ${i + 1} is too large`);
    return BigInt(part);
  });
}

/** Checks X.660's rules on the first two arcs. */
export function checkRoots(arcs: readonly bigint[]): void {
  if (arcs.length < 2) throw new OidInvalid('An OID has at least two arcs');
  const [first, second] = arcs as [bigint, bigint];
  if (first > 2n) throw new OidInvalid(`First arc ${first} is not 0, 1 or 2`);
  if (first < 2n && second > 39n) throw new OidInvalid(`Second arc ${second} exceeds 39 under ${first}`);
}

export function parseOid(text: string): Oid {
  // RFC 8141: the scheme and the namespace identifier are case-insensitive.
  const input = typeof text === 'string' && /^urn:oid:/i.test(text) ? text.slice(8) : text;
  const arcs = parseArcs(input);
  checkRoots(arcs);
  return { arcs, text: arcs.join('.') };
}

export function oidFromArcs(arcs: readonly bigint[]): Oid {
  if (arcs.length > MAX_ARCS) throw new OidLimit(`OID has ${arcs.length} arcs; at most ${MAX_ARCS}`);
  if (arcs.some((a) => a < 0n)) throw new OidInvalid('Arcs are non-negative');
  checkRoots(arcs);
  return { arcs: [...arcs], text: arcs.join('.') };
}

export function isOid(text: unknown): text is string {
  try {
    parseOid(text as string);
    return true;
  } catch {
    return false;
  }
}
