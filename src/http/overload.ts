import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ERRORS, Overloaded } from '../errors.js';
import type { Gauge } from './metrics.js';

/**
 * Load shedding (issue 8): past capacity every HTTP request is answered at once with 503
 * `ERR_OVERLOADED` and `Retry-After`, instead of queueing and letting latency grow without bound.
 * `/healthz` (the process is alive) and `/metrics` (what is going on) keep answering.
 *
 * Two signals, each switched off by `0` (`CAIRN_OVERLOAD_*`), chosen so that a saturated
 * closed-loop client (every connection waiting for its answer: latency is bounded by the number
 * of connections) never trips them, and a backlog that keeps growing does:
 * - requests in flight (counted from `onRequest`, or the resolution fast path, to the response's
 *   `close`): a queue of work waiting on the store, the thread pool or the CPU shows up here
 *   first; 32 keep-alive connections can never hold more than 32. A fast-path answer is written at
 *   once but closes only on a later turn of the event loop, so a flood of connections that each
 *   bring a request in the same turn counts too.
 * - event-loop delay that STAYS over the limit for a whole stretch (SUSTAIN_MS) while the loop is
 *   busy and requests keep arriving: the minimum over the stretch, as CoDel judges a standing
 *   queue, not a mean or a percentile. One long synchronous stretch is one late sample and never
 *   sheds; a loop kept busy by work of its own (start-up: generating keys, building indexes) with
 *   no request waiting is no backlog of requests; a process that was merely descheduled on a busy
 *   machine was idle meanwhile (low utilisation). The first version used
 *   `@fastify/under-pressure`'s mean per second, which one such stretch could push over its limit.
 * Heap and resident-memory limits (off by default) are sampled once a second.
 *
 * A request pays two counters and one `close` listener (and the routed ones a hook), and reads no
 * clock: the timer reads it every TICK_MS.
 */
export interface Shedding {
  /** Counts a request in flight until `res` closes; false: shed it (a few comparisons). */
  readonly admit: (res: ServerResponse) => boolean;
  readonly retryAfter: string;
  /** The fast path's answer, as the Handle API's routed error answer would be (problem.ts). */
  readonly handleBody: Buffer;
  /** The `/metrics` gauges: shedding now, requests in flight, the last event-loop delay. */
  readonly gauges: () => Readonly<Record<string, Gauge>>;
}

const EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/metrics']);
/** Read only for a request about to be shed. */
const exempt = (url: string): boolean => {
  const query = url.indexOf('?');
  return EXEMPT.has(query < 0 ? url : url.slice(0, query));
};

/** How often the event loop's delay is sampled (a timer: late by the delay). */
const TICK_MS = 100;
/** How long every sample must be over the delay limit before shedding starts. */
const SUSTAIN_MS = 2_000;
/** The loop must have been this busy over that stretch: otherwise the process was starved, not overloaded. */
const MIN_UTILISATION = 0.9;
/**
 * Shedding on delay goes on this long after the delay fell under the limit: shed answers are
 * cheap, so the loop frees up at once while the clients' backlog has not gone away yet.
 */
const HOLD_MS = 1_000;
/** Memory is read every this many ticks (about once a second). */
const MEMORY_TICKS = 10;

export const overloadMessage = (retryAfterSeconds: number): string => `The service is overloaded; retry after ${retryAfterSeconds} s`;

/** The signals that need a clock: event-loop delay (sustained, busy loop) and memory; read by a timer. */
class Sampler {
  /** Whether a sampled signal says shed now. */
  shedding = false;
  /** The last sample's delay, ms. */
  delayMs = 0;
  private last = performance.now();
  private ticks = 0;
  /** Start of the current run of samples over the delay limit, and the loop's utilisation then. */
  private overSince: number | undefined;
  private eluAtStart: EventLoopUtilization | undefined;
  private delayShedding = false;
  private calmSince = 0;
  private memoryShedding = false;
  private readonly timer: NodeJS.Timeout;

  /** Requests admitted by the last sample. */
  private seen = 0;

