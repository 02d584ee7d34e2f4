import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import type { TransparencyLog } from '../../src/log/transparency-log.js';
import { overInject, seed, type Seeded } from '../browser/fixtures.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';
import { refLeafHash, verifyInclusion } from '../log/reference.js';

/*
 * `POST /api/verify` answers carry the inclusion proof of the item's registration (issue 8), bound
 * to the verdict token by its logLeaf and logTreeSize claims. Checked from the outside: tokens and
 * tree heads with `jose` against the JWKS, the leaf data decoded by the documented layout (here,
 * not Cairn's decoder), the audit path with the reference RFC 9162 verifier (tests/log/reference.ts).
 */
let ts: TestService;
let data: Seeded;
let jwks: ReturnType<typeof createLocalJWKSet>;
const extraApps: FastifyInstance[] = [];

beforeAll(async () => {
  ts = await startTestService();
  data = await seed(overInject(ts.app));
  jwks = createLocalJWKSet((await ts.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet);
});

afterAll(async () => {
  for (const a of extraApps) await a.close();
  await ts.close();
});

const verify = async (id: string, app = ts.app, extra: Record<string, unknown> = { proof: true }) => {
  const res = await app.inject({ method: 'POST', url: '/api/verify', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ id, evidence: { type: 'none' }, ...extra }) });
  expect(res.statusCode).toBe(200);
  return res.json() as Answer;
};

