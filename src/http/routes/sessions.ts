import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthHeaderInvalid, AuthRequired, AuthSessionUnknown, BodyInvalid } from '../../errors.js';
import { handleAuthorizationFromParams, parseHandleAuthorization, splitAuthorization, type HandleAuthorization } from '../../families/doa/challenge.js';
import { challengeLogin } from '../../families/doa/guarded-login.js';
import type { HandleService } from '../../families/doa/handle-service.js';
import { sessionStoreFor } from '../../families/doa/sessions.js';
import { basicPrincipal, requireSecureTransport } from '../auth.js';
import { errorsFor, problem } from '../schemas.js';

const sessionStatus = {
  type: 'object',
  description: 'Handle.Net session: sessionId, nonce (Base64), and once authenticated, the identity',
  properties: { sessionId: { type: 'string' }, nonce: { type: 'string' }, authenticated: { type: 'boolean' }, id: { type: 'string' } },
  required: ['sessionId', 'nonce'],
  additionalProperties: false,
} as const;

/** The fields of `Authorization: Handle`, also accepted as a JSON body by PUT /api/sessions/this. */
const BODY_FIELDS = ['version', 'sessionId', 'id', 'type', 'cnonce', 'alg', 'signature'] as const;

const nameTheSession = (): AuthRequired => new AuthRequired('Name the session: Authorization: Handle sessionId="…"');

/**
 * The Handle parameters of a sessions request: from `Authorization: Handle …`, or (PUT/POST only,
 * when there is no Authorization header) from a JSON object with the same fields.
 */
function sessionAuthorization(req: FastifyRequest, bodyAllowed: boolean): HandleAuthorization {
  const header = req.headers.authorization;
  if (header) {
    const { scheme, rest } = splitAuthorization(header);
    if (scheme !== 'handle') throw new AuthHeaderInvalid('The sessions API takes Authorization: Handle sessionId="…"');
    return parseHandleAuthorization(rest);
  }
  const body = req.body;
  if (bodyAllowed && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const params = new Map<string, string>();
    for (const field of BODY_FIELDS) {
      const v = (body as Record<string, unknown>)[field];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw new BodyInvalid(`"${field}" must be a string`);
      params.set(field.toLowerCase(), v);
    }
    return handleAuthorizationFromParams(params);
  }
  throw nameTheSession();
}

/**
 * Handle.Net's sessions API. Sessions carry credentials, so every call is held to the same
 * transport rule as credentials: TLS, or plain HTTP from loopback.
 */
export function sessionRoutes(app: FastifyInstance, handles: HandleService): void {
  const errors = (...statuses: number[]) => errorsFor(problem, ...statuses);

  app.post(
    '/api/sessions',
    {
      schema: {
        summary: 'Open a session: answers {sessionId, nonce}; with HTTP Basic credentials the session is authenticated at once',
        tags: ['sessions'],
        response: { 200: sessionStatus, ...errors(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      requireSecureTransport(req);
      const store = sessionStoreFor(handles);
      const header = req.headers.authorization;
      if (header) {
        const { scheme, rest } = splitAuthorization(header);
        if (scheme !== 'handle') {
          const principal = await basicPrincipal(header, handles, req.ip);
          return reply.send(store.status(store.openAuthenticated(principal, 'HS_SECKEY', handles)));
        }
        // `Authorization: Handle version="0"` is what some clients send here; anything more is misplaced.
        const auth = parseHandleAuthorization(rest);
        if (auth.sessionId !== undefined || auth.answer) {
          throw new AuthHeaderInvalid('POST /api/sessions opens a new session; authenticate an existing one with PUT /api/sessions/this');
        }
      }
      const { sessionId, nonce } = store.status(store.open());
      return reply.send({ sessionId, nonce });
    },
  );

  app.get(
    '/api/sessions/this',
    {
      schema: {
        summary: 'Status of the session named by Authorization: Handle sessionId="…"',
        tags: ['sessions'],
        response: { 200: sessionStatus, ...errors(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      requireSecureTransport(req);
      const auth = sessionAuthorization(req, false);
      if (auth.sessionId === undefined) throw nameTheSession();
      const store = sessionStoreFor(handles);
      const session = store.find(auth.sessionId);
      if (auth.answer) challengeLogin(handles, session, auth.answer, req.ip);
      else if (session.principal) store.principal(session, handles); // still valid? (and restarts the idle timeout)
      return reply.send(store.status(session));
    },
  );

  app.route({
    method: ['PUT', 'POST'],
    url: '/api/sessions/this',
    schema: {
      summary: 'Authenticate the session: Authorization: Handle sessionId, id, type, cnonce, alg, signature (or those fields as a JSON body); POST counts as PUT',
      tags: ['sessions'],
      response: { 200: sessionStatus, ...errors(400, 401, 403, 415, 429) },
    },
    handler: async (req, reply) => {
      requireSecureTransport(req);
      const auth = sessionAuthorization(req, true);
      if (auth.sessionId === undefined) throw nameTheSession();
      const store = sessionStoreFor(handles);
      const session = store.find(auth.sessionId);
      if (!auth.answer) throw new AuthHeaderInvalid('Authenticating a session needs id, type, cnonce, alg and signature next to sessionId');
      challengeLogin(handles, session, auth.answer, req.ip);
      return reply.send(store.status(session));
    },
  });

  app.delete(
    '/api/sessions/this',
    {
      schema: {
        summary: 'End the session named by Authorization: Handle sessionId="…" (204)',
        tags: ['sessions'],
        response: { 204: { type: 'null', description: 'Session ended' }, ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      requireSecureTransport(req);
      const auth = sessionAuthorization(req, false);
      if (auth.sessionId === undefined) throw nameTheSession();
      if (!sessionStoreFor(handles).end(auth.sessionId)) throw new AuthSessionUnknown('No such session: it never existed, was deleted, or was evicted');
      return reply.code(204).send();
    },
  );
}
