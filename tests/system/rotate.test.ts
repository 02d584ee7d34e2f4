import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { renderHandleView } from '../../src/families/doa/views.js';
import { buildApp } from '../../src/http/app.js';
import { foldHandleCase } from '../../src/ids/handle.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { encodeValue } from '../../src/records/encoding.js';
import type { StoredRecord } from '../../src/records/record.js';
import { liveView, RESIGN_META, signatureKid, signedSubject, type ResignState } from '../../src/ops/resign.js';
import { resumeRotation, rotateKeys } from '../../src/ops/rotate.js';
import { startService, type Service } from '../../src/service/bootstrap.js';
import { createPendingKey, loadOrCreateSigningKeys, readKeyRegistry, registryFromRing, writeKeyRegistry } from '../../src/service/key-files.js';
import { findSignature, signedValues, valueDigest, verifyRecordSignature, type SignaturePayload } from '../../src/signing/record-signature.js';
import { Signer } from '../../src/signing/signer.js';
import { ADMIN_SECRET, adminAuth } from '../helpers/service.js';

/**
 * `cairn keys rotate` in process: a store with handles, OID arcs, an ITS issuer and signs (and a
 * tombstone of each) is rotated to a new key; every live record then carries one new signature
 * that `jose` verifies with nothing but the served JWKS; the old key stays in the JWKS until its
 * retire time and while live records still need it, and not after.
 */

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const configIn = (d: string, overrides: Partial<Config> = {}): Config =>
  loadConfig({}, { dataDir: join(d, 'data'), certsDir: join(d, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false, ...overrides });

const ITS_ID = (serial: number, type?: string): string =>
  formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial, ...(type ? { type: parseItsSignType(type) } : {}) });

/** Writes through the HTTP API: 20 handles, 5 OID arcs, an ITS issuer with 4 signs; one of each kind deleted. */
async function populate(config: Config, handles = 20): Promise<void> {
  const service = await startService(config);
  const app = await buildApp(service);
  const send = async (method: 'PUT' | 'DELETE', url: string, body?: unknown): Promise<void> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: adminAuth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  };
  try {
    for (let i = 0; i < handles; i++) {
      await send('PUT', `/api/handles/20.5000/rot-${i}`, [
        { index: 1, type: 'URL', data: `https://example.org/rot/${i}` },
        { index: 2, type: 'DESC', data: `record ${i}` },
        { index: 3, type: 'PRIVATE', data: 'admins only', permissions: '1100' },
      ]);
    }
    await send('DELETE', `/api/handles/20.5000/rot-${handles - 1}`);
    await send('PUT', '/api/oids/2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] });
    for (let i = 1; i <= 4; i++) await send('PUT', `/api/oids/2.999.${i}`, { description: `arc ${i}`, asn1Ids: [`arc${i}`] });
    await send('DELETE', '/api/oids/2.999.4');
    await send('PUT', '/api/its/issuers/DE.417', { identity: '300:20.5000/roads-de', name: 'Roads DE' });
    for (let i = 1; i <= 4; i++) {
      await send('PUT', `/api/its/${encodeURIComponent(ITS_ID(i, 'nat.DE-274[50]'))}`, { position: { lat: 52.5 + i / 1000, lon: 13.4 }, facing: 90 });
    }
    await send('DELETE', `/api/its/${encodeURIComponent(ITS_ID(4))}`);
  } finally {
    await app.close();
    await service.close();
  }
}

async function records(service: Service): Promise<Map<string, StoredRecord>> {
  const out = new Map<string, StoredRecord>();
  for await (const [key, record] of service.store.allRecords()) out.set(key, record);
  return out;
}

const jwsOf = (record: StoredRecord): string => Buffer.from(findSignature(record.values)!.data).toString('utf8');
const withoutSignature = (record: StoredRecord): string[] =>
  record.values.filter((v) => v.type !== 'HS_SIGNATURE').map((v) => encodeValue(v).toString('hex'));

/** The JWS's claims if `jose` verifies it with the JWKS alone, and the record's public values match its digests. */
async function verifiedWithJose(record: StoredRecord, jwks: JSONWebKeySet): Promise<{ kid: string; alg: string; claims: SignaturePayload }> {
  const { payload, protectedHeader } = await compactVerify(jwsOf(record), createLocalJWKSet(jwks));
  const claims = JSON.parse(new TextDecoder().decode(payload)) as SignaturePayload;
  expect(claims.sub).toBe(signedSubject(record));
  expect(claims.digests.digests).toEqual(signedValues(record.values).map((v) => ({ index: v.index, digest: valueDigest(v) })));
  return { kid: protectedHeader.kid!, alg: protectedHeader.alg, claims };
}

