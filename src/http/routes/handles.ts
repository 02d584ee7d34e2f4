import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyInvalid, HandleInvalid, HandleMismatch, HandleNotFound, QueryInvalid } from '../../errors.js';
import type { HandleService } from '../../families/doa/handle-service.js';
import { foldHandleCase } from '../../ids/handle.js';
import { requirePrincipal } from '../auth.js';
import { answerFromBody, answerFromView, bodyCaching, nowSeconds, type Answer } from '../caching.js';
import { errorsFor, handleAck, handleError, handleRecord } from '../schemas.js';

type Query = Record<string, string | string[] | undefined>;

const all = (q: Query, name: string): string[] => {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/** Handle.Net's boolean parameters: present and empty, `true` or `yes`. */
const flag = (q: Query, name: string, fallback: boolean): boolean => {
  const v = all(q, name).at(-1);
  if (v === undefined) return fallback;
  if (v === '' || /^(true|yes)$/i.test(v)) return true;
  if (/^(false|no)$/i.test(v)) return false;
  throw new QueryInvalid(`${name} must be true or false`);
};

const indexes = (q: Query): number[] =>
  all(q, 'index').map((s) => {
    if (!/^\d{1,10}$/.test(s) || Number(s) > 0x7fffffff) throw new QueryInvalid(`index "${s}" is not a value index`);
    return Number(s);
  });

const optionalInt = (q: Query, name: string): number | undefined => {
  const v = all(q, name).at(-1);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,9}$/.test(v)) throw new QueryInvalid(`${name} must be an integer`);
  const n = Number(v);
  // Handle.Net treats a negative page or pageSize as "everything".
  return n < 0 ? undefined : n;
};

/** The body may be an array of values, `{"values": [...]}` (with an optional matching `handle`), or one value. */
function bodyValues(body: unknown, pathHandle: string, minting: boolean): unknown[] {
  if (Array.isArray(body)) return body;
  if (typeof body === 'object' && body !== null) {
    const o = body as Record<string, unknown>;
    if ('values' in o) {
      if (!Array.isArray(o.values)) throw new BodyInvalid('"values" must be an array');
      if (o.handle !== undefined && !minting && (typeof o.handle !== 'string' || foldHandleCase(o.handle) !== foldHandleCase(pathHandle))) {
        throw new HandleMismatch(`Body names handle ${String(o.handle)}, the path ${pathHandle}`, { handle: pathHandle });
      }
      return o.values;
    }
    if ('index' in o && 'type' in o) return [o];
  }
  throw new BodyInvalid('Body must be an array of values, {"values": [...]}, or one value');
}

const handleParam = (req: FastifyRequest): string => {
  const text = (req.params as { '*': string })['*'];
  if (!text) throw new HandleInvalid('Empty handle invalid');
  return text;
};

const wildcard = { type: 'object', properties: { '*': { type: 'string', description: 'The handle, prefix/suffix' } } } as const;

