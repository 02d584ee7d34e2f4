import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeMessage, parseMessage, SegmentParser, type DoipSegment, type SegmentLimits } from '../../src/doip/segments.js';

const json = (text: string): DoipSegment => ({ kind: 'json', text });
const bytes = (data: Buffer | string): DoipSegment => ({ kind: 'bytes', data: Buffer.from(data) });
const B = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds `input` in pieces of `step` bytes; returns every message completed. */
function feed(input: Buffer, step: number, limits?: SegmentLimits): DoipSegment[][] {
  const parser = new SegmentParser(limits);
  const out: DoipSegment[][] = [];
  for (let i = 0; i < input.length; i += step) out.push(...parser.push(input.subarray(i, i + step)));
  parser.end();
  return out;
}

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('DOIP segment framing', () => {
  it('reads the specification shape: JSON lines, "#" separators, a message ended by two "#" lines', () => {
    const wire = B('{"targetId":"service",\n "operationId":"0.DOIP/Op.Hello"}\n#\n#\n');
    expect(parseMessage(wire)).toEqual([json('{"targetId":"service",\n "operationId":"0.DOIP/Op.Hello"}')]);
  });

  it('reads bytes segments: "@", then decimal-length chunks each followed by a line feed, then "#"', () => {
    const wire = B('{"id":"e1"}\n#\n@\n5\nhello\n6\n world\n#\n#\n');
    expect(parseMessage(wire)).toEqual([json('{"id":"e1"}'), bytes('hello world')]);
  });

  it('accepts CRLF line ends, a zero-length chunk and an empty bytes segment', () => {
    const wire = B('{"a":1}\r\n#\r\n@\r\n3\r\nabc\r\n0\r\n\r\n#\r\n@\n#\n#\r\n');
    expect(parseMessage(wire)).toEqual([json('{"a":1}'), bytes('abc'), bytes('')]);
  });

  it('gives an empty message for a lone "#" (the request layer refuses it)', () => {
    expect(parseMessage(B('#\n'))).toEqual([]);
  });

  it('round-trips random messages, whatever the split of the stream', () => {
    for (let n = 0; n < 200; n++) {
      const segments: DoipSegment[] = [];
      const count = 1 + (n % 5);
      for (let i = 0; i < count; i++) {
        if ((n + i) % 2 === 0) segments.push(json(JSON.stringify({ n, i, text: 'line\n#\n@\nnot a separator inside a string', r: randomBytes(8).toString('hex') })));
        else segments.push(bytes(randomBytes((n * 37 + i * 101) % 70_000)));
      }
      const wire = encodeMessage(segments);
      const step = 1 + ((n * 7919) % 4096);
      // Two messages back to back: the parser finds both.
      expect(feed(Buffer.concat([wire, wire]), step)).toEqual([segments, segments]);
    }
  });

  it('keeps bytes that look like framing inside chunks', () => {
    const tricky = B('#\n#\n@\n12\n\r\n');
    expect(parseMessage(encodeMessage([bytes(tricky)]))).toEqual([bytes(tricky)]);
  });

  it('writes bytes segments in chunks and ends the message with "#" twice', () => {
    const wire = encodeMessage([json('{}'), bytes('xyz')]).toString('latin1');
    expect(wire).toBe('{}\n#\n@\n3\nxyz\n#\n#\n');
  });

  it('refuses to write JSON text with a "#" line (it would end the segment)', () => {
    expect(code(() => encodeMessage([json('{\n#\n}')]))).toBe('ERR_DOIP_MESSAGE_INVALID');
  });
});

