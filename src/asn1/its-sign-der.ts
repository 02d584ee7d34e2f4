import * as asn1js from 'asn1js';
import { DerInvalid, ItsIdInvalid } from '../errors.js';
import {
  GDD_CATEGORIES,
  ITS_KINDS,
  itsSignIdFrom,
  VC_CLASSES,
  VC_OPTIONS,
  type GddCategory,
  type ItsKind,
  type ItsSignCode,
  type ItsSignId,
  type ItsSignType,
} from '../ids/its-sign.js';

/**
 * DER form of an ITS sign identifier (issue 5), for compact binary use (V2X payloads, QR codes,
 * NFC tags). It carries the identity and the asserted type; the check character is left out
 * because it is computed from the identity and DER needs no transcription check.
 *
 *   CairnItsSignId DEFINITIONS IMPLICIT TAGS ::= BEGIN
 *
 *   ItsSignId ::= SEQUENCE {
 *     kind    ItsKind,
 *     issuer  Issuer,
 *     serial  INTEGER (0..281474976710655),        -- 2^48-1
 *     type    [0] SignType OPTIONAL
 *   }
 *
 *   ItsKind ::= ENUMERATED { sign(0), plate(1), vms(2), sgnl(3), isct(4) }
 *
 *   Issuer ::= SEQUENCE {
 *     country    PrintableString (SIZE (2)) (FROM ("A".."Z")),   -- ISO 3166-1 alpha-2, assigned
 *     authority  INTEGER (0..16383)                               -- ISO 14816 IssuerIdentifier
 *   }
 *
 *   SignType ::= SEQUENCE {
 *     code   SignCode,
 *     value  INTEGER (0..65535) OPTIONAL
 *   }
 *
 *   SignCode ::= CHOICE {
 *     vc    [0] ViennaCode,
 *     gdd   [1] GddCode,
 *     itis  [2] INTEGER (0..65535),
 *     nat   [3] PrintableString (SIZE (4..19)),    -- "DE-274": country, "-", catalogue code
 *     any   [4] PrintableString (SIZE (1..16))
 *   }
 *
 *   -- The integers follow ISO TS 19321's VcClass and VcOption (classA(0) .. classH(7); a(1) .. g(7)).
 *   ViennaCode ::= SEQUENCE {
 *     signClass  INTEGER (0..7),
 *     number     INTEGER (1..64),
 *     option     INTEGER (1..7) OPTIONAL
 *   }
 *
 *   GddCode ::= SEQUENCE {                         -- ISO 14823
 *     category  INTEGER (11 | 12 | 13 | 21 | 31 | 32),
 *     nature    INTEGER (1..9),
 *     serial    INTEGER (0..99)
 *   }
 *
 *   END
 *
 * Strings hold exactly the canonical (upper-case) text of the identifier's fields. Decoding is
 * strict: asn1js reads the BER structure, the tags are checked one by one, the fields go through
 * the same rules as the text form (ERR_ITS_ID_INVALID for a field out of range or in lower case),
 * and the result is re-encoded and compared byte for byte (ERR_DER_INVALID otherwise), so exactly
 * one byte string is accepted for each value: no indefinite or non-minimal lengths, no padded
 * integers, no trailing bytes.
 */

/** Far above the largest valid encoding (about 70 octets). */
export const MAX_ITS_DER_OCTETS = 256;

const CONTEXT = 3; // asn1js tag class number of context-specific tags
const UNIVERSAL = 1;

/** `[n] IMPLICIT SEQUENCE { ... }`: constructed, context-specific. */
function contextConstructed(tagNumber: number, fields: asn1js.BaseBlock[]): asn1js.Constructed {
  return new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber }, value: fields });
}

/** `[n] IMPLICIT INTEGER` or `PrintableString`: the universal type's contents under a context tag. */
function contextPrimitive(tagNumber: number, content: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({ idBlock: { tagClass: CONTEXT, tagNumber }, valueHex: content });
}

function integer(n: number): asn1js.Integer {
  return asn1js.Integer.fromBigInt(BigInt(n));
}

