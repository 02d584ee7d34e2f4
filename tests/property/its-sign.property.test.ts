import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import countryData from '../../registries/its/iso3166-alpha2.json' with { type: 'json' };
import { decodeItsSignIdDer, encodeItsSignIdDer } from '../../src/asn1/its-sign-der.js';
import { CairnError } from '../../src/errors.js';
import { formatItsSignId, mod3736CheckCharacter, parseItsSignId, type ItsSignId, type ItsSignType } from '../../src/ids/its-sign.js';

/**
 * Property tests for the ITS sign identifier's text form (issue 5): random identifiers round-trip
 * through the canonical text, any letter case and Crockford's aliases read the same, and a single
 * substituted character in the serial, the country or the authority never parses; the DER form
 * round-trips and accepts no byte string but the one it would write. Errors are matched by `code`,
 * never by message.
 */

const COUNTRIES = countryData.codes.map((c) => c.alpha2);
const COUNTRY_SET = new Set(COUNTRIES);
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ALPHABET36 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

const catalogueCode = fc
  .tuple(fc.stringMatching(/^[A-Z0-9]{1,5}$/), fc.array(fc.tuple(fc.constantFrom('-', '.'), fc.stringMatching(/^[A-Z0-9]{1,4}$/)), { maxLength: 3 }))
  .map(([first, rest]) => first + rest.map(([sep, run]) => sep + run).join(''))
  .filter((code) => code.length <= 16);

const signCode = fc.oneof(
  fc.record(
    {
      scheme: fc.constant('vc' as const),
      signClass: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'),
      number: fc.integer({ min: 1, max: 64 }),
      option: fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F', 'G'),
    },
    { requiredKeys: ['scheme', 'signClass', 'number'] },
  ),
  fc.record({
    scheme: fc.constant('gdd' as const),
    category: fc.constantFrom(11, 12, 13, 21, 31, 32),
    nature: fc.integer({ min: 1, max: 9 }),
    serial: fc.integer({ min: 0, max: 99 }),
  }),
  fc.record({ scheme: fc.constant('itis' as const), code: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ scheme: fc.constant('nat' as const), country: fc.constantFrom(...COUNTRIES), code: catalogueCode }),
  fc.record({ scheme: fc.constant('any' as const), code: catalogueCode }),
);

const signType: fc.Arbitrary<ItsSignType> = fc
  .tuple(signCode, fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }))
  .map(([code, value]) => (value === undefined ? code : { ...code, value }) as ItsSignType);

const itsSignIdArb: fc.Arbitrary<ItsSignId> = fc
  .record({
    kind: fc.constantFrom('sign', 'plate', 'vms', 'sgnl', 'isct'),
    country: fc.constantFrom(...COUNTRIES),
    authority: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 16383 })),
    serial: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.bigInt({ min: 0n, max: 2n ** 48n - 1n }).map(Number)),
    type: signType,
  }, { requiredKeys: ['kind', 'country', 'authority', 'serial'] });

/** Where the fields sit in canonical text: its:<kind>:<CC>.<authority>[:<type>]:<serial>~<check>. */
function fieldsOf(text: string): { country: [number, number]; authority: [number, number]; serial: [number, number] } {
  const colon2 = text.indexOf(':', 4);
  const dot = text.indexOf('.', colon2);
  const colon3 = text.indexOf(':', dot);
  const lastColon = text.lastIndexOf(':');
  const tilde = text.lastIndexOf('~');
  return { country: [colon2 + 1, dot], authority: [dot + 1, colon3], serial: [lastColon + 1, tilde] };
}

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    return e.code;
  }
}

