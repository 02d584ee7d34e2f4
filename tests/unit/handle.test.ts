import { describe, expect, it } from 'vitest';
import { isHandle, isHomed, parseHandle } from '../../src/ids/handle.js';
import { parseItsSerial } from '../../src/ids/its-sign.js';
import { parseIdentifier } from '../../src/ids/scheme.js';

describe('parseHandle', () => {
  it.each([
    ['20.5000/abc', '20.5000', 'abc'],
    ['20.5000/a/b/c', '20.5000', 'a/b/c'],
    ['0.NA/20.5000', '0.NA', '20.5000'],
    ['20.5000/ünïcödé 空白', '20.5000', 'ünïcödé 空白'],
  ])('accepts %s', (text, prefix, suffix) => {
    const h = parseHandle(text);
    expect(h).toMatchObject({ text, prefix, suffix });
  });

  it('folds ASCII case only for the lookup key', () => {
    expect(parseHandle('20.5000/AbC').key).toBe('20.5000/ABC');
    expect(parseHandle('20.5000/ß').key).toBe('20.5000/ß');
  });

  it.each([
    ['', 'empty'],
    ['20.5000', 'no slash'],
    ['/abc', 'empty prefix'],
    ['20.5000/', 'empty suffix'],
    ['20.5000/a\u0000b', 'NUL'],
    ['20.5000/a\nb', 'newline'],
    ['20.5000/a\u0085b', 'C1 control'],
    ['20 5000/abc', 'space in prefix'],
    [`20.5000/${'x'.repeat(1100)}`, 'overlong'],
    ['20.5000/\ud800', 'lone surrogate'],
  ])('rejects %j (%s) with ERR_HANDLE_INVALID', (text) => {
    expect(() => parseHandle(text)).toThrow(expect.objectContaining({ code: 'ERR_HANDLE_INVALID' }));
    expect(isHandle(text)).toBe(false);
  });

  it('knows which prefixes are served here', () => {
    expect(isHomed(parseHandle('20.5000/x'), '20.5000')).toBe(true);
    expect(isHomed(parseHandle('20.5000.7/x'), '20.5000')).toBe(true);
    expect(isHomed(parseHandle('0.NA/20.5000'), '20.5000')).toBe(true);
    expect(isHomed(parseHandle('20.50001/x'), '20.5000')).toBe(false);
    expect(isHomed(parseHandle('10.1000/x'), '20.5000')).toBe(false);
  });
});

describe('parseIdentifier', () => {
  it('takes hdl: URNs, bare handles, urn:oid: and OID-IRIs', () => {
    expect(parseIdentifier('hdl:20.5000/abc')).toMatchObject({ family: 'handle', handle: { text: '20.5000/abc' } });
    expect(parseIdentifier('20.5000/abc')).toMatchObject({ family: 'handle', handle: { text: '20.5000/abc' } });
    expect(parseIdentifier('urn:oid:2.999.1')).toMatchObject({ family: 'oid', oid: { text: '2.999.1' } });
    expect(parseIdentifier('oid:/Example/1')).toMatchObject({ family: 'oid', oid: { text: '2.999.1' } });
  });

  it('takes its: road-sign identifiers as a third family, in any letter case, with the type part', () => {
    expect(parseIdentifier('its:sign:DE.417:3K7QJ2~R')).toEqual({ family: 'its', its: { kind: 'sign', country: 'DE', authority: 417, serial: parseItsSerial('3K7QJ2') } });
    expect(parseIdentifier('ITS:SIGN:de.417:nat.de-274[60]:3k7qj2~r')).toEqual({
      family: 'its',
      its: { kind: 'sign', country: 'DE', authority: 417, serial: parseItsSerial('3K7QJ2'), type: { scheme: 'nat', country: 'DE', code: '274', value: 60 } },
    });
  });

  it.each([
    ['its:sign:DE.417:3K7QJ2~S', 'ERR_ITS_CHECK_MISMATCH'],
    ['its:pole:DE.417:3K7QJ2~R', 'ERR_ITS_ID_INVALID'],
    ['its:', 'ERR_ITS_ID_INVALID'],
  ])('answers a malformed its: identifier %s with the ITS error %s', (id, code) => {
    expect(() => parseIdentifier(id)).toThrow(expect.objectContaining({ code }));
  });

  it.each(['imei:260531793113837', 'mailto:x'])('answers %s as not supported yet', (id) => {
    expect(() => parseIdentifier(id)).toThrow(expect.objectContaining({ code: 'ERR_IDENTIFIER_UNSUPPORTED' }));
  });

  it('rejects an empty identifier', () => {
    expect(() => parseIdentifier('')).toThrow(expect.objectContaining({ code: 'ERR_IDENTIFIER_INVALID' }));
  });
});
