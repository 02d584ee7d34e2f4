import { describe, expect, it } from 'vitest';
import { decodeItsSignIdDer, encodeItsSignIdDer } from '../../src/asn1/its-sign-der.js';
import { CairnError, type ErrorCode } from '../../src/errors.js';
import { parseItsSignId, type ItsSignId } from '../../src/ids/its-sign.js';

/**
 * DER form of the ITS sign identifier. Expected bytes are assembled here by hand from the ASN.1
 * module in src/asn1/its-sign-der.ts (short-form lengths only: every value here is under 128
 * octets), not produced by asn1js. Errors are matched by `code`.
 */

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** One TLV with a short-form length. */
function tlv(tag: number, content: Buffer): Buffer {
  if (content.length > 127) throw new Error('short form only');
  return Buffer.concat([Buffer.from([tag, content.length]), content]);
}

const ascii = (s: string): Buffer => Buffer.from(s, 'ascii');

function codeOf(f: () => unknown): ErrorCode | 'no error' {
  try {
    f();
    return 'no error';
  } catch (e) {
    if (!(e instanceof CairnError)) throw e;
    return e.code;
  }
}

// SEQUENCE { ENUMERATED 0, SEQUENCE { "DE", 417 }, 0x0733DE42, [0] { [3] "DE-274", 60 } }
const EXAMPLE_DER = hex(`
  30 20
     0a 01 00
     30 08  13 02 44 45  02 02 01 a1
     02 04 07 33 de 42
     a0 0b  83 06 44 45 2d 32 37 34  02 01 3c`);

const ISSUER_DE_417 = tlv(0x30, Buffer.concat([tlv(0x13, ascii('DE')), hex('02 02 01 a1')]));
const SERIAL = hex('02 04 07 33 de 42');

function signId(kind: number, type?: Buffer, serial = SERIAL, issuer = ISSUER_DE_417): Buffer {
  return tlv(0x30, Buffer.concat([hex(`0a 01 0${kind}`), issuer, serial, ...(type ? [type] : [])]));
}

