import { VlistCycle, VlistTooDeep } from '../../errors.js';
import { foldHandleCase } from '../../ids/handle.js';
import { decodeValueList } from '../../records/admin.js';
import type { HandleValue, ValueReference } from '../../records/value.js';
import type { Identity } from './identity.js';

/**
 * HS_VLIST admin groups (RFC 3651 section 3.2.7): an HS_ADMIN value may name, instead of an
 * identity, the `index:handle` of an HS_VLIST value; every reference in that list is then a
 * member, and a member may itself be another HS_VLIST. A reference with index 0 means any
 * identity value (HS_SECKEY, HS_PUBKEY) of its handle, as in Handle.Net, and is never expanded.
 *
 * Reading never loops and has a bounded cost: each list is expanded at most once per check
 * (again only if reached by a shorter path), at most MAX_VLIST_DEPTH lists deep and
 * MAX_VLIST_VISITS lists in all; anything beyond grants nothing. Writes are checked more strictly
 * (`checkVlistWrite`): a list that would lie on a cycle, or nest deeper than the limit below it,
 * is refused.
 */
export const VLIST_TYPE = 'HS_VLIST';
/** Lists in a chain from an HS_ADMIN value down to an identity (HS_ADMIN -> list -> list: 2). */
export const MAX_VLIST_DEPTH = 5;
/** Lists expanded for one membership question, however they are arranged. */
export const MAX_VLIST_VISITS = 256;
/** Lists a write may make reachable from one of its HS_VLIST values. */
export const MAX_VLIST_WRITE_VISITS = 1024;

/** The values of a live record served here, or undefined. */
export type ValuesLookup = (handle: string) => readonly HandleValue[] | undefined;

const nodeKey = (handle: string, index: number): string => `${foldHandleCase(handle)}\u0000${index}`;

/** The references of the HS_VLIST value at `index`; undefined when there is none, [] when it is damaged. */
export function vlistMembers(values: readonly HandleValue[] | undefined, index: number): ValueReference[] | undefined {
  const v = values?.find((x) => x.index === index && x.type === VLIST_TYPE);
  if (!v) return undefined;
  try {
    return decodeValueList(v.data);
  } catch {
    return []; // a damaged list has no members
  }
}

/** Does `ref` name `who` directly: the same handle, and the same index or index 0? */
export function refNames(ref: ValueReference, who: Identity): boolean {
  return foldHandleCase(ref.handle) === foldHandleCase(who.handle) && (ref.index === 0 || ref.index === who.index);
}

/** Is `who` the identity `ref` names, or a member (at any depth within the limit) of the list it names? */
export function isMember(ref: ValueReference, who: Identity, lookup: ValuesLookup): boolean {
  const shallowest = new Map<string, number>();
  let visits = 0;
  const walk = (r: ValueReference, depth: number): boolean => {
    if (refNames(r, who)) return true;
    if (r.index === 0 || depth >= MAX_VLIST_DEPTH) return false;
    const key = nodeKey(r.handle, r.index);
    const seen = shallowest.get(key);
    if (seen !== undefined && seen <= depth) return false;
    if (++visits > MAX_VLIST_VISITS) return false;
    shallowest.set(key, depth);
    const members = vlistMembers(lookup(r.handle), r.index);
    return members !== undefined && members.some((m) => walk(m, depth + 1));
  };
  return walk(ref, 0);
}

/**
 * Refuses a write whose new or changed HS_VLIST values would lie on a cycle (`ERR_VLIST_CYCLE`) or
 * have more than MAX_VLIST_DEPTH lists in a chain from them down (`ERR_VLIST_TOO_DEEP`).
 * `lookup` must already answer the written record with its new values. Lists elsewhere that are
 * cyclic already (written some other way) are tolerated as long as the cycle avoids these values.
 *
 * Only the depth below a written list can be checked here: a list that others refer to may still
 * end up deeper than the limit from their point of view, which reading then cuts off.
 */
export function checkVlistWrite(handle: string, written: readonly HandleValue[], lookup: ValuesLookup): void {
  for (const v of written) {
    if (v.type !== VLIST_TYPE) continue;
    const start = nodeKey(handle, v.index);
    const heights = new Map<string, number>();
    const onPath = new Set<string>();
    let visits = 0;
    // Lists in the longest chain from this node down (0 when it is not a list).
    const height = (h: string, index: number): number => {
      if (index === 0) return 0;
      const key = nodeKey(h, index);
      if (onPath.has(key)) {
        if (key === start) throw new VlistCycle(`HS_VLIST ${v.index}:${handle} would contain itself (through ${index}:${h})`, { handle, index: v.index });
        return 0; // a cycle that does not pass through this write's list: not this write's doing
      }
      const known = heights.get(key);
      if (known !== undefined) return known;
      const members = vlistMembers(lookup(h), index);
      if (members === undefined) {
        heights.set(key, 0);
        return 0;
      }
      if (++visits > MAX_VLIST_WRITE_VISITS) {
        throw new VlistTooDeep(`HS_VLIST ${v.index}:${handle} reaches more than ${MAX_VLIST_WRITE_VISITS} lists`, { handle, index: v.index });
      }
      onPath.add(key);
      let below = 0;
      for (const m of members) below = Math.max(below, height(m.handle, m.index));
      onPath.delete(key);
      heights.set(key, below + 1);
      return below + 1;
    };
    const depth = height(handle, v.index);
    if (depth > MAX_VLIST_DEPTH) {
      throw new VlistTooDeep(`HS_VLIST ${v.index}:${handle} nests ${depth} lists deep; at most ${MAX_VLIST_DEPTH} are followed`, {
        handle,
        index: v.index,
      });
    }
  }
}