export function handleRoutes(app: FastifyInstance, handles: HandleService): void {
  app.get(
    '/api/handles/*',
    {
      // The hot read path: the schemas below document the route, while the handler checks its
      // own parameters (it must, to give Handle.Net's codes), so nothing validates them twice.
      validatorCompiler: () => () => true,
      schema: {
        summary: 'Resolve a handle (Handle.Net v9 shape)',
        tags: ['handles'],
        params: wildcard,
        querystring: {
          type: 'object',
          properties: {
            type: { type: 'array', items: { type: 'string' }, description: 'repeatable; a trailing "." matches subtypes' },
            index: { type: 'array', items: { type: 'string' }, description: 'repeatable' },
            auth: { type: 'string', description: 'true: authenticate and include admin-readable values (never cached)' },
          },
        },
        response: { 200: handleRecord, 304: { type: 'null', description: 'Not Modified: If-None-Match matched the ETag' }, ...errorsFor(handleError, 400, 401, 403, 404, 410, 429) },
      },
    },
    async (req, reply) => {
      const text = handleParam(req);
      const q = req.query as Query;
      const types = all(q, 'type');
      const idx = indexes(q);
      if (flag(q, 'auth', false)) {
        // Handle.Net's authoritative read: the values the identity may read, admin-only ones included.
        const who = await requirePrincipal(req, handles);
        const body = Buffer.from(JSON.stringify(handles.resolveAuthorized(text, types, idx, who)));
        return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'private, no-store').send(body);
      }
      const ifNoneMatch = req.headers['if-none-match'];
      let answer: Answer;
      if (types.length === 0 && idx.length === 0) {
        // The fast path (fast-resolve.ts) sends these same bytes and headers ahead of the router.
        const view = handles.findView(text);
        if (!view) {
          handles.parseServed(text);
          throw new HandleNotFound(undefined, { handle: text });
        }
        answer = answerFromView(view, ifNoneMatch, nowSeconds());
      } else {
        const body = Buffer.from(JSON.stringify(handles.resolveFiltered(text, types, idx)));
        answer = answerFromBody(bodyCaching(body), body, ifNoneMatch, nowSeconds());
      }
      reply.code(answer.status as 200);
      for (const [name, value] of answer.headers) reply.header(name, value);
      return reply.send(answer.body);
    },
  );

  app.put(
    '/api/handles/*',
    {
      schema: {
        summary: 'Create or replace a handle, or add or replace values (index=N)',
        tags: ['handles'],
        params: wildcard,
        body: { anyOf: [{ type: 'array' }, { type: 'object' }] },
        response: { 200: handleAck, 201: handleAck, ...errorsFor(handleError, 400, 401, 403, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const text = handleParam(req);
      const q = req.query as Query;
      const mintNewSuffix = flag(q, 'mintNewSuffix', false);
      const values = bodyValues(req.body, text, mintNewSuffix);
      const idx = indexes(q);
      const who = await requirePrincipal(req, handles);
      const result = await handles.put(
        text,
        { values, overwrite: flag(q, 'overwrite', true), ...(idx.length > 0 ? { indexes: idx } : {}), mintNewSuffix },
        who,
      );
      return reply.code(result.created ? 201 : 200).send({ responseCode: 1, handle: result.handle });
    },
  );

  app.delete(
    '/api/handles/*',
    {
      schema: {
        summary: 'Tombstone a handle, or remove values (index=N)',
        tags: ['handles'],
        params: wildcard,
        response: { 200: handleAck, ...errorsFor(handleError, 400, 401, 403, 404, 410, 429) },
      },
    },
    async (req, reply) => {
      const text = handleParam(req);
      const q = req.query as Query;
      const idx = indexes(q);
      const reason = all(q, 'reason').at(-1);
      const successor = all(q, 'successor').at(-1);
      const who = await requirePrincipal(req, handles);
      const record = await handles.remove(text, idx.length > 0 ? idx : undefined, who, {
        ...(reason ? { reason } : {}),
        ...(successor ? { successor } : {}),
      });
      return reply.send({ responseCode: 1, handle: record.id });
    },
  );

  app.get(
    '/api/handles',
    {
      schema: {
        summary: 'List the handles under a prefix (needs LIST_HANDLES)',
        tags: ['handles'],
        querystring: { type: 'object', properties: { prefix: { type: 'string' }, page: { type: 'string' }, pageSize: { type: 'string' } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorsFor(handleError, 400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const q = req.query as Query;
      const prefix = all(q, 'prefix').at(-1);
      if (!prefix) throw new HandleInvalid('Empty handle invalid: give ?prefix=');
      const page = optionalInt(q, 'page');
      const pageSize = optionalInt(q, 'pageSize');
      const who = await requirePrincipal(req, handles);
      return reply.send(await handles.list(prefix, page, pageSize, who));
    },
  );

  app.get(
    '/api/prefixes',
    {
      schema: {
        summary: 'List the prefixes served here',
        tags: ['handles'],
        response: { 200: { type: 'object', additionalProperties: true }, ...errorsFor(handleError, 401, 403, 429) },
      },
    },
    async (req, reply) => reply.send(await handles.prefixes(await requirePrincipal(req, handles))),
  );
}
