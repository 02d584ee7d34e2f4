import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHandleView } from '../../src/families/doa/views.js';
import { encodeAdmin } from '../../src/records/admin.js';
import { isoSeconds, valueToJson } from '../../src/records/handle-json.js';
import type { HandleValue } from '../../src/records/value.js';
import { generateKeyPair } from '../../src/signing/algorithms.js';
import { withSignature } from '../../src/signing/record-signature.js';
import { Signer, signingKey } from '../../src/signing/signer.js';
import { killAllChildren, requireBuiltCli, startServer, type ServerChild } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * A primary and a mirror as two `cairn serve` processes on loopback (README "Mirrors"): writes to
 * the primary appear on the mirror byte for byte, deletions as tombstones; the mirror refuses
 * writes and sends authenticated reads to the primary. Then a mirror of a fake primary (a small
 * node:http server here) that serves a record with one flipped byte: rejected, never resolvable,
 * visible in the log and the metrics, and the mirror goes on with the next record.
 */

const SECRET = 'mirror-test-admin-secret';
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

async function send(method: string, url: string, body?: unknown, auth = AUTH): Promise<Response> {
  return fetch(url, {
    method,
    headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** Polls `url` until `ok` holds for its answer, within WAIT_MS. */
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

/** The same URL on both servers: same status, same body. */
async function sameOnBoth(path: string): Promise<string> {
  const [p, m] = await Promise.all([fetch(`${primary.url}${path}`), fetch(`${mirror.url}${path}`)]);
  const [pb, mb] = await Promise.all([p.text(), m.text()]);
  expect([m.status, mb], path).toEqual([p.status, pb]);
  return pb;
}

beforeAll(async () => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-mirror-system-'));
  primary = await startServer({ CAIRN_DATA_DIR: join(root, 'primary', 'data'), CAIRN_CERTS_DIR: join(root, 'primary', 'certs'), CAIRN_ADMIN_SECRET: SECRET, CAIRN_SYNC_WRITES: 'false' });
  mirror = await startServer(mirrorEnv('mirror', primary.url));
  expect(mirror.ready).toMatchObject({ mirrorOf: primary.url });
}, 60_000);

afterAll(async () => {
  await Promise.all([mirror?.stop(), primary?.stop()]);
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a mirror of a running primary', () => {
  it('serves a write to the primary byte for byte: Handle REST, resolve, history, the prefix record and the JWKS', async () => {
    const put = await send('PUT', `${primary.url}/api/handles/20.5000/sensor-1`, [
      { index: 1, type: 'URL', data: 'https://example.org/sensor-1' },
      { index: 2, type: 'EMAIL', data: 'ops@example.org', permissions: '1100' },
    ]);
    expect(put.status).toBe(201);
    const seen = await eventually(`${mirror.url}/api/handles/20.5000/sensor-1`, (r) => r.status === 200);
    expect(JSON.parse(seen.body).values.map((v: { index: number }) => v.index)).toEqual([1, 100, 400]);
    for (const path of ['/api/handles/20.5000/sensor-1', '/api/resolve/hdl:20.5000/sensor-1', '/api/history/hdl:20.5000/sensor-1', '/api/handles/0.NA/20.5000', '/.well-known/jwks.json']) {
      await sameOnBoth(path);
    }
    // The mirror's answer carries the primary's signature, which verifies with the JWKS either serves.
    const resolved = JSON.parse(await sameOnBoth('/api/resolve/hdl:20.5000/sensor-1')) as { signature: { kid: string } };
    const jwks = JSON.parse(await sameOnBoth('/.well-known/jwks.json')) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(resolved.signature.kid);
  });

  it('follows updates and OID registrations', async () => {
    expect((await send('PUT', `${primary.url}/api/handles/20.5000/sensor-1?index=1`, [{ index: 1, type: 'URL', data: 'https://example.org/sensor-1/v2' }])).status).toBe(200);
    expect((await send('PUT', `${primary.url}/api/oids/2.999.42`, { description: 'Mirrored arc', asn1Ids: ['mirrored'] })).status).toBe(201);
    await eventually(`${mirror.url}/api/oids/2.999.42`, (r) => r.status === 200);
    await eventually(`${mirror.url}/api/handles/20.5000/sensor-1`, (r) => r.body.includes('sensor-1/v2'));
    for (const path of ['/api/handles/20.5000/sensor-1', '/api/history/hdl:20.5000/sensor-1']) await sameOnBoth(path);
    // OID views are the same but for `confidential`, which the mirror cannot know for an arc
    // without a registrant (src/mirror/oid-confidential.ts): null there, never a false "false".
    for (const path of ['/api/resolve/urn:oid:2.999.42', '/api/oids/2.999.42']) {
      const [p, m] = await Promise.all([fetch(`${primary.url}${path}`), fetch(`${mirror.url}${path}`)]);
      const [pb, mb] = (await Promise.all([p.json(), m.json()])) as [Record<string, unknown>, Record<string, unknown>];
      expect([m.status, mb.confidential, { ...mb, confidential: 'set aside' }], path).toEqual([p.status, null, { ...pb, confidential: 'set aside' }]);
      expect(pb.confidential).toBe(false);
    }
  });

  it('says an arc is confidential where the signed values show it, and never that a confidential arc is not', async () => {
    const body = { description: 'Secret arc', registrant: { name: 'ACME' }, confidential: true, ors: ['https://example.org/ors'] };
    expect((await send('PUT', `${primary.url}/api/oids/2.999.43`, body)).status).toBe(201);
    const mirrored = await eventually(`${mirror.url}/api/oids/2.999.43`, (r) => r.status === 200);
    const primaryView = (await (await fetch(`${primary.url}/api/oids/2.999.43`)).json()) as Record<string, unknown>;
    const mirrorView = JSON.parse(mirrored.body) as Record<string, unknown>;
    expect([primaryView.confidential, mirrorView.confidential, mirrorView.registrant]).toEqual([true, true, undefined]);
  });

  it('mirrors a deletion as a tombstone (410, same body)', async () => {
    expect((await send('DELETE', `${primary.url}/api/handles/20.5000/sensor-1?reason=decommissioned`)).status).toBe(200);
    const gone = await eventually(`${mirror.url}/api/handles/20.5000/sensor-1`, (r) => r.status === 410);
    expect(JSON.parse(gone.body)).toMatchObject({ code: 'ERR_HANDLE_DELETED', tombstone: { reason: 'decommissioned' } });
    for (const path of ['/api/handles/20.5000/sensor-1', '/api/resolve/hdl:20.5000/sensor-1', '/api/history/hdl:20.5000/sensor-1']) await sameOnBoth(path);
  });

  it('refuses every write as Handle.Net refuses them at a server that is not primary', async () => {
    const attempts: [string, string, unknown][] = [
      ['PUT', '/api/handles/20.5000/on-mirror', [{ index: 1, type: 'URL', data: 'https://example.org/x' }]],
      ['DELETE', '/api/handles/0.NA/20.5000', undefined],
      ['POST', '/api/batch', { operations: [] }],
      ['PUT', '/api/oids/2.999.43', { description: 'x' }],
      ['POST', '/api/prefixes', {}],
      ['POST', '/api/sessions', undefined],
      ['POST', '/doip?operationId=0.DOIP/Op.Create&targetId=service', { type: 'Document', attributes: {} }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await send(method, `${mirror.url}${path}`, body);
      const answer = (await res.json()) as { code: string; responseCode?: number };
      expect([res.status, answer.code], `${method} ${path}`).toEqual([400, 'ERR_MIRROR_READ_ONLY']);
      if (path.startsWith('/api/handles')) expect(answer.responseCode).toBe(301);
    }
    expect((await fetch(`${mirror.url}/api/handles/20.5000/on-mirror`)).status).toBe(404);
    expect((await fetch(`${primary.url}/api/handles/20.5000/on-mirror`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/doip?operationId=0.DOIP/Op.Hello&targetId=service`)).status).toBe(200);
  });

  it('redirects auth=true reads to the same URL on the primary', async () => {
    expect((await send('PUT', `${primary.url}/api/handles/20.5000/private`, [{ index: 1, type: 'URL', data: 'https://example.org/p' }, { index: 2, type: 'EMAIL', data: 'secret@example.org', permissions: '1100' }])).status).toBe(201);
    await eventually(`${mirror.url}/api/handles/20.5000/private`, (r) => r.status === 200);
    const path = '/api/handles/20.5000/private?auth=true&type=EMAIL';
    const res = await fetch(`${mirror.url}${path}`, { headers: { authorization: AUTH }, redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([307, `${primary.url}${path}`]);
    const there = await fetch(res.headers.get('location')!, { headers: { authorization: AUTH } });
    expect(((await there.json()) as { values: { data: { value: string } }[] }).values[0]!.data.value).toBe('secret@example.org');
    // Without auth=true the mirror answers itself, with the public values only.
    expect(((await (await fetch(`${mirror.url}/api/handles/20.5000/private`)).json()) as { values: { index: number }[] }).values.map((v) => v.index)).toEqual([1, 100, 400]);
  });

  it('reports how far it has followed, in /api/mirror and /metrics', async () => {
    const last = ((await (await send('GET', `${primary.url}/api/changes?since=0&limit=1`)).json()) as { last: number }).last;
    const status = JSON.parse((await eventually(`${mirror.url}/api/mirror`, (r) => JSON.parse(r.body).position === last)).body);
    expect(status).toMatchObject({ primary: primary.url, state: 'following', behind: 0, rejectedTotal: 0 });
    const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^cairn_mirror_position ${last}$`, 'm'));
    expect(metrics).toMatch(/^cairn_mirror_rejected_total 0$/m);
  });

  it('resumes after a restart from where it stopped', async () => {
    await mirror.stop();
    expect((await send('PUT', `${primary.url}/api/handles/20.5000/while-down`, [{ index: 1, type: 'URL', data: 'https://example.org/w' }])).status).toBe(201);
    mirror = await startServer(mirrorEnv('mirror', primary.url));
    await eventually(`${mirror.url}/api/handles/20.5000/while-down`, (r) => r.status === 200);
    for (const path of ['/api/handles/20.5000/while-down', '/api/history/hdl:20.5000/sensor-1', '/api/handles/20.5000/private']) await sameOnBoth(path);
  });
});

describe('a mirror fed a tampered record', () => {
  let fake: Server;
  let follower: ServerChild | undefined;

  afterAll(async () => {
    await follower?.stop();
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
  });

  it('rejects it: not stored, not resolvable, logged and counted; the next record is mirrored', async () => {
    const pair = generateKeyPair('EdDSA');
    const signer = new Signer(signingKey(pair.privateKey, pair.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const value = (index: number, type: string, data: Uint8Array | string): HandleValue => ({
      index, type, data: typeof data === 'string' ? Buffer.from(data) : data, ttlType: 'relative', ttl: 86400, timestamp: now, permissions: 0b1110, references: [],
    });
    const record = (handle: string, url: string) =>
      withSignature(handle, [value(1, 'URL', url), value(100, 'HS_ADMIN', encodeAdmin({ handle: '0.NA/20.5000', index: 300, permissions: 0xff2 }))], signer, {
        issuer: '301:0.NA/20.5000',
        now,
        validitySeconds: 3600,
      });
    const history = (handle: string, values: readonly HandleValue[], tamper: boolean) => {
      const json = values.map((v) => valueToJson(v) as unknown as { type: string; data: { value: string } });
      // One flipped byte in the URL the primary signed: "example" -> "exbmple".
      if (tamper) json[0]!.data.value = json[0]!.data.value.replace('example', 'exbmple');
      return { id: `hdl:${handle}`, versions: [{ version: 1, status: 'active', updated: isoSeconds(now), values: json }] };
    };
    const tampered = record('20.5000/tampered', 'https://example.org/original');
    const good = record('20.5000/good', 'https://example.org/good');
    const feed = [
      { seq: 1, id: 'hdl:20.5000/tampered', version: 1, op: 'create', at: isoSeconds(now) },
      { seq: 2, id: 'hdl:20.5000/good', version: 1, op: 'create', at: isoSeconds(now) },
    ];
    const routes: Record<string, unknown> = {
      '/.well-known/jwks.json': signer.jwks(),
      '/api/handles/0.NA/20.5000': { responseCode: 1, handle: '0.NA/20.5000', values: [] },
      '/api/history/hdl%3A20.5000/tampered': history('20.5000/tampered', tampered, true),
      '/api/history/hdl%3A20.5000/good': history('20.5000/good', good, false),
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
    const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;

    follower = await startServer(mirrorEnv('fed', fakeUrl));
    let log = '';
    follower.child.stdout.on('data', (s: string) => (log += s));

    // The good record after the tampered one arrives once the tampered one is given up.
    const good200 = await eventually(`${follower.url}/api/handles/20.5000/good`, (r) => r.status === 200);
    expect(good200.body).toBe(renderHandleView({ id: '20.5000/good', family: 'handle', version: 1, created: now, updated: now, status: 'active', owner: '', values: good }).body.toString());

    const res = await fetch(`${follower.url}/api/handles/20.5000/tampered`);
    expect([res.status, ((await res.json()) as { responseCode: number }).responseCode]).toEqual([404, 100]);
    expect((await fetch(`${follower.url}/api/resolve/hdl:20.5000/tampered`)).status).toBe(404);

    const status = (await (await fetch(`${follower.url}/api/mirror`)).json()) as { rejectedTotal: number; rejected: { id: string; code: string; message: string }[]; position: number };
    expect(status).toMatchObject({ position: 2, rejectedTotal: 1 });
    expect(status.rejected[0]).toMatchObject({ id: 'hdl:20.5000/tampered', code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/digest mismatch at value index 1/) });
    const metrics = await (await fetch(`${follower.url}/metrics`)).text();
    expect(metrics).toMatch(/^cairn_mirror_rejected_total 1$/m);
    expect(metrics).toMatch(/^cairn_mirror_verification_failures_total 5$/m);

    const until = Date.now() + 2_000;
    while (!log.includes('"event":"mirror-gave-up"') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const rejected = log.split('\n').filter((l) => l.includes('"event":"mirror-rejected"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rejected.length).toBe(5);
    expect(rejected[0]).toMatchObject({ level: 50, id: 'hdl:20.5000/tampered', code: 'ERR_SIGNATURE_INVALID', attempt: 1, of: 5 });
    expect(log).toMatch(/"event":"mirror-gave-up".*"id":"hdl:20.5000\/tampered"/);
  });
});
