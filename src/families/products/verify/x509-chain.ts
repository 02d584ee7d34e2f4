import * as pkijs from 'pkijs';

/**
 * X.509 path validation for `x509-chain` evidence, behind one interface so that another engine can
 * take pkijs's place. The pkijs implementation:
 *
 * 1. Parses the presented chain (leaf first, then intermediates), the manufacturer's anchors and
 *    CRLs. A presented certificate that does not parse is `chain-malformed`; an anchor or CRL that
 *    does not parse is skipped (the registry checked them when they were uploaded).
 * 2. Builds and checks the path with pkijs's CertificateChainValidationEngine: signatures, name
 *    chaining, CA basic constraints and keyCertSign on every issuer, policies and name constraints.
 *    pkijs takes the leaf as the LAST certificate of `certs`, so the presented order is reversed.
 *    An anchor may be a root or an intermediate: the path ends at the first trusted certificate.
 *    The path is built at a date inside the presented certificates' common validity, so that a
 *    trusted but expired certificate is reported as `expired` (step 4) rather than as untrusted.
 * 3. Revocation: for each certificate of the path below the anchor, every CRL named by its issuer
 *    and signed by the path's issuer certificate is consulted; a listed serial is `revoked`. A CRL
 *    past its nextUpdate still counts for the serials it lists (revocation is permanent); no CRL
 *    for an issuer means "not known to be revoked".
 * 4. Validity at the verification time, for every certificate of the path, anchor included:
 *    `not-yet-valid` before notBefore, `expired` after notAfter.
 * 5. The leaf must carry keyUsage with digitalSignature (a device attestation certificate signs).
 *
 * The caller then checks that the leaf is the certificate registered on the item and that the
 * challenge signature verifies with the leaf key (x509-evidence.ts).
 */
export interface ChainInput {
  /** DER certificates, leaf first. */
  readonly chain: readonly Uint8Array[];
  /** DER certificates the manufacturer registered as trust anchors. */
  readonly anchors: readonly Uint8Array[];
  /** DER CRLs the manufacturer uploaded. */
  readonly crls: readonly Uint8Array[];
  readonly at: Date;
}

export type ChainVerdict = 'signature-invalid' | 'revoked' | 'expired' | 'not-yet-valid';
export type ChainReason =
  | 'chain-malformed'
  | 'no-trust-anchor'
  | 'chain-untrusted'
  | 'chain-not-ca'
  | 'certificate-revoked'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'leaf-key-usage';

export type ChainOutcome =
  | { readonly ok: true; readonly leafSpki: Buffer; readonly pathLength: number }
  | { readonly ok: false; readonly verdict: ChainVerdict; readonly reasons: readonly ChainReason[] };

export interface ChainVerifier {
  verify(input: ChainInput): Promise<ChainOutcome>;
}

/** Most certificates a presented chain may hold. */
export const MAX_CHAIN_LENGTH = 8;

const fail = (verdict: ChainVerdict, ...reasons: ChainReason[]): ChainOutcome => ({ ok: false, verdict, reasons });

function parse<T>(der: Uint8Array, make: (raw: ArrayBuffer) => T): T | undefined {
  try {
    return make(new Uint8Array(der).buffer);
  } catch {
    return undefined;
  }
}

const certificate = (der: Uint8Array): pkijs.Certificate | undefined => parse(der, (raw) => pkijs.Certificate.fromBER(raw));
const crl = (der: Uint8Array): pkijs.CertificateRevocationList | undefined => parse(der, (raw) => pkijs.CertificateRevocationList.fromBER(raw));

const KEY_USAGE = '2.5.29.15';
const DIGITAL_SIGNATURE = 0x80;
/** pkijs result codes meaning an issuer is not a CA (or lacks keyCertSign). */
const NOT_CA_CODES = new Set([3, 4, 7, 14]);

