/** Cairn's library surface: named re-exports of the pure core and the service entry points. */
export { loadConfig, type Config } from './config.js';
export * from './errors.js';
export { parseHandle, isHandle, foldHandleCase, type Handle } from './ids/handle.js';
export { parseIdentifier, type Identifier } from './ids/scheme.js';
export { encodeValue, decodeValue } from './records/encoding.js';
export { encodeAdmin, decodeAdmin, encodeValueList, decodeValueList, type AdminRef } from './records/admin.js';
export { AdminPermission } from './records/permissions.js';
export { valueFromJson, valueToJson, type HandleValueJson } from './records/handle-json.js';
export type { HandleValue, ValueReference } from './records/value.js';
export type { StoredRecord, Tombstone } from './records/record.js';
export { SIGNING_ALGORITHMS, type SigningAlg } from './signing/algorithms.js';
export { Signer } from './signing/signer.js';
export { valueDigest, verifyRecordSignature, withSignature, type SignaturePayload } from './signing/record-signature.js';
export { buildApp } from './http/app.js';
export { startService, type Service } from './service/bootstrap.js';
export { runServer } from './server.js';
export { parseOid, isOid, oidFromArcs, type Oid } from './ids/oid.js';
export { encodeOid, decodeOid, encodeRelativeOid, decodeRelativeOid } from './asn1/oid-der.js';
