import type { FastifyInstance, FastifyReply } from 'fastify';
import { ItsQueryInvalid } from '../../errors.js';
import { PARAMS, parseItsQuery } from '../../families/its/its-query.js';
import { parseDateTime } from '../../families/its/validity.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;
const anyBody = { description: 'A sign: {"position": {"lat", "lon", "height"}, "facing", "status", "value", "unit", "validity", "temporary", "mount", "lanes", "road", "aliases", "source"}' } as const;
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'its:<kind>:<CC>.<authority>[:<scheme>.<code>[<value>]]:<serial>~<check>' } } } as const;
const issuerParam = { type: 'object', properties: { issuer: { type: 'string', description: '<CC>.<authority>, e.g. DE.417' } } } as const;
/** Query parameters, documented untyped: Cairn's own parser checks them (a repeated one included) and answers ERR_ITS_QUERY_INVALID. */
const strings = (...names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { description: 'string' }])) }) as const;

type Query = Record<string, string | undefined>;

const sendJson = (reply: FastifyReply, body: string | Buffer, status = 200) => reply.code(status).type('application/json; charset=utf-8').send(body);

function onlyParams(q: Query, allowed: readonly string[]): void {
  for (const [k, v] of Object.entries(q)) {
    if (!allowed.includes(k)) throw new ItsQueryInvalid(`Unknown parameter "${k}"`, { param: k });
    if (typeof v !== 'string') throw new ItsQueryInvalid(`${k} is given more than once`, { param: k });
  }
}

