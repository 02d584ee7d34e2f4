import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyInvalid, PermissionDenied } from '../../errors.js';
import { currentResign, listServingKeys, parseRetireAfter, rotateServing, type RotateOptions } from '../../ops/rotate.js';
import type { Service } from '../../service/bootstrap.js';
import { isSigningAlg } from '../../signing/algorithms.js';
import { requirePrincipal } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const anyObject = { type: 'object', additionalProperties: true } as const;

/**
 * Key rotation on the running service, for its admin (`cairn keys rotate` needs the data directory,
 * which the server holds):
 *
 *   POST /api/admin/keys/rotate  {alg?, retireAfter?, batchSize?, pauseMs?} -> 202 {active, previous, resumed, resign}
 *   GET  /api/admin/keys         -> 200 {keys, resign, resignRunning, resignError}
 *
 * The rotation switches keys before answering; the re-sign runs in the background (its progress
 * is in `GET /api/admin/keys`) and a restart resumes it.
 */
export function adminKeyRoutes(app: FastifyInstance, service: Service): void {
  const requireAdmin = async (req: FastifyRequest, what: string): Promise<void> => {
    const who = await requirePrincipal(req, service.handles);
    if (!who.serverAdmin) throw new PermissionDenied(`Only the service admin may ${what}`);
  };
  // The background re-sign stops with the server (a later start resumes it).
  app.addHook('onClose', async () => currentResign(service)?.stop());

  app.post(
    '/api/admin/keys/rotate',
    {
      schema: {
        summary:
          'Rotate the signing key while serving (service admin only): body {alg?: EdDSA|ES256|RS256, retireAfter?: RFC 3339 time | duration (30d, PT12H) | "never", batchSize?, pauseMs?}; 202 once the new key signs, the re-sign continuing in the background',
        tags: ['operations'],
        response: { 202: anyObject, ...errorsFor(problem, 400, 401, 403, 415, 429) },
      },
    },
    async (req, reply) => {
      await requireAdmin(req, 'rotate the signing key');
      const options = rotateOptions(req.body);
      const result = await rotateServing(service, options, (err) => req.log.error({ err, event: 'resign' }, 're-signing stopped'));
      req.log.info({ event: 'key-rotation', active: result.active.kid, previous: result.previous.kid }, 'signing key rotated');
      return reply.code(202).header('cache-control', 'no-store').send(result);
    },
  );

  app.get(
    '/api/admin/keys',
    {
      schema: {
        summary: 'The signing keys with their state, and the re-sign progress (service admin only)',
        tags: ['operations'],
        response: { 200: anyObject, ...errorsFor(problem, 400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      await requireAdmin(req, 'list the signing keys');
      return reply.header('cache-control', 'no-store').send(await listServingKeys(service));
    },
  );
}

const FIELDS = new Set(['alg', 'retireAfter', 'batchSize', 'pauseMs']);

/** The body's options; anything else is ERR_BODY_INVALID naming the field. An absent body rotates with the defaults. */
function rotateOptions(body: unknown): Omit<RotateOptions, 'defer'> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new BodyInvalid('The body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!FIELDS.has(key)) throw new BodyInvalid(`Unknown field "${key}"; known: ${[...FIELDS].join(', ')}`, { field: key });
  const { alg, retireAfter, batchSize, pauseMs } = b;
  if (alg !== undefined && (typeof alg !== 'string' || !isSigningAlg(alg))) throw new BodyInvalid('"alg" must be EdDSA, ES256 or RS256', { field: 'alg' });
  let retire: number | null | undefined;
  if (retireAfter !== undefined) {
    retire = typeof retireAfter === 'string' ? parseRetireAfter(retireAfter) : undefined;
    if (retire === undefined) throw new BodyInvalid('"retireAfter" must be an RFC 3339 time with a zone, a duration (30d, 12h, P30D, PT12H) or "never"', { field: 'retireAfter' });
  }
  const count = (value: unknown, name: string, min: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 1_000_000) throw new BodyInvalid(`"${name}" must be a whole number from ${min} to 1000000`, { field: name });
    return value;
  };
  const batch = count(batchSize, 'batchSize', 1);
  const pause = count(pauseMs, 'pauseMs', 0);
  return {
    ...(alg === undefined ? {} : { alg: alg as NonNullable<RotateOptions['alg']> }),
    ...(retire === undefined ? {} : { retireAfter: retire }),
    resign: { ...(batch === undefined ? {} : { batchSize: batch }), ...(pause === undefined ? {} : { pauseMs: pause }) },
  };
}
