import { spawnSync } from 'node:child_process';
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { hasTool } from '../helpers/tools.js';

/**
 * The Handle challenge answered with keys made and signatures computed by the openssl CLI, as a
 * client outside Node would: the server nonce bytes then the client nonce bytes, signed from a key
 * file. Only the public key's conversion to a JWK (for registration) uses node:crypto.
 */
const OPENSSL = hasTool('openssl');

const run = (args: string[]): void => {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
};

const cases = [
  { name: 'RSA-2048 with SHA-256', gen: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], alg: 'SHA256', sign: ['dgst', '-sha256', '-sign'] },
  { name: 'RSA-2048 with SHA-1', gen: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], alg: 'SHA1', sign: ['dgst', '-sha1', '-sign'] },
  { name: 'ECDSA P-256', gen: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], alg: 'SHA256', sign: ['dgst', '-sha256', '-sign'] },
  { name: 'Ed25519', gen: ['-algorithm', 'ED25519'], alg: 'EdDSA', sign: ['pkeyutl', '-sign', '-rawin', '-inkey'] },
] as const;

describe.runIf(OPENSSL)('Handle challenge-response answered by openssl', () => {
  let t: TestService;
  let dir: string;
  beforeAll(async () => {
    t = await startTestService();
    dir = mkdtempSync(join(tmpdir(), 'cairn-challenge-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const key = join(dir, `key${i}.pem`);
    const pub = join(dir, `pub${i}.pem`);
    run(['genpkey', ...c.gen, '-out', key]);
    run(['pkey', '-in', key, '-pubout', '-out', pub]);
    const jwk = createPublicKey(readFileSync(pub)).export({ format: 'jwk' });
    const handle = `20.5000/openssl-${i}`;
    const registered = await t.app.inject({
      method: 'PUT',
      url: `/api/handles/${handle}`,
      headers: { 'content-type': 'application/json', authorization: adminAuth() },
      payload: JSON.stringify([{ index: 300, type: 'HS_PUBKEY', data: { format: 'key', value: jwk } }]),
    });
    expect(registered.statusCode).toBe(201);

    // The challenge, from a write without credentials.
    const denied = await t.app.inject({
      method: 'PUT',
      url: `/api/handles/${handle}?index=1`,
      remoteAddress: '127.0.0.1',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ index: 1, type: 'URL', data: 'https://example.org/openssl' }]),
    });
    expect(denied.statusCode).toBe(401);
    const challenge = ([] as string[]).concat(denied.headers['www-authenticate'] as string | string[]).find((h) => h.startsWith('Handle '))!;
    const [, sessionId, nonce] = /sessionId="([^"]+)", nonce="([^"]+)"/.exec(challenge)!;

    const cnonce = randomBytes(16);
    const message = join(dir, `msg${i}`);
    const signature = join(dir, `sig${i}`);
    writeFileSync(message, Buffer.concat([Buffer.from(nonce!, 'base64'), cnonce]));
    run([...c.sign, key, '-out', signature, ...(c.sign[0] === 'pkeyutl' ? ['-in', message] : [message])]);
    const authorization =
      `Handle sessionId="${sessionId}", id="300:${handle}", type="HS_PUBKEY", ` +
      `cnonce="${cnonce.toString('base64')}", alg="${c.alg}", signature="${readFileSync(signature).toString('base64')}"`;
    const res = await t.app.inject({ method: 'PUT', url: '/api/sessions/this', remoteAddress: '127.0.0.1', headers: { authorization } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ sessionId, authenticated: true, id: `300:${handle}` });
  });
});