/** The ITS sign registry over HTTP (issue 5): problem+json errors, signed records. */
export function itsRoutes(app: FastifyInstance, service: Service): void {
  const { its } = service;

  app.get(
    '/api/its',
    {
      schema: {
        summary: 'Signs in an area (bbox, near, ahead) or by alias, filtered by kind, code, temporary, status, at (valid then) and asOf (the registry then); past `limit`, `next` links the following page (`cursor`)',
        tags: ['its'],
        querystring: strings(...PARAMS),
        response: { 200: anyObject, ...errorsFor(problem, 400) },
      },
    },
    async (req, reply) => {
      const q = req.query as Query;
      // `next`: this query again, with the cursor of the last sign shown.
      const nextLink = (cursor: string): string => {
        const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[0] !== 'cursor' && typeof e[1] === 'string'));
        params.set('cursor', cursor);
        return `/api/its?${params.toString()}`;
      };
      const result = await its.query(parseItsQuery(q), nextLink);
      return sendJson(reply, result.json);
    },
  );

  app.get(
    '/api/its/changes',
    {
      schema: {
        summary: 'Change feed of the signs after position `since` (a cursor): follow `next` until it equals `last`',
        tags: ['its'],
        querystring: strings('since', 'limit'),
        response: { 200: anyObject, ...errorsFor(problem, 400) },
      },
    },
    async (req) => {
      const q = req.query as Query;
      onlyParams(q, ['since', 'limit']);
      if (!/^\d{1,15}$/.test(q.since ?? '0')) throw new ItsQueryInvalid('since must be a change-log position (0 or more)', { param: 'since' });
      if (!/^\d{1,4}$/.test(q.limit ?? '100') || Number(q.limit ?? 100) < 1 || Number(q.limit ?? 100) > 1000) throw new ItsQueryInvalid('limit must be 1 to 1000', { param: 'limit' });
      return its.changes(Number(q.since ?? 0), Number(q.limit ?? 100));
    },
  );

  app.get(
    '/api/its/issuers/:issuer',
    { schema: { summary: 'An ITS issuer: its grantee and last minted serial', tags: ['its'], params: issuerParam, response: { 200: anyObject, ...errorsFor(problem, 400, 404) } } },
    async (req) => its.issuerView((req.params as { issuer: string }).issuer),
  );

  app.put(
    '/api/its/issuers/:issuer',
    {
      schema: {
        summary: 'Grant an issuer to an identity (service admin): {"identity": "300:20.5000/roads", "name": "..."}',
        tags: ['its'],
        params: issuerParam,
        body: { description: '{"identity": "index:handle", "name": "..."}' },
        response: { 200: anyObject, 201: anyObject, ...errorsFor(problem, 400, 401, 403, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, service.handles);
      const issuer = (req.params as { issuer: string }).issuer;
      const { created } = await its.putIssuer(issuer, req.body, who);
      return reply.code(created ? 201 : 200).send(await its.issuerView(issuer));
    },
  );

  app.delete(
    '/api/its/issuers/:issuer',
    {
      schema: {
        summary: 'Withdraw an issuer grant (service admin): the signs stay, the former grantee can no longer write under the issuer',
        tags: ['its'],
        params: issuerParam,
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 429) },
      },
    },
    async (req) => {
      onlyParams(req.query as Query, []);
      const who = await requirePrincipal(req, service.handles);
      const issuer = (req.params as { issuer: string }).issuer;
      await its.withdrawGrant(issuer, who);
      return its.issuerView(issuer);
    },
  );

  app.post(
    '/api/its/:kind/:issuer',
    {
      schema: {
        summary: "Register a sign under the issuer's next serial (?type=nat.DE-274[60] gives its type)",
        tags: ['its'],
        params: { type: 'object', properties: { kind: { type: 'string', description: 'sign, plate, vms, sgnl or isct' }, issuer: issuerParam.properties.issuer } },
        querystring: strings('type'),
        body: anyBody,
        response: { 201: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const q = req.query as Query;
      onlyParams(q, ['type']);
      const who = await requirePrincipal(req, service.handles);
      const { kind, issuer } = req.params as { kind: string; issuer: string };
      const id = await its.mint(kind, issuer, q.type, req.body, who);
      return sendJson(reply.header('location', `/api/its/${encodeURIComponent(id)}`), its.viewBytes(id), 201);
    },
  );

  app.get(
    '/api/its/:id',
    {
      schema: {
        summary: 'A sign: what it shows, where it stands, which way it faces, when it applies; values and signature. ?asOf= gives the version in force then',
        tags: ['its'],
        params: idParam,
        querystring: strings('asOf'),
        response: { 200: anyObject, ...errorsFor(problem, 400, 404, 409, 410) },
      },
    },
    async (req, reply) => {
      const q = req.query as Query;
      onlyParams(q, ['asOf']);
      const id = (req.params as { id: string }).id;
      if (q.asOf === undefined) return sendJson(reply, its.viewBytes(id));
      const asOf = parseDateTime(q.asOf);
      if (asOf === undefined) throw new ItsQueryInvalid('asOf must be an RFC 3339 date-time such as 2026-01-01T08:00:00Z', { param: 'asOf' });
      return its.viewAsOf(id, asOf);
    },
  );

  app.put(
    '/api/its/:id',
    {
      schema: {
        summary: 'Register or replace a sign (the issuer grantee or the service admin)',
        tags: ['its'],
        params: idParam,
        body: anyBody,
        response: { 200: anyObject, 201: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 409, 410, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      onlyParams(req.query as Query, []);
      const who = await requirePrincipal(req, service.handles);
      const result = await its.put((req.params as { id: string }).id, req.body, who);
      return sendJson(reply, its.viewBytes(result.id), result.created ? 201 : 200);
    },
  );

  app.delete(
    '/api/its/:id',
    {
      schema: {
        summary: 'Delete a sign: a tombstone (?reason=, ?successor=its:...); its identity is never used again',
        tags: ['its'],
        params: idParam,
        querystring: strings('reason', 'successor'),
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 409, 410, 429) },
      },
    },
    async (req) => {
      const q = req.query as Query;
      onlyParams(q, ['reason', 'successor']);
      if (q.reason !== undefined && (q.reason === '' || q.reason.length > 256 || /[\u0000-\u001f\u007f]/.test(q.reason))) {
        throw new ItsQueryInvalid('reason must be text of 1 to 256 characters', { param: 'reason' });
      }
      const who = await requirePrincipal(req, service.handles);
      const id = await its.remove((req.params as { id: string }).id, who, q.reason, q.successor);
      return { id, status: 'tombstoned' };
    },
  );
}
