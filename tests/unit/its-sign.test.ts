import { describe, expect, it } from 'vitest';
import countryData from '../../registries/its/iso3166-alpha2.json' with { type: 'json' };
import { CairnError, type ErrorCode } from '../../src/errors.js';
import {
  formatItsSignId,
  formatItsSignType,
  isItsSignId,
  itsCheckCharacter,
  itsCheckInput,
  itsIdentityKey,
  itsIssuerKey,
  itsSignIdFrom,
  mod3736CheckCharacter,
  parseItsSerial,
  parseItsSignId,
  parseItsSignType,
  sameItsIdentity,
  type ItsSignId,
} from '../../src/ids/its-sign.js';
import { mulberry32 as rng } from '../helpers/prng.js';

/**
 * The ITS sign identifier's text form (issue 5). Check characters in the tables below come from
 * `refCheck`, an implementation of ISO/IEC 7064 MOD 37,36 written here from the standard's
 * verification rule (not the closed form the code uses). Errors are matched by `code` and
 * `details.field`, never by message.
 */

const ALPHABET36 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** ISO/IEC 7064 hybrid system, M = 36: a string with its check character appended leaves 1 mod M. */
function refVerifies(withCheck: string): boolean {
  let product = 36;
  let sum = 0;
  for (const ch of withCheck) {
    sum = (product + ALPHABET36.indexOf(ch)) % 36;
    if (sum === 0) sum = 36;
    product = (2 * sum) % 37;
  }
  return sum % 36 === 1;
}

/** The one character that makes `input` verify (by trying all 36). */
function refCheck(input: string): string {
  const found = [...ALPHABET36].filter((c) => refVerifies(input + c));
  if (found.length !== 1) throw new Error(`expected exactly one check character, got ${found.length}`);
  return found[0]!;
}

/** Crockford base32 written out independently, for building expected strings. */
function refCrockford(n: number, width = 0): string {
  const digits = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let s = '';
  do {
    s = digits[n % 32] + s;
    n = Math.floor(n / 32);
  } while (n > 0);
  return s.padStart(width, '0');
}

function refInput(kind: string, cc: string, authority: number, serial: number): string {
  return `${kind.toUpperCase()}${cc}${String(authority).padStart(5, '0')}${refCrockford(serial, 10)}`;
}

function codeOf(f: () => unknown): { code: ErrorCode; field: unknown } | 'no error' {
  try {
    f();
    return 'no error';
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    return { code: e.code, field: e.details?.['field'] };
  }
}

const EXAMPLE = 'its:sign:DE.417:nat.DE-274[60]:3K7QJ2~R';

describe('the issue 5 example', () => {
  it('parses into its fields', () => {
    expect(parseItsSignId(EXAMPLE)).toEqual({
      kind: 'sign',
      country: 'DE',
      authority: 417,
      serial: 3 * 32 ** 5 + 19 * 32 ** 4 + 7 * 32 ** 3 + 23 * 32 ** 2 + 18 * 32 + 2, // 3 K 7 Q J 2 (K = 19, J = 18)
      type: { scheme: 'nat', country: 'DE', code: '274', value: 60 },
    });
  });

  it('has the check input and check character the issue gives', () => {
    const id = parseItsSignId(EXAMPLE);
    expect(itsCheckInput(id)).toBe('SIGNDE0041700003K7QJ2');
    expect(itsCheckCharacter(id)).toBe('R');
    expect(mod3736CheckCharacter('SIGNDE0041700003K7QJ2')).toBe('R');
    expect(refCheck('SIGNDE0041700003K7QJ2')).toBe('R');
  });

  it('formats back to itself', () => {
    expect(formatItsSignId(parseItsSignId(EXAMPLE))).toBe(EXAMPLE);
  });
});

