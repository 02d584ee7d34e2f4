import { OidInvalid, OidLimit } from '../errors.js';
import { decimalArc, MAX_ARCS, oidFromArcs, type Oid } from './oid.js';
import { findArcByLabel, findLabel, findLongArc, findLongArcLabel } from './oid-names.js';

/**
 * OID-IRI (ITU-T X.680 clause 34; X.660 clause 7.5 for the labels): `/Joint-ISO-ITU-T/Example/1`,
 * `/Example/1`, `/UUID/f81d4fae-7dec-11d0-a765-00a0c91e6bf6`, also with the `oid:` scheme.
 *
 *   OID-IRI      ::= "/" ArcLabel { "/" ArcLabel }
 *   ArcLabel     ::= integerUnicodeLabel | non-integerUnicodeLabel
 *   integerUnicodeLabel ::= "0" | [1-9][0-9]*                      -- X.680 12.26
 *   non-integerUnicodeLabel: not digits only; characters and hyphen placement as X.660 7.5
 *
 * The first label may be a long arc (X.660: `/Example` stands for `/Joint-ISO-ITU-T/Example`).
 * Non-integer labels resolve through the standard names in `registries/oid/`; under 2.25 a UUID
 * label is the arc whose value is the UUID as an integer (X.667). Labels match exactly.
 */
const INTEGER_LABEL = /^(0|[1-9][0-9]*)$/;
const UUID_LABEL = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** X.660 7.5 characters: unreserved ASCII plus the IRI ranges of ISO/IEC 10646. */
function isLabelCodePoint(cp: number): boolean {
  if ((cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x30 && cp <= 0x39)) return true;
  if (cp === 0x2d || cp === 0x2e || cp === 0x5f || cp === 0x7e) return true;
  if ((cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xf900 && cp <= 0xfdcf) || (cp >= 0xfdf0 && cp <= 0xffef)) return true;
  if (cp >= 0x10000 && cp <= 0xdfffd) return (cp & 0xffff) <= 0xfffd;
  return cp >= 0xe1000 && cp <= 0xefffd;
}

/** Throws unless `label` is a well-formed non-integer Unicode label. */
export function checkUnicodeLabel(label: string): void {
  if (label.length === 0) throw new OidInvalid('OID-IRI has an empty label');
  if (/^[0-9]+$/.test(label)) throw new OidInvalid(`Label "${label}" is digits only but not a valid integer label`);
  for (const ch of label) {
    if (!isLabelCodePoint(ch.codePointAt(0)!)) throw new OidInvalid(`Label "${label}" has a character not allowed by X.660 7.5 (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`);
  }
  const chars = [...label];
  if (chars[0] === '-' || chars.at(-1) === '-') throw new OidInvalid(`Label "${label}" starts or ends with a hyphen`);
  if (chars[2] === '-' && chars[3] === '-') throw new OidInvalid(`Label "${label}" has hyphens in its third and fourth positions`);
}

/** The decoded labels of an OID-IRI (`/A/B` or `oid:/A/B`), before any is looked up. */
export function splitOidIri(text: string): string[] {
  // RFC 3986 3.1: the scheme is case-insensitive (parseIdentifier routes `OID:/...` here).
  const iri = /^oid:/i.test(text) ? text.slice(4) : text;
  if (!iri.startsWith('/') || iri.length < 2) throw new OidInvalid('An OID-IRI starts with "/" and names at least one arc');
  let labels: string[];
  try {
    labels = iri.slice(1).split('/').map((l) => decodeURIComponent(l));
  } catch {
    throw new OidInvalid('OID-IRI has invalid percent-encoding');
  }
  if (labels.length > MAX_ARCS) throw new OidLimit(`OID-IRI has more than ${MAX_ARCS} labels`);
  return labels;
}

/**
 * The arcs label `i` of an IRI stands for under `parent`, from the text and the standard tables
 * alone: an integer label, a long arc (first label only), a UUID under 2.25, or a standard
 * Unicode label matched exactly. Undefined when none applies (a registry may still know it).
 */
export function standardIriArcs(parent: readonly bigint[], i: number, label: string): readonly bigint[] | undefined {
  if (INTEGER_LABEL.test(label)) return [decimalArc(label)];
  checkUnicodeLabel(label);
  const long = i === 0 ? findLongArc(label) : undefined;
  if (long) return long;
  const dotted = parent.join('.');
  if (dotted === '2.25' && UUID_LABEL.test(label)) return [BigInt(`0x${label.replace(/-/g, '')}`)];
  const arc = findArcByLabel(dotted, label);
  return arc === undefined ? undefined : [arc];
}

export function parseOidIri(text: string): Oid {
  const arcs: bigint[] = [];
  splitOidIri(text).forEach((label, i) => {
    const found = standardIriArcs(arcs, i, label);
    if (!found) throw new OidInvalid(`Unicode label "${label}" is not known under ${arcs.length === 0 ? 'the root' : arcs.join('.')}`);
    arcs.push(...found);
  });
  return oidFromArcs(arcs);
}

/** The OID-IRI of an OID: a long arc where one fits, standard labels where known, integers else. */
export function formatOidIri(oid: Oid): string {
  const parts: string[] = [];
  let start = 0;
  for (let n = oid.arcs.length; n >= 2; n--) {
    const long = findLongArcLabel(oid.arcs.slice(0, n).join('.'));
    if (long) {
      parts.push(long);
      start = n;
      break;
    }
  }
  for (let i = start; i < oid.arcs.length; i++) {
    const prefix = oid.arcs.slice(0, i + 1).join('.');
    parts.push(findLabel(prefix) ?? String(oid.arcs[i]));
  }
  return `/${parts.map((p) => encodeURIComponent(p).replace(/%2E/gi, '.')).join('/')}`;
}
