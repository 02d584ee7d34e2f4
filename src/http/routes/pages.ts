import type { FastifyInstance, FastifyReply } from 'fastify';
import { orsName } from '../../dns/ors-name.js';
import { CairnError, OidNotFound, RouteNotFound } from '../../errors.js';
import { parseOid } from '../../ids/oid.js';
import type { Service } from '../../service/bootstrap.js';
import { assets } from '../../web/assets.js';
import { errorPage } from '../../web/error-page.js';
import { sendHtml } from '../../web/html.js';
import { recordPage } from '../../web/record-pages.js';
import { verifierPage } from '../../web/verifier-page.js';
import { errorsFor, problem } from '../schemas.js';

/**
 * The web pages (issue 7): `/` (the verifier), `/oid/{dotted}`, `/its/{id}` and their static
 * files under `/assets/`. Handle pages are the proxy's (`/{handle}?noredirect`, proxy.ts) and the
 * GS1 Digital Link page is `GET /01/…` (verify.ts); all share src/web. Pages are HTML only:
 * the same data as JSON is the `/api/…` link each page shows.
 */
const page = { type: 'string', description: 'an HTML page' } as const;
/** Pages answer HTML for every status (errors as pages too); hidden from the OpenAPI document. */
const html = { hide: true, response: { 200: page, 400: page, 404: page, 410: page } } as const;
const asset = { hide: true, response: { 200: { type: 'string', description: 'the file' }, 304: { type: 'null', description: 'not modified' }, ...errorsFor(problem, 404) } } as const;

/** Errors as pages: a browser asked for a page, so it gets one whatever went wrong. */
function failPage(reply: FastifyReply, e: unknown): FastifyReply {
  if (!(e instanceof CairnError)) throw e;
  return sendHtml(reply, e.status, errorPage(e));
}

export function pageRoutes(app: FastifyInstance, service: Service): void {
  // Read now: a missing asset folder fails at start, not on the first page view.
  const files = assets();
  const apex = service.config.orsDomain.split('.');

  app.get('/', { schema: html }, async (req, reply) => {
    const id = (req.query as { id?: unknown }).id;
    return sendHtml(reply, 200, verifierPage(typeof id === 'string' && id.trim() !== '' ? id.trim().slice(0, 512) : undefined));
  });

  app.get('/assets/:name', { schema: asset }, async (req, reply) => {
    const asset = files.get((req.params as { name: string }).name);
    if (!asset) throw new RouteNotFound(`No asset ${req.url.split('?')[0]}`);
    reply.header('content-type', asset.type).header('x-content-type-options', 'nosniff').header('etag', asset.etag);
    // Pages link assets with a version (their ETag): a versioned URL never changes.
    reply.header('cache-control', req.url.includes('?v=') ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  });

  app.get('/oid/:dotted', { schema: html }, async (req, reply) => {
    try {
      const oid = parseOid((req.params as { dotted: string }).dotted);
      if (!service.oids.find(oid)) throw new OidNotFound(`${oid.text} is not registered`, { oid: oid.text });
      const name = orsName(oid.arcs, apex);
      return sendHtml(
        reply,
        200,
        recordPage({
          kind: 'oid',
          id: oid.text,
          api: `/api/oids/${oid.text}`,
          history: `/api/history/urn:oid:${oid.text}`,
          subject: `urn:oid:${oid.text}`,
          data: { children: `/api/oids/${oid.text}/children`, 'ors-name': name ? `${name.join('.')}.` : undefined },
        }),
      );
    } catch (e) {
      return failPage(reply, e);
    }
  });

  app.get('/its/*', { schema: html }, async (req, reply) => {
    try {
      const view = service.its.view((req.params as { '*': string })['*']);
      const api = `/api/its/${encodeURIComponent(view.id)}`;
      return sendHtml(
        reply,
        200,
        recordPage({ kind: 'its', id: view.id, api, history: `/api/history/${encodeURIComponent(view.id)}`, subject: view.id }),
      );
    } catch (e) {
      return failPage(reply, e);
    }
  });
}
