import * as asn1js from 'asn1js';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import * as pkijs from 'pkijs';

/**
 * Test certificates and CRLs made with pkijs (WebCrypto keys, ECDSA P-256 by default), for the
 * verification tests that do not use the openssl command line.
 */
const subtle = webcrypto.subtle;
const DAY = 86_400_000;

export interface TestKeyPair {
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}

export async function p256(): Promise<TestKeyPair> {
  return (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as TestKeyPair;
}

export interface TestCert {
  readonly cert: pkijs.Certificate;
  readonly der: Buffer;
  readonly pem: string;
  readonly keys: TestKeyPair;
}

export interface CertOptions {
  readonly cn: string;
  /** Issuer; self-signed when absent. */
  readonly issuer?: TestCert;
  readonly ca?: boolean;
  readonly serial?: number;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Key usage byte (0x80 digitalSignature, 0x04 keyCertSign, 0x02 cRLSign); omitted when null. */
  readonly keyUsage?: number | null;
  readonly keys?: TestKeyPair;
}

let serials = 1000;

function name(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) as never })],
  });
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

export async function makeCert(o: CertOptions): Promise<TestCert> {
  const keys = o.keys ?? (await p256());
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: o.serial ?? serials++ }) as never;
  cert.subject = name(o.cn);
  cert.issuer = o.issuer ? o.issuer.cert.subject : name(o.cn);
  cert.notBefore.value = o.notBefore ?? new Date(Date.now() - DAY);
  cert.notAfter.value = o.notAfter ?? new Date(Date.now() + 365 * DAY);
  const extensions: pkijs.Extension[] = [];
  if (o.ca) {
    const bc = new pkijs.BasicConstraints({ cA: true });
    extensions.push(new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: bc.toSchema().toBER(false), parsedValue: bc }));
  }
  const usage = o.keyUsage === undefined ? (o.ca ? 0x06 : 0x80) : o.keyUsage;
  if (usage !== null) {
    // Trailing zero bits of the byte are unused (DER: no trailing zero bits in a named bit list).
    const unused = usage === 0 ? 0 : 31 - Math.clz32(usage & -usage);
    const bits = new asn1js.BitString({ valueHex: new Uint8Array([usage]).buffer, unusedBits: unused });
    extensions.push(new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: bits.toBER(false), parsedValue: bits }));
  }
  cert.extensions = extensions;
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);
  await cert.sign((o.issuer?.keys ?? keys).privateKey, 'SHA-256');
  const der = Buffer.from(cert.toSchema(true).toBER(false));
  return { cert: pkijs.Certificate.fromBER(der), der, pem: toPem(der), keys };
}

export async function makeCrl(issuer: TestCert, revokedSerials: readonly number[], nextUpdate = new Date(Date.now() + 7 * DAY)): Promise<{ der: Buffer; pem: string }> {
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1;
  crl.issuer = issuer.cert.subject;
  crl.thisUpdate = new pkijs.Time({ type: 0, value: new Date(Date.now() - 60_000) });
  crl.nextUpdate = new pkijs.Time({ type: 0, value: nextUpdate });
  if (revokedSerials.length > 0) {
    crl.revokedCertificates = revokedSerials.map(
      (s) => new pkijs.RevokedCertificate({ userCertificate: new asn1js.Integer({ value: s }) as never, revocationDate: new pkijs.Time({ type: 0, value: new Date(Date.now() - 30_000) }) }),
    );
  }
  await crl.sign(issuer.keys.privateKey, 'SHA-256');
  const der = Buffer.from(crl.toSchema(true).toBER(false));
  return { der, pem: toPem(der, 'X509 CRL') };
}

/** Signs like a device: ECDSA P-256 / SHA-256, raw r||s (WebCrypto's form). */
export async function deviceSign(keys: TestKeyPair, message: Uint8Array): Promise<Buffer> {
  return Buffer.from(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, message));
}

export function serialOf(c: TestCert): number {
  return c.cert.serialNumber.valueBlock.valueDec;
}

/** A root, an intermediate and a device certificate (serial returned for CRLs). */
export async function makeChain(label = 'Acme'): Promise<{ root: TestCert; intermediate: TestCert; device: TestCert }> {
  const root = await makeCert({ cn: `${label} Root`, ca: true });
  const intermediate = await makeCert({ cn: `${label} Intermediate`, ca: true, issuer: root });
  const device = await makeCert({ cn: `${label} Device`, issuer: intermediate });
  return { root, intermediate, device };
}
