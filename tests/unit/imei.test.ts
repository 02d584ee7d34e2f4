import { describe, expect, it } from 'vitest';
import { CairnError, type ErrorCode } from '../../src/errors.js';
import { formatImeiId, isImei, luhnCheckDigit, parseImei, parseImeiId, parseImeiOrSv, parseImeisv } from '../../src/ids/imei.js';
import { loadVector } from '../helpers/vectors.js';

interface ImeiVectors {
  readonly valid: string[];
  readonly invalidCheckDigit: string[];
  readonly luhnValidButUnallocated: string[];
  readonly malformed: string[];
}
const vectors = loadVector<ImeiVectors>('imei.json');

/** Luhn as TS 23.003 Annex B states it: double the digits in even positions from the right of the 14, sum the digits, the check makes the total a multiple of 10. */
function refValid(imei: string): boolean {
  const digits = [...imei].map(Number);
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const d = digits[i]!;
    if (i % 2 === 1) sum += Math.floor((d * 2) / 10) + ((d * 2) % 10);
    else sum += d;
  }
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

describe('IMEI', () => {
  it.each(vectors.valid)('accepts the valid vector %s', (imei) => {
    expect(refValid(imei)).toBe(true);
    expect(parseImei(imei)).toEqual({ kind: 'imei', text: imei, tac: imei.slice(0, 8), snr: imei.slice(8, 14) });
    expect(formatImeiId(imei)).toBe(`imei:${imei}`);
    expect(parseImeiId(`imei:${imei}`)).toEqual(parseImei(imei));
    expect(parseImeiId(`IMEI:${imei}`)).toEqual(parseImei(imei));
  });

  it.each(vectors.invalidCheckDigit)('refuses %s with ERR_IMEI_CHECK_MISMATCH', (imei) => {
    expect(refValid(imei)).toBe(false);
    expect(codeOf(() => parseImei(imei))).toBe('ERR_IMEI_CHECK_MISMATCH');
    expect(codeOf(() => parseImeiId(`imei:${imei}`))).toBe('ERR_IMEI_CHECK_MISMATCH');
  });

  it.each(vectors.luhnValidButUnallocated)('accepts %s: a valid check digit says nothing about allocation', (imei) => {
    expect(isImei(imei)).toBe(true);
  });

  it.each(vectors.malformed)('refuses the malformed %j with ERR_IMEI_INVALID', (text) => {
    expect(codeOf(() => parseImei(text))).toBe('ERR_IMEI_INVALID');
  });

  it('agrees with the reference rule on 2000 random numbers', () => {
    for (let i = 0; i < 2000; i++) {
      const body = Array.from({ length: 14 }, () => Math.floor(Math.random() * 10)).join('');
      const imei = `${body}${luhnCheckDigit(body)}`;
      expect(refValid(imei)).toBe(true);
      expect(isImei(imei)).toBe(true);
      expect(isImei(`${body}${(luhnCheckDigit(body) + 1 + (i % 9)) % 10}`)).toBe(false);
    }
  });
});

describe('IMEISV', () => {
  it('recognises 16 digits as an IMEISV and gives the device IMEI', () => {
    const [imei] = vectors.valid;
    const sv = `${imei!.slice(0, 14)}07`;
    expect(parseImeisv(sv)).toEqual({ kind: 'imeisv', text: sv, tac: imei!.slice(0, 8), snr: imei!.slice(8, 14), svn: '07', imei });
    expect(parseImeiOrSv(sv)).toMatchObject({ kind: 'imeisv', imei });
    expect(parseImeiId(`imei:${sv}`)).toMatchObject({ kind: 'imeisv', imei });
  });

  it('refuses SVN 99 (reserved) and other lengths, and says a 16-digit IMEI is an IMEISV', () => {
    const [imei] = vectors.valid;
    expect(codeOf(() => parseImeisv(`${imei!.slice(0, 14)}99`))).toBe('ERR_IMEI_INVALID');
    expect(codeOf(() => parseImeisv(imei!))).toBe('ERR_IMEI_INVALID');
    try {
      parseImei(`${imei!.slice(0, 14)}07`);
    } catch (e) {
      expect((e as CairnError).message).toMatch(/IMEISV/);
    }
    expect(codeOf(() => parseImeiId(imei!))).toBe('ERR_IMEI_INVALID');
  });
});
