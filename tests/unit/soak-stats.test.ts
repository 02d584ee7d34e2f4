import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { drift, dueBy, growthMiB, kindOf, parseStatusMemory, percentile, sampleAt, scheduledAtMs, summarize, windowOf } from '../bench/soak-stats.js';

describe('the soak mix', () => {
  it('is 8 resolves, 1 registration and 1 verification in every 10 consecutive operations', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), (start) => {
        const kinds = Array.from({ length: 10 }, (_, k) => kindOf(start + k));
        expect(kinds.filter((k) => k === 'resolve')).toHaveLength(8);
        expect(kinds.filter((k) => k === 'register')).toHaveLength(1);
        expect(kinds.filter((k) => k === 'verify')).toHaveLength(1);
      }),
    );
  });
});

describe('the open-loop schedule', () => {
  it('starts operation i at i / rate seconds', () => {
    expect(scheduledAtMs(0, 200)).toBe(0);
    expect(scheduledAtMs(1, 200)).toBe(5);
    expect(scheduledAtMs(300, 200)).toBe(1500);
  });

  it('has exactly the operations whose start time has come due, whatever the rate', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50_000 }), fc.double({ min: 0, max: 600_000, noNaN: true }), (rate, elapsed) => {
        const n = dueBy(elapsed, rate);
        // Operation n-1 is due, operation n is not yet (up to floating-point rounding at the boundary).
        expect(scheduledAtMs(n - 1, rate)).toBeLessThanOrEqual(elapsed + 1e-6);
        expect(scheduledAtMs(n, rate)).toBeGreaterThan(elapsed - 1e-6);
      }),
    );
    expect(dueBy(-1, 100)).toBe(0);
    expect(dueBy(0, 100)).toBe(1);
    expect(dueBy(1000, 100)).toBe(101);
  });
});

describe('percentiles and windows', () => {
  it('takes the nearest rank', () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
  });

  it('summarizes unsorted latencies, numerically', () => {
    const s = summarize([10, 2, 100, 3, 1]);
    expect(s).toEqual({ count: 5, p50Ms: 3, p99Ms: 100, maxMs: 100 });
    expect(summarize([])).toEqual({ count: 0, p50Ms: undefined, p99Ms: undefined, maxMs: undefined });
  });

  it('puts events in their window and any overrun in the last', () => {
    expect(windowOf(0, 60_000, 10)).toBe(0);
    expect(windowOf(59_999, 60_000, 10)).toBe(0);
    expect(windowOf(60_000, 60_000, 10)).toBe(1);
    expect(windowOf(700_000, 60_000, 10)).toBe(9);
    expect(windowOf(-5, 60_000, 10)).toBe(0);
  });
});

describe('drift and memory growth', () => {
  const status = (rss: number, anon: number, file: number): string =>
    `Name:\tnode\nVmHWM:\t  ${rss + 10} kB\nVmRSS:\t  ${rss} kB\nRssAnon:\t  ${anon} kB\nRssFile:\t  ${file} kB\nRssShmem:\t 0 kB\n`;

  it('reads VmRSS, RssAnon and RssFile from /proc/PID/status', () => {
    expect(parseStatusMemory(status(204800, 153600, 51200), 5)).toEqual({ atMs: 5, rssKiB: 204800, anonKiB: 153600, fileKiB: 51200 });
    expect(parseStatusMemory('Name:\tzombie\n', 5)).toBeUndefined();
  });

  it('compares the last window with the first', () => {
    expect(drift(2, 3)).toBe(1.5);
    expect(drift(undefined, 3)).toBeUndefined();
    expect(drift(0, 3)).toBeUndefined();
    const first = parseStatusMemory(status(102400, 81920, 20480), 1000)!;
    const last = parseStatusMemory(status(112640, 81920 + 2048, 20480 + 8192), 61000)!;
    expect(growthMiB(first, last, 'rssKiB')).toBe(10);
    expect(growthMiB(first, last, 'anonKiB')).toBe(2);
    expect(growthMiB(first, last, 'fileKiB')).toBe(8);
    expect(growthMiB(last, first, 'rssKiB')).toBe(-10);
    expect(growthMiB(undefined, last, 'rssKiB')).toBeUndefined();
  });

  it('takes the memory sample at or just before a moment', () => {
    const samples = [1000, 2000, 3000].map((atMs) => ({ atMs, rssKiB: atMs, anonKiB: 0, fileKiB: 0 }));
    expect(sampleAt(samples, 2500)?.atMs).toBe(2000);
    expect(sampleAt(samples, 3000)?.atMs).toBe(3000);
    expect(sampleAt(samples, 9999)?.atMs).toBe(3000);
    expect(sampleAt(samples, 10)?.atMs).toBe(1000);
    expect(sampleAt([], 10)).toBeUndefined();
  });
});
