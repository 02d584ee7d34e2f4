import { MAX_LABEL_OCTETS, MAX_NAME_OCTETS, nameOctets, type Name } from './wire.js';

/**
 * The ORS mapping of an OID to a DNS name (X.672 clause 7): the arcs in reverse order, as decimal
 * labels, under the ORS domain: 1.3.6.1.4.1.37476 is 37476.1.4.1.6.3.1.oid-res.org.
 */

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** The DNS name of an arc, or undefined when it does not fit (a label over 63 or a name over 255 octets). */
export function orsName(arcs: readonly bigint[], apex: Name): Name | undefined {
  const labels = arcs.map((a) => a.toString()).reverse();
  if (labels.some((l) => l.length > MAX_LABEL_OCTETS)) return undefined;
  const name = [...labels, ...apex];
  return nameOctets(name) <= MAX_NAME_OCTETS ? name : undefined;
}

/**
 * The arc ORS publishes for `arcs`: itself when its name fits, else the nearest ancestor whose
 * name does (X.672: a client whose name is too long asks for the nearest superior it can name).
 */
export function orsPublishedAncestor(arcs: readonly bigint[], apex: Name): { arcs: readonly bigint[]; name: Name } | undefined {
  for (let n = arcs.length; n >= 1; n--) {
    const name = orsName(arcs.slice(0, n), apex);
    if (name) return { arcs: arcs.slice(0, n), name };
  }
  return undefined;
}

/** True when `label` is an arc number as ORS writes it (no sign, no leading zero). */
export function isArcLabel(label: string): boolean {
  return DECIMAL.test(label);
}
