import { describe, expect, it } from 'vitest';
import { checkChangesPage } from '../../src/mirror/primary.js';
import { PrimaryKeys, readJwks } from '../../src/mirror/primary-keys.js';
import { targetOf } from '../../src/mirror/follower.js';
import { checkHistory, verifiedVersion, type HistoryDoc } from '../../src/mirror/verify.js';
import { encodeAdmin } from '../../src/records/admin.js';
import { isoSeconds, valueToJson } from '../../src/records/handle-json.js';
import type { HandleValue } from '../../src/records/value.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { withSignature } from '../../src/signing/record-signature.js';
import { Signer, signingKey } from '../../src/signing/signer.js';

const NOW = 1_790_000_000;
const HANDLE = '20.5000/Mirror-Test';

function newSigner(alg: 'EdDSA' | 'ES256' = 'EdDSA'): Signer {
  const pair = generateKeyPair(alg);
  return new Signer(signingKey(pair.privateKey, pair.publicKey));
}

const value = (index: number, type: string, data: Uint8Array | string, permissions = 0b1110, timestamp = NOW): HandleValue => ({
  index, type, data: typeof data === 'string' ? Buffer.from(data) : data, ttlType: 'relative', ttl: 86400, timestamp, permissions, references: [],
});

const baseValues = (): HandleValue[] => [
  value(1, 'URL', 'https://example.org/object'),
  value(2, 'EMAIL', 'owner@example.org'),
  value(3, 'BLOB', Buffer.from([0, 1, 2, 250, 251])),
  value(100, 'HS_ADMIN', encodeAdmin({ handle: '0.NA/20.5000', index: 300, permissions: 0xff2 })),
];

/** A history document as the primary's `/api/history` renders it, one version signed by `signer`. */
function historyOf(signer: Signer, values: readonly HandleValue[], opts: { sub?: string; now?: number } = {}): { id: string; versions: { version: number; status: string; updated: string; values: Record<string, unknown>[] }[] } {
  const now = opts.now ?? NOW;
  const signed = withSignature(opts.sub ?? HANDLE, values, signer, { issuer: '301:0.NA/20.5000', now, validitySeconds: 3600 });
  return { id: `hdl:${HANDLE}`, versions: [{ version: 1, status: 'active', updated: isoSeconds(now), values: signed.map((v) => valueToJson(v) as unknown as Record<string, unknown>) }] };
}

const target = (): ReturnType<typeof targetOf> & object => {
  const t = targetOf(`hdl:${HANDLE}`, '20.5000');
  if (t === 'unsupported') throw new Error('unexpected');
  return t;
};

function check(doc: unknown, keys: PrimaryKeys) {
  return verifiedVersion(target(), checkHistory(doc, `hdl:${HANDLE}`) as HistoryDoc, 1, keys, undefined);
}

function keysOf(...signers: Signer[]): PrimaryKeys {
  return new PrimaryKeys({ keys: signers.flatMap((s) => s.jwks().keys) });
}

describe('mirror verification of a record from the primary', () => {
  const signer = newSigner();
  const keys = keysOf(signer);

  it('accepts the record the primary signed, with its values, times and id', () => {
    const record = check(historyOf(signer, baseValues()), keys);
    expect(record).toMatchObject({ id: HANDLE, family: 'handle', version: 1, created: NOW, updated: NOW, status: 'active' });
    expect(record.values.map((v) => [v.index, v.type])).toEqual([[1, 'URL'], [2, 'EMAIL'], [3, 'BLOB'], [100, 'HS_ADMIN'], [400, 'HS_SIGNATURE']]);
    expect(Buffer.from(record.values[2]!.data)).toEqual(Buffer.from([0, 1, 2, 250, 251]));
  });

  it('accepts an ES256 signature too (the key decides the algorithm)', () => {
    const es = newSigner('ES256');
    expect(check(historyOf(es, baseValues()), keysOf(signer, es)).id).toBe(HANDLE);
  });

  it('rejects a flipped byte in a string value (digest mismatch)', () => {
    const doc = historyOf(signer, baseValues());
    const url = doc.versions[0]!.values[0]!.data as { value: string };
    url.value = url.value.replace('object', 'objecu');
    expect(() => check(doc, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/digest mismatch at value index 1/) }));
  });

  it('rejects a flipped bit in binary data', () => {
    const doc = historyOf(signer, baseValues());
    const blob = doc.versions[0]!.values[2]!.data as { value: string };
    const bytes = Buffer.from(blob.value, 'base64');
    bytes[4]! ^= 0x01;
    blob.value = bytes.toString('base64');
    expect(() => check(doc, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });

  it('rejects a changed type, ttl or permissions (all covered by the digest)', () => {
    for (const change of [(v: Record<string, unknown>) => (v.type = 'URL.mirror'), (v: Record<string, unknown>) => (v.ttl = 60), (v: Record<string, unknown>) => (v.permissions = '1111')]) {
      const doc = historyOf(signer, baseValues());
      change(doc.versions[0]!.values[0]!);
      expect(() => check(doc, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
    }
  });

  it('rejects a value left out or slipped in', () => {
    const dropped = historyOf(signer, baseValues());
    dropped.versions[0]!.values.splice(1, 1);
    expect(() => check(dropped, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
    const added = historyOf(signer, baseValues());
    added.versions[0]!.values.splice(3, 0, { index: 5, type: 'URL', data: { format: 'string', value: 'https://evil.example/' }, ttl: 86400, timestamp: isoSeconds(NOW) });
    expect(() => check(added, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/index 5/) }));
  });

  it('rejects a signature whose bytes were altered, or that names an unknown key', () => {
    const doc = historyOf(signer, baseValues());
    const sig = doc.versions[0]!.values.at(-1)!.data as { value: string };
    const [h, p, s] = sig.value.split('.') as [string, string, string];
    const raw = Buffer.from(s, 'base64url');
    raw[0]! ^= 0x80;
    sig.value = `${h}.${p}.${raw.toString('base64url')}`;
    expect(() => check(doc, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/does not verify/) }));
    const stranger = newSigner();
    expect(() => check(historyOf(stranger, baseValues()), keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/Unknown signing key/) }));
  });

  it('rejects a signature for another record', () => {
    expect(() => check(historyOf(signer, baseValues(), { sub: '20.5000/other' }), keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/for 20.5000\/other/) }));
  });

  it('ties the unsigned times to the signature', () => {
    const moved = historyOf(signer, baseValues());
    moved.versions[0]!.updated = isoSeconds(NOW + 60);
    expect(() => check(moved, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/signed at/) }));
    const later = historyOf(signer, baseValues());
    later.versions[0]!.values[0]!.timestamp = isoSeconds(NOW + 1);
    expect(() => check(later, keys)).toThrow(expect.objectContaining({ code: 'ERR_SIGNATURE_INVALID' }));
  });

  it('refuses malformed history documents as ERR_MIRROR_FEED_INVALID', () => {
    const doc = historyOf(signer, baseValues());
    expect(() => checkHistory({ ...doc, versions: [] }, 'x')).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    expect(() => checkHistory({ ...doc, versions: [{ ...doc.versions[0], version: 2 }] }, 'x')).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    const badTime = historyOf(signer, baseValues());
    badTime.versions[0]!.updated = '2026-01-01T00:00:00.5Z';
    expect(() => check(badTime, keys)).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    const badValue = historyOf(signer, baseValues());
    badValue.versions[0]!.values[0]!.data = { format: 'nonsense', value: 'x' };
    expect(() => check(badValue, keys)).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
  });
});

