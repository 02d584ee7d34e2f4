import type { Assurance, EvidenceType, ItemStatus, Reason, Verdict } from './verdicts.js';

/**
 * From the facts of one verification to its verdict, in this order (the first that applies):
 *
 * 1. No such item: `unknown`.
 * 2. The record is withdrawn (tombstoned): `revoked`; the item reported stolen: `blocked`; its key
 *    compromised: `revoked`. No evidence can outweigh these.
 * 3. The evidence, against what the item's class requires:
 *    - the class requires none: `registered-unproven` (the record is fine, nothing was proven);
 *    - it requires some and none was sent, or another type was sent: `registered-unproven` with
 *      `evidence-missing` / `evidence-type-not-accepted`. Sending less never buys more: only the
 *      class's own evidence type, verified, can give `genuine`;
 *    - the registry lacks what the check needs (no device key, certificate or SUN keys):
 *      `registered-unproven` with that reason;
 *    - the check failed: its verdict (`signature-invalid`, `revoked`, `expired`, `not-yet-valid`);
 *    - the check passed: `genuine`.
 * 4. Only for `genuine` and `registered-unproven`: any clone or anomaly reason makes it
 *    `suspected-clone`; the single reason `scan-after-consumed` makes it `consumed`. A recalled item
 *    keeps its verdict, with `item-recalled` added.
 */
export type EvidenceOutcome =
  | { readonly kind: 'verified'; readonly assurance: Exclude<Assurance, 'none' | 'record'>; readonly reasons: readonly Reason[] }
  | { readonly kind: 'unavailable'; readonly reasons: readonly Reason[] }
  | { readonly kind: 'failed'; readonly verdict: Extract<Verdict, 'signature-invalid' | 'revoked' | 'expired' | 'not-yet-valid'>; readonly reasons: readonly Reason[] };

export interface DecisionInput {
  readonly found: boolean;
  readonly tombstoned?: boolean;
  readonly status?: ItemStatus;
  readonly required?: EvidenceType;
  readonly presented: EvidenceType;
  /** The result of checking the presented evidence, when it is the class's type (and not none). */
  readonly evidence?: EvidenceOutcome;
  readonly anomalies?: readonly Reason[];
}

export interface Decision {
  readonly verdict: Verdict;
  readonly reasons: Reason[];
  readonly assurance: Assurance;
  /** Whether the verification counts as an accepted scan for the log and the anomaly rules. */
  readonly accepted: boolean;
}

export function decide(f: DecisionInput): Decision {
  const done = (verdict: Verdict, reasons: Reason[], assurance: Assurance = 'none'): Decision => ({ verdict, reasons, assurance, accepted: false });
  if (!f.found) return done('unknown', ['item-not-registered']);
  if (f.tombstoned) return done('revoked', ['item-withdrawn']);
  if (f.status === 'stolen') return done('blocked', ['item-stolen']);
  if (f.status === 'key-compromised') return done('revoked', ['device-key-compromised']);

  let verdict: Verdict;
  let assurance: Assurance;
  let reasons: Reason[];
  const required = f.required ?? 'none';
  if (required === 'none') {
    [verdict, assurance, reasons] = ['registered-unproven', 'record', f.presented === 'none' ? ['class-requires-no-evidence'] : ['evidence-type-not-accepted']];
  } else if (f.presented === 'none') {
    [verdict, assurance, reasons] = ['registered-unproven', 'record', ['evidence-missing']];
  } else if (f.presented !== required) {
    [verdict, assurance, reasons] = ['registered-unproven', 'record', ['evidence-type-not-accepted']];
  } else if (!f.evidence) {
    throw new TypeError('decide: the evidence outcome is missing');
  } else if (f.evidence.kind === 'unavailable') {
    [verdict, assurance, reasons] = ['registered-unproven', 'record', [...f.evidence.reasons]];
  } else if (f.evidence.kind === 'failed') {
    return done(f.evidence.verdict, [...f.evidence.reasons]);
  } else {
    [verdict, assurance, reasons] = ['genuine', f.evidence.assurance, [...f.evidence.reasons]];
  }

  const anomalies = f.anomalies ?? [];
  if (f.status === 'destroyed') reasons.push('item-destroyed');
  if (anomalies.some((r) => r !== 'scan-after-consumed')) {
    verdict = 'suspected-clone';
  } else if (f.status === 'consumed') {
    verdict = 'consumed';
    reasons.push('item-consumed');
  }
  reasons.push(...anomalies);
  if (f.status === 'recalled') reasons.push('item-recalled');
  return { verdict, reasons, assurance, accepted: true };
}
