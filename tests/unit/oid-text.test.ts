import { describe, expect, it } from 'vitest';
import { parseOid } from '../../src/ids/oid.js';
import { formatOidValueNotation, parseOidValueNotation } from '../../src/ids/oid-asn1.js';
import { checkUnicodeLabel, formatOidIri, parseOidIri } from '../../src/ids/oid-iri.js';

describe('OID-IRI', () => {
  it.each([
    ['/Joint-ISO-ITU-T/Example/1', '2.999.1'],
    ['/Example/1', '2.999.1'],
    ['/Beispiel', '2.999'],
    ['/2/999/3', '2.999.3'],
    ['/ISO/Member-Body/840/113549', '1.2.840.113549'],
    ['/ITU-T/Recommendation/X', '0.0.24'],
    ['oid:/UUID/f81d4fae-7dec-11d0-a765-00a0c91e6bf6', '2.25.329800735698586629295641978511506172918'],
    ['/UUID/0', '2.25.0'],
    ['/Joint-ISO-ITU-T/Country/276', '2.16.276'],
    ['/%E4%BE%8B/7', '2.999.7'],
  ])('%s is %s', (iri, dotted) => {
    expect(parseOidIri(iri).text).toBe(dotted);
  });

  it.each([
    ['', 'empty'],
    ['Example', 'no leading slash'],
    ['/', 'no arc'],
    ['/Example/', 'empty label'],
    ['/-Example', 'leading hyphen'],
    ['/Example-', 'trailing hyphen'],
    ['/ISO/Me--mber', 'hyphens in positions 3 and 4'],
    ['/ISO/a b', 'space'],
    ['/ISO/a%2Fb', 'slash inside a label'],
    ['/ISO/01', 'leading zero'],
    ['/example', 'labels match exactly'],
    ['/Unknown/1', 'unknown long arc'],
    ['/0/40', 'X.660 second-arc rule'],
    ['/ISO/%E0%A4', 'bad percent-encoding'],
  ])('rejects %j (%s)', (iri) => {
    expect(() => parseOidIri(iri)).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });

  it('checks the X.660 7.5 label characters', () => {
    expect(() => checkUnicodeLabel('Ex.am_ple~1')).not.toThrow();
    expect(() => checkUnicodeLabel('例え')).not.toThrow();
    expect(() => checkUnicodeLabel('a\u0000b')).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
    expect(() => checkUnicodeLabel('a\ufffeb')).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
    expect(() => checkUnicodeLabel('a!b')).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });

  it.each([
    ['2.999.1', '/Example/1'],
    ['1.2.840', '/ISO/Member-Body/840'],
    ['2.25.5', '/UUID/5'],
    ['0.0.24', '/ITU-T/Recommendation/X'],
    ['2.17.3', '/Joint-ISO-ITU-T/Registration-Procedures/3'],
  ])('formats %s as %s, which parses back', (dotted, iri) => {
    expect(formatOidIri(parseOid(dotted))).toBe(iri);
    expect(parseOidIri(iri).text).toBe(dotted);
  });
});

describe('ASN.1 value notation', () => {
  it.each([
    ['{joint-iso-itu-t(2) example(999) 1}', '2.999.1'],
    ['{ iso member-body 840 113549 }', '1.2.840.113549'],
    ['{iso(1) identified-organization(3) dod(6) internet(1)}', '1.3.6.1'],
    ['{ itu-t recommendation x 660 }', '0.0.24.660'],
    ['{1 3 6}', '1.3.6'],
    ['{ iso ( 1 ) standard ( 0 ) }', '1.0'],
  ])('%s is %s', (text, dotted) => {
    expect(parseOidValueNotation(text).text).toBe(dotted);
  });

  it.each([
    ['1.2.3', 'no braces'],
    ['{}', 'no arcs'],
    ['{iso(2)}', 'name disagrees with number'],
    ['{joint-iso-itu-t example}', 'example is not a standardized NameForm'],
    ['{iso dod}', 'unknown name without number'],
    ['{Iso(1) 2}', 'identifier starts upper-case'],
    ['{iso-(1) 2}', 'identifier ends with a hyphen'],
    ['{1 02}', 'leading zero'],
    ['{3 1}', 'root 3'],
    ['{iso(1) 2 x(}', 'unbalanced'],
  ])('rejects %j (%s)', (text) => {
    expect(() => parseOidValueNotation(text)).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });

  it('formats with standard identifiers and parses back', () => {
    const text = formatOidValueNotation(parseOid('1.2.840.113549'));
    expect(text).toBe('{ iso(1) member-body(2) 840 113549 }');
    expect(parseOidValueNotation(text).text).toBe('1.2.840.113549');
    expect(formatOidValueNotation(parseOid('2.999.1'))).toBe('{ joint-iso-itu-t(2) example(999) 1 }');
  });
});

describe('urn:oid', () => {
  it.each(['urn:oid:1.2.3', 'URN:OID:1.2.3', 'urn:OID:1.2.3', 'Urn:Oid:1.2.3'])('reads %s (RFC 8141: scheme and NID ignore case)', (text) => {
    expect(parseOid(text).text).toBe('1.2.3');
  });

  it('still refuses a malformed body after the prefix', () => {
    expect(() => parseOid('URN:OID:1.02.3')).toThrow(expect.objectContaining({ code: 'ERR_OID_INVALID' }));
  });
});

describe('arc size before BigInt', () => {
  const huge = '9'.repeat(3000);
  it.each([
    ['dotted', () => parseOid(`2.${huge}`)],
    ['OID-IRI', () => parseOidIri(`/2/${huge}`)],
    ['value notation', () => parseOidValueNotation(`{ 2 ${huge} }`)],
  ])('%s refuses an arc past the DER limit with ERR_OID_LIMIT', (_form, parse) => {
    expect(parse).toThrow(expect.objectContaining({ code: 'ERR_OID_LIMIT' }));
  });
});
