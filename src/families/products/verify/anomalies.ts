import { minDistanceKm, placeOf, type CoarseLocation } from './locations.js';
import type { ItemStatus, Reason } from './verdicts.js';

/**
 * Clone and anomaly rules: a pure function of the item's status, the verification at hand and the
 * item's recent accepted verifications (from the verification log). Each rule that fires adds its
 * reason; the caller turns any of them into `suspected-clone` (or `consumed`, see decide.ts).
 *
 * - impossible-travel: between the latest earlier verification that has a place and this one, the
 *   least possible distance (locations.ts) over the elapsed time exceeds `maxSpeedKmh` (default
 *   900 km/h, an airliner's cruise). Same instant, different places: also impossible.
 * - scan-after-consumed / scan-after-destroyed: the registry says the item was used up or destroyed,
 *   yet it is being verified.
 * - counter-not-rising: the tag's read counter is not above the highest seen before (SUN).
 * - verification-rate-exceeded: with this one, more verifications within `rateWindowMs` (default
 *   24 h) than the class allows (`maxVerificationsPerDay`).
 * - imei-key-conflict: the item's IMEI has been proven, within `imeiWindowMs` (default 30 days),
 *   with a different device key than this verification's: two devices answer to one IMEI.
 *
 * Nothing here looks at where the other verifications were, beyond the yes/no of the rule: the
 * answer says "impossible travel", never "last seen in ...".
 */
export interface VerificationEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly location?: CoarseLocation;
  /** SUN read counter. */
  readonly counter?: number;
  /** Keyed hash of the device key that proved possession. */
  readonly keyTag?: string;
}

export interface AnomalyRules {
  readonly maxSpeedKmh: number;
  readonly rateWindowMs: number;
  readonly imeiWindowMs: number;
}

export const DEFAULT_ANOMALY_RULES: AnomalyRules = {
  maxSpeedKmh: 900,
  rateWindowMs: 24 * 3600_000,
  imeiWindowMs: 30 * 24 * 3600_000,
};

export interface AnomalyInput {
  readonly status: ItemStatus;
  readonly current: VerificationEvent;
  /** The item's earlier accepted verifications, any order. */
  readonly history: readonly VerificationEvent[];
  /** Earlier verifications of any item with the same IMEI, any order. */
  readonly imeiHistory?: readonly VerificationEvent[];
  /** The class's limit; no limit when undefined. */
  readonly maxVerificationsPerDay?: number;
  /** Highest SUN counter seen for the tag, from the persistent store. */
  readonly highestCounter?: number;
}

export function detectAnomalies(input: AnomalyInput, rules: AnomalyRules = DEFAULT_ANOMALY_RULES): Reason[] {
  const reasons: Reason[] = [];
  const { current } = input;
  const earlier = input.history.filter((e) => e.at <= current.at).sort((a, b) => a.at - b.at);

  if (impossibleTravel(current, earlier, rules.maxSpeedKmh)) reasons.push('impossible-travel');
  if (input.status === 'consumed') reasons.push('scan-after-consumed');
  if (input.status === 'destroyed') reasons.push('scan-after-destroyed');

  if (current.counter !== undefined) {
    const seen = [input.highestCounter, ...earlier.map((e) => e.counter)].filter((c): c is number => c !== undefined);
    if (seen.length > 0 && current.counter <= Math.max(...seen)) reasons.push('counter-not-rising');
  }

  if (input.maxVerificationsPerDay !== undefined) {
    const inWindow = earlier.filter((e) => current.at - e.at < rules.rateWindowMs).length + 1;
    if (inWindow > input.maxVerificationsPerDay) reasons.push('verification-rate-exceeded');
  }

  if (current.keyTag !== undefined && input.imeiHistory) {
    const clash = input.imeiHistory.some((e) => e.keyTag !== undefined && e.keyTag !== current.keyTag && current.at - e.at < rules.imeiWindowMs);
    if (clash) reasons.push('imei-key-conflict');
  }
  return reasons;
}

function impossibleTravel(current: VerificationEvent, earlier: readonly VerificationEvent[], maxSpeedKmh: number): boolean {
  const here = placeOf(current.location);
  if (!here) return false;
  for (let i = earlier.length - 1; i >= 0; i--) {
    const there = placeOf(earlier[i]!.location);
    if (!there) continue;
    const km = minDistanceKm(here, there);
    if (km === 0) return false;
    const hours = (current.at - earlier[i]!.at) / 3600_000;
    return hours <= 0 || km / hours > maxSpeedKmh;
  }
  return false;
}