interface Registration {
  leafIndex: number;
  treeSize: number;
  rootHash: string;
  leaf: { data: string; hash: string; seq: number; at: number; op: string; family: string; id: string; version: number; digest: string | null };
  auditPath: string[];
  sth: { treeSize: number; rootHash: string; timestamp: number; signature: string };
}
interface Answer {
  id: string;
  verdict: string;
  token: string;
  registration: Registration | null;
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** The leaf data by the layout documented in src/log/leaf.ts, decoded here. */
function decodeLeaf(d: Buffer): { seq: number; at: number; op: number; family: string; id: string; version: number } {
  let o = 0;
  expect(d.readUInt8(o)).toBe(1);
  o += 1;
  const seq = Number(d.readBigUInt64BE(o));
  const at = Number(d.readBigUInt64BE(o + 8));
  const op = d.readUInt8(o + 16);
  o += 17;
  const fl = d.readUInt8(o);
  const family = d.toString('ascii', o + 1, o + 1 + fl);
  o += 1 + fl;
  const il = d.readUInt16BE(o);
  const id = d.toString('utf8', o + 2, o + 2 + il);
  o += 2 + il;
  const version = d.readUInt32BE(o);
  const dl = d.readUInt8(o + 4);
  expect(o + 5 + dl).toBe(d.length);
  return { seq, at, op, family, id, version };
}

/** Everything a verifier holding the token and the proof checks, with code independent of Cairn's. */
async function checkIndependently(answer: Answer): Promise<{ claims: Record<string, unknown>; leaf: ReturnType<typeof decodeLeaf> }> {
  const reg = answer.registration!;
  const { payload: claims } = await jwtVerify(answer.token, jwks, { typ: 'verdict+jwt' });
  const data = b64(reg.leaf.data);
  const leafHash = refLeafHash(data);
  expect(claims.logLeaf).toBe(leafHash.toString('base64'));
  expect(claims.logTreeSize).toBe(reg.treeSize);
  const leaf = decodeLeaf(data);
  expect(leaf).toMatchObject({ id: answer.id, version: 1, op: 1, family: 'handle', seq: reg.leafIndex + 1 });
  const sth = await jwtVerify(reg.sth.signature, jwks, { typ: 'tree-head+jwt' });
  expect(decodeProtectedHeader(reg.sth.signature).typ).toBe('tree-head+jwt');
  expect(sth.payload).toMatchObject({ iss: '0.NA/20.5000', treeSize: claims.logTreeSize, rootHash: reg.rootHash });
  const root = b64(sth.payload.rootHash as string);
  expect(verifyInclusion(leafHash, reg.leafIndex, reg.treeSize, reg.auditPath.map(b64), root)).toBe(true);
  return { claims, leaf };
}

describe('POST /api/verify: the registration proof', () => {
  it('carries the inclusion proof of the first version, bound to the token and the signed tree head', async () => {
    const answer = await verify(data.items.label);
    expect(answer.verdict).toBe('registered-unproven');
    expect(answer.registration).not.toBeNull();
    const { leaf } = await checkIndependently(answer);
    // The proof's tree is the current one: the published tree head has that size.
    const sth = (await ts.app.inject({ method: 'GET', url: '/api/log/sth' })).json() as { treeSize: number; rootHash: string };
    expect(sth).toMatchObject({ treeSize: answer.registration!.treeSize, rootHash: answer.registration!.rootHash });
    expect(Math.abs(leaf.at - Date.now() / 1000)).toBeLessThan(600);
  });

  it('a stolen item still proves its registration; a later version does not change which entry', async () => {
    const before = await verify(data.items.stolen);
    expect(before.verdict).toBe('blocked');
    await checkIndependently(before);
    // LB-2 has two versions (registration, then the stolen status); write a third.
    const [, serial] = data.items.stolen.split('/');
    const m = await ts.app.inject({
      method: 'POST',
      url: `/api/products/${data.prefix}/items/${serial}/status`,
      headers: { 'content-type': 'application/json', authorization: adminAuth() },
      payload: JSON.stringify({ status: 'recalled', reason: 'found again, batch recalled' }),
    });
    expect(m.statusCode, m.body).toBeLessThan(300);
    const after = await verify(data.items.stolen);
    expect(after.verdict).not.toBe('blocked');
    await checkIndependently(after);
    expect(after.registration!.leafIndex).toBe(before.registration!.leafIndex);
    expect(after.registration!.treeSize).toBeGreaterThan(before.registration!.treeSize);
  });

  it('an audit path or leaf changed in transit no longer checks', async () => {
    const answer = await verify(data.items.label);
    const reg = answer.registration!;
    const leafHash = refLeafHash(b64(reg.leaf.data));
    const root = b64(reg.rootHash);
    expect(reg.auditPath.length).toBeGreaterThan(0);
    const path = reg.auditPath.map(b64);
    path[0]![0]! ^= 1;
    expect(verifyInclusion(leafHash, reg.leafIndex, reg.treeSize, path, root)).toBe(false);
    const other = Buffer.from(b64(reg.leaf.data));
    other[other.length - 1]! ^= 1;
    const { payload } = await jwtVerify(answer.token, jwks);
    expect(refLeafHash(other).toString('base64')).not.toBe(payload.logLeaf);
  });

  it('only when asked: without "proof": true the answer carries none and the token no log claims', async () => {
    for (const extra of [{}, { proof: false }]) {
      const answer = await verify(data.items.label, ts.app, extra);
      expect(answer.verdict).toBe('registered-unproven');
      expect(answer.registration).toBeNull();
      const { payload } = await jwtVerify(answer.token, jwks);
      expect(payload).toMatchObject({ logLeaf: null, logTreeSize: null });
    }
    const bad = await ts.app.inject({
      method: 'POST',
      url: '/api/verify',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ id: data.items.label, evidence: { type: 'none' }, proof: 'yes' }),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'ERR_VERIFY_REQUEST_INVALID' });
  });

  it('an unknown item: registration null, no log claims', async () => {
    const answer = await verify('20.5000.7/NOT-THERE');
    expect(answer.verdict).toBe('unknown');
    expect(answer.registration).toBeNull();
    const { payload } = await jwtVerify(answer.token, jwks);
    expect(payload).toMatchObject({ logLeaf: null, logTreeSize: null });
  });

  it('without a log (a mirror), or when the log cannot answer: registration null, the verdict unchanged', async () => {
    const { log: _log, ...noLog } = ts.service;
    const mirrorLike = await buildApp(noLog, { fastResolve: false });
    extraApps.push(mirrorLike);
    const failing = { inclusion: () => Promise.reject(new Error('the log is behind')), current: () => Promise.resolve(0), root: () => Buffer.alloc(32) } as unknown as TransparencyLog;
    const broken = await buildApp({ ...ts.service, log: failing }, { fastResolve: false });
    extraApps.push(broken);
    for (const app of [mirrorLike, broken]) {
      const answer = await verify(data.items.label, app);
      expect(answer.verdict).toBe('registered-unproven');
      expect(answer.registration).toBeNull();
      const { payload } = await jwtVerify(answer.token, jwks);
      expect(payload).toMatchObject({ sub: data.items.label, logLeaf: null, logTreeSize: null });
    }
  });
});

