import { pooledRandomBytes } from './random-pool.js';

/**
 * Verification challenges (`POST /api/verify/challenges`): a fresh 32-byte nonce for one item,
 * valid at most 120 seconds, usable once. The device signs it (see challenge-message.ts), the
 * verifier presents the signature with the challenge id, and the challenge is spent on its first
 * presentation whatever the outcome, so a signature can never be replayed.
 *
 * Kept in memory, bounded: challenges live two minutes, so losing them on restart costs a client
 * one retry. When the store is full the oldest entry goes first (entries are in issue order, and
 * with one lifetime for all that is expiry order too). Spent and expired entries are kept until
 * one more lifetime has passed so that a second presentation is answered "used" or "expired"
 * rather than "unknown".
 */
export interface Challenge {
  readonly challengeId: string;
  /** 32 random bytes, base64url without padding. */
  readonly nonce: string;
  /** The canonical id of the item (or the identifier as given, for an unknown one) it is bound to. */
  readonly id: string;
  readonly service: string;
  /** Milliseconds since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export type ChallengeRefusal = 'unknown' | 'used' | 'expired' | 'other-item';
export type ChallengeUse = { readonly ok: true; readonly challenge: Challenge } | { readonly ok: false; readonly refusal: ChallengeRefusal };

export interface ChallengeStoreOptions {
  /** Lifetime in seconds, 1..120 (default 120). */
  readonly ttlSeconds?: number;
  /** Entries kept at most (default 100,000: about 30 MB at worst). */
  readonly maxEntries?: number;
  /** Clock in milliseconds. */
  readonly now?: () => number;
  readonly randomBytes?: (n: number) => Buffer;
}

export const MAX_CHALLENGE_TTL_SECONDS = 120;
export const NONCE_BYTES = 32;
/** 16 random bytes, base64url: 22 characters. */
export const CHALLENGE_ID = /^[A-Za-z0-9_-]{22}$/;

interface Entry {
  readonly challenge: Challenge;
  spent: boolean;
}

export class ChallengeStore {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly random: (n: number) => Buffer;

  constructor(options: ChallengeStoreOptions = {}) {
    const ttl = options.ttlSeconds ?? MAX_CHALLENGE_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_CHALLENGE_TTL_SECONDS) throw new RangeError(`Challenge lifetime must be 1..${MAX_CHALLENGE_TTL_SECONDS} s`);
    this.ttlMs = ttl * 1000;
    this.maxEntries = Math.max(1, options.maxEntries ?? 100_000);
    this.now = options.now ?? Date.now;
    this.random = options.randomBytes ?? pooledRandomBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  issue(id: string, service: string): Challenge {
    const now = this.now();
    this.sweep(now);
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const challenge: Challenge = {
      challengeId: this.random(16).toString('base64url'),
      nonce: this.random(NONCE_BYTES).toString('base64url'),
      id,
      service,
      issuedAt: now,
      expiresAt: now + this.ttlMs,
    };
    this.entries.set(challenge.challengeId, { challenge, spent: false });
    return challenge;
  }

  /** Spends the challenge (on every outcome but "unknown") and says whether it may be used for `id`. */
  consume(challengeId: string, id: string): ChallengeUse {
    const now = this.now();
    const entry = this.entries.get(challengeId);
    if (!entry || now > entry.challenge.expiresAt + this.ttlMs) return { ok: false, refusal: 'unknown' };
    if (entry.spent) return { ok: false, refusal: 'used' };
    entry.spent = true;
    if (now > entry.challenge.expiresAt) return { ok: false, refusal: 'expired' };
    if (entry.challenge.id !== id) return { ok: false, refusal: 'other-item' };
    return { ok: true, challenge: entry.challenge };
  }

  /** Drops entries past their lifetime and the grace after it (the oldest are first). */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now <= entry.challenge.expiresAt + this.ttlMs) break;
      this.entries.delete(key);
    }
  }
}
