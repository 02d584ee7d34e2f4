import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeAdmin, decodeValueList, encodeAdmin, encodeValueList } from '../../src/records/admin.js';
import { decodeValue, encodeValue } from '../../src/records/encoding.js';
import type { HandleValue } from '../../src/records/value.js';

const sample: HandleValue = {
  index: 7,
  type: 'URL',
  data: Buffer.from('https://example.org/'),
  ttlType: 'relative',
  ttl: 86400,
  timestamp: 1700000000,
  permissions: 0b1110,
  references: [{ handle: '20.5000/ref', index: 3 }],
};

describe('RFC 3651 value encoding', () => {
  it('lays out the fields big-endian in the RFC order', () => {
    const bytes = encodeValue(sample);
    expect(bytes.readUInt32BE(0)).toBe(7);
    expect(bytes.readUInt32BE(4)).toBe(1700000000);
    expect(bytes[8]).toBe(0);
    expect(bytes.readUInt32BE(9)).toBe(86400);
    expect(bytes[13]).toBe(0x0e);
    expect(bytes.readUInt32BE(14)).toBe(3);
    expect(bytes.subarray(18, 21).toString()).toBe('URL');
  });

  it('round-trips exactly, random values included', () => {
    expect(decodeValue(encodeValue(sample))).toEqual({ ...sample, data: new Uint8Array(sample.data) });
    for (let i = 0; i < 200; i++) {
      const v: HandleValue = {
        index: 1 + (randomBytes(4).readUInt32BE(0) % 0x7ffffffe),
        type: `T${i}`,
        data: randomBytes(i),
        ttlType: i % 2 ? 'absolute' : 'relative',
        ttl: randomBytes(4).readUInt32BE(0) >>> 1,
        timestamp: randomBytes(4).readUInt32BE(0),
        permissions: i % 16,
        references: Array.from({ length: i % 3 }, (_, j) => ({ handle: `20.5000/r${j}`, index: j })),
      };
      const bytes = encodeValue(v);
      expect(encodeValue(decodeValue(bytes)).equals(bytes)).toBe(true);
    }
  });

  it('keeps a leading U+FEFF in the type and in reference handles', () => {
    const v: HandleValue = { ...sample, type: '\uFEFFURL', references: [{ handle: '\uFEFF20.5000/ref', index: 1 }] };
    const decoded = decodeValue(encodeValue(v));
    expect(decoded.type).toBe('\uFEFFURL');
    expect(decoded.references[0]?.handle).toBe('\uFEFF20.5000/ref');
  });

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 1)],
    ['trailing byte', (b: Buffer) => Buffer.concat([b, Buffer.of(0)])],
    ['unknown ttlType', (b: Buffer) => Buffer.concat([b.subarray(0, 8), Buffer.of(2), b.subarray(9)])],
    ['permission bits above 0x0F', (b: Buffer) => Buffer.concat([b.subarray(0, 13), Buffer.of(0x1e), b.subarray(14)])],
    ['type length past the end', (b: Buffer) => Buffer.concat([b.subarray(0, 14), Buffer.from([0x7f, 0xff, 0xff, 0xff]), b.subarray(18)])],
    ['invalid UTF-8 type', (b: Buffer) => Buffer.concat([b.subarray(0, 18), Buffer.from([0xff, 0xfe, 0xfd]), b.subarray(21)])],
  ])('rejects a %s encoding with ERR_VALUE_INVALID', (_name, damage) => {
    expect(() => decodeValue(damage(encodeValue(sample)))).toThrow(expect.objectContaining({ code: 'ERR_VALUE_INVALID' }));
  });
});

describe('HS_ADMIN and HS_VLIST data', () => {
  it('round-trips an admin reference', () => {
    const admin = { handle: '0.NA/20.5000', index: 300, permissions: 0x7f3 };
    const bytes = encodeAdmin(admin);
    expect(bytes.toString('hex')).toBe('07f3' + '0000000c' + Buffer.from('0.NA/20.5000').toString('hex') + '0000012c');
    expect(decodeAdmin(bytes)).toEqual(admin);
  });

  it('round-trips a value list and rejects a lying count', () => {
    const refs = [{ handle: '20.5000/a', index: 300 }, { handle: '20.5000/b', index: 301 }];
    const bytes = encodeValueList(refs);
    expect(decodeValueList(bytes)).toEqual(refs);
    const lying = Buffer.from(bytes);
    lying.writeUInt32BE(1000, 0);
    expect(() => decodeValueList(lying)).toThrow(expect.objectContaining({ code: 'ERR_VALUE_INVALID' }));
  });
});
