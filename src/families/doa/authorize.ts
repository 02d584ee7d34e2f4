import { PermissionDenied, PermissionInsufficient } from '../../errors.js';
import { decodeAdmin, type AdminRef } from '../../records/admin.js';
import { AdminPermission, type AdminPermissionName } from '../../records/permissions.js';
import type { HandleValue } from '../../records/value.js';
import type { Identity } from './identity.js';
import { isMember, refNames, type ValuesLookup } from './vlist.js';

export type { ValuesLookup } from './vlist.js';

/**
 * Authority over a handle comes from its HS_ADMIN values (RFC 3651 section 3.2.5): an admin
 * reference names an identity (index 0 meaning any identity value of that handle) or an HS_VLIST
 * group (vlist.ts), and carries a 12-bit mask. The rights of a principal are the union of the
 * masks of every HS_ADMIN value that names it. The service admin (`300:0.NA/<prefix>`) is a
 * server administrator with every permission on the handles served here, as in Handle.Net's
 * `server_admins`.
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

/** Does the admin reference name this identity itself (not through a group)? */
export function refMatches(ref: AdminRef, who: Identity): boolean {
  return refNames(ref, who);
}

export interface Principal {
  readonly identity: Identity;
  readonly serverAdmin: boolean;
}

/** Without a lookup, groups are not expanded: only direct references count. */
const noGroups: ValuesLookup = () => undefined;

/** Whether any HS_ADMIN value names the principal, and the union of their masks. */
export function adminStanding(who: Identity, values: readonly HandleValue[], lookup: ValuesLookup = noGroups): { named: boolean; mask: number } {
  let named = false;
  let mask = 0;
  for (const ref of adminRefs(values)) {
    if ((ref.permissions | mask) === mask && named) continue; // adds nothing: skip the group walk
    if (isMember(ref, who, lookup)) {
      named = true;
      mask |= ref.permissions;
    }
  }
  return { named, mask };
}

export function hasPermission(who: Principal, values: readonly HandleValue[], permission: AdminPermissionName, lookup: ValuesLookup = noGroups): boolean {
  if (who.serverAdmin) return true;
  const bit = AdminPermission[permission];
  return (adminStanding(who.identity, values).mask & bit) !== 0 || (adminStanding(who.identity, values, lookup).mask & bit) !== 0;
}

/**
 * As Handle.Net answers: an identity no HS_ADMIN names (directly or through a group) is not an
 * admin (responseCode 400); an admin whose masks lack the bit has insufficient permissions
 * (responseCode 401). Both are 403.
 */
export function requirePermission(
  who: Principal,
  values: readonly HandleValue[],
  permission: AdminPermissionName,
  target: string,
  lookup: ValuesLookup = noGroups,
): void {
  if (who.serverAdmin) return;
  const bit = AdminPermission[permission];
  // Most checks are settled by a direct reference; groups are looked up only when they are not.
  if ((adminStanding(who.identity, values).mask & bit) !== 0) return;
  const { named, mask } = adminStanding(who.identity, values, lookup);
  if ((mask & bit) !== 0) return;
  const name = `${who.identity.index}:${who.identity.handle}`;
  if (named) throw new PermissionInsufficient(`${name} lacks ${permission} on ${target}`, { permission });
  throw new PermissionDenied(`${name} is not an administrator of ${target}`, { permission });
}
