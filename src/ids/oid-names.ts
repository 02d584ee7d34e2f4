import longArcsData from '../../registries/oid/long-arcs.json' with { type: 'json' };
import nameFormsData from '../../registries/oid/name-forms.json' with { type: 'json' };

/**
 * The standard names of OID arcs, from `registries/oid/` (each entry there names its source):
 * ASN.1 identifiers (`iso`, `member-body`), Unicode labels for OID-IRIs (`ISO`, `Member-Body`) and
 * the long arcs that may follow the root `/` directly (`/Example` = 2.999, `/UUID` = 2.25).
 * Registered arcs bring their own names with the OID registry (issue 4).
 */
interface NameFormEntry {
  readonly oid: string;
  readonly identifiers: readonly string[];
  readonly unicodeLabels: readonly string[];
  /** true: the identifier may stand alone in value notation (X.660 Annex A NameForm). */
  readonly standardizedNameForm: boolean | null | string;
}

interface LongArcEntry {
  readonly label: string;
  readonly arc: string;
}

export interface ArcName {
  readonly arc: bigint;
  /** May stand alone as a NameForm in ASN.1 value notation. */
  readonly nameForm: boolean;
}

const byParentIdentifier = new Map<string, Map<string, ArcName>>();
const byParentLabel = new Map<string, Map<string, bigint>>();
const identifierOf = new Map<string, string>();
const labelOf = new Map<string, string>();

function split(oid: string): { parent: string; arc: bigint } {
  const dot = oid.lastIndexOf('.');
  return { parent: dot < 0 ? '' : oid.slice(0, dot), arc: BigInt(dot < 0 ? oid : oid.slice(dot + 1)) };
}

function put<V>(map: Map<string, Map<string, V>>, parent: string, key: string, value: V): void {
  let inner = map.get(parent);
  if (!inner) map.set(parent, (inner = new Map()));
  inner.set(key, value);
}

for (const entry of (nameFormsData as { nameForms: NameFormEntry[] }).nameForms) {
  const { parent, arc } = split(entry.oid);
  const nameForm = entry.standardizedNameForm === true;
  entry.identifiers.forEach((id, i) => {
    put(byParentIdentifier, parent, id, { arc, nameForm });
    if (i === 0) identifierOf.set(entry.oid, id);
  });
  entry.unicodeLabels.forEach((label, i) => {
    put(byParentLabel, parent, label, arc);
    if (i === 0) labelOf.set(entry.oid, label);
  });
}

const longArcs = new Map<string, bigint[]>();
for (const entry of (longArcsData as { longArcs: LongArcEntry[] }).longArcs) longArcs.set(entry.label, entry.arc.split('.').map(BigInt));

/** The arc an ASN.1 identifier names under `parent` (dotted; '' for the roots). */
export function findArcByIdentifier(parent: string, identifier: string): ArcName | undefined {
  return byParentIdentifier.get(parent)?.get(identifier);
}

/** The arc a Unicode label names under `parent`; labels match exactly (case-sensitive). */
export function findArcByLabel(parent: string, label: string): bigint | undefined {
  return byParentLabel.get(parent)?.get(label);
}

/** The arcs a long-arc label stands for right after the root `/`. */
export function findLongArc(label: string): readonly bigint[] | undefined {
  return longArcs.get(label);
}

export function findIdentifier(oid: string): string | undefined {
  return identifierOf.get(oid);
}

export function findLabel(oid: string): string | undefined {
  return labelOf.get(oid);
}

/** Every long arc: its label and the arcs it stands for. */
export function longArcEntries(): ReadonlyArray<readonly [string, readonly bigint[]]> {
  return [...longArcs];
}

/** The long arc whose label names `oid` (first listed wins), for the shortest IRI. */
export function findLongArcLabel(oid: string): string | undefined {
  for (const [label, arcs] of longArcs) if (arcs.join('.') === oid) return label;
  return undefined;
}
