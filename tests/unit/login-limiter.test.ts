import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addressKey, LoginLimiter, type LoginAttempt } from '../../src/families/doa/login-limiter.js';
import { basic, startRealServer } from '../helpers/service.js';

/** The failed-login budget on its own (tests/http/auth-rate-limit.test.ts drives it through HTTP and DOIP). */

const thrown = (f: () => void): { code?: string; details?: Record<string, unknown> } => {
  try {
    f();
  } catch (e) {
    return e as { code?: string; details?: Record<string, unknown> };
  }
  return {};
};

describe('addressKey', () => {
  it.each([
    ['192.0.2.7', 'a:192.0.2.7'],
    ['::ffff:192.0.2.7', 'a:192.0.2.7'],
    ['2001:db8:1:2::1', 'a:2001:db8:1:2/64'],
    ['2001:0DB8:0001:0002:ffff:0:0:1', 'a:2001:db8:1:2/64'],
    ['2001:db8::1', 'a:2001:db8:0:0/64'],
    ['::1', 'a:0:0:0:0/64'],
    ['fe80::1%eth0', 'a:fe80:0:0:0/64'],
    ['', undefined],
    [undefined, undefined],
  ])('%s -> %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});

describe('LoginLimiter', () => {
  const at = (address: string, identity: string, type: LoginAttempt['type'] = 'HS_SECKEY'): LoginAttempt => ({ address, identity, type });

  it.each([
    ['perAddress', { perAddress: 0 }],
    ['perIdentity', { perIdentity: -1 }],
    ['windowSeconds', { windowSeconds: 1.5 }],
  ])('refuses a bad %s with ERR_CONFIG_INVALID', (_name, limits) => {
    expect(thrown(() => new LoginLimiter(limits)).code).toBe('ERR_CONFIG_INVALID');
  });

  it('counts identities case-insensitively in the handle, and per credential type', () => {
    const limiter = new LoginLimiter({ perAddress: 100, perIdentity: 1, now: () => 0 });
    limiter.failed(at('10.0.0.1', '300:20.5000/Alice'));
    expect(thrown(() => limiter.check(at('10.0.0.2', '300:20.5000/ALICE'))).code).toBe('ERR_AUTH_RATE_LIMITED');
    expect(thrown(() => limiter.check(at('10.0.0.2', '300:20.5000/alice', 'HS_PUBKEY'))).code).toBeUndefined();
    expect(thrown(() => limiter.check(at('10.0.0.2', '301:20.5000/alice'))).code).toBeUndefined();
  });

  it('forgets the least recently failed keys beyond maxTracked (erring towards letting clients try)', () => {
    const limiter = new LoginLimiter({ perAddress: 1, perIdentity: 100, maxTracked: 4, now: () => 0 });
    for (let i = 1; i <= 3; i++) limiter.failed(at(`10.0.0.${i}`, `300:20.5000/u${i}`));
    // 6 keys were tracked, 4 kept: the first address and identity are gone, the third still counts.
    expect(thrown(() => limiter.check(at('10.0.0.1', '300:20.5000/x'))).code).toBeUndefined();
    expect(thrown(() => limiter.check(at('10.0.0.3', '300:20.5000/x'))).code).toBe('ERR_AUTH_RATE_LIMITED');
  });

  it('says how long to wait, at least 1 s', () => {
    let now = 0;
    const limiter = new LoginLimiter({ perAddress: 1, perIdentity: 1, windowSeconds: 10, now: () => now });
    limiter.failed(at('10.0.0.1', '300:20.5000/a'));
    now = 9_999;
    expect(thrown(() => limiter.check(at('10.0.0.1', '300:20.5000/b'))).details).toEqual({ retryAfterSeconds: 1 });
    now = 10_000;
    expect(thrown(() => limiter.check(at('10.0.0.1', '300:20.5000/b'))).code).toBeUndefined();
  });
});

describe('cairn serve applies CAIRN_LOGIN_FAILURES_* (real sockets)', () => {
  it('refuses the second login after one failure with loginFailuresPerIdentity 1', async () => {
    const { dir, server, url } = await startRealServer({ loginFailuresPerIdentity: 1, loginFailureWindowSeconds: 120 });
    try {
      const put = (secret: string) =>
        fetch(`${url}/api/handles/20.5000/cfg`, { method: 'PUT', headers: { authorization: basic('300:0.NA/20.5000', secret), 'content-type': 'application/json' }, body: '[]' });
      const first = await put('wrong-secret-1');
      const second = await put('wrong-secret-2');
      const body = (await second.json()) as { code: string };
      expect([first.status, second.status, body.code, second.headers.get('retry-after')]).toEqual([401, 429, 'ERR_AUTH_RATE_LIMITED', '120']);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
