/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the bytes a device signs.
 *
 * - Objects: members sorted by their names compared as arrays of UTF-16 code units (section
 *   3.2.3), which is what `<` on JavaScript strings does, independent of locale; no white space.
 * - Arrays: element order kept.
 * - Strings (section 3.2.2.2): `"` and `\` escaped, the control characters U+0000..U+001F written
 *   as `\b \t \n \f \r` where those exist and `\u00xx` (lower-case hex) otherwise; everything else,
 *   `/` and non-ASCII included, written as is. A lone surrogate is not Unicode text: refused.
 * - Numbers (section 3.2.2.3): the ECMAScript Number-to-String algorithm (ECMA-262
 *   Number::toString, the shortest digits that round-trip, switching to exponent form outside
 *   1e-7 <= |x| < 1e21), which RFC 8785 adopts as is; -0 is written `0`; NaN and the infinities
 *   are refused. This runtime *is* an ECMAScript engine, so its `Number::toString` is used rather
 *   than a re-implementation; the RFC's Appendix B table checks it (tests/unit/verify-jcs.test.ts).
 * - `true`, `false`, `null` as literals.
 *
 * Anything outside the I-JSON data model (undefined, functions, BigInt, symbols, non-plain
 * objects, non-finite numbers) throws a TypeError: that is a bug in the caller, never input.
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0);
}

/** The UTF-8 bytes of the canonical form. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

const MAX_DEPTH = 64;

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('JCS: nesting too deep');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value);
    case 'string':
      return serializeString(value);
    case 'object':
      break;
    default:
      throw new TypeError(`JCS: a ${typeof value} is not JSON`);
  }
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v, depth + 1)).join(',')}]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new TypeError('JCS: only plain objects are JSON objects');
  const names = Object.keys(value).sort(compareCodeUnits);
  const members: string[] = [];
  for (const name of names) {
    const member = (value as Record<string, unknown>)[name];
    if (member === undefined) throw new TypeError(`JCS: member ${JSON.stringify(name)} is undefined`);
    members.push(`${serializeString(name)}:${serialize(member, depth + 1)}`);
  }
  return `{${members.join(',')}}`;
}

/** Orders strings by UTF-16 code units (not code points, not locale). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function serializeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`JCS: ${n} is not a JSON number`);
  // Object.is(-0, n): String(-0) is already "0" in ECMAScript, as RFC 8785 wants.
  return String(n);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

export function serializeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new TypeError('JCS: string holds a lone surrogate');
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i) + (SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, '0')}`);
    start = i + 1;
  }
  return `${out}${s.slice(start)}"`;
}
