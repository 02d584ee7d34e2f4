import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OidNotFound, QueryInvalid } from '../../errors.js';
import type { Principal } from '../../families/doa/authorize.js';
import type { Service } from '../../service/bootstrap.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;
const oidParam = { type: 'object', properties: { oid: { type: 'string', description: 'dotted decimal, e.g. 2.999.1' } } } as const;

type Query = Record<string, string | undefined>;

function pageOf(q: Query): { page: number; pageSize: number } {
  const page = q.page === undefined ? 0 : Number(q.page);
  const pageSize = q.pageSize === undefined ? 100 : Number(q.pageSize);
  if (!/^\d{1,9}$/.test(q.page ?? '0') || !/^\d{1,4}$/.test(q.pageSize ?? '100') || pageSize < 1 || pageSize > 1000) {
    throw new QueryInvalid('page must be 0 or more and pageSize 1 to 1000');
  }
  return { page, pageSize };
}

/** Credentials are optional on reads: with them, those who may edit an arc also see its confidential values. */
async function optionalPrincipal(req: FastifyRequest, service: Service): Promise<Principal | undefined> {
  return req.headers.authorization ? requirePrincipal(req, service.handles) : undefined;
}

/** The OID registry over HTTP (issue 4): problem+json errors, signed records. */
export function oidRoutes(app: FastifyInstance, service: Service): void {
  const { oids } = service;

  /** One arc as GET /api/oids/{dotted} answers it. */
  async function sendArc(req: FastifyRequest, reply: FastifyReply, oid: string) {
    const who = await optionalPrincipal(req, service);
    // Anonymous readers get the view stored with the record; the rest is rendered per request.
    const stored = who ? undefined : oids.findPublicView(oid);
    if (stored) return reply.type('application/json; charset=utf-8').send(stored);
    return oids.view(oid, who);
  }

  app.get(
    '/api/oids/:oid',
    { schema: { summary: 'An OID arc: its forms (dotted, DER, IRI, ASN.1), registration, values and signature', tags: ['oids'], params: oidParam, response: { 200: anyObject, ...errorsFor(problem, 400, 401, 404, 410, 429) } } },
    async (req, reply) => sendArc(req, reply, (req.params as { oid: string }).oid),
  );

  app.get(
    '/api/oids',
    {
      schema: {
        summary: 'Find an arc by its OID-IRI (?iri=/Example/1, registered labels included) or by the ledger transaction it stands for (?dltTx=eip155:1:0x...)',
        tags: ['oids'],
        querystring: {
          type: 'object',
          properties: {
            iri: { type: 'string', description: 'OID-IRI; labels match case-insensitively when nothing matches exactly' },
            dltTx: { type: 'string', description: 'Y.4476 transaction, <CAIP-2 chain>:<txHash>, e.g. eip155:1:0x<64 hex>' },
          },
        },
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 404, 410, 429) },
      },
    },
    async (req, reply) => {
      const { iri, dltTx } = req.query as Query;
      if ((iri === undefined) === (dltTx === undefined) || iri === '' || dltTx === '') {
        throw new QueryInvalid('Give one of ?iri=/Joint-ISO-ITU-T/Example/1 or ?dltTx=eip155:1:0x...');
      }
      if (iri !== undefined) return sendArc(req, reply, (await oids.resolveIri(iri)).text);
      const oid = await oids.findByDltTx(dltTx!);
      if (!oid) throw new OidNotFound(`No active arc stands for ${dltTx}`, { dltTx });
      return sendArc(req, reply, oid.text);
    },
  );

  app.get(
    '/api/oids/uuid/:uuid',
    { schema: { summary: 'The 2.25 OID of a UUID (X.667)', tags: ['oids'], params: { type: 'object', properties: { uuid: { type: 'string' } } }, response: { 200: anyObject, ...errorsFor(problem, 400, 404, 410) } } },
    async (req) => oids.viewByUuid((req.params as { uuid: string }).uuid),
  );

  app.get(
    '/api/oids/:oid/children',
    {
      schema: {
        summary: 'Registered children of an arc, in numeric order, paged',
        tags: ['oids'],
        params: oidParam,
        querystring: { type: 'object', properties: { page: { type: 'string' }, pageSize: { type: 'string' } } },
        response: { 200: anyObject, ...errorsFor(problem, 400) },
      },
    },
    async (req) => {
      const { page, pageSize } = pageOf(req.query as Query);
      return oids.children((req.params as { oid: string }).oid, page, pageSize);
    },
  );

  app.put(
    '/api/oids/:oid',
    {
      schema: {
        summary: 'Register or update an arc (service admin, or a grant above it)',
        tags: ['oids'],
        params: oidParam,
        body: { type: 'object' },
        response: { 200: anyObject, 201: anyObject, ...errorsFor(problem, 400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const q = req.query as Query;
      if (q.overwrite !== undefined && !/^(true|false)$/.test(q.overwrite)) throw new QueryInvalid('overwrite must be true or false');
      const who = await requirePrincipal(req, service.handles);
      const result = await oids.put((req.params as { oid: string }).oid, req.body, who, q.overwrite !== 'false');
      return reply.code(result.created ? 201 : 200).send(oids.view(result.oid, who));
    },
  );

  app.delete(
    '/api/oids/:oid',
    { schema: { summary: 'Tombstone an arc', tags: ['oids'], params: oidParam, response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 404, 410, 429) } } },
    async (req) => {
      const who = await requirePrincipal(req, service.handles);
      const oid = (req.params as { oid: string }).oid;
      await oids.remove(oid, who, (req.query as Query).reason);
      return { oid, status: 'tombstoned' };
    },
  );
}
