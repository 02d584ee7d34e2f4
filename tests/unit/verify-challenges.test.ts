import { describe, expect, it } from 'vitest';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { CHALLENGE_ID, ChallengeStore } from '../../src/families/products/verify/challenges.js';

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('ChallengeStore', () => {
  it('issues a 32-byte base64url nonce, a 22-character id and an expiry at most 120 s ahead', () => {
    const c = clock();
    const store = new ChallengeStore({ now: c.now });
    const ch = store.issue('20.5000.7/A', '0.NA/20.5000');
    expect(Buffer.from(ch.nonce, 'base64url')).toHaveLength(32);
    expect(ch.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ch.challengeId).toMatch(CHALLENGE_ID);
    expect(ch.expiresAt - ch.issuedAt).toBe(120_000);
    expect(ch).toMatchObject({ id: '20.5000.7/A', service: '0.NA/20.5000', issuedAt: c.now() });
    expect(store.issue('x', 's').nonce).not.toBe(ch.nonce);
  });

  it('refuses lifetimes above 120 s', () => {
    expect(() => new ChallengeStore({ ttlSeconds: 121 })).toThrow(RangeError);
    expect(() => new ChallengeStore({ ttlSeconds: 0 })).toThrow(RangeError);
    expect(new ChallengeStore({ ttlSeconds: 30 }).issue('a', 's')).toBeDefined();
  });

  it('is single use', () => {
    const store = new ChallengeStore();
    const ch = store.issue('item', 's');
    expect(store.consume(ch.challengeId, 'item')).toEqual({ ok: true, challenge: ch });
    expect(store.consume(ch.challengeId, 'item')).toEqual({ ok: false, refusal: 'used' });
  });

  it('is bound to its item, and a presentation for another item spends it', () => {
    const store = new ChallengeStore();
    const ch = store.issue('item-a', 's');
    expect(store.consume(ch.challengeId, 'item-b')).toEqual({ ok: false, refusal: 'other-item' });
    expect(store.consume(ch.challengeId, 'item-a')).toEqual({ ok: false, refusal: 'used' });
  });

  it('expires, says so for one more lifetime, then forgets', () => {
    const c = clock();
    const store = new ChallengeStore({ now: c.now, ttlSeconds: 60 });
    const a = store.issue('i', 's');
    const b = store.issue('i', 's');
    c.advance(60_000);
    expect(store.consume(a.challengeId, 'i').ok).toBe(true);
    c.advance(1);
    expect(store.consume(b.challengeId, 'i')).toEqual({ ok: false, refusal: 'expired' });
    expect(store.consume(b.challengeId, 'i')).toEqual({ ok: false, refusal: 'used' });
    c.advance(60_000);
    store.issue('i', 's');
    expect(store.size).toBe(1);
    expect(store.consume(a.challengeId, 'i')).toEqual({ ok: false, refusal: 'unknown' });
    expect(store.consume('AAAAAAAAAAAAAAAAAAAAAA', 'i')).toEqual({ ok: false, refusal: 'unknown' });
  });

  it('stays within its bound, dropping the oldest first', () => {
    const store = new ChallengeStore({ maxEntries: 3 });
    const issued = Array.from({ length: 5 }, (_, i) => store.issue(`i${i}`, 's'));
    expect(store.size).toBe(3);
    expect(store.consume(issued[0]!.challengeId, 'i0').ok).toBe(false);
    expect(store.consume(issued[1]!.challengeId, 'i1').ok).toBe(false);
    expect(store.consume(issued[4]!.challengeId, 'i4').ok).toBe(true);
  });
});

describe('challengeMessage', () => {
  it('is the JCS form of {v, svc, id, nonce, cid}', () => {
    const bytes = challengeMessage({ service: '0.NA/20.5000', id: '20.5000.7/SN-1', nonce: 'bm9uY2U', challengeId: 'Y2lk' });
    expect(bytes.toString('utf8')).toBe('{"cid":"Y2lk","id":"20.5000.7/SN-1","nonce":"bm9uY2U","svc":"0.NA/20.5000","v":1}');
  });
});
