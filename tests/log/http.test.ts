import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { refLeafHash, refMth, verifyConsistency, verifyInclusion } from './reference.js';

/*
 * The log over HTTP, checked from the outside: leaf data decoded by the documented layout (here,
 * not Cairn's decoder), roots recomputed from all leaves by the reference implementation
 * (./reference.ts, which imports nothing of Cairn), every audit path and consistency proof checked
 * with RFC 9162's verification algorithms, and tree heads verified with `jose` against the JWKS.
 */

let t: TestService;
/** Change-log entries in order: the id as the change feed names it, and the version. */
let entries: { id: string; version: number }[] = [];
/** Leaf data of leaf i, as the proof endpoint returned it. */
const leafData: Buffer[] = [];
/** Signed tree heads seen after each write: size -> root. */
const signedRoots = new Map<number, string>();
let jwks: ReturnType<typeof createLocalJWKSet>;

const get = (url: string) => t.app.inject({ method: 'GET', url });
const send = (method: 'PUT' | 'DELETE', url: string, body?: unknown) =>
  t.app.inject({
    method,
    url,
    headers: { authorization: adminAuth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const refRoot = (n: number): Buffer => refMth(leafData.slice(0, n));

interface Sth {
  treeSize: number;
  rootHash: string;
  timestamp: number;
  signature: string;
}

/** The tree head's JWS verified with jose against the published JWKS; its claims must be the JSON's. */
async function verifySth(sth: Sth): Promise<void> {
  const header = decodeProtectedHeader(sth.signature);
  expect(header.typ).toBe('tree-head+jwt');
  const { payload } = await jwtVerify(sth.signature, jwks, { typ: 'tree-head+jwt', issuer: '0.NA/20.5000' });
  expect(payload).toMatchObject({ treeSize: sth.treeSize, rootHash: sth.rootHash, timestamp: sth.timestamp });
}

/** The leaf data layout of the README, decoded independently. */
function decodeLeaf(data: Buffer) {
  let o = 0;
  const take = (n: number): Buffer => data.subarray(o, (o += n));
  expect(take(1)[0]).toBe(1);
  const seq = Number(take(8).readBigUInt64BE());
  const at = Number(take(8).readBigUInt64BE());
  const op = ['', 'create', 'update', 'delete'][take(1)[0]!];
  const family = take(take(1)[0]!).toString('ascii');
  const id = take(take(2).readUInt16BE()).toString('utf8');
  const version = take(4).readUInt32BE();
  const digest = take(take(1)[0]!);
  expect(o).toBe(data.length);
  return { seq, at, op, family, id, version, digest };
}

beforeAll(async () => {
  t = await startTestService();
  jwks = createLocalJWKSet((await get('/.well-known/jwks.json')).json() as JSONWebKeySet);
  // Creates, updates, a tombstone and an OID, one change-log entry each, up to 70 entries.
  const writes: (() => Promise<{ statusCode: number }>)[] = [
    () => send('PUT', '/api/oids/2.999', { description: 'Example arc' }),
    () => send('DELETE', '/api/handles/20.5000/log-3'),
  ];
  let i = 0;
  while (t.service.store.lastSeq < 70) {
    const write =
      i === 12 ? writes[0]! : i === 20 ? writes[1]! : i % 7 === 6 ? () => send('PUT', `/api/handles/20.5000/log-${i - 5}`, [{ index: 1, type: 'URL', data: `https://example.org/v2/${i}` }]) : () => send('PUT', `/api/handles/20.5000/log-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/${i}` }]);
    const res = await write();
    expect(res.statusCode, `write ${i}`).toBeLessThan(300);
    const sth = (await get('/api/log/sth')).json() as Sth;
    expect(sth.treeSize).toBe(t.service.store.lastSeq);
    await verifySth(sth);
    signedRoots.set(sth.treeSize, sth.rootHash);
    i++;
  }
  const feed = await t.app.inject({ method: 'GET', url: '/api/changes?limit=1000', headers: { authorization: adminAuth() } });
  entries = (feed.json() as { changes: { id: string; version: number }[] }).changes.map((c) => ({ id: c.id, version: c.version }));
  expect(entries.length).toBe(t.service.store.lastSeq);
  for (const [index, e] of entries.entries()) {
    const res = await get(`/api/log/proof?id=${encodeURIComponent(e.id)}&version=${e.version}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { leafIndex: number; leaf: { data: string } };
    expect(body.leafIndex).toBe(index);
    leafData.push(b64(body.leaf.data));
  }
}, 120_000);
afterAll(async () => t.close());

describe('the routes', () => {
  it('are described in the OpenAPI document with a schema for every status', async () => {
    const paths = ((await get('/openapi.json')).json() as { paths: Record<string, { get: { responses: Record<string, unknown> } }> }).paths;
    expect(Object.keys(paths['/api/log/sth']!.get.responses).sort()).toEqual(['200', '500']);
    expect(Object.keys(paths['/api/log/proof']!.get.responses).sort()).toEqual(['200', '400', '404', '500']);
    expect(Object.keys(paths['/api/log/consistency']!.get.responses).sort()).toEqual(['200', '400', '500']);
  });
});

describe('GET /api/log/sth', () => {
  it('signs the size and root of the whole change log, and the roots agree with the leaves recomputed independently', async () => {
    const res = await get('/api/log/sth');
    expect(res.statusCode).toBe(200);
    const sth = res.json() as Sth;
    expect(Object.keys(sth).sort()).toEqual(['rootHash', 'signature', 'timestamp', 'treeSize']);
    expect(sth.treeSize).toBe(entries.length);
    expect(Math.abs(sth.timestamp - Date.now())).toBeLessThan(60_000);
    await verifySth(sth);
    const kid = decodeProtectedHeader(sth.signature).kid;
    expect((await get('/.well-known/jwks.json')).json().keys.map((k: { kid: string }) => k.kid)).toContain(kid);
    expect(sth.rootHash).toBe(refRoot(entries.length).toString('base64'));
    // Every head signed along the way is the root of the leaves it covered.
    expect(signedRoots.size).toBeGreaterThan(60);
    for (const [size, root] of signedRoots) expect(root, `STH of size ${size}`).toBe(refRoot(size).toString('base64'));
  });

  it('refuses a signature that does not match (the check can fail)', async () => {
    const sth = (await get('/api/log/sth')).json() as Sth;
    const [h, p, s] = sth.signature.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), treeSize: 1 })).toString('base64url')}.${s}`;
    await expect(jwtVerify(forged, jwks, { typ: 'tree-head+jwt' })).rejects.toThrow();
  });
});

describe('leaf data', () => {
  it('binds position, time, operation, id, version and the digest of the signed bytes', async () => {
    const ops = new Set<string>();
    let digestsChecked = 0;
    for (const [index, data] of leafData.entries()) {
      const leaf = decodeLeaf(data);
      const e = entries[index]!;
      expect(leaf.seq).toBe(index + 1);
      expect(e.id.endsWith(leaf.id)).toBe(true);
      expect(leaf.version).toBe(e.version);
      expect(Math.abs(leaf.at * 1000 - Date.now())).toBeLessThan(600_000);
      ops.add(`${leaf.family}/${leaf.op}`);
      if (leaf.family !== 'handle') continue;
      // The digest is SHA-256 of the HS_SIGNATURE value of that version, as published.
      const history = (await get(`/api/history/${encodeURIComponent(e.id)}`)).json() as { versions: { version: number; values: { type: string; data: { value: string } }[] }[] };
      const sig = history.versions.find((v) => v.version === leaf.version)?.values.find((v) => v.type === 'HS_SIGNATURE');
      if (!sig) continue;
      expect(leaf.digest.toString('hex'), `${e.id} v${e.version}`).toBe(createHash('sha256').update(sig.data.value, 'utf8').digest('hex'));
      digestsChecked++;
    }
    expect(digestsChecked).toBeGreaterThan(50);
    expect(ops).toEqual(new Set(['handle/create', 'handle/update', 'handle/delete', 'oid/create']));
  });
});

describe('GET /api/log/proof', () => {
  it('proves every entry in every tree size 1..n with an audit path the RFC 9162 2.1.3.2 check accepts', { timeout: 120_000 }, async () => {
    let checked = 0;
    for (let n = 1; n <= entries.length; n++) {
      const root = refRoot(n);
      for (let m = 0; m < n; m++) {
        const e = entries[m]!;
        const res = await get(`/api/log/proof?id=${encodeURIComponent(e.id)}&version=${e.version}&treeSize=${n}`);
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { leafIndex: number; treeSize: number; rootHash: string; leaf: { data: string; hash: string }; auditPath: string[]; sth?: unknown };
        expect(body.sth).toBeUndefined();
        expect([body.leafIndex, body.treeSize, body.rootHash]).toEqual([m, n, root.toString('base64')]);
        const leafHash = refLeafHash(b64(body.leaf.data));
        expect(body.leaf.hash).toBe(leafHash.toString('base64'));
        expect(verifyInclusion(leafHash, m, n, body.auditPath.map(b64), root), `leaf ${m} of ${n}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe((entries.length * (entries.length + 1)) / 2);
  });

  it('answers against the current signed tree head by default, for the last logged version', async () => {
    const e = entries.findLast((x) => x.version === 2)!;
    const res = await get(`/api/log/proof?id=${encodeURIComponent(e.id)}`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { leafIndex: number; treeSize: number; leaf: { data: string; version: number; digest: string }; auditPath: string[]; sth: Sth };
    await verifySth(body.sth);
    expect(body.treeSize).toBe(body.sth.treeSize);
    expect(body.leaf.version).toBe(2);
    expect(body.leaf.digest).toMatch(/^sha-256:[A-Za-z0-9_-]{43}$/);
    expect(verifyInclusion(refLeafHash(b64(body.leaf.data)), body.leafIndex, body.treeSize, body.auditPath.map(b64), b64(body.sth.rootHash))).toBe(true);
    // The bare handle and the hdl: form name the same record.
    const bare = await get(`/api/log/proof?id=${encodeURIComponent(e.id.replace(/^hdl:/, '').toUpperCase())}&version=1`);
    expect(bare.statusCode).toBe(200);
    expect(bare.json().leaf.version).toBe(1);
  });

  it.each([
    ['an unknown id', '/api/log/proof?id=20.5000/never-written', 404, 'ERR_LOG_ENTRY_NOT_FOUND'],
    ['an unknown version', '/api/log/proof?id=20.5000/log-0&version=9', 404, 'ERR_LOG_ENTRY_NOT_FOUND'],
    ['a tree size beyond the log', '/api/log/proof?id=20.5000/log-0&treeSize=100000', 400, 'ERR_LOG_TREE_SIZE_BEYOND'],
    ['a tree size before the entry', '/api/log/proof?id=20.5000/log-0&treeSize=1', 400, 'ERR_LOG_ENTRY_NOT_IN_TREE'],
    ['no id', '/api/log/proof', 400, 'ERR_QUERY_INVALID'],
    ['a version that is no number', '/api/log/proof?id=20.5000/log-0&version=one', 400, 'ERR_QUERY_INVALID'],
    ['version 0', '/api/log/proof?id=20.5000/log-0&version=0', 400, 'ERR_QUERY_INVALID'],
    ['a negative tree size', '/api/log/proof?id=20.5000/log-0&treeSize=-1', 400, 'ERR_QUERY_INVALID'],
    ['a malformed OID', '/api/log/proof?id=urn:oid:2.999.', 400, 'ERR_OID_INVALID'],
  ])('refuses %s with a stable code', async (_what, url, status, code) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe(code);
  });

  it('names the last logged version when the asked one is not there', async () => {
    const res = await get('/api/log/proof?id=20.5000/log-0&version=9');
    expect(res.json().detail).toMatch(/no version 9 .*last logged version is 1/);
  });
});

describe('GET /api/log/consistency', () => {
  it('proves every pair of sizes up to 40, and many beyond, with proofs the RFC 9162 2.1.4.2 check accepts', { timeout: 120_000 }, async () => {
    let checked = 0;
    for (let n = 1; n <= entries.length; n++) {
      const firsts = n <= 40 ? Array.from({ length: n }, (_, i) => i + 1) : [1, 2, 5, 8, 16, 17, 32, 33, 40, n - 1, n];
      for (const m of firsts) {
        const res = await get(`/api/log/consistency?first=${m}&second=${n}`);
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { first: number; second: number; firstRootHash: string; secondRootHash: string; consistencyPath: string[] };
        expect([body.first, body.second, body.firstRootHash, body.secondRootHash]).toEqual([m, n, refRoot(m).toString('base64'), refRoot(n).toString('base64')]);
        expect(verifyConsistency(m, n, refRoot(m), refRoot(n), body.consistencyPath.map(b64)), `${m} -> ${n}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('defaults the second size to the current signed tree head', async () => {
    const res = await get('/api/log/consistency?first=10');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { second: number; consistencyPath: string[]; sth: Sth };
    await verifySth(body.sth);
    expect(body.second).toBe(body.sth.treeSize);
    expect(verifyConsistency(10, body.second, refRoot(10), b64(body.sth.rootHash), body.consistencyPath.map(b64))).toBe(true);
  });

  it.each([
    ['first > second', '/api/log/consistency?first=9&second=8', 400, 'ERR_LOG_RANGE_INVALID'],
    ['first 0', '/api/log/consistency?first=0&second=8', 400, 'ERR_LOG_RANGE_INVALID'],
    ['second beyond the log', '/api/log/consistency?first=1&second=100000', 400, 'ERR_LOG_TREE_SIZE_BEYOND'],
    ['no first', '/api/log/consistency?second=8', 400, 'ERR_QUERY_INVALID'],
    ['a first that is no number', '/api/log/consistency?first=1e3', 400, 'ERR_QUERY_INVALID'],
  ])('refuses %s with a stable code', async (_what, url, status, code) => {
    const res = await get(url);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().code).toBe(code);
  });
});
