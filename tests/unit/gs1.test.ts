import { describe, expect, it } from 'vitest';
import { CairnError, type ErrorCode } from '../../src/errors.js';
import {
  encodeAiValue,
  formatGs1DigitalLink,
  gtinCheckDigit,
  isAiValue,
  isGtin,
  parseGs1DigitalLink,
  parseGtin,
} from '../../src/ids/gs1.js';
import { loadVector } from '../helpers/vectors.js';

interface Gs1Vectors {
  readonly valid: string[];
  readonly invalidCheckDigit: string[];
  readonly digitalLink: string[];
}
const vectors = loadVector<Gs1Vectors>('gs1.json');

/** The GS1 mod-10 rule written from the General Specifications' table (7.9.1): weights 3 and 1 from the right. */
function refCheck(withCheck: string): boolean {
  const digits = [...withCheck].map(Number).reverse();
  const sum = digits.reduce((s, d, i) => s + d * (i === 0 ? 1 : i % 2 === 1 ? 3 : 1), 0);
  return sum % 10 === 0;
}

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CairnError) return e.code;
    throw e;
  }
  return undefined;
}

describe('GTIN', () => {
  it.each(vectors.valid)('accepts the valid vector %s', (gtin) => {
    expect(refCheck(gtin)).toBe(true);
    expect(parseGtin(gtin)).toEqual({ gtin14: gtin.padStart(14, '0'), text: gtin, length: gtin.length });
  });

  it.each(vectors.invalidCheckDigit)('refuses %s with ERR_GTIN_CHECK_MISMATCH and says which digit it expected', (gtin) => {
    expect(codeOf(() => parseGtin(gtin))).toBe('ERR_GTIN_CHECK_MISMATCH');
    try {
      parseGtin(gtin);
    } catch (e) {
      const expected = (e as CairnError).details?.expected as string;
      expect(refCheck(gtin.slice(0, -1) + expected)).toBe(true);
    }
  });

  it('takes GTIN-8, -12 and -13 as the same GTIN-14 with leading zeros, whatever the length', () => {
    for (const body of ['9638507', '61414100003', '400638133393']) {
      const gtin = `${body}${gtinCheckDigit(body)}`;
      expect(refCheck(gtin)).toBe(true);
      expect(parseGtin(gtin).gtin14).toBe(gtin.padStart(14, '0'));
      expect(refCheck(gtin.padStart(14, '0'))).toBe(true);
    }
  });

  it('agrees with the reference check on 2000 random bodies of every length', () => {
    for (let i = 0; i < 2000; i++) {
      const length = [8, 12, 13, 14][i % 4]!;
      const body = Array.from({ length: length - 1 }, () => Math.floor(Math.random() * 10)).join('');
      const gtin = `${body}${gtinCheckDigit(body)}`;
      expect(refCheck(gtin)).toBe(true);
      expect(isGtin(gtin)).toBe(true);
      const wrong = `${body}${(gtinCheckDigit(body) + 1 + (i % 9)) % 10}`;
      expect(isGtin(wrong)).toBe(false);
    }
  });

  it.each(['', '1234567', '123456789', '12345678901', '123456789012345', '0950600013435A', ' 09506000134352', '-9506000134352', '0950600013435.2'])(
    'refuses %j as ERR_GTIN_INVALID',
    (text) => expect(codeOf(() => parseGtin(text))).toBe('ERR_GTIN_INVALID'),
  );
});

describe('GS1 Digital Link', () => {
  it.each(vectors.digitalLink)('parses the vector %s', (uri) => {
    const link = parseGs1DigitalLink(uri);
    const path = new URL(uri).pathname;
    const [, , gtin, , serial] = path.split('/');
    expect(link.gtin.gtin14).toBe(gtin!.padStart(14, '0'));
    expect(link.serial).toBe(decodeURIComponent(serial!));
    expect(parseGs1DigitalLink(path)).toEqual(link);
  });

  it('reads the qualifiers in order, with a path prefix, a query string and percent-encoding', () => {
    const [gtin] = vectors.valid;
    expect(parseGs1DigitalLink(`/01/${gtin}/10/LOT%2F7/21/A%21B`)).toEqual({ gtin: parseGtin(gtin!), lot: 'LOT/7', serial: 'A!B' });
    expect(parseGs1DigitalLink(`https://example.com/some/prefix/01/${gtin}/22/V1/10/L1/21/S1?17=261231`)).toMatchObject({ cpv: 'V1', lot: 'L1', serial: 'S1' });
    const eight = `9638507${gtinCheckDigit('9638507')}`;
    expect(parseGs1DigitalLink(`/01/${eight}/21/X`).gtin.gtin14).toBe(eight.padStart(14, '0'));
  });

  it('formats the canonical path and reads it back', () => {
    const [gtin] = vectors.valid;
    for (const serial of ['SN-000123', 'a/b', "!\"%&'()*+,-./:;<=>?_", 'Z']) {
      const path = formatGs1DigitalLink(gtin!, serial);
      expect(path).toMatch(/^\/01\/\d{14}\/21\/[A-Za-z0-9\-._%]+$/);
      expect(parseGs1DigitalLink(path).serial).toBe(serial);
    }
    expect(encodeAiValue('A B')).toBe('A%20B');
  });

  it('knows set 82 and the 20-character limit of AI 21', () => {
    expect(isAiValue('x'.repeat(20))).toBe(true);
    expect(isAiValue('x'.repeat(21))).toBe(false);
    expect(isAiValue('a b')).toBe(false);
    expect(isAiValue('é')).toBe(false);
    expect(isAiValue('~')).toBe(false);
    expect(isAiValue('#')).toBe(false);
    expect(isAiValue('')).toBe(false);
  });

  const [gtin] = vectors.valid;
  const [badGtin] = vectors.invalidCheckDigit;
  it.each<[string, ErrorCode]>([
    [`/01/${badGtin}/21/SN-1`, 'ERR_GTIN_CHECK_MISMATCH'],
    [`/01/123/21/SN-1`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21/`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21/${'x'.repeat(21)}`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21/a%20b`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21/%E0%A4%A`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/21/S/10/L`, 'ERR_GS1_LINK_INVALID'],
    [`/01/${gtin}/17/261231/21/S`, 'ERR_GS1_LINK_INVALID'],
    [`/02/${gtin}/21/S`, 'ERR_GS1_LINK_INVALID'],
    ['', 'ERR_GS1_LINK_INVALID'],
    ['https://[bad/01/x', 'ERR_GS1_LINK_INVALID'],
  ])('refuses %s with %s', (text, code) => expect(codeOf(() => parseGs1DigitalLink(text))).toBe(code));
});
