import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DOIP_CERT_FILE, DOIP_KEY_FILE, loadOrCreateDevCertificate } from '../../src/service/tls-cert.js';

/** The DOIP development certificate: generated once into the certs directory, then reused. */

const dirs: string[] = [];
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-cert-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the DOIP development certificate', () => {
  it('is self-signed for localhost and 127.0.0.1, its key private to the owner', () => {
    const dir = fresh();
    const c = loadOrCreateDevCertificate(dir);
    expect(c.generated).toBe(true);
    const x509 = new X509Certificate(c.cert);
    expect(x509.subject).toContain('CN=localhost');
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x509.checkIssued(x509)).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(c.key))).toBe(true);
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(Date.parse(x509.validTo) - Date.now()).toBeGreaterThan(300 * 24 * 3600 * 1000);
    expect(statSync(join(dir, DOIP_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(c.fingerprint).toBe(x509.fingerprint256);
  });

  it('is reused on later starts', () => {
    const dir = fresh();
    const first = loadOrCreateDevCertificate(dir);
    const second = loadOrCreateDevCertificate(dir);
    expect(second.generated).toBe(false);
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(second.key).toBe(first.key);
  });

  it('is replaced when it is about to expire, or when it no longer matches its key', () => {
    const dir = fresh();
    const first = loadOrCreateDevCertificate(dir);
    const nearEnd = new Date(Date.now() + 365 * 24 * 3600 * 1000);
    const renewed = loadOrCreateDevCertificate(dir, nearEnd);
    expect(renewed.generated).toBe(true);
    expect(renewed.fingerprint).not.toBe(first.fingerprint);
    const other = loadOrCreateDevCertificate(fresh());
    writeFileSync(join(dir, DOIP_CERT_FILE), other.cert);
    expect(loadOrCreateDevCertificate(dir).generated).toBe(true);
  });
});
