import { describe, expect, it } from 'vitest';
import { decodeMessage, MessageWriter, type ResourceRecord } from '../../src/dns/wire.js';
import { T } from './helpers.js';

/** The DNS codec against byte strings written out by hand; errors matched by code. */

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const HEADER_Q1 = '1234 0100 0001 0000 0000 0000';
const NAME_A_EXAMPLE = '01 61 07 6578616d706c65 00'; // a.example.
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('decodeMessage', () => {
  it('reads a hand-written query with an OPT record', () => {
    const m = decodeMessage(hex(`1234 0110 0001 0000 0000 0001 ${NAME_A_EXAMPLE} 0023 0001  00 0029 1000 00 00 8000 0000`));
    expect(m.header).toEqual({ id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: true, rcode: 0 });
    expect(m.questions).toEqual([{ name: ['a', 'example'], type: T.NAPTR, class: 1 }]);
    expect(m.edns).toEqual({ udpSize: 4096, extendedRcode: 0, version: 0, dnssecOk: true });
    expect(m.additional).toEqual([]);
  });

  it('follows a backward compression pointer', () => {
    // Answer owner = pointer to offset 12; NAPTR 100 10 "U" "S" "!x!" .
    const m = decodeMessage(
      hex(`1234 8400 0001 0001 0000 0000 ${NAME_A_EXAMPLE} 0023 0001  c00c 0023 0001 00000e10 000d 0064 000a 01 55 01 53 03 217821 00`),
    );
    expect(m.answers).toEqual([
      { name: ['a', 'example'], type: T.NAPTR, class: 1, ttl: 3600, data: { kind: 'NAPTR', order: 100, preference: 10, flags: 'U', service: 'S', regexp: '!x!', replacement: [] } },
    ]);
  });

  it.each([
    ['shorter than a header', '1234 0100 0001 0000 0000'],
    ['header only, one question claimed', HEADER_Q1],
    ['pointer loop', `${HEADER_Q1} 01 61 c00c 0023 0001`],
    ['pointer to itself', `${HEADER_Q1} c00c 0023 0001`],
    ['forward pointer', `${HEADER_Q1} c012 0023 0001 01 61 00`],
    ['label length 64', `${HEADER_Q1} 40 ${'61'.repeat(64)} 00 0023 0001`],
    ['label type 0x80', `${HEADER_Q1} 80 00 0023 0001`],
    ['name over 255 octets', `${HEADER_Q1} ${`3f ${'61'.repeat(63)}`.repeat(4)} 00 0023 0001`],
    ['trailing octets', `${HEADER_Q1} ${NAME_A_EXAMPLE} 0023 0001 00`],
    ['question cut short', `${HEADER_Q1} ${NAME_A_EXAMPLE} 0023 00`],
    ['two OPT records', `1234 0100 0001 0000 0000 0002 ${NAME_A_EXAMPLE} 0023 0001 00 0029 04d0 00000000 0000 00 0029 04d0 00000000 0000`],
    ['OPT owner not the root', `1234 0100 0001 0000 0000 0001 ${NAME_A_EXAMPLE} 0023 0001 c00c 0029 04d0 00000000 0000`],
    ['A record of 3 octets', `1234 8400 0001 0001 0000 0000 ${NAME_A_EXAMPLE} 0001 0001 c00c 0001 0001 00000e10 0003 7f0000`],
    ['RDATA longer than its NAPTR', `1234 8400 0001 0001 0000 0000 ${NAME_A_EXAMPLE} 0023 0001 c00c 0023 0001 00000e10 000e 0064 000a 01 55 01 53 03 217821 00 ff`],
    ['RDLENGTH past the end', `1234 8400 0001 0001 0000 0000 ${NAME_A_EXAMPLE} 0001 0001 c00c 0001 0001 00000e10 0004 7f00`],
  ])('rejects %s with ERR_DNS_MESSAGE_INVALID', (_what, bytes) => {
    expect(code(() => decodeMessage(hex(bytes)))).toBe('ERR_DNS_MESSAGE_INVALID');
  });

  it('rejects a well-formed message longer than 65,535 octets, and reads the same records below the limit', () => {
    const message = (answers: number): Buffer => {
      const header = hex(`1234 8400 0001 ${answers.toString(16).padStart(4, '0')} 0000 0000 ${NAME_A_EXAMPLE} 0001 0001`);
      const a = hex('c00c 0001 0001 00000e10 0004 7f000001');
      return Buffer.concat([header, ...Array<Buffer>(answers).fill(a)]);
    };
    expect(decodeMessage(message(4000)).answers).toHaveLength(4000);
    expect(message(4100).length).toBeGreaterThan(65_535);
    expect(code(() => decodeMessage(message(4100)))).toBe('ERR_DNS_MESSAGE_INVALID');
  });
});

describe('MessageWriter', () => {
  const rr = (type: number, data: ResourceRecord['data'], name = ['a', 'example']): ResourceRecord => ({ name, type, class: 1, ttl: 60, data });

  it('compresses owner names but never DNAME targets or NAPTR replacements (octets checked)', () => {
    const w = new MessageWriter();
    w.header({ id: 0xabcd, qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 3 });
    w.question({ name: ['a', 'example'], type: T.DNAME, class: 1 });
    w.record(1, rr(T.DNAME, { kind: 'DNAME', target: ['a', 'example'] }));
    w.record(1, rr(T.NAPTR, { kind: 'NAPTR', order: 1, preference: 2, flags: '', service: 'S', regexp: '', replacement: ['example'] }));
    const out = w.finish();
    expect(out.toString('hex')).toBe(
      hex(
        `abcd 8403 0001 0002 0000 0000 ${NAME_A_EXAMPLE} 0027 0001` +
          ` c00c 0027 0001 0000003c 000b ${NAME_A_EXAMPLE}` +
          ` c00c 0023 0001 0000003c 0011 0001 0002 00 01 53 00 07 6578616d706c65 00`,
      ).toString('hex'),
    );
    expect(decodeMessage(out).answers.map((r) => r.data)).toEqual([
      { kind: 'DNAME', target: ['a', 'example'] },
      { kind: 'NAPTR', order: 1, preference: 2, flags: '', service: 'S', regexp: '', replacement: ['example'] },
    ]);
  });

  it('refuses labels over 63 octets, names over 255 and character strings over 255, by code', () => {
    const w = new MessageWriter();
    expect(code(() => w.question({ name: ['a'.repeat(64)], type: 1, class: 1 }))).toBe('ERR_DNS_MESSAGE_INVALID');
    expect(code(() => w.question({ name: Array(5).fill('a'.repeat(63)), type: 1, class: 1 }))).toBe('ERR_DNS_MESSAGE_INVALID');
    expect(
      code(() => new MessageWriter().record(1, rr(T.NAPTR, { kind: 'NAPTR', order: 1, preference: 1, flags: '', service: '', regexp: 'x'.repeat(256), replacement: [] }))),
    ).toBe('ERR_DNS_MESSAGE_INVALID');
  });
});