export class PkijsChainVerifier implements ChainVerifier {
  async verify(input: ChainInput): Promise<ChainOutcome> {
    if (input.chain.length === 0 || input.chain.length > MAX_CHAIN_LENGTH) return fail('signature-invalid', 'chain-malformed');
    const chain: pkijs.Certificate[] = [];
    for (const der of input.chain) {
      const c = certificate(der);
      if (!c) return fail('signature-invalid', 'chain-malformed');
      chain.push(c);
    }
    const anchors = input.anchors.map(certificate).filter((c): c is pkijs.Certificate => c !== undefined);
    if (anchors.length === 0) return fail('signature-invalid', 'no-trust-anchor');
    const crls = input.crls.map(crl).filter((c): c is pkijs.CertificateRevocationList => c !== undefined);

    const path = await this.buildPath(chain, anchors, input.at);
    if (!path.ok) return path;
    const certs = path.certs;

    for (let i = 0; i < certs.length - 1; i++) {
      if (await isRevoked(certs[i]!, certs[i + 1]!, crls)) return fail('revoked', 'certificate-revoked');
    }
    const at = input.at.getTime();
    if (certs.some((c) => c.notBefore.value.getTime() > at)) return fail('not-yet-valid', 'certificate-not-yet-valid');
    if (certs.some((c) => c.notAfter.value.getTime() < at)) return fail('expired', 'certificate-expired');
    const leaf = certs[0]!;
    if (!hasKeyUsage(leaf, DIGITAL_SIGNATURE)) return fail('signature-invalid', 'leaf-key-usage');
    return { ok: true, leafSpki: Buffer.from(leaf.subjectPublicKeyInfo.toSchema().toBER(false)), pathLength: certs.length };
  }

  private async buildPath(
    chain: readonly pkijs.Certificate[],
    anchors: readonly pkijs.Certificate[],
    at: Date,
  ): Promise<{ ok: true; certs: pkijs.Certificate[] } | { ok: false; verdict: ChainVerdict; reasons: ChainReason[] }> {
    // A date at which every presented certificate is valid, as close to `at` as possible.
    const from = Math.max(...chain.map((c) => c.notBefore.value.getTime()));
    const to = Math.min(...chain.map((c) => c.notAfter.value.getTime()));
    const checkDate = from <= to ? new Date(Math.min(Math.max(at.getTime(), from), to)) : at;
    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: [...anchors],
      certs: [...chain].reverse(),
      checkDate,
    });
    let result: Awaited<ReturnType<pkijs.CertificateChainValidationEngine['verify']>>;
    try {
      result = await engine.verify();
    } catch {
      return { ok: false, verdict: 'signature-invalid', reasons: ['chain-untrusted'] };
    }
    if (result.result && result.certificatePath && result.certificatePath.length >= 2) return { ok: true, certs: result.certificatePath };
    if (result.resultCode === 8) {
      // The path needs an anchor that is not valid at the check date.
      const t = at.getTime();
      if (anchors.some((a) => a.notBefore.value.getTime() > t)) return { ok: false, verdict: 'not-yet-valid', reasons: ['certificate-not-yet-valid'] };
      return { ok: false, verdict: 'expired', reasons: ['certificate-expired'] };
    }
    return { ok: false, verdict: 'signature-invalid', reasons: [NOT_CA_CODES.has(result.resultCode) ? 'chain-not-ca' : 'chain-untrusted'] };
  }
}

async function isRevoked(cert: pkijs.Certificate, issuer: pkijs.Certificate, crls: readonly pkijs.CertificateRevocationList[]): Promise<boolean> {
  for (const list of crls) {
    if (!list.issuer.isEqual(cert.issuer)) continue;
    let signed = false;
    try {
      signed = await list.verify({ issuerCertificate: issuer });
    } catch {
      signed = false;
    }
    if (signed && list.isCertificateRevoked(cert)) return true;
  }
  return false;
}

function hasKeyUsage(cert: pkijs.Certificate, bit: number): boolean {
  const ext = cert.extensions?.find((e) => e.extnID === KEY_USAGE);
  const parsed = ext?.parsedValue as { valueBlock?: { valueHexView?: Uint8Array } } | undefined;
  const bits = parsed?.valueBlock?.valueHexView;
  return bits !== undefined && bits.length > 0 && (bits[0]! & bit) === bit;
}
