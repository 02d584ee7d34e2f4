import { createHash, randomBytes } from 'node:crypto';
import { AuthFailed, AuthNonceUsed, AuthRequired, AuthSessionExpired, AuthSessionUnknown, ConfigInvalid } from '../../errors.js';
import { parseHandle } from '../../ids/handle.js';
import { decodePublicKeyJwk, type PublicJwk } from '../../records/pubkey.js';
import type { HandleValue } from '../../records/value.js';
import type { Principal } from './authorize.js';
import { challengeMessage, verifyChallengeSignature, type ChallengeAnswer } from './challenge.js';
import type { HandleService } from './handle-service.js';
import { formatIdentity, sameIdentity, type Identity } from './identity.js';

/**
 * Handle.Net-style authentication sessions, in memory. A session starts with a fresh random
 * nonce (the challenge); answering it once with a signature by an identity's HS_PUBKEY binds the
 * session to that identity, and the session id alone then authenticates requests until it is
 * idle too long, reaches its maximum age, is deleted, or the key it was proven with changes.
 *
 * Each nonce is answered at most once, successfully or not: a second answer (a replay) is refused
 * with ERR_AUTH_NONCE_USED, and authenticating again needs a new session.
 *
 * Unauthenticated and authenticated sessions are kept in two bounded maps, each evicting its least
 * recently used entry first, so a flood of anonymous challenges never pushes out a logged-in
 * client.
 */
export interface SessionOptions {
  /** Unauthenticated sessions kept at most (oldest evicted). */
  readonly maxPending?: number;
  /** Authenticated sessions kept at most (least recently used evicted). */
  readonly maxAuthenticated?: number;
  /** How long a challenge (an unauthenticated session and its nonce) stays answerable. */
  readonly challengeTtlMs?: number;
  /** An authenticated session ends after this long without use. */
  readonly idleTimeoutMs?: number;
  /** An authenticated session ends this long after it was authenticated, in use or not. */
  readonly maxLifetimeMs?: number;
  /** Server nonce length; at least 16. */
  readonly nonceBytes?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

export const SESSION_DEFAULTS = {
  maxPending: 10_000,
  maxAuthenticated: 10_000,
  challengeTtlMs: 5 * 60_000,
  idleTimeoutMs: 30 * 60_000,
  maxLifetimeMs: 12 * 3_600_000,
  nonceBytes: 16,
} as const;

/** The value an identity proved itself with; the session ends when it changes or goes. */
interface Credential {
  readonly identity: Identity;
  readonly type: string;
  readonly digest: string;
}

export interface Session {
  readonly id: string;
  readonly nonce: Buffer;
  readonly created: number;
  nonceUsed: boolean;
  lastUsed: number;
  authenticatedAt?: number;
  principal?: Principal;
  credential?: Credential;
}

/** `GET /api/sessions/this`, Handle.Net's shape. */
export interface SessionStatus {
  sessionId: string;
  nonce: string;
  authenticated: boolean;
  id?: string;
}

export class SessionStore {
  private readonly pending = new Map<string, Session>();
  private readonly authenticated = new Map<string, Session>();
  private readonly options: Required<Omit<SessionOptions, 'now'>>;
  private readonly now: () => number;

  constructor(options: SessionOptions = {}) {
    const { now, ...rest } = options;
    this.options = { ...SESSION_DEFAULTS, ...rest };
    for (const [name, v] of Object.entries(this.options)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new ConfigInvalid(`session option ${name} must be a positive integer`);
    }
    if (this.options.nonceBytes < 16) throw new ConfigInvalid('session nonces must be at least 16 bytes');
    this.now = now ?? Date.now;
  }

  get size(): { pending: number; authenticated: number } {
    return { pending: this.pending.size, authenticated: this.authenticated.size };
  }

  /** A new, unauthenticated session with a fresh nonce. */
  open(): Session {
    this.sweep();
    const now = this.now();
    const session: Session = { id: randomBytes(16).toString('base64url'), nonce: randomBytes(this.options.nonceBytes), created: now, nonceUsed: false, lastUsed: now };
    this.pending.set(session.id, session);
    evict(this.pending, this.options.maxPending);
    return session;
  }

  /**
   * A session for an identity authenticated by other means, e.g. HTTP Basic against its
   * `HS_SECKEY` (`type`); the session ends when that value changes. Its nonce counts as used.
   */
  openAuthenticated(principal: Principal, type: string, handles: HandleService): Session {
    const value = findCredentialValue(handles, principal.identity, type);
    if (!value) throw new AuthFailed(`Authentication failed for ${formatIdentity(principal.identity)}`);
    const session = this.open();
    session.nonceUsed = true;
    this.bind(session, principal, value);
    return session;
  }

  /** The live session with this id; ERR_AUTH_SESSION_UNKNOWN or ERR_AUTH_SESSION_EXPIRED otherwise. */
  find(id: string): Session {
    const session = this.pending.get(id) ?? this.authenticated.get(id);
    if (!session) throw new AuthSessionUnknown('No such session: it never existed, was deleted, or was evicted; open a new one');
    if (this.now() >= this.expiresAt(session)) {
      throw new AuthSessionExpired(session.principal ? 'The session has expired; open a new one' : 'The session expired before its nonce was answered; open a new one');
    }
    return session;
  }

