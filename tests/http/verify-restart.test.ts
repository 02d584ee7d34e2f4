import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { verifyRouteOptions } from '../../src/http/routes/verify.js';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { VERIFY_LOG_KEY_FILE } from '../../src/families/products/verify/log-key-file.js';
import { LOG_META_PREFIX } from '../../src/families/products/verify/log-store.js';
import { StoreCounterStore } from '../../src/families/products/verify/sun-counters.js';
import { runServer, type RunningServer } from '../../src/server.js';
import { ADMIN_SECRET, adminAuth, basic, startRealServer, startTestService } from '../helpers/service.js';
import { loadVector } from '../helpers/vectors.js';

/**
 * Verification state across a restart of a real server (runServer, loopback HTTP), and the
 * CAIRN_VERIFY_* settings reaching the routes:
 * - the SUN read counter's high-water mark survives (a replayed tag read stays refused);
 * - the verification log survives with its HMAC key (a file beside the signing keys): an item
 *   verified in Germany, the server restarted, then verified in Australia a moment later is
 *   impossible travel;
 * - what is stored holds keyed hashes, not identifiers.
 */
interface SunVector { kSdmMetaRead: string; kSdmFileRead: string; piccData: string; cmac: string; expect: { uid?: string } }
const v0 = loadVector<{ vectors: SunVector[] }>('ntag-sun.json').vectors[0]!;
const ed = generateKeyPairSync('ed25519');

let dir: string;
let config: Config;
let server: RunningServer;
let url: string;
let prefix: string;

