import { dltTxTerm } from '../families/oid/oid-dlt.js';
import { valuesToRegistration } from '../families/oid/oid-record.js';
import { oidRecordKey, renderOidView } from '../families/oid/oid-service.js';
import { valueIndexTerms } from '../families/doa/reverse-index.js';
import { renderHandleView, tombstoneJson } from '../families/doa/views.js';
import { foldHandleCase, parseHandle } from '../ids/handle.js';
import { labelKey } from '../ids/oid-label.js';
import type { Oid } from '../ids/oid.js';
import type { StoredRecord } from '../records/record.js';
import { encodeOidKey } from '../store/oid-key.js';
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

/** An OID arc's write: its view, and the children, label, active-arc and ledger terms of an active arc. */
export function oidWrite(oid: Oid, record: StoredRecord, previous: StoredRecord | undefined): RecordWrite {
  const view =
    record.status === 'active'
      ? { status: 200, body: Buffer.from(JSON.stringify(renderOidView(oid, record, false))) }
      : { status: 410, body: Buffer.from(JSON.stringify({ oid: oid.text, status: 'tombstoned', tombstone: tombstoneJson(record.tombstone) })) };
  return { key: oidRecordKey(oid), record, previous, view, indexTerms: oidIndexTerms(oid, record), previousIndexTerms: oidIndexTerms(oid, previous) };
}

function oidIndexTerms(oid: Oid, r: StoredRecord | undefined): string[] {
  if (r?.status !== 'active') return [];
  const parent = oid.arcs.slice(0, -1);
  const reg = valuesToRegistration(r.values);
  const labels = new Set([...reg.asn1Ids, ...reg.unicodeLabels].map(labelKey));
  return [
    ...(oid.arcs.length > 2 ? [`oidchild${SEP}${encodeOidKey(parent)}`] : []),
    'oidactive',
    ...[...labels].map((key) => `oidlabel${SEP}${encodeOidKey(parent)}${SEP}${key}`),
    ...(reg.dltTx ? [dltTxTerm(reg.dltTx)] : []),
  ];
}