describe('cairn keys rotate (in process)', () => {
  it('re-signs every live record once with the new key; jose verifies all of them with the JWKS; views, history and change log follow', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    await populate(config);
    let service = await startService(config);
    const oldKid = service.signer.active.kid;
    const before = await records(service);
    const seqBefore = service.store.lastSeq;
    await service.close();

    const retireAt = Math.floor(Date.now() / 1000) + 4;
    const result = await rotateKeys(config, { alg: 'ES256', retireAfter: retireAt, resign: { batchSize: 7 } });
    expect(result).toMatchObject({
      active: { alg: 'ES256', index: 302, issuer: '302:0.NA/20.5000' },
      previous: { kid: oldKid, alg: 'EdDSA', index: 301 },
      resumed: false,
      resign: { done: true, skipped: 3, current: 0, others: [] },
    });
    const newKid = result.active.kid;
    const live = [...before.values()].filter((r) => r.status === 'active');
    // The prefix record is written once more (its new HS_PUBKEY) before the re-sign.
    expect((result.resign as ResignState).resigned).toBe(live.length);

    service = await startService(config);
    expect(service.resign).toBeUndefined();
    const app = await buildApp(service);
    try {
      const jwksRes = await app.inject({ url: '/.well-known/jwks.json' });
      const jwks = jwksRes.json() as JSONWebKeySet;
      expect(jwks.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
      expect(jwks.keys[1]).toMatchObject({ retire_after: new Date(retireAt * 1000).toISOString().replace('.000Z', 'Z') });
      expect(Number(/max-age=(\d+)/.exec(String(jwksRes.headers['cache-control']))![1])).toBeLessThanOrEqual(4);

      const after = await records(service);
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      const prefixKey = foldHandleCase('0.NA/20.5000');
      for (const [key, old] of before) {
        const now = after.get(key)!;
        if (old.status !== 'active') {
          expect(now, `${key}: a tombstone keeps its signature`).toEqual(old);
          continue;
        }
        const extra = key === prefixKey ? 1 : 0;
        expect(now.version, key).toBe(old.version + 1 + extra);
        expect(signatureKid(now), key).toBe(newKid);
        const { kid, alg, claims } = await verifiedWithJose(now, jwks);
        expect([kid, alg, claims.iss]).toEqual([newKid, 'ES256', '302:0.NA/20.5000']);
        verifyRecordSignature(signedSubject(now)!, now.values, service.signer, Math.floor(Date.now() / 1000));
        if (key !== prefixKey) expect(withoutSignature(now), `${key}: only the signature changes`).toEqual(withoutSignature(old));
        // The version it replaced is kept in history.
        expect((await service.store.recordAt(key, now.version - 1))?.version).toBe(now.version - 1);
        expect(await service.store.recordAt(key, old.version)).toEqual(old);
        // The stored view is what the family renders for the new record.
        const view = service.store.storedView(key)!;
        expect(view.subarray(2).toString(), key).toBe(liveView(now).body.toString());
      }
      // The family services render the same views the re-sign stored.
      const rot0 = foldHandleCase('20.5000/rot-0');
      expect(service.store.storedView(rot0)!.subarray(2)).toEqual(renderHandleView(after.get(rot0)!).body);
      const oid = JSON.parse((await app.inject({ url: '/api/oids/2.999.1' })).body);
      expect(oid).toEqual(service.oids.view('2.999.1'));
      expect(oid.signature).toMatchObject({ kid: newKid, alg: 'ES256' });
      const sign = (await app.inject({ url: `/api/its/${encodeURIComponent(ITS_ID(1))}` })).json();
      expect(sign.signature).toMatchObject({ kid: newKid, alg: 'ES256' });
      expect(sign).toEqual(JSON.parse(JSON.stringify(service.its.view(ITS_ID(1)))));
      expect((await app.inject({ url: '/api/its/issuers/DE.417' })).json().signature).toMatchObject({ kid: newKid });
      const handle = (await app.inject({ url: '/api/handles/20.5000/rot-3' })).json();
      const jws = handle.values.find((v: { type: string }) => v.type === 'HS_SIGNATURE').data.value;
      expect((await compactVerify(jws, createLocalJWKSet(jwks))).protectedHeader.kid).toBe(newKid);
      // The prefix record publishes both keys, each at its index.
      const prefix = after.get(prefixKey)!;
      expect(prefix.values.filter((v) => v.type === 'HS_PUBKEY').map((v) => v.index)).toEqual([301, 302]);

      // One change-log entry (update) per re-signed record, plus the prefix record's new key.
      const changes = await service.store.changesSince(seqBefore, 10_000);
      expect(changes).toHaveLength(live.length + 1);
      expect(changes.every((c) => c.op === 'update')).toBe(true);

      // Past its retire time, with no live record signed by it, the old key leaves the JWKS.
      await new Promise((r) => setTimeout(r, Math.max(0, retireAt * 1000 - Date.now() + 50)));
      const later = (await app.inject({ url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
      expect(later.keys.map((k) => k.kid)).toEqual([newKid]);
      // The service still knows it (history, tombstones and backups hold its signatures).
      const tomb = [...after.values()].find((r) => r.status !== 'active')!;
      expect(service.signer.verify(jwsOf(tomb)).header.kid).toBe(oldKid);
    } finally {
      await app.close();
      await service.close();
    }
  });

  it('serves a valid signature (old or new key) at every moment of a background re-sign; EdDSA and ES256 verify side by side', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    await populate(config, 30);
    // Retire time already past: the old key stays only while live records still need it.
    const result = await rotateKeys(config, { alg: 'ES256', retireAfter: Math.floor(Date.now() / 1000) - 1, defer: true });
    expect(result.resign).toMatchObject({ done: false, after: null });
    const oldKid = result.previous.kid;
    const newKid = result.active.kid;

    const service = await startService(config, { resign: { batchSize: 1, pauseMs: 4 } });
    const app = await buildApp(service);
    try {
      expect(service.resign).toBeDefined();
      const urls = [
        ...Array.from({ length: 29 }, (_, i) => `/api/handles/20.5000/rot-${i}`),
        '/api/oids/2.999',
        '/api/oids/2.999.2',
        `/api/its/${encodeURIComponent(ITS_ID(2))}`,
        '/api/its/issuers/DE.417',
      ];
      const seen = new Map<string, number>();
      let checks = 0;
      while (!service.resign!.state.done) {
        const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
        expect(jwks.keys.map((k) => k.kid)).toContain(oldKid);
        for (const url of urls.sort(() => Math.random() - 0.5).slice(0, 6)) {
          const res = await app.inject({ url });
          expect(res.statusCode, url).toBe(200);
          const body = res.json();
          const jws: string = body.signature?.jws ?? body.values.find((v: { type: string }) => v.type === 'HS_SIGNATURE').data.value;
          const { protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks));
          seen.set(protectedHeader.alg, (seen.get(protectedHeader.alg) ?? 0) + 1);
          expect([oldKid, newKid]).toContain(protectedHeader.kid);
          checks++;
        }
      }
      expect(seen.get('EdDSA'), 'old signatures seen during the re-sign').toBeGreaterThan(0);
      expect(seen.get('ES256'), 'new signatures seen during the re-sign').toBeGreaterThan(0);
      expect(checks).toBeGreaterThan(20);
      // Done: no live record needs the old key any more, and its retire time has passed.
      const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
      expect(jwks.keys.map((k) => k.kid)).toEqual([newKid]);
      for await (const [, record] of service.store.allRecords()) {
        if (record.status === 'active') expect((await verifiedWithJose(record, jwks)).kid).toBe(newKid);
      }
      expect(await service.store.getMeta<ResignState>(RESIGN_META)).toMatchObject({ done: true, target: newKid });
    } finally {
      await app.close();
      await service.close();
    }
  });

  it('a service closed mid re-sign stops after a whole batch, and the next start carries on from the checkpoint', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    await populate(config, 12);
    const { active } = await rotateKeys(config, { defer: true });
    expect(active).toMatchObject({ alg: 'EdDSA', index: 311, issuer: '311:0.NA/20.5000' });
    let service = await startService(config, { resign: { batchSize: 2, pauseMs: 10 } });
    await new Promise((r) => setTimeout(r, 35));
    await service.close();
    service = await startService(config, { resign: 'manual' });
    const partial = service.resign!.state;
    expect(partial.done).toBe(false);
    expect(partial.after).not.toBeNull();
    await service.close();
    const { resign } = await resumeRotation(config, { batchSize: 5 });
    expect(resign).toMatchObject({ done: true, target: active.kid });
    service = await startService(config);
    try {
      for await (const [key, record] of service.store.allRecords()) {
        if (record.status !== 'active') continue;
        expect(signatureKid(record)).toBe(active.kid);
        // Signed exactly once with the new key, however the re-sign was cut.
        const versions = [...(await service.store.historyOf(key)), record];
        expect(versions.filter((r) => signatureKid(r) === active.kid), key).toHaveLength(1);
      }
      const jwks = service.signer.jwks();
      expect(jwks.keys.map((k) => k.kid)).toContain(active.kid);
    } finally {
      await service.close();
    }
  });

  it('keeps exactly the keys live records may need: a key retired before the next rotation stays out of the JWKS', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    await populate(config, 4);
    const past = (): number => Math.floor(Date.now() / 1000) - 1;
    const first = await rotateKeys(config, { retireAfter: past() });
    const second = await rotateKeys(config, { alg: 'ES256', retireAfter: past(), defer: true });
    const a = first.previous.kid;
    const b = first.active.kid;
    const c = second.active.kid;
    let service = await startService(config, { resign: 'manual' });
    try {
      // Re-signing with C: records may still carry B's signatures, none carries A's.
      expect(service.signer.jwks().keys.map((k) => k.kid)).toEqual([c, a, b].filter((k) => k !== a));
      expect(service.resign!.state.pinned).toEqual(expect.arrayContaining([b, c]));
    } finally {
      await service.close();
    }
    await resumeRotation(config);
    service = await startService(config);
    try {
      expect(service.signer.jwks().keys.map((k) => k.kid)).toEqual([c]);
      // Every key stays known to the service and on the prefix record, each at its own index.
      expect(service.signer.keys().map((k) => [k.alg, k.index])).toEqual([
        ['ES256', 302],
        ['EdDSA', 301],
        ['EdDSA', 311],
      ]);
      const prefix = service.handles.findRecord(service.handles.parseServed('0.NA/20.5000'))!;
      expect(prefix.values.filter((v) => v.type === 'HS_PUBKEY').map((v) => v.index)).toEqual([301, 302, 311]);
      expect(JSON.parse(Buffer.from(jwsOf(prefix).split('.')[1]!, 'base64url').toString()).iss).toBe('302:0.NA/20.5000');
    } finally {
      await service.close();
    }
  });

  it('refuses to run while the data directory is held (ERR_STORE_LOCKED), touching no key file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    const held = await startService(config);
    try {
      const files = readdirSync(config.certsDir).sort();
      await expect(rotateKeys(config)).rejects.toMatchObject({ code: 'ERR_STORE_LOCKED', message: expect.stringContaining('server') });
      expect(readdirSync(config.certsDir).sort()).toEqual(files);
    } finally {
      await held.close();
    }
  });

  it('finishes an interrupted key switch (a pending key) instead of making another key', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-rotate-'));
    const config = configIn(dir);
    await populate(config, 3);
    // As a rotation killed right after writing its key: the registry holds it as pending.
    const ring = loadOrCreateSigningKeys(config.certsDir, 'EdDSA');
    const registry = registryFromRing(ring, 'EdDSA', Math.floor(Date.now() / 1000));
    const pending = { ...createPendingKey(config.certsDir, registry, 'RS256', Math.floor(Date.now() / 1000), () => false), retirePreviousAfter: 'never' };
    writeKeyRegistry(config.certsDir, { ...registry, keys: [...registry.keys, pending] });
    // A server started meanwhile signs with the old key and publishes nothing of the pending one.
    const between = await startService(config);
    expect(between.signer.active.kid).toBe(ring.active.kid);
    expect(between.signer.jwks().keys.map((k) => k.kid)).not.toContain(pending.kid);
    await between.close();

    const { rotation, resign } = await resumeRotation(config);
    expect(rotation).toMatchObject({ resumed: true, active: { kid: pending.kid, alg: 'RS256', index: 303 }, previous: { retireAfter: null } });
    expect(resign).toMatchObject({ done: true, target: pending.kid });
    expect(readKeyRegistry(config.certsDir)!.keys.map((k) => [k.kid, k.status])).toEqual([
      [ring.active.kid, 'verify-only'],
      [pending.kid, 'active'],
    ]);
    const service = await startService(config);
    try {
      const now = Math.floor(Date.now() / 1000);
      const signer = new Signer(service.signer.active, []);
      for await (const [, record] of service.store.allRecords()) if (record.status === 'active') verifyRecordSignature(signedSubject(record)!, record.values, signer, now);
      // With "never", the old key stays published.
      expect(service.signer.jwks().keys.map((k) => k.kid)).toEqual([pending.kid, ring.active.kid]);
    } finally {
      await service.close();
    }
  });
});
