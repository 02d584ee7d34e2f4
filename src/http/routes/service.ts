import type { FastifyInstance } from 'fastify';
import { HandleDeleted, HandleNotFound, NotReady } from '../../errors.js';
import type { Service } from '../../service/bootstrap.js';
import { resolveView, tombstoneJson } from '../../families/doa/views.js';
import { decodeCompact } from '../../signing/jws.js';
import { parseIdentifier } from '../../ids/scheme.js';
import type { HttpMetrics } from '../metrics.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;

/** Resolution of any family, published keys, health, readiness and metrics. */
export function serviceRoutes(app: FastifyInstance, service: Service, metrics: HttpMetrics, fastPathHits: () => number): void {
  app.get(
    '/api/resolve/*',
    {
      schema: {
        summary: 'Resolve any identifier by its canonical text form (hdl:PREFIX/SUFFIX, urn:oid:2.999.1, oid:/Example/1, its:sign:DE.417:3K7QJ2~R)',
        tags: ['resolve'],
        params: { type: 'object', properties: { '*': { type: 'string' } } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404, 409, 410) },
      },
    },
    async (req) => {
      const text = (req.params as { '*': string })['*'];
      // OID-IRIs go through the registry, which also knows the labels registered with PUT.
      if (/^oid:\//i.test(text)) return service.oids.view((await service.oids.resolveIri(text)).text);
      const id = parseIdentifier(text);
      if (id.family === 'its') return service.its.view(text);
      if (id.family === 'oid') return service.oids.view(id.oid.text);
      const handle = service.handles.parseServed(id.handle.text);
      const record = service.handles.findRecord(handle);
      if (!record) throw new HandleNotFound(`No record for hdl:${handle.text}`);
      if (record.status === 'tombstoned') throw new HandleDeleted(`hdl:${record.id} was deleted`, { tombstone: tombstoneJson(record.tombstone) });
      return resolveView(record, (jws) => {
        const { header } = decodeCompact(jws);
        return { kid: String(header.kid), alg: String(header.alg) };
      });
    },
  );

  app.get(
    '/.well-known/jwks.json',
    { schema: { summary: 'Keys that verify record signatures', tags: ['keys'], response: { 200: anyObject } } },
    async (_req, reply) => {
      // Retired keys leave the set at their retire time: caches must not keep them much past it.
      const now = Math.floor(Date.now() / 1000);
      const maxAge = Math.max(0, Math.min(300, service.signer.secondsToNextRetirement(now) ?? 300));
      return reply.header('cache-control', `public, max-age=${maxAge}`).send(service.signer.jwks(now));
    },
  );

  app.get('/healthz', { schema: { tags: ['operations'], response: { 200: anyObject } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], response: { 200: anyObject, 503: problem } } }, async () => {
    if (!service.store.isOpen) throw new NotReady('The store is not open');
    return { status: 'ready', changeLog: service.store.lastSeq };
  });

  app.get('/metrics', { schema: { tags: ['operations'], hide: true } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(
      metrics.render({
        cairn_changelog_position: { help: 'Sequence number of the last committed change.', value: service.store.lastSeq },
        cairn_http_fast_path_total: { help: 'Resolutions answered from stored views ahead of the router (counted in the request metrics too).', value: fastPathHits() },
        cairn_process_resident_memory_bytes: { help: 'Resident memory of the process.', value: process.memoryUsage().rss },
      }),
    ),
  );
}
