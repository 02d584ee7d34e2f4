import { describe, expect, it } from 'vitest';
import { areaOf, fileOf, render, summarise, type CpuProfile, type CpuProfileNode } from '../bench/cpuprofile-summary.js';

const APP = 'file:///work/main/dist/src/http/app.js';
// A function's line is its name's length, so that the recursive `handle` frames are one function.
const node = (id: number, functionName: string, url: string, children: number[] = []): CpuProfileNode => ({
  id,
  callFrame: { functionName, url, lineNumber: functionName.length },
  children,
});

// (root) -> serve(app) -> handle(app) -> handle(app, recursion) -> writev(native)
//                                      -> emit(node:events)
//        -> (idle), (garbage collector)
const nodes = [
  node(1, '(root)', '', [2, 6, 7]),
  node(2, 'serve', APP, [3]),
  node(3, 'handle', APP, [4, 8]),
  node(4, 'handle', APP, [5]),
  node(5, 'writev', ''),
  node(6, '(idle)', ''),
  node(7, '(garbage collector)', ''),
  node(8, 'emit', 'node:events'),
];

/** Samples at 0, 10, 20, ... µs after start; each lasts until the next. */
function profile(samples: number[]): CpuProfile {
  return { nodes, startTime: 1_000, endTime: 1_000 + samples.length * 10, samples, timeDeltas: samples.map((_, i) => (i === 0 ? 0 : 10)) };
}

describe('cpuprofile summary', () => {
  it('splits busy time into self and inclusive time per function, counting a recursive frame once', () => {
    const s = summarise(profile([5, 5, 8, 2, 6, 6, 7]));
    expect(s.total).toBe(70);
    expect(s.idle).toBe(20);
    expect(s.busy).toBe(50);
    const fn = (name: string) => s.functions.find((r) => r.name.startsWith(name));
    expect(fn('writev')).toMatchObject({ self: 20, inclusive: 20 });
    expect(fn('handle src/http/app.js:7')).toMatchObject({ self: 0, inclusive: 30 });
    expect(fn('serve')).toMatchObject({ self: 10, inclusive: 40 });
    expect(fn('(garbage collector)')).toMatchObject({ self: 10, inclusive: 10 });
    expect(s.functions.some((r) => r.name.startsWith('(idle)') || r.name.startsWith('(root)'))).toBe(false);
  });

  it('groups by source file and by area, relative to dist/', () => {
    const s = summarise(profile([5, 5, 8, 2]));
    expect(s.files.find((r) => r.name === 'src/http/app.js')).toMatchObject({ self: 10, inclusive: 40 });
    expect(s.files.find((r) => r.name === 'node:events')).toMatchObject({ self: 10, inclusive: 10 });
    expect(s.areas.find((r) => r.name === 'Cairn (src/)')).toMatchObject({ self: 10, inclusive: 40 });
    expect(s.areas.find((r) => r.name === '(native)')).toMatchObject({ self: 20, inclusive: 20 });
  });

  it('keeps only the samples inside a window', () => {
    // 1000 samples of 10 µs: 0-10 ms. The window 2-4 ms keeps 200 of them.
    const s = summarise(profile(Array.from({ length: 1000 }, (_, i) => (i < 500 ? 5 : 8))), { from: 2, to: 4 });
    expect(s.busy).toBe(2000);
    expect(s.functions.find((r) => r.name.startsWith('writev'))?.self).toBe(2000);
    const later = summarise(profile(Array.from({ length: 1000 }, (_, i) => (i < 500 ? 5 : 8))), { from: 6, to: 8 });
    expect(later.functions.find((r) => r.name.startsWith('emit'))?.self).toBe(2000);
  });

  it('names dependencies by package and renders percentages of busy time', () => {
    expect(fileOf('file:///x/node_modules/@fastify/ajv-compiler/index.js', 'f')).toBe('node_modules/@fastify/ajv-compiler/index.js');
    expect(areaOf('node_modules/@fastify/ajv-compiler/index.js')).toBe('dependency @fastify/ajv-compiler');
    expect(areaOf(fileOf('file:///x/node_modules/pino/pino.js', 'f'))).toBe('dependency pino');
    expect(fileOf('', 'writev')).toBe('(native)');
    const text = render(summarise(profile([5, 5, 8, 2])), 3);
    expect(text).toContain('busy 0 ms');
    expect(text).toMatch(/\| 1 \| `writev \(native\):7` \| 50\.0% \| 50\.0% \|/);
  });
});
