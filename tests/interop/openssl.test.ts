import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { hasTool } from '../helpers/tools.js';

/** The openssl CLI checks record signatures with nothing but the JWKS Cairn publishes. */
const OPENSSL = hasTool('openssl');

/** JWS ECDSA signatures are r||s; openssl wants the DER SEQUENCE of two INTEGERs. */
function rawEcdsaToDer(raw: Buffer): Buffer {
  const int = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.subarray(i);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.of(0), v]);
    return Buffer.concat([Buffer.of(0x02, v.length), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, raw.length / 2)), int(raw.subarray(raw.length / 2))]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

describe.runIf(OPENSSL).each(['EdDSA', 'ES256', 'RS256'] as const)('openssl verifies record signatures (%s)', (alg) => {
  let t: TestService;
  let dir: string;
  beforeAll(async () => {
    t = await startTestService({ signingAlg: alg });
    dir = mkdtempSync(join(tmpdir(), 'cairn-openssl-'));
    const res = await t.app.inject({
      method: 'PUT',
      url: '/api/handles/20.5000/openssl',
      headers: { 'content-type': 'application/json', authorization: adminAuth() },
      payload: JSON.stringify([{ index: 1, type: 'URL', data: 'https://example.org/openssl' }]),
    });
    expect(res.statusCode).toBe(201);
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = (signingInput: string, signature: Buffer): { status: number | null; output: string } => {
    writeFileSync(join(dir, 'input'), signingInput);
    writeFileSync(join(dir, 'sig'), alg === 'ES256' ? rawEcdsaToDer(signature) : signature);
    const args =
      alg === 'EdDSA'
        ? ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'pub.pem'), '-rawin', '-in', join(dir, 'input'), '-sigfile', join(dir, 'sig')]
        : ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig'), join(dir, 'input')];
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };

  it('accepts the signature with the JWKS key and refuses a tampered one', async () => {
    const jwks = (await t.app.inject({ url: '/.well-known/jwks.json' })).json();
    const resolved = (await t.app.inject({ url: '/api/resolve/hdl:20.5000/openssl' })).json();
    const key = jwks.keys.find((k: { kid: string }) => k.kid === resolved.signature.kid);
    // The JWK becomes a PEM via node:crypto's JWK import: no Cairn code in the loop.
    writeFileSync(join(dir, 'pub.pem'), createPublicKey({ key, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
    const [h, p, s] = resolved.signature.jws.split('.');
    const good = verify(`${h}.${p}`, Buffer.from(s, 'base64url'));
    expect(good.output).toMatch(/Verified OK|Signature Verified Successfully/);
    expect(good.status).toBe(0);
    const tampered = verify(`${h}.${p}x`, Buffer.from(s, 'base64url'));
    expect(tampered.status).not.toBe(0);
  });
});
