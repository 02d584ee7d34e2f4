/**
 * `npm run fuzz`: the parser fuzz targets of tests/fuzz/ for a fixed time each instead of the
 * bounded case counts `npm test` runs, then the result in the "## Fuzzing" section of
 * BENCHMARKS.md (only that section is replaced; the others are kept as they are).
 *
 *   npm run fuzz                          # 20 s per target, a fresh seed (printed)
 *   npm run fuzz -- --seconds 60          # longer
 *   npm run fuzz -- --seed 1234567        # replay a run (each target starts from this seed)
 *   npm run fuzz -- --no-write            # leave BENCHMARKS.md alone
 *
 * Runs `vitest run tests/fuzz` with FUZZ_SECONDS, FUZZ_SEED and FUZZ_REPORT set (see fuzz.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzLine } from './fuzz.js';
import { measureScaling, type ScalingRow } from './scaling.js';
import { spliceSection } from '../bench/report-splice.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..', '..');
const SECTION = '## Fuzzing';

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const arg = args[i]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
}

function positiveInteger(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, got ${text}`);
  return n;
}

/** Replaces the "## Fuzzing" section (up to the next "## " heading), or adds it before "## Reproduce" or at the end. */
export function spliceFuzzing(file: string | undefined, section: string): string {
  return spliceSection(file, SECTION, section);
}

function section(lines: FuzzLine[], scaling: readonly ScalingRow[], seconds: number, seed: number, wallSeconds: number, exitCode: number): string {
  const total = lines.reduce((n, l) => n + l.cases, 0);
  const failed = lines.filter((l) => l.failed);
  const L: string[] = [SECTION, ''];
  L.push(
    `Written by \`npm run fuzz\` (tests/fuzz/run.ts). Last run: ${new Date().toISOString()}, ${seconds} s per target, seed ${seed}` +
      ` (replay: \`npm run fuzz -- --seed ${seed} --seconds ${seconds}\`), Node ${process.version}, ${cpus().length} cores` +
      ` (shared with other work: case counts are a floor, not a speed figure).`,
    '',
    `${lines.length} targets, ${total.toLocaleString('en-US')} cases, ${failed.length} failing; wall time ${wallSeconds.toFixed(0)} s; vitest exit code ${exitCode}.`,
    '',
    '| target | cases | seconds | result |',
    '|---|---:|---:|---|',
  );
  for (const l of lines) {
    L.push(`| ${l.target.replace(/\|/g, '\\|')} | ${l.cases.toLocaleString('en-US')} | ${(l.ms / 1000).toFixed(1)} | ${l.failed ? `**FAILED** (seed ${l.seed}): \`${(l.counterexample ?? '').replace(/[|`]/g, ' ')}\`` : 'ok'} |`);
  }
  L.push(
    '',
    'Each target feeds its parser valid encodings, the same with one to three edits (bit flips, set, inserted, deleted and',
    'duplicated octets or characters, truncation, case flips) and random input, and requires a value that round-trips or a',
    'CairnError with one of the codes the target allows. `npm test` runs the same targets with a bounded number of cases.',
    '',
    '### Scaling (a look for super-linear work)',
    '',
    'Each parser timed on adversarial input of n and 4n units (median of 5, after a warm-up; tests/fuzz/scaling.ts). Linear work',
    'gives a ratio near 4, quadratic near 16; sub-millisecond times are mostly noise on this shared machine. A flag is a prompt',
    'to look, not a finding. Known flags: deep JSON nesting grows the same way in a bare `JSON.parse` (V8, not Cairn); large',
    'decodes that keep every record alive (DNS, value notation with many tokens) pay V8 garbage collection for the live objects.',
    'Two parsers were quadratic and are fixed: ASN.1 value notation on runs of spaces, DNS names on chains of compression pointers.',
    '',
    '| parser | input | n | ms at n | ms at 4n | ratio | note |',
    '|---|---|---:|---:|---:|---:|---|',
  );
  for (const r of scaling) {
    const note = r.msAt4N > 5 && r.ratio > 10 ? '**super-linear?**' : '';
    L.push(`| ${r.parser} | \`${r.input.replace(/\|/g, '\\|')}\` | ${r.n.toLocaleString('en-US')} | ${r.msAtN.toFixed(2)} | ${r.msAt4N.toFixed(2)} | ${r.ratio.toFixed(1)} | ${note} |`);
  }
  return L.join('\n');
}

function main(): number {
  const seconds = positiveInteger(option('--seconds'), 20, '--seconds');
  const seed = positiveInteger(option('--seed'), randomInt(1, 2 ** 31 - 1), '--seed');
  const write = !process.argv.includes('--no-write');
  const tmp = mkdtempSync(join(tmpdir(), 'cairn-fuzz-'));
  const report = join(tmp, 'report.ndjson');
  process.stdout.write(`fuzz: ${seconds} s per target, seed ${seed} (replay: npm run fuzz -- --seed ${seed} --seconds ${seconds})\n`);
  const started = performance.now();
  const run = spawnSync(process.execPath, [join(REPO, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'tests/fuzz'], {
    cwd: REPO,
    stdio: 'inherit',
    env: { ...process.env, FUZZ_SECONDS: String(seconds), FUZZ_SEED: String(seed), FUZZ_REPORT: report },
  });
  const wall = (performance.now() - started) / 1000;
  const lines = existsSync(report)
    ? readFileSync(report, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as FuzzLine)
    : [];
  rmSync(tmp, { recursive: true, force: true });
  const exitCode = run.status ?? 1;
  process.stdout.write('fuzz: timing the parsers on long adversarial inputs\n');
  const scaling = measureScaling();
  const text = section(lines, scaling, seconds, seed, wall, exitCode);
  process.stdout.write(`\n${text}\n`);
  if (write && lines.length > 0) {
    const file = join(REPO, 'BENCHMARKS.md');
    writeFileSync(file, spliceFuzzing(existsSync(file) ? readFileSync(file, 'utf8') : undefined, text));
    process.stdout.write(`\nWritten to the "${SECTION}" section of BENCHMARKS.md.\n`);
  }
  return exitCode;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
