import { createHash } from 'node:crypto';
import {
  VerifyChallengeExpired,
  VerifyChallengeMismatch,
  VerifyChallengeRequired,
  VerifyChallengeUnknown,
  VerifyChallengeUsed,
  type CairnError,
} from '../../../errors.js';
import { findSignature } from '../../../signing/record-signature.js';
import type { Signer } from '../../../signing/signer.js';
import { DEFAULT_ANOMALY_RULES, detectAnomalies, type AnomalyRules, type VerificationEvent } from './anomalies.js';
import { challengeMessage } from './challenge-message.js';
import { ChallengeStore, type Challenge, type ChallengeRefusal } from './challenges.js';
import { decide, type EvidenceOutcome } from './decide.js';
import { deviceKeyFrom, verifyDeviceSignature, type DeviceKeyResult } from './device-signature.js';
import type { FindItem, FoundItem } from './item-port.js';
import { pemBlock } from './pem.js';
import { parseChallengeRequest, parseVerifyRequest, type Evidence, type VerifyRequest } from './request.js';
import { MemoryCounterStore, type CounterStore } from './sun-counters.js';
import { verifySun } from './ntag-sun.js';
import type { Registration, RegistrationSource } from './registration.js';
import { recordDigest, signVerdict, verdictClaims } from './verdict-token.js';
import type { Assurance, ItemStatus, Reason, Verdict } from './verdicts.js';
import { VerificationLog, type VerificationLogOptions } from './verification-log.js';
import { PkijsChainVerifier, type ChainVerifier } from './x509-chain.js';
import { verifyX509Evidence } from './x509-evidence.js';

/**
 * Device authenticity verification: challenges, evidence checks, clone rules and signed verdicts,
 * over the registry's `findItem`. No I/O of its own beyond the counter store it is given.
 *
 * Protocol (README, "Verifying a device"):
 * 1. `issueChallenge({id})` -> `{challengeId, nonce, expiresAt, service, id}` (id: the canonical
 *    item id the device signs).
 * 2. The device signs challengeMessage({service, id, nonce, challengeId}) (RFC 8785 JCS bytes).
 * 3. `verify({id, challengeId, evidence, context, proof})` -> `{id, verdict, reasons, assurance, item, token, registration}`
 *    (`registration`: the log's proof of the item's registration when `proof` is true, else null).
 *
 * `device-signature` and `x509-chain` evidence need a challenge; `sun` brings its own freshness
 * (the tag's read counter) and `none` proves nothing, so for them a challenge is optional, and if
 * given it is spent and its nonce echoed in the token. A challenge is spent on its first
 * presentation whatever the verdict; presenting it again, late, or for another item is refused
 * with a 4xx, not answered with a verdict.
 */
export interface VerifyServiceOptions {
  /** The service identity: `svc` in the signed message, `iss` of verdict tokens. */
  readonly service: string;
  /** Clock in milliseconds. */
  readonly now?: () => number;
  readonly challengeTtlSeconds?: number;
  readonly maxChallenges?: number;
  readonly tokenLifetimeSeconds?: number;
  readonly anomalyRules?: Partial<AnomalyRules>;
  readonly log?: Omit<VerificationLogOptions, 'now'>;
  readonly chainVerifier?: ChainVerifier;
  readonly counters?: CounterStore;
  /** The proof of an item's registration in the transparency log (none: every answer's `registration` is null). */
  readonly registrations?: RegistrationSource;
}

export interface ItemSummary {
  readonly class: string;
  readonly manufacturer: string;
  readonly status: string;
}

export interface VerifyAnswer {
  readonly id: string;
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly assurance: Assurance;
  readonly item: ItemSummary | null;
  readonly token: string;
  /** Inclusion proof of the item's registration with the signed tree head; null unless asked (`proof: true`), or when unknown or not (yet) logged. */
  readonly registration: Registration | null;
}

