/**
 * The vocabulary of verification answers: verdicts, reasons and assurance levels. Stable strings;
 * clients match on them, and the README lists them.
 */
export const VERDICTS = [
  'genuine',
  'registered-unproven',
  'unknown',
  'revoked',
  'blocked',
  'consumed',
  'suspected-clone',
  'signature-invalid',
  'expired',
  'not-yet-valid',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export const REASONS = [
  // The record
  'item-not-registered',
  'item-withdrawn',
  'item-stolen',
  'item-consumed',
  'item-destroyed',
  'item-recalled',
  'device-key-compromised',
  // What was proven
  'device-signature-verified',
  'x509-chain-verified',
  'sun-verified',
  'class-requires-no-evidence',
  'evidence-missing',
  'evidence-type-not-accepted',
  // Evidence that failed
  'device-key-missing',
  'device-key-unsupported',
  'device-certificate-missing',
  'signature-malformed',
  'signature-mismatch',
  'chain-malformed',
  'no-trust-anchor',
  'chain-untrusted',
  'chain-not-ca',
  'leaf-not-registered',
  'leaf-key-usage',
  'certificate-revoked',
  'certificate-expired',
  'certificate-not-yet-valid',
  'sun-keys-missing',
  'sun-picc-invalid',
  'sun-cmac-mismatch',
  'sun-uid-mismatch',
  // Clone and anomaly rules
  'impossible-travel',
  'scan-after-consumed',
  'scan-after-destroyed',
  'counter-not-rising',
  'verification-rate-exceeded',
  'imei-key-conflict',
] as const;
export type Reason = (typeof REASONS)[number];

/**
 * What the verdict rests on: nothing (`none`), the registry record alone (`record`), a tag MAC with
 * keys the service holds (`sun`), a signature by the registered device key (`device-signature`), or
 * one by a certified key chaining to the manufacturer's anchors (`x509-chain`).
 */
export type Assurance = 'none' | 'record' | 'sun' | 'device-signature' | 'x509-chain';

export type EvidenceType = 'none' | 'device-signature' | 'x509-chain' | 'sun';
export const EVIDENCE_TYPES: readonly EvidenceType[] = ['none', 'device-signature', 'x509-chain', 'sun'];

/** Item lifecycle states the registry records. */
export type ItemStatus = 'active' | 'recalled' | 'stolen' | 'consumed' | 'destroyed' | 'key-compromised';
