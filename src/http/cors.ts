import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * CORS for the Handle REST paths, as Handle.Net answers them: any origin, no credentials. One
 * header, set by a hook on the plugin scope that holds those routes (`registerHandleApi` in
 * app.ts), by `sendError` for errors outside any route, and by the resolution fast path itself.
 */
export const CORS_PATHS = ['/api/handles', '/api/handles/*', '/api/prefixes'] as const;

export const CORS_ORIGIN_HEADER = 'access-control-allow-origin';

export function allowAnyOrigin(reply: FastifyReply): FastifyReply {
  return reply.header(CORS_ORIGIN_HEADER, '*');
}

export function registerPreflight(app: FastifyInstance): void {
  for (const url of CORS_PATHS) {
    app.options(url, { schema: { hide: true } }, (req, reply) => {
      const headers = req.headers['access-control-request-headers'];
      reply
        .header('access-control-allow-methods', 'GET, HEAD, PUT, DELETE, OPTIONS')
        .header('access-control-max-age', '86400');
      if (headers) reply.header('access-control-allow-headers', headers).header('vary', 'Access-Control-Request-Headers');
      return reply.code(204).send();
    });
  }
}
