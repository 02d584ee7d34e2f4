import longArcsData from '../../../registries/oid/long-arcs.json' with { type: 'json' };
import nameFormsData from '../../../registries/oid/name-forms.json' with { type: 'json' };
import { labelKey } from '../../ids/oid-label.js';

/**
 * The standard names of `registries/oid/` (ASN.1 identifiers and Unicode labels of the roots and
 * of the arcs under them) compared by `labelKey`, that is case-insensitively: the registry uses
 * them to keep registered labels from shadowing a standard arc's name, and OID-IRI lookup uses
 * them when a label matches no name exactly (`/joint-iso-itu-t/example`).
 * `src/ids/oid-names.ts` keeps the exact-match tables.
 */
const byParent = new Map<string, Map<string, bigint>>();
for (const entry of (nameFormsData as { nameForms: { oid: string; identifiers: string[]; unicodeLabels: string[] }[] }).nameForms) {
  const dot = entry.oid.lastIndexOf('.');
  const parent = dot < 0 ? '' : entry.oid.slice(0, dot);
  const arc = BigInt(entry.oid.slice(dot + 1));
  let names = byParent.get(parent);
  if (!names) byParent.set(parent, (names = new Map()));
  for (const name of [...entry.identifiers, ...entry.unicodeLabels]) if (!names.has(labelKey(name))) names.set(labelKey(name), arc);
}

const longArcs = new Map<string, bigint[]>();
for (const entry of (longArcsData as { longArcs: { label: string; arc: string }[] }).longArcs) {
  if (!longArcs.has(labelKey(entry.label))) longArcs.set(labelKey(entry.label), entry.arc.split('.').map(BigInt));
}

/** The standard arc under `parent` (dotted, '' for the roots) whose name has this label key. */
export function standardArcByKey(parent: string, key: string): bigint | undefined {
  return byParent.get(parent)?.get(key);
}

/** The long arc (right after the root `/`) whose label has this label key. */
export function longArcByKey(key: string): readonly bigint[] | undefined {
  return longArcs.get(key);
}
