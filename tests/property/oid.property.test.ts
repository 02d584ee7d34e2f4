import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import nameFormsData from '../../registries/oid/name-forms.json' with { type: 'json' };
import longArcsData from '../../registries/oid/long-arcs.json' with { type: 'json' };
import { decodeOid, decodeRelativeOid, encodeOid, encodeRelativeOid } from '../../src/asn1/oid-der.js';
import { CairnError } from '../../src/errors.js';
import { MAX_ARCS, MAX_CONTENT_OCTETS, oidFromArcs, parseOid } from '../../src/ids/oid.js';
import { formatOidValueNotation, parseOidValueNotation } from '../../src/ids/oid-asn1.js';
import { formatOidIri, parseOidIri } from '../../src/ids/oid-iri.js';
import { decodeOidKey, encodeOidKey, oidSubtreeRange } from '../../src/store/oid-key.js';

/**
 * Property tests for the OID codecs (issue 4): random OIDs, huge arcs included (BigInt up to 2^200),
 * round-trip through dotted text, DER (OBJECT IDENTIFIER and RELATIVE-OID), OID-IRI, ASN.1 value
 * notation and the store's order-preserving keys. Expectations come from code written here (a
 * reference base-128 encoder, a numeric arc comparator), never from Cairn's own helpers.
 *
 * Errors are matched by `code`, never by message.
 */

type Arcs = readonly bigint[];

// ---------------------------------------------------------------------------------------------
// Independent reference: X.690 8.19 / 8.20 base-128 subidentifiers and definite minimal lengths.
// ---------------------------------------------------------------------------------------------

/** Base 128, most significant group first, bit 8 set on all but the last octet. */
function refSubidentifier(value: bigint): number[] {
  const out = [Number(value % 128n)];
  for (let rest = value / 128n; rest > 0n; rest /= 128n) out.unshift(Number(rest % 128n) + 0x80);
  return out;
}

function refLength(n: number): number[] {
  if (n < 128) return [n];
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 + bytes.length, ...bytes];
}

function refOidSubidentifiers(arcs: Arcs): bigint[] {
  return [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
}

function refContent(subids: readonly bigint[]): number[] {
  return subids.flatMap(refSubidentifier);
}

function refTlv(tag: number, content: readonly number[], length: readonly number[] = refLength(content.length)): Buffer {
  return Buffer.from([tag, ...length, ...content]);
}

const refEncodeOid = (arcs: Arcs): Buffer => refTlv(0x06, refContent(refOidSubidentifiers(arcs)));
const refEncodeRelativeOid = (arcs: Arcs): Buffer => refTlv(0x0d, refContent(arcs));

/** Octets of one subidentifier, from the bit length (not by the encoder's loop). */
const subidOctets = (value: bigint): number => Math.ceil(value.toString(2).length / 7);

/** Arc-by-arc numeric order, a parent before its descendants. */
function compareArcs(a: Arcs, b: Arcs): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return Math.sign(a.length - b.length);
}

const dotted = (arcs: Arcs): string => arcs.map((a) => a.toString(10)).join('.');

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Asserts `fn` throws a CairnError with exactly this code. */
function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }));
  const outcome = attempt(fn);
  expect(!outcome.ok && outcome.error instanceof CairnError).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Shared arbitraries.
// ---------------------------------------------------------------------------------------------

const HUGE = 2n ** 200n;

/** One arc: mostly small, often 64-bit, sometimes up to 2^200, and 2^k-1, 2^k, 2^k+1 (group edges). */
const arcArb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 1000n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: HUGE }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom(-1n, 0n, 1n))
      .map(([k, d]) => {
        const v = 2n ** BigInt(k) + d;
        return v < 0n ? 0n : v > HUGE ? HUGE : v;
      }),
  },
);

/** Drops trailing arcs until the DER content fits in MAX_CONTENT_OCTETS (the first two always fit). */
function fitOid(arcs: Arcs, budget = MAX_CONTENT_OCTETS): bigint[] {
  let total = subidOctets(arcs[0]! * 40n + arcs[1]!);
  let keep = 2;
  for (; keep < arcs.length; keep++) {
    const next = subidOctets(arcs[keep]!);
    if (total + next > budget) break;
    total += next;
  }
  return arcs.slice(0, keep);
}

