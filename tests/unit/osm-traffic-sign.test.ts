import { describe, expect, it } from 'vitest';
import { formatItsSignType } from '../../src/ids/its-sign.js';
import {
  MAX_TRAFFIC_SIGN_ELEMENTS,
  osmSignType,
  parseTrafficSign,
  TrafficSignSyntaxError,
  type OsmSign,
  type TrafficSignErrorCode,
} from '../../src/families/its/osm-traffic-sign.js';

/** Each sign as `type` (+ ` =value` when the value is not in the type), plates after `,`. */
function show(signs: readonly OsmSign[]): string[] {
  const one = (e: Omit<OsmSign, 'plates'>): string => `${formatItsSignType(osmSignType(e))}${e.value !== undefined && e.typeValue === undefined ? ` =${e.value}` : ''}`;
  return signs.map((s) => [one(s), ...s.plates.map(one)].join(', '));
}

describe('parseTrafficSign', () => {
  it("reads the issue's example: a limit with a plate, then a height limit whose value stays off the identifier", () => {
    const signs = parseTrafficSign('DE:274[60],1020-30;265[3.8]');
    expect(signs).toEqual([
      {
        country: 'DE',
        code: '274',
        value: 60,
        typeValue: 60,
        text: 'DE:274[60]',
        plates: [{ country: 'DE', code: '1020-30', text: '1020-30' }],
      },
      { country: 'DE', code: '265', value: 3.8, text: '265[3.8]', plates: [] },
    ]);
    expect(formatItsSignType(osmSignType(signs[0]!))).toBe('nat.DE-274[60]');
    expect(formatItsSignType(osmSignType(signs[0]!.plates[0]!))).toBe('nat.DE-1020-30');
    expect(formatItsSignType(osmSignType(signs[1]!))).toBe('nat.DE-265');
  });

  it.each<[string, string | undefined, string[]]>([
    // one sign
    ['DE:206', undefined, ['nat.DE-206']],
    ['de:206', undefined, ['nat.DE-206']],
    ['206', 'DE', ['nat.DE-206']],
    ['206', 'de', ['nat.DE-206']],
    // several signs on one post
    ['DE:206;205', undefined, ['nat.DE-206', 'nat.DE-205']],
    ['DE:274[60];274[80];265', undefined, ['nat.DE-274[60]', 'nat.DE-274[80]', 'nat.DE-265']],
    [' DE:206 ; 205 ', undefined, ['nat.DE-206', 'nat.DE-205']],
    // plates
    ['DE:274[30],1020-30,1026-30', undefined, ['nat.DE-274[30], nat.DE-1020-30, nat.DE-1026-30']],
    ['DE:250,1020-30;274[30],1026-35', undefined, ['nat.DE-250, nat.DE-1020-30', 'nat.DE-274[30], nat.DE-1026-35']],
    ['DE:250 , 1020-30', undefined, ['nat.DE-250, nat.DE-1020-30']],
    // values
    ['DE:274[ 60 ]', undefined, ['nat.DE-274[60]']],
    ['DE:274[060]', undefined, ['nat.DE-274[60]']],
    ['DE:262[7.5]', undefined, ['nat.DE-262 =7.5']],
    ['DE:262[3.0]', undefined, ['nat.DE-262[3]']],
    ['DE:274[0]', undefined, ['nat.DE-274[0]']],
    ['DE:274[65535]', undefined, ['nat.DE-274[65535]']],
    ['DE:274[65534.5]', undefined, ['nat.DE-274 =65534.5']],
    // country prefixes: the default, a prefix carried forward, a prefix per sign, a neighbour's code
    ['274[50]', 'NL', ['nat.NL-274[50]']],
    ['DE:274[50];265', 'NL', ['nat.DE-274[50]', 'nat.DE-265']],
    ['NL:C2;DE:206;205', undefined, ['nat.NL-C2', 'nat.DE-206', 'nat.DE-205']],
    ['DE:274[30],NL:OB01', undefined, ['nat.DE-274[30], nat.NL-OB01']],
    ['US:R1-1,R1-3P', undefined, ['nat.US-R1-1, nat.US-R1-3P']],
    ['us:r2-1[55]', undefined, ['nat.US-R2-1[55]']],
    ['DE:274.1[30]', undefined, ['nat.DE-274.1[30]']],
  ])('%j (default %s) reads as %j', (text, country, expected) => {
    expect(show(parseTrafficSign(text, country))).toEqual(expected);
  });

  it('keeps the text of each element and does not check the catalogues', () => {
    const [sign] = parseTrafficSign('FR:B14[50]');
    expect(sign).toMatchObject({ country: 'FR', code: 'B14', value: 50, typeValue: 50, text: 'FR:B14[50]' });
    expect(show(parseTrafficSign('DE:9999'))).toEqual(['nat.DE-9999']);
  });

  it.each<[string, string | undefined, TrafficSignErrorCode]>([
    ['', 'DE', 'empty'],
    ['   ', 'DE', 'empty'],
    [`DE:${'1;'.repeat(200)}1`, undefined, 'too-long'],
    [Array(MAX_TRAFFIC_SIGN_ELEMENTS + 1).fill('206').join(';'), 'DE', 'too-many'],
    ['DE:206;;205', undefined, 'empty-element'],
    ['DE:206;', undefined, 'empty-element'],
    [';DE:206', undefined, 'empty-element'],
    [',1020-30', 'DE', 'empty-element'],
    ['DE:274,', undefined, 'empty-element'],
    ['DE:274,,1020-30', undefined, 'empty-element'],
    ['XX:206', undefined, 'country'],
    ['DEU:206', undefined, 'country'],
    ['D:206', undefined, 'country'],
    ['DE-BY:206', undefined, 'country'],
    [':206', 'DE', 'country'],
    ['206', undefined, 'no-country'],
    ['206;DE:205', undefined, 'no-country'],
    ['city_limit', 'DE', 'code'],
    ['DE:2 74', undefined, 'code'],
    ['DE:274--1', undefined, 'code'],
    ['DE:[60]', undefined, 'code'],
    ['DE:AT:274', undefined, 'code'],
    ['DE:12345678901234567', undefined, 'code'],
    ['DE:274_1', undefined, 'code'],
    ['DE:274[60', undefined, 'bracket'],
    ['DE:27460]', undefined, 'bracket'],
    ['DE:274[[60]]', undefined, 'bracket'],
    ['DE:274[60]x', undefined, 'bracket'],
    ['DE:274[60][80]', undefined, 'bracket'],
    ['DE:274[]', undefined, 'value'],
    ['DE:274[-5]', undefined, 'value'],
    ['DE:274[3,8]', undefined, 'value'],
    ['DE:265[3.8 m]', undefined, 'value'],
    ['DE:274[60 mph]', undefined, 'value'],
    ['DE:1040-30[6-19]', undefined, 'value'],
    ['DE:274[65536]', undefined, 'value'],
    ['DE:274[1e3]', undefined, 'value'],
    ['DE:274[.5]', undefined, 'value'],
  ])('refuses %j (default %s) with %s', (text, country, code) => {
    let error: unknown;
    try {
      parseTrafficSign(text, country);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrafficSignSyntaxError);
    expect((error as TrafficSignSyntaxError).code).toBe(code);
    expect((error as TrafficSignSyntaxError).offset).toBeGreaterThanOrEqual(0);
    expect((error as TrafficSignSyntaxError).offset).toBeLessThanOrEqual(text.length);
  });

  it('points at the faulty element', () => {
    expect(() => parseTrafficSign('DE:206;XX:1')).toThrow(expect.objectContaining({ code: 'country', offset: 7 }));
    expect(() => parseTrafficSign('DE:206; 205;city_limit')).toThrow(expect.objectContaining({ code: 'code', offset: 12 }));
  });

  it('allows commas and semicolons inside a bracketed value only to be refused as a value, not split', () => {
    expect(() => parseTrafficSign('DE:274[6;0]')).toThrow(expect.objectContaining({ code: 'value' }));
  });
});