describe('MOD 37,36 check character', () => {
  it('agrees with the reference on 2,000 random strings of 0-9 A-Z', () => {
    const random = rng(37_36);
    for (let i = 0; i < 2000; i++) {
      const length = 1 + Math.floor(random() * 30);
      let s = '';
      for (let j = 0; j < length; j++) s += ALPHABET36[Math.floor(random() * 36)];
      expect(mod3736CheckCharacter(s), s).toBe(refCheck(s));
    }
  });

  it('agrees with the reference on 2,000 random identifiers', () => {
    const random = rng(5);
    const kinds = ['sign', 'plate', 'vms', 'sgnl', 'isct'] as const;
    const codes = countryData.codes.map((c) => c.alpha2);
    for (let i = 0; i < 2000; i++) {
      const id: ItsSignId = {
        kind: kinds[Math.floor(random() * kinds.length)]!,
        country: codes[Math.floor(random() * codes.length)]!,
        authority: Math.floor(random() * 16384),
        serial: Math.floor(random() * 2 ** 48),
      };
      const input = refInput(id.kind, id.country, id.authority, id.serial);
      expect(itsCheckInput(id)).toBe(input);
      expect(itsCheckCharacter(id)).toBe(refCheck(input));
      expect(parseItsSignId(`its:${id.kind}:${id.country}.${id.authority}:${refCrockford(id.serial)}~${refCheck(input)}`)).toEqual(id);
    }
  });
});

/** An identifier with the right check character for its identity, built without Cairn's code. */
function withCheck(kind: string, cc: string, authority: number, serial: number, type?: string): string {
  return `its:${kind}:${cc}.${authority}${type === undefined ? '' : `:${type}`}:${refCrockford(serial)}~${refCheck(refInput(kind, cc, authority, serial))}`;
}

describe('valid identifiers and their canonical form', () => {
  const S = 0x733de42; // 3K7QJ2
  it.each<[string, string]>([
    [EXAMPLE, EXAMPLE],
    ['ITS:SIGN:de.417:NAT.de-274[60]:3k7qj2~r', EXAMPLE],
    ['its:sign:DE.417:3K7QJ2~R', 'its:sign:DE.417:3K7QJ2~R'],
    ['its:sign:DE.417:nat.DE-274[60]:00003K7QJ2~R', EXAMPLE],
    [withCheck('sign', 'AT', 12, S, 'vc.c14'), withCheck('sign', 'AT', 12, S, 'vc.C14')],
    [withCheck('sign', 'AT', 12, S, 'vc.B2a'), withCheck('sign', 'AT', 12, S, 'vc.B2A')],
    [withCheck('sign', 'AT', 12, S, 'vc.H64G[5]'), withCheck('sign', 'AT', 12, S, 'vc.H64G[5]')],
    [withCheck('sign', 'FR', 1, S, 'gdd.12-5-57'), withCheck('sign', 'FR', 1, S, 'gdd.12-5-57')],
    [withCheck('sign', 'FR', 1, S, 'gdd.32-9-0'), withCheck('sign', 'FR', 1, S, 'gdd.32-9-0')],
    [withCheck('sign', 'US', 9, S, 'itis.0'), withCheck('sign', 'US', 9, S, 'itis.0')],
    [withCheck('sign', 'US', 9, S, 'itis.65535[65535]'), withCheck('sign', 'US', 9, S, 'itis.65535[65535]')],
    [withCheck('sign', 'US', 9, S, 'nat.US-R1-1'), withCheck('sign', 'US', 9, S, 'nat.US-R1-1')],
    [withCheck('sign', 'US', 9, S, 'nat.us-r10-11a'), withCheck('sign', 'US', 9, S, 'nat.US-R10-11A')],
    [withCheck('sign', 'NL', 9, S, 'nat.NL-C2'), withCheck('sign', 'NL', 9, S, 'nat.NL-C2')],
    [withCheck('plate', 'DE', 9, S, 'nat.DE-1020-30'), withCheck('plate', 'DE', 9, S, 'nat.DE-1020-30')],
    [withCheck('sign', 'DE', 9, S, 'nat.DE-274.1[30]'), withCheck('sign', 'DE', 9, S, 'nat.DE-274.1[30]')],
    [withCheck('sign', 'LU', 9, S, 'nat.DE-274'), withCheck('sign', 'LU', 9, S, 'nat.DE-274')],
    [withCheck('vms', 'GB', 9, S, 'any.X1'), withCheck('vms', 'GB', 9, S, 'any.X1')],
    [withCheck('vms', 'GB', 9, S, 'any.ABCDEFGHIJKLMNOP[0]'), withCheck('vms', 'GB', 9, S, 'any.ABCDEFGHIJKLMNOP[0]')],
    [withCheck('sgnl', 'NL', 0, 0), withCheck('sgnl', 'NL', 0, 0)],
    [withCheck('isct', 'NL', 16383, 2 ** 48 - 1), withCheck('isct', 'NL', 16383, 2 ** 48 - 1)],
  ])('%s', (input, canonical) => {
    expect(formatItsSignId(parseItsSignId(input))).toBe(canonical);
    expect(isItsSignId(input)).toBe(true);
  });

  it('reads the serial as Crockford does: I and L are 1, O is 0, case does not matter', () => {
    const canonical = withCheck('sign', 'DE', 417, 32 * 32 + 0 * 32 + 1); // "101"
    expect(canonical).toMatch(/:101~/);
    for (const serial of ['101', 'I0I', 'LOL', 'l0i', 'iOl', '0000000101']) {
      expect(formatItsSignId(parseItsSignId(canonical.replace(':101~', `:${serial}~`)))).toBe(canonical);
    }
    expect(parseItsSerial('7ZZZZZZZZZ')).toBe(2 ** 48 - 1);
    expect(parseItsSerial('zz')).toBe(32 * 32 - 1);
    for (const bad of ['\u0131', '\u017f', 'u', '-', '1 ', '\uff11']) {
      expect(codeOf(() => parseItsSerial(bad))).toEqual({ code: 'ERR_ITS_ID_INVALID', field: 'serial' });
    }
  });

  it('does not read the check character as Crockford: I, L, O, 0 and 1 are all distinct there', () => {
    const random = rng(99);
    let seen = 0;
    for (let i = 0; i < 5000 && seen < 4; i++) {
      const serial = Math.floor(random() * 2 ** 40);
      const text = withCheck('sign', 'DE', 1, serial);
      const check = text.at(-1)!;
      const alias = ({ I: '1', L: '1', O: '0', 0: 'O', 1: 'I' } as Record<string, string>)[check];
      if (alias === undefined) continue;
      seen++;
      expect(codeOf(() => parseItsSignId(text.slice(0, -1) + alias))).toMatchObject({ code: 'ERR_ITS_CHECK_MISMATCH' });
    }
    expect(seen).toBeGreaterThan(0);
  });
});