function integerContents(n: number): Uint8Array {
  return integer(n).valueBlock.valueHexView;
}

function printable(text: string): asn1js.PrintableString {
  return new asn1js.PrintableString({ value: text });
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function encodeCode(code: ItsSignCode): asn1js.BaseBlock {
  switch (code.scheme) {
    case 'vc': {
      const fields: asn1js.BaseBlock[] = [integer(VC_CLASSES.indexOf(code.signClass)), integer(code.number)];
      if (code.option !== undefined) fields.push(integer(VC_OPTIONS.indexOf(code.option) + 1));
      return contextConstructed(0, fields);
    }
    case 'gdd':
      return contextConstructed(1, [integer(code.category), integer(code.nature), integer(code.serial)]);
    case 'itis':
      return contextPrimitive(2, integerContents(code.code));
    case 'nat':
      return contextPrimitive(3, ascii(`${code.country}-${code.code}`));
    case 'any':
      return contextPrimitive(4, ascii(code.code));
  }
}

function encodeType(type: ItsSignType): asn1js.BaseBlock {
  const fields = [encodeCode(type)];
  if (type.value !== undefined) fields.push(integer(type.value));
  return contextConstructed(0, fields);
}

export function encodeItsSignIdDer(id: ItsSignId): Buffer {
  const v = itsSignIdFrom(id);
  const fields: asn1js.BaseBlock[] = [
    new asn1js.Enumerated({ value: ITS_KINDS.indexOf(v.kind) }),
    new asn1js.Sequence({ value: [printable(v.country), integer(v.authority)] }),
    integer(v.serial),
  ];
  if (v.type !== undefined) fields.push(encodeType(v.type));
  return Buffer.from(new asn1js.Sequence({ value: fields }).toBER());
}

// ---- decoding ---------------------------------------------------------------------------------

function expectTag(block: asn1js.BaseBlock | undefined, tagClass: number, tagNumber: number, constructed: boolean, what: string): asn1js.BaseBlock {
  if (!block) throw new DerInvalid(`ITS sign ID: ${what} missing`);
  const id = block.idBlock;
  if (id.tagClass !== tagClass || id.tagNumber !== tagNumber || id.isConstructed !== constructed) {
    throw new DerInvalid(`ITS sign ID: ${what} has the wrong tag`);
  }
  return block;
}

function children(block: asn1js.BaseBlock, min: number, max: number, what: string): asn1js.BaseBlock[] {
  const value: unknown = (block.valueBlock as { value?: unknown }).value;
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    throw new DerInvalid(`ITS sign ID: ${what} has ${Array.isArray(value) ? value.length : 'no'} components; ${min}..${max}`);
  }
  return value as asn1js.BaseBlock[];
}

