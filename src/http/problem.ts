import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BodyInvalid,
  BodyTooLarge,
  CairnError,
  ERRORS,
  InternalError,
  MediaTypeUnsupported,
  NotReady,
  QueryInvalid,
  RouteNotFound,
  StorageFull,
} from '../errors.js';
import { STORAGE_RETRY_AFTER_SECONDS } from '../store/write-guard.js';
import { allowAnyOrigin } from './cors.js';

/** Turns anything thrown in a request into a CairnError with a stable code. */
export function toCairnError(err: unknown): CairnError {
  if (err instanceof CairnError) return err;
  const e = err as FastifyError & { validationContext?: string };
  if (e.validation) {
    const where = e.validationContext ?? 'body';
    return where === 'body' ? new BodyInvalid(e.message) : new QueryInvalid(e.message);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLarge(e.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MediaTypeUnsupported(e.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BodyInvalid(e.message);
    case 'FST_ERR_NOT_FOUND':
      return new RouteNotFound();
    // The store is closed for a moment: reopening after a failed write (src/store/write-guard.ts), or shutting down.
    case 'LEVEL_DATABASE_NOT_OPEN':
    case 'LEVEL_ITERATOR_NOT_OPEN':
      return new NotReady('The store is not open (reopening after a failed write, or shutting down); try again in a moment', { retryAfterSeconds: 1 });
  }
  // A file the service writes itself (key files on rotation) on a full device.
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') {
    return new StorageFull('No space is left on the device to write a file the service keeps; free space and try again', { retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS });
  }
  // JSON bodies go through records/strict-json.ts, which throws Cairn's own errors; anything
  // else that reaches here is a bug, answered 500 and logged.
  return new InternalError();
}

const isHandleApi = (req: FastifyRequest): boolean => req.url.startsWith('/api/handles') || req.url.startsWith('/api/prefixes');

/**
 * Sends an error: Handle.Net's `{responseCode, message, handle}` (plus `code`) on the Handle REST paths, RFC 9457
 * problem+json with a stable `code` elsewhere.
 */
export function sendError(req: FastifyRequest, reply: FastifyReply, error: CairnError): FastifyReply {
  const { status, handleCode, title } = ERRORS[error.code];
  if (status === 401) reply.header('www-authenticate', 'Basic realm="handle"');
  if (status >= 500) req.log.error({ err: error }, 'request failed');
  const details = error.details ?? {};
  // Errors that pass (a full disk: ERR_STORAGE_FULL) say when to try again.
  if (typeof details.retryAfterSeconds === 'number' && status >= 500) reply.header('retry-after', String(details.retryAfterSeconds));
  if (isHandleApi(req)) {
    allowAnyOrigin(reply);
    const handle = typeof details.handle === 'string' ? details.handle : undefined;
    const body: Record<string, unknown> = { responseCode: handleCode, message: error.message };
    if (handle !== undefined) body.handle = handle;
    // Cairn's stable code rides along after Handle.Net's fields; Handle clients ignore it.
    body.code = error.code;
    if (details.tombstone) body.tombstone = details.tombstone;
    return reply.code(status).type('application/json').send(body);
  }
  const problem: Record<string, unknown> = {
    type: `https://cairn.invalid/errors/${error.code}`,
    title,
    status,
    code: error.code,
    detail: error.message,
    instance: req.url,
  };
  for (const [k, v] of Object.entries(details)) if (!(k in problem)) problem[k] = v;
  return reply.code(status).type('application/problem+json').send(problem);
}
