import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { startTestService, type TestService } from '../helpers/service.js';

/*
 * The verify endpoints without any registered product: challenges, unknown verdicts, malformed
 * requests, the rate limit, GS1 Digital Link answers for unknown items.
 */
let ts: TestService;
let app: FastifyInstance;
let limitedApp: FastifyInstance;

beforeAll(async () => {
  ts = await startTestService();
  app = ts.app;
  limitedApp = await buildApp(ts.service, { fastResolve: false, verify: { rateLimit: { capacity: 3, refillPerSecond: 0.01 } } });
});

afterAll(async () => {
  await limitedApp.close();
  await ts.close();
});

const post = (url: string, body: unknown, a = app) =>
  a.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

describe('POST /api/verify/challenges', () => {
  it('answers 201 with a challenge for any well-formed identifier', async () => {
    const res = await post('/api/verify/challenges', { id: '20.5000.7/NOT-THERE' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const c = res.json();
    expect(c).toMatchObject({ service: '0.NA/20.5000', id: '20.5000.7/NOT-THERE' });
    expect(Buffer.from(c.nonce, 'base64url')).toHaveLength(32);
    expect(Date.parse(c.expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);
  });

  it.each([
    ['no body fields', {}, 'ERR_VERIFY_REQUEST_INVALID'],
    ['an extra field', { id: '20.5000.7/X', nonce: 'mine' }, 'ERR_VERIFY_REQUEST_INVALID'],
    ['a GTIN with a wrong check digit', { id: '/01/09506000134353/21/X1' }, 'ERR_GTIN_CHECK_MISMATCH'],
    ['an IMEI failing Luhn', { id: 'imei:490154203237517' }, 'ERR_IMEI_CHECK_MISMATCH'],
  ])('refuses %s', async (_what, body, code) => {
    const res = await post('/api/verify/challenges', body);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe(code);
  });

  it('refuses malformed JSON and other media types', async () => {
    expect((await post('/api/verify/challenges', '{"id":')).json().code).toBe('ERR_BODY_MALFORMED_JSON');
    const res = await app.inject({ method: 'POST', url: '/api/verify/challenges', headers: { 'content-type': 'text/plain' }, payload: 'id' });
    expect(res.statusCode).toBe(415);
  });
});

describe('POST /api/verify', () => {
  it('an unknown item: 200, verdict unknown, a signed token with the nonce', async () => {
    const c = (await post('/api/verify/challenges', { id: '20.5000.7/GHOST' })).json();
    const res = await post('/api/verify', { id: '20.5000.7/GHOST', challengeId: c.challengeId, evidence: { type: 'none' } });
    expect(res.statusCode).toBe(200);
    const a = res.json();
    expect(a).toMatchObject({ id: '20.5000.7/GHOST', verdict: 'unknown', reasons: ['item-not-registered'], assurance: 'none', item: null });
    const jwks = createLocalJWKSet((await app.inject({ url: '/.well-known/jwks.json' })).json());
    const { payload, protectedHeader } = await jwtVerify(a.token, jwks, { typ: 'verdict+jwt', issuer: '0.NA/20.5000', subject: '20.5000.7/GHOST' });
    expect(protectedHeader.kid).toBe(ts.service.signer.active.kid);
    expect(payload).toMatchObject({ nonce: c.nonce, verdict: 'unknown' });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
    // Spent.
    const again = await post('/api/verify', { id: '20.5000.7/GHOST', challengeId: c.challengeId, evidence: { type: 'none' } });
    expect([again.statusCode, again.json().code]).toEqual([409, 'ERR_VERIFY_CHALLENGE_USED']);
  });

  it.each([
    [{ id: '20.5000.7/X', evidence: { type: 'device-signature', signature: 'AAAA' } }, 400, 'ERR_VERIFY_CHALLENGE_REQUIRED'],
    [{ id: '20.5000.7/X', challengeId: 'AAAAAAAAAAAAAAAAAAAAAA', evidence: { type: 'none' } }, 404, 'ERR_VERIFY_CHALLENGE_UNKNOWN'],
    [{ id: '20.5000.7/X', evidence: { type: 'telepathy' } }, 400, 'ERR_VERIFY_EVIDENCE_INVALID'],
    [{ id: '20.5000.7/X', evidence: { type: 'none' }, context: { geohash: 'u33dbfcyegk' } }, 400, 'ERR_VERIFY_CONTEXT_INVALID'],
    [{ id: '20.5000.7/X', evidence: { type: 'none' }, challengeID: 'typo' }, 400, 'ERR_VERIFY_REQUEST_INVALID'],
    [[1, 2], 400, 'ERR_VERIFY_REQUEST_INVALID'],
    [{ id: 'imei:12', evidence: { type: 'none' } }, 400, 'ERR_IMEI_INVALID'],
  ])('%j -> %i %s', async (body, status, code) => {
    const res = await post('/api/verify', body);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });

  it('a challenge asked for one item cannot be used for another', async () => {
    const c = (await post('/api/verify/challenges', { id: '20.5000.7/A' })).json();
    const res = await post('/api/verify', { id: '20.5000.7/B', challengeId: c.challengeId, evidence: { type: 'none' } });
    expect([res.statusCode, res.json().code]).toEqual([409, 'ERR_VERIFY_CHALLENGE_MISMATCH']);
  });

  it('is rate-limited per client address, with Retry-After, before the body is read', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await post('/api/verify', { id: '20.5000.7/X', evidence: { type: 'none' } }, limitedApp)).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
    const res = await post('/api/verify/challenges', 'not even JSON', limitedApp);
    expect(res.statusCode).toBe(429);
    expect(res.json().code).toBe('ERR_VERIFY_RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    const elsewhere = await limitedApp.inject({
      method: 'POST', url: '/api/verify', remoteAddress: '192.0.2.7', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ id: '20.5000.7/X', evidence: { type: 'none' } }),
    });
    expect(elsewhere.statusCode).toBe(200);
  });
});

describe('GET /01/{gtin}/21/{serial}', () => {
  it('unknown: 404 problem for API clients, a page for browsers', async () => {
    const res = await app.inject({ url: '/01/09506000134352/21/NOPE' });
    expect([res.statusCode, res.json().code]).toEqual([404, 'ERR_VERIFY_ITEM_NOT_FOUND']);
    const page = await app.inject({ url: '/01/09506000134352/21/NOPE', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.statusCode).toBe(404);
    expect(page.headers['content-type']).toContain('text/html');
  });

  it('a wrong check digit is a 400', async () => {
    const res = await app.inject({ url: '/01/09506000134353/21/X' });
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_GTIN_CHECK_MISMATCH']);
  });
});