describe('ITS sign ID in DER', () => {
  it('encodes the issue 5 example to the bytes of the ASN.1 module', () => {
    const id = parseItsSignId('its:sign:DE.417:nat.DE-274[60]:3K7QJ2~R');
    expect(encodeItsSignIdDer(id).toString('hex')).toBe(EXAMPLE_DER.toString('hex'));
    expect(decodeItsSignIdDer(EXAMPLE_DER)).toEqual(id);
  });

  const base = parseItsSignId('its:sign:DE.417:3K7QJ2~R');
  it.each<[string, ItsSignId, Buffer]>([
    ['no type', base, signId(0)],
    ['kind isct', { ...base, kind: 'isct' }, signId(4)],
    ['vc.B2A[5]', { ...base, type: { scheme: 'vc', signClass: 'B', number: 2, option: 'A', value: 5 } },
      signId(0, tlv(0xa0, Buffer.concat([tlv(0xa0, hex('02 01 01  02 01 02  02 01 01')), hex('02 01 05')])))],
    ['vc.H64', { ...base, type: { scheme: 'vc', signClass: 'H', number: 64 } },
      signId(0, tlv(0xa0, tlv(0xa0, hex('02 01 07  02 01 40'))))],
    ['gdd.12-5-57', { ...base, type: { scheme: 'gdd', category: 12, nature: 5, serial: 57 } },
      signId(0, tlv(0xa0, tlv(0xa1, hex('02 01 0c  02 01 05  02 01 39'))))],
    ['itis.65535', { ...base, type: { scheme: 'itis', code: 65535 } }, signId(0, tlv(0xa0, hex('82 03 00 ff ff')))],
    ['itis.128', { ...base, type: { scheme: 'itis', code: 128 } }, signId(0, tlv(0xa0, hex('82 02 00 80')))],
    ['any.X1[0]', { ...base, type: { scheme: 'any', code: 'X1', value: 0 } }, signId(0, tlv(0xa0, hex('84 02 58 31  02 01 00')))],
    ['serial 0, authority 0', { ...base, serial: 0, authority: 0 },
      signId(0, undefined, hex('02 01 00'), tlv(0x30, Buffer.concat([tlv(0x13, ascii('DE')), hex('02 01 00')])))],
    ['serial 2^48-1', { ...base, serial: 2 ** 48 - 1 }, signId(0, undefined, hex('02 07 00 ff ff ff ff ff ff'))],
  ])('%s', (_name, id, der) => {
    expect(encodeItsSignIdDer(id).toString('hex')).toBe(der.toString('hex'));
    expect(decodeItsSignIdDer(der)).toEqual(id);
  });

  it.each<[string, Buffer, ErrorCode]>([
    ['empty', Buffer.alloc(0), 'ERR_DER_INVALID'],
    ['truncated', EXAMPLE_DER.subarray(0, EXAMPLE_DER.length - 1), 'ERR_DER_INVALID'],
    ['trailing octet', Buffer.concat([EXAMPLE_DER, hex('00')]), 'ERR_DER_INVALID'],
    ['long-form length under 128', Buffer.concat([hex('30 81 20'), EXAMPLE_DER.subarray(2)]), 'ERR_DER_INVALID'],
    ['indefinite length', Buffer.concat([hex('30 80'), EXAMPLE_DER.subarray(2), hex('00 00')]), 'ERR_DER_INVALID'],
    ['SET instead of SEQUENCE', Buffer.concat([hex('31'), EXAMPLE_DER.subarray(1)]), 'ERR_DER_INVALID'],
    ['kind as INTEGER', tlv(0x30, Buffer.concat([hex('02 01 00'), ISSUER_DE_417, SERIAL])), 'ERR_DER_INVALID'],
    ['serial padded with 00', signId(0, undefined, hex('02 05 00 07 33 de 42')), 'ERR_DER_INVALID'],
    ['serial of 8 octets', signId(0, undefined, hex('02 08 00 00 00 00 07 33 de 42')), 'ERR_DER_INVALID'],
    ['serial empty', signId(0, undefined, hex('02 00')), 'ERR_DER_INVALID'],
    ['country lower case', signId(0, undefined, SERIAL, tlv(0x30, Buffer.concat([tlv(0x13, ascii('de')), hex('02 02 01 a1')]))), 'ERR_ITS_ID_INVALID'],
    ['country as UTF8String', signId(0, undefined, SERIAL, tlv(0x30, Buffer.concat([tlv(0x0c, ascii('DE')), hex('02 02 01 a1')]))), 'ERR_DER_INVALID'],
    ['issuer with a third component', signId(0, undefined, SERIAL, tlv(0x30, Buffer.concat([tlv(0x13, ascii('DE')), hex('02 02 01 a1  02 01 00')]))), 'ERR_DER_INVALID'],
    ['five components', tlv(0x30, Buffer.concat([hex('0a 01 00'), ISSUER_DE_417, SERIAL, tlv(0xa0, hex('82 01 01')), hex('05 00')])), 'ERR_DER_INVALID'],
    ['type as primitive [0]', signId(0, hex('80 01 00')), 'ERR_DER_INVALID'],
    ['unknown scheme tag [5]', signId(0, tlv(0xa0, hex('85 01 00'))), 'ERR_DER_INVALID'],
    ['itis as constructed [2]', signId(0, tlv(0xa0, tlv(0xa2, hex('02 01 01')))), 'ERR_DER_INVALID'],
    ['vc option 0 written out', signId(0, tlv(0xa0, tlv(0xa0, hex('02 01 01  02 01 02  02 01 00')))), 'ERR_ITS_ID_INVALID'],
    ['kind 5', signId(5), 'ERR_ITS_ID_INVALID'],
    ['unassigned country', signId(0, undefined, SERIAL, tlv(0x30, Buffer.concat([tlv(0x13, ascii('XK')), hex('02 02 01 a1')]))), 'ERR_ITS_ID_INVALID'],
    ['authority 16384', signId(0, undefined, SERIAL, tlv(0x30, Buffer.concat([tlv(0x13, ascii('DE')), hex('02 02 40 00')]))), 'ERR_ITS_ID_INVALID'],
    ['serial 2^48', signId(0, undefined, hex('02 07 01 00 00 00 00 00 00')), 'ERR_ITS_ID_INVALID'],
    ['serial negative', signId(0, undefined, hex('02 01 ff')), 'ERR_ITS_ID_INVALID'],
    ['gdd category 14', signId(0, tlv(0xa0, tlv(0xa1, hex('02 01 0e  02 01 05  02 01 39')))), 'ERR_ITS_ID_INVALID'],
    ['nat without hyphen', signId(0, tlv(0xa0, tlv(0x83, ascii('DE274')))), 'ERR_ITS_ID_INVALID'],
    ['value 65536', signId(0, tlv(0xa0, hex('82 01 01  02 03 01 00 00'))), 'ERR_ITS_ID_INVALID'],
    ['too large', Buffer.alloc(300, 0x30), 'ERR_DER_INVALID'],
  ])('refuses %s', (_name, der, code) => {
    expect(codeOf(() => decodeItsSignIdDer(der))).toBe(code);
  });
});