function fitRelative(arcs: Arcs, budget = MAX_CONTENT_OCTETS): bigint[] {
  let total = subidOctets(arcs[0]!);
  let keep = 1;
  for (; keep < arcs.length; keep++) {
    const next = subidOctets(arcs[keep]!);
    if (total + next > budget) break;
    total += next;
  }
  return arcs.slice(0, keep);
}

/** X.660 roots: 0 and 1 take a second arc 0..39; 2 takes any second arc, huge ones included. */
const rootsArb: fc.Arbitrary<[bigint, bigint]> = fc.oneof(
  fc.tuple(fc.constantFrom(0n, 1n), fc.bigInt({ min: 0n, max: 39n })),
  fc.tuple(fc.constant(2n), arcArb),
);

/** Arcs below the first two: short lists, long lists of any arcs, and long lists of small arcs (up to 128 arcs). */
const tailArb: fc.Arbitrary<bigint[]> = fc.oneof(
  { weight: 4, arbitrary: fc.array(arcArb, { maxLength: 12 }) },
  // size 'max': lengths spread over the whole range, so the 1024-octet limit is reached and cuts the list.
  { weight: 1, arbitrary: fc.array(arcArb, { maxLength: MAX_ARCS - 2, size: 'max' }) },
  { weight: 1, arbitrary: fc.array(fc.bigInt({ min: 0n, max: 20000n }), { minLength: 100, maxLength: MAX_ARCS - 2 }) },
);

/** Every standard arc of two or more levels in registries/oid (so labels and identifiers get used). */
const knownOids: bigint[][] = [
  ...nameFormsData.nameForms.map((e) => e.oid),
  ...longArcsData.longArcs.map((e) => e.arc),
]
  .map((o) => o.split('.').map(BigInt))
  .filter((arcs) => arcs.length >= 2);

/** A valid OID (X.660 roots, 2..128 arcs, at most 1024 DER content octets), as its arcs. */
const oidArcsArb: fc.Arbitrary<bigint[]> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(rootsArb, tailArb).map(([roots, tail]) => fitOid([...roots, ...tail])) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...knownOids), fc.array(arcArb, { maxLength: 6 }))
      .map(([known, tail]) => fitOid([...known, ...tail])),
  },
);

