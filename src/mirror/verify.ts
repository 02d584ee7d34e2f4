import { CairnError, MirrorFeedInvalid, SignatureInvalid } from '../errors.js';
import { isoSeconds, valueFromJson } from '../records/handle-json.js';
import type { Family, StoredRecord, Tombstone } from '../records/record.js';
import type { HandleValue } from '../records/value.js';
import { decodeCompact } from '../signing/jws.js';
import { SIGNATURE_TYPE, signedValues, valueDigest, type SignaturePayload } from '../signing/record-signature.js';
import type { PrimaryKeys } from './primary-keys.js';

/**
 * What a mirror accepts from its primary, checked before anything is stored.
 *
 * The primary publishes every version of a record at `GET /api/history/{id}` in the Handle.Net v9
 * JSON view: per version its number, status, time, tombstone and publicly readable values. The
 * mirror rebuilds each value's RFC 3651 bytes from that view and checks the version's
 * `HS_SIGNATURE` against the primary's JWKS:
 *
 * - the JWS verifies with the key its `kid` names (the key decides the algorithm);
 * - its `sub` names this record (`<handle>` or `urn:oid:<dotted>`);
 * - its `digests` are exactly the SHA-256 digests of the public values present, no more, no fewer
 *   (a flipped byte anywhere in a value, a value added or left out, all fail here);
 * - its `iat` is the version's `updated` time, and no value is newer than it (the primary signs
 *   at write time, so this ties the unsigned times of the view to the signature).
 *
 * Not covered by the primary's signature, so taken as sent (use https to the primary): version
 * numbers, status and tombstone reasons, and values only admins may read (which the history view
 * does not show and the mirror therefore never holds). The signature's validity window is not
 * enforced: the mirror serves what the primary serves; readers judge `exp` themselves.
 */

export interface HistoryVersion {
  readonly version: number;
  readonly status: 'active' | 'tombstoned';
  readonly updated: string;
  readonly tombstone?: { readonly reason?: unknown; readonly deletedAt?: unknown; readonly successor?: unknown };
  readonly values: readonly unknown[];
}

/** `GET /api/history/{id}` as the primary answers it. */
export interface HistoryDoc {
  readonly id: string;
  readonly versions: readonly HistoryVersion[];
}

/** The record a feed entry names, as the mirror stores it. */
export interface Target {
  readonly family: Family;
  /** Store key (case-folded handle, `oid:<OidKey>`, `its:<identity key>` or `its-issuer:<issuer key>`). */
  readonly key: string;
  /** The record's id for this key from a signature's `sub`, or undefined when `sub` is not this record. */
  idFromSub(sub: string): string | undefined;
}

const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** The primary's times: ISO-8601 UTC to the second, exactly as it formats them. */
export function parseIsoSeconds(text: unknown, what: string): number {
  const ms = typeof text === 'string' && ISO_SECONDS.test(text) ? Date.parse(text) : NaN;
  const seconds = ms / 1000;
  if (!Number.isInteger(seconds) || seconds < 0 || isoSeconds(seconds) !== text) throw new MirrorFeedInvalid(`${what} is not an ISO-8601 UTC time to the second: ${JSON.stringify(text)}`);
  return seconds;
}

/** One value of the JSON view back to the value it renders (timestamp included). */
export function valueFromView(json: unknown, at: string): HandleValue {
  let value: HandleValue;
  try {
    value = valueFromJson(json, 0, at);
  } catch (e) {
    if (e instanceof CairnError) throw new MirrorFeedInvalid(`${at}: ${e.message}`, { cause: e.code });
    throw e;
  }
  const ts = (json as { timestamp?: unknown }).timestamp;
  return { ...value, timestamp: ts === undefined ? 0 : parseIsoSeconds(ts, `${at}.timestamp`) };
}

/** Checks the shape of a history document: versions 1..n in order, each with its members. */
export function checkHistory(doc: unknown, id: string): HistoryDoc {
  const d = doc as Partial<HistoryDoc> | null;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.versions) || d.versions.length === 0) {
    throw new MirrorFeedInvalid(`The primary's history of ${id} has no versions`);
  }
  d.versions.forEach((v: Partial<HistoryVersion> | null, i) => {
    if (typeof v !== 'object' || v === null || v.version !== i + 1) throw new MirrorFeedInvalid(`The primary's history of ${id} lists version ${String(v?.version)} where ${i + 1} belongs`);
    if (v.status !== 'active' && v.status !== 'tombstoned') throw new MirrorFeedInvalid(`Version ${i + 1} of ${id} has status ${String(v.status)}`);
    if (!Array.isArray(v.values)) throw new MirrorFeedInvalid(`Version ${i + 1} of ${id} has no values`);
    if (v.status === 'tombstoned' && (typeof v.tombstone !== 'object' || v.tombstone === null)) throw new MirrorFeedInvalid(`Version ${i + 1} of ${id} is tombstoned without a tombstone`);
  });
  return d as HistoryDoc;
}

