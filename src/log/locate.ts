import { parseIssuer } from '../families/its/its-service.js';
import { ITS_ISSUER_ID, itsIssuerRecordKey, itsSignRecordKey } from '../families/its/its-storage.js';
import { oidRecordKey } from '../families/oid/oid-service.js';
import { parseIdentifier } from '../ids/scheme.js';

/**
 * The storage key of the record an identifier names, for finding its change-log entries: the
 * canonical text forms `/api/resolve` takes (`hdl:` or bare handles, `urn:oid:`, standard-name
 * OID-IRIs, `its:sign:`), bare dotted OIDs as the change log records them, and `its-issuer:CC.N`.
 * A malformed identifier throws the family's own error.
 */
export function recordKeyOf(text: string): string {
  if (text.startsWith(ITS_ISSUER_ID)) return itsIssuerRecordKey(parseIssuer(text.slice(ITS_ISSUER_ID.length)));
  // The change log names OIDs by their dotted form alone; a handle never starts with a digit-dot-digit run and no slash.
  const id = parseIdentifier(/^\d+(\.\d+)*$/.test(text) ? `urn:oid:${text}` : text);
  switch (id.family) {
    case 'handle':
      return id.handle.key;
    case 'oid':
      return oidRecordKey(id.oid);
    case 'its':
      return itsSignRecordKey(id.its);
  }
}
