import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToValues } from '../../src/families/its/its-record.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { isoSeconds, valueToJson } from '../../src/records/handle-json.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { withSignature } from '../../src/signing/record-signature.js';
import { Signer, signingKey } from '../../src/signing/signer.js';
import { killAllChildren, requireBuiltCli, startServer, type ServerChild } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * ITS signs and issuers on a mirror (README "Mirrors", "ITS road signs"): a primary and a mirror as
 * two `cairn serve` processes on loopback. Signs written, re-typed, deleted and an issuer grant
 * withdrawn on the primary appear on the mirror byte for byte (sign views, spatial and alias
 * queries, history); then a fake primary serving an ITS sign with one flipped byte: rejected, the
 * next sign mirrored.
 */

const SECRET = 'mirror-its-admin-secret';
const AUTH = basic(ADMIN_IDENTITY, SECRET);
const WAIT_MS = 15_000;

let root: string;
let primary: ServerChild;
let mirror: ServerChild;

const mirrorEnv = (name: string, of: string): Record<string, string> => ({
  CAIRN_DATA_DIR: join(root, name, 'data'),
  CAIRN_CERTS_DIR: join(root, name, 'certs'),
  CAIRN_SYNC_WRITES: 'false',
  CAIRN_MIRROR_OF: of,
  CAIRN_MIRROR_IDENTITY: ADMIN_IDENTITY,
  CAIRN_MIRROR_SECRET: SECRET,
  CAIRN_MIRROR_POLL_MS: '100',
});

