import { describe, expect, it } from 'vitest';
import { dnsLabelOf, labelKey } from '../../src/ids/oid-label.js';

describe('labelKey', () => {
  it.each([
    ['Example', 'example'],
    ['EXAMPLE', 'example'],
    ['sensor-Array.v2_x~', 'sensor-array.v2_x~'],
    ['Пример', 'xn--e1afmkfd'],
    ['пример', 'xn--e1afmkfd'],
    ['例', 'xn--fsq'],
    ['Ångström', 'xn--ngstrm-hua5l'],
    ['ÅNGSTRÖM', 'xn--ngstrm-hua5l'],
    // Decomposed (A + combining ring) and composed forms are one label.
    ['A\u030angstro\u0308m', 'xn--ngstrm-hua5l'],
    ['Straße', 'xn--strae-oqa'],
  ])('%s -> %s', (label, key) => {
    expect(labelKey(label)).toBe(key);
  });

  it('keeps labels IDNA refuses, NFC-normalised and lower-cased', () => {
    // U+E1000 is allowed by X.660 7.5 but not by IDNA.
    expect(labelKey('\u{E1000}X')).toBe('\u{E1000}x');
    expect(labelKey('\u{E1000}A\u030a')).toBe(labelKey('\u{E1000}\u00e5'));
  });

  it('tells different labels apart', () => {
    expect(labelKey('Straße')).not.toBe(labelKey('STRASSE'));
    expect(labelKey('sensor1')).not.toBe(labelKey('sensor2'));
  });
});

describe('dnsLabelOf', () => {
  it.each([
    ['example', 'example'],
    ['Example', 'example'],
    ['member-body', 'member-body'],
    ['a1', 'a1'],
    ['Пример', 'xn--e1afmkfd'],
    ['Ångström', 'xn--ngstrm-hua5l'],
    ['x'.repeat(63), 'x'.repeat(63)],
  ])('%s -> %s', (label, dns) => {
    expect(dnsLabelOf(label)).toBe(dns);
  });

  it.each([
    ['ASN.1', 'a full stop'],
    ['a_b', 'a low line'],
    ['a~b', 'a tilde'],
    ['x'.repeat(64), 'more than 63 octets'],
    [`${'ü'.repeat(60)}`, 'an A-label of more than 63 octets'],
    ['-ab', 'a leading hyphen'],
    ['ab-', 'a trailing hyphen'],
    ['ab--cd', 'hyphens in positions 3 and 4'],
    ['xn--abc', 'an ASCII label posing as an A-label'],
    ['a_ü', 'an A-label with a low line'],
    ['ü-', 'an A-label of a label ending in a hyphen'],
    ['ab--ü', 'a U-label with hyphens in positions 3 and 4'],
    ['a。b', 'an ideographic full stop, which IDNA maps to "."'],
    ['\u{E1000}x', 'a character IDNA refuses'],
    ['', 'nothing'],
  ])('%s has none (%s)', (label) => {
    expect(dnsLabelOf(label)).toBeUndefined();
  });
});
