/**
 * Per-client token buckets for the verify endpoints: each client address has `capacity` tokens,
 * refilled at `refillPerSecond`; a request takes one, and without one it is refused with the time
 * until the next token. At most `maxClients` buckets are kept; when full, the least recently used
 * goes (a client forgotten this way starts again with a full bucket, which only ever errs towards
 * serving).
 */
export interface RateLimitOptions {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxClients?: number;
  readonly now?: () => number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { capacity: 30, refillPerSecond: 1 };

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;

  constructor(options: RateLimitOptions = DEFAULT_RATE_LIMIT) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) throw new RangeError('A rate limit needs capacity >= 1 and a positive refill rate');
    this.capacity = options.capacity;
    this.refillPerMs = options.refillPerSecond / 1000;
    this.maxClients = Math.max(1, options.maxClients ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  take(client: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(client) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + Math.max(0, now - bucket.at) * this.refillPerMs);
    bucket.at = now;
    this.buckets.delete(client);
    this.buckets.set(client, bucket);
    while (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.refillPerMs / 1000)) };
  }
}
