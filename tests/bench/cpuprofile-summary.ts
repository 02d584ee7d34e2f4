/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): where the busy time went, by
 * function and by source file, as self time (the sampled frame itself) and inclusive time (the
 * frame or anything it called). Used for the read-path profile in BENCHMARKS.md.
 *
 *   node dist/tests/bench/cpuprofile-summary.js FILE.cpuprofile [--top N] [--window FROM_MS-TO_MS] [--focus REGEX]
 *
 * `--window` keeps only the samples taken between those milliseconds after the profile started
 * (the load phase, without start-up and module loading); `--focus` keeps only the samples with a
 * frame named `function file:line` that matches REGEX on their stack (one operation's share of
 * a process that does several things).
 * Percentages are of busy time: samples of `(idle)` (the event loop waiting) are left out and
 * reported on their own. Each sample weighs the time until the next one.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Row {
  readonly name: string;
  /** Microseconds. */
  readonly self: number;
  readonly inclusive: number;
}

export interface Summary {
  /** Microseconds sampled, idle included. */
  readonly total: number;
  readonly idle: number;
  readonly busy: number;
  readonly functions: readonly Row[];
  readonly files: readonly Row[];
  /** Coarse split: Cairn's code, each dependency, Node's internals, native/V8, GC. */
  readonly areas: readonly Row[];
}

const IDLE = '(idle)';

/** The source file a frame belongs to, relative to the project (dist/ stripped) when it is ours. */
export function fileOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  const dist = path.lastIndexOf('/dist/');
  if (dist >= 0) return path.slice(dist + '/dist/'.length);
  return path;
}

export function areaOf(file: string): string {
  if (file.startsWith('node_modules/')) {
    const parts = file.slice('node_modules/'.length).split('/');
    return `dependency ${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (file.startsWith('node:')) return 'Node internals (node:*)';
  if (file.startsWith('src/') || file.startsWith('tests/')) return 'Cairn (src/)';
  if (file.startsWith('(')) return file;
  return 'other';
}

function frameName(node: CpuProfileNode, file: string): string {
  const { functionName, lineNumber } = node.callFrame;
  if (file.startsWith('(') && file === functionName) return file;
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

/** Milliseconds after the profile's start; samples outside are ignored. */
export interface Window {
  readonly from: number;
  readonly to: number;
}

export function summarise(profile: CpuProfile, window?: Window, focus?: RegExp): Summary {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const keys = new Map<number, { fn: string; file: string; area: string }>();
  for (const node of profile.nodes) {
    const file = fileOf(node.callFrame.url, node.callFrame.functionName);
    keys.set(node.id, { fn: frameName(node, file), file, area: areaOf(file) });
  }

  // A sample lasts until the next one; the last one until the profile's end.
  const times: number[] = [];
  let at = profile.startTime;
  for (const d of profile.timeDeltas) times.push((at += d));
  const weight = (i: number): number => Math.max(0, (i + 1 < times.length ? times[i + 1]! : profile.endTime) - times[i]!);

  const tables = { fn: new Map<string, [number, number]>(), file: new Map<string, [number, number]>(), area: new Map<string, [number, number]>() };
  const add = (table: Map<string, [number, number]>, key: string, self: number, inclusive: number): void => {
    const row = table.get(key) ?? [0, 0];
    row[0] += self;
    row[1] += inclusive;
    table.set(key, row);
  };
  let total = 0;
  let idle = 0;
  const onStack = (id: number, pattern: RegExp): boolean => {
    for (let n: number | undefined = id; n !== undefined && byId.has(n); n = parent.get(n)) if (pattern.test(keys.get(n)!.fn)) return true;
    return false;
  };
  const inWindow = (i: number): boolean =>
    window === undefined || (times[i]! - profile.startTime >= window.from * 1000 && times[i]! - profile.startTime < window.to * 1000);
  profile.samples.forEach((id, i) => {
    if (!inWindow(i)) return;
    if (focus !== undefined && !onStack(id, focus)) return;
    const w = weight(i);
    total += w;
    const leaf = keys.get(id)!;
    if (leaf.fn === IDLE) {
      idle += w;
      return;
    }
    for (const level of ['fn', 'file', 'area'] as const) {
      add(tables[level], leaf[level], w, 0);
      // Inclusive: once per distinct name on the stack, so recursion does not count twice.
      const seen = new Set<string>();
      for (let n: number | undefined = id; n !== undefined && byId.has(n); n = parent.get(n)) {
        const name = keys.get(n)![level];
        if (seen.has(name)) continue;
        seen.add(name);
        add(tables[level], name, 0, w);
      }
    }
  });
  const rows = (table: Map<string, [number, number]>): Row[] =>
    [...table].map(([name, [self, inclusive]]) => ({ name, self, inclusive })).filter((r) => r.name !== '(root)');
  return { total, idle, busy: total - idle, functions: rows(tables.fn), files: rows(tables.file), areas: rows(tables.area) };
}

function table(title: string, rows: readonly Row[], busy: number, by: 'self' | 'inclusive', top: number): string {
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`;
  const sorted = [...rows].sort((a, b) => b[by] - a[by]).slice(0, top);
  const lines = [`### ${title}`, '', '| # | name | self | inclusive |', '|---:|---|---:|---:|'];
  sorted.forEach((r, i) => lines.push(`| ${i + 1} | \`${r.name}\` | ${pct(r.self)} | ${pct(r.inclusive)} |`));
  return lines.join('\n');
}

export function render(s: Summary, top: number): string {
  const ms = (us: number): string => `${(us / 1000).toFixed(0)} ms`;
  return [
    `Sampled ${ms(s.total)}: busy ${ms(s.busy)}, idle ${ms(s.idle)} (${((100 * s.idle) / Math.max(1, s.total)).toFixed(1)}%). Percentages are of busy time.`,
    '',
    table('By area', s.areas, s.busy, 'self', top),
    '',
    table(`Top ${top} functions by self time`, s.functions, s.busy, 'self', top),
    '',
    table(`Top ${top} functions by inclusive time`, s.functions, s.busy, 'inclusive', top),
    '',
    table(`Top ${top} source files by self time`, s.files, s.busy, 'self', top),
    '',
    table(`Top ${top} source files by inclusive time`, s.files, s.busy, 'inclusive', top),
    '',
  ].join('\n');
}

function main(argv: readonly string[]): void {
  const topAt = argv.indexOf('--top');
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 20;
  const windowAt = argv.indexOf('--window');
  const bounds = windowAt >= 0 ? /^(\d+)-(\d+)$/.exec(argv[windowAt + 1] ?? '') : undefined;
  const window = bounds ? { from: Number(bounds[1]), to: Number(bounds[2]) } : undefined;
  const focusAt = argv.indexOf('--focus');
  const focus = focusAt >= 0 ? new RegExp(argv[focusAt + 1] ?? '') : undefined;
  const options = new Set([topAt + 1, windowAt + 1, focusAt + 1].filter((i) => i > 0));
  const file = argv.find((a, i) => !a.startsWith('--') && !options.has(i));
  if (file === undefined || !Number.isInteger(top) || top <= 0 || bounds === null) {
    process.stderr.write('usage: cpuprofile-summary FILE.cpuprofile [--top N] [--window FROM_MS-TO_MS] [--focus REGEX]\n');
    process.exitCode = 2;
    return;
  }
  process.stdout.write(render(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, window, focus), top));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