  constructor(
    private readonly limits: { readonly delayMs: number; readonly heapBytes: number; readonly rssBytes: number },
    /** Requests admitted so far (a counter that only grows). */
    private readonly arrivals: () => number,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    this.delayMs = Math.max(0, now - this.last - TICK_MS);
    this.last = now;
    if (this.limits.delayMs > 0) this.judgeDelay(now);
    if (++this.ticks % MEMORY_TICKS === 0 && (this.limits.heapBytes > 0 || this.limits.rssBytes > 0)) {
      const { heapBytes, rssBytes } = this.limits;
      this.memoryShedding = (heapBytes > 0 && getHeapStatistics().used_heap_size > heapBytes) || (rssBytes > 0 && process.memoryUsage.rss() > rssBytes);
    }
    this.shedding = this.delayShedding || this.memoryShedding;
  }

  private judgeDelay(now: number): void {
    const arrived = this.arrivals();
    const waiting = arrived !== this.seen;
    this.seen = arrived;
    if (this.delayMs > this.limits.delayMs && waiting) {
      // The run starts at its first late sample, never before: one long stall is one sample.
      if (this.overSince === undefined) {
        this.overSince = now;
        this.eluAtStart = performance.eventLoopUtilization();
      } else if (!this.delayShedding && now - this.overSince >= SUSTAIN_MS) {
        this.delayShedding = performance.eventLoopUtilization(this.eluAtStart).utilization >= MIN_UTILISATION;
      }
      this.calmSince = now;
      return;
    }
    this.overSince = undefined;
    if (this.delayShedding && now - this.calmSince >= HOLD_MS) this.delayShedding = false;
  }
}

/** Registers the shedding hook; undefined (nothing registered) when every limit is off. */
export async function registerOverload(app: FastifyInstance, config: Config): Promise<Shedding | undefined> {
  const { overloadMaxInFlight: maxInFlight, overloadMaxEventLoopDelayMs: delayMs, overloadMaxHeapBytes: heapBytes, overloadMaxRssBytes: rssBytes } = config;
  if (maxInFlight === 0 && delayMs === 0 && heapBytes === 0 && rssBytes === 0) return undefined;
  const retry = config.overloadRetryAfterSeconds;
  const retryAfter = String(retry);
  const message = overloadMessage(retry);
  let inFlight = 0;
  let arrivals = 0;
  const sampler = delayMs > 0 || heapBytes > 0 || rssBytes > 0 ? new Sampler({ delayMs, heapBytes, rssBytes }, () => arrivals) : undefined;
  // Off is a cap no count reaches, so the hot check stays one comparison.
  const cap = maxInFlight === 0 ? Number.POSITIVE_INFINITY : maxInFlight;
  // One function for every response: `close` comes once, on completion and on a dropped connection alike.
  const release = (): void => {
    inFlight--;
  };

  const admit = (res: ServerResponse): boolean => {
    inFlight++;
    arrivals++;
    res.on('close', release);
    return inFlight <= cap && sampler?.shedding !== true;
  };

  app.addHook('onRequest', (req, reply, done) => {
    if (!admit(reply.raw) && !exempt(req.url)) {
      reply.header('retry-after', retryAfter);
      // fastify's error handler gives it Cairn's shapes (problem.ts).
      done(new Overloaded(message));
      return;
    }
    done();
  });
  app.addHook('onClose', (_app, done) => {
    sampler?.stop();
    done();
  });

  const handleBody = Buffer.from(JSON.stringify({ responseCode: ERRORS.ERR_OVERLOADED.handleCode, message, code: 'ERR_OVERLOADED' }));
  // Shedding now: the next request would be refused.
  const active = (): boolean => inFlight >= cap || sampler?.shedding === true;
  const gauges = (): Record<string, Gauge> => ({
    cairn_overload_shedding: { help: '1 while requests are shed (503 ERR_OVERLOADED) because a CAIRN_OVERLOAD_* limit is exceeded.', value: active() ? 1 : 0 },
    cairn_http_in_flight: { help: 'HTTP requests being answered: from their arrival until their response is done.', value: inFlight },
    ...(sampler ? { cairn_event_loop_delay_seconds: { help: 'Event-loop delay of the last sample (one every 100 ms).', value: sampler.delayMs / 1000 } } : {}),
  });
  return { admit, retryAfter, handleBody, gauges };
}
