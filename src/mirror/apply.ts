import { parseIssuer } from '../families/its/its-service.js';
import { ITS_ISSUER_ID, itsIssuerWrite, itsSignWrite } from '../families/its/its-storage.js';
import { oidRecordWrite, renderOidView } from '../families/oid/oid-service.js';
import { valueIndexTerms } from '../families/doa/reverse-index.js';
import { renderHandleView } from '../families/doa/views.js';
import { foldHandleCase, parseHandle } from '../ids/handle.js';
import { parseItsSignId } from '../ids/its-sign.js';
import type { Oid } from '../ids/oid.js';
import type { StoredRecord } from '../records/record.js';
import { SEP, type RecordWrite } from '../store/store.js';
import { withMirroredConfidential } from './oid-confidential.js';

/**
 * What the mirror stores beside a verified record: the same pre-rendered view and index terms the
 * primary's services store with theirs, so that every read route (the hot path included) answers
 * from a mirror exactly as from the primary. The renderers are the primary's own; the index terms
 * follow `HandleService` and `OidService` (tests/unit/mirror-apply.test.ts compares the stores).
 */

/** A handle record's write: the Handle.Net view, the prefix index and the reverse-lookup terms. */
export function handleWrite(record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  const terms = (r: StoredRecord | undefined): string[] =>
    r?.status === 'active' ? [`prefix${SEP}${foldHandleCase(parseHandle(r.id).prefix)}`, ...valueIndexTerms(r)] : [];
  return { key: foldHandleCase(record.id), record, previous, view: renderHandleView(record), indexTerms: terms(record), previousIndexTerms: terms(previous) };
}

/**
 * An OID arc's write: what OidService stores, except that the view's `confidential` says what the
 * mirror can know (src/mirror/oid-confidential.ts), not what its partial values would suggest.
 */
export function oidWrite(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  const write = oidRecordWrite(oid, record, previous);
  if (record.status !== 'active') return write;
  return { ...write, view: { status: 200, body: Buffer.from(JSON.stringify(withMirroredConfidential(renderOidView(oid, record, false), record))) } };
}

/** An ITS sign's or issuer's write: exactly what ItsService stores (its-storage.ts). */
export function itsWrite(record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  if (record.id.startsWith(ITS_ISSUER_ID)) return itsIssuerWrite(parseIssuer(record.id.slice(ITS_ISSUER_ID.length)), record, previous);
  return itsSignWrite(parseItsSignId(record.id), record, previous);
}
