import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { startService } from '../../src/service/bootstrap.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Key rotation on the running service: `POST /api/admin/keys/rotate` switches the live signer to
 * a new key and re-signs in the background; `GET /api/admin/keys` shows the keys and the progress.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => t?.close());

const json = { authorization: adminAuth(), 'content-type': 'application/json' };
const put = (handle: string, url: string) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: json, payload: JSON.stringify([{ index: 1, type: 'URL', data: url }]) });
const signatureKid = async (handle: string): Promise<string> => {
  const res = await t.app.inject({ url: `/api/resolve/hdl:${handle}` });
  expect(res.statusCode).toBe(200);
  return (res.json() as { signature: { kid: string } }).signature.kid;
};
const keys = async () => {
  const res = await t.app.inject({ url: '/api/admin/keys', headers: { authorization: adminAuth() } });
  expect(res.statusCode).toBe(200);
  return res.json() as {
    keys: { kid: string; index: number; state: string; retireAfter: string | null }[];
    resign: { done: boolean; resigned: number; target: string } | null;
    resignRunning: boolean;
    resignError: string | null;
  };
};

describe('key rotation while serving', () => {
  it('is for the service admin only', async () => {
    expect((await t.app.inject({ url: '/api/admin/keys' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'POST', url: '/api/admin/keys/rotate' })).statusCode).toBe(401);
  });

  it('refuses a bad body precisely, changing nothing', async () => {
    const before = await keys();
    for (const [body, field] of [
      [{ alg: 'HS256' }, 'alg'],
      [{ retireAfter: 'soon' }, 'retireAfter'],
      [{ batchSize: 0 }, 'batchSize'],
      [{ algorithm: 'ES256' }, 'algorithm'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/admin/keys/rotate', headers: json, payload: JSON.stringify(body) });
      expect([res.statusCode, res.json().code, res.json().field]).toEqual([400, 'ERR_BODY_INVALID', field]);
    }
    expect(await keys()).toEqual(before);
  });

  it('switches the live signer to a new key and re-signs every record in the background', async () => {
    for (let i = 0; i < 5; i++) expect((await put(`20.5000/rot-${i}`, `https://example.org/${i}`)).statusCode).toBe(201);
    const before = await keys();
    expect(before.keys.map((k) => k.state)).toEqual(['active']);
    const oldKid = before.keys[0]!.kid;
    expect(await signatureKid('20.5000/rot-0')).toBe(oldKid);

    const res = await t.app.inject({ method: 'POST', url: '/api/admin/keys/rotate', headers: json, payload: JSON.stringify({ retireAfter: '30d', batchSize: 2 }) });
    expect(res.statusCode).toBe(202);
    const rotated = res.json() as { active: { kid: string; index: number; issuer: string }; previous: { kid: string; retireAfter: string }; resumed: boolean };
    expect(rotated.previous.kid).toBe(oldKid);
    expect(rotated.active.kid).not.toBe(oldKid);
    // Generation 1 of EdDSA: base 301 + 10.
    expect(rotated.active).toMatchObject({ index: 311, issuer: '311:0.NA/20.5000' });
    expect(rotated.resumed).toBe(false);

    // A write after the answer is signed by the new key at once.
    expect((await put('20.5000/after', 'https://example.org/after')).statusCode).toBe(201);
    expect(await signatureKid('20.5000/after')).toBe(rotated.active.kid);

    let listing = await keys();
    for (let i = 0; i < 100 && !listing.resign?.done; i++) {
      await new Promise((r) => setTimeout(r, 50));
      listing = await keys();
    }
    expect(listing.resign).toMatchObject({ done: true, target: rotated.active.kid });
    expect(listing.resign!.resigned).toBeGreaterThanOrEqual(5);
    expect(listing).toMatchObject({ resignRunning: false, resignError: null });
    expect(listing.keys.map((k) => [k.kid, k.state])).toEqual([
      [oldKid, 'verify-only'],
      [rotated.active.kid, 'active'],
    ]);
    for (let i = 0; i < 5; i++) expect(await signatureKid(`20.5000/rot-${i}`)).toBe(rotated.active.kid);

    // Both keys are published: the old one until its retire time.
    const jwks = (await t.app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: { kid: string; retire_after?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.active.kid, oldKid]);
    expect(jwks.keys[1]!.retire_after).toBe(rotated.previous.retireAfter);
    // The new HS_PUBKEY is on the prefix record, and no PUT may replace it.
    const prefix = (await t.app.inject({ url: '/api/handles/0.NA/20.5000' })).json() as { values: { index: number; type: string }[] };
    expect(prefix.values.find((v) => v.index === 311)?.type).toBe('HS_PUBKEY');
  });

  it('leaves the next start with the rotated key active and nothing left to re-sign', async () => {
    const active = t.service.signer.active.kid;
    await t.app.close();
    await t.service.close();
    const service = await startService(t.config);
    try {
      expect(service.signer.active.kid).toBe(active);
      expect(service.resign).toBeUndefined();
      const app = await buildApp(service);
      try {
        const res = await app.inject({ url: '/api/resolve/hdl:20.5000/rot-3' });
        expect((res.json() as { signature: { kid: string } }).signature.kid).toBe(active);
      } finally {
        await app.close();
      }
    } finally {
      await service.close();
    }
    // t.close() closes the app and service again: both are no-ops after a close.
  });
});