  /**
   * Checks a signed answer to the session's nonce against the identity's HS_PUBKEY and binds the
   * session to that identity. The nonce is spent whatever the outcome.
   */
  answer(session: Session, answer: ChallengeAnswer, handles: HandleService): Principal {
    if (session.nonceUsed) {
      throw new AuthNonceUsed('This session\'s nonce has already been answered; open a new session to authenticate again');
    }
    session.nonceUsed = true;
    // One message for every failure, as for HTTP Basic: it must not tell which identities or keys exist.
    const failed = (): AuthFailed => new AuthFailed(`Authentication failed for ${formatIdentity(answer.identity)}`);
    const value = findCredentialValue(handles, answer.identity, 'HS_PUBKEY');
    if (!value) throw failed();
    let jwk: PublicJwk;
    try {
      jwk = decodePublicKeyJwk(value.data);
    } catch {
      throw failed();
    }
    if (!verifyChallengeSignature(jwk, answer.alg, challengeMessage(session.nonce, answer.cnonce), answer.signature)) throw failed();
    const principal: Principal = { identity: answer.identity, serverAdmin: sameIdentity(answer.identity, handles.serviceAdmin) };
    this.bind(session, principal, value);
    return principal;
  }

  /**
   * The identity of an authenticated session, checking that the value it was proven with is
   * still there unchanged; each use restarts the idle timeout.
   */
  principal(session: Session, handles: HandleService): Principal {
    const { principal, credential } = session;
    if (!principal || !credential) {
      throw new AuthRequired('The session is not authenticated yet: answer its nonce (Authorization: Handle sessionId, id, type, cnonce, alg, signature)');
    }
    const value = findCredentialValue(handles, credential.identity, credential.type);
    if (!value || valueDigest(value) !== credential.digest) {
      this.end(session.id);
      throw new AuthSessionExpired(`The session has ended: the ${credential.type} it was authenticated with has changed or gone`);
    }
    session.lastUsed = this.now();
    // Most recently used last: eviction takes the least recently used.
    this.authenticated.delete(session.id);
    this.authenticated.set(session.id, session);
    return principal;
  }

  /** Ends a session; false if there was none. */
  end(id: string): boolean {
    return this.pending.delete(id) || this.authenticated.delete(id);
  }

  status(session: Session): SessionStatus {
    const status: SessionStatus = { sessionId: session.id, nonce: session.nonce.toString('base64'), authenticated: session.principal !== undefined };
    if (session.principal) status.id = formatIdentity(session.principal.identity);
    return status;
  }

  /** When the session expires (milliseconds since the epoch). */
  expiresAt(session: Session): number {
    const { challengeTtlMs, idleTimeoutMs, maxLifetimeMs } = this.options;
    if (session.authenticatedAt === undefined) return session.created + challengeTtlMs;
    return Math.min(session.lastUsed + idleTimeoutMs, session.authenticatedAt + maxLifetimeMs);
  }

  private bind(session: Session, principal: Principal, value: HandleValue): void {
    const now = this.now();
    session.principal = principal;
    session.credential = { identity: principal.identity, type: value.type, digest: valueDigest(value) };
    session.authenticatedAt = now;
    session.lastUsed = now;
    this.pending.delete(session.id);
    this.authenticated.set(session.id, session);
    evict(this.authenticated, this.options.maxAuthenticated);
  }

  /**
   * Drops sessions that expired a while ago (one idle timeout), oldest first; recently expired
   * ones stay so that their clients hear "expired" rather than "unknown".
   */
  private sweep(): void {
    const cutoff = this.now() - this.options.idleTimeoutMs;
    for (const map of [this.pending, this.authenticated]) {
      for (const [id, session] of map) {
        if (this.expiresAt(session) > cutoff) break;
        map.delete(id);
      }
    }
  }
}

/** Removes the oldest entries (insertion order) beyond `max`. */
function evict(map: Map<string, Session>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}

/** The value of `type` at the identity's index on its (active) handle record, read as stored. */
function findCredentialValue(handles: HandleService, identity: Identity, type: string): HandleValue | undefined {
  let record;
  try {
    record = handles.findRecord(parseHandle(identity.handle));
  } catch {
    return undefined;
  }
  if (record?.status !== 'active') return undefined;
  return record.values.find((v) => v.index === identity.index && v.type === type);
}

function valueDigest(value: HandleValue): string {
  return createHash('sha256').update(value.type).update('\u0000').update(value.data).digest('base64');
}

/** One session store per HandleService (so every app and route over one service shares it). */
const stores = new WeakMap<HandleService, SessionStore>();

export function sessionStoreFor(handles: HandleService): SessionStore {
  let store = stores.get(handles);
  if (!store) {
    store = new SessionStore();
    stores.set(handles, store);
  }
  return store;
}

/** Replaces the session store of a service (other limits, an injected clock). */
export function useSessionStore(handles: HandleService, store: SessionStore): void {
  stores.set(handles, store);
}
