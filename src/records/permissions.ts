import { ValueInvalid } from '../errors.js';

/**
 * Permission bit strings as Handle.Net writes them in JSON: the most significant bit first, read
 * right-aligned (a shorter string sets the low bits), `*` for every bit.
 */
export function parsePermissionBits(text: string, width: number, what: string): number {
  const all = (1 << width) - 1;
  if (text === '*') return all;
  if (typeof text !== 'string' || text.length === 0 || text.length > width || !/^[01]+$/.test(text)) {
    throw new ValueInvalid(`${what} must be up to ${width} characters of 0 and 1, or "*"`);
  }
  return parseInt(text, 2);
}

export function formatPermissionBits(bits: number, width: number): string {
  return bits.toString(2).padStart(width, '0');
}

/**
 * HS_ADMIN permission mask, 12 bits, as Handle.Net's `Encoder`/`AdminRecord` assign them (which is
 * what interoperates; in JSON the string runs from LIST_HANDLES on the left to ADD_HANDLE on the right).
 */
export const AdminPermission = {
  ADD_HANDLE: 0x001,
  DELETE_HANDLE: 0x002,
  ADD_DERIVED_PREFIX: 0x004,
  DELETE_DERIVED_PREFIX: 0x008,
  MODIFY_VALUE: 0x010,
  REMOVE_VALUE: 0x020,
  ADD_VALUE: 0x040,
  MODIFY_ADMIN: 0x080,
  REMOVE_ADMIN: 0x100,
  ADD_ADMIN: 0x200,
  READ_VALUE: 0x400,
  LIST_HANDLES: 0x800,
} as const;

export type AdminPermissionName = keyof typeof AdminPermission;

export const ALL_ADMIN_PERMISSIONS = 0x0fff;
/** `011111110011`: what a new handle's creator gets unless the request says otherwise. */
export const DEFAULT_CREATOR_PERMISSIONS = 0b011111110011;
