import { createHmac, randomBytes } from 'node:crypto';
import type { VerificationEvent } from './anomalies.js';

/**
 * The verification log the anomaly rules read: per subject (an item, an IMEI), its recent accepted
 * verifications. What it keeps is deliberately little:
 *
 * - subjects and device keys only as keyed hashes: HMAC-SHA-256 with a service secret, truncated to
 *   128 bits, base64url. Without the secret nobody can test whether a given item, IMEI or key is in
 *   the log. The server keeps the secret in a file beside its signing keys (log-key-file.ts); without
 *   one given, it is made at random for this instance.
 * - time, the coarse location the verifier gave (country, geohash of at most 5 characters), a SUN
 *   counter; nothing about the verifier (no address, no purpose).
 * - entries older than the retention (default 30 days) are dropped; per subject at most
 *   `maxEventsPerSubject` (default 64, the newest), and at most `maxSubjects` subjects (default
 *   100,000, the least recently written go first).
 *
 * The log is read and written in memory; the server also persists it (log-store.ts: changed
 * subjects written to LevelDB about once a second, loaded at start), so that a restart does not
 * clear the clone rules' memory (an item verified in Berlin, restart, verified in Sydney a minute
 * later must still be impossible travel). The SUN read counters are persisted on every accepted
 * read instead (sun-counters.ts): losing one would allow a replay.
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
  /** Tags computed lately: the same items are verified again and again, and an HMAC costs a few µs. */
  private readonly tags = new Map<string, string>();
  /** Subjects changed since the last `takeChanges()` (written, expired or evicted). */
  private readonly changed = new Set<string>();

  constructor(options: VerificationLogOptions = {}) {
    this.secret = options.secret ?? randomBytes(32);
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.maxEvents = Math.max(1, options.maxEventsPerSubject ?? 64);
    this.maxSubjects = Math.max(1, options.maxSubjects ?? 100_000);
    this.now = options.now ?? Date.now;
  }

  /** The keyed hash a subject is logged under. */
  tag(kind: SubjectKind, id: string): string {
    const input = `${kind}\u0000${id}`;
    let tag = this.tags.get(input);
    if (tag === undefined) {
      tag = createHmac('sha256', this.secret).update(input).digest().subarray(0, 16).toString('base64url');
      if (this.tags.size >= 10_000) this.tags.clear();
      this.tags.set(input, tag);
    }
    return tag;
  }

  /** Recent events of a subject (by its tag), oldest first. */
  recent(subjectTag: string): VerificationEvent[] {
    const events = this.subjects.get(subjectTag);
    if (!events) return [];
    const cutoff = this.now() - this.retentionMs;
    const kept = events.filter((e) => e.at >= cutoff);
    if (kept.length === events.length) return kept;
    if (kept.length === 0) this.subjects.delete(subjectTag);
    else this.subjects.set(subjectTag, kept);
    this.changed.add(subjectTag);
    return kept;
  }

  append(subjectTag: string, event: VerificationEvent): void {
    const events = this.recent(subjectTag);
    events.push(event);
    if (events.length > this.maxEvents) events.splice(0, events.length - this.maxEvents);
    // Re-insert: the map's order is least recently written first.
    this.subjects.delete(subjectTag);
    this.subjects.set(subjectTag, events);
    this.changed.add(subjectTag);
    this.evictOverflow();
    this.sweepSome();
  }

  /**
   * Puts back a subject's events as persisted (oldest first), dropping expired ones; answers
   * whether anything was kept. (After a restart the eviction order is the load order.)
   */
  restore(subjectTag: string, events: readonly VerificationEvent[]): boolean {
    const cutoff = this.now() - this.retentionMs;
    const kept = events.filter((e) => e.at >= cutoff).slice(-this.maxEvents);
    if (kept.length === 0) return false;
    this.subjects.set(subjectTag, kept);
    this.evictOverflow();
    return true;
  }

  /** The subjects changed since the last call, with their events now (undefined: gone). */
  takeChanges(): Array<[string, readonly VerificationEvent[] | undefined]> {
    const out: Array<[string, readonly VerificationEvent[] | undefined]> = [...this.changed].map((tag) => [tag, this.subjects.get(tag)]);
    this.changed.clear();
    return out;
  }

  private evictOverflow(): void {
    while (this.subjects.size > this.maxSubjects) {
      const oldest = this.subjects.keys().next().value!;
      this.subjects.delete(oldest);
      this.changed.add(oldest);
    }
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
      if (events.every((e) => e.at < cutoff)) {
        this.subjects.delete(tag);
        this.changed.add(tag);
      }
    }
  }
}
