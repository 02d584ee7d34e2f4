import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DOIP_OPS, canonicalOperation } from '../doip/message.js';
import type { DoipService } from '../doip/operations.js';
import { MirrorReadOnly } from '../errors.js';

/** What the HTTP app of a mirror needs from it (`AppOptions.mirror`). */
export interface MirrorHttp {
  /** Adds the read-only hooks, the status route and the mirror's metrics; call before the routes. */
  register(app: FastifyInstance): void;
}

export interface MirrorReporter {
  status(): Record<string, unknown>;
  metrics(): string;
}

/** The mirror's own answers: never sent to the primary, credentials or not. */
const OWN_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/api/mirror', '/.well-known/jwks.json', '/openapi.json']);
const DOIP_WRITES = new Set<string>([DOIP_OPS.create, DOIP_OPS.update, DOIP_OPS.delete]);

/** Handle.Net's boolean query flag: present and empty, `true` or `yes` (the last one counts). */
function authFlag(query: string): boolean {
  const v = new URLSearchParams(query).getAll('auth').at(-1);
  return v !== undefined && (v === '' || /^(true|yes)$/i.test(v));
}

/**
 * A mirror answers reads from its own store and nothing else:
 *
 * - Writes (every method but GET, HEAD and OPTIONS; `POST /doip` only for DOIP's read operations)
 *   are refused before their body is read or their credentials checked, as Handle.Net refuses
 *   administrative requests at a server that is not primary: Handle `responseCode` 301
 *   (RC_SERVER_NOT_RESP, "Not a primary server") with HTTP 400, Cairn code ERR_MIRROR_READ_ONLY.
 * - Reads that present credentials (`auth=true`; an `Authorization` header, except on a handle's
 *   resolution, which ignores it) are redirected (307) to the same URL on the primary: only the
 *   primary holds secrets and admin-only values.
 * - `GET /api/mirror` reports how far the mirror has followed; `/metrics` gains `cairn_mirror_*`.
 */
export function mirrorHttp(primary: string, reporter: MirrorReporter): MirrorHttp {
  return {
    register(app) {
      app.addHook('onRequest', (req, reply, done) => {
        const q = req.url.indexOf('?');
        const path = q < 0 ? req.url : req.url.slice(0, q);
        if (req.method === 'GET' || req.method === 'HEAD') {
          if (!OWN_PATHS.has(path) && !path.startsWith('/docs') && presentsCredentials(req, path, q < 0 ? '' : req.url.slice(q + 1))) {
            void reply.redirect(`${primary}${req.url}`, 307);
            return;
          }
          done();
          return;
        }
        if (req.method === 'OPTIONS' || (req.method === 'POST' && path === '/doip' && !doipWrite(q < 0 ? '' : req.url.slice(q + 1)))) {
          done();
          return;
        }
        done(new MirrorReadOnly(`Not a primary server: this is a read-only mirror of ${primary}; send ${req.method} ${path} there`, { primary }));
      });

      app.addHook('onSend', (req, reply, payload, done) => {
        if (req.routeOptions.url === '/metrics' && reply.statusCode === 200 && typeof payload === 'string') {
          done(null, payload + reporter.metrics());
          return;
        }
        done(null, payload);
      });

      app.get(
        '/api/mirror',
        {
          schema: {
            summary: 'This mirror: its primary, how far it has followed the change feed, and the entries it rejected',
            tags: ['mirror'],
            response: { 200: { type: 'object', additionalProperties: true } },
          },
        },
        async () => reporter.status(),
      );
    },
  };
}

/** A DOIP request whose `operationId` query parameter names Create, Update or Delete (the body may name one too: `refuseDoipWrites`). */
function doipWrite(query: string): boolean {
  const op = canonicalOperation(new URLSearchParams(query).get('operationId') ?? '');
  return op !== undefined && DOIP_WRITES.has(op);
}

/**
 * `auth=true` anywhere; an `Authorization` header on any read but a handle's resolution, which
 * ignores credentials without `auth=true` on the primary too (and is answered ahead of the
 * router when it has no query string).
 */
function presentsCredentials(req: FastifyRequest, path: string, query: string): boolean {
  if (query !== '' && authFlag(query)) return true;
  return req.headers.authorization !== undefined && !path.startsWith('/api/handles/');
}

/**
 * DOIP on a mirror (TLS listener and `/doip` share one DoipService): Create, Update and Delete
 * are refused with ERR_MIRROR_READ_ONLY; Hello, ListOperations, Retrieve and Search run as usual.
 */
export function refuseDoipWrites(doip: DoipService, primary: string): void {
  const execute = doip.execute.bind(doip);
  doip.execute = (req, ctx) => {
    const op = canonicalOperation(req.operationId);
    if (op !== undefined && DOIP_WRITES.has(op)) {
      return Promise.reject(new MirrorReadOnly(`Not a primary server: this is a read-only mirror of ${primary}; send ${op} there`, { primary }));
    }
    return execute(req, ctx);
  };
}
