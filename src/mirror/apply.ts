import { oidRecordWrite } from '../families/oid/oid-service.js';
import { valueIndexTerms } from '../families/doa/reverse-index.js';
import { renderHandleView } from '../families/doa/views.js';
import { foldHandleCase, parseHandle } from '../ids/handle.js';
import type { Oid } from '../ids/oid.js';
import type { StoredRecord } from '../records/record.js';
import { SEP, type RecordWrite } from '../store/store.js';

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

/** An OID arc's write: exactly what OidService stores. */
export function oidWrite(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  return oidRecordWrite(oid, record, previous);
}
