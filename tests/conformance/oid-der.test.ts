import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeOid, decodeRelativeOid, encodeOid, encodeRelativeOid } from '../../src/asn1/oid-der.js';
import { parseOid } from '../../src/ids/oid.js';
import { vectorPath } from '../helpers/vectors.js';

/** shared/vectors/oid-der.jsonl: X.690 8.19-8.20 encodings, cross-checked with openssl asn1parse. */
type Vector =
  | { oid: string; der: string; len: number }
  | { relativeOid: string; der: string }
  | { invalid: string; error: string }
  | { unencodable: string; error: string };

const vectors = readFileSync(vectorPath('oid-der.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Vector);
const hex = (spaced: string): Buffer => Buffer.from(spaced.replace(/\s+/g, ''), 'hex');

describe('OBJECT IDENTIFIER vectors', () => {
  const oids = vectors.filter((v): v is Extract<Vector, { oid: string }> => 'oid' in v);
  it('has the vectors', () => expect(oids.length).toBeGreaterThan(20));
  it.each(oids)('$oid <-> $der', (v) => {
    const der = hex(v.der);
    expect(encodeOid(parseOid(v.oid)).equals(der)).toBe(true);
    expect(der.length - 2).toBe(v.len);
    expect(decodeOid(der).text).toBe(v.oid);
  });
});

describe('RELATIVE-OID vectors', () => {
  const rel = vectors.filter((v): v is Extract<Vector, { relativeOid: string }> => 'relativeOid' in v);
  it.each(rel)('$relativeOid <-> $der', (v) => {
    expect(encodeRelativeOid(v.relativeOid).equals(hex(v.der))).toBe(true);
    expect(decodeRelativeOid(hex(v.der))).toBe(v.relativeOid);
  });
});

describe('invalid and unencodable vectors', () => {
  const invalid = vectors.filter((v): v is Extract<Vector, { invalid: string }> => 'invalid' in v);
  it.each(invalid)('rejects DER $invalid ($error)', (v) => {
    expect(() => decodeOid(hex(v.invalid))).toThrow(expect.objectContaining({ code: 'ERR_DER_INVALID', message: expect.stringContaining(v.error.split(' (')[0]!.split(':')[0]!) }));
  });
  const unencodable = vectors.filter((v): v is Extract<Vector, { unencodable: string }> => 'unencodable' in v);
  it.each(unencodable)('refuses to encode $unencodable ($error)', (v) => {
    expect(() => encodeOid(v.unencodable)).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });
});

describe('strict DER beyond the vectors', () => {
  it.each([
    ['long-form length under 128', '06 81 01 2A', 'ERR_DER_INVALID'],
    ['length with a leading zero octet', '06 82 00 01 2A', 'ERR_DER_INVALID'],
    ['indefinite length', '06 80 2A 00 00', 'ERR_DER_INVALID'],
    ['constructed form', '26 01 2A', 'ERR_DER_INVALID'],
    ['wrong tag', '0D 01 2A', 'ERR_DER_INVALID'],
    ['trailing octet after the TLV', '06 01 2A 00', 'ERR_DER_INVALID'],
    ['length past the end', '06 05 2A', 'ERR_DER_INVALID'],
    ['0x4F, the last first octet under root 1, is 1.39', '06 01 4F', ''],
    ['content over 1024 octets', `06 82 04 01 ${'01 '.repeat(1025)}`, 'ERR_OID_LIMIT'],
  ])('%s', (_name, der, code) => {
    if (code === '') {
      expect(decodeOid(hex(der)).text).toBe('1.39');
      return;
    }
    expect(() => decodeOid(hex(der))).toThrow(expect.objectContaining({ code }));
  });

  it('caps OIDs at 128 arcs', () => {
    expect(() => parseOid(`1.2${'.1'.repeat(127)}`)).toThrow(expect.objectContaining({ code: 'ERR_OID_LIMIT' }));
    expect(parseOid(`1.2${'.1'.repeat(126)}`).arcs).toHaveLength(128);
  });

  it.each(['', '1.', '.1', '1..2', '01.2', '1.02', '-1.2', '1.2.a', '1.2 ', 'urn:oid:', '1.2.+3'])('rejects dotted %j', (text) => {
    expect(() => parseOid(text)).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });

  it('round-trips random OIDs with huge arcs exactly', () => {
    for (let i = 0; i < 500; i++) {
      const root = BigInt(i % 3);
      const second = root === 2n ? BigInt(`0x${randomBytes(1 + (i % 20)).toString('hex')}`) : BigInt(i % 40);
      const rest = Array.from({ length: i % 12 }, (_, j) => BigInt(`0x${randomBytes(1 + ((i + j) % 17)).toString('hex')}`));
      const text = [root, second, ...rest].join('.');
      const der = encodeOid(text);
      expect(decodeOid(der).text).toBe(text);
      expect(encodeOid(decodeOid(der)).equals(der)).toBe(true);
    }
  });
});
