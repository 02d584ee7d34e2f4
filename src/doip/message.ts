import { CairnError, DoipRequestInvalid, ERRORS, type ErrorCode } from '../errors.js';
import { parseJsonBody } from '../records/strict-json.js';
import { jsonSegment, type DoipSegment } from './segments.js';

/**
 * The DOIP v2.0 message model: a request's initial JSON segment, the response's, the statuses,
 * and the mapping from Cairn's error codes onto DOIP statuses. Pure: no I/O.
 *
 *   request  = { requestId?, clientId?, targetId, operationId, attributes?, authentication?, input? }
 *   response = { requestId?, status, attributes?, output? }
 *
 * A request's `input` (and a response's `output`) is either JSON inside the initial segment or, when
 * absent there, the segments that follow it.
 */

export const DOIP_STATUS = {
  success: '0.DOIP/Status.001',
  invalid: '0.DOIP/Status.101',
  unauthenticated: '0.DOIP/Status.102',
  unauthorized: '0.DOIP/Status.103',
  notFound: '0.DOIP/Status.104',
  exists: '0.DOIP/Status.105',
  declined: '0.DOIP/Status.200',
  error: '0.DOIP/Status.500',
} as const;

export type DoipStatus = (typeof DOIP_STATUS)[keyof typeof DOIP_STATUS];

export const DOIP_OPS = {
  hello: '0.DOIP/Op.Hello',
  create: '0.DOIP/Op.Create',
  retrieve: '0.DOIP/Op.Retrieve',
  update: '0.DOIP/Op.Update',
  delete: '0.DOIP/Op.Delete',
  search: '0.DOIP/Op.Search',
  listOperations: '0.DOIP/Op.ListOperations',
} as const;

export type DoipOperation = (typeof DOIP_OPS)[keyof typeof DOIP_OPS];

/** `requestId` is at most 4096 bits (the specification's bound). */
const MAX_REQUEST_ID_BYTES = 512;
const MAX_ID_BYTES = 2048;

export interface DoipRequest {
  readonly requestId?: string;
  readonly clientId?: string;
  readonly targetId: string;
  readonly operationId: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly authentication?: Readonly<Record<string, unknown>>;
  /** JSON input from the initial segment (`input`), if it had one. */
  readonly input?: unknown;
  /** Segments after the initial one (input that is not inline JSON, element data). */
  readonly inputSegments: readonly DoipSegment[];
}