export interface ChallengeAnswer {
  readonly challengeId: string;
  readonly nonce: string;
  /** ISO 8601. */
  readonly expiresAt: string;
  readonly service: string;
  /** The canonical id the device signs (the identifier as given, for an unknown item). */
  readonly id: string;
}

const NEEDS_CHALLENGE: ReadonlySet<Evidence['type']> = new Set(['device-signature', 'x509-chain']);
const STATUSES: ReadonlySet<string> = new Set(['active', 'recalled', 'stolen', 'consumed', 'destroyed', 'key-compromised']);
const KEY_CACHE_SIZE = 10_000;

interface CachedKey {
  readonly key: DeviceKeyResult;
  readonly keyHash: string;
}

const REFUSALS: Readonly<Record<ChallengeRefusal, (m: string) => CairnError>> = {
  unknown: (m) => new VerifyChallengeUnknown(m),
  used: (m) => new VerifyChallengeUsed(m),
  expired: (m) => new VerifyChallengeExpired(m),
  'other-item': (m) => new VerifyChallengeMismatch(m),
};

const REFUSAL_TEXT: Readonly<Record<ChallengeRefusal, string>> = {
  unknown: 'No such challenge (never issued, or forgotten after it expired)',
  used: 'This challenge was already presented; ask for a new one',
  expired: 'This challenge expired; ask for a new one',
  'other-item': 'This challenge was issued for another item (it is spent now)',
};

export class VerifyService {
  readonly challenges: ChallengeStore;
  readonly log: VerificationLog;
  private readonly now: () => number;
  private readonly rules: AnomalyRules;
  private readonly chainVerifier: ChainVerifier;
  private readonly counters: CounterStore;
  private readonly keyCache = new Map<string, CachedKey>();
  /** The digest claim per record object (the registry hands out the same object while it is unchanged). */
  private readonly digests = new WeakMap<object, string | undefined>();

  constructor(
    private readonly findItem: FindItem,
    private readonly signer: Signer,
    private readonly options: VerifyServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.challenges = new ChallengeStore({ ttlSeconds: options.challengeTtlSeconds, maxEntries: options.maxChallenges, now: this.now });
    this.log = new VerificationLog({ ...options.log, now: this.now });
    this.rules = { ...DEFAULT_ANOMALY_RULES, ...options.anomalyRules };
    this.chainVerifier = options.chainVerifier ?? new PkijsChainVerifier();
    this.counters = options.counters ?? new MemoryCounterStore();
  }

  get service(): string {
    return this.options.service;
  }

  async issueChallenge(body: unknown): Promise<ChallengeAnswer> {
    const { id } = parseChallengeRequest(body);
    const found = await this.findItem(id);
    const c = this.challenges.issue(found?.handle ?? id, this.options.service);
    return { challengeId: c.challengeId, nonce: c.nonce, expiresAt: new Date(c.expiresAt).toISOString(), service: c.service, id: c.id };
  }

