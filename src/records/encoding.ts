import { ValueInvalid } from '../errors.js';
import type { HandleValue, TtlType, ValueReference } from './value.js';

/**
 * RFC 3651 section 3.1 binary layout of one handle value. Integers are big-endian; a UTF8-String and
 * <data> are a 4-byte length followed by that many bytes.
 *
 *   index        4 octets
 *   timestamp    4 octets (seconds since 1970)
 *   ttlType      1 octet  (0 relative, 1 absolute)
 *   ttl          4 octets
 *   permission   1 octet  (bits: admin read 0x8, admin write 0x4, public read 0x2, public write 0x1)
 *   type         UTF8-String
 *   data         4-octet length + octets
 *   references   4-octet count, then each: UTF8-String handle + 4-octet index
 */

// ignoreBOM: a string that starts with U+FEFF must decode to itself, or a stored value would change.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A small growable big-endian writer; the codecs in this folder share it. */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 128) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(n: number): this {
    this.ensure(1);
    this.buf[this.len++] = n;
    return this;
  }

  u16(n: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(n, this.len);
    this.len += 2;
    return this;
  }

  u32(n: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(n >>> 0, this.len);
    this.len += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** 4-byte length, then the bytes. */
  lengthPrefixed(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }

  string(s: string): this {
    // Encoded in place: no intermediate byte array per string.
    const length = Buffer.byteLength(s, 'utf8');
    this.u32(length);
    this.ensure(length);
    this.len += this.buf.write(s, this.len, 'utf8');
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A bounds-checked big-endian reader; every overrun is an ERR_VALUE_INVALID, never a RangeError. */
export class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what = 'value') {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new ValueInvalid(`Truncated ${this.what}: needs ${n} more bytes at offset ${this.pos}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  lengthPrefixed(): Uint8Array {
    return this.bytes(this.u32());
  }

  string(): string {
    try {
      return utf8Strict.decode(this.lengthPrefixed());
    } catch (e) {
      if (e instanceof ValueInvalid) throw e;
      throw new ValueInvalid(`Invalid UTF-8 in ${this.what}`);
    }
  }

  end(): void {
    if (this.remaining !== 0) throw new ValueInvalid(`${this.remaining} trailing bytes after ${this.what}`);
  }
}

export function writeValue(w: ByteWriter, v: HandleValue): void {
  w.u32(v.index).u32(v.timestamp).u8(v.ttlType === 'absolute' ? 1 : 0).u32(v.ttl).u8(v.permissions & 0x0f);
  w.string(v.type).lengthPrefixed(v.data).u32(v.references.length);
  for (const r of v.references) w.string(r.handle).u32(r.index);
}

// Values are immutable, and one write encodes each several times (digest, storage, comparison).
const encodings = new WeakMap<HandleValue, Buffer>();

export function encodeValue(v: HandleValue): Buffer {
  let bytes = encodings.get(v);
  if (!bytes) {
    const w = new ByteWriter(64 + v.data.length + v.type.length);
    writeValue(w, v);
    bytes = w.finish();
    encodings.set(v, bytes);
  }
  return bytes;
}

export function readValue(r: ByteReader): HandleValue {
  const index = r.u32();
  const timestamp = r.u32();
  const ttlTypeByte = r.u8();
  if (ttlTypeByte > 1) throw new ValueInvalid(`Unknown ttlType ${ttlTypeByte}`);
  const ttlType: TtlType = ttlTypeByte === 1 ? 'absolute' : 'relative';
  const ttl = r.u32();
  const permissions = r.u8();
  if (permissions > 0x0f) throw new ValueInvalid(`Permission octet ${permissions} has bits above 0x0F`);
  const type = r.string();
  const data = Uint8Array.from(r.lengthPrefixed());
  const count = r.u32();
  if (count > r.remaining / 8) throw new ValueInvalid(`Reference count ${count} exceeds the bytes left`);
  const references: ValueReference[] = [];
  for (let i = 0; i < count; i++) references.push({ handle: r.string(), index: r.u32() });
  return { index, timestamp, ttlType, ttl, permissions, type, data, references };
}

export function decodeValue(bytes: Uint8Array): HandleValue {
  const r = new ByteReader(bytes);
  const v = readValue(r);
  r.end();
  return v;
}