function contents(block: asn1js.BaseBlock): Uint8Array {
  return (block.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
}

/** A non-negative integer of at most 7 content octets (2^48-1 needs 7 with its sign octet). */
function readUnsigned(block: asn1js.BaseBlock, what: string): number {
  const bytes = contents(block);
  if (bytes.length === 0 || bytes.length > 7) throw new DerInvalid(`ITS sign ID: ${what} has ${bytes.length} content octets`);
  if (bytes[0]! & 0x80) throw new ItsIdInvalid(`ITS sign ID: ${what} is negative`, { field: what });
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

function readPrintable(block: asn1js.BaseBlock, what: string): string {
  const bytes = contents(block);
  for (const b of bytes) if (b < 0x20 || b > 0x7e) throw new DerInvalid(`ITS sign ID: ${what} is not printable ASCII`);
  return String.fromCharCode(...bytes);
}

function readInteger(block: asn1js.BaseBlock | undefined, what: string): number {
  return readUnsigned(expectTag(block, UNIVERSAL, 2, false, what), what);
}

function decodeCode(block: asn1js.BaseBlock | undefined): ItsSignCode {
  if (!block) throw new DerInvalid('ITS sign ID: sign code missing');
  if (block.idBlock.tagClass !== CONTEXT) throw new DerInvalid('ITS sign ID: sign code is not a context-specific tag');
  switch (block.idBlock.tagNumber) {
    case 0: {
      const f = children(expectTag(block, CONTEXT, 0, true, 'vc'), 2, 3, 'vc');
      const signClass = VC_CLASSES[readInteger(f[0], 'code')];
      if (signClass === undefined) throw new ItsIdInvalid('ITS sign ID: Vienna class is not 0..7', { field: 'code' });
      const number = readInteger(f[1], 'code');
      if (f[2] === undefined) return { scheme: 'vc', signClass, number };
      const option = VC_OPTIONS[readInteger(f[2], 'code') - 1];
      if (option === undefined) throw new ItsIdInvalid('ITS sign ID: Vienna option is not 1..7', { field: 'code' });
      return { scheme: 'vc', signClass, number, option };
    }
    case 1: {
      const f = children(expectTag(block, CONTEXT, 1, true, 'gdd'), 3, 3, 'gdd');
      const category = readInteger(f[0], 'code');
      if (!(GDD_CATEGORIES as readonly number[]).includes(category)) throw new ItsIdInvalid(`ITS sign ID: ISO 14823 category ${category}`, { field: 'code' });
      return { scheme: 'gdd', category: category as GddCategory, nature: readInteger(f[1], 'code'), serial: readInteger(f[2], 'code') };
    }
    case 2:
      return { scheme: 'itis', code: readUnsigned(expectTag(block, CONTEXT, 2, false, 'itis'), 'code') };
    case 3: {
      const text = readPrintable(expectTag(block, CONTEXT, 3, false, 'nat'), 'code');
      const dash = text.indexOf('-');
      if (dash < 0) throw new ItsIdInvalid('ITS sign ID: national code has no "-"', { field: 'code' });
      return { scheme: 'nat', country: text.slice(0, dash), code: text.slice(dash + 1) };
    }
    case 4:
      return { scheme: 'any', code: readPrintable(expectTag(block, CONTEXT, 4, false, 'any'), 'code') };
    default:
      throw new DerInvalid(`ITS sign ID: sign code tag [${block.idBlock.tagNumber}] is not a known scheme`);
  }
}

function decodeType(block: asn1js.BaseBlock): ItsSignType {
  const f = children(expectTag(block, CONTEXT, 0, true, 'type'), 1, 2, 'type');
  const code = decodeCode(f[0]);
  return f[1] === undefined ? code : { ...code, value: readInteger(f[1], 'value') };
}

export function decodeItsSignIdDer(der: Uint8Array): ItsSignId {
  if (der.length > MAX_ITS_DER_OCTETS) throw new DerInvalid(`ITS sign ID: ${der.length} octets; at most ${MAX_ITS_DER_OCTETS}`);
  let root: asn1js.BaseBlock;
  try {
    const parsed = asn1js.fromBER(new Uint8Array(der));
    if (parsed.offset !== der.length) throw new Error('not exactly one element');
    root = parsed.result;
  } catch {
    throw new DerInvalid('ITS sign ID: not one well-formed DER element');
  }
  const f = children(expectTag(root, UNIVERSAL, 16, true, 'ItsSignId'), 3, 4, 'ItsSignId');
  const kind: ItsKind | undefined = ITS_KINDS[readUnsigned(expectTag(f[0], UNIVERSAL, 10, false, 'kind'), 'kind')];
  if (kind === undefined) throw new ItsIdInvalid('ITS sign ID: kind is not 0..4', { field: 'kind' });
  const issuer = children(expectTag(f[1], UNIVERSAL, 16, true, 'issuer'), 2, 2, 'issuer');
  const country = readPrintable(expectTag(issuer[0], UNIVERSAL, 19, false, 'country'), 'country');
  const authority = readInteger(issuer[1], 'authority');
  const serial = readInteger(f[2], 'serial');
  const type = f[3] === undefined ? {} : { type: decodeType(f[3]) };
  const id = itsSignIdFrom({ kind, country, authority, serial, ...type });
  if (!encodeItsSignIdDer(id).equals(der)) throw new DerInvalid('ITS sign ID: does not re-encode to the same bytes (not DER)');
  return id;
}
