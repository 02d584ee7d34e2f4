import type { FastifyInstance } from 'fastify';
import type { HandleService } from '../../families/doa/handle-service.js';
import { DerivedPrefixes, parseDerivedPrefixRequest } from '../../families/doa/prefixes.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, handleError } from '../schemas.js';

/**
 * `POST /api/prefixes`: the service admin creates a derived prefix `<prefix>.<n>` for an
 * organisation, with its admin identity, and gets that identity's secret once. (`GET /api/prefixes`,
 * Handle.Net's listing, lives with the handle routes.)
 */
export function prefixRoutes(app: FastifyInstance, handles: HandleService): void {
  const prefixes = new DerivedPrefixes(handles);
  app.post(
    '/api/prefixes',
    {
      // The handler checks the credentials first, then the body (parseDerivedPrefixRequest), so
      // an anonymous caller gets 401 whatever it sent; the schema documents the route.
      validatorCompiler: () => () => true,
      schema: {
        summary: 'Create a derived prefix <prefix>.<n> with its own admin identity (service admin only)',
        tags: ['handles'],
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'the organisation, e.g. "Acme Devices"' },
            suffix: { anyOf: [{ type: 'string' }, { type: 'integer' }], description: 'the label after "<prefix>."; the next free number if absent' },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              responseCode: { type: 'integer' },
              prefix: { type: 'string' },
              prefixHandle: { type: 'string' },
              identity: { type: 'string' },
              secret: { type: 'string', description: 'the identity\'s HS_SECKEY secret, shown only here' },
              name: { type: 'string' },
            },
            additionalProperties: true,
          },
          ...errorsFor(handleError, 400, 401, 403, 409, 413, 415, 429),
        },
      },
    },
    async (req, reply) => {
      const who = await requirePrincipal(req, handles);
      const created = await prefixes.create(who, parseDerivedPrefixRequest(req.body));
      return reply.code(201).header('cache-control', 'no-store').send({ responseCode: 1, ...created });
    },
  );
}
