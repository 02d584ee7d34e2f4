import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { CairnError } from '../../src/errors.js';

/**
 * Shared machinery of the parser fuzz targets (issue 8). Each target states one property: on any
 * input the parser either returns a value that round-trips or throws a CairnError with one of the
 * codes the target allows; a TypeError, RangeError or SyntaxError escaping is a failure.
 *
 * Under `npm test` each target runs a fixed number of cases (`ciRuns`). `npm run fuzz`
 * (tests/fuzz/run.ts) sets FUZZ_SECONDS (time per target, then the number of cases is unbounded),
 * FUZZ_SEED (printed, so a failure replays with `FUZZ_SEED=<seed>`) and FUZZ_REPORT (a file that
 * collects one JSON line per target for BENCHMARKS.md).
 */

const SECONDS = Number(process.env.FUZZ_SECONDS ?? '0');
const SEED = process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === '' ? undefined : Number(process.env.FUZZ_SEED);
const REPORT = process.env.FUZZ_REPORT;

export interface FuzzLine {
  readonly target: string;
  readonly cases: number;
  readonly ms: number;
  readonly failed: boolean;
  readonly seed: number;
  readonly counterexample?: string;
}

/** Registers one fuzz target as a vitest test. */
export function fuzzTarget<T>(name: string, arb: fc.Arbitrary<T>, check: (input: T) => void, ciRuns: number): void {
  const long = SECONDS > 0;
  test(
    name,
    () => {
      const started = performance.now();
      const out = fc.check(fc.property(arb, check), {
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(long ? { numRuns: Number.MAX_SAFE_INTEGER, plugins: [fc.interruptAfterTimeLimit(SECONDS * 1000)] } : { numRuns: ciRuns }),
      });
      const ms = performance.now() - started;
      if (REPORT) {
        const line: FuzzLine = {
          target: name,
          cases: out.numRuns,
          ms: Math.round(ms),
          failed: out.failed,
          seed: out.seed,
          ...(out.failed ? { counterexample: fc.stringify(out.counterexample).slice(0, 300) } : {}),
        };
        appendFileSync(REPORT, `${JSON.stringify(line)}\n`);
      }
      if (out.failed) {
        const cause = out.errorInstance instanceof Error ? `${out.errorInstance.name}: ${out.errorInstance.message}` : String(out.errorInstance);
        throw new Error(`${fc.defaultReportMessage(out) ?? `fuzz target ${name} failed`}\nGot: ${cause}`);
      }
    },
    long ? SECONDS * 1000 + 120_000 : 60_000,
  );
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string };

/**
 * Runs a parser: its value, or the code of the CairnError it threw, which must be one of `codes`.
 * Anything else thrown is rethrown as is, so fast-check reports (and shrinks) it.
 */
export function attempt<T>(codes: readonly string[], f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    expect(codes, `unexpected code ${e.code}: ${e.message}`).toContain(e.code);
    return { ok: false, code: e.code };
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs: random text and bytes, and mutations of valid encodings.

/** UTF-16 code units, lone surrogates included; weighted towards ASCII and the framing characters. */
const codeUnit = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.constantFrom('/', '.', ':', '~', '%', '-', '0', '1', '9', '@', '#', '\n', '\r', '\\', '{', '}', '(', ')', ' ', '[', ']') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x7f, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\u00df', '\u0131', '\u017f', '\u212a', '\ud83d\ude00', '\ud800', '\udc00', '\u00a0', '\ufeff') },
);

export const randomText = (maxLength = 80): fc.Arbitrary<string> => fc.string({ unit: codeUnit, maxLength });

type Edit =
  | { readonly op: 'replace'; readonly at: number; readonly unit: string }
  | { readonly op: 'insert'; readonly at: number; readonly unit: string }
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number; readonly to: number }
  | { readonly op: 'case'; readonly at: number };

const textEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), unit: codeUnit }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), unit: codeUnit }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }), to: fc.nat() }),
  fc.record({ op: fc.constant('case' as const), at: fc.nat() }),
);

function applyTextEdit(s: string, e: Edit): string {
  const n = s.length;
  switch (e.op) {
    case 'replace':
      return n === 0 ? e.unit : s.slice(0, e.at % n) + e.unit + s.slice((e.at % n) + 1);
    case 'insert':
      return s.slice(0, e.at % (n + 1)) + e.unit + s.slice(e.at % (n + 1));
    case 'delete':
      return n === 0 ? s : s.slice(0, e.at % n) + s.slice((e.at % n) + 1);
    case 'truncate':
      return s.slice(0, e.at % (n + 1));
    case 'duplicate': {
      if (n === 0) return s;
      const from = e.at % n;
      const piece = s.slice(from, from + e.length);
      const to = e.to % (n + 1);
      return s.slice(0, to) + piece + s.slice(to);
    }
    case 'case': {
      if (n === 0) return s;
      const i = e.at % n;
      const c = s[i]!;
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return s.slice(0, i) + flipped + s.slice(i + 1);
    }
  }
}

/** A valid text with one to three edits: replaced, inserted, deleted or duplicated characters, truncation, case flips. */
export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(valid, fc.array(textEdit, { minLength: 1, maxLength: 3 })).map(([s, edits]) => edits.reduce(applyTextEdit, s));
}

/** Valid texts (some as they are), mutated texts and random texts. */
export function textInputs(valid: fc.Arbitrary<string>, maxRandom = 80): fc.Arbitrary<string> {
  return fc.oneof({ weight: 1, arbitrary: valid }, { weight: 4, arbitrary: mutatedText(valid) }, { weight: 2, arbitrary: randomText(maxRandom) });
}

type ByteEdit =
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'insert'; readonly at: number; readonly byte: number }
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number; readonly length: number; readonly to: number };

/** Bytes that matter to length fields and markers. */
const interestingByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xc0, 0xff, 0x0a, 0x0d, 0x23, 0x40, 0x30));

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: interestingByte }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: interestingByte }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 24 }), to: fc.nat() }),
);

function applyByteEdit(b: number[], e: ByteEdit): number[] {
  const n = b.length;
  const out = [...b];
  switch (e.op) {
    case 'flip':
      if (n > 0) out[e.at % n] = out[e.at % n]! ^ (1 << e.bit);
      return out;
    case 'set':
      if (n > 0) out[e.at % n] = e.byte;
      return out;
    case 'insert':
      out.splice(e.at % (n + 1), 0, e.byte);
      return out;
    case 'delete':
      if (n > 0) out.splice(e.at % n, 1);
      return out;
    case 'truncate':
      return out.slice(0, e.at % (n + 1));
    case 'duplicate': {
      if (n === 0) return out;
      const from = e.at % n;
      out.splice(e.to % (n + 1), 0, ...b.slice(from, from + e.length));
      return out;
    }
  }
}

/** A valid encoding with one to three edits: bit flips, set/inserted/deleted octets, truncation, a duplicated run. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(byteEdit, { minLength: 1, maxLength: 3 })).map(([bytes, edits]) => Buffer.from(edits.reduce(applyByteEdit, [...bytes])));
}

/** Valid encodings (some as they are), mutated encodings and random bytes. */
export function byteInputs(valid: fc.Arbitrary<Uint8Array>, maxRandom = 128): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: valid.map((b) => Buffer.from(b)) },
    { weight: 4, arbitrary: mutatedBytes(valid) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandom }).map((b) => Buffer.from(b)) },
  );
}
