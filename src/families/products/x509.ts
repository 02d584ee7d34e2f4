import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AnchorExpired, AnchorNotCa, CertificateInvalid, CrlInvalid, CrlIssuerUnknown, CrlSignatureInvalid } from '../../errors.js';

/**
 * Certificates and CRLs a manufacturer registers, parsed with pkijs on asn1js:
 *
 * - PEM (RFC 7468): `-----BEGIN <label>-----`, Base64, `-----END <label>-----`; text between
 *   blocks is ignored, a block with another label, mismatched labels or bad Base64 is refused.
 *   Each DER must be exactly one SEQUENCE (no trailing bytes) of the right ASN.1 structure.
 *   Stored PEM is re-encoded canonically (64-column Base64, LF), so the same certificate is the
 *   same value whoever uploaded it and however.
 * - Trust anchors (roots or intermediates): a certificate whose basicConstraints say cA=TRUE and,
 *   when keyUsage is present, with keyCertSign (RFC 5280 6.1.4 (k), (n): a CA certificate without
 *   keyUsage may sign certificates, as OpenSSL's default CA profile makes them); its key EC P-256
 *   or RSA (at least 2048 bits); not expired (notAfter in the past). One that is not valid yet is
 *   accepted: a verification before then answers `not-yet-valid`.
 * - CRLs: each must be issued by a registered anchor (issuer name = the anchor's subject) and its
 *   signature must verify with that anchor's key.
 */
export interface ParsedCertificate {
  readonly der: Buffer;
  readonly pem: string;
  readonly cert: pkijs.Certificate;
  /** SHA-256 of the DER, hex. */
  readonly sha256: string;
}

export interface ParsedCrl {
  readonly der: Buffer;
  readonly pem: string;
  readonly crl: pkijs.CertificateRevocationList;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const KEY_CERT_SIGN = 0x04;
const MAX_PEM_CHARS = 64 * 1024;

/** DER blocks of `label`; `undefined` for text that holds no block or a malformed one. */
function pemBlocks(text: string, label: string, other: (found: string) => Error): Buffer[] | undefined {
  if (text.length > MAX_PEM_CHARS) return undefined;
  const out: Buffer[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, begin, body, end] = m as unknown as [string, string, string, string];
    if (begin !== end) return undefined;
    if (begin !== label) throw other(begin);
    const compact = body.replace(/[ \t\r\n]+/g, '');
    if (compact.length === 0 || !BASE64.test(compact)) return undefined;
    out.push(Buffer.from(compact, 'base64'));
  }
  return out.length === 0 ? undefined : out;
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** One DER SEQUENCE with nothing after it, as asn1js reads it. */
function derSchema(der: Buffer): asn1js.AsnType | undefined {
  const ab = new Uint8Array(der).buffer;
  const parsed = asn1js.fromBER(ab);
  if (parsed.offset === -1 || parsed.offset !== der.length || !(parsed.result instanceof asn1js.Sequence)) return undefined;
  return parsed.result;
}

function parseCertificateDer(der: Buffer, field: string): ParsedCertificate {
  const schema = derSchema(der);
  let cert: pkijs.Certificate | undefined;
  try {
    cert = schema ? new pkijs.Certificate({ schema }) : undefined;
  } catch {
    cert = undefined;
  }
  if (!cert) throw new CertificateInvalid(`${field}: the PEM block is not a DER X.509 certificate`, { field });
  return { der, pem: toPem(der, 'CERTIFICATE'), cert, sha256: createHash('sha256').update(der).digest('hex') };
}

/** Every `CERTIFICATE` block of the text (at least one), parsed (ERR_CERTIFICATE_INVALID otherwise). */
export function parseCertificates(text: unknown, field: string): ParsedCertificate[] {
  if (typeof text !== 'string') throw new CertificateInvalid(`${field} must be PEM text`, { field });
  const blocks = pemBlocks(text, 'CERTIFICATE', (found) => new CertificateInvalid(`${field}: a "${found}" PEM block is not a certificate`, { field, label: found }));
  if (!blocks) throw new CertificateInvalid(`${field} holds no well-formed PEM certificate (-----BEGIN CERTIFICATE-----)`, { field });
  return blocks.map((der) => parseCertificateDer(der, field));
}

/** Exactly one certificate. */
export function parseCertificate(text: unknown, field: string): ParsedCertificate {
  const certs = parseCertificates(text, field);
  if (certs.length !== 1) throw new CertificateInvalid(`${field} must hold exactly one certificate, not ${certs.length}`, { field });
  return certs[0]!;
}

/** The certificate's public key as node:crypto reads it (ERR_CERTIFICATE_INVALID when it cannot). */
export function certificatePublicKey(c: ParsedCertificate, field: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(c.cert.subjectPublicKeyInfo.toSchema().toBER(false)), format: 'der', type: 'spki' });
  } catch {
    throw new CertificateInvalid(`${field}: the certificate's public key cannot be read`, { field });
  }
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