export interface DoipResult {
  readonly status: DoipStatus;
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** JSON output, sent inside the initial segment. */
  readonly output?: unknown;
  /** Output as segments after the initial one (element data). Excludes `output`. */
  readonly outputSegments?: readonly DoipSegment[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parses a JSON segment strictly (no `__proto__` keys); errors name the segment. */
export function parseJsonSegment(segment: DoipSegment | undefined, what: string): unknown {
  if (!segment) throw new DoipRequestInvalid(`${what} is missing`);
  if (segment.kind !== 'json') throw new DoipRequestInvalid(`${what} must be a JSON segment, not a bytes segment`);
  try {
    return parseJsonBody(segment.text);
  } catch (e) {
    throw new DoipRequestInvalid(`${what}: ${(e as Error).message.replace(/^Body/, 'the segment')}`);
  }
}

const optionalString = (o: Record<string, unknown>, key: string, maxBytes: number): string | undefined => {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DoipRequestInvalid(`"${key}" must be a string`);
  if (Buffer.byteLength(v) > maxBytes) throw new DoipRequestInvalid(`"${key}" is longer than ${maxBytes} bytes`);
  return v;
};

/** The request from its JSON form (the initial segment, or an HTTP body in full form). */
export function requestFromJson(json: unknown, inputSegments: readonly DoipSegment[] = []): DoipRequest {
  if (!isObject(json)) throw new DoipRequestInvalid('The request must be a JSON object');
  const targetId = optionalString(json, 'targetId', MAX_ID_BYTES);
  const operationId = optionalString(json, 'operationId', MAX_ID_BYTES);
  if (!targetId) throw new DoipRequestInvalid('"targetId" is required');
  if (!operationId) throw new DoipRequestInvalid('"operationId" is required');
  const attributes = json.attributes ?? {};
  if (!isObject(attributes)) throw new DoipRequestInvalid('"attributes" must be a JSON object');
  const authentication = json.authentication ?? undefined;
  if (authentication !== undefined && !isObject(authentication)) throw new DoipRequestInvalid('"authentication" must be a JSON object');
  const requestId = optionalString(json, 'requestId', MAX_REQUEST_ID_BYTES);
  const clientId = optionalString(json, 'clientId', MAX_ID_BYTES);
  return {
    ...(requestId !== undefined ? { requestId } : {}),
    ...(clientId !== undefined ? { clientId } : {}),
    targetId,
    operationId,
    attributes,
    ...(authentication !== undefined ? { authentication } : {}),
    ...('input' in json && json.input !== undefined ? { input: json.input } : {}),
    inputSegments,
  };
}

/** A request from a parsed message: the initial segment, then the input segments. */
export function requestFromSegments(segments: readonly DoipSegment[]): DoipRequest {
  if (segments.length === 0) throw new DoipRequestInvalid('The message has no segments: a request starts with a JSON segment');
  return requestFromJson(parseJsonSegment(segments[0], 'The initial segment'), segments.slice(1));
}

/** The operation id in its canonical spelling (handles compare case-insensitively in ASCII), or undefined. */
export function canonicalOperation(operationId: string): DoipOperation | undefined {
  const upper = operationId.toUpperCase();
  return Object.values(DOIP_OPS).find((op) => op.toUpperCase() === upper);
}

/**
 * Reads a status in any spelling seen in the wild: `0.DOIP/Status.001`, the short `0.DOIP/Status.1`,
 * or without the prefix (`Status.1`). Returns the canonical three-digit form, or undefined.
 */
export function parseStatus(text: unknown): DoipStatus | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^(?:0\.DOIP\/)?Status\.(\d{1,3})$/i.exec(text.trim());
  if (!m) return undefined;
  const canonical = `0.DOIP/Status.${m[1]!.padStart(3, '0')}`;
  return (Object.values(DOIP_STATUS) as string[]).includes(canonical) ? (canonical as DoipStatus) : undefined;
}

/**
 * The DOIP status a Cairn error answers with. The DOIP v2.0 specification (DONA Foundation,
 * 2018) defines eight statuses; their meanings, as the specification's status table gives them:
 *
 *   001 the operation was successfully processed
 *   101 the request was invalid in some way
 *   102 the client did not successfully authenticate
 *   103 the client successfully authenticated, but is unauthorized to invoke the operation
 *   104 the digital object is not known to the service to exist
 *   105 the client tried to create a digital object with an identifier already in use
 *   200 the service declines to execute the extended operation
 *   500 error other than the ones stated above
 *
 * The stable Cairn code travels in the output (`errorResult`), so clients can tell apart the
 * errors one status covers.
 */
export function statusForError(code: ErrorCode): DoipStatus {
  switch (code) {
    // 102: no credentials, wrong ones, a session that is gone, credentials over a transport that
    // may not carry them, and a login refused because the address or identity spent its budget
    // of failures (the client did not authenticate; `retryAfterSeconds` says when it may retry).
    case 'ERR_AUTH_REQUIRED':
    case 'ERR_AUTH_FAILED':
    case 'ERR_AUTH_SESSION_UNKNOWN':
    case 'ERR_AUTH_SESSION_EXPIRED':
    case 'ERR_AUTH_NONCE_USED':
    case 'ERR_AUTH_INSECURE_TRANSPORT':
    case 'ERR_AUTH_RATE_LIMITED':
      return DOIP_STATUS.unauthenticated;
    case 'ERR_PERMISSION_DENIED':
    case 'ERR_PERMISSION_INSUFFICIENT':
    case 'ERR_RECORD_PROTECTED':
      return DOIP_STATUS.unauthorized;
    // 104 also for a missing element: Retrieve names the element as part of the object it targets.
    case 'ERR_HANDLE_NOT_FOUND':
    case 'ERR_HANDLE_DELETED':
    case 'ERR_DOIP_NOT_AN_OBJECT':
    case 'ERR_DOIP_ELEMENT_NOT_FOUND':
      return DOIP_STATUS.notFound;
    case 'ERR_HANDLE_EXISTS':
      return DOIP_STATUS.exists;
    // Any operation but the basic ones is an extended operation; Cairn declines those it lacks.
    case 'ERR_DOIP_OPERATION_UNKNOWN':
      return DOIP_STATUS.declined;
    // A write sent to a read-only mirror. The request is valid (it would succeed at the primary),
    // so not 101; no credential would change the answer, so neither 102 nor 103. The service
    // declines to execute it, which is what 200 says, although the specification words 200 for
    // extended operations; 500 ("other") would read as a fault of the service. Handle.Net answers
    // the same situation with its own code, 301 (RC_SERVER_NOT_RESP, "not a primary server"),
    // which Cairn's Handle REST paths keep; the output names the primary to write to instead.
    case 'ERR_MIRROR_READ_ONLY':
      return DOIP_STATUS.declined;
  }
  return ERRORS[code].status >= 500 ? DOIP_STATUS.error : DOIP_STATUS.invalid;
}

/** The result of a failed request: the status, and the message and stable code as output. */
export function errorResult(error: CairnError): DoipResult {
  const output: Record<string, unknown> = { message: error.message, code: error.code };
  if (error.details) for (const [k, v] of Object.entries(error.details)) if (!(k in output)) output[k] = v;
  return { status: statusForError(error.code), output };
}

/** The response as segments: the initial JSON segment, then any output segments. */
export function responseSegments(requestId: string | undefined, result: DoipResult): DoipSegment[] {
  const initial: Record<string, unknown> = {};
  if (requestId !== undefined) initial.requestId = requestId;
  initial.status = result.status;
  if (result.attributes && Object.keys(result.attributes).length > 0) initial.attributes = result.attributes;
  if (result.output !== undefined) initial.output = result.output;
  return [jsonSegment(initial), ...(result.outputSegments ?? [])];
}

export interface ParsedResponse {
  readonly requestId?: string;
  readonly status: DoipStatus;
  readonly attributes?: Record<string, unknown>;
  readonly output?: unknown;
  readonly outputSegments: readonly DoipSegment[];
}

/** Reads a response (a client's view; used by tests and tools). Tolerates short status forms. */
export function parseResponse(segments: readonly DoipSegment[]): ParsedResponse {
  const json = parseJsonSegment(segments[0], 'The initial response segment');
  if (!isObject(json)) throw new DoipRequestInvalid('The response must be a JSON object');
  const status = parseStatus(json.status);
  if (!status) throw new DoipRequestInvalid(`Unknown status ${JSON.stringify(json.status)}`);
  return {
    ...(typeof json.requestId === 'string' ? { requestId: json.requestId } : {}),
    status,
    ...(isObject(json.attributes) ? { attributes: json.attributes } : {}),
    ...('output' in json ? { output: json.output } : {}),
    outputSegments: segments.slice(1),
  };
}
