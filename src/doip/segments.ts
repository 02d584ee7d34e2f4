import { DoipMessageInvalid, DoipMessageTooLarge } from '../errors.js';

/**
 * DOIP v2.0 message framing (DONA Foundation, "Digital Object Interface Protocol Specification
 * version 2.0", 2018, the transport of requests and responses over TLS as segments). Pure: no I/O.
 *
 *   message        = *segment empty-segment
 *   segment        = json-segment / bytes-segment
 *   json-segment   = 1*json-line hash-line          ; a json-line is any line but "#" and "@"
 *   bytes-segment  = at-line *chunk hash-line
 *   chunk          = size-line <size octets> LF
 *   size-line      = ("0" / %x31-39 *DIGIT) LF       ; decimal, no sign, no leading zeros
 *   empty-segment  = hash-line                       ; so a message ends with two "#" lines in a row
 *   hash-line      = "#" LF
 *   at-line        = "@" LF
 *
 * Every LF may be preceded by CR (clients on terminals send CRLF); a JSON segment's text keeps its
 * inner line breaks as sent (JSON treats CR and LF as whitespace), while the line break before its
 * "#" line belongs to the framing and is dropped. A chunk of size 0 is accepted and adds
 * nothing, so a writer may end a bytes segment with one. A JSON line that is exactly "@" inside a
 * JSON segment is an error: a bytes segment only begins a segment.
 *
 * The parser is incremental (`push` as bytes arrive) and strict: a size line that announces more
 * than the limits allow is refused at once, before any of its bytes arrive, so memory stays bounded
 * by the limits whatever a client announces or sends.
 */

export type DoipSegment = { readonly kind: 'json'; readonly text: string } | { readonly kind: 'bytes'; readonly data: Buffer };

export interface SegmentLimits {
  /** Largest segment (JSON text, or the sum of a bytes segment's chunks), in bytes. */
  readonly maxSegmentBytes: number;
  /** Largest message: every byte on the wire from its first line to its terminating "#" line. */
  readonly maxMessageBytes: number;
  /** Most segments in a message (the terminating empty segment not counted). */
  readonly maxSegments: number;
}

export const DEFAULT_SEGMENT_LIMITS: SegmentLimits = { maxSegmentBytes: 1024 * 1024, maxMessageBytes: 1024 * 1024, maxSegments: 256 };

const LF = 0x0a;
const CR = 0x0d;
/** A size line holds at most this many digits (up to 9,999,999,999 before the limits apply). */
const MAX_SIZE_DIGITS = 10;

type State =
  | { at: 'segment-start' }
  | { at: 'json' }
  | { at: 'bytes-size' }
  | { at: 'bytes-data'; remaining: number; size: number }
  | { at: 'bytes-data-end'; sawCr: boolean; size: number };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Incremental parser of a stream of DOIP messages. After an error it refuses further input. */
export class SegmentParser {
  private state: State = { at: 'segment-start' };
  /** Bytes of the current, unfinished line. */
  private line: Buffer[] = [];
  private lineLength = 0;
  /** Parts of the current segment (JSON lines with their line breaks, or chunk data). */
  private parts: Buffer[] = [];
  private segmentBytes = 0;
  private segments: DoipSegment[] = [];
  private messageBytes = 0;
  private failed: Error | undefined;
  /** Segments completed so far in the current message, for error messages. */
  private get segmentNumber(): number {
    return this.segments.length + 1;
  }

  constructor(readonly limits: SegmentLimits = DEFAULT_SEGMENT_LIMITS) {}

  /** True while part of a message has arrived but not its end. */
  get inMessage(): boolean {
    return this.messageBytes > 0;
  }

  /** Bytes held for the unfinished message (what the limits bound). */
  get bufferedBytes(): number {
    return this.lineLength + this.parts.reduce((n, p) => n + p.length, 0) + this.segments.reduce((n, s) => n + (s.kind === 'json' ? s.text.length : s.data.length), 0);
  }

