import { createHmac, randomBytes } from 'node:crypto';
import type { VerificationEvent } from './anomalies.js';

/**
 * The verification log the anomaly rules read: per subject (an item, an IMEI), its recent accepted
 * verifications. What it keeps is deliberately little:
 *
 * - subjects and device keys only as keyed hashes: HMAC-SHA-256 with a service secret, truncated to
 *   128 bits, base64url. Without the secret nobody can test whether a given item, IMEI or key is in
 *   the log. The secret is made at random when the process starts unless one is given, so the log
 *   cannot be linked across restarts either.
 * - time, the coarse location the verifier gave (country, geohash of at most 5 characters), a SUN
 *   counter; nothing about the verifier (no address, no purpose).
 * - entries older than the retention (default 30 days) are dropped; per subject at most
 *   `maxEventsPerSubject` (default 64, the newest), and at most `maxSubjects` subjects (default
 *   100,000, the least recently written go first).
 *
 * Decision: the log lives in memory, not in LevelDB. It is only ever read by the anomaly rules, a
 * restart losing it costs at most a missed clone flag, and it keeps personal-ish data off the
 * disk. The one piece of state whose loss would matter, the SUN read counter high-water mark, is
 * kept in LevelDB instead (sun-counters.ts).
 */
export interface VerificationLogOptions {
  readonly secret?: Uint8Array;
  readonly retentionMs?: number;
  readonly maxEventsPerSubject?: number;
  readonly maxSubjects?: number;
  readonly now?: () => number;
}

export type SubjectKind = 'item' | 'imei' | 'key';

export const DEFAULT_RETENTION_MS = 30 * 24 * 3600_000;

export class VerificationLog {
  private readonly secret: Uint8Array;
  private readonly retentionMs: number;
  private readonly maxEvents: number;
  private readonly maxSubjects: number;
  private readonly now: () => number;
  private readonly subjects = new Map<string, VerificationEvent[]>();

  constructor(options: VerificationLogOptions = {}) {
    this.secret = options.secret ?? randomBytes(32);
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.maxEvents = Math.max(1, options.maxEventsPerSubject ?? 64);
    this.maxSubjects = Math.max(1, options.maxSubjects ?? 100_000);
    this.now = options.now ?? Date.now;
  }

  /** The keyed hash a subject is logged under. */
  tag(kind: SubjectKind, id: string): string {
    return createHmac('sha256', this.secret).update(`${kind}\u0000${id}`).digest().subarray(0, 16).toString('base64url');
  }

  /** Recent events of a subject (by its tag), oldest first. */
  recent(subjectTag: string): VerificationEvent[] {
    const events = this.subjects.get(subjectTag);
    if (!events) return [];
    const cutoff = this.now() - this.retentionMs;
    const kept = events.filter((e) => e.at >= cutoff);
    if (kept.length === 0) this.subjects.delete(subjectTag);
    else if (kept.length !== events.length) this.subjects.set(subjectTag, kept);
    return kept;
  }

  append(subjectTag: string, event: VerificationEvent): void {
    const events = this.recent(subjectTag);
    events.push(event);
    if (events.length > this.maxEvents) events.splice(0, events.length - this.maxEvents);
    // Re-insert: the map's order is least recently written first.
    this.subjects.delete(subjectTag);
    this.subjects.set(subjectTag, events);
    while (this.subjects.size > this.maxSubjects) this.subjects.delete(this.subjects.keys().next().value!);
    this.sweepSome();
  }

  get size(): number {
    return this.subjects.size;
  }

  /** Everything the log holds, for tests and audits: tags and events only. */
  dump(): Array<[string, readonly VerificationEvent[]]> {
    return [...this.subjects.entries()];
  }

  /** Expires a few of the least recently written subjects per write, so idle ones go too. */
  private sweepSome(): void {
    const cutoff = this.now() - this.retentionMs;
    let budget = 4;
    for (const [tag, events] of this.subjects) {
      if (budget-- <= 0) break;
      if (events.every((e) => e.at < cutoff)) this.subjects.delete(tag);
    }
  }
}
