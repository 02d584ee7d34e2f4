import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthFailed, AuthInsecureTransport, AuthRateLimited, AuthRequired } from '../errors.js';
import type { Principal } from '../families/doa/authorize.js';
import { parseHandleAuthorization, splitAuthorization, type HandleAuthorization } from '../families/doa/challenge.js';
import { challengeLogin, passwordLogin } from '../families/doa/guarded-login.js';
import type { HandleService } from '../families/doa/handle-service.js';
import { sessionStoreFor, type Session } from '../families/doa/sessions.js';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

export const BASIC_CHALLENGE = 'Basic realm="handle"';

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK.test(address);
}

/** Credentials (a Basic password, a Handle signature or session id) travel over TLS, or over plain HTTP from loopback only. */
export function credentialsAllowed(req: FastifyRequest): boolean {
  return req.protocol === 'https' || isLoopback(req.socket.remoteAddress);
}

export function requireSecureTransport(req: FastifyRequest): void {
  if (!credentialsAllowed(req)) throw new AuthInsecureTransport('Credentials are accepted over TLS, or over plain HTTP from loopback only');
}

/**
 * The authenticated identity of a request, from either
 * - HTTP Basic as Handle.Net takes it: the user name is `index:handle` with the colon (and any `%`)
 *   percent-encoded, e.g. `300%3A0.NA/20.5000`; the password is the HS_SECKEY secret; or
 * - `Authorization: Handle sessionId="…"` naming an authenticated session, or the same with a signed
 *   answer to the session's nonce (`id`, `type`, `cnonce`, `alg`, `signature`), which
 *   authenticates the session on the way (src/families/doa/challenge.ts has the grammar).
 * Credentials over plain HTTP are accepted only from loopback. Failed logins are budgeted per
 * client address and identity (src/families/doa/login-limiter.ts): past the budget, 429
 * ERR_AUTH_RATE_LIMITED with `Retry-After`, and no secret is checked.
 */
export async function requirePrincipal(req: FastifyRequest, handles: HandleService): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) {
    throw new AuthRequired('This operation needs credentials: HTTP Basic (user index%3Ahandle) or Authorization: Handle (answer the WWW-Authenticate challenge)');
  }
  requireSecureTransport(req);
  const { scheme, rest } = splitAuthorization(header);
  if (scheme === 'handle') return handlePrincipal(parseHandleAuthorization(rest), handles, req.ip);
  return basicPrincipal(header, handles, req.ip);
}

/** HTTP Basic against an HS_SECKEY value (any other scheme is ERR_AUTH_FAILED). */
export async function basicPrincipal(header: string, handles: HandleService, address: string | undefined): Promise<Principal> {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!m) throw new AuthFailed('Authorization must be HTTP Basic or Handle');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new AuthFailed('Basic credentials have no ":"');
  let user: string;
  try {
    user = decodeURIComponent(decoded.slice(0, colon));
  } catch {
    throw new AuthFailed('Basic user name is not valid percent-encoding');
  }
  return passwordLogin(handles, address, user, decoded.slice(colon + 1));
}

function handlePrincipal(auth: HandleAuthorization, handles: HandleService, address: string | undefined): Principal {
  // `Authorization: Handle` (or `Handle version="0"`) alone asks for a challenge.
  if (auth.sessionId === undefined) throw new AuthRequired('Authorization: Handle needs sessionId="…": answer the WWW-Authenticate challenge, or open a session with POST /api/sessions');
  const store = sessionStoreFor(handles);
  const session = store.find(auth.sessionId);
  return auth.answer ? challengeLogin(handles, session, auth.answer, address) : store.principal(session, handles);
}

/** `WWW-Authenticate: Handle sessionId="…", nonce="…"`, Handle.Net's challenge. */
export function handleChallenge(session: Session): string {
  return `Handle sessionId="${session.id}", nonce="${session.nonce.toString('base64')}"`;
}

/**
 * Writes (any method but GET and HEAD), `auth=true` reads and the sessions API are offered the
 * Handle challenge next to Basic when they answer 401, where credentials may be sent at all (TLS
 * or loopback). Other reads keep Basic alone.
 */
function offersHandleChallenge(req: FastifyRequest): boolean {
  if (!credentialsAllowed(req)) return false;
  const [path = '', query = ''] = req.url.split('?', 2);
  if (path === '/api/sessions' || path.startsWith('/api/sessions/')) return true;
  if (req.method !== 'GET' && req.method !== 'HEAD') return true;
  return new URLSearchParams(query).getAll('auth').some((v) => v.toLowerCase() === 'true');
}

/**
 * Answers 401s with a fresh session's challenge (`WWW-Authenticate: Handle …`) before Basic's,
 * and adds `Retry-After` to refused logins (429 ERR_AUTH_RATE_LIMITED); register before the
 * routes so every scope inherits it.
 */
export function registerHandleChallenge(app: FastifyInstance, handles: HandleService): void {
  // Callback style: no promise per response on the read path.
  app.addHook('onError', (_req, reply, error, done) => {
    const seconds = error instanceof AuthRateLimited ? error.details?.retryAfterSeconds : undefined;
    if (typeof seconds === 'number') reply.header('retry-after', String(seconds));
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    if (reply.statusCode === 401 && offersHandleChallenge(req)) {
      reply.header('www-authenticate', [handleChallenge(sessionStoreFor(handles).open()), BASIC_CHALLENGE]);
    }
    done(null, payload);
  });
}
