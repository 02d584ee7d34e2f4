import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { RouteNotFound } from '../errors.js';
import type { Service } from '../service/bootstrap.js';
import { parseJsonBody } from './json-body.js';
import { HttpMetrics } from './metrics.js';
import { sendError, toCairnError } from './problem.js';
import { handleRoutes } from './routes/handles.js';
import { historyRoutes } from './routes/history.js';
import { serviceRoutes } from './routes/service.js';

export interface AppOptions {
  readonly logger?: FastifyServerOptions['logger'];
}

/**
 * The HTTP adapter as a fastify instance that never listens by itself: `server.ts` listens,
 * tests use `app.inject()`.
 */
export async function buildApp(service: Service, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: service.config.bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Handles contain "/" and are case-insensitive only in their own way: no router rewriting.
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 2048 },
  });

  const metrics = new HttpMetrics();
  metrics.register(app);

  // Handle.Net's REST API is read by browser clients: CORS without credentials.
  await app.register(cors, { origin: '*', credentials: false, methods: ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'] });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Cairn', description: 'Signed identifier resolution (Handle.Net v9 compatible REST API)', version: '0.1.0' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Only JSON bodies are accepted, through one strict parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => sendError(req, reply, toCairnError(err)));
  app.setNotFoundHandler((req, reply) => sendError(req, reply, new RouteNotFound(`No route for ${req.method} ${req.url.split('?')[0]}`)));

  handleRoutes(app, service.handles);
  serviceRoutes(app, service, metrics);
  historyRoutes(app, service);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