  async verify(body: unknown): Promise<VerifyAnswer> {
    const req = parseVerifyRequest(body);
    const found = await this.findItem(req.id);
    const subject = found?.handle ?? req.id;
    // Only when asked (it costs more than the rest of a verification); read beside the evidence
    // checks, and a log problem gives null, never a failed verification.
    const registration =
      req.proof && found && this.options.registrations ? this.options.registrations(found.handle).catch(() => null) : Promise.resolve(null);
    let challenge: Challenge | undefined;
    if (req.challengeId !== undefined) {
      const use = this.challenges.consume(req.challengeId, subject);
      if (!use.ok) throw REFUSALS[use.refusal](REFUSAL_TEXT[use.refusal]);
      challenge = use.challenge;
    } else if (NEEDS_CHALLENGE.has(req.evidence.type)) {
      throw new VerifyChallengeRequired(`Evidence "${req.evidence.type}" signs a challenge: ask POST /api/verify/challenges first and send its challengeId`);
    }
    const now = this.now();
    if (!found) {
      const d = decide({ found: false, presented: req.evidence.type });
      return this.answer(registration, subject, undefined, challenge, d.verdict, d.reasons, d.assurance, now);
    }

    const status = (STATUSES.has(found.item.status) ? found.item.status : 'active') as ItemStatus;
    const tombstoned = found.record.status === 'tombstoned';
    const facts = { found: true, tombstoned, status, required: found.cls.evidence, presented: req.evidence.type } as const;
    const fatal = tombstoned || status === 'stolen' || status === 'key-compromised';
    const checked = !fatal && req.evidence.type === found.cls.evidence && req.evidence.type !== 'none'
      ? await this.checkEvidence(found, req, challenge, now)
      : undefined;
    const first = decide({ ...facts, evidence: checked?.outcome });
    if (!first.accepted) return this.answer(registration, subject, found, challenge, first.verdict, first.reasons, first.assurance, now);

    // An accepted verification: run the clone rules over the log, then log it.
    const event: VerificationEvent = {
      at: now,
      ...(req.context.country || req.context.geohash ? { location: { country: req.context.country, geohash: req.context.geohash } } : {}),
      ...(checked?.counter !== undefined ? { counter: checked.counter } : {}),
      ...(checked?.keyHash !== undefined ? { keyTag: this.log.tag('key', checked.keyHash) } : {}),
    };
    const itemTag = this.log.tag('item', found.handle);
    const imeiTag = found.item.imei ? this.log.tag('imei', found.item.imei) : undefined;
    const anomalies = detectAnomalies(
      {
        status,
        current: event,
        history: this.log.recent(itemTag),
        ...(imeiTag ? { imeiHistory: this.log.recent(imeiTag) } : {}),
        ...(found.cls.maxVerificationsPerDay !== undefined ? { maxVerificationsPerDay: found.cls.maxVerificationsPerDay } : {}),
        ...(checked?.highestCounter !== undefined ? { highestCounter: checked.highestCounter } : {}),
      },
      this.rules,
    );
    const final = decide({ ...facts, evidence: checked?.outcome, anomalies });
    this.log.append(itemTag, event);
    if (imeiTag) this.log.append(imeiTag, event);
    return this.answer(registration, subject, found, challenge, final.verdict, final.reasons, final.assurance, now);
  }

  /** What `GET /01/{gtin}/21/{serial}` and the verification page show: no verdict, no history. */
  summary(found: FoundItem): ItemSummary {
    return { class: found.item.class, manufacturer: found.manufacturer.name, status: found.item.status };
  }

  private async answer(
    registration: Promise<Registration | null>,
    subject: string,
    found: FoundItem | undefined,
    challenge: Challenge | undefined,
    verdict: Verdict,
    reasons: readonly Reason[],
    assurance: Assurance,
    now: number,
  ): Promise<VerifyAnswer> {
    const proof = await registration;
    const claims = verdictClaims({
      issuer: this.options.service,
      subject,
      nonce: challenge?.nonce,
      verdict,
      reasons,
      assurance,
      version: found?.record.version,
      digest: found ? this.digestOf(found.record) : undefined,
      now: now / 1000,
      ...(proof ? { log: { leaf: proof.leaf.hash, treeSize: proof.treeSize } } : {}),
      ...(this.options.tokenLifetimeSeconds !== undefined ? { lifetimeSeconds: this.options.tokenLifetimeSeconds } : {}),
    });
    return { id: subject, verdict, reasons, assurance, item: found ? this.summary(found) : null, token: signVerdict(this.signer, claims), registration: proof };
  }

