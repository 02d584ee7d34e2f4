import { isIP } from 'node:net';
import { AuthRateLimited, ConfigInvalid } from '../../errors.js';
import { foldHandleCase } from '../../ids/handle.js';
import type { HandleService } from './handle-service.js';

/**
 * A budget of failed logins per client address and per identity. A failed HTTP Basic or DOIP
 * password login costs an scrypt (about 40 ms in libuv's thread pool, which LevelDB shares), so
 * unbounded guessing starves the store. Each key may fail `perAddress` / `perIdentity` times in a
 * window of `windowSeconds` (the window starts at its first failure); after that, attempts are
 * refused with ERR_AUTH_RATE_LIMITED *before* any secret is checked, until the window ends.
 *
 * - Addresses: IPv4 as is; IPv6 by its /64 (one host usually holds a whole /64).
 * - Identities are counted per credential type (`HS_SECKEY`, `HS_PUBKEY`), so guessing an
 *   identity's secret never locks out its key-based challenge-response login.
 * - A success clears its identity's count (not its address's: one valid account must not
 *   reset the budget an address spends guessing others).
 * - Only failures are counted, and only logins: authenticated sessions are never refused here.
 * - At most `maxTracked` keys are kept, least recently failed dropped first (which errs towards
 *   letting a client try again, never towards refusing one).
 */
export interface LoginLimits {
  /** Failed logins allowed per client address in one window. */
  readonly perAddress: number;
  /** Failed logins allowed per identity (and credential type) in one window. */
  readonly perIdentity: number;
  readonly windowSeconds: number;
  readonly maxTracked?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly now?: () => number;
}

export const LOGIN_LIMIT_DEFAULTS = { perAddress: 20, perIdentity: 10, windowSeconds: 60, maxTracked: 100_000 } as const;

/** Which credential a login attempt presents; identities are budgeted per type. */
export type CredentialType = 'HS_SECKEY' | 'HS_PUBKEY';

export interface LoginAttempt {
  /** The client's address (`req.ip`, the TLS socket's remote address); undefined if unknown. */
  readonly address: string | undefined;
  /** The identity as the client wrote it (`index:handle`), if it named one. */
  readonly identity: string | undefined;
  readonly type: CredentialType;
}

interface Window {
  failures: number;
  endsAt: number;
}

export class LoginLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly limits: Required<Omit<LoginLimits, 'now'>>;
  private readonly now: () => number;

  constructor(limits: Partial<LoginLimits> = {}) {
    const { now, ...rest } = limits;
    this.limits = { ...LOGIN_LIMIT_DEFAULTS, ...rest };
    for (const [name, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new ConfigInvalid(`login limit ${name} must be a positive integer, got ${String(v)}`);
    }
    this.now = now ?? Date.now;
  }

  /** Throws ERR_AUTH_RATE_LIMITED (with `retryAfterSeconds`) when the attempt's budget is spent. */
  check(attempt: LoginAttempt): void {
    const now = this.now();
    let endsAt = 0;
    for (const [key, limit] of this.keys(attempt)) {
      const w = this.windows.get(key);
      if (w && w.endsAt > now && w.failures >= limit) endsAt = Math.max(endsAt, w.endsAt);
    }
    if (endsAt === 0) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((endsAt - now) / 1000));
    throw new AuthRateLimited(`Too many failed logins from this address or for this identity; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
  }

  failed(attempt: LoginAttempt): void {
    const now = this.now();
    for (const [key] of this.keys(attempt)) {
      let w = this.windows.get(key);
      if (!w || w.endsAt <= now) w = { failures: 0, endsAt: now + this.limits.windowSeconds * 1000 };
      w.failures += 1;
      this.windows.delete(key); // most recently failed last: eviction takes the oldest
      this.windows.set(key, w);
    }
    while (this.windows.size > this.limits.maxTracked) this.windows.delete(this.windows.keys().next().value!);
  }

  succeeded(attempt: LoginAttempt): void {
    const key = identityKey(attempt);
    if (key !== undefined) this.windows.delete(key);
  }

  /**
   * Runs a login: refused without running it when the budget is spent; a failure (`isFailure`)
   * is counted, a success clears the identity's count.
   */
  async guard<T>(attempt: LoginAttempt, login: () => T | Promise<T>, isFailure: (e: unknown) => boolean): Promise<T> {
    this.check(attempt);
    return this.settle(attempt, login, isFailure);
  }

  /** `guard` for synchronous logins (a challenge answer), so callers stay synchronous. */
  guardSync<T>(attempt: LoginAttempt, login: () => T, isFailure: (e: unknown) => boolean): T {
    this.check(attempt);
    try {
      const result = login();
      this.succeeded(attempt);
      return result;
    } catch (e) {
      if (isFailure(e)) this.failed(attempt);
      throw e;
    }
  }

  private async settle<T>(attempt: LoginAttempt, login: () => T | Promise<T>, isFailure: (e: unknown) => boolean): Promise<T> {
    try {
      const result = await login();
      this.succeeded(attempt);
      return result;
    } catch (e) {
      if (isFailure(e)) this.failed(attempt);
      throw e;
    }
  }

  private keys(attempt: LoginAttempt): Array<[string, number]> {
    const keys: Array<[string, number]> = [];
    const address = addressKey(attempt.address);
    if (address !== undefined) keys.push([address, this.limits.perAddress]);
    const identity = identityKey(attempt);
    if (identity !== undefined) keys.push([identity, this.limits.perIdentity]);
    return keys;
  }
}

/** `a:<IPv4>` or `a:<first four IPv6 groups>/64`; IPv4-mapped IPv6 counts as IPv4. */
export function addressKey(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return `a:${mapped[1]}`;
  if (isIP(address) !== 6) return `a:${address}`;
  return `a:${expandIpv6(address).slice(0, 4).join(':')}/64`;
}

function expandIpv6(address: string): string[] {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const [head = '', tail] = bare.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : String(parseInt(g, 16).toString(16))));
}

/** `i:<type>:<index>:<handle, case-folded>`, bounded in length; undefined without an identity. */
function identityKey(attempt: LoginAttempt): string | undefined {
  const id = attempt.identity;
  if (id === undefined || id === '') return undefined;
  return `i:${attempt.type}:${foldHandleCase(id.slice(0, 300))}`;
}

/** One limiter per HandleService, so HTTP and DOIP over one service share the budget. */
const limiters = new WeakMap<HandleService, LoginLimiter>();

export function loginLimiterFor(handles: HandleService): LoginLimiter {
  let limiter = limiters.get(handles);
  if (!limiter) {
    limiter = new LoginLimiter();
    limiters.set(handles, limiter);
  }
  return limiter;
}

/** Replaces the limiter of a service (configured limits, an injected clock). */
export function useLoginLimiter(handles: HandleService, limiter: LoginLimiter): void {
  limiters.set(handles, limiter);
}
