import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ERRORS, Overloaded } from '../errors.js';

/**
 * Load shedding (issue 8): past the configured limits (mean event-loop delay, heap, resident
 * memory: `CAIRN_OVERLOAD_*`) every request is answered at once with 503 `ERR_OVERLOADED` and
 * `Retry-After`, instead of queueing and letting latency grow without bound.
 * `@fastify/under-pressure` samples the process once a second and refuses routed requests; the
 * resolution fast path (fast-resolve.ts) asks the same sampler and answers the same way.
 * `/healthz` (the process is alive) and `/metrics` (what is going on) keep answering.
 */
export interface Shedding {
  /** Whether requests are being shed now: a few comparisons against the last sample. */
  readonly active: () => boolean;
  readonly retryAfter: string;
  /** The fast path's answer, as the Handle API's routed error answer would be (problem.ts). */
  readonly handleBody: Buffer;
}

const EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/metrics']);

export const overloadMessage = (retryAfterSeconds: number): string => `The service is overloaded; retry after ${retryAfterSeconds} s`;

/** Registers the shedding hook; undefined (nothing registered) when every limit is off. */
export async function registerOverload(app: FastifyInstance, config: Config): Promise<Shedding | undefined> {
  const { overloadMaxEventLoopDelayMs: delay, overloadMaxHeapBytes: heap, overloadMaxRssBytes: rss, overloadRetryAfterSeconds: retry } = config;
  if (delay === 0 && heap === 0 && rss === 0) return undefined;
  const retryAfter = String(retry);
  const message = overloadMessage(retry);
  await app.register(underPressure, {
    maxEventLoopDelay: delay,
    maxHeapUsedBytes: heap,
    maxRssBytes: rss,
    retryAfter: retry,
    // A rejected promise goes to fastify's error handler (Cairn's error shapes); resolving lets the request through.
    pressureHandler: async (req, reply) => {
      if (EXEMPT.has(req.url)) return;
      reply.header('retry-after', retryAfter);
      throw new Overloaded(message);
    },
  });
  const handleBody = Buffer.from(JSON.stringify({ responseCode: ERRORS.ERR_OVERLOADED.handleCode, message, code: 'ERR_OVERLOADED' }));
  return { active: () => app.isUnderPressure(), retryAfter, handleBody };
}