describe('malformed DOIP input gets a precise error', () => {
  const cases: [string, string, RegExp][] = [
    ['a missing terminator after the last segment', '{"a":1}\n#\n', /ended inside a message.*before its terminating empty segment/],
    ['a JSON segment that never ends', '{"a":1}\n', /JSON segment 1 has no terminating "#" line/],
    ['an unterminated bytes segment', '{"a":1}\n#\n@\n3\nabc\n', /bytes segment 2 has no terminating "#" line/],
    ['a chunk length that lies (too long)', '@\n100\nabc\n#\n#\n', /a chunk announced 100 bytes, 8 arrived/],
    ['a truncated chunk', '@\n10\nabc', /a chunk announced 10 bytes, 3 arrived/],
  ];
  it.each(cases)('%s', (_name, wire, message) => {
    const parser = new SegmentParser();
    parser.push(B(wire));
    expect(() => parser.end()).toThrow(message);
    expect(code(() => parser.end())).toBe('ERR_DOIP_MESSAGE_INVALID');
  });

  const immediate: [string, string, RegExp][] = [
    ['a chunk length that lies (too short)', '@\n2\nabc\n#\n#\n', /the 2-byte chunk is not followed by a line feed/],
    ['a chunk size that is not a number', '@\nfive\nhello\n#\n#\n', /expected a chunk size.*"five"/],
    ['a chunk size with a sign', '@\n+5\nhello\n#\n#\n', /expected a chunk size/],
    ['a chunk size with leading zeros', '@\n05\nhello\n#\n#\n', /expected a chunk size/],
    ['a chunk size line of endless digits', `@\n${'9'.repeat(40)}`, /longer than 10 digits/],
    ['an "@" line inside a JSON segment', '{"a":\n@\n', /not terminated by a "#" line before an "@" line/],
    ['invalid UTF-8 in a JSON segment', '\xff\xfe\n#\n#\n', /not valid UTF-8/],
  ];
  it.each(immediate)('%s', (_name, wire, message) => {
    const parser = new SegmentParser();
    expect(() => parser.push(B(wire))).toThrow(message);
    // Once the framing is lost the parser refuses everything after.
    expect(code(() => parser.push(B('#\n')))).toBe('ERR_DOIP_MESSAGE_INVALID');
  });
});

describe('limits: rejected early, memory bounded', () => {
  const limits: SegmentLimits = { maxSegmentBytes: 1024 * 1024, maxMessageBytes: 2 * 1024 * 1024, maxSegments: 8 };

  it('refuses a 100 MiB bytes segment at its size line, before any of its bytes', () => {
    const parser = new SegmentParser(limits);
    expect(() => parser.push(B('{"id":"big"}\n#\n@\n104857600\n'))).toThrow(/a chunk of 104857600 bytes would exceed the segment limit of 1048576 bytes/);
    expect(code(() => parser.push(B('x')))).toBe('ERR_DOIP_MESSAGE_TOO_LARGE');
    expect(parser.bufferedBytes).toBe(0);
  });

  it('refuses a 100 MiB segment sent in small chunks once it passes the limit, holding no more than the limit', () => {
    const parser = new SegmentParser(limits);
    parser.push(B('@\n'));
    const chunk = B(`65536\n${'a'.repeat(65536)}\n`);
    let sent = 0;
    let peak = 0;
    let error: unknown;
    for (let i = 0; i < 1600 && !error; i++) {
      try {
        parser.push(chunk);
        sent += chunk.length;
        peak = Math.max(peak, parser.bufferedBytes);
      } catch (e) {
        error = e;
      }
    }
    expect((error as { code?: string }).code).toBe('ERR_DOIP_MESSAGE_TOO_LARGE');
    expect(sent).toBeLessThanOrEqual(limits.maxSegmentBytes + chunk.length);
    expect(peak).toBeLessThanOrEqual(limits.maxSegmentBytes);
  });

  it('refuses a 100 MiB JSON segment (one endless line) once it passes the limit', () => {
    const parser = new SegmentParser(limits);
    const piece = B('a'.repeat(64 * 1024));
    let pushed = 0;
    expect(() => {
      for (let i = 0; i < 1600; i++) {
        parser.push(piece);
        pushed += piece.length;
      }
    }).toThrow(/Segment 1 exceeds 1048576 bytes/);
    expect(pushed).toBeLessThanOrEqual(limits.maxSegmentBytes);
  });

  it('refuses a message larger than the message limit made of segments within theirs', () => {
    const segment = encodeMessage([bytes(Buffer.alloc(900 * 1024))]).subarray(0, -2); // without the final "#"
    const parser = new SegmentParser(limits);
    parser.push(segment);
    parser.push(segment);
    expect(() => parser.push(segment)).toThrow(/exceed the message limit of 2097152 bytes/);
  });

  it('refuses more segments than allowed', () => {
    const wire = B('{}\n#\n'.repeat(9) + '#\n');
    expect(() => new SegmentParser(limits).push(wire)).toThrow(/more than 8 segments/);
  });
});
