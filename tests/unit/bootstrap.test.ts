import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startService } from '../../src/service/bootstrap.js';
import { verifyRecordSignature } from '../../src/signing/record-signature.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const configIn = (d: string, env: Record<string, string> = {}) =>
  loadConfig({ CAIRN_DATA_DIR: join(d, 'data'), CAIRN_CERTS_DIR: join(d, 'certs'), CAIRN_SYNC_WRITES: 'false', ...env });

describe('first start and later starts', () => {
  it('creates key, prefix record and admin credentials once, private files mode 0600, and reuses them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    const first = await startService(configIn(dir));
    const credentialsFile = join(dir, 'data', 'admin-credentials.json');
    const keyFile = join(dir, 'certs', 'signing-eddsa.key.pem');
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8'));
    expect(credentials.identity).toBe('300:0.NA/20.5000');
    await expect(first.handles.authenticate(credentials.identity, credentials.secret)).resolves.toMatchObject({ serverAdmin: true });
    const prefix = first.handles.findRecord(first.handles.parseServed('0.NA/20.5000'))!;
    expect(prefix.values.map((v) => [v.index, v.type])).toEqual([
      [100, 'HS_ADMIN'],
      [300, 'HS_SECKEY'],
      [301, 'HS_PUBKEY'],
      [400, 'HS_SIGNATURE'],
    ]);
    verifyRecordSignature('0.NA/20.5000', prefix.values, first.signer, Math.floor(Date.now() / 1000));
    const kid = first.signer.active.kid;
    await first.close();

    const second = await startService(configIn(dir));
    expect(second.signer.active.kid).toBe(kid);
    expect(JSON.parse(readFileSync(credentialsFile, 'utf8'))).toEqual(credentials);
    expect(second.handles.findRecord(second.handles.parseServed('0.NA/20.5000'))!.version).toBe(1);
    await second.close();
  });

  it('takes CAIRN_ADMIN_SECRET on first start and writes no credentials file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    const s = await startService(configIn(dir, { CAIRN_ADMIN_SECRET: 'given-admin-secret' }));
    expect(() => statSync(join(dir, 'data', 'admin-credentials.json'))).toThrow();
    await expect(s.handles.authenticate('300:0.NA/20.5000', 'given-admin-secret')).resolves.toMatchObject({ serverAdmin: true });
    await s.close();
  });

  it('adds a newly configured algorithm beside the old key, which stays published', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    const ed = await startService(configIn(dir));
    const edKid = ed.signer.active.kid;
    await ed.close();
    const es = await startService(configIn(dir, { CAIRN_SIGNING_ALG: 'ES256' }));
    expect(es.signer.active.alg).toBe('ES256');
    expect(es.signer.jwks().keys.map((k) => k.kid)).toContain(edKid);
    const prefix = es.handles.findRecord(es.handles.parseServed('0.NA/20.5000'))!;
    expect(prefix.values.filter((v) => v.type === 'HS_PUBKEY').map((v) => v.index)).toEqual([301, 302]);
    expect(prefix.version).toBe(2);
    await es.close();
  });

  it('never lets a bulk import touch a prefix record', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    const s = await startService(configIn(dir, { CAIRN_ADMIN_SECRET: 'given-admin-secret' }));
    const line = { handle: '0.NA/20.5000', values: [{ index: 1, type: 'URL', data: 'https://x.example/' }], line: 3 };
    await expect(s.handles.importBatch([line], {})).rejects.toMatchObject({ code: 'ERR_IMPORT_LINE_INVALID', message: expect.stringMatching(/^line 3: /) });
    await expect(s.handles.authenticate('300:0.NA/20.5000', 'given-admin-secret')).resolves.toMatchObject({ serverAdmin: true });
    await s.close();
  });

  it('refuses to start with a lost private key, or with a key the service record does not publish', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    await (await startService(configIn(dir))).close();
    const keyFile = join(dir, 'certs', 'signing-eddsa.key.pem');
    const pubFile = join(dir, 'certs', 'signing-eddsa.pub.pem');
    const original = readFileSync(keyFile);
    rmSync(keyFile);
    await expect(startService(configIn(dir))).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    const other = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, other.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(pubFile, other.publicKey.export({ format: 'pem', type: 'spki' }));
    await expect(startService(configIn(dir))).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('restore') });
    writeFileSync(keyFile, original);
    writeFileSync(pubFile, createPublicKey(createPrivateKey(original)).export({ format: 'pem', type: 'spki' }));
    await (await startService(configIn(dir))).close();
  });

  it('refuses a data directory another process holds (ERR_STORE_LOCKED)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-boot-'));
    const held = await startService(configIn(dir));
    await expect(startService(configIn(dir))).rejects.toMatchObject({ code: 'ERR_STORE_LOCKED' });
    await held.close();
  });
});
