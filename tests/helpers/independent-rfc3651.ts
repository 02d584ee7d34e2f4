import { createHash } from 'node:crypto';

/**
 * A deliberately separate, minimal RFC 3651 value encoder written from the RFC for the tests, so
 * that signature checks do not lean on Cairn's own codec. It covers the JSON formats Cairn emits
 * for public values: string, base64, admin, and relative ttls.
 */
interface JsonValue {
  index: number;
  type: string;
  data: { format: string; value: unknown };
  permissions?: string;
  ttl: number | string;
  references?: { handle: string; index: number }[];
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u32(b.length), b]);
};

function dataBytes(v: JsonValue): Buffer {
  const { format, value } = v.data;
  if (format === 'string') return Buffer.from(value as string, 'utf8');
  if (format === 'base64') return Buffer.from(value as string, 'base64');
  if (format === 'admin') {
    const a = value as { handle: string; index: number; permissions: string };
    const perms = Buffer.alloc(2);
    perms.writeUInt16BE(parseInt(a.permissions, 2));
    return Buffer.concat([perms, str(a.handle), u32(a.index)]);
  }
  throw new Error(`independent encoder does not handle format ${format}`);
}

/** The digest Handle.Net puts in HS_SIGNATURE: SHA-256 of the encoding after index and timestamp. */
export function independentDigest(v: JsonValue): string {
  if (typeof v.ttl !== 'number') throw new Error('independent encoder handles relative ttls only');
  const perms = parseInt(v.permissions ?? '1110', 2);
  const refs = v.references ?? [];
  const tail = Buffer.concat([
    Buffer.of(0),
    u32(v.ttl),
    Buffer.of(perms),
    str(v.type),
    str(dataBytes(v)),
    u32(refs.length),
    ...refs.flatMap((r) => [str(r.handle), u32(r.index)]),
  ]);
  return createHash('sha256').update(tail).digest('base64');
}
