/**
 * Cairn's stable error codes. One table maps each code to its HTTP status, the Handle.Net
 * `responseCode` used on the Handle REST paths, and a short title; one class per code lets callers
 * `catch (e) { if (e instanceof HandleNotFound) ... }` or match on `e.code`, never on the message.
 *
 * The README's errors table is checked against this table by a test.
 */

export interface ErrorSpec {
  /** HTTP status answered for this error. */
  readonly status: number;
  /** Handle.Net responseCode answered on /api/handles paths (RFC 3652 section 2.2.2.3 codes). */
  readonly handleCode: number;
  /** Short human title, also the problem+json `title`. */
  readonly title: string;
}

export const ERRORS = {
  ERR_HANDLE_INVALID: { status: 400, handleCode: 102, title: 'Invalid handle' },
  ERR_HANDLE_NOT_FOUND: { status: 404, handleCode: 100, title: 'Handle not found' },
  ERR_HANDLE_EXISTS: { status: 409, handleCode: 101, title: 'Handle already exists' },
  ERR_HANDLE_DELETED: { status: 410, handleCode: 100, title: 'Handle deleted' },
  ERR_HANDLE_MISMATCH: { status: 400, handleCode: 4, title: 'Handle in body differs from the path' },
  ERR_PREFIX_NOT_HOMED: { status: 400, handleCode: 301, title: 'Prefix not served here' },
  ERR_IDENTIFIER_INVALID: { status: 400, handleCode: 102, title: 'Invalid identifier' },
  ERR_IDENTIFIER_UNSUPPORTED: { status: 400, handleCode: 2, title: 'Identifier scheme not supported' },
  ERR_VALUE_INVALID: { status: 400, handleCode: 202, title: 'Invalid handle value' },
  ERR_VALUE_FORMAT_UNKNOWN: { status: 400, handleCode: 202, title: 'Unknown value format' },
  ERR_VALUE_INDEX_DUPLICATE: { status: 400, handleCode: 202, title: 'Duplicate value index' },
  ERR_VALUE_TYPE_RESERVED: { status: 400, handleCode: 202, title: 'Value type is computed by the service' },
  ERR_VALUE_NOT_FOUND: { status: 400, handleCode: 200, title: 'Value not found' },
  ERR_VALUE_EXISTS: { status: 409, handleCode: 201, title: 'Value already exists' },
  ERR_QUERY_INVALID: { status: 400, handleCode: 4, title: 'Invalid query parameter' },
  ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, handleCode: 4, title: 'Invalid Idempotency-Key header' },
  ERR_IDEMPOTENCY_KEY_REUSED: { status: 422, handleCode: 4, title: 'Idempotency key already used for a different request' },
  ERR_HISTORY_BEFORE_CREATION: { status: 404, handleCode: 100, title: 'Record did not exist at that time' },
  ERR_BODY_INVALID: { status: 400, handleCode: 4, title: 'Invalid request body' },
  ERR_BODY_MALFORMED_JSON: { status: 400, handleCode: 4, title: 'Malformed JSON' },
  ERR_BODY_FORBIDDEN_KEY: { status: 400, handleCode: 4, title: 'Forbidden key in JSON body' },
  ERR_BODY_TOO_LARGE: { status: 413, handleCode: 4, title: 'Request body too large' },
  ERR_MEDIA_TYPE_UNSUPPORTED: { status: 415, handleCode: 4, title: 'Unsupported media type' },
  ERR_AUTH_REQUIRED: { status: 401, handleCode: 402, title: 'Authentication required' },
  ERR_AUTH_FAILED: { status: 401, handleCode: 403, title: 'Authentication failed' },
  ERR_AUTH_HEADER_INVALID: { status: 400, handleCode: 4, title: 'Malformed Authorization header' },
  ERR_AUTH_TYPE_UNSUPPORTED: { status: 400, handleCode: 4, title: 'Authentication type not supported' },
  ERR_AUTH_ALG_UNSUPPORTED: { status: 400, handleCode: 4, title: 'Signature algorithm not supported for this key' },
  ERR_AUTH_SESSION_UNKNOWN: { status: 401, handleCode: 402, title: 'Unknown session' },
  ERR_AUTH_SESSION_EXPIRED: { status: 401, handleCode: 402, title: 'Session expired' },
  ERR_AUTH_NONCE_USED: { status: 401, handleCode: 403, title: 'Session nonce already used' },
  ERR_AUTH_INSECURE_TRANSPORT: { status: 403, handleCode: 402, title: 'Credentials require TLS or loopback' },
  ERR_AUTH_RATE_LIMITED: { status: 429, handleCode: 3, title: 'Too many failed logins' },
  ERR_PERMISSION_DENIED: { status: 403, handleCode: 400, title: 'Not an administrator of this record' },
  ERR_PERMISSION_INSUFFICIENT: { status: 403, handleCode: 401, title: 'Insufficient permissions' },
  ERR_VLIST_CYCLE: { status: 409, handleCode: 202, title: 'HS_VLIST would form a cycle' },
  ERR_VLIST_TOO_DEEP: { status: 400, handleCode: 202, title: 'HS_VLIST nesting exceeds the limit' },
  ERR_PREFIX_EXISTS: { status: 409, handleCode: 101, title: 'Prefix already exists' },
  ERR_PREFIX_INVALID: { status: 400, handleCode: 102, title: 'Invalid prefix' },
  ERR_ROUTE_NOT_FOUND: { status: 404, handleCode: 4, title: 'No such resource' },
  ERR_NOT_READY: { status: 503, handleCode: 3, title: 'Service not ready' },
  ERR_OVERLOADED: { status: 503, handleCode: 3, title: 'Service overloaded' },
  ERR_INTERNAL: { status: 500, handleCode: 2, title: 'Internal error' },
  ERR_CONFIG_INVALID: { status: 500, handleCode: 2, title: 'Invalid configuration' },
  ERR_SIGNATURE_INVALID: { status: 422, handleCode: 2, title: 'Signature does not verify' },
  ERR_IMPORT_LINE_INVALID: { status: 400, handleCode: 4, title: 'Invalid import line' },
  ERR_STORE_LOCKED: { status: 503, handleCode: 2, title: 'Data directory is in use by another process' },
  ERR_STORE_CORRUPT: { status: 500, handleCode: 2, title: 'Data directory is damaged: LevelDB cannot read it' },
  ERR_STORAGE_FULL: { status: 507, handleCode: 2, title: 'No space left for the data directory: writes refused until space is freed' },
  ERR_STORAGE_WRITE_FAILED: { status: 503, handleCode: 2, title: 'The data directory could not be written: writes refused until the store reopens' },
  ERR_BACKUP_DAMAGED: { status: 400, handleCode: 4, title: 'Backup file is damaged or truncated' },
  ERR_BACKUP_UNVERIFIED: { status: 422, handleCode: 2, title: 'Backup content does not verify' },
  ERR_RESTORE_TARGET_NOT_EMPTY: { status: 409, handleCode: 4, title: 'Restore target data directory is not empty' },
  ERR_RECORD_PROTECTED: { status: 409, handleCode: 400, title: 'The service keeps this record and its keys' },
  ERR_MIRROR_READ_ONLY: { status: 400, handleCode: 301, title: 'Not a primary server: this mirror is read-only' },
  ERR_MIRROR_FEED_INVALID: { status: 502, handleCode: 2, title: 'The primary sent a record or feed entry the mirror cannot use' },
  ERR_DNS_MESSAGE_INVALID: { status: 400, handleCode: 4, title: 'Malformed DNS message' },
  ERR_DOIP_MESSAGE_INVALID: { status: 400, handleCode: 4, title: 'Malformed DOIP message' },
  ERR_DOIP_MESSAGE_TOO_LARGE: { status: 413, handleCode: 4, title: 'DOIP message exceeds a limit' },
  ERR_DOIP_TIMEOUT: { status: 408, handleCode: 4, title: 'DOIP client too slow' },
  ERR_DOIP_REQUEST_INVALID: { status: 400, handleCode: 4, title: 'Invalid DOIP request' },
  ERR_DOIP_OPERATION_UNKNOWN: { status: 400, handleCode: 4, title: 'Unknown DOIP operation' },
  ERR_DOIP_NOT_AN_OBJECT: { status: 404, handleCode: 100, title: 'Handle is not a digital object' },
  ERR_DOIP_ELEMENT_NOT_FOUND: { status: 404, handleCode: 100, title: 'No such element in the digital object' },
  ERR_VERIFY_REQUEST_INVALID: { status: 400, handleCode: 4, title: 'Invalid verification request' },
  ERR_VERIFY_EVIDENCE_INVALID: { status: 400, handleCode: 4, title: 'Malformed verification evidence' },
  ERR_VERIFY_CONTEXT_INVALID: { status: 400, handleCode: 4, title: 'Invalid verification context' },
  ERR_VERIFY_CHALLENGE_REQUIRED: { status: 400, handleCode: 4, title: 'This evidence needs a challenge' },
  ERR_VERIFY_CHALLENGE_UNKNOWN: { status: 404, handleCode: 4, title: 'Unknown verification challenge' },
  ERR_VERIFY_CHALLENGE_USED: { status: 409, handleCode: 4, title: 'Verification challenge already used' },
  ERR_VERIFY_CHALLENGE_EXPIRED: { status: 410, handleCode: 4, title: 'Verification challenge expired' },
  ERR_VERIFY_CHALLENGE_MISMATCH: { status: 409, handleCode: 4, title: 'Verification challenge was issued for another item' },
  ERR_VERIFY_RATE_LIMITED: { status: 429, handleCode: 4, title: 'Too many verification requests' },
  ERR_VERIFY_ITEM_NOT_FOUND: { status: 404, handleCode: 100, title: 'No item with this identifier' },
  ERR_OID_INVALID: { status: 400, handleCode: 4, title: 'Invalid object identifier' },
  ERR_OID_LIMIT: { status: 400, handleCode: 4, title: 'Object identifier exceeds a limit' },
  ERR_DER_INVALID: { status: 400, handleCode: 4, title: 'Invalid DER encoding' },
  ERR_OID_NOT_FOUND: { status: 404, handleCode: 100, title: 'OID not registered' },
  ERR_OID_DELETED: { status: 410, handleCode: 100, title: 'OID deleted' },
  ERR_OID_EXISTS: { status: 409, handleCode: 101, title: 'OID already registered' },
  ERR_OID_LABEL_TAKEN: { status: 409, handleCode: 101, title: 'Label already used by a sibling arc' },
  ERR_OID_DLT_TX_TAKEN: { status: 409, handleCode: 101, title: 'Ledger transaction already assigned to an arc' },
  ERR_OID_DLT_TX_INVALID: { status: 400, handleCode: 4, title: 'Invalid ledger transaction reference' },
  ERR_ITS_ID_INVALID: { status: 400, handleCode: 4, title: 'Invalid ITS sign identifier' },
  ERR_ITS_CHECK_MISMATCH: { status: 400, handleCode: 4, title: 'ITS sign identifier check character does not match' },
  ERR_ITS_CODE_UNKNOWN: { status: 400, handleCode: 4, title: 'Sign code not in its catalogue' },
  ERR_ITS_NOT_FOUND: { status: 404, handleCode: 100, title: 'ITS sign not registered' },
  ERR_ITS_DELETED: { status: 410, handleCode: 100, title: 'ITS sign deleted' },
  ERR_ITS_TYPE_MISMATCH: { status: 409, handleCode: 4, title: 'Asserted sign type differs from the registered type' },
  ERR_ITS_SIGN_INVALID: { status: 400, handleCode: 4, title: 'Invalid ITS sign record' },
  ERR_ITS_ISSUER_NOT_FOUND: { status: 404, handleCode: 100, title: 'ITS issuer not granted' },
  ERR_ITS_QUERY_INVALID: { status: 400, handleCode: 4, title: 'Invalid ITS query' },
  ERR_ITS_QUERY_TOO_LARGE: { status: 400, handleCode: 4, title: 'ITS query area exceeds the limit' },
  ERR_ITS_SERIAL_TAKEN: { status: 409, handleCode: 101, title: 'Serial already used under this issuer' },
  ERR_GTIN_INVALID: { status: 400, handleCode: 4, title: 'Invalid GTIN' },
  ERR_GTIN_CHECK_MISMATCH: { status: 400, handleCode: 4, title: 'GTIN check digit does not match' },
  ERR_IMEI_INVALID: { status: 400, handleCode: 4, title: 'Invalid IMEI' },
  ERR_IMEI_CHECK_MISMATCH: { status: 400, handleCode: 4, title: 'IMEI Luhn check digit does not match' },
  ERR_GS1_LINK_INVALID: { status: 400, handleCode: 4, title: 'Invalid GS1 Digital Link path' },
  ERR_MANUFACTURER_NOT_FOUND: { status: 404, handleCode: 100, title: 'Manufacturer not registered' },
  ERR_CERTIFICATE_INVALID: { status: 400, handleCode: 4, title: 'PEM is not an X.509 certificate' },
  ERR_ANCHOR_NOT_CA: { status: 400, handleCode: 4, title: 'Trust anchor is not a CA certificate' },
  ERR_ANCHOR_EXPIRED: { status: 400, handleCode: 4, title: 'Trust anchor has expired' },
  ERR_CRL_INVALID: { status: 400, handleCode: 4, title: 'PEM is not an X.509 CRL' },
  ERR_CRL_ISSUER_UNKNOWN: { status: 400, handleCode: 4, title: 'CRL issuer is not a registered trust anchor' },
  ERR_CRL_SIGNATURE_INVALID: { status: 400, handleCode: 4, title: 'CRL signature does not verify with its issuing anchor' },
  ERR_PRODUCT_CLASS_INVALID: { status: 400, handleCode: 4, title: 'Invalid product class' },
  ERR_PRODUCT_CLASS_NOT_FOUND: { status: 404, handleCode: 100, title: 'Product class not registered' },
  ERR_PRODUCT_ITEM_INVALID: { status: 400, handleCode: 4, title: 'Invalid product item' },
  ERR_PRODUCT_ITEM_NOT_FOUND: { status: 404, handleCode: 100, title: 'Product item not registered' },
  ERR_PRODUCT_ITEM_EXISTS: { status: 409, handleCode: 101, title: 'Product item already registered' },
  ERR_PRODUCT_EVIDENCE_MISSING: { status: 400, handleCode: 4, title: "Item lacks what its class's evidence needs" },
  ERR_PRODUCT_ALIAS_TAKEN: { status: 409, handleCode: 101, title: 'IMEI or GTIN and serial already used by another item' },
  ERR_PRODUCT_STATUS_FINAL: { status: 409, handleCode: 4, title: 'Item status cannot change any more' },
  ERR_PRODUCT_PREFIX_MISMATCH: { status: 400, handleCode: 4, title: "Row or manifest names another manufacturer's prefix" },
  ERR_PRODUCT_SERIAL_DUPLICATE: { status: 400, handleCode: 4, title: 'Serial appears twice in the batch' },
  ERR_DEVICE_KEY_INVALID: { status: 400, handleCode: 4, title: 'Invalid or unsupported device public key' },
  ERR_DEVICE_KEY_PRIVATE: { status: 400, handleCode: 4, title: 'Device key carries a private part' },
  ERR_MANIFEST_INVALID: { status: 400, handleCode: 4, title: 'Invalid bulk manifest' },
  ERR_MANIFEST_COUNT_MISMATCH: { status: 400, handleCode: 4, title: 'Manifest count does not match the rows' },
  ERR_MANIFEST_REUSED: { status: 422, handleCode: 4, title: 'Manifest id already used for a different batch' },
  ERR_LOG_ENTRY_NOT_FOUND: { status: 404, handleCode: 100, title: 'No transparency-log entry for that record version' },
  ERR_LOG_TREE_SIZE_BEYOND: { status: 400, handleCode: 4, title: 'Tree size beyond the transparency log' },
  ERR_LOG_ENTRY_NOT_IN_TREE: { status: 400, handleCode: 4, title: 'Entry was logged after that tree size' },
  ERR_LOG_RANGE_INVALID: { status: 400, handleCode: 4, title: 'Consistency proof needs 1 <= first <= second' },
  ERR_LOG_INCONSISTENT: { status: 500, handleCode: 2, title: 'Transparency log disagrees with the change log' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Base of every error Cairn raises on purpose. `code` is stable; `message` is for people. */
export class CairnError extends Error {
  readonly code: ErrorCode;
  /** Extra, structured facts for the client (e.g. the tombstone of a deleted handle). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERRORS[code].title);
    this.code = code;
    this.details = details;
    this.name = new.target.name;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  get handleCode(): number {
    return ERRORS[this.code].handleCode;
  }
}

type Detailed = [message?: string, details?: Record<string, unknown>];

/* One class per code. Kept in the same order as the table. */
export class HandleInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_HANDLE_INVALID', ...a); } }
export class HandleNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_HANDLE_NOT_FOUND', ...a); } }
export class HandleExists extends CairnError { constructor(...a: Detailed) { super('ERR_HANDLE_EXISTS', ...a); } }
export class HandleDeleted extends CairnError { constructor(...a: Detailed) { super('ERR_HANDLE_DELETED', ...a); } }
export class HandleMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_HANDLE_MISMATCH', ...a); } }
export class PrefixNotHomed extends CairnError { constructor(...a: Detailed) { super('ERR_PREFIX_NOT_HOMED', ...a); } }
export class IdentifierInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_IDENTIFIER_INVALID', ...a); } }
export class IdentifierUnsupported extends CairnError { constructor(...a: Detailed) { super('ERR_IDENTIFIER_UNSUPPORTED', ...a); } }
export class ValueInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_INVALID', ...a); } }
export class ValueFormatUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_FORMAT_UNKNOWN', ...a); } }
export class ValueIndexDuplicate extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_INDEX_DUPLICATE', ...a); } }
export class ValueTypeReserved extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_TYPE_RESERVED', ...a); } }
export class ValueExists extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_EXISTS', ...a); } }
export class ValueNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_VALUE_NOT_FOUND', ...a); } }
export class QueryInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_QUERY_INVALID', ...a); } }
export class IdempotencyKeyInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_IDEMPOTENCY_KEY_INVALID', ...a); } }
export class IdempotencyKeyReused extends CairnError { constructor(...a: Detailed) { super('ERR_IDEMPOTENCY_KEY_REUSED', ...a); } }
export class HistoryBeforeCreation extends CairnError { constructor(...a: Detailed) { super('ERR_HISTORY_BEFORE_CREATION', ...a); } }
export class BodyInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_BODY_INVALID', ...a); } }
export class BodyMalformedJson extends CairnError { constructor(...a: Detailed) { super('ERR_BODY_MALFORMED_JSON', ...a); } }
export class BodyForbiddenKey extends CairnError { constructor(...a: Detailed) { super('ERR_BODY_FORBIDDEN_KEY', ...a); } }
export class BodyTooLarge extends CairnError { constructor(...a: Detailed) { super('ERR_BODY_TOO_LARGE', ...a); } }
export class MediaTypeUnsupported extends CairnError { constructor(...a: Detailed) { super('ERR_MEDIA_TYPE_UNSUPPORTED', ...a); } }
export class AuthRequired extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_REQUIRED', ...a); } }
export class AuthFailed extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_FAILED', ...a); } }
export class AuthHeaderInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_HEADER_INVALID', ...a); } }
export class AuthTypeUnsupported extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_TYPE_UNSUPPORTED', ...a); } }
export class AuthAlgUnsupported extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_ALG_UNSUPPORTED', ...a); } }
export class AuthSessionUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_SESSION_UNKNOWN', ...a); } }
export class AuthSessionExpired extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_SESSION_EXPIRED', ...a); } }
export class AuthNonceUsed extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_NONCE_USED', ...a); } }
export class AuthInsecureTransport extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_INSECURE_TRANSPORT', ...a); } }
export class AuthRateLimited extends CairnError { constructor(...a: Detailed) { super('ERR_AUTH_RATE_LIMITED', ...a); } }
export class PermissionDenied extends CairnError { constructor(...a: Detailed) { super('ERR_PERMISSION_DENIED', ...a); } }
export class PermissionInsufficient extends CairnError { constructor(...a: Detailed) { super('ERR_PERMISSION_INSUFFICIENT', ...a); } }
export class VlistCycle extends CairnError { constructor(...a: Detailed) { super('ERR_VLIST_CYCLE', ...a); } }
export class VlistTooDeep extends CairnError { constructor(...a: Detailed) { super('ERR_VLIST_TOO_DEEP', ...a); } }
export class PrefixExists extends CairnError { constructor(...a: Detailed) { super('ERR_PREFIX_EXISTS', ...a); } }
export class PrefixInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_PREFIX_INVALID', ...a); } }
export class RouteNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_ROUTE_NOT_FOUND', ...a); } }
export class NotReady extends CairnError { constructor(...a: Detailed) { super('ERR_NOT_READY', ...a); } }
export class Overloaded extends CairnError { constructor(...a: Detailed) { super('ERR_OVERLOADED', ...a); } }
export class InternalError extends CairnError { constructor(...a: Detailed) { super('ERR_INTERNAL', ...a); } }
export class ConfigInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_CONFIG_INVALID', ...a); } }
export class SignatureInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_SIGNATURE_INVALID', ...a); } }
export class ImportLineInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_IMPORT_LINE_INVALID', ...a); } }
export class StoreLocked extends CairnError { constructor(...a: Detailed) { super('ERR_STORE_LOCKED', ...a); } }
export class StoreCorrupt extends CairnError { constructor(...a: Detailed) { super('ERR_STORE_CORRUPT', ...a); } }
export class StorageFull extends CairnError { constructor(...a: Detailed) { super('ERR_STORAGE_FULL', ...a); } }
export class StorageWriteFailed extends CairnError { constructor(...a: Detailed) { super('ERR_STORAGE_WRITE_FAILED', ...a); } }
export class BackupDamaged extends CairnError { constructor(...a: Detailed) { super('ERR_BACKUP_DAMAGED', ...a); } }
export class BackupUnverified extends CairnError { constructor(...a: Detailed) { super('ERR_BACKUP_UNVERIFIED', ...a); } }
export class RestoreTargetNotEmpty extends CairnError { constructor(...a: Detailed) { super('ERR_RESTORE_TARGET_NOT_EMPTY', ...a); } }
export class RecordProtected extends CairnError { constructor(...a: Detailed) { super('ERR_RECORD_PROTECTED', ...a); } }
export class MirrorReadOnly extends CairnError { constructor(...a: Detailed) { super('ERR_MIRROR_READ_ONLY', ...a); } }
export class MirrorFeedInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_MIRROR_FEED_INVALID', ...a); } }
export class DnsMessageInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_DNS_MESSAGE_INVALID', ...a); } }
export class DoipMessageInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_MESSAGE_INVALID', ...a); } }
export class DoipMessageTooLarge extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_MESSAGE_TOO_LARGE', ...a); } }
export class DoipTimeout extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_TIMEOUT', ...a); } }
export class DoipRequestInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_REQUEST_INVALID', ...a); } }
export class DoipOperationUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_OPERATION_UNKNOWN', ...a); } }
export class DoipNotAnObject extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_NOT_AN_OBJECT', ...a); } }
export class DoipElementNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_DOIP_ELEMENT_NOT_FOUND', ...a); } }
export class VerifyRequestInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_REQUEST_INVALID', ...a); } }
export class VerifyEvidenceInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_EVIDENCE_INVALID', ...a); } }
export class VerifyContextInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CONTEXT_INVALID', ...a); } }
export class VerifyChallengeRequired extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CHALLENGE_REQUIRED', ...a); } }
export class VerifyChallengeUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CHALLENGE_UNKNOWN', ...a); } }
export class VerifyChallengeUsed extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CHALLENGE_USED', ...a); } }
export class VerifyChallengeExpired extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CHALLENGE_EXPIRED', ...a); } }
export class VerifyChallengeMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_CHALLENGE_MISMATCH', ...a); } }
export class VerifyRateLimited extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_RATE_LIMITED', ...a); } }
export class VerifyItemNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_VERIFY_ITEM_NOT_FOUND', ...a); } }
export class OidInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_OID_INVALID', ...a); } }
export class OidLimit extends CairnError { constructor(...a: Detailed) { super('ERR_OID_LIMIT', ...a); } }
export class DerInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_DER_INVALID', ...a); } }
export class OidNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_OID_NOT_FOUND', ...a); } }
export class OidDeleted extends CairnError { constructor(...a: Detailed) { super('ERR_OID_DELETED', ...a); } }
export class OidExists extends CairnError { constructor(...a: Detailed) { super('ERR_OID_EXISTS', ...a); } }
export class OidLabelTaken extends CairnError { constructor(...a: Detailed) { super('ERR_OID_LABEL_TAKEN', ...a); } }
export class OidDltTxTaken extends CairnError { constructor(...a: Detailed) { super('ERR_OID_DLT_TX_TAKEN', ...a); } }
export class OidDltTxInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_OID_DLT_TX_INVALID', ...a); } }
export class ItsIdInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_ID_INVALID', ...a); } }
export class ItsCheckMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_CHECK_MISMATCH', ...a); } }
export class ItsCodeUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_CODE_UNKNOWN', ...a); } }
export class ItsNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_NOT_FOUND', ...a); } }
export class ItsDeleted extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_DELETED', ...a); } }
export class ItsTypeMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_TYPE_MISMATCH', ...a); } }
export class ItsSignInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_SIGN_INVALID', ...a); } }
export class ItsIssuerNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_ISSUER_NOT_FOUND', ...a); } }
export class ItsQueryInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_QUERY_INVALID', ...a); } }
export class ItsQueryTooLarge extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_QUERY_TOO_LARGE', ...a); } }
export class ItsSerialTaken extends CairnError { constructor(...a: Detailed) { super('ERR_ITS_SERIAL_TAKEN', ...a); } }
export class GtinInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_GTIN_INVALID', ...a); } }
export class GtinCheckMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_GTIN_CHECK_MISMATCH', ...a); } }
export class ImeiInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_IMEI_INVALID', ...a); } }
export class ImeiCheckMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_IMEI_CHECK_MISMATCH', ...a); } }
export class Gs1LinkInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_GS1_LINK_INVALID', ...a); } }
export class ManufacturerNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_MANUFACTURER_NOT_FOUND', ...a); } }
export class CertificateInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_CERTIFICATE_INVALID', ...a); } }
export class AnchorNotCa extends CairnError { constructor(...a: Detailed) { super('ERR_ANCHOR_NOT_CA', ...a); } }
export class AnchorExpired extends CairnError { constructor(...a: Detailed) { super('ERR_ANCHOR_EXPIRED', ...a); } }
export class CrlInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_CRL_INVALID', ...a); } }
export class CrlIssuerUnknown extends CairnError { constructor(...a: Detailed) { super('ERR_CRL_ISSUER_UNKNOWN', ...a); } }
export class CrlSignatureInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_CRL_SIGNATURE_INVALID', ...a); } }
export class ProductClassInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_CLASS_INVALID', ...a); } }
export class ProductClassNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_CLASS_NOT_FOUND', ...a); } }
export class ProductItemInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_ITEM_INVALID', ...a); } }
export class ProductItemNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_ITEM_NOT_FOUND', ...a); } }
export class ProductItemExists extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_ITEM_EXISTS', ...a); } }
export class ProductEvidenceMissing extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_EVIDENCE_MISSING', ...a); } }
export class ProductAliasTaken extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_ALIAS_TAKEN', ...a); } }
export class ProductStatusFinal extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_STATUS_FINAL', ...a); } }
export class ProductPrefixMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_PREFIX_MISMATCH', ...a); } }
export class ProductSerialDuplicate extends CairnError { constructor(...a: Detailed) { super('ERR_PRODUCT_SERIAL_DUPLICATE', ...a); } }
export class DeviceKeyInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_DEVICE_KEY_INVALID', ...a); } }
export class DeviceKeyPrivate extends CairnError { constructor(...a: Detailed) { super('ERR_DEVICE_KEY_PRIVATE', ...a); } }
export class ManifestInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_MANIFEST_INVALID', ...a); } }
export class ManifestCountMismatch extends CairnError { constructor(...a: Detailed) { super('ERR_MANIFEST_COUNT_MISMATCH', ...a); } }
export class ManifestReused extends CairnError { constructor(...a: Detailed) { super('ERR_MANIFEST_REUSED', ...a); } }
export class LogEntryNotFound extends CairnError { constructor(...a: Detailed) { super('ERR_LOG_ENTRY_NOT_FOUND', ...a); } }
export class LogTreeSizeBeyond extends CairnError { constructor(...a: Detailed) { super('ERR_LOG_TREE_SIZE_BEYOND', ...a); } }
export class LogEntryNotInTree extends CairnError { constructor(...a: Detailed) { super('ERR_LOG_ENTRY_NOT_IN_TREE', ...a); } }
export class LogRangeInvalid extends CairnError { constructor(...a: Detailed) { super('ERR_LOG_RANGE_INVALID', ...a); } }
export class LogInconsistent extends CairnError { constructor(...a: Detailed) { super('ERR_LOG_INCONSISTENT', ...a); } }

