import { ERRORS } from '../../errors.js';
import { isoSeconds, renderValueJson, valueToJson, type HandleValueJson } from '../../records/handle-json.js';
import type { StoredRecord, Tombstone } from '../../records/record.js';
import { isPublicRead, type HandleValue } from '../../records/value.js';
import { findSignature } from '../../signing/record-signature.js';

/** Values a resolver sees: the publicly readable ones (HS_SECKEY stays admin-only). */
export function publicValues(values: readonly HandleValue[]): HandleValue[] {
  return values.filter(isPublicRead);
}

/** `GET /api/handles/{handle}` body, exactly Handle.Net's shape. */
export function handleResponse(handle: string, values: readonly HandleValue[]): { responseCode: 1; handle: string; values: HandleValueJson[] } {
  return { responseCode: 1, handle, values: values.map(valueToJson) };
}

/** A tombstone as clients see it: reason, deletion time, successor. */
export function tombstoneJson(t: Tombstone | undefined): Record<string, string> {
  return t ? { reason: t.reason, deletedAt: isoSeconds(t.at), ...(t.successor ? { successor: t.successor } : {}) } : {};
}

/** The pre-rendered answer the hot read path serves for a record without filters. */
export function renderHandleView(record: StoredRecord): { status: number; body: Buffer } {
  if (record.status === 'tombstoned') {
    const { status, handleCode, title } = ERRORS.ERR_HANDLE_DELETED;
    const body = { responseCode: handleCode, message: title, handle: record.id, code: 'ERR_HANDLE_DELETED', tombstone: tombstoneJson(record.tombstone) };
    return { status, body: Buffer.from(JSON.stringify(body)) };
  }
  const values = publicValues(record.values).map(renderValueJson).join(',');
  return { status: 200, body: Buffer.from(`{"responseCode":1,"handle":${JSON.stringify(record.id)},"values":[${values}]}`) };
}

/** `GET /api/resolve/{id}`: the record, its bookkeeping and its signature, for any family. */
export function resolveView(record: StoredRecord, issuerKid: (token: string) => { kid?: string; alg?: string }) {
  const values = publicValues(record.values);
  const sig = findSignature(values);
  const jws = sig ? Buffer.from(sig.data).toString('utf8') : undefined;
  return {
    id: `hdl:${record.id}`,
    family: record.family,
    handle: record.id,
    version: record.version,
    status: record.status,
    created: isoSeconds(record.created),
    updated: isoSeconds(record.updated),
    values: values.map(valueToJson),
    signature: sig && jws ? { index: sig.index, jws, ...issuerKid(jws) } : null,
  };
}
