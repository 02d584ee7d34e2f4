import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HandleService } from '../families/doa/handle-service.js';
import { cacheControl, JSON_TYPE, NO_CACHE, noneMatch, nowSeconds, viewCaching } from './caching.js';
import { CORS_ORIGIN_HEADER } from './cors.js';
import type { AccessLog } from './logging.js';
import type { HttpMetrics } from './metrics.js';
import type { Shedding } from './overload.js';

/**
 * The resolution hot path, in front of fastify's router: `GET /api/handles/{handle}` without a
 * query string, for a handle whose pre-rendered view is stored, is answered straight from that
 * view (status, body, the same headers as the fastify route, HTTP caching and `304` included:
 * caching.ts). Everything else, misses and errors included, goes on to fastify unchanged, so the
 * fastify route stays the reference: tests compare the two byte for byte over a real socket.
 *
 * Why: the view is already the exact response; routing, hooks and reply machinery cost more than
 * the lookup itself (BENCHMARKS.md).
 */
const PATH = '/api/handles/';
const ROUTE = '/api/handles/*';

export interface FastPath {
  readonly handles: HandleService;
  readonly metrics: HttpMetrics;
  readonly access: AccessLog | undefined;
  /** Set once the app starts closing: requests then go to fastify, which answers 503. */
  closing: boolean;
  /** Requests answered here (the `cairn_http_fast_path_total` counter). */
  hits: number;
  /** Load shedding (overload.ts), once registered: past capacity this path answers 503 too. */
  shedding?: Shedding | undefined;
}

export function tryFastResolve(fast: FastPath, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  // `%` (percent-decoding) and `?` (filters) need fastify's handling; so does everything else.
  if (req.method !== 'GET' || url === undefined || !url.startsWith(PATH) || fast.closing || url.includes('?') || url.includes('%')) {
    return false;
  }
  const started = performance.now();
  let view: Buffer | undefined;
  try {
    view = fast.handles.findView(url.slice(PATH.length));
  } catch {
    return false; // e.g. the store is closed: fastify's route answers with a proper error
  }
  if (view === undefined) return false;
  // Counted only once answered here (a miss is counted by fastify's hook instead).
  if (fast.shedding !== undefined && !fast.shedding.admit(res)) return shed(fast, fast.shedding, url, res, started);
  // The route's headers in the route's order (caching.ts `answerFromView`): CORS (its scope's
  // hook) first, Content-Length (added by fastify) last and never on a 304.
  const status = view.readUInt16BE(0);
  let sent = status;
  if (status === 200) {
    const c = viewCaching(view);
    const cc = c.fixed ?? cacheControl(c, nowSeconds());
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && noneMatch(inm, c.etag)) {
      sent = 304;
      res.writeHead(304, [CORS_ORIGIN_HEADER, '*', 'cache-control', cc, 'etag', c.etag]);
      res.end();
    } else {
      const body = view.subarray(2);
      res.writeHead(200, [CORS_ORIGIN_HEADER, '*', 'content-type', JSON_TYPE, 'cache-control', cc, 'etag', c.etag, 'content-length', String(body.length)]);
      res.end(body);
    }
  } else {
    const body = view.subarray(2);
    res.writeHead(status, [CORS_ORIGIN_HEADER, '*', 'content-type', JSON_TYPE, 'cache-control', NO_CACHE, 'content-length', String(body.length)]);
    res.end(body);
  }
  const seconds = (performance.now() - started) / 1000;
  fast.hits++;
  fast.metrics.observe('GET', ROUTE, sent, seconds);
  fast.access?.write(fast.access.nextId(), 'GET', url, sent, seconds * 1000);
  return true;
}

/** The routed answer of a shed request on the Handle API (overload.ts, problem.ts): 503, Retry-After. */
function shed(fast: FastPath, shedding: Shedding, url: string, res: ServerResponse, started: number): true {
  const body = shedding.handleBody;
  res.writeHead(503, [CORS_ORIGIN_HEADER, '*', 'retry-after', shedding.retryAfter, 'content-type', JSON_TYPE, 'content-length', String(body.length)]);
  res.end(body);
  const seconds = (performance.now() - started) / 1000;
  fast.hits++;
  fast.metrics.observe('GET', ROUTE, 503, seconds);
  fast.access?.write(fast.access.nextId(), 'GET', url, 503, seconds * 1000);
  return true;
}

/** An HTTP server that offers each request to the fast path first, with fastify's timeouts. */
export function fastResolveServerFactory(fast: FastPath) {
  return (fastify: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const server = createServer((req, res) => {
      if (!tryFastResolve(fast, req, res)) fastify(req, res);
    });
    // fastify's own defaults for the servers it creates.
    server.keepAliveTimeout = 72_000;
    server.requestTimeout = 0;
    server.setTimeout(0);
    return server;
  };
}