/** RELATIVE-OID arcs: 1..128 arcs of any size, at most 1024 content octets. */
const relativeArcsArb: fc.Arbitrary<bigint[]> = fc
  .oneof(
    { weight: 3, arbitrary: fc.array(arcArb, { minLength: 1, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(arcArb, { minLength: 1, maxLength: MAX_ARCS, size: 'max' }) },
    { weight: 1, arbitrary: fc.array(fc.bigInt({ min: 0n, max: 20000n }), { minLength: 100, maxLength: MAX_ARCS }) },
  )
  .map((arcs) => fitRelative(arcs));

describe('the shared arbitrary', () => {
  test('generates valid OIDs within the limits, huge arcs and 128 arcs included', () => {
    const sample = fc.sample(oidArcsArb, { numRuns: 1000, seed: 42 });
    for (const arcs of sample) {
      expect(arcs.length).toBeGreaterThanOrEqual(2);
      expect(arcs.length).toBeLessThanOrEqual(MAX_ARCS);
      expect(refContent(refOidSubidentifiers(arcs)).length).toBeLessThanOrEqual(MAX_CONTENT_OCTETS);
    }
    expect(sample.some((arcs) => arcs.some((a) => a > 2n ** 128n))).toBe(true);
    expect(sample.some((arcs) => arcs[0] === 2n && arcs[1]! > 2n ** 64n)).toBe(true);
    expect(sample.some((arcs) => arcs.length === MAX_ARCS)).toBe(true);
    expect(sample.some((arcs) => refContent(refOidSubidentifiers(arcs)).length > 1000)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Dotted decimal and urn:oid:
// ---------------------------------------------------------------------------------------------

describe('dotted text', () => {
  test('parse(format(x)) == x, and the canonical text is the decimal arcs joined by dots', () => {
    fc.assert(
      fc.property(oidArcsArb, (arcs) => {
        const text = dotted(arcs);
        const oid = parseOid(text);
        expect(oid.arcs).toEqual(arcs);
        expect(oid.text).toBe(text);
        expect(oidFromArcs(arcs).text).toBe(text);
        expect(parseOid(oidFromArcs(arcs).text).arcs).toEqual(arcs);
      }),
      { numRuns: 1000 },
    );
  });

  test('urn:oid: form parses to the same OID', () => {
    fc.assert(
      fc.property(oidArcsArb, (arcs) => {
        const oid = parseOid(`urn:oid:${dotted(arcs)}`);
        expect(oid.arcs).toEqual(arcs);
        expect(oid.text).toBe(dotted(arcs));
      }),
      { numRuns: 500 },
    );
  });

  test('a leading zero in any arc is ERR_OID_INVALID (bare and urn:oid:)', () => {
    fc.assert(
      fc.property(oidArcsArb, fc.nat(), fc.integer({ min: 1, max: 3 }), fc.boolean(), (arcs, at, zeros, urn) => {
        const i = at % arcs.length;
        const parts = arcs.map((a) => a.toString(10));
        parts[i] = '0'.repeat(zeros) + parts[i]!;
        expectCode(() => parseOid(`${urn ? 'urn:oid:' : ''}${parts.join('.')}`), 'ERR_OID_INVALID');
      }),
      { numRuns: 500 },
    );
  });

  test('an empty arc anywhere is ERR_OID_INVALID (bare and urn:oid:)', () => {
    const where = fc.constantFrom('replace', 'leading', 'trailing', 'double');
    fc.assert(
      fc.property(oidArcsArb, fc.nat(), where, fc.boolean(), (arcs, at, how, urn) => {
        const parts = arcs.map((a) => a.toString(10));
        const i = at % parts.length;
        // Adding a part past 128 is ERR_OID_LIMIT (the arc count is checked first); stay within it.
        if (how !== 'replace' && parts.length >= MAX_ARCS) parts.pop();
        if (how === 'replace') parts[i] = '';
        else if (how === 'leading') parts.unshift('');
        else if (how === 'trailing') parts.push('');
        else parts.splice(Math.min(i + 1, parts.length), 0, '');
        expectCode(() => parseOid(`${urn ? 'urn:oid:' : ''}${parts.join('.')}`), 'ERR_OID_INVALID');
      }),
      { numRuns: 500 },
    );
  });

  test('X.660 root rules: first arc over 2, second arc over 39 under 0 or 1, or a single arc is ERR_OID_INVALID', () => {
    // Just past each boundary (3, 40) as often as far past it.
    const badFirst = fc.oneof(fc.bigInt({ min: 3n, max: 10n }), fc.bigInt({ min: 3n, max: HUGE }));
    const badSecond = fc.oneof(fc.bigInt({ min: 40n, max: 50n }), fc.bigInt({ min: 40n, max: HUGE }));
    const badRoots = fc.oneof(fc.tuple(badFirst, arcArb), fc.tuple(fc.constantFrom(0n, 1n), badSecond));
    fc.assert(
      fc.property(badRoots, fc.array(arcArb, { maxLength: 5 }), ([first, second], tail) => {
        const arcs = [first, second, ...tail];
        expectCode(() => parseOid(dotted(arcs)), 'ERR_OID_INVALID');
        expectCode(() => oidFromArcs(arcs), 'ERR_OID_INVALID');
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(arcArb, (arc) => {
        expectCode(() => parseOid(arc.toString(10)), 'ERR_OID_INVALID');
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// DER: OBJECT IDENTIFIER and RELATIVE-OID
// ---------------------------------------------------------------------------------------------

/** The content octets of a valid TLV built by the reference (tag, minimal length, content). */
function contentOf(der: Uint8Array): number[] {
  const first = der[1]!;
  const offset = first < 0x80 ? 2 : 2 + (first & 0x7f);
  return [...der.subarray(offset)];
}

/** Offsets in `content` where a subidentifier starts. */
function subidStarts(content: readonly number[]): number[] {
  const starts = [0];
  content.forEach((octet, i) => {
    if ((octet & 0x80) === 0 && i + 1 < content.length) starts.push(i + 1);
  });
  return starts;
}

const kinds = [
  { name: 'OBJECT IDENTIFIER', tag: 0x06, arcs: oidArcsArb, encode: (a: Arcs) => encodeOid(oidFromArcs(a)), ref: refEncodeOid, decode: (b: Uint8Array) => decodeOid(b).arcs },
  { name: 'RELATIVE-OID', tag: 0x0d, arcs: relativeArcsArb, encode: (a: Arcs) => encodeRelativeOid(dotted(a)), ref: refEncodeRelativeOid, decode: (b: Uint8Array) => decodeRelativeOid(b).split('.').map(BigInt) },
] as const;

describe.each(kinds)('DER $name', ({ tag, arcs: arcsArb, encode, ref, decode }) => {
  test('an independent base-128 encoder agrees byte for byte', () => {
    fc.assert(
      fc.property(arcsArb, (arcs) => {
        expect(encode(arcs).toString('hex')).toBe(ref(arcs).toString('hex'));
      }),
      { numRuns: 1000 },
    );
  });

  test('decode(encode(x)) == x and encode(decode(bytes)) is byte-identical', () => {
    fc.assert(
      fc.property(arcsArb, (arcs) => {
        const der = encode(arcs);
        expect(der[0]).toBe(tag);
        const back = decode(der);
        expect(back).toEqual(arcs);
        expect(encode(back).equals(der)).toBe(true);
        // A plain Uint8Array (not a Buffer) decodes the same.
        expect(decode(new Uint8Array(der))).toEqual(arcs);
      }),
      { numRuns: 1000 },
    );
  });

  test('a leading 0x80 octet in any subidentifier is ERR_DER_INVALID', () => {
    fc.assert(
      fc.property(arcsArb, fc.nat(), fc.integer({ min: 1, max: 3 }), (arcs, at, pad) => {
        const content = contentOf(ref(arcs));
        // One more octet past 1024 would be ERR_OID_LIMIT (checked first): stay within the limit.
        fc.pre(content.length + pad <= MAX_CONTENT_OCTETS);
        const starts = subidStarts(content);
        const i = starts[at % starts.length]!;
        const mutated = [...content.slice(0, i), ...Array<number>(pad).fill(0x80), ...content.slice(i)];
        expectCode(() => decode(refTlv(tag, mutated)), 'ERR_DER_INVALID');
      }),
      { numRuns: 500 },
    );
  });

  test('a non-minimal or indefinite length is ERR_DER_INVALID', () => {
    const how = fc.constantFrom('zero-padded', 'long-form', 'indefinite');
    fc.assert(
      fc.property(arcsArb, how, fc.integer({ min: 1, max: 3 }), (arcs, mode, zeros) => {
        const content = contentOf(ref(arcs));
        const n = content.length;
        const magnitude: number[] = [];
        for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) magnitude.unshift(rest % 256);
        let der: Buffer;
        if (mode === 'indefinite') {
          der = refTlv(tag, [...content, 0, 0], [0x80]);
        } else if (mode === 'long-form' && n < 128) {
          der = refTlv(tag, content, [0x81, n]);
        } else {
          const octets = [...Array<number>(zeros).fill(0), ...magnitude];
          der = refTlv(tag, content, [0x80 | octets.length, ...octets]);
        }
        expectCode(() => decode(der), 'ERR_DER_INVALID');
      }),
      { numRuns: 500 },
    );
  });

  test('the constructed form of the tag is ERR_DER_INVALID', () => {
    fc.assert(
      fc.property(arcsArb, fc.boolean(), (arcs, wrap) => {
        const der = ref(arcs);
        // Either the same TLV with the constructed bit, or a constructed TLV wrapping the primitive one.
        const constructed = wrap ? refTlv(tag | 0x20, [...der]) : Buffer.from([tag | 0x20, ...der.subarray(1)]);
        expectCode(() => decode(constructed), 'ERR_DER_INVALID');
      }),
      { numRuns: 300 },
    );
  });
});

/** Byte strings that look like DER some of the time: raw noise, plausible TLVs, mutated valid encodings. */
const interestingOctet = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0xff, 0x06, 0x0d, 0x26, 0x2d, 0x82, 0x84, 0x85) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const lengthOctets = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 1 }),
  fc.tuple(fc.integer({ min: 0x80, max: 0x88 }), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 })).map(([first, rest]) => [first, ...rest]),
);
/** For the decoder of `tag`: mostly that tag, sometimes the other tags (constructed included). */
function derishArb(tag: number, valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Uint8Array> {
  const anyTag = fc.oneof({ weight: 4, arbitrary: fc.constant(tag) }, { weight: 1, arbitrary: fc.constantFrom(0x06, 0x0d, 0x26, 0x2d, 0x00, 0xff) });
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }) },
    { weight: 1, arbitrary: fc.array(interestingOctet, { maxLength: 48 }).map((a) => Uint8Array.from(a)) },
    // A tag, a correct length and random content (length 0 and content past 1024 octets included).
    {
      weight: 3,
      arbitrary: fc
        .tuple(anyTag, fc.oneof({ weight: 9, arbitrary: fc.array(interestingOctet, { maxLength: 64 }) }, { weight: 1, arbitrary: fc.array(interestingOctet, { minLength: 1000, maxLength: 1100 }) }))
        .map(([t, content]) => new Uint8Array(refTlv(t, content))),
    },
    // A tag, random length octets and random content.
    {
      weight: 2,
      arbitrary: fc.tuple(anyTag, lengthOctets, fc.array(interestingOctet, { maxLength: 64 })).map(([t, length, content]) => Uint8Array.from([t, ...length, ...content])),
    },
    // A valid encoding, unchanged or with one octet changed, inserted or removed, or cut short.
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.nat(), interestingOctet, fc.constantFrom('none', 'set', 'xor', 'insert', 'delete', 'truncate'))
        .map(([der, at, octet, mode]) => {
          const bytes = [...der];
          const i = at % bytes.length;
          if (mode === 'set') bytes[i] = octet;
          else if (mode === 'xor') bytes[i] = bytes[i]! ^ (octet || 1);
          else if (mode === 'insert') bytes.splice(i, 0, octet);
          else if (mode === 'delete') bytes.splice(i, 1);
          else if (mode === 'truncate') bytes.length = i;
          return Uint8Array.from(bytes);
        }),
    },
  );
}

describe('DER decoders on arbitrary bytes', () => {
  test.each([
    ['OBJECT IDENTIFIER', derishArb(0x06, oidArcsArb.map(refEncodeOid)), (b: Uint8Array) => encodeOid(decodeOid(b))],
    ['RELATIVE-OID', derishArb(0x0d, relativeArcsArb.map(refEncodeRelativeOid)), (b: Uint8Array) => encodeRelativeOid(decodeRelativeOid(b))],
  ] as const)('%s: accept only canonical bytes, else throw a CairnError with a stable code', (_name, bytesArb, roundTrip) => {
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const copy = Uint8Array.from(bytes);
        const first = attempt(() => roundTrip(bytes));
        if (first.ok) {
          // Accepted: exactly one byte string per value, so re-encoding gives the input back.
          expect(Buffer.from(first.value).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
        } else {
          const error = first.error;
          if (!(error instanceof CairnError)) throw error; // a TypeError/RangeError escaped: report it as is
          expect(['ERR_DER_INVALID', 'ERR_OID_LIMIT']).toContain(error.code);
          const again = attempt(() => roundTrip(bytes));
          expect(again.ok ? undefined : (again.error as CairnError).code).toBe(error.code);
        }
        expect(bytes).toEqual(copy); // the input is not modified
      }),
      { numRuns: 2000 },
    );
  });
});

describe('limits: 128 arcs and 1024 content octets, each ERR_OID_LIMIT', () => {
  test('more than 128 arcs is ERR_OID_LIMIT in every text form, in oidFromArcs and in both DER decoders', () => {
    const tooMany = fc.tuple(rootsArb, fc.array(fc.bigInt({ min: 0n, max: 5000n }), { minLength: MAX_ARCS - 1, maxLength: MAX_ARCS + 40 })).map(([roots, tail]) => [...roots, ...tail]);
    fc.assert(
      fc.property(tooMany, (arcs) => {
        expectCode(() => parseOid(dotted(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => oidFromArcs(arcs), 'ERR_OID_LIMIT');
        expectCode(() => encodeOid(dotted(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => encodeRelativeOid(dotted(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => parseOidIri(`/${arcs.join('/')}`), 'ERR_OID_LIMIT');
        expectCode(() => parseOidValueNotation(`{ ${arcs.join(' ')} }`), 'ERR_OID_LIMIT');
        // Within 1024 content octets (arcs under 2^14 take at most 2), so only the arc count is over.
        expectCode(() => decodeOid(refEncodeOid(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => decodeRelativeOid(refEncodeRelativeOid(arcs)), 'ERR_OID_LIMIT');
      }),
      { numRuns: 50 },
    );
  });

  test('exactly 1024 content octets encodes and decodes; exactly 1025 is ERR_OID_LIMIT', () => {
    /** Appends arcs of up to 29 octets until the content is exactly `target` octets. */
    const exactly = (target: number) =>
      fc.tuple(oidArcsArb, fc.array(fc.bigInt({ min: 0n, max: HUGE }), { minLength: 40, maxLength: 40 })).map(([start, noise]) => {
        const arcs = fitOid(start.slice(0, 80), target - 1);
        let left = target - refContent(refOidSubidentifiers(arcs)).length;
        for (let i = 0; left > 0; i++) {
          const octets = Math.min(left, 29);
          const low = 2n ** BigInt(7 * (octets - 1));
          const high = 2n ** BigInt(7 * octets);
          arcs.push(octets === 1 ? noise[i]! % 128n : low + (noise[i]! % (high - low)));
          left -= octets;
        }
        return arcs;
      });
    fc.assert(
      fc.property(exactly(MAX_CONTENT_OCTETS), exactly(MAX_CONTENT_OCTETS + 1), (fits, over) => {
        expect(refContent(refOidSubidentifiers(fits)).length).toBe(MAX_CONTENT_OCTETS);
        expect(refContent(refOidSubidentifiers(over)).length).toBe(MAX_CONTENT_OCTETS + 1);
        const der = encodeOid(oidFromArcs(fits));
        expect(der.toString('hex')).toBe(refEncodeOid(fits).toString('hex'));
        expect(decodeOid(der).arcs).toEqual(fits);
        expectCode(() => encodeOid(oidFromArcs(over)), 'ERR_OID_LIMIT');
        expectCode(() => decodeOid(refEncodeOid(over)), 'ERR_OID_LIMIT');
        // The same arcs as RELATIVE-OIDs, the first two being separate subidentifiers there.
        const relFits = [fits[0]! * 40n + fits[1]!, ...fits.slice(2)];
        const relOver = [over[0]! * 40n + over[1]!, ...over.slice(2)];
        expect(decodeRelativeOid(encodeRelativeOid(dotted(relFits)))).toBe(dotted(relFits));
        expectCode(() => encodeRelativeOid(dotted(relOver)), 'ERR_OID_LIMIT');
        expectCode(() => decodeRelativeOid(refEncodeRelativeOid(relOver)), 'ERR_OID_LIMIT');
      }),
      { numRuns: 100 },
    );
  });

  test('more than 1024 content octets is ERR_OID_LIMIT for both encoders and both decoders', () => {
    // 40..128 arcs of 2^180..2^200 (26..29 octets each): always over 1024 octets.
    const tooBig = fc.tuple(fc.constant(2n), fc.array(fc.bigInt({ min: 2n ** 180n, max: HUGE }), { minLength: 40, maxLength: MAX_ARCS - 1 })).map(([root, rest]) => [root, ...rest]);
    fc.assert(
      fc.property(tooBig, (arcs) => {
        expect(refContent(refOidSubidentifiers(arcs)).length).toBeGreaterThan(MAX_CONTENT_OCTETS);
        expectCode(() => encodeOid(oidFromArcs(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => encodeRelativeOid(dotted(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => decodeOid(refEncodeOid(arcs)), 'ERR_OID_LIMIT');
        expectCode(() => decodeRelativeOid(refEncodeRelativeOid(arcs)), 'ERR_OID_LIMIT');
      }),
      { numRuns: 50 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// OID-IRI and ASN.1 value notation
// ---------------------------------------------------------------------------------------------

describe('OID-IRI', () => {
  test('integer-label IRIs round-trip (with and without oid:)', () => {
    fc.assert(
      fc.property(oidArcsArb, fc.boolean(), (arcs, scheme) => {
        const iri = `${scheme ? 'oid:' : ''}/${arcs.map((a) => a.toString(10)).join('/')}`;
        const oid = parseOidIri(iri);
        expect(oid.arcs).toEqual(arcs);
        expect(oid.text).toBe(dotted(arcs));
      }),
      { numRuns: 500 },
    );
  });

  test('parse(formatOidIri(x)) == x, standard labels and long arcs included', () => {
    fc.assert(
      fc.property(oidArcsArb, (arcs) => {
        const iri = formatOidIri(oidFromArcs(arcs));
        expect(iri.startsWith('/')).toBe(true);
        expect(parseOidIri(iri).arcs).toEqual(arcs);
        expect(parseOidIri(`oid:${iri}`).arcs).toEqual(arcs);
      }),
      { numRuns: 500 },
    );
  });

  test('every long-arc label, raw or percent-encoded, stands for its arcs right after the root', () => {
    const longArc = fc.constantFrom(...longArcsData.longArcs);
    fc.assert(
      fc.property(longArc, fc.array(arcArb, { maxLength: 5 }), fc.boolean(), (entry, tail, encoded) => {
        const label = encoded ? encodeURIComponent(entry.label) : entry.label;
        const iri = `/${[label, ...tail.map(String)].join('/')}`;
        expect(parseOidIri(iri).arcs).toEqual([...entry.arc.split('.').map(BigInt), ...tail]);
      }),
      { numRuns: 300 },
    );
  });

  test('/UUID/<uuid> is 2.25.<the UUID as an integer> and formats back to a parseable IRI', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.boolean(), fc.array(arcArb, { maxLength: 3 }), (uuid, upper, tail) => {
        const label = upper ? uuid.toUpperCase() : uuid;
        const arcs = [2n, 25n, BigInt(`0x${uuid.replace(/-/g, '')}`), ...tail];
        const oid = parseOidIri(`/${['UUID', label, ...tail.map(String)].join('/')}`);
        expect(oid.arcs).toEqual(arcs);
        expect(parseOidIri(`/Joint-ISO-ITU-T/UUID/${label}`).arcs).toEqual(arcs.slice(0, 3));
        expect(parseOidIri(formatOidIri(oid)).arcs).toEqual(arcs);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ASN.1 value notation', () => {
  test('parse(formatOidValueNotation(x)) == x', () => {
    fc.assert(
      fc.property(oidArcsArb, (arcs) => {
        const text = formatOidValueNotation(oidFromArcs(arcs));
        expect(parseOidValueNotation(text).arcs).toEqual(arcs);
      }),
      { numRuns: 1000 },
    );
  });

  test('NumberForm and NameAndNumberForm with non-standard identifiers parse to the arcs, whatever the spacing', () => {
    // "arc..." is no standard identifier anywhere in registries/oid, so any number may follow it.
    const identifier = fc.option(fc.stringMatching(/^arc[A-Za-z0-9]{0,6}(-[A-Za-z0-9]{1,4})?$/), { nil: undefined });
    const space = fc.constantFrom(' ', '  ', '\t', '\n', ' \n ');
    fc.assert(
      fc.property(oidArcsArb.chain((arcs) => fc.tuple(fc.constant(arcs), fc.array(fc.tuple(identifier, space, fc.boolean()), { minLength: arcs.length, maxLength: arcs.length }))), ([arcs, forms]) => {
        const components = arcs.map((arc, i) => {
          const [id, sp, inner] = forms[i]!;
          if (id === undefined) return String(arc);
          return inner ? `${id}${sp}(${sp}${arc}${sp})` : `${id}(${arc})`;
        });
        const text = `{${forms[0]![1]}${components.join(forms[0]![1])}${forms[0]![1]}}`;
        expect(parseOidValueNotation(text).arcs).toEqual(arcs);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Store keys
// ---------------------------------------------------------------------------------------------

/** Arc lists that need not be valid OIDs (the key codec does not care), empty included. */
const anyArcsArb = fc.array(arcArb, { maxLength: 10 });

/** A second arc list related to the first: independent, sharing a prefix, a neighbour arc, a descendant. */
function relatedTo(a: readonly bigint[]): fc.Arbitrary<bigint[]> {
  const neighbour = fc
    .tuple(fc.nat(), fc.constantFrom(-1n, 1n, -128n, 128n, 2n ** 64n))
    .map(([at, d]) => {
      if (a.length === 0) return [];
      const i = at % a.length;
      const v = a[i]! + d;
      return a.with(i, v < 0n ? 0n : v);
    });
  return fc.oneof(
    fc.oneof(anyArcsArb, oidArcsArb),
    fc.tuple(fc.nat({ max: a.length }), fc.array(arcArb, { maxLength: 4 })).map(([n, extra]) => [...a.slice(0, n), ...extra]),
    neighbour,
    fc.array(arcArb, { minLength: 1, maxLength: 4 }).map((extra) => [...a, ...extra]),
  );
}

const keyCmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

describe('store keys', () => {
  test('decodeOidKey(encodeOidKey(x)) == x', () => {
    fc.assert(
      fc.property(fc.oneof(oidArcsArb, anyArcsArb), (arcs) => {
        expect(decodeOidKey(encodeOidKey(arcs))).toEqual(arcs);
      }),
      { numRuns: 1000 },
    );
  });

  test('key order equals numeric arc-by-arc order', () => {
    const pair = fc.oneof(oidArcsArb, anyArcsArb).chain((a) => fc.tuple(fc.constant(a), relatedTo(a)));
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(keyCmp(encodeOidKey(a), encodeOidKey(b))).toBe(compareArcs(a, b));
        expect(encodeOidKey(a) === encodeOidKey(b)).toBe(compareArcs(a, b) === 0);
      }),
      { numRuns: 1000 },
    );
  });

  test('sorting by key sorts the OIDs numerically', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(oidArcsArb, anyArcsArb), { maxLength: 30 }), (list) => {
        const byKey = list.map((arcs) => ({ arcs, key: encodeOidKey(arcs) })).sort((x, y) => keyCmp(x.key, y.key));
        const byArcs = [...list].sort(compareArcs);
        expect(byKey.map((x) => dotted(x.arcs))).toEqual(byArcs.map(dotted));
      }),
      { numRuns: 200 },
    );
  });

  test("a parent's key is a prefix of every descendant's key, and the subtree is one key range", () => {
    const family = fc.tuple(oidArcsArb, fc.array(fc.array(arcArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }));
    fc.assert(
      fc.property(family, ([parent, tails]) => {
        const parentKey = encodeOidKey(parent);
        const range = oidSubtreeRange(parent);
        for (const tail of tails) {
          const key = encodeOidKey([...parent, ...tail]);
          expect(key.startsWith(parentKey)).toBe(true);
          expect(key > range.gt && key < range.lt).toBe(true);
        }
        expect(parentKey > range.gt).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  test('the subtree range holds exactly the descendants', () => {
    const pair = oidArcsArb.chain((a) => fc.tuple(fc.constant(a), relatedTo(a)));
    fc.assert(
      fc.property(pair, ([parent, other]) => {
        const range = oidSubtreeRange(parent);
        const key = encodeOidKey(other);
        const isDescendant = other.length > parent.length && parent.every((arc, i) => other[i] === arc);
        expect(key > range.gt && key < range.lt).toBe(isDescendant);
      }),
      { numRuns: 1000 },
    );
  });
});
