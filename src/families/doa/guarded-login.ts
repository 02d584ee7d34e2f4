import { AuthFailed } from '../../errors.js';
import type { Principal } from './authorize.js';
import type { ChallengeAnswer } from './challenge.js';
import type { HandleService } from './handle-service.js';
import { loginLimiterFor } from './login-limiter.js';
import { formatIdentity } from './identity.js';
import { sessionStoreFor, type Session } from './sessions.js';

/**
 * Every login, whatever the transport (HTTP Basic, `Authorization: Handle`, the sessions API,
 * DOIP), goes through one of these two, so the failed-login budget of `login-limiter.ts` holds
 * for all of them: a refused attempt checks no secret and spends no nonce.
 */

const isFailure = (e: unknown): boolean => e instanceof AuthFailed;

/** A password (HS_SECKEY) login from `address`; ERR_AUTH_RATE_LIMITED when the budget is spent. */
export function passwordLogin(handles: HandleService, address: string | undefined, identity: string, secret: string): Promise<Principal> {
  return loginLimiterFor(handles).guard({ address, identity, type: 'HS_SECKEY' }, () => handles.authenticate(identity, secret), isFailure);
}

/** A signed answer to a session's nonce (HS_PUBKEY) from `address`. */
export function challengeLogin(handles: HandleService, session: Session, answer: ChallengeAnswer, address: string | undefined): Principal {
  const attempt = { address, identity: formatIdentity(answer.identity), type: 'HS_PUBKEY' } as const;
  return loginLimiterFor(handles).guardSync(attempt, () => sessionStoreFor(handles).answer(session, answer, handles), isFailure);
}
