import { describe, expect, it } from 'vitest';
import { aesCmac, counterRises, decryptPiccData, macInput, truncateMac, verifySun } from '../../src/families/products/verify/ntag-sun.js';
import { loadVector } from '../helpers/vectors.js';

interface SunVector {
  readonly kSdmMetaRead: string;
  readonly kSdmFileRead: string;
  readonly piccData: string;
  readonly encFileData?: string;
  readonly cmac: string;
  readonly expect: { readonly valid: boolean; readonly uid?: string; readonly counter?: number; readonly fileData?: string };
}

interface SunVectors {
  readonly vectors: readonly SunVector[];
  readonly rfc4493: { readonly key: string; readonly message: string; readonly cmac: string };
}

const file = loadVector<SunVectors>('ntag-sun.json');
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('NTAG 424 DNA SUN: shared/vectors/ntag-sun.json', () => {
  it('AES-CMAC matches the RFC 4493 vector in the file', () => {
    expect(aesCmac(hex(file.rfc4493.key), hex(file.rfc4493.message)).toString('hex')).toBe(file.rfc4493.cmac.toLowerCase());
  });

  it.each(file.vectors.map((v, i) => [i, v] as const))('vector %i', (_i, v) => {
    const r = verifySun(
      { metaKey: hex(v.kSdmMetaRead), fileKey: hex(v.kSdmFileRead) },
      { piccData: hex(v.piccData), cmac: hex(v.cmac), ...(v.encFileData ? { encFileData: hex(v.encFileData) } : {}) },
    );
    expect(r.ok).toBe(v.expect.valid);
    if (r.ok) {
      expect(r.uid).toBe(v.expect.uid);
      expect(r.counter).toBe(v.expect.counter);
      if (v.expect.fileData !== undefined) expect(r.fileData?.toString('utf8')).toBe(v.expect.fileData);
    } else {
      expect(r.reason).toBe('sun-cmac-mismatch');
    }
  });
});

describe('AES-CMAC (RFC 4493 section 4, the other examples)', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const m = hex(
    '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
  );
  it.each([
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('Mlen %i', (len, mac) => {
    expect(aesCmac(key, m.subarray(0, len)).toString('hex')).toBe(mac);
  });
});

describe('SUN details', () => {
  const v = file.vectors[0]!;
  const keys = { metaKey: hex(v.kSdmMetaRead), fileKey: hex(v.kSdmFileRead) };

  it('refuses PICC data decrypted with the wrong meta key (tag byte is not 0xC7)', () => {
    const wrong = { metaKey: Buffer.alloc(16, 1), fileKey: keys.fileKey };
    expect(verifySun(wrong, { piccData: hex(v.piccData), cmac: hex(v.cmac) })).toEqual({ ok: false, reason: 'sun-picc-invalid' });
    expect(decryptPiccData(keys.metaKey, Buffer.alloc(15))).toBeUndefined();
  });

  it('refuses a MAC made with another file key, a flipped MAC bit, a short MAC', () => {
    expect(verifySun({ ...keys, fileKey: Buffer.alloc(16, 2) }, { piccData: hex(v.piccData), cmac: hex(v.cmac) }).ok).toBe(false);
    const flipped = hex(v.cmac);
    flipped[7]! ^= 1;
    expect(verifySun(keys, { piccData: hex(v.piccData), cmac: flipped })).toEqual({ ok: false, reason: 'sun-cmac-mismatch' });
    expect(verifySun(keys, { piccData: hex(v.piccData), cmac: hex(v.cmac).subarray(0, 4) }).ok).toBe(false);
  });

  it('the MAC input is empty without file data, upper-case hex plus "&cmac=" with it', () => {
    expect(macInput(undefined)).toHaveLength(0);
    expect(macInput(hex('cee9a5')).toString('ascii')).toBe('CEE9A5&cmac=');
    expect(truncateMac(Buffer.from(Array.from({ length: 16 }, (_, i) => i)))).toEqual(Buffer.from([1, 3, 5, 7, 9, 11, 13, 15]));
  });

  it('a counter must exceed the highest seen', () => {
    expect(counterRises(undefined, 0)).toBe(true);
    expect(counterRises(61, 62)).toBe(true);
    expect(counterRises(61, 61)).toBe(false);
    expect(counterRises(61, 8)).toBe(false);
  });
});