describe('invalid identifiers', () => {
  const ok = (type?: string, serial = '3K7QJ2', issuer = 'DE.417', kind = 'sign'): string =>
    `its:${kind}:${issuer}${type === undefined ? '' : `:${type}`}:${serial}~R`;

  it.each<[string, unknown, ErrorCode, string]>([
    ['empty', '', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['not a string', 42, 'ERR_ITS_ID_INVALID', 'identifier'],
    ['too long', `${ok()}${'x'.repeat(128)}`, 'ERR_ITS_ID_INVALID', 'identifier'],
    ['other scheme', 'urn:its:sign:DE.417:3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['too few parts', 'its:sign:DE.417', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['too many parts', 'its:sign:DE.417:vc.C14:x:3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['space', 'its:sign:DE.417: 3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['tab', 'its:sign:DE.417:\t3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['NUL', 'its:sign:DE.417:3K7QJ2~R\u0000', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['dotless i folds to I', 'its:s\u0131gn:DE.417:3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['long s folds to S', 'its:\u017fign:DE.417:3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['fullwidth digit', 'its:sign:DE.\uff14\uff11\uff17:3K7QJ2~R', 'ERR_ITS_ID_INVALID', 'identifier'],
    ['unknown kind', ok(undefined, '3K7QJ2', 'DE.417', 'signs'), 'ERR_ITS_ID_INVALID', 'kind'],
    ['empty kind', ok(undefined, '3K7QJ2', 'DE.417', ''), 'ERR_ITS_ID_INVALID', 'kind'],
    ['issuer without dot', ok(undefined, '3K7QJ2', 'DE417'), 'ERR_ITS_ID_INVALID', 'issuer'],
    ['issuer with two dots', ok(undefined, '3K7QJ2', 'DE.4.17'), 'ERR_ITS_ID_INVALID', 'issuer'],
    ['user-assigned country XK', ok(undefined, '3K7QJ2', 'XK.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['reserved country UK', ok(undefined, '3K7QJ2', 'UK.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['reserved country EU', ok(undefined, '3K7QJ2', 'EU.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['deleted country YU', ok(undefined, '3K7QJ2', 'YU.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['one-letter country', ok(undefined, '3K7QJ2', 'D.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['alpha-3 country', ok(undefined, '3K7QJ2', 'DEU.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['missing country', ok(undefined, '3K7QJ2', '.417'), 'ERR_ITS_ID_INVALID', 'country'],
    ['authority 16384', ok(undefined, '3K7QJ2', 'DE.16384'), 'ERR_ITS_ID_INVALID', 'authority'],
    ['authority 99999', ok(undefined, '3K7QJ2', 'DE.99999'), 'ERR_ITS_ID_INVALID', 'authority'],
    ['authority with leading zero', ok(undefined, '3K7QJ2', 'DE.0417'), 'ERR_ITS_ID_INVALID', 'authority'],
    ['authority huge', ok(undefined, '3K7QJ2', `DE.${'9'.repeat(30)}`), 'ERR_ITS_ID_INVALID', 'authority'],
    ['authority empty', ok(undefined, '3K7QJ2', 'DE.'), 'ERR_ITS_ID_INVALID', 'authority'],
    ['serial empty', ok(undefined, ''), 'ERR_ITS_ID_INVALID', 'serial'],
    ['serial with U', ok(undefined, '3K7UJ2'), 'ERR_ITS_ID_INVALID', 'serial'],
    ['serial with hyphen', ok(undefined, '3K7-QJ2'), 'ERR_ITS_ID_INVALID', 'serial'],
    ['serial of 11 characters', ok(undefined, '00000000001'), 'ERR_ITS_ID_INVALID', 'serial'],
    ['serial 2^48', ok(undefined, '8000000000'), 'ERR_ITS_ID_INVALID', 'serial'],
    ['no check', 'its:sign:DE.417:3K7QJ2', 'ERR_ITS_ID_INVALID', 'check'],
    ['empty check', 'its:sign:DE.417:3K7QJ2~', 'ERR_ITS_ID_INVALID', 'check'],
    ['two check characters', 'its:sign:DE.417:3K7QJ2~RR', 'ERR_ITS_ID_INVALID', 'check'],
    ['Crockford check symbol', 'its:sign:DE.417:3K7QJ2~*', 'ERR_ITS_ID_INVALID', 'check'],
    ['wrong check', 'its:sign:DE.417:3K7QJ2~S', 'ERR_ITS_CHECK_MISMATCH', 'check'],
    ['unknown scheme', ok('iso.1'), 'ERR_ITS_ID_INVALID', 'scheme'],
    ['type without dot', ok('vc'), 'ERR_ITS_ID_INVALID', 'type'],
    ['vc class I', ok('vc.I1'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc number 0', ok('vc.A0'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc number 65', ok('vc.A65'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc number with leading zero', ok('vc.A01'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc option h', ok('vc.A1h'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc two options', ok('vc.A1ab'), 'ERR_ITS_ID_INVALID', 'code'],
    ['vc without number', ok('vc.A'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd category 14', ok('gdd.14-5-57'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd nature 0', ok('gdd.12-0-57'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd nature 10', ok('gdd.12-10-5'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd serial 100', ok('gdd.12-5-100'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd serial with leading zero', ok('gdd.12-5-07'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd two parts', ok('gdd.12-5'), 'ERR_ITS_ID_INVALID', 'code'],
    ['gdd four parts', ok('gdd.12-5-57-1'), 'ERR_ITS_ID_INVALID', 'code'],
    ['itis 65536', ok('itis.65536'), 'ERR_ITS_ID_INVALID', 'code'],
    ['itis leading zero', ok('itis.01'), 'ERR_ITS_ID_INVALID', 'code'],
    ['itis negative', ok('itis.-1'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat without country', ok('nat.274'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat unknown country', ok('nat.XX-274'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat empty code', ok('nat.DE-'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat double hyphen', ok('nat.DE-274--1'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat leading hyphen', ok('nat.DE--274'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat trailing dot', ok('nat.DE-274.'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat underscore', ok('nat.DE-27_4'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat slash', ok('nat.DE-27/4'), 'ERR_ITS_ID_INVALID', 'code'],
    ['nat code of 17 characters', ok(`nat.DE-${'A'.repeat(17)}`), 'ERR_ITS_ID_INVALID', 'code'],
    ['any empty code', ok('any.'), 'ERR_ITS_ID_INVALID', 'code'],
    ['any slash', ok('any.A/B'), 'ERR_ITS_ID_INVALID', 'code'],
    ['value 65536', ok('vc.C14[65536]'), 'ERR_ITS_ID_INVALID', 'value'],
    ['value empty', ok('vc.C14[]'), 'ERR_ITS_ID_INVALID', 'value'],
    ['value with leading zero', ok('vc.C14[060]'), 'ERR_ITS_ID_INVALID', 'value'],
    ['value with decimals', ok('vc.C14[6.5]'), 'ERR_ITS_ID_INVALID', 'value'],
    ['value negative', ok('vc.C14[-1]'), 'ERR_ITS_ID_INVALID', 'value'],
    ['value unclosed', ok('vc.C14[60'), 'ERR_ITS_ID_INVALID', 'value'],
    ['text after value', ok('vc.C14[60]x'), 'ERR_ITS_ID_INVALID', 'value'],
    ['two values', ok('vc.C14[60][70]'), 'ERR_ITS_ID_INVALID', 'value'],
  ])('%s', (_name, input, code, field) => {
    expect(codeOf(() => parseItsSignId(input as string))).toEqual({ code, field });
    expect(isItsSignId(input)).toBe(false);
  });

  it('reports the expected check character for every wrong one', () => {
    for (const c of ALPHABET36.replace('R', '')) {
      try {
        parseItsSignId(EXAMPLE.slice(0, -1) + c);
        expect.fail(`check ${c} was accepted`);
      } catch (e) {
        expect(e).toBeInstanceOf(CairnError);
        expect((e as CairnError).code).toBe('ERR_ITS_CHECK_MISMATCH');
        expect((e as CairnError).details).toMatchObject({ expected: 'R', given: c });
      }
    }
  });
});

describe('identity and the asserted type', () => {
  const plain = parseItsSignId('its:sign:DE.417:3K7QJ2~R');
  const typed = parseItsSignId(EXAMPLE);

  it('keeps the type apart from the identity', () => {
    expect(plain.type).toBeUndefined();
    expect(typed.type).toEqual({ scheme: 'nat', country: 'DE', code: '274', value: 60 });
    expect(sameItsIdentity(plain, typed)).toBe(true);
    expect(itsIdentityKey(plain)).toBe(itsIdentityKey(typed));
    expect(itsCheckCharacter(plain)).toBe(itsCheckCharacter(typed));
  });

  it('tells identities apart by kind, country, authority and serial', () => {
    for (const other of [{ kind: 'plate' as const }, { country: 'AT' }, { authority: 418 }, { serial: plain.serial + 1 }]) {
      const id = { ...plain, ...other };
      expect(sameItsIdentity(plain, id)).toBe(false);
      expect(itsIdentityKey(id)).not.toBe(itsIdentityKey(plain));
    }
  });

  it('has a fixed-width key without / or control characters', () => {
    expect(itsIdentityKey(typed)).toBe('DE.00417.sign.00003K7QJ2');
    expect(itsIssuerKey(typed)).toBe('DE.00417');
    expect(itsIdentityKey(typed).startsWith(`${itsIssuerKey(typed)}.`)).toBe(true);
  });

  it('orders keys as (country, authority, kind, serial) numerically', () => {
    const random = rng(8);
    const kinds = ['sign', 'plate', 'vms', 'sgnl', 'isct'] as const;
    const ids: ItsSignId[] = [];
    for (let i = 0; i < 1000; i++) {
      ids.push({
        kind: kinds[Math.floor(random() * 5)]!,
        country: ['DE', 'AT', 'NL'][Math.floor(random() * 3)]!,
        authority: Math.floor(random() * (random() < 0.5 ? 20 : 16384)),
        serial: Math.floor(random() * (random() < 0.5 ? 100 : 2 ** 48)),
      });
    }
    const numeric = [...ids].sort((a, b) =>
      a.country.localeCompare(b.country, 'en') || a.authority - b.authority || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || a.serial - b.serial);
    const keys = ids.map(itsIdentityKey).sort();
    expect(keys).toEqual(numeric.map(itsIdentityKey));
    for (const k of keys) expect(k).toMatch(/^[A-Z]{2}\.[0-9]{5}\.[a-z]{3,5}\.[0-9A-Z]{10}$/);
  });

  it('parses and formats the type part alone', () => {
    expect(parseItsSignType('VC.b2A[30]')).toEqual({ scheme: 'vc', signClass: 'B', number: 2, option: 'A', value: 30 });
    expect(parseItsSignType('gdd.12-5-57')).toEqual({ scheme: 'gdd', category: 12, nature: 5, serial: 57 });
    expect(formatItsSignType({ scheme: 'itis', code: 7 })).toBe('itis.7');
    expect(formatItsSignType({ scheme: 'nat', country: 'US', code: 'R1-1', value: 0 })).toBe('nat.US-R1-1[0]');
  });
});

describe('identifiers built in code', () => {
  const good: ItsSignId = { kind: 'sign', country: 'DE', authority: 417, serial: 0x733de42 };

  it('copies only the known fields', () => {
    const extra = { ...good, check: 'R', type: { scheme: 'itis' as const, code: 1, extra: true } };
    expect(itsSignIdFrom(extra)).toEqual({ ...good, type: { scheme: 'itis', code: 1 } });
  });

  it.each<[string, unknown, string]>([
    ['kind upper case', { ...good, kind: 'SIGN' }, 'kind'],
    ['country lower case', { ...good, country: 'de' }, 'country'],
    ['country unassigned', { ...good, country: 'QM' }, 'country'],
    ['authority fraction', { ...good, authority: 1.5 }, 'authority'],
    ['authority NaN', { ...good, authority: Number.NaN }, 'authority'],
    ['authority negative', { ...good, authority: -1 }, 'authority'],
    ['authority as string', { ...good, authority: '417' }, 'authority'],
    ['serial 2^48', { ...good, serial: 2 ** 48 }, 'serial'],
    ['serial negative', { ...good, serial: -1 }, 'serial'],
    ['serial as bigint', { ...good, serial: 5n }, 'serial'],
    ['unknown scheme', { ...good, type: { scheme: 'foo', code: '1' } }, 'scheme'],
    ['vc option lower case', { ...good, type: { scheme: 'vc', signClass: 'A', number: 1, option: 'a' } }, 'code'],
    ['gdd category 22', { ...good, type: { scheme: 'gdd', category: 22, nature: 1, serial: 0 } }, 'code'],
    ['value 70000', { ...good, type: { scheme: 'itis', code: 1, value: 70000 } }, 'value'],
    ['nat code lower case', { ...good, type: { scheme: 'nat', country: 'DE', code: 'r1' } }, 'code'],
  ])('refuses %s', (_name, id, field) => {
    expect(codeOf(() => itsSignIdFrom(id as ItsSignId))).toEqual({ code: 'ERR_ITS_ID_INVALID', field });
    expect(codeOf(() => formatItsSignId(id as ItsSignId))).toEqual({ code: 'ERR_ITS_ID_INVALID', field });
    expect(codeOf(() => itsIdentityKey(id as ItsSignId))).not.toBe('no error');
  });
});
