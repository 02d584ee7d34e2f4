import { createLocalJWKSet, compactVerify } from 'jose';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  activateKey,
  createPendingKey,
  keyIndex,
  KEY_REGISTRY_FILE,
  loadOrCreateSigningKeys,
  readKeyRegistry,
  registryFromRing,
  writeKeyRegistry,
} from '../../src/service/key-files.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { Signer, signingKey, verificationKey } from '../../src/signing/signer.js';
import { parseRetireAfter } from '../../src/ops/rotate.js';

const NOW = 1_764_000_000;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('Signer: active key, verify-only keys and their retirement', () => {
  const active = (() => {
    const p = generateKeyPair('ES256');
    return signingKey(p.privateKey, p.publicKey, { index: 312 });
  })();
  const old = (() => {
    const p = generateKeyPair('EdDSA');
    return { pair: p, key: verificationKey(p.publicKey, { index: 301, retireAfter: NOW + 100 }) };
  })();
  const sideBySide = verificationKey(generateKeyPair('RS256').publicKey, { index: 303 });

  it('publishes a verify-only key until its retire time, then no more, unless pinned', () => {
    const signer = new Signer(active, [old.key, sideBySide]);
    const kids = (now: number): string[] => signer.jwks(now).keys.map((k) => k.kid!);
    expect(kids(NOW)).toEqual([active.kid, old.key.kid, sideBySide.kid]);
    expect(signer.jwks(NOW).keys[1]).toMatchObject({ kid: old.key.kid, retire_after: new Date((NOW + 100) * 1000).toISOString().replace('.000Z', 'Z') });
    expect(signer.jwks(NOW).keys[0]).not.toHaveProperty('retire_after');
    expect(signer.secondsToNextRetirement(NOW)).toBe(100);
    expect(kids(NOW + 100)).toEqual([active.kid, sideBySide.kid]);
    expect(signer.secondsToNextRetirement(NOW + 100)).toBeUndefined();
    signer.pin('all');
    expect(kids(NOW + 100)).toContain(old.key.kid);
    signer.pin([old.key.kid]);
    expect(kids(NOW + 1000)).toContain(old.key.kid);
    signer.pin([]);
    expect(kids(NOW + 1000)).not.toContain(old.key.kid);
  });

  it('still verifies what a retired key signed (history, backups), and signs with the active key only', () => {
    const signer = new Signer(active, [old.key]);
    const byOld = new Signer(signingKey(old.pair.privateKey, old.pair.publicKey));
    const token = byOld.sign({ hello: 1 });
    expect(signer.verify(token).payload).toEqual({ hello: 1 });
    expect(JSON.parse(Buffer.from(signer.sign({}).split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'ES256', kid: active.kid });
  });

  it('EdDSA and ES256 signatures both verify through one JWKS with jose (crypto agility)', async () => {
    const ed = generateKeyPair('EdDSA');
    const edKey = signingKey(ed.privateKey, ed.publicKey);
    const both = new Signer(active, [edKey]);
    const jwks = createLocalJWKSet(both.jwks());
    for (const signer of [new Signer(edKey), new Signer(active)]) {
      const token = signer.sign({ sub: 'x' });
      const { protectedHeader } = await compactVerify(token, jwks);
      expect(protectedHeader.kid).toBe(signer.active.kid);
    }
  });
});

describe('key registry (signing-keys.json)', () => {
  it('is absent until a rotation; the legacy files keep deciding (indexes 301-303)', () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-keys-'));
    const ring = loadOrCreateSigningKeys(dir, 'EdDSA');
    expect(ring.registry).toBeUndefined();
    expect(ring.active.index).toBe(301);
    expect(readKeyRegistry(dir)).toBeUndefined();
    loadOrCreateSigningKeys(dir, 'ES256');
    const both = loadOrCreateSigningKeys(dir, 'ES256');
    expect([both.active.index, ...both.others.map((k) => k.index)]).toEqual([302, 301]);
  });

  it('numbers HS_PUBKEY indexes base + 10 x generation, skipping taken ones, and writes mode 0600', () => {
    expect([keyIndex('EdDSA', 0), keyIndex('ES256', 0), keyIndex('RS256', 0), keyIndex('EdDSA', 1), keyIndex('ES256', 3)]).toEqual([301, 302, 303, 311, 332]);
    dir = mkdtempSync(join(tmpdir(), 'cairn-keys-'));
    const ring = loadOrCreateSigningKeys(dir, 'EdDSA');
    let registry = registryFromRing(ring, 'EdDSA', NOW);
    const next = createPendingKey(dir, registry, 'EdDSA', NOW, (i) => i === 311);
    expect(next).toMatchObject({ generation: 2, index: 321, status: 'pending', privateKeyFile: 'signing-eddsa-2.key.pem', resign: true });
    expect(statSync(join(dir, next.privateKeyFile)).mode & 0o777).toBe(0o600);
    registry = activateKey({ ...registry, keys: [...registry.keys, next] }, next.kid, NOW, NOW + 60);
    writeKeyRegistry(dir, registry);
    expect(statSync(join(dir, KEY_REGISTRY_FILE)).mode & 0o777).toBe(0o600);
    const loaded = loadOrCreateSigningKeys(dir, 'EdDSA');
    expect(loaded.active).toMatchObject({ kid: next.kid, index: 321 });
    expect(loaded.others).toEqual([expect.objectContaining({ kid: ring.active.kid, index: 301, retireAfter: NOW + 60 })]);
    // A verify-only key is published from the registry's JWK: its files may go.
    rmSync(join(dir, 'signing-eddsa.pub.pem'));
    rmSync(join(dir, 'signing-eddsa.key.pem'));
    expect(loadOrCreateSigningKeys(dir, 'EdDSA').others.map((k) => k.kid)).toEqual([ring.active.kid]);
  });

  it('refuses a damaged registry, a lost active key, and an active key file that is another key', () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-keys-'));
    const ring = loadOrCreateSigningKeys(dir, 'EdDSA');
    let registry = registryFromRing(ring, 'EdDSA', NOW);
    const next = createPendingKey(dir, registry, 'ES256', NOW, () => false);
    registry = activateKey({ ...registry, keys: [...registry.keys, next] }, next.kid, NOW, undefined);
    writeKeyRegistry(dir, registry);
    const file = join(dir, KEY_REGISTRY_FILE);
    const good = readFileSync(file, 'utf8');

    chmodSync(file, 0o600);
    writeFileSync(file, good.replace(next.kid, `${next.kid.slice(0, -2)}AA`));
    expect(() => loadOrCreateSigningKeys(dir!, 'EdDSA')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    writeFileSync(file, '{"format":1');
    expect(() => loadOrCreateSigningKeys(dir!, 'EdDSA')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    writeFileSync(file, good);

    const keyFile = join(dir, next.privateKeyFile);
    const original = readFileSync(keyFile);
    rmSync(keyFile);
    expect(() => loadOrCreateSigningKeys(dir!, 'EdDSA')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('restore') }));
    writeFileSync(keyFile, generateKeyPair('ES256').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    expect(() => loadOrCreateSigningKeys(dir!, 'EdDSA')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('restore') }));
    writeFileSync(keyFile, original);
    expect(loadOrCreateSigningKeys(dir, 'EdDSA').active.kid).toBe(next.kid);
  });

  it('after a rotation, a changed CAIRN_SIGNING_ALG adds that algorithm side by side; an unchanged one keeps the rotated key', () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-keys-'));
    const ring = loadOrCreateSigningKeys(dir, 'EdDSA');
    let registry = registryFromRing(ring, 'EdDSA', NOW);
    const rotated = createPendingKey(dir, registry, 'ES256', NOW, () => false);
    registry = activateKey({ ...registry, keys: [...registry.keys, rotated] }, rotated.kid, NOW, NOW + 10);
    writeKeyRegistry(dir, registry);
    // CAIRN_SIGNING_ALG is still EdDSA, as when the rotation chose ES256: the rotated key signs.
    expect(loadOrCreateSigningKeys(dir, 'EdDSA').active.kid).toBe(rotated.kid);
    // Changed to RS256: a new RS256 key signs, the ES256 key stays published with no retire time.
    const rs = loadOrCreateSigningKeys(dir, 'RS256');
    expect(rs.active).toMatchObject({ alg: 'RS256', index: 303 });
    expect(rs.others.find((k) => k.kid === rotated.kid)!.retireAfter).toBeUndefined();
    expect(readKeyRegistry(dir)).toMatchObject({ configuredAlg: 'RS256', active: rs.active.kid });
    expect(readKeyRegistry(dir)!.keys.find((k) => k.kid === rs.active.kid)!.resign).toBe(false);
    // Back to ES256: the ES256 key never rotated away from signs again.
    expect(loadOrCreateSigningKeys(dir, 'ES256').active.kid).toBe(rotated.kid);
  });
});

describe('--retire-after', () => {
  it.each([
    ['never', null],
    ['2027-01-01T00:00:00Z', Date.parse('2027-01-01T00:00:00Z') / 1000],
    ['2027-01-01T01:00:00+01:00', Date.parse('2027-01-01T00:00:00Z') / 1000],
    ['0s', NOW],
    ['90m', NOW + 5400],
    ['12h', NOW + 43200],
    ['30d', NOW + 30 * 86400],
    ['2w', NOW + 14 * 86400],
    ['P30D', NOW + 30 * 86400],
    ['PT12H', NOW + 43200],
    ['P1DT2H3M4S', NOW + 86400 + 7200 + 180 + 4],
  ])('%s', (text, expected) => expect(parseRetireAfter(text, NOW)).toBe(expected));

  it.each(['', 'soon', '30', '-1d', 'P', 'PT', 'P1Y', '2027-01-01', '2027-01-01T00:00:00', '1.5h'])('refuses %j', (text) => {
    expect(parseRetireAfter(text, NOW)).toBeUndefined();
  });
});
