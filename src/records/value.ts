/**
 * The Handle System value model (RFC 3651 section 3.1), shared by every identifier family.
 *
 *   <HandleValue> ::= <index> <timestamp> <ttlType> <ttl> <permission> <type> <data> <references>
 */

/** Value permission bits (RFC 3651 section 3.1, `<permission>`). */
export const PERM_PUBLIC_WRITE = 0x01;
export const PERM_PUBLIC_READ = 0x02;
export const PERM_ADMIN_WRITE = 0x04;
export const PERM_ADMIN_READ = 0x08;
/** `1110`: admins read and write, the public reads. Handle.Net's default. */
export const DEFAULT_VALUE_PERMISSIONS = PERM_ADMIN_READ | PERM_ADMIN_WRITE | PERM_PUBLIC_READ;
export const DEFAULT_TTL = 86400;

export type TtlType = 'relative' | 'absolute';

export interface ValueReference {
  readonly handle: string;
  readonly index: number;
}

export interface HandleValue {
  /** Unique within the record; 1..2^31-1 (RFC 3651 encodes it as a signed 4-byte integer). */
  readonly index: number;
  readonly type: string;
  /** The value's bytes exactly as RFC 3651 carries them. */
  readonly data: Uint8Array;
  readonly ttlType: TtlType;
  /** Seconds to cache (relative) or the expiry in seconds since the epoch (absolute). */
  readonly ttl: number;
  /** Seconds since the epoch of the last change to this value. */
  readonly timestamp: number;
  /** Four bits: admin read, admin write, public read, public write. */
  readonly permissions: number;
  readonly references: readonly ValueReference[];
}

export const MAX_VALUE_INDEX = 0x7fffffff;

export function isPublicRead(value: HandleValue): boolean {
  return (value.permissions & PERM_PUBLIC_READ) !== 0;
}

/**
 * Does a value's `type` match a type filter? Types compare case-insensitively, as the Handle System
 * does; a filter ending in `.` also matches the subtypes (`URL.` matches `URL` and `URL.mirror`).
 */
export function typeMatches(type: string, filter: string): boolean {
  const t = type.toUpperCase();
  const f = filter.toUpperCase();
  if (f.endsWith('.')) return t === f.slice(0, -1) || t.startsWith(f);
  return t === f;
}