  private async checkEvidence(
    found: FoundItem,
    req: VerifyRequest,
    challenge: Challenge | undefined,
    now: number,
  ): Promise<{ outcome: EvidenceOutcome; counter?: number; highestCounter?: number; keyHash?: string }> {
    const ev = req.evidence;
    const message = (c: Challenge): Buffer => challengeMessage({ service: this.options.service, id: found.handle, nonce: c.nonce, challengeId: c.challengeId });
    switch (ev.type) {
      case 'device-signature': {
        const { key, keyHash } = this.deviceKey(found.item.devicePublicKey);
        if (!key.ok) return { outcome: { kind: 'unavailable', reasons: [key.reason] } };
        const r = verifyDeviceSignature(key.key, message(challenge!), ev.signature);
        if (!r.ok) return { outcome: { kind: 'failed', verdict: 'signature-invalid', reasons: [r.reason] } };
        return { outcome: { kind: 'verified', assurance: 'device-signature', reasons: ['device-signature-verified'] }, keyHash };
      }
      case 'x509-chain': {
        const registered = typeof found.item.deviceCertificate === 'string' ? pemBlock(found.item.deviceCertificate, 'CERTIFICATE') : undefined;
        if (!registered) return { outcome: { kind: 'unavailable', reasons: ['device-certificate-missing'] } };
        const r = await verifyX509Evidence(this.chainVerifier, {
          chain: ev.chain,
          signature: ev.signature,
          message: message(challenge!),
          registeredLeaf: registered,
          anchors: found.manufacturer.anchors.map((p) => pemBlock(p, 'CERTIFICATE')).filter((d): d is Buffer => d !== undefined),
          crls: found.manufacturer.crls.map((p) => pemBlock(p, 'X509 CRL')).filter((d): d is Buffer => d !== undefined),
          at: new Date(now),
        });
        if (!r.ok) return { outcome: { kind: 'failed', verdict: r.verdict, reasons: r.reasons } };
        return { outcome: { kind: 'verified', assurance: 'x509-chain', reasons: ['x509-chain-verified'] }, keyHash: sha256(r.leaf) };
      }
      case 'sun': {
        const keys = found.cls.sunKeys;
        const metaKey = keys && /^[0-9A-Fa-f]{32}$/.test(keys.metaKey) ? Buffer.from(keys.metaKey, 'hex') : undefined;
        const fileKey = keys && /^[0-9A-Fa-f]{32}$/.test(keys.fileKey) ? Buffer.from(keys.fileKey, 'hex') : undefined;
        if (!metaKey || !fileKey || !found.item.sunUid) return { outcome: { kind: 'unavailable', reasons: ['sun-keys-missing'] } };
        const r = verifySun({ metaKey, fileKey }, ev);
        if (!r.ok) return { outcome: { kind: 'failed', verdict: 'signature-invalid', reasons: [r.reason] } };
        if (r.uid !== found.item.sunUid.toUpperCase()) return { outcome: { kind: 'failed', verdict: 'signature-invalid', reasons: ['sun-uid-mismatch'] } };
        const raised = await this.counters.raise(r.uid, r.counter);
        return {
          outcome: { kind: 'verified', assurance: 'sun', reasons: ['sun-verified'] },
          counter: r.counter,
          ...(raised.highest !== undefined ? { highestCounter: raised.highest } : {}),
        };
      }
      default:
        throw new TypeError(`checkEvidence: ${ev.type}`);
    }
  }

  private digestOf(record: FoundItem['record']): string | undefined {
    if (this.digests.has(record)) return this.digests.get(record);
    const digest = recordDigest(findSignature(record.values)?.data);
    this.digests.set(record, digest);
    return digest;
  }

  /** The device key as a KeyObject with the hash of its SPKI, cached: both cost more than a verification. */
  private deviceKey(registered: unknown): CachedKey {
    const cacheKey = typeof registered === 'string' ? registered : JSON.stringify(registered ?? null);
    let cached = this.keyCache.get(cacheKey);
    if (!cached) {
      const key = deviceKeyFrom(registered);
      cached = { key, keyHash: key.ok ? sha256(key.key.key.export({ format: 'der', type: 'spki' })) : '' };
      if (this.keyCache.size >= KEY_CACHE_SIZE) this.keyCache.clear();
      this.keyCache.set(cacheKey, cached);
    }
    return cached;
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}
