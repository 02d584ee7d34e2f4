import { createPublicKey } from 'node:crypto';
import { verifyDeviceSignature, type DeviceKey } from './device-signature.js';
import { pemBlock } from './pem.js';
import type { ChainReason, ChainVerdict, ChainVerifier } from './x509-chain.js';

/**
 * `x509-chain` evidence: the device presents its certificate chain (leaf first, PEM) and a signature
 * over the challenge message. Genuine when
 *   - the leaf is byte for byte the certificate registered on the item,
 *   - the chain validates to one of the manufacturer's anchors at the verification time, unrevoked
 *     (x509-chain.ts), and
 *   - the challenge signature verifies with the leaf's public key (Ed25519 or P-256, raw or DER).
 * A leaf that is not the registered one is reported together with what the chain check found, so a
 * certificate from another chain answers `signature-invalid` with both `leaf-not-registered` and
 * `chain-untrusted`.
 */
export type X509Reason = ChainReason | 'leaf-not-registered' | 'device-key-unsupported' | 'signature-malformed' | 'signature-mismatch';

export type X509Outcome =
  | { readonly ok: true; readonly leaf: Buffer }
  | { readonly ok: false; readonly verdict: ChainVerdict; readonly reasons: readonly X509Reason[] };

export interface X509EvidenceInput {
  /** PEM certificates, leaf first. */
  readonly chain: readonly string[];
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  /** DER of the certificate registered on the item. */
  readonly registeredLeaf: Uint8Array;
  readonly anchors: readonly Uint8Array[];
  readonly crls: readonly Uint8Array[];
  readonly at: Date;
}

export async function verifyX509Evidence(verifier: ChainVerifier, input: X509EvidenceInput): Promise<X509Outcome> {
  const chain: Buffer[] = [];
  for (const pem of input.chain) {
    const der = pemBlock(pem, 'CERTIFICATE');
    if (!der) return { ok: false, verdict: 'signature-invalid', reasons: ['chain-malformed'] };
    chain.push(der);
  }
  const leafMatches = chain.length > 0 && chain[0]!.equals(input.registeredLeaf);
  const outcome = await verifier.verify({ chain, anchors: input.anchors, crls: input.crls, at: input.at });
  if (!outcome.ok && outcome.reasons.includes('chain-malformed')) return outcome;
  if (!leafMatches) {
    return { ok: false, verdict: 'signature-invalid', reasons: ['leaf-not-registered', ...(outcome.ok ? [] : outcome.reasons)] };
  }
  if (!outcome.ok) return outcome;
  const key = leafKey(outcome.leafSpki);
  if (!key) return { ok: false, verdict: 'signature-invalid', reasons: ['device-key-unsupported'] };
  const sig = verifyDeviceSignature(key, input.message, input.signature);
  if (!sig.ok) return { ok: false, verdict: 'signature-invalid', reasons: [sig.reason] };
  return { ok: true, leaf: chain[0]! };
}

function leafKey(spki: Buffer): DeviceKey | undefined {
  try {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType === 'ed25519') return { alg: 'Ed25519', key };
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { alg: 'ES256', key };
  } catch {
    // an unreadable key is an unsupported one
  }
  return undefined;
}
