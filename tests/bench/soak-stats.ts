/**
 * The arithmetic of the soak test (tests/bench/soak.ts), free of I/O so that tests/unit can check
 * it: the request mix, the open-loop schedule, percentiles, per-window summaries, and the drift
 * and memory growth between the first and the last window.
 */

export const KINDS = ['resolve', 'register', 'verify'] as const;
export type Kind = (typeof KINDS)[number];

/**
 * The kind of the `i`-th operation: 8 resolves, 1 registration and 1 verification in every 10,
 * interleaved (register at 0, verify at 5), so that any stretch of the run has the same mix.
 */
export function kindOf(i: number): Kind {
  const slot = i % 10;
  return slot === 0 ? 'register' : slot === 5 ? 'verify' : 'resolve';
}

/**
 * Open loop: operation `i` (from 0) is due `i / rate` seconds after the start, whatever happened to
 * earlier ones. `dueBy` is how many are due `elapsedMs` after the start (all those with a start
 * time at or before it).
 */
export function scheduledAtMs(i: number, ratePerSecond: number): number {
  return (i * 1000) / ratePerSecond;
}

export function dueBy(elapsedMs: number, ratePerSecond: number): number {
  if (elapsedMs < 0) return 0;
  return Math.floor((elapsedMs * ratePerSecond) / 1000) + 1;
}

/** Nearest-rank percentile (`p` in 0..100) of ascending `sorted`; undefined when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  readonly maxMs: number | undefined;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : undefined };
}

/** The window (0-based) an event `elapsedMs` after the start falls in; the last window takes any overrun. */
export function windowOf(elapsedMs: number, windowMs: number, windows: number): number {
  return Math.min(windows - 1, Math.max(0, Math.floor(elapsedMs / windowMs)));
}

/** A process's memory at one moment (from /proc/PID/status), in KiB. */
export interface MemorySample {
  readonly atMs: number;
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
}

/** The last sample taken at or before `atMs` (the first one if none was). */
export function sampleAt(samples: readonly MemorySample[], atMs: number): MemorySample | undefined {
  let found: MemorySample | undefined;
  for (const s of samples) {
    if (s.atMs <= atMs) found = s;
    else break;
  }
  return found ?? samples[0];
}

/** last / first; undefined when either is missing or the first is 0. */
export function drift(first: number | undefined, last: number | undefined): number | undefined {
  if (first === undefined || last === undefined || first === 0) return undefined;
  return last / first;
}

/** Growth from `first` to `last` in MiB (negative when it shrank). */
export function growthMiB(first: MemorySample | undefined, last: MemorySample | undefined, field: 'rssKiB' | 'anonKiB' | 'fileKiB'): number | undefined {
  if (!first || !last) return undefined;
  return (last[field] - first[field]) / 1024;
}

/** Parses VmRSS, RssAnon and RssFile (kB) out of a /proc/PID/status text. */
export function parseStatusMemory(text: string, atMs: number): MemorySample | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const rss = field('VmRSS');
  if (rss === undefined) return undefined;
  return { atMs, rssKiB: rss, anonKiB: field('RssAnon') ?? 0, fileKiB: field('RssFile') ?? 0 };
}