  /** Feeds bytes; returns the messages they complete (each a list of segments), in order. */
  push(chunk: Uint8Array): DoipSegment[][] {
    if (this.failed) throw this.failed;
    try {
      return this.consume(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.failed = e as Error;
      this.line = [];
      this.parts = [];
      this.segments = [];
      throw e;
    }
  }

  /** The stream ended: throws if a message was left unfinished. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.inMessage) return;
    const where = this.describeState();
    this.failed = new DoipMessageInvalid(`The stream ended inside a message (${where}): a DOIP message ends with an empty segment, two "#" lines in a row`);
    throw this.failed;
  }

  private describeState(): string {
    const n = this.segmentNumber;
    switch (this.state.at) {
      case 'segment-start':
        return `after segment ${n - 1}, before its terminating empty segment`;
      case 'json':
        return `JSON segment ${n} has no terminating "#" line`;
      case 'bytes-size':
        return `bytes segment ${n} has no terminating "#" line`;
      case 'bytes-data':
        return `bytes segment ${n}: a chunk announced ${this.state.size} bytes, ${this.state.size - this.state.remaining} arrived`;
      case 'bytes-data-end':
        return `bytes segment ${n}: no line feed after a ${this.state.size}-byte chunk`;
    }
  }

  private consume(buf: Buffer): DoipSegment[][] {
    const done: DoipSegment[][] = [];
    let i = 0;
    while (i < buf.length) {
      const state = this.state;
      if (state.at === 'bytes-data') {
        const take = Math.min(state.remaining, buf.length - i);
        this.count(take);
        this.parts.push(buf.subarray(i, i + take));
        i += take;
        state.remaining -= take;
        if (state.remaining === 0) this.state = { at: 'bytes-data-end', sawCr: false, size: state.size };
        continue;
      }
      if (state.at === 'bytes-data-end') {
        const b = buf[i]!;
        this.count(1);
        i++;
        if (b === LF) {
          this.state = { at: 'bytes-size' };
        } else if (b === CR && !state.sawCr) {
          state.sawCr = true;
        } else {
          throw new DoipMessageInvalid(
            `Bytes segment ${this.segmentNumber}: the ${state.size}-byte chunk is not followed by a line feed (its size line does not match its data)`,
          );
        }
        continue;
      }
      // Line-oriented states: collect up to the next LF.
      const nl = buf.indexOf(LF, i);
      const end = nl < 0 ? buf.length : nl + 1;
      const piece = buf.subarray(i, end);
      this.count(piece.length);
      i = end;
      this.lineLength += piece.length;
      this.checkLineLength();
      this.line.push(piece);
      if (nl < 0) break;
      const line = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineLength);
      this.line = [];
      this.lineLength = 0;
      const message = this.onLine(line);
      if (message) done.push(message);
    }
    return done;
  }

  /** Counts bytes against the message limit. */
  private count(n: number): void {
    this.messageBytes += n;
    if (this.messageBytes > this.limits.maxMessageBytes) {
      throw new DoipMessageTooLarge(`The message exceeds ${this.limits.maxMessageBytes} bytes`, { limit: this.limits.maxMessageBytes });
    }
  }

  /** A line still arriving may only grow as far as its segment may. */
  private checkLineLength(): void {
    const at = this.state.at;
    if (at === 'json') {
      if (this.segmentBytes + this.lineLength > this.limits.maxSegmentBytes) this.segmentTooLarge();
    } else if (at === 'segment-start') {
      // The first line of a JSON segment, or a "#"/"@" line.
      if (this.lineLength > this.limits.maxSegmentBytes) this.segmentTooLarge();
    } else if (this.lineLength > MAX_SIZE_DIGITS + 2) {
      throw new DoipMessageInvalid(`Bytes segment ${this.segmentNumber}: a chunk size line is longer than ${MAX_SIZE_DIGITS} digits`);
    }
  }

  private segmentTooLarge(): never {
    throw new DoipMessageTooLarge(`Segment ${this.segmentNumber} exceeds ${this.limits.maxSegmentBytes} bytes`, { limit: this.limits.maxSegmentBytes });
  }

  /** `line` includes its LF. Returns a finished message, if this line finished one. */
  private onLine(line: Buffer): DoipSegment[] | undefined {
    const bare = bareControl(line);
    switch (this.state.at) {
      case 'segment-start':
        if (bare === '#') return this.finishMessage();
        if (bare === '@') {
          this.startSegment();
          this.state = { at: 'bytes-size' };
          return undefined;
        }
        this.startSegment();
        this.state = { at: 'json' };
        this.addJsonLine(line);
        return undefined;
      case 'json':
        if (bare === '#') {
          this.finishJsonSegment();
          return undefined;
        }
        if (bare === '@') throw new DoipMessageInvalid(`JSON segment ${this.segmentNumber} is not terminated by a "#" line before an "@" line`);
        this.addJsonLine(line);
        return undefined;
      case 'bytes-size': {
        if (bare === '#') {
          const data = Buffer.concat(this.parts, this.segmentBytes);
          this.parts = [];
          this.segments.push({ kind: 'bytes', data });
          this.state = { at: 'segment-start' };
          return undefined;
        }
        if (bare === undefined || !/^(0|[1-9][0-9]*)$/.test(bare)) {
          throw new DoipMessageInvalid(
            `Bytes segment ${this.segmentNumber}: expected a chunk size (decimal digits) or "#", got ${JSON.stringify(printable(line))}`,
          );
        }
        const size = Number(bare);
        if (this.segmentBytes + size > this.limits.maxSegmentBytes) {
          throw new DoipMessageTooLarge(
            `Bytes segment ${this.segmentNumber}: a chunk of ${size} bytes would exceed the segment limit of ${this.limits.maxSegmentBytes} bytes`,
            { limit: this.limits.maxSegmentBytes },
          );
        }
        if (this.messageBytes + size > this.limits.maxMessageBytes) {
          throw new DoipMessageTooLarge(`Bytes segment ${this.segmentNumber}: a chunk of ${size} bytes would exceed the message limit of ${this.limits.maxMessageBytes} bytes`, {
            limit: this.limits.maxMessageBytes,
          });
        }
        this.segmentBytes += size;
        this.state = size === 0 ? { at: 'bytes-data-end', sawCr: false, size } : { at: 'bytes-data', remaining: size, size };
        return undefined;
      }
      default:
        throw new Error('unreachable: data states are not line-oriented');
    }
  }

  private startSegment(): void {
    if (this.segments.length >= this.limits.maxSegments) {
      throw new DoipMessageTooLarge(`The message has more than ${this.limits.maxSegments} segments`, { limit: this.limits.maxSegments });
    }
    this.parts = [];
    this.segmentBytes = 0;
  }

  private addJsonLine(line: Buffer): void {
    this.segmentBytes += line.length;
    if (this.segmentBytes > this.limits.maxSegmentBytes) this.segmentTooLarge();
    this.parts.push(line);
  }

  private finishJsonSegment(): void {
    const bytes = Buffer.concat(this.parts, this.segmentBytes);
    this.parts = [];
    // The line break before the "#" line belongs to the framing, not to the JSON text.
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === LF) end--;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(0, end));
    } catch {
      throw new DoipMessageInvalid(`JSON segment ${this.segmentNumber} is not valid UTF-8`);
    }
    this.segments.push({ kind: 'json', text });
    this.state = { at: 'segment-start' };
  }

  private finishMessage(): DoipSegment[] {
    const message = this.segments;
    this.segments = [];
    this.parts = [];
    this.segmentBytes = 0;
    this.messageBytes = 0;
    this.state = { at: 'segment-start' };
    return message;
  }
}