async function send(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function eventually(url: string, ok: (res: { status: number; body: string }) => boolean): Promise<{ status: number; body: string }> {
  const until = Date.now() + WAIT_MS;
  let last = { status: 0, body: '' };
  while (Date.now() < until) {
    const res = await fetch(url);
    last = { status: res.status, body: await res.text() };
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not reach the expected state within ${WAIT_MS} ms; last answer ${last.status} ${last.body.slice(0, 300)}`);
}

async function sameOnBoth(path: string): Promise<string> {
  const [p, m] = await Promise.all([fetch(`${primary.url}${path}`), fetch(`${mirror.url}${path}`)]);
  const [pb, mb] = await Promise.all([p.text(), m.text()]);
  expect([m.status, mb], path).toEqual([p.status, pb]);
  return pb;
}

const at = (id: string): string => `/api/its/${encodeURIComponent(id)}`;
const hist = (id: string): string => `/api/history/${encodeURIComponent(id)}`;
const sid = (serial: number, type?: string): string =>
  formatItsSignId({ kind: 'sign', country: 'AT', authority: 33, serial, ...(type ? { type: parseItsSignType(`any.${type}`) } : {}) });

beforeAll(async () => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-mirror-its-'));
  primary = await startServer({ CAIRN_DATA_DIR: join(root, 'primary', 'data'), CAIRN_CERTS_DIR: join(root, 'primary', 'certs'), CAIRN_ADMIN_SECRET: SECRET, CAIRN_SYNC_WRITES: 'false' });
  mirror = await startServer(mirrorEnv('mirror', primary.url));
}, 60_000);

afterAll(async () => {
  await Promise.all([mirror?.stop(), primary?.stop()]);
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a mirror of a primary with ITS signs', () => {
  const ids: string[] = [];

  it('copies issuers and signs: views, queries and history byte for byte', async () => {
    expect((await send('PUT', `${primary.url}/api/its/issuers/AT.33`, { identity: ADMIN_IDENTITY, name: 'Roads AT' })).status).toBe(201);
    for (let i = 0; i < 6; i++) {
      const res = await send('POST', `${primary.url}/api/its/sign/AT.33`, { position: { lat: 48.2 + i * 1e-4, lon: 16.37 }, facing: 180, aliases: [`osm:node/${700 + (i % 2)}`] });
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { id: string }).id);
    }
    expect((await send('PUT', `${primary.url}${at(sid(1, 'X9'))}`, { position: { lat: 48.21, lon: 16.37 }, facing: 90 })).status).toBe(200);
    expect((await send('DELETE', `${primary.url}${at(ids[2]!)}?reason=removed`)).status).toBe(200);

    await eventually(`${mirror.url}${at(ids[2]!)}`, (r) => r.status === 410);
    await eventually(`${mirror.url}${at(sid(1))}`, (r) => r.body.includes('any.X9'));
    for (const id of ids) {
      await sameOnBoth(at(id));
      await sameOnBoth(hist(id));
    }
    await sameOnBoth(at(sid(1, 'X9')));
    for (const q of ['near=48.2,16.37&radius=500', 'near=48.2,16.37&radius=500&limit=2', 'ahead=48.19,16.37,0&distance=3000', 'bbox=16.36,48.19,16.38,48.22', 'alias=osm:node/701']) {
      const body = await sameOnBoth(`/api/its?${q}`);
      expect((JSON.parse(body) as { count: number }).count, q).toBeGreaterThan(0);
    }
    await sameOnBoth(hist('its-issuer:AT.33'));
    const [p, m] = (await Promise.all([primary, mirror].map(async (s) => (await fetch(`${s.url}/api/its/issuers/AT.33`)).json()))) as Record<string, unknown>[];
    // lastSerial is the primary's counter, which is not in any record: a mirror cannot know it.
    expect({ ...m, lastSerial: undefined }).toEqual({ ...p, lastSerial: undefined });
  });

  it('follows a grant withdrawal, and refuses ITS writes itself', async () => {
    expect((await send('DELETE', `${primary.url}/api/its/issuers/AT.33`)).status).toBe(200);
    const withdrawn = await eventually(`${mirror.url}/api/its/issuers/AT.33`, (r) => r.body.includes('"withdrawn"'));
    expect(JSON.parse(withdrawn.body)).toMatchObject({ identity: null, withdrawn: { identity: ADMIN_IDENTITY } });
    await sameOnBoth(hist('its-issuer:AT.33'));
    for (const [method, path] of [['POST', '/api/its/sign/AT.33'], ['PUT', at(ids[0]!)], ['DELETE', at(ids[0]!)], ['DELETE', '/api/its/issuers/AT.33']] as const) {
      const res = await send(method, `${mirror.url}${path}`, method === 'DELETE' ? undefined : { position: { lat: 48, lon: 16 }, facing: 0 });
      expect([res.status, ((await res.json()) as { code: string }).code], `${method} ${path}`).toEqual([400, 'ERR_MIRROR_READ_ONLY']);
    }
    const status = (await (await fetch(`${mirror.url}/api/mirror`)).json()) as { rejectedTotal: number; unsupportedTotal: number };
    expect(status).toMatchObject({ rejectedTotal: 0, unsupportedTotal: 0 });
  });
});

describe('a mirror fed a tampered ITS sign', () => {
  let fake: Server;
  let follower: ServerChild | undefined;

  afterAll(async () => {
    await follower?.stop();
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
  });

  it('rejects it and mirrors the next sign', async () => {
    const pair = generateKeyPair('EdDSA');
    const signer = new Signer(signingKey(pair.privateKey, pair.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const signed = (id: string, lat: number) =>
      withSignature(id, signToValues({ position: { lat, lon: 16.37 }, facing: 180, status: 'placed', value: null, unit: null, validity: { from: null, to: null, windows: [] }, temporary: false, mount: null, lanes: [], road: null, aliases: [], source: null }, undefined, now), signer, {
        issuer: '301:0.NA/20.5000',
        now,
        validitySeconds: 3600,
      });
    const bad = sid(1);
    const good = sid(2);
    const history = (id: string, lat: number, tamper: boolean) => {
      const json = signed(id, lat).map((v) => valueToJson(v) as unknown as { type: string; data: { value: string } });
      // One flipped digit in the position the primary signed.
      const position = json.find((v) => v.type === 'ITS.POSITION')!;
      if (tamper) position.data.value = position.data.value.replace('48.3', '48.4');
      return { id, versions: [{ version: 1, status: 'active', updated: isoSeconds(now), values: json }] };
    };
    const feed = [
      { seq: 1, id: bad, version: 1, op: 'create', at: isoSeconds(now) },
      { seq: 2, id: good, version: 1, op: 'create', at: isoSeconds(now) },
    ];
    const routes: Record<string, unknown> = {
      '/.well-known/jwks.json': signer.jwks(),
      '/api/handles/0.NA/20.5000': { responseCode: 1, handle: '0.NA/20.5000', values: [] },
      [hist(bad)]: history(bad, 48.3, true),
      [hist(good)]: history(good, 48.31, false),
    };
    fake = createServer((req, res) => {
      const url = req.url ?? '';
      const page = /^\/api\/changes\?since=(\d+)&limit=(\d+)$/.exec(url);
      const since = Number(page?.[1]);
      const changes = feed.filter((c) => c.seq > since).slice(0, Number(page?.[2]));
      const body = routes[url] ?? (page ? { since, next: changes.at(-1)?.seq ?? since, last: feed.length, changes } : undefined);
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { code: 'ERR_ROUTE_NOT_FOUND' }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    follower = await startServer(mirrorEnv('fed', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`));

    const seen = await eventually(`${follower.url}${at(good)}`, (r) => r.status === 200);
    expect(JSON.parse(seen.body)).toMatchObject({ id: good, position: { lat: 48.31, lon: 16.37 } });
    const res = await fetch(`${follower.url}${at(bad)}`);
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([404, 'ERR_ITS_NOT_FOUND']);
    const near = (await (await fetch(`${follower.url}/api/its?near=48.3,16.37&radius=2000`)).json()) as { signs: { id: string }[] };
    expect(near.signs.map((s) => s.id)).toEqual([good]);
    const status = (await (await fetch(`${follower.url}/api/mirror`)).json()) as { rejectedTotal: number; rejected: { id: string; code: string }[] };
    expect(status.rejectedTotal).toBe(1);
    expect(status.rejected[0]).toMatchObject({ id: bad, code: 'ERR_SIGNATURE_INVALID' });
  }, 60_000);
});