describe('ITS sign identifier: properties', () => {
  test('parse(format(x)) equals x, and format is a fixed point', () => {
    fc.assert(
      fc.property(itsSignIdArb, (id) => {
        const text = formatItsSignId(id);
        expect(parseItsSignId(text)).toEqual(id);
        expect(formatItsSignId(parseItsSignId(text))).toBe(text);
        expect(text).toMatch(/^its:[a-z]+:[A-Z]{2}\.(0|[1-9][0-9]*)(:[a-z]+\.[-.0-9A-Z]+(\[(0|[1-9][0-9]*)\])?)?:[0-9A-Z]{1,10}~[0-9A-Z]$/);
      }),
      { numRuns: 2000 },
    );
  });

  test('any mix of letter case reads the same', () => {
    fc.assert(
      fc.property(itsSignIdArb, fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }), (id, flips) => {
        const text = formatItsSignId(id);
        const mixed = [...text].map((c, i) => (flips[i] ? (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) : c)).join('');
        expect(parseItsSignId(mixed)).toEqual(id);
      }),
      { numRuns: 1000 },
    );
  });

  test('Crockford aliases in the serial (O for 0, I and L for 1) and leading zeros read the same', () => {
    fc.assert(
      fc.property(itsSignIdArb, fc.array(fc.constantFrom('keep', 'O', 'o', 'I', 'i', 'L', 'l'), { minLength: 10, maxLength: 10 }), fc.nat(9), (id, picks, pad) => {
        const text = formatItsSignId(id);
        const { serial: [from, to] } = fieldsOf(text);
        const serial = text.slice(from, to);
        const aliased = [...serial].map((c, i) => {
          const pick = picks[i]!;
          if (c === '0' && (pick === 'O' || pick === 'o')) return pick;
          if (c === '1' && 'IiLl'.includes(pick)) return pick;
          return c;
        }).join('');
        const padded = aliased.padStart(Math.min(10, aliased.length + pad), '0');
        expect(parseItsSignId(text.slice(0, from) + padded + text.slice(to))).toEqual(id);
      }),
      { numRuns: 1000 },
    );
  });

  test('one substituted character in the serial, country or authority never parses', () => {
    const field = fc.constantFrom('serial', 'country', 'authority');
    fc.assert(
      fc.property(itsSignIdArb, field, fc.nat(), fc.nat(), (id, which, where, pick) => {
        const text = formatItsSignId(id);
        const [from, to] = fieldsOf(text)[which];
        const at = from + (where % (to - from));
        const original = text[at]!;
        const choices = { serial: CROCKFORD, country: LETTERS, authority: '0123456789' }[which].replace(original, '');
        const replacement = choices[pick % choices.length]!;
        const mutated = text.slice(0, at) + replacement + text.slice(at + 1);

        // When every field is still well-formed, only the check character can catch it.
        const f = fieldsOf(mutated);
        const country = mutated.slice(...f.country);
        const authority = mutated.slice(...f.authority);
        const serial = mutated.slice(...f.serial);
        const serialValue = [...serial].reduce((n, c) => n * 32 + CROCKFORD.indexOf(c), 0);
        const wellFormed = COUNTRY_SET.has(country) && /^(0|[1-9][0-9]*)$/.test(authority) && Number(authority) <= 16383 && serialValue <= 2 ** 48 - 1;
        expect(codeOf(() => parseItsSignId(mutated))).toBe(wellFormed ? 'ERR_ITS_CHECK_MISMATCH' : 'ERR_ITS_ID_INVALID');
      }),
      { numRuns: 3000 },
    );
  });

  test('MOD 37,36 changes its check character on every single substitution', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Z]{1,40}$/), fc.nat(), fc.integer({ min: 1, max: 35 }), (input, where, shift) => {
        const at = where % input.length;
        const replaced = ALPHABET36[(ALPHABET36.indexOf(input[at]!) + shift) % 36]!;
        const mutated = input.slice(0, at) + replaced + input.slice(at + 1);
        expect(mod3736CheckCharacter(mutated)).not.toBe(mod3736CheckCharacter(input));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('ITS sign identifier in DER: properties', () => {
  test('decode(encode(x)) equals x', () => {
    fc.assert(
      fc.property(itsSignIdArb, (id) => {
        const der = encodeItsSignIdDer(id);
        expect(decodeItsSignIdDer(der)).toEqual(id);
        expect(der[0]).toBe(0x30);
        expect(der[1]).toBe(der.length - 2); // always short-form: under 128 octets
      }),
      { numRuns: 2000 },
    );
  });

  const mutation = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  );

  test('a mutated encoding is refused with a stable code, or is exactly the encoding of what it decodes to', () => {
    fc.assert(
      fc.property(itsSignIdArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (id, mutations) => {
        let bytes = [...encodeItsSignIdDer(id)];
        for (const m of mutations) {
          const at = m.at % (bytes.length + (m.op === 'insert' ? 1 : 0));
          if (m.op === 'set') bytes[at] = m.byte;
          else if (m.op === 'insert') bytes.splice(at, 0, m.byte);
          else bytes.splice(at, 1);
          if (bytes.length === 0) bytes = [0];
        }
        const der = Buffer.from(bytes);
        let decoded: ItsSignId;
        try {
          decoded = decodeItsSignIdDer(der);
        } catch (e) {
          expect(e).toBeInstanceOf(CairnError);
          expect(['ERR_DER_INVALID', 'ERR_ITS_ID_INVALID']).toContain((e as CairnError).code);
          return;
        }
        expect(encodeItsSignIdDer(decoded).equals(der)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  test('random bytes are refused with a stable code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(['ERR_DER_INVALID', 'ERR_ITS_ID_INVALID']).toContain(codeOf(() => decodeItsSignIdDer(bytes)));
      }),
      { numRuns: 2000 },
    );
  });
});
