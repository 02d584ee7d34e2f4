import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalize } from '../../src/families/products/verify/jcs.js';

/*
 * Expected outputs come from RFC 8785 (sections 3.2.2, 3.2.3 and Appendix B) and from the
 * canonicalization test data published by the RFC's author (github.com/cyberphone/
 * json-canonicalization, testdata/input and testdata/output: values.json, french.json, weird.json).
 * Inputs are parsed from their JSON text, as a verifier receives them.
 */

function double(bits: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${bits}`));
  return view.getFloat64(0);
}

describe('RFC 8785 canonicalization', () => {
  it('section 3.2.2: the combined sample, down to its published UTF-8 bytes', () => {
    const input = JSON.parse(
      String.raw`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
    ) as unknown;
    expect(canonicalize(input)).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
    const hex = [
      '7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a 5b',
      '33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 5d 2c',
      '22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d',
    ].join(' ');
    expect(canonicalBytes(input).toString('hex').match(/../g)!.join(' ')).toBe(hex);
  });

  it('section 3.2.3: member names sort by UTF-16 code units', () => {
    const input = JSON.parse(
      String.raw`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`,
    ) as Record<string, string>;
    // Names read back from the text (JSON.parse would move the integer-like "1" first).
    const names = [...canonicalize(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
    expect(names.map((k) => k.codePointAt(0)!.toString(16))).toEqual(['d', '31', '80', 'f6', '20ac', '1f600', 'fb33']);
    expect(canonicalize(input).startsWith('{"\\r":"Carriage Return","1":"One"')).toBe(true);
  });

  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('Appendix B: IEEE 754 %s -> %s', (bits, text) => {
    expect(canonicalize(double(bits))).toBe(text);
    expect(canonicalize({ n: double(bits) })).toBe(`{"n":${text}}`);
  });

  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])('Appendix B: %s (NaN, Infinity) is an error', (bits) => {
    expect(() => canonicalize(double(bits))).toThrow(TypeError);
  });

  it('the author test data: values, french, weird', () => {
    const values = JSON.parse(
      String.raw`{"numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001], "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`,
    ) as unknown;
    expect(canonicalize(values)).toBe(
      String.raw`{"escaping":"€$\u000f\nA'B\"\\\\\"/","literals":[null,true,false],"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}`,
    );
    const french = { peach: 'This sorting order', 'péché': 'is wrong according to French', 'pêche': 'but canonicalization MUST', sin: 'ingnore locale' };
    expect(canonicalize(french)).toBe(
      '{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ingnore locale"}',
    );
    const weird = JSON.parse(
      String.raw`{"\u20ac": "Euro Sign", "1": "One", "\u0080": "Control\u007f", "\ud83d\ude02": "Smiley", "\u00f6": "Latin Small Letter O With Diaeresis", "\ufb33": "Hebrew Letter Dalet With Dagesh", "</script>": "Browser Challenge"}`,
    ) as unknown;
    expect(canonicalize(weird)).toBe(
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😂":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('escapes every control character, short forms where JSON has them', () => {
    const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('');
    const out = canonicalize(all);
    expect(out).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
    );
    expect(JSON.parse(out)).toBe(all);
  });

  it('the device challenge object, by hand', () => {
    const message = { v: 1, svc: '0.NA/20.5000', id: '20.5000.7/SN-1', nonce: 'AAEC_-', cid: 'c1' };
    expect(canonicalize(message)).toBe('{"cid":"c1","id":"20.5000.7/SN-1","nonce":"AAEC_-","svc":"0.NA/20.5000","v":1}');
  });

  it('nests, keeps array order, writes -0 as 0 and empty containers compactly', () => {
    expect(canonicalize({ b: [3, 1, { z: 1, a: -0 }], a: {}, c: [] })).toBe('{"a":{},"b":[3,1,{"a":0,"z":1}],"c":[]}');
  });

  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', 'a\udc00b'],
    ['undefined', undefined],
    ['a BigInt', 1n],
    ['a function', () => 1],
    ['a Date', new Date(0)],
    ['an undefined member', { a: undefined }],
    ['a lone surrogate in a name', { '\udfff': 1 }],
  ])('refuses %s', (_what, value) => {
    expect(() => canonicalize(value)).toThrow(TypeError);
  });

  it('agrees with JSON.parse on random objects (round trip)', () => {
    for (let i = 0; i < 200; i++) {
      const obj: Record<string, unknown> = {};
      for (let j = 0; j < 6; j++) obj[Math.random().toString(36).slice(2, 2 + (j % 4) + 1)] = j % 2 ? Math.random() * 10 ** ((j * 7) % 40 - 20) : `s${j}\n`;
      const text = canonicalize(obj);
      expect(JSON.parse(text)).toEqual(obj);
      expect(canonicalize(JSON.parse(text))).toBe(text);
    }
  });
});
