import { OID_TYPES } from '../families/oid/oid-record.js';
import type { StoredRecord } from '../records/record.js';
import { SIGNATURE_TYPE } from '../signing/record-signature.js';

/**
 * Whether an arc's registrant is confidential, as far as a mirror can tell. The primary marks a
 * registrant confidential by making its `OID.REGISTRANT` and `OID.FIRST_REGISTRANT` values
 * admin-read only; its record signature covers the public values only, and the history a mirror
 * copies shows the public values only. So the mirror holds no registrant values for a
 * confidential arc, exactly as for an arc that never had a registrant, and must not claim
 * `confidential: false` for it. What the mirror does know, from values the primary signed:
 *
 * - a public registrant value: the registrant is not confidential (`false`);
 * - a gap in the indexes of the public values below the signature: the registry numbers an
 *   arc's values 1, 2, 3, … and hides registrant values only, so something is hidden there and
 *   the registrant is confidential (`true`; the indexes are part of the signed digests);
 * - otherwise it cannot tell (`null`): no registrant, or a confidential one numbered last.
 *   Ask the primary (`auth=true` reads are redirected there).
 */
export function mirroredConfidential(record: StoredRecord): boolean | null {
  const values = record.values.filter((v) => v.type !== SIGNATURE_TYPE);
  if (values.some((v) => v.type === OID_TYPES.registrant || v.type === OID_TYPES.firstRegistrant)) return false;
  const indexes = values.map((v) => v.index).sort((a, b) => a - b);
  if (indexes.some((index, i) => index !== i + 1)) return true;
  return null;
}

/** An OID view (JSON, as the primary renders it) with `confidential` as the mirror knows it. */
export function withMirroredConfidential<T extends { confidential: boolean }>(view: T, record: StoredRecord): Omit<T, 'confidential'> & { confidential: boolean | null } {
  return { ...view, confidential: mirroredConfidential(record) };
}