/** The line without its LF (and CR) when it is short enough to be a control line, else undefined. */
function bareControl(line: Buffer): string | undefined {
  if (line.length > MAX_SIZE_DIGITS + 2) return undefined;
  let end = line.length - 1; // drop LF
  if (end > 0 && line[end - 1] === CR) end--;
  return line.toString('latin1', 0, end);
}

function printable(line: Buffer): string {
  const s = line.toString('utf8', 0, Math.min(line.length, 40)).replace(/\r?\n$/, '');
  return line.length > 40 ? `${s}...` : s;
}

/** Parses one complete message from a buffer (which must hold exactly one message). */
export function parseMessage(bytes: Uint8Array, limits: SegmentLimits = DEFAULT_SEGMENT_LIMITS): DoipSegment[] {
  const parser = new SegmentParser(limits);
  const messages = parser.push(bytes);
  parser.end();
  if (messages.length !== 1) throw new DoipMessageInvalid(messages.length === 0 ? 'No complete message' : `${messages.length} messages where one was expected`);
  return messages[0]!;
}

const HASH_LINE = Buffer.from('#\n');
const AT_LINE = Buffer.from('@\n');
const NEWLINE = Buffer.from('\n');
/** Bytes segments are written in chunks of at most this size. */
const WRITE_CHUNK = 64 * 1024;

const CRLF = Buffer.from('\r\n');

/**
 * Whether the parser would read a line of this JSON text as a "#" or "@" line. Inner lines lose
 * one CR before their LF, as the parser strips it; the last line is written with a line break that
 * keeps any CR of its own (see encodeMessage), so it must itself not be "#" or "@".
 */
function hasControlLine(text: string): boolean {
  const lines = text.split('\n');
  return lines.some((line, i) => {
    const bare = i < lines.length - 1 && line.endsWith('\r') ? line.slice(0, -1) : line;
    return bare === '#' || bare === '@';
  });
}

/**
 * Encodes a message: each segment then the terminating empty segment. JSON text must not contain
 * a line that is exactly "#" or "@" (compact `JSON.stringify` output never does). Text ending in
 * CR is written with CRLF: the parser drops one CR before the "#" line, and must not drop the
 * text's own.
 */
export function encodeMessage(segments: readonly DoipSegment[]): Buffer {
  const out: Buffer[] = [];
  for (const s of segments) {
    if (s.kind === 'json') {
      if (hasControlLine(s.text)) throw new DoipMessageInvalid('JSON segment text contains a "#" or "@" line');
      out.push(Buffer.from(s.text, 'utf8'), s.text.endsWith('\r') ? CRLF : NEWLINE, HASH_LINE);
    } else {
      out.push(AT_LINE);
      for (let off = 0; off < s.data.length; off += WRITE_CHUNK) {
        const piece = s.data.subarray(off, Math.min(off + WRITE_CHUNK, s.data.length));
        out.push(Buffer.from(`${piece.length}\n`), piece, NEWLINE);
      }
      out.push(HASH_LINE);
    }
  }
  out.push(HASH_LINE);
  return Buffer.concat(out);
}

export const jsonSegment = (value: unknown): DoipSegment => ({ kind: 'json', text: JSON.stringify(value) });
export const bytesSegment = (data: Uint8Array): DoipSegment => ({ kind: 'bytes', data: Buffer.from(data) });
