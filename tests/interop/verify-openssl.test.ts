import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';
import { hasTool } from '../helpers/tools.js';

/**
 * Device verification against certificates, signatures and a CRL made by the openssl command line
 * (issue 6, "Tests with tools Cairn did not write"): a P-256 root, intermediate and device
 * certificate; the anchors registered; the challenge bytes signed by `openssl dgst -sha256 -sign`
 * with the device key; a CRL made by `openssl ca`. The verdict token is checked by
 * `openssl pkeyutl -verify` against the key published in the JWKS, turned into a PEM by hand
 * (SPKI prefix + raw key), so no Cairn code and no node:crypto takes part in that check. The
 * challenge bytes are written here by hand too (sorted members, no white space), not by Cairn's JCS.
 */
const OPENSSL = hasTool('openssl');

function openssl(cwd: string, args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const CA_CONFIG = `
[ ca ]
default_ca = int
[ int ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
crlnumber = ./crlnumber
certificate = ./int.pem
private_key = ./int.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = any
unique_subject = no
[ any ]
commonName = supplied
[ device ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_int ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** A root, an intermediate run as an `openssl ca`, and one device certificate, in `dir`. */
function makePki(dir: string, label: string): void {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  const ec = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out'];
  openssl(dir, [...ec, 'root.key']);
  openssl(dir, ['req', '-x509', '-new', '-key', 'root.key', '-subj', `/CN=${label} Root`, '-days', '3650', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'root.pem']);
  openssl(dir, [...ec, 'int.key']);
  openssl(dir, ['req', '-new', '-key', 'int.key', '-subj', `/CN=${label} Intermediate`, '-out', 'int.csr']);
  openssl(dir, ['x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '1825', '-sha256',
    '-extfile', 'ca.cnf', '-extensions', 'v3_int', '-out', 'int.pem']);
  openssl(dir, [...ec, 'device.key']);
  openssl(dir, ['req', '-new', '-key', 'device.key', '-subj', `/CN=${label} Device 1`, '-out', 'device.csr']);
  openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-extensions', 'device', '-in', 'device.csr', '-out', 'device.pem', '-notext']);
}

/** The challenge bytes, written out by hand: RFC 8785 puts the members in this order, no spaces. */
const challengeBytes = (c: { challengeId: string; nonce: string; id: string; service: string }): string =>
  `{"cid":${JSON.stringify(c.challengeId)},"id":${JSON.stringify(c.id)},"nonce":${JSON.stringify(c.nonce)},"svc":${JSON.stringify(c.service)},"v":1}`;

/** A JWK's public key as an SPKI PEM, from the fixed DER prefixes (RFC 8410 for Ed25519, RFC 5480 for P-256). */
function jwkToPem(jwk: Record<string, string>): string {
  const raw = (s: string): Buffer => Buffer.from(s, 'base64url');
  let der: Buffer;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw(jwk.x!)]);
  else if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    der = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), Buffer.from([4]), raw(jwk.x!), raw(jwk.y!)]);
  } else throw new Error(`No PEM recipe for ${jwk.kty}/${jwk.crv}`);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;
}

/** JWS ES256 r||s as the DER openssl dgst -verify reads. */
function rawToDer(sig: Buffer): Buffer {
  const int = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const body = v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v;
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const seq = Buffer.concat([int(sig.subarray(0, 32)), int(sig.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, seq.length]), seq]);
}

describe.runIf(OPENSSL)('device verification with openssl-made certificates, signatures and CRLs', () => {
  let t: TestService;
  let root: string;
  let acme: string;
  let other: string;
  let prefix: string;
  let auth: string;

  const request = (method: 'POST' | 'PUT' | 'GET', url: string, body?: unknown, a: string | null = null) =>
    t.app.inject({
      method, url,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(a ? { authorization: a } : {}) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  async function signedChallenge(keyDir: string): Promise<{ challengeId: string; nonce: string; signature: string }> {
    const c = (await request('POST', '/api/verify/challenges', { id: `${prefix}/D-1` })).json();
    writeFileSync(join(keyDir, 'challenge.json'), challengeBytes(c));
    openssl(keyDir, ['dgst', '-sha256', '-sign', 'device.key', '-out', 'challenge.sig', 'challenge.json']);
    return { challengeId: c.challengeId, nonce: c.nonce, signature: readFileSync(join(keyDir, 'challenge.sig')).toString('base64url') };
  }

  const verify = (body: unknown) => request('POST', '/api/verify', body);
  const chainOf = (dir: string): string[] => [readFileSync(join(dir, 'device.pem'), 'utf8'), readFileSync(join(dir, 'int.pem'), 'utf8')];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cairn-verify-openssl-'));
    acme = join(root, 'acme');
    other = join(root, 'other');
    makePki(acme, 'Acme');
    makePki(other, 'Other');
    t = await startTestService();
    const m = (await request('POST', '/api/manufacturers', { name: 'Acme Devices' }, adminAuth())).json();
    prefix = m.prefix;
    auth = basic(m.identity, m.secret);
    const anchors = await request('PUT', `/api/manufacturers/${prefix}/anchors`, { anchors: [readFileSync(join(acme, 'root.pem'), 'utf8'), readFileSync(join(acme, 'int.pem'), 'utf8')] }, auth);
    expect(anchors.statusCode, anchors.body).toBe(200);
    const cls = await request('PUT', `/api/products/${prefix}/classes/meter`, { name: 'Meter', model: 'M-1', evidence: 'x509-chain' }, auth);
    expect(cls.statusCode, cls.body).toBe(201);
    const item = await request('PUT', `/api/products/${prefix}/items/D-1`, { class: 'meter', deviceCertificate: readFileSync(join(acme, 'device.pem'), 'utf8') }, auth);
    expect(item.statusCode, item.body).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
    rmSync(root, { recursive: true, force: true });
  });

  let first: { challengeId: string; nonce: string; signature: string };
  let firstToken: string;

  it('openssl signs the challenge as the device: genuine', async () => {
    first = await signedChallenge(acme);
    const res = await verify({ id: `${prefix}/D-1`, challengeId: first.challengeId, evidence: { type: 'x509-chain', chain: chainOf(acme), signature: first.signature } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ verdict: 'genuine', reasons: ['x509-chain-verified'], assurance: 'x509-chain', item: { class: 'meter', manufacturer: 'Acme Devices' } });
    firstToken = res.json().token;
  });

  it('the verdict token verifies with openssl against the JWKS key', async () => {
    const [h, p, s] = firstToken.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    expect(header.typ).toBe('verdict+jwt');
    expect(payload).toMatchObject({ sub: `${prefix}/D-1`, nonce: first.nonce, verdict: 'genuine', iss: '0.NA/20.5000' });
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(300);
    const jwks = (await request('GET', '/.well-known/jwks.json')).json() as { keys: Record<string, string>[] };
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    expect(jwk).toBeDefined();
    writeFileSync(join(root, 'service.pem'), jwkToPem(jwk));
    writeFileSync(join(root, 'token.input'), `${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const check = (input: string): ReturnType<typeof spawnSync> => {
      writeFileSync(join(root, 'token.input'), input);
      if (header.alg === 'EdDSA') {
        writeFileSync(join(root, 'token.sig'), sig);
        return spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'service.pem', '-rawin', '-in', 'token.input', '-sigfile', 'token.sig'], { cwd: root, encoding: 'utf8' });
      }
      writeFileSync(join(root, 'token.sig'), rawToDer(sig));
      return spawnSync('openssl', ['dgst', '-sha256', '-verify', 'service.pem', '-signature', 'token.sig', 'token.input'], { cwd: root, encoding: 'utf8' });
    };
    const ok = check(`${h}.${p}`);
    expect(ok.status, String(ok.stderr)).toBe(0);
    expect(String(ok.stdout)).toMatch(/Verified OK|Signature Verified Successfully/);
    const forged = Buffer.from(JSON.stringify({ ...payload, verdict: 'genuine', sub: `${prefix}/D-2` })).toString('base64url');
    expect(check(`${h}.${forged}`).status).not.toBe(0);
  });

  it('a flipped signature byte: signature-invalid', async () => {
    const c = await signedChallenge(acme);
    const sig = Buffer.from(c.signature, 'base64url');
    sig[sig.length - 5]! ^= 0x01;
    const res = await verify({ id: `${prefix}/D-1`, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: chainOf(acme), signature: sig.toString('base64url') } });
    expect(res.json()).toMatchObject({ verdict: 'signature-invalid', reasons: ['signature-mismatch'] });
  });

  it('a reused challenge is refused', async () => {
    const res = await verify({ id: `${prefix}/D-1`, challengeId: first.challengeId, evidence: { type: 'x509-chain', chain: chainOf(acme), signature: first.signature } });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('ERR_VERIFY_CHALLENGE_USED');
  });

  it('a device certificate from another chain: signature-invalid with a chain reason', async () => {
    const c = await signedChallenge(other);
    const res = await verify({ id: `${prefix}/D-1`, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: chainOf(other), signature: c.signature } });
    expect(res.json()).toMatchObject({ verdict: 'signature-invalid', reasons: ['leaf-not-registered', 'chain-untrusted'] });
  });

  it('revoked by a CRL made with openssl ca', async () => {
    openssl(acme, ['ca', '-batch', '-config', 'ca.cnf', '-revoke', 'device.pem']);
    openssl(acme, ['ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem']);
    const up = await request('PUT', `/api/manufacturers/${prefix}/crls`, { crls: [readFileSync(join(acme, 'crl.pem'), 'utf8')] }, auth);
    expect(up.statusCode, up.body).toBe(200);
    const c = await signedChallenge(acme);
    const res = await verify({ id: `${prefix}/D-1`, challengeId: c.challengeId, evidence: { type: 'x509-chain', chain: chainOf(acme), signature: c.signature } });
    expect(res.json()).toMatchObject({ verdict: 'revoked', reasons: ['certificate-revoked'] });
  });
});
