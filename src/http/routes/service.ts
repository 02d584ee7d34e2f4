import type { FastifyInstance } from 'fastify';
import { HandleDeleted, HandleNotFound, NotReady, ProductItemNotFound } from '../../errors.js';
import type { ProductService } from '../../families/products/product-service.js';
import type { Service } from '../../service/bootstrap.js';
import { resolveView, tombstoneJson } from '../../families/doa/views.js';
import { decodeCompact } from '../../signing/jws.js';
import { parseIdentifier } from '../../ids/scheme.js';
import type { HttpMetrics } from '../metrics.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;

/** `imei:<digits>`, a GS1 Digital Link path (`01/{gtin}/21/…`, the leading slash optional) or URI with one. */
const PRODUCT_ALIAS = /^(imei:|\/?01\/\d|https?:\/\/?[^/]+\/(.*\/)?01\/\d)/i;

async function productHandle(products: ProductService, text: string): Promise<string> {
  const alias = /^01\//.test(text) ? `/${text}` : text.replace(/^(https?:)\/(?!\/)/i, '$1//');
  const found = await products.findItem(alias);
  if (!found || found.record.status !== 'active') throw new ProductItemNotFound(`No item has the identifier ${text.slice(0, 80)}`, { id: text.slice(0, 80) });
  return `hdl:${found.handle}`;
}

/** Resolution of any family, published keys, health, readiness and metrics. */
export function serviceRoutes(app: FastifyInstance, service: Service, metrics: HttpMetrics, fastPathHits: () => number): void {
  app.get(
    '/api/resolve/*',
    {
      schema: {
        summary: 'Resolve any identifier by its canonical text form (hdl:PREFIX/SUFFIX, urn:oid:2.999.1, oid:/Example/1, its:sign:DE.417:3K7QJ2~R; product items also by imei:<15 digits> and GS1 Digital Link 01/{gtin}/21/{serial})',
        tags: ['resolve'],
        params: { type: 'object', properties: { '*': { type: 'string' } } },
        response: { 200: anyObject, ...errorsFor(problem, 400, 404, 409, 410) },
      },
    },
    async (req) => {
      let text = (req.params as { '*': string })['*'];
      // Product aliases (issue 6): an IMEI or a GS1 Digital Link names an item, answered as its handle.
      if (service.products && PRODUCT_ALIAS.test(text)) text = await productHandle(service.products, text);
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
        cairn_http_fast_path_total: { help: 'Resolutions answered from stored views ahead of the router (counted in the request metrics too).', type: 'counter', value: fastPathHits() },
        cairn_process_resident_memory_bytes: { help: 'Resident memory of the process.', value: process.memoryUsage().rss },
      }),
    ),
  );
}
