import { createHash } from 'node:crypto';

/**
 * HTTP caching of handle resolution (`GET /api/handles/{handle}`), shared by the fast path
 * (fast-resolve.ts) and the fastify route so that both send the same headers in the same order:
 *
 * - `Cache-Control: max-age=N`, N the smallest TTL of the values served: a relative TTL as it is,
 *   an absolute one as the seconds left until it (0 once passed). No values: `no-cache`.
 * - `ETag`: strong, the Base64url SHA-256 of the exact response body, i.e. of the signed bytes
 *   the client receives.
 * - `If-None-Match` (one tag, a list, or `*`; compared weakly, RFC 9110 13.1.2): `304` with the
 *   same `Cache-Control` and `ETag` and no body.
 * - No `Vary`: the representation depends on no request header (no content negotiation, no
 *   compression, CORS is `*`, resolution ignores credentials).
 *
 * A tombstone (410) gets `Cache-Control: no-cache` and no validator: a deleted handle can be
 * re-created, and preconditions do not apply to non-2xx answers (RFC 9110 13.2.1).
 *
 * The facts a 200 needs are computed once per stored view (the view cache hands out the same
 * buffer until the record changes) and kept in a WeakMap, so the hot path hashes nothing.
 */
export interface BodyCaching {
  readonly etag: string;
  /** Smallest relative TTL, seconds (Infinity: none). */
  readonly relative: number;
  /** Earliest absolute expiry, seconds since the epoch (Infinity: none). */
  readonly absolute: number;
  /** The Cache-Control value when it does not depend on the time (no absolute TTL). */
  readonly fixed: string | undefined;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const NO_CACHE = 'no-cache';

const memo = new WeakMap<Buffer, BodyCaching>();

export function strongEtag(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/** Caching facts of a Handle.Net JSON body (`{..., "values": [{..., "ttl": ...}]}`). */
export function bodyCaching(body: Uint8Array): BodyCaching {
  let relative = Infinity;
  let absolute = Infinity;
  let values: unknown;
  try {
    values = (JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { values?: unknown }).values;
  } catch {
    values = undefined;
  }
  for (const v of Array.isArray(values) ? values : []) {
    const ttl = (v as { ttl?: unknown } | null)?.ttl;
    if (typeof ttl === 'number' && Number.isFinite(ttl)) relative = Math.min(relative, Math.max(0, Math.floor(ttl)));
    else if (typeof ttl === 'string') {
      const ms = Date.parse(ttl);
      if (Number.isFinite(ms)) absolute = Math.min(absolute, Math.floor(ms / 1000));
    }
  }
  const fixed = absolute !== Infinity ? undefined : relative === Infinity ? NO_CACHE : `max-age=${relative}`;
  return { etag: strongEtag(body), relative, absolute, fixed };
}

/** `bodyCaching` of a stored view (`<status: 2 octets> <body>`), memoised per view buffer. */
export function viewCaching(view: Buffer): BodyCaching {
  let c = memo.get(view);
  if (c === undefined) {
    c = bodyCaching(view.subarray(2));
    memo.set(view, c);
  }
  return c;
}

export function cacheControl(c: BodyCaching, nowSeconds: number): string {
  if (c.fixed !== undefined) return c.fixed;
  return `max-age=${Math.max(0, Math.min(c.relative, c.absolute - nowSeconds))}`;
}

/**
 * Does an `If-None-Match` header match the current ETag? `*` matches any current representation;
 * otherwise a comma-separated list of entity tags, `W/` ignored (weak comparison).
 */
export function noneMatch(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.trim() === '*') return true;
  const tags = /(?:W\/)?("[^"]*")/g;
  for (let m = tags.exec(text); m !== null; m = tags.exec(text)) if (m[1] === etag) return true;
  return false;
}

/**
 * The answer to an unfiltered resolution from its stored view: status, headers in sending order
 * (after CORS, before the Content-Length the sender adds for a body), and the body (none for 304).
 */
export interface Answer {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | undefined;
}

export function answerFromView(view: Buffer, ifNoneMatch: string | string[] | undefined, nowSeconds: number): Answer {
  const status = view.readUInt16BE(0);
  if (status !== 200) return { status, headers: [['content-type', JSON_TYPE], ['cache-control', NO_CACHE]], body: view.subarray(2) };
  return answerFromBody(viewCaching(view), view.subarray(2), ifNoneMatch, nowSeconds);
}

/** A 200 (or its 304) for a body whose caching facts are known. */
export function answerFromBody(c: BodyCaching, body: Buffer, ifNoneMatch: string | string[] | undefined, nowSeconds: number): Answer {
  const cc = cacheControl(c, nowSeconds);
  if (noneMatch(ifNoneMatch, c.etag)) return { status: 304, headers: [['cache-control', cc], ['etag', c.etag]], body: undefined };
  return { status: 200, headers: [['content-type', JSON_TYPE], ['cache-control', cc], ['etag', c.etag]], body };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