describe('the primary\'s keys on a mirror', () => {
  it('republishes the JWKS as last fetched, and verifies with every key it has learnt', () => {
    const a = newSigner();
    const b = newSigner('ES256');
    const keys = new PrimaryKeys(a.jwks());
    expect(keys.jwks()).toEqual(a.jwks());
    expect(keys.active.jwk).toEqual(a.jwks().keys[0]);
    expect(keys.learn({ keys: [...b.jwks().keys, { ...a.jwks().keys[0]!, retire_after: '2030-01-01T00:00:00Z' }] })).toEqual({ added: 1, ignored: 0 });
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([b.active.kid, a.active.kid]);
    expect(keys.learn(b.jwks())).toEqual({ added: 0, ignored: 0 }); // a retired
    expect(keys.jwks()).toEqual(b.jwks());
    expect(keys.active.kid).toBe(b.active.kid);
    const token = a.sign({ hello: 1 });
    expect(keys.verify(token).payload).toEqual({ hello: 1 });
    expect(keys.findKey(a.active.kid)?.kid).toBe(a.active.kid);
  });

  it('ignores keys whose kid is not their thumbprint, private keys and foreign algorithms', () => {
    const a = newSigner();
    const jwk = a.jwks().keys[0]!;
    const { keys, ignored } = readJwks({ keys: [{ ...jwk, kid: 'chosen-by-attacker' }, { ...jwk, alg: 'ES256' }, { ...jwk, d: 'x' }, 'junk', jwk] });
    expect([keys.length, ignored]).toEqual([1, 4]);
    expect(() => readJwks({ nokeys: [] })).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
  });

  it('signs nothing', () => {
    expect(() => new PrimaryKeys().sign()).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_READ_ONLY' }));
  });
});

describe('the change feed as a mirror reads it', () => {
  const entry = (seq: number, id = 'hdl:20.5000/a') => ({ seq, id, version: 1, op: 'create', at: '2026-01-01T00:00:00Z' });

  it('takes consecutive entries right after the cursor', () => {
    expect(checkChangesPage({ since: 4, next: 6, last: 9, changes: [entry(5), entry(6)] }, 4, 100).changes.map((c) => c.seq)).toEqual([5, 6]);
  });

  it('refuses gaps, repeats, malformed entries and a lying "last"', () => {
    for (const body of [
      { last: 9, changes: [entry(6)] },
      { last: 9, changes: [entry(5), entry(5)] },
      { last: 9, changes: [{ ...entry(5), op: 'rename' }] },
      { last: 9, changes: [{ ...entry(5), version: 0 }] },
      { last: 4, changes: [entry(5)] },
      { changes: [] },
    ]) {
      expect(() => checkChangesPage(body, 4, 100)).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    }
  });

  it('knows which records it copies', () => {
    expect(targetOf('hdl:20.5000.7/x', '20.5000')).toMatchObject({ family: 'handle', key: '20.5000.7/X' });
    expect(targetOf('hdl:0.NA/20.5000', '20.5000')).toMatchObject({ family: 'handle', key: '0.NA/20.5000' });
    expect(targetOf('urn:oid:2.999.1', '20.5000')).toMatchObject({ family: 'oid' });
    expect(targetOf('hdl:its:sign:DE.417:3K7QJ2~R', '20.5000')).toBe('unsupported');
    expect(targetOf('hdl:its-issuer:DE.417', '20.5000')).toBe('unsupported');
    expect(() => targetOf('hdl:21.T1/x', '20.5000')).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    expect(() => targetOf('urn:oid:3.1', '20.5000')).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
    expect(() => targetOf('imei:123', '20.5000')).toThrow(expect.objectContaining({ code: 'ERR_MIRROR_FEED_INVALID' }));
  });
});