/**
 * The record of `version` in a checked history document, verified; throws ERR_SIGNATURE_INVALID
 * or ERR_MIRROR_FEED_INVALID. `previous` is what the mirror holds for the key (versions only go
 * forward in time).
 */
export function verifiedVersion(target: Target, doc: HistoryDoc, version: number, keys: PrimaryKeys, previous: StoredRecord | undefined): StoredRecord {
  const v = doc.versions[version - 1];
  if (!v) throw new MirrorFeedInvalid(`The primary's history of ${doc.id} has ${doc.versions.length} versions, not ${version}`);
  const at = `${doc.id} version ${version}`;
  const values = v.values.map((json, i) => valueFromView(json, `${at} values[${i}]`));
  for (let i = 1; i < values.length; i++) {
    if (values[i]!.index <= values[i - 1]!.index) throw new MirrorFeedInvalid(`${at}: values are not in ascending index order`);
  }
  const updated = parseIsoSeconds(v.updated, `${at} updated`);
  const created = parseIsoSeconds(doc.versions[0]!.updated, `${doc.id} version 1 updated`);
  let tombstone: Tombstone | undefined;
  if (v.status === 'tombstoned') {
    const t = v.tombstone!;
    if (typeof t.reason !== 'string' || (t.successor !== undefined && typeof t.successor !== 'string')) throw new MirrorFeedInvalid(`${at}: malformed tombstone`);
    tombstone = { reason: t.reason, at: parseIsoSeconds(t.deletedAt, `${at} tombstone.deletedAt`), ...(t.successor ? { successor: t.successor } : {}) };
  }
  const payload = verifySignedValues(values, keys, at);
  const id = target.idFromSub(payload.sub);
  if (id === undefined) throw new SignatureInvalid(`${at}: the signature is for ${payload.sub}`);
  if (payload.iat !== updated) throw new SignatureInvalid(`${at}: signed at ${isoSeconds(payload.iat)}, but the version says it was written at ${v.updated}`);
  if (tombstone && tombstone.at !== updated) throw new MirrorFeedInvalid(`${at}: tombstone time differs from the version's time`);
  if (previous && previous.updated > updated) throw new MirrorFeedInvalid(`${at}: written before the version the mirror holds (${previous.version})`);
  return {
    id,
    family: target.family,
    version,
    created,
    updated,
    status: v.status,
    // The primary does not publish who created a record; nothing on a mirror reads it.
    owner: '',
    values,
    ...(tombstone ? { tombstone } : {}),
  };
}

/**
 * Verifies the HS_SIGNATURE among `values` against the primary's keys and the values present.
 * Returns the signed payload; throws ERR_SIGNATURE_INVALID.
 */
export function verifySignedValues(values: readonly HandleValue[], keys: PrimaryKeys, at: string): SignaturePayload {
  const signatures = values.filter((v) => v.type === SIGNATURE_TYPE);
  if (signatures.length !== 1) throw new SignatureInvalid(`${at}: ${signatures.length === 0 ? 'no' : signatures.length} HS_SIGNATURE values`);
  const sig = signatures[0]!;
  const token = Buffer.from(sig.data).toString('utf8');
  let payload: SignaturePayload;
  try {
    payload = keys.verify(token).payload as SignaturePayload;
  } catch (e) {
    if (e instanceof SignatureInvalid) throw new SignatureInvalid(`${at}: ${e.message}`);
    throw e;
  }
  const p = payload as Partial<SignaturePayload> | null;
  if (typeof p !== 'object' || p === null || typeof p.sub !== 'string' || !Number.isInteger(p.iat) || p.digests?.alg !== 'SHA-256' || !Array.isArray(p.digests.digests)) {
    throw new SignatureInvalid(`${at}: the signature's payload is not a Handle.Net record signature`);
  }
  const expected = signedValues(values).map((v) => `${v.index}:${valueDigest(v)}`).sort();
  const signed = p.digests.digests.map((d) => `${String(d?.index)}:${String(d?.digest)}`).sort();
  const missing = signed.filter((d) => !expected.includes(d));
  const unsigned = expected.filter((d) => !signed.includes(d));
  if (missing.length > 0 || unsigned.length > 0 || expected.length !== signed.length) {
    const indexes = [...new Set([...missing, ...unsigned].map((d) => d.split(':')[0]))].join(', ');
    throw new SignatureInvalid(`${at}: digest mismatch at value index ${indexes}: the values are not the ones the primary signed`);
  }
  if (sig.timestamp !== p.iat || values.some((v) => v.timestamp > p.iat!)) throw new SignatureInvalid(`${at}: value timestamps are later than the signature`);
  return payload;
}

/** The kid named by a version's signature, for deciding whether to refresh the JWKS first. */
export function signatureKidOf(v: HistoryVersion | undefined): string | undefined {
  const sig = v?.values.find((x) => (x as { type?: unknown } | null)?.type === SIGNATURE_TYPE) as { data?: { value?: unknown } } | undefined;
  const token = sig?.data?.value;
  if (typeof token !== 'string') return undefined;
  try {
    const kid = decodeCompact(token).header.kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}
