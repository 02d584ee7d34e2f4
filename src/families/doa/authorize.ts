import { PermissionDenied, PermissionInsufficient } from '../../errors.js';
import { foldHandleCase } from '../../ids/handle.js';
import { decodeAdmin, type AdminRef } from '../../records/admin.js';
import { AdminPermission, type AdminPermissionName } from '../../records/permissions.js';
import type { HandleValue } from '../../records/value.js';
import type { Identity } from './identity.js';

/**
 * Authority over a handle comes from its HS_ADMIN values (RFC 3651 section 3.2.5): an admin
 * reference names an identity (index 0 meaning any index of that handle) and a 12-bit mask.
 * The service admin (`300:0.NA/<prefix>`) is a server administrator with every permission on the
 * handles served here, as in Handle.Net's `server_admins`.
 */
export function adminRefs(values: readonly HandleValue[]): AdminRef[] {
  const refs: AdminRef[] = [];
  for (const v of values) {
    if (v.type !== 'HS_ADMIN') continue;
    try {
      refs.push(decodeAdmin(v.data));
    } catch {
      // A damaged HS_ADMIN grants nothing.
    }
  }
  return refs;
}

export function refMatches(ref: AdminRef, who: Identity): boolean {
  return foldHandleCase(ref.handle) === foldHandleCase(who.handle) && (ref.index === 0 || ref.index === who.index);
}

export interface Principal {
  readonly identity: Identity;
  readonly serverAdmin: boolean;
}

export function hasPermission(who: Principal, values: readonly HandleValue[], permission: AdminPermissionName): boolean {
  if (who.serverAdmin) return true;
  const bit = AdminPermission[permission];
  return adminRefs(values).some((ref) => refMatches(ref, who.identity) && (ref.permissions & bit) !== 0);
}

/**
 * As Handle.Net answers: an identity no HS_ADMIN names is not an admin (responseCode 400); an
 * admin whose mask lacks the bit has insufficient permissions (responseCode 401). Both are 403.
 */
export function requirePermission(who: Principal, values: readonly HandleValue[], permission: AdminPermissionName, target: string): void {
  if (hasPermission(who, values, permission)) return;
  const name = `${who.identity.index}:${who.identity.handle}`;
  if (adminRefs(values).some((ref) => refMatches(ref, who.identity))) {
    throw new PermissionInsufficient(`${name} lacks ${permission} on ${target}`, { permission });
  }
  throw new PermissionDenied(`${name} is not an administrator of ${target}`, { permission });
}
