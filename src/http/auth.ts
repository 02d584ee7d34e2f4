import type { FastifyRequest } from 'fastify';
import { AuthFailed, AuthInsecureTransport, AuthRequired } from '../errors.js';
import type { Principal } from '../families/doa/authorize.js';
import type { HandleService } from '../families/doa/handle-service.js';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && LOOPBACK.test(address);
}

/**
 * HTTP Basic as Handle.Net takes it: the user name is `index:handle` with the colon (and any `%`)
 * percent-encoded, e.g. `300%3A0.NA/20.5000`; the password is the HS_SECKEY secret. Credentials over
 * plain HTTP are accepted only from loopback.
 */
export async function requirePrincipal(req: FastifyRequest, handles: HandleService): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) throw new AuthRequired('This operation needs credentials (HTTP Basic, user index%3Ahandle)');
  if (req.protocol !== 'https' && !isLoopback(req.socket.remoteAddress)) {
    throw new AuthInsecureTransport('Credentials are accepted over TLS, or over plain HTTP from loopback only');
  }
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!m) throw new AuthFailed('Authorization must be HTTP Basic');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new AuthFailed('Basic credentials have no ":"');
  let user: string;
  try {
    user = decodeURIComponent(decoded.slice(0, colon));
  } catch {
    throw new AuthFailed('Basic user name is not valid percent-encoding');
  }
  return handles.authenticate(user, decoded.slice(colon + 1));
}
