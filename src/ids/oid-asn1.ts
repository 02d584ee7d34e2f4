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

export function parseOidValueNotation(text: string): Oid {
  const m = /^\s*\{([^{}]*)\}\s*$/.exec(text);
  if (!m) throw new OidInvalid('ASN.1 value notation is written { component component ... }');
  const components = m[1]!.replace(/\s*\(\s*/g, '(').replace(/\s*\)/g, ')').trim().split(/\s+/).filter((c) => c !== '');
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
