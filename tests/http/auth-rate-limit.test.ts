import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoginLimiter, useLoginLimiter } from '../../src/families/doa/login-limiter.js';
import { answer } from '../../src/doip/listener.js';
import { doipFor } from '../../src/doip/operations.js';
import { jsonSegment } from '../../src/doip/segments.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * The failed-login budget (src/families/doa/login-limiter.ts) on every way in: HTTP Basic, the
 * Handle challenge answer, the sessions API, DOIP over HTTP and over the TLS listener's `answer`.
 * Limits here: 3 failures per address, 2 per identity, in a 60 s window on an injected clock.
 */

let t: TestService;
let now = 0;
const WINDOW_S = 60;
const ALICE_SECRET = 'alice-secret-1234';
const alicePair = generateKeyPairSync('ed25519');
/** alice's key identity (her secret is at 300). */
const ALICE_KEY = '301:20.5000/alice';

const inject = (method: string, path: string, authorization: string | undefined, remoteAddress: string, body?: unknown) =>
  t.app.inject({
    method: method as 'GET',
    url: path,
    remoteAddress,
    headers: { ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });

/** A write that needs credentials (the admin may create it; alice may not, which is 403, not a login failure). */
const write = (authorization: string, address: string) => inject('PUT', `/api/handles/20.5000/rl-${randomBytes(4).toString('hex')}`, authorization, address, [{ index: 1, type: 'URL', data: 'https://example.org/' }]);

async function challengeAnswer(address: string, good: boolean): Promise<string> {
  const res = await inject('POST', '/api/sessions', undefined, address);
  const { sessionId, nonce } = res.json() as { sessionId: string; nonce: string };
  const cnonce = randomBytes(16);
  const signature = good ? sign(null, Buffer.concat([Buffer.from(nonce, 'base64'), cnonce]), alicePair.privateKey) : randomBytes(64);
  return `Handle sessionId="${sessionId}", id="${ALICE_KEY}", type="HS_PUBKEY", cnonce="${cnonce.toString('base64')}", alg="EdDSA", signature="${signature.toString('base64')}"`;
}

beforeAll(async () => {
  t = await startTestService();
  const res = await inject('PUT', '/api/handles/20.5000/alice', adminAuth(), '127.0.0.1', [
    { index: 300, type: 'HS_SECKEY', data: ALICE_SECRET },
    { index: 301, type: 'HS_PUBKEY', data: { format: 'key', value: alicePair.publicKey.export({ format: 'jwk' }) } },
  ]);
  expect(res.statusCode).toBe(201);
});
afterAll(async () => {
  useLoginLimiter(t.service.handles, new LoginLimiter());
  await t.close();
});
beforeEach(() => {
  now += 10 * WINDOW_S * 1000;
  useLoginLimiter(t.service.handles, new LoginLimiter({ perAddress: 3, perIdentity: 2, windowSeconds: WINDOW_S, now: () => now }));
});

describe('failed logins over HTTP', () => {
  it.each([
    {
      name: 'Basic, one identity: the identity budget (2) runs out first, then even the right secret is refused',
      attempts: [
        [basic(ADMIN_IDENTITY, 'wrong-secret-1'), '127.0.0.1', 401, 'ERR_AUTH_FAILED'],
        [basic(ADMIN_IDENTITY, 'wrong-secret-2'), '127.0.0.2', 401, 'ERR_AUTH_FAILED'],
        [basic(ADMIN_IDENTITY, 'wrong-secret-3'), '127.0.0.3', 429, 'ERR_AUTH_RATE_LIMITED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.4', 429, 'ERR_AUTH_RATE_LIMITED'],
      ],
    },
    {
      name: 'Basic, one address: the address budget (3) runs out across identities; another address still gets in',
      attempts: [
        [basic('300:20.5000/nobody-1', 'x-secret-1234'), '127.0.0.1', 401, 'ERR_AUTH_FAILED'],
        [basic('300:20.5000/nobody-2', 'x-secret-1234'), '127.0.0.1', 401, 'ERR_AUTH_FAILED'],
        [basic('300:20.5000/nobody-3', 'x-secret-1234'), '127.0.0.1', 401, 'ERR_AUTH_FAILED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.1', 429, 'ERR_AUTH_RATE_LIMITED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.2', 201, undefined],
      ],
    },
    {
      name: 'a success clears the identity count (not the address count)',
      attempts: [
        [basic(ADMIN_IDENTITY, 'wrong-secret-1'), '127.0.0.1', 401, 'ERR_AUTH_FAILED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.2', 201, undefined],
        [basic(ADMIN_IDENTITY, 'wrong-secret-2'), '127.0.0.3', 401, 'ERR_AUTH_FAILED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.4', 201, undefined],
      ],
    },
    {
      name: 'malformed credentials are refused as before and spend nothing (400s are not login failures)',
      attempts: [
        ['Handle sessionId="x", id="300:20.5000/alice", type="HS_SECKEY", cnonce="AAAA", alg="SHA256", signature="AAAA"', '127.0.0.1', 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
        ['Handle sessionId="x", id="300:20.5000/alice", type="HS_SECKEY", cnonce="AAAA", alg="SHA256", signature="AAAA"', '127.0.0.1', 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
        ['Handle sessionId="x", id="300:20.5000/alice", type="HS_SECKEY", cnonce="AAAA", alg="SHA256", signature="AAAA"', '127.0.0.1', 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
        [basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.1', 201, undefined],
      ],
    },
  ] as const)('$name', async ({ attempts }) => {
    for (const [authorization, address, status, code] of attempts) {
      const res = await write(authorization, address);
      expect([res.statusCode, res.statusCode >= 400 ? res.json().code : undefined], `${address} ${authorization.slice(0, 30)}`).toEqual([status, code]);
      if (status === 429) {
        expect(res.headers['retry-after']).toBe(String(WINDOW_S));
        expect(res.json().responseCode).toBe(3); // Handle.Net RC_SERVER_TOO_BUSY on the Handle REST paths
      } else expect(res.headers['retry-after']).toBeUndefined();
    }
  });

  it('checks no secret for a refused attempt (no scrypt spent)', async () => {
    const authenticate = vi.spyOn(t.service.handles, 'authenticate');
    try {
      for (let i = 0; i < 6; i++) await write(basic(ADMIN_IDENTITY, `wrong-secret-${i}`), '127.0.0.1');
      expect(authenticate).toHaveBeenCalledTimes(2);
    } finally {
      authenticate.mockRestore();
    }
  });

  it('refuses until the window ends, counting Retry-After down, then lets the client try again', async () => {
    for (let i = 0; i < 2; i++) expect((await write(basic(ADMIN_IDENTITY, 'wrong-secret-x'), '127.0.0.1')).statusCode).toBe(401);
    now += 45_500;
    const refused = await write(basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.1');
    expect([refused.statusCode, refused.headers['retry-after']]).toEqual([429, '15']);
    now += 14_500;
    expect((await write(basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.1')).statusCode).toBe(201);
  });

  it('budgets the challenge answer (HS_PUBKEY) apart from guessed secrets (HS_SECKEY) for the same identity', async () => {
    // Someone guesses a secret for alice's key identity: that spends the HS_SECKEY budget only...
    for (const expected of [401, 401, 429]) {
      const res = await inject('POST', '/api/sessions', basic(ALICE_KEY, 'guessed-secret'), '127.0.0.3');
      expect([res.statusCode, res.json().code]).toEqual([expected, expected === 429 ? 'ERR_AUTH_RATE_LIMITED' : 'ERR_AUTH_FAILED']);
    }
    // ... so alice still logs in with her key.
    const first = await inject('PUT', '/api/sessions/this', await challengeAnswer('127.0.0.4', true), '127.0.0.4');
    expect([first.statusCode, first.json().id]).toEqual([200, ALICE_KEY]);
    // Wrong signatures spend the HS_PUBKEY budget.
    for (const [address, expected] of [['127.0.0.1', 401], ['127.0.0.1', 401], ['127.0.0.5', 429]] as const) {
      const res = await inject('PUT', '/api/sessions/this', await challengeAnswer(address, false), address);
      expect([res.statusCode, res.json().code]).toEqual([expected, expected === 429 ? 'ERR_AUTH_RATE_LIMITED' : 'ERR_AUTH_FAILED']);
      if (expected === 429) expect(res.headers['retry-after']).toBe(String(WINDOW_S));
    }
    // The right answer is refused too while the budget is out, without spending its nonce.
    const good = await challengeAnswer('127.0.0.6', true);
    expect((await inject('PUT', '/api/sessions/this', good, '127.0.0.6')).json().code).toBe('ERR_AUTH_RATE_LIMITED');
    now += WINDOW_S * 1000;
    const after = await inject('PUT', '/api/sessions/this', good, '127.0.0.6');
    expect([after.statusCode, after.json().authenticated, after.json().id]).toEqual([200, true, ALICE_KEY]);
  });

  it('budgets Basic on POST /api/sessions and answers on GET /api/sessions/this', async () => {
    for (const expected of [401, 401, 429]) {
      const res = await inject('POST', '/api/sessions', basic('300:20.5000/alice', 'wrong-secret-1'), '127.0.0.1');
      expect([res.statusCode, res.json().code]).toEqual([expected, expected === 429 ? 'ERR_AUTH_RATE_LIMITED' : 'ERR_AUTH_FAILED']);
    }
    for (const expected of [401, 401, 429]) {
      const res = await inject('GET', '/api/sessions/this', await challengeAnswer('127.0.0.2', false), '127.0.0.2');
      expect([res.statusCode, res.json().code]).toEqual([expected, expected === 429 ? 'ERR_AUTH_RATE_LIMITED' : 'ERR_AUTH_FAILED']);
    }
  });
});

describe('failed logins over DOIP', () => {
  const request = (password: string) => ({ targetId: '20.5000/nothing-here', operationId: '0.DOIP/Op.Retrieve', clientId: ADMIN_IDENTITY, authentication: { password } });

  it('answers /doip with Status.102 and ERR_AUTH_RATE_LIMITED past the budget, with Retry-After', async () => {
    const seen: Array<[number, string, string]> = [];
    for (let i = 0; i < 3; i++) {
      const res = await inject('POST', '/doip', undefined, '127.0.0.1', request(`wrong-${i}`));
      seen.push([res.statusCode, JSON.parse(String(res.headers['doip-response'])).status, res.json().code]);
      if (i === 2) expect(res.headers['retry-after']).toBe(String(WINDOW_S));
    }
    expect(seen).toEqual([
      [401, '0.DOIP/Status.102', 'ERR_AUTH_FAILED'],
      [401, '0.DOIP/Status.102', 'ERR_AUTH_FAILED'],
      [429, '0.DOIP/Status.102', 'ERR_AUTH_RATE_LIMITED'],
    ]);
  });

  it('counts the TLS listener\'s clients by their socket address, sharing the budget with HTTP', async () => {
    const doip = doipFor(t.service);
    const run = async (password: string, address: string) => {
      const [first] = await answer(doip, [jsonSegment(request(password))], () => undefined, address);
      return JSON.parse((first as { text: string }).text) as { status: string; output: { code: string; retryAfterSeconds?: number } };
    };
    expect((await inject('POST', '/doip', undefined, '10.1.1.1', request('wrong'))).statusCode).toBe(403); // not loopback: credentials refused before any check
    expect((await run('wrong-1', '192.0.2.7')).output.code).toBe('ERR_AUTH_FAILED');
    expect((await run('wrong-2', '192.0.2.8')).output.code).toBe('ERR_AUTH_FAILED');
    const refused = await run(ADMIN_SECRET, '192.0.2.9');
    expect([refused.status, refused.output.code, refused.output.retryAfterSeconds]).toEqual(['0.DOIP/Status.102', 'ERR_AUTH_RATE_LIMITED', WINDOW_S]);
    // ... and on HTTP, for the same identity.
    expect((await write(basic(ADMIN_IDENTITY, ADMIN_SECRET), '127.0.0.9')).json().code).toBe('ERR_AUTH_RATE_LIMITED');
  });

  it('groups IPv6 clients by /64 on the listener', async () => {
    const doip = doipFor(t.service);
    const code = async (identity: string, address: string) => {
      const [first] = await answer(doip, [jsonSegment({ ...request('wrong'), clientId: identity })], () => undefined, address);
      return (JSON.parse((first as { text: string }).text) as { output: { code: string } }).output.code;
    };
    expect(await code('300:20.5000/a', '2001:db8:1:2::1')).toBe('ERR_AUTH_FAILED');
    expect(await code('300:20.5000/b', '2001:db8:1:2::ffff')).toBe('ERR_AUTH_FAILED');
    expect(await code('300:20.5000/c', '2001:0db8:0001:0002:abcd::9')).toBe('ERR_AUTH_FAILED');
    expect(await code('300:20.5000/d', '2001:db8:1:2:1:2:3:4')).toBe('ERR_AUTH_RATE_LIMITED');
    expect(await code('300:20.5000/e', '2001:db8:1:3::1')).toBe('ERR_AUTH_FAILED');
  });
});