/** A trust anchor: a CA (cA=TRUE; keyCertSign if keyUsage is present), EC P-256 or RSA >= 2048, not expired. */
export function checkAnchor(c: ParsedCertificate, field: string, now: Date): void {
  const bc = extension(c.cert, BASIC_CONSTRAINTS)?.parsedValue as pkijs.BasicConstraints | undefined;
  if (!(bc instanceof pkijs.BasicConstraints) || bc.cA !== true) {
    throw new AnchorNotCa(`${field}: basicConstraints does not say cA=TRUE: an end-entity certificate cannot be a trust anchor`, { field, sha256: c.sha256 });
  }
  const ku = extension(c.cert, KEY_USAGE);
  if (ku) {
    const bits = (ku.parsedValue as asn1js.BitString | undefined)?.valueBlock?.valueHexView;
    if (!bits || bits.length === 0 || (bits[0]! & KEY_CERT_SIGN) === 0) {
      throw new AnchorNotCa(`${field}: keyUsage lacks keyCertSign`, { field, sha256: c.sha256 });
    }
  }
  const key = certificatePublicKey(c, field);
  const details = key.asymmetricKeyDetails;
  const ok = (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') || (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048);
  if (!ok) throw new CertificateInvalid(`${field}: a trust anchor's key must be EC P-256 or RSA of at least 2048 bits`, { field, sha256: c.sha256 });
  const notAfter = c.cert.notAfter.value;
  if (notAfter.getTime() < now.getTime()) {
    throw new AnchorExpired(`${field}: expired at ${notAfter.toISOString()}`, { field, sha256: c.sha256, notAfter: notAfter.toISOString() });
  }
}

/** Every `X509 CRL` block of the text (at least one), parsed (ERR_CRL_INVALID otherwise). */
export function parseCrls(text: unknown, field: string): ParsedCrl[] {
  if (typeof text !== 'string') throw new CrlInvalid(`${field} must be PEM text`, { field });
  const blocks = pemBlocks(text, 'X509 CRL', (found) => new CrlInvalid(`${field}: a "${found}" PEM block is not a CRL (-----BEGIN X509 CRL-----)`, { field, label: found }));
  if (!blocks) throw new CrlInvalid(`${field} holds no well-formed PEM CRL (-----BEGIN X509 CRL-----)`, { field });
  return blocks.map((der) => {
    const schema = derSchema(der);
    let crl: pkijs.CertificateRevocationList | undefined;
    try {
      crl = schema ? new pkijs.CertificateRevocationList({ schema }) : undefined;
    } catch {
      crl = undefined;
    }
    if (!crl) throw new CrlInvalid(`${field}: the PEM block is not a DER X.509 CRL`, { field });
    return { der, pem: toPem(der, 'X509 CRL'), crl };
  });
}

/** The anchor that issued the CRL (by name, then by signature), or an error saying which check failed. */
export async function crlIssuer(c: ParsedCrl, anchors: readonly ParsedCertificate[], field: string): Promise<ParsedCertificate> {
  const named = anchors.filter((a) => a.cert.subject.isEqual(c.crl.issuer));
  if (named.length === 0) throw new CrlIssuerUnknown(`${field}: no registered trust anchor has the CRL's issuer name`, { field });
  for (const a of named) {
    let ok = false;
    try {
      ok = await c.crl.verify({ issuerCertificate: a.cert });
    } catch {
      ok = false;
    }
    if (ok) return a;
  }
  throw new CrlSignatureInvalid(`${field}: the CRL's signature does not verify with the key of its issuing anchor`, { field });
}

/** Short description of a certificate, for views. */
export function describeCertificate(c: ParsedCertificate) {
  return {
    subject: nameText(c.cert.subject),
    notBefore: c.cert.notBefore.value.toISOString(),
    notAfter: c.cert.notAfter.value.toISOString(),
    sha256: c.sha256,
  };
}

export function describeCrl(c: ParsedCrl) {
  return {
    issuer: nameText(c.crl.issuer),
    thisUpdate: c.crl.thisUpdate.value.toISOString(),
    ...(c.crl.nextUpdate ? { nextUpdate: c.crl.nextUpdate.value.toISOString() } : {}),
    revoked: c.crl.revokedCertificates?.length ?? 0,
    sha256: createHash('sha256').update(c.der).digest('hex'),
  };
}

const NAME_TYPES: Readonly<Record<string, string>> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };

function nameText(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => `${NAME_TYPES[tv.type] ?? tv.type}=${String((tv.value.valueBlock as { value?: unknown }).value ?? '')}`)
    .join(', ');
}
