import { IdentifierInvalid, IdentifierUnsupported } from '../errors.js';
import { parseHandle, type Handle } from './handle.js';

/**
 * Dispatches an identifier's canonical text form to its family. Handles may be written
 * `hdl:20.5000/abc` or bare; the other families' schemes are recognised and answered as not yet
 * supported until their issues land.
 */
export type Identifier = { readonly family: 'handle'; readonly handle: Handle };

const OTHER_SCHEMES = /^(urn:oid:|its:|imei:|https?:\/\/|\/01\/|oid:)/i;

export function parseIdentifier(text: string): Identifier {
  if (typeof text !== 'string' || text.length === 0) throw new IdentifierInvalid('Identifier is empty');
  if (/^hdl:/i.test(text)) return { family: 'handle', handle: parseHandle(text.slice(4)) };
  if (OTHER_SCHEMES.test(text)) throw new IdentifierUnsupported(`Identifier scheme of "${text.slice(0, 16)}" is not supported yet`);
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) && !text.includes('/')) throw new IdentifierUnsupported('Unknown identifier scheme');
  return { family: 'handle', handle: parseHandle(text) };
}
