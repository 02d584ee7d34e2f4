import { IdentifierInvalid, IdentifierUnsupported } from '../errors.js';
import { parseHandle, type Handle } from './handle.js';
import { parseItsSignId, type ItsSignId } from './its-sign.js';
import { parseOidIri } from './oid-iri.js';
import { parseOid, type Oid } from './oid.js';

/**
 * Dispatches an identifier's canonical text form to its family. Handles may be written
 * `hdl:20.5000/abc` or bare; OIDs `urn:oid:2.999.1` or as an OID-IRI `oid:/Example/1`; ITS road
 * signs `its:sign:DE.417:3K7QJ2~R` (its-sign.ts; a malformed one throws ERR_ITS_ID_INVALID or
 * ERR_ITS_CHECK_MISMATCH); the other families' schemes are recognised and answered as not yet
 * supported until their issues land.
 */
export type Identifier =
  | { readonly family: 'handle'; readonly handle: Handle }
  | { readonly family: 'oid'; readonly oid: Oid }
  | { readonly family: 'its'; readonly its: ItsSignId };

const OTHER_SCHEMES = /^(imei:|https?:\/\/|\/01\/)/i;

export function parseIdentifier(text: string): Identifier {
  if (typeof text !== 'string' || text.length === 0) throw new IdentifierInvalid('Identifier is empty');
  if (/^hdl:/i.test(text)) return { family: 'handle', handle: parseHandle(text.slice(4)) };
  if (/^urn:oid:/i.test(text)) return { family: 'oid', oid: parseOid(text.slice(8)) };
  if (/^oid:\//i.test(text)) return { family: 'oid', oid: parseOidIri(text) };
  if (/^its:/i.test(text)) return { family: 'its', its: parseItsSignId(text) };
  if (OTHER_SCHEMES.test(text)) throw new IdentifierUnsupported(`Identifier scheme of "${text.slice(0, 16)}" is not supported yet`);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) && !text.includes('/')) throw new IdentifierUnsupported('Unknown identifier scheme');
  return { family: 'handle', handle: parseHandle(text) };
}
