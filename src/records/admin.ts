import { ValueInvalid } from '../errors.js';
import { ByteReader, ByteWriter } from './encoding.js';
import type { ValueReference } from './value.js';

/**
 * HS_ADMIN data (RFC 3651 section 3.2.5):
 *
 *   AdminRef    ::= <permission: 2 octets> <adminId: UTF8-String> <adminIdIndex: 4 octets>
 *
 * HS_VLIST data (RFC 3651 section 3.2.7):
 *
 *   ValueList   ::= <count: 4 octets> { <handle: UTF8-String> <index: 4 octets> }*
 */
export interface AdminRef {
  readonly handle: string;
  readonly index: number;
  /** 12-bit mask of `AdminPermission` bits. */
  readonly permissions: number;
}

export function encodeAdmin(admin: AdminRef): Buffer {
  return new ByteWriter(32).u16(admin.permissions & 0x0fff).string(admin.handle).u32(admin.index).finish();
}

export function decodeAdmin(data: Uint8Array): AdminRef {
  const r = new ByteReader(data, 'HS_ADMIN data');
  const permissions = r.u16();
  if (permissions > 0x0fff) throw new ValueInvalid('HS_ADMIN permissions use bits above the 12 defined');
  const handle = r.string();
  const index = r.u32();
  r.end();
  return { handle, index, permissions };
}

export function encodeValueList(refs: readonly ValueReference[]): Buffer {
  const w = new ByteWriter(16 + refs.length * 24).u32(refs.length);
  for (const ref of refs) w.string(ref.handle).u32(ref.index);
  return w.finish();
}

export function decodeValueList(data: Uint8Array): ValueReference[] {
  const r = new ByteReader(data, 'HS_VLIST data');
  const count = r.u32();
  if (count > r.remaining / 8) throw new ValueInvalid('HS_VLIST count exceeds its data');
  const refs: ValueReference[] = [];
  for (let i = 0; i < count; i++) refs.push({ handle: r.string(), index: r.u32() });
  r.end();
  return refs;
}
