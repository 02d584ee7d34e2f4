import { OidInvalid, OidLimit } from '../errors.js';
import { decimalArc, MAX_ARCS, oidFromArcs, type Oid } from './oid.js';
import { findArcByIdentifier, findIdentifier } from './oid-names.js';

/**
 * ASN.1 value notation for OBJECT IDENTIFIER (ITU-T X.680 clause 32.3):
 *
 *   ObjIdComponents ::= NameForm | NumberForm | NameAndNumberForm
 *   NameForm          ::= identifier                 -- only standardized names (X.660 Annex A)
 *   NumberForm        ::= number
 *   NameAndNumberForm ::= identifier "(" NumberForm ")"
 *
 *   { joint-iso-itu-t(2) example(999) 1 }    { iso member-body 840 113549 }
 *
 * A NameAndNumberForm whose identifier is a standard name must agree with its number.
 */
const IDENTIFIER = /^[a-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$/;
const NUMBER = /^(0|[1-9][0-9]*)$/;
const COMPONENT = /^([a-z][A-Za-z0-9-]*)?(?:\(\s*([0-9]+)\s*\))?$|^([0-9]+)$/;

/**
 * The components, with the spaces around "(" and before ")" dropped: `name ( 5 )` is `name(5)`.
 * Split on whitespace first and rejoined, in linear time: the regular expressions this replaces
 * (whitespace, "(", whitespace) rescanned every run of spaces from each of its positions, so
 * 40,000 spaces took seconds.
 */
function splitComponents(body: string): string[] {
  const out: string[][] = []; // each component's tokens, joined once at the end
  let afterOpen = false; // the last token ended with "("
  for (const token of body.trim().split(/\s+/)) {
    if (token === '') continue;
    if (out.length > 0 && (afterOpen || token.startsWith('(') || token.startsWith(')'))) out[out.length - 1]!.push(token);
    else out.push([token]);
    afterOpen = token.endsWith('(');
  }
  return out.map((tokens) => tokens.join(''));
}

export function parseOidValueNotation(text: string): Oid {
  const m = /^\s*\{([^{}]*)\}\s*$/.exec(text);
  if (!m) throw new OidInvalid('ASN.1 value notation is written { component component ... }');
  const components = splitComponents(m[1]!);
  if (components.length === 0) throw new OidInvalid('ASN.1 value notation names no arcs');
  if (components.length > MAX_ARCS) throw new OidLimit(`ASN.1 value notation has more than ${MAX_ARCS} arcs`);
  const arcs: bigint[] = [];
  for (const component of components) {
    const c = COMPONENT.exec(component);
    if (!c || (c[1] === undefined && c[2] === undefined && c[3] === undefined)) throw new OidInvalid(`"${component}" is not an OID component`);
    const [, identifier, inParens, bare] = c;
    const parent = arcs.join('.');
    if (bare !== undefined || (identifier === undefined && inParens !== undefined)) {
      const number = bare ?? inParens!;
      if (!NUMBER.test(number)) throw new OidInvalid(`"${number}" has a leading zero`);
      arcs.push(decimalArc(number));
      continue;
    }
    if (!IDENTIFIER.test(identifier!)) throw new OidInvalid(`"${identifier}" is not an ASN.1 identifier`);
    const known = findArcByIdentifier(parent, identifier!);
    if (inParens !== undefined) {
      if (!NUMBER.test(inParens)) throw new OidInvalid(`"${inParens}" has a leading zero`);
      const arc = decimalArc(inParens);
      if (known && known.arc !== arc) throw new OidInvalid(`${identifier} is arc ${known.arc} under ${parent || 'the root'}, not ${arc}`);
      arcs.push(arc);
    } else {
      if (!known || !known.nameForm) {
        throw new OidInvalid(`"${identifier}" alone is not a standardized name under ${parent || 'the root'}; write ${identifier}(number)`);
      }
      arcs.push(known.arc);
    }
  }
  return oidFromArcs(arcs);
}

/** `{ name(number) ... }` with the standard identifiers where known. */
export function formatOidValueNotation(oid: Oid): string {
  const parts = oid.arcs.map((arc, i) => {
    const id = findIdentifier(oid.arcs.slice(0, i + 1).join('.'));
    return id ? `${id}(${arc})` : String(arc);
  });
  return `{ ${parts.join(' ')} }`;
}