async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, auth?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(auth ? { authorization: auth } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function verifyWithKey(id: string, context: Record<string, unknown>): Promise<Record<string, unknown>> {
  const c = (await call('POST', '/api/verify/challenges', { id })).json as { challengeId: string; nonce: string; service: string; id: string };
  const signature = sign(null, challengeMessage({ service: c.service, id: c.id, nonce: c.nonce, challengeId: c.challengeId }), ed.privateKey).toString('base64url');
  const res = await call('POST', '/api/verify', { id, challengeId: c.challengeId, evidence: { type: 'device-signature', signature }, context });
  expect(res.status).toBe(200);
  return res.json;
}

const verifySun = async (id: string): Promise<Record<string, unknown>> =>
  (await call('POST', '/api/verify', { id, evidence: { type: 'sun', piccData: v0.piccData, cmac: v0.cmac } })).json;

async function restart(): Promise<void> {
  await server.stop();
  server = await runServer(config);
  url = `http://127.0.0.1:${server.http.port}`;
}

beforeAll(async () => {
  const started = await startRealServer({ verifyTokenLifetimeSeconds: 60, verifyRateLimit: 1000, verifyRatePerSecond: 100 });
  ({ dir, config, server, url } = started);
  const m = await call('POST', '/api/manufacturers', { name: 'Acme Devices' }, adminAuth());
  expect(m.status).toBe(201);
  prefix = String(m.json.prefix);
  const auth = basic(String(m.json.identity), String(m.json.secret));
  expect((await call('PUT', `/api/products/${prefix}/classes/phone`, { name: 'Phone', model: 'P-1', evidence: 'device-signature' }, auth)).status).toBe(201);
  expect((await call('PUT', `/api/products/${prefix}/classes/tag`, { name: 'Tag', model: 'T-1', evidence: 'sun', sunKeys: { metaKey: v0.kSdmMetaRead, fileKey: v0.kSdmFileRead } }, auth)).status).toBe(201);
  expect((await call('PUT', `/api/products/${prefix}/items/PH-1`, { class: 'phone', devicePublicKey: ed.publicKey.export({ format: 'jwk' }) }, auth)).status).toBe(201);
  expect((await call('PUT', `/api/products/${prefix}/items/TG-1`, { class: 'tag', sunUid: v0.expect.uid }, auth)).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('verification state across a restart', () => {
  it('keeps the SUN counter and the clone rules\' log, keyed with the HMAC key file', async () => {
    const first = await verifyWithKey(`${prefix}/PH-1`, { country: 'DE', geohash: 'u33db' });
    expect(first).toMatchObject({ verdict: 'genuine', reasons: ['device-signature-verified'] });
    // CAIRN_VERIFY_TOKEN_LIFETIME reached the routes through runServer.
    const claims = JSON.parse(Buffer.from(String(first.token).split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(60);
    expect(await verifySun(`${prefix}/TG-1`)).toMatchObject({ verdict: 'genuine', reasons: ['sun-verified'] });

    const keyFile = join(config.certsDir, VERIFY_LOG_KEY_FILE);
    const key = readFileSync(keyFile, 'utf8');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    await restart();

    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(await verifySun(`${prefix}/TG-1`)).toMatchObject({ verdict: 'suspected-clone', reasons: ['sun-verified', 'counter-not-rising'] });
    expect(await verifyWithKey(`${prefix}/PH-1`, { country: 'AU' })).toMatchObject({ verdict: 'suspected-clone', reasons: ['device-signature-verified', 'impossible-travel'] });

    // On disk: the counter under a hash of the UID, the log under keyed hashes; no identifiers.
    await server.stop();
    const { openStore } = await import('../../src/store/open.js');
    const store = await openStore(join(config.dataDir, 'leveldb'), { sync: false });
    try {
      expect(await store.meta.get(StoreCounterStore.keyOf(v0.expect.uid!))).toBeDefined();
      const log: string[] = [];
      for await (const [k, v] of store.meta.iterator({ gt: LOG_META_PREFIX, lt: `${LOG_META_PREFIX}\uffff` })) log.push(`${k}=${v}`);
      expect(log.length).toBeGreaterThanOrEqual(2);
      const text = log.join('\n');
      for (const identifier of ['PH-1', 'TG-1', prefix, v0.expect.uid!]) expect(text).not.toContain(identifier);
      // Coarse locations are kept (the rules need them), as the verifier gave them.
      expect(text).toContain('"country":"AU"');
    } finally {
      await store.close();
    }
    server = await runServer(config);
  }, 60_000);
});

describe('CAIRN_VERIFY_* settings', () => {
  it('are read from the environment and checked', () => {
    const c = loadConfig({ CAIRN_VERIFY_MAX_SPEED_KMH: '300', CAIRN_VERIFY_RETENTION: '3600', CAIRN_VERIFY_RATE_LIMIT: '2', CAIRN_VERIFY_RATE_PER_SECOND: '1', CAIRN_VERIFY_CHALLENGE_TTL: '30', CAIRN_VERIFY_TOKEN_LIFETIME: '45' });
    expect(verifyRouteOptions(c)).toEqual({
      rateLimit: { capacity: 2, refillPerSecond: 1 },
      verify: { anomalyRules: { maxSpeedKmh: 300 }, log: { retentionMs: 3_600_000 }, challengeTtlSeconds: 30, tokenLifetimeSeconds: 45 },
    });
    expect(() => loadConfig({ CAIRN_VERIFY_CHALLENGE_TTL: '121' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    expect(() => loadConfig({ CAIRN_VERIFY_TOKEN_LIFETIME: '301' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    expect(() => loadConfig({ CAIRN_VERIFY_RATE_LIMIT: '0' })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it('the rate limit and challenge lifetime take effect in the routes', async () => {
    const t = await startTestService();
    const app = await buildApp(t.service, { fastResolve: false, verify: verifyRouteOptions(loadConfig({ CAIRN_VERIFY_RATE_LIMIT: '2', CAIRN_VERIFY_CHALLENGE_TTL: '30' }, { adminSecret: ADMIN_SECRET })) });
    try {
      const ask = () => app.inject({ method: 'POST', url: '/api/verify/challenges', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ id: '20.5000/x' }) });
      const a = await ask();
      expect(a.statusCode).toBe(201);
      const ttl = Date.parse(a.json().expiresAt) - Date.now();
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      expect((await ask()).statusCode).toBe(201);
      const refused = await ask();
      expect([refused.statusCode, refused.json().code]).toEqual([429, 'ERR_VERIFY_RATE_LIMITED']);
    } finally {
      await app.close();
      await t.close();
    }
  });
});
