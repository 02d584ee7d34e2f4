import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Forge from 'node-forge';
import { writeFileAtomic } from './atomic-file.js';

// node-forge (CommonJS) is loaded only when a certificate must be made: loading it costs about
// 100 ms of every start-up otherwise.
const loadForge = (): typeof Forge => createRequire(import.meta.url)('node-forge') as typeof Forge;

/**
 * The development TLS certificate of the DOIP listener, generated on first start into the certs
 * directory and reused on later starts:
 *
 *   doip-tls.key.pem   RSA-2048 private key (PKCS#8), mode 0600, never committed
 *   doip-tls.cert.pem  self-signed X.509 certificate, SHA-256, subject CN=localhost,
 *                      subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1; valid one year
 *
 * The key pair comes from node:crypto (fast); node-forge builds and signs the certificate (the one
 * place it is used: RSA development material, never a request path). A certificate that has
 * expired, expires within a day, or does not match its key is replaced on the next start.
 * Production deployments put their own certificate and key at these paths.
 */
export interface DevCertificate {
  readonly key: string;
  readonly cert: string;
  readonly keyFile: string;
  readonly certFile: string;
  /** SHA-256 fingerprint, `AA:BB:...`, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint: string;
  /** True when this call generated the pair. */
  readonly generated: boolean;
}

export const DOIP_KEY_FILE = 'doip-tls.key.pem';
export const DOIP_CERT_FILE = 'doip-tls.cert.pem';
const VALIDITY_DAYS = 365;
const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export function loadOrCreateDevCertificate(dir: string, now: Date = new Date()): DevCertificate {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, DOIP_KEY_FILE);
  const certFile = join(dir, DOIP_CERT_FILE);
  if (existsSync(keyFile) && existsSync(certFile)) {
    const key = readFileSync(keyFile, 'utf8');
    const cert = readFileSync(certFile, 'utf8');
    if (usable(key, cert, now)) return { key, cert, keyFile, certFile, fingerprint: new X509Certificate(cert).fingerprint256, generated: false };
  }
  const { key, cert } = generate(now);
  // Certificate first: a key file present means its certificate was written before it.
  writeFileAtomic(certFile, cert, 0o644);
  writeFileAtomic(keyFile, key, 0o600);
  return { key, cert, keyFile, certFile, fingerprint: new X509Certificate(cert).fingerprint256, generated: true };
}

function usable(key: string, cert: string, now: Date): boolean {
  try {
    const x509 = new X509Certificate(cert);
    if (Date.parse(x509.validTo) - now.getTime() < RENEW_BEFORE_MS) return false;
    if (Date.parse(x509.validFrom) > now.getTime()) return false;
    return x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

function generate(now: Date): { key: string; cert: string } {
  const forge = loadForge();
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // A positive serial: 16 random octets with the top bit cleared.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const name = [
    { name: 'commonName', value: 'localhost' },
    { name: 'organizationName', value: 'Cairn development' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    // Self-signed: clients that pin it as their CA (tests, `openssl s_client -CAfile`) need cA.
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}
