import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { IdentifierInvalid, RouteNotFound } from '../errors.js';
import type { Service } from '../service/bootstrap.js';
import { allowAnyOrigin, registerPreflight } from './cors.js';
import { parseJsonBody } from '../records/strict-json.js';
import { fastResolveServerFactory, type FastPath } from './fast-resolve.js';
import { lazyChildLogger, registerAccessLog, type Logging } from './logging.js';
import { Metrics } from './metrics.js';
import { registerOverload } from './overload.js';
import { StoreSize } from './store-metrics.js';
import { storeDir } from '../ops/open.js';
import { registerHandleChallenge } from './auth.js';
import { sendError, toCairnError } from './problem.js';
import { adminRoutes } from './routes/admin.js';
import { adminKeyRoutes } from './routes/admin-keys.js';
import { batchRoutes } from './routes/batch.js';
import { doipRoutes } from './routes/doip.js';
import { handleRoutes } from './routes/handles.js';
import { historyRoutes } from './routes/history.js';
import { itsRoutes } from './routes/its.js';
import { logRoutes } from './routes/log.js';
import { oidRoutes } from './routes/oids.js';
import { pageRoutes } from './routes/pages.js';
import { prefixRoutes } from './routes/prefixes.js';
import { productRoutes } from './routes/products.js';
import { proxyRoutes } from './routes/proxy.js';
import { searchRoutes } from './routes/search.js';
import { serviceRoutes } from './routes/service.js';
import { sessionRoutes } from './routes/sessions.js';
import { verifyRoutes, type VerifyRouteOptions } from './routes/verify.js';

export interface AppOptions {
  /** The server's logging (`createLogging`); tests run without. */
  readonly logging?: Logging;
  /**
   * Answer unfiltered handle resolutions in front of the router (src/http/fast-resolve.ts).
   * Only real sockets see it; `app.inject()` always goes through fastify. Default true.
   */
  readonly fastResolve?: boolean;
  /** Verification settings (rate limit, clock, anomaly rules); defaults otherwise. */
  readonly verify?: VerifyRouteOptions;
  /** Read-only mode of a mirror (src/mirror/http.ts): refuses writes, sends authenticated reads to the primary. */
  readonly mirror?: { register(app: FastifyInstance): void };
  /** The metrics registry `/metrics` renders; the server shares it with the DNS and DOIP listeners. */
  readonly metrics?: Metrics;
}

/**
 * The HTTP adapter as a fastify instance that never listens by itself: `server.ts` listens,
 * tests use `app.inject()`.
 */
export async function buildApp(service: Service, options: AppOptions = {}): Promise<FastifyInstance> {
  const metrics = options.metrics ?? new Metrics();
  const access = options.logging?.access;
  const fast: FastPath = { handles: service.handles, metrics, access, closing: false, hits: 0 };
  const app = Fastify({
    ...(options.fastResolve === false ? {} : { serverFactory: fastResolveServerFactory(fast) }),
    ...(options.logging ? { loggerInstance: options.logging.logger as FastifyBaseLogger } : { logger: false }),
    // Request ids from the access log's counter, so fast-path and routed lines share one sequence.
    ...(access ? { genReqId: () => access.nextId() } : {}),
    // One access line per request (registerAccessLog) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings) => lazyChildLogger(logger, bindings),
    bodyLimit: service.config.bodyLimit,
    return503OnClosing: true,
    // A URL that does not decode (bad percent-encoding) gets Cairn's error shape and code too.
    frameworkErrors: (error, req, reply) => {
      sendError(req, reply, new IdentifierInvalid(`Malformed URL: ${error.message}`));
    },
    // Handles contain "/" and are case-insensitive only in their own way: no router rewriting.
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 2048 },
  });

  metrics.register(app);
  // First of the request hooks: a shed request costs as little as possible.
  fast.shedding = await registerOverload(app, service.config);
  const shedding = fast.shedding;
  if (shedding) metrics.collect(shedding.gauges);
  const size = new StoreSize(service.store, storeDir(service.config.dataDir));
  metrics.collect(() => size.gauges());
  app.addHook('preClose', (done) => {
    fast.closing = true;
    done();
  });
  if (access) registerAccessLog(app, access);
  // Before any route scope, so that every 401 can carry the Handle challenge.
  registerHandleChallenge(app, service.handles);
  options.mirror?.register(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Cairn', description: 'Signed identifier resolution (Handle.Net v9 compatible REST API)', version: '0.1.0' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Only JSON bodies are accepted, through one strict parser (it refuses __proto__ and
  // constructor.prototype keys itself, with their own code).
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

  // The Handle REST API, in a scope of its own so that one hook gives all its answers CORS.
  await app.register(async (handleApi) => {
    handleApi.addHook('onRequest', (_req, reply, done) => {
      allowAnyOrigin(reply);
      done();
    });
    registerPreflight(handleApi);
    handleRoutes(handleApi, service.handles);
    prefixRoutes(handleApi, service.handles);
  });
  sessionRoutes(app, service.handles);
  serviceRoutes(app, service, metrics, () => fast.hits);
  historyRoutes(app, service);
  oidRoutes(app, service);
  itsRoutes(app, service);
  doipRoutes(app, service);
  batchRoutes(app, service);
  await searchRoutes(app, service);
  productRoutes(app, service);
  verifyRoutes(app, service, { ...options.verify, onVerdict: (verdict) => metrics.verdict(verdict) });
  adminRoutes(app, service);
  adminKeyRoutes(app, service);
  if (service.log) logRoutes(app, service, service.log);
  pageRoutes(app, service);
  // `GET /{handle}`: a wildcard, so every other route wins over it; it answers handles served here only.
  proxyRoutes(app, service.handles);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return app;
}
