import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MirrorFeedInvalid } from '../../src/errors.js';
import { buildApp } from '../../src/http/app.js';
import { MirrorFollower, type MirrorLog } from '../../src/mirror/follower.js';
import { mirrorHttp } from '../../src/mirror/http.js';
import { checkChangesPage, type ChangesPage, type Primary } from '../../src/mirror/primary.js';
import { openMirrorService, STATE_META, type MirrorService, type MirrorState } from '../../src/mirror/service.js';
import type { StoredRecord } from '../../src/records/record.js';
import { isPublicRead } from '../../src/records/value.js';
import { startService } from '../../src/service/bootstrap.js';
import { SEP, type RecordStore } from '../../src/store/store.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * The follower against a real primary in the same process (its fastify app through `inject`):
 * after following, the mirror's store holds what the primary's holds, as far as anyone without
 * credentials can see it: the same records (public values), the same pre-rendered views, the same
 * index entries and history. Then tampering, key refresh and restarts.
 */

class InjectPrimary implements Primary {
  readonly url = 'http://primary.test';
  jwksCalls = 0;
  constructor(private readonly app: FastifyInstance) {}

  private async json(url: string, auth = false): Promise<{ status: number; body: unknown }> {
    const res = await this.app.inject({ url, headers: auth ? { authorization: adminAuth() } : {} });
    return { status: res.statusCode, body: res.json() };
  }

  async changes(since: number, limit: number): Promise<ChangesPage> {
    return checkChangesPage((await this.json(`/api/changes?since=${since}&limit=${limit}`, true)).body, since, limit);
  }

  async history(id: string): Promise<unknown> {
    const { status, body } = await this.json(`/api/history/${id.split('/').map(encodeURIComponent).join('/')}`);
    if (status !== 200) throw new MirrorFeedInvalid(`no history of ${id} (${status})`);
    return body;
  }

  async jwks(): Promise<unknown> {
    this.jwksCalls++;
    return (await this.json('/.well-known/jwks.json')).body;
  }

  async servesPrefix(prefix: string): Promise<boolean> {
    return (await this.json(`/api/handles/0.NA/${prefix}`)).status === 200;
  }
}

const lines: Record<string, unknown>[] = [];
const log: MirrorLog = {
  info: (o) => lines.push({ level: 'info', ...o }),
  warn: (o) => lines.push({ level: 'warn', ...o }),
  error: (o) => lines.push({ level: 'error', ...o }),
};

let primary: TestService;
let dir: string;
let mirror: MirrorService;

async function openMirror(): Promise<MirrorService> {
  const config = loadConfig(
    {},
    {
      dataDir: join(dir, 'data'),
      certsDir: join(dir, 'certs'),
      syncWrites: false,
      mirrorOf: 'http://primary.test',
      mirrorIdentity: ADMIN_IDENTITY,
      mirrorSecret: ADMIN_SECRET,
    },
  );
  return openMirrorService(config);
}

async function follow(follower: MirrorFollower): Promise<void> {
  for (let i = 0; i < 50; i++) if ((await follower.step()) === 'idle') return;
  throw new Error('the follower did not catch up');
}

const call = async (method: 'PUT' | 'DELETE' | 'POST', url: string, body?: unknown): Promise<number> =>
  (
    await primary.app.inject({
      method,
      url,
      headers: { authorization: adminAuth(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    })
  ).statusCode;

/** What an anonymous reader can know of a record: its public values; the owner is not published. */
const publicPart = (r: StoredRecord): StoredRecord => ({ ...r, owner: '', values: r.values.filter(isPublicRead) });

async function indexEntries(store: RecordStore, keys: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.index.keys()) {
    if (k.startsWith(`hvaluep${SEP}`)) continue; // admin-only values: never on a mirror
    if (keys.has(k.slice(k.lastIndexOf(SEP) + 1))) out.push(k);
  }
  return out.sort();
}

beforeAll(async () => {
  primary = await startTestService();
  dir = mkdtempSync(join(tmpdir(), 'cairn-mirror-'));
  mirror = await openMirror();
  expect(await call('PUT', '/api/handles/20.5000/A', [
    { index: 1, type: 'URL', data: 'https://example.org/a' },
    { index: 2, type: 'EMAIL', data: 'hidden@example.org', permissions: '1100' },
    { index: 3, type: 'DESC', data: { format: 'base64', value: 'AAEC+vv8' }, ttl: '2030-01-01T00:00:00Z', references: [{ handle: '20.5000/B', index: 1 }] },
  ])).toBe(201);
  expect(await call('PUT', '/api/handles/20.5000/A?index=1', [{ index: 1, type: 'URL', data: 'https://example.org/a2' }])).toBe(200);
  expect(await call('PUT', '/api/handles/20.5000/B', [{ index: 1, type: 'URL', data: 'https://example.org/b' }])).toBe(201);
  expect(await call('DELETE', '/api/handles/20.5000/B?reason=moved&successor=20.5000/A')).toBe(200);
  expect(await call('PUT', '/api/handles/20.5000/MixedCase', [{ index: 1, type: 'URL', data: 'https://example.org/m' }])).toBe(201);
  expect(await call('DELETE', '/api/handles/20.5000/MixedCase')).toBe(200);
  expect(await call('PUT', '/api/handles/20.5000/mixedcase', [{ index: 1, type: 'URL', data: 'https://example.org/m2' }])).toBe(201);
  expect(await call('PUT', '/api/oids/2.999.1', { description: 'Sensors', asn1Ids: ['sensors'], unicodeLabels: ['Sensoren'], ors: ['https://example.org/ors'] })).toBe(201);
  expect(await call('PUT', '/api/oids/2.999.1.5', { description: 'Thermometer', asn1Ids: ['thermo'] })).toBe(201);
  expect(await call('PUT', '/api/oids/2.999.1.6', { description: 'Secret', registrant: { name: 'ACME' } })).toBe(201);
  expect(await call('DELETE', '/api/oids/2.999.1.6')).toBe(200);
  expect(await call('PUT', '/api/its/issuers/DE.417', { identity: ADMIN_IDENTITY, name: 'Roads DE' })).toBe(201);
});

afterAll(async () => {
  await mirror.service.close();
  await primary.close();
  rmSync(dir, { recursive: true, force: true });
});


/**
 * A mirror cannot tell an arc without a registrant from one whose registrant is confidential
 * (src/mirror/oid-confidential.ts), so it answers `"confidential":null` where the primary says
 * `false`; no arc here is confidential (tests/unit/mirror-confidential.test.ts covers those).
 */
const asOnPrimary = (text: string | undefined): string | undefined => text?.replaceAll('"confidential":null', '"confidential":false');
describe('a mirror following a primary', () => {
  let follower: MirrorFollower;
  let source: InjectPrimary;

  beforeAll(async () => {
    source = new InjectPrimary(primary.app);
    follower = new MirrorFollower(source, mirror, log, { pollMs: 10 });
    await follow(follower);
  });

  it('reaches the primary\'s change-log position, copying ITS records too', async () => {
    const state = await mirror.service.store.getMeta<MirrorState>(STATE_META);
    expect(state).toMatchObject({ primary: 'http://primary.test', cursor: primary.service.store.lastSeq, rejectedTotal: 0, unsupportedTotal: 0 });
    expect(follower.status()).toMatchObject({ state: 'following', behind: 0, rejectedTotal: 0 });
    expect(lines.filter((l) => l.level !== 'info')).toEqual([]);
  });

  it('holds every handle, OID and ITS record as the primary does, minus what only admins may read', async () => {
    const keys = new Set<string>();
    for await (const [key, record] of primary.service.store.allRecords()) {
      keys.add(key);
      expect(mirror.service.store.findRecord(key), key).toEqual(publicPart(record));
      expect(asOnPrimary(mirror.service.store.storedView(key)?.toString('utf8')), key).toBe(primary.service.store.storedView(key)?.toString('utf8'));
      expect((await mirror.service.store.historyOf(key)).map(publicPart), key).toEqual((await primary.service.store.historyOf(key)).map(publicPart));
    }
    expect(keys.size).toBeGreaterThanOrEqual(8);
    expect(mirror.service.store.findRecord('20.5000/A')!.values.map((v) => v.index)).toEqual([1, 3, 100, 400]);
    expect(await indexEntries(mirror.service.store, keys)).toEqual(await indexEntries(primary.service.store, keys));
  });

  it('answers reads through its own app as the primary does', async () => {
    const app = await buildApp(mirror.service, { mirror: mirrorHttp('http://primary.test', follower) });
    try {
      for (const url of [
        '/api/handles/20.5000/A',
        '/api/handles/20.5000/A?type=URL',
        '/api/handles/20.5000/B',
        '/api/handles/0.NA/20.5000',
        '/api/resolve/hdl:20.5000/mixedcase',
        '/api/history/hdl:20.5000/A',
        '/api/resolve/urn:oid:2.999.1',
        '/api/oids/2.999.1.5',
        '/api/oids?iri=/Example/Sensoren/thermo',
        '/api/oids/2.999.1/children',
        '/api/resolve/urn:oid:2.999.1.6',
        '/api/search?type=URL&value=https://example.org/a2',
        '/.well-known/jwks.json',
        '/20.5000/A?noredirect',
      ]) {
        const [p, m] = await Promise.all([primary.app.inject({ url }), app.inject({ url })]);
        expect([m.statusCode, asOnPrimary(m.body)], url).toEqual([p.statusCode, p.body]);
      }
      const put = await app.inject({ method: 'PUT', url: '/api/handles/20.5000/A', headers: { 'content-type': 'application/json' }, payload: '[]' });
      expect([put.statusCode, put.json()]).toEqual([400, { responseCode: 301, message: expect.stringMatching(/^Not a primary server/), code: 'ERR_MIRROR_READ_ONLY' }]);
      const oid = await app.inject({ method: 'DELETE', url: '/api/oids/2.999.1' });
      expect([oid.statusCode, oid.json().code]).toEqual([400, 'ERR_MIRROR_READ_ONLY']);
      const doip = await app.inject({ method: 'POST', url: '/doip?operationId=0.DOIP/Op.Hello&targetId=service' });
      expect(doip.statusCode).toBe(200);
      const auth = await app.inject({ url: '/api/handles/20.5000/A?auth=true' });
      expect([auth.statusCode, auth.headers.location]).toEqual([307, 'http://primary.test/api/handles/20.5000/A?auth=true']);
      expect((await app.inject({ url: '/api/mirror' })).json()).toMatchObject({ primary: 'http://primary.test', state: 'following' });
      expect((await app.inject({ url: '/metrics' })).body).toMatch(/^cairn_mirror_position \d+$/m);
    } finally {
      await app.close();
    }
  });

  it('follows later writes, and a restarted follower resumes at its cursor without repeating', async () => {
    expect(await call('PUT', '/api/handles/20.5000/A', [{ index: 1, type: 'URL', data: 'https://example.org/a3' }])).toBe(200);
    const again = new MirrorFollower(source, { ...mirror, state: (await mirror.service.store.getMeta<MirrorState>(STATE_META))! }, log, { pollMs: 10 });
    const before = mirror.service.store.lastSeq;
    await follow(again);
    expect(mirror.service.store.lastSeq).toBe(before + 1);
    expect(mirror.service.store.storedView('20.5000/A')!.toString()).toBe(primary.service.store.storedView('20.5000/A')!.toString());
    await follow(again);
    expect(mirror.service.store.lastSeq).toBe(before + 1);
    follower = again;
  });
});

describe('the README\'s replication identity', () => {
  it('reads the change feed with LIST_HANDLES granted on the prefix record, and nothing more', async () => {
    expect(await call('PUT', '/api/handles/20.5000/replicator', [{ index: 300, type: 'HS_SECKEY', data: 'replicator-secret' }])).toBe(201);
    const grant = { index: 110, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/replicator', index: 300, permissions: '100000000000' } } };
    expect(await call('PUT', '/api/handles/0.NA/20.5000?index=110&overwrite=false', [grant])).toBe(200);
    const auth = basic('300:20.5000/replicator', 'replicator-secret');
    expect((await primary.app.inject({ url: '/api/changes?since=0&limit=5', headers: { authorization: auth } })).statusCode).toBe(200);
    const write = await primary.app.inject({ method: 'PUT', url: '/api/handles/20.5000/by-replicator', headers: { authorization: auth, 'content-type': 'application/json' }, payload: '[]' });
    expect(write.statusCode).toBe(403);
  });
});

describe('a mirror fed a tampered record', () => {
  it('rejects it, retries, gives it up without storing it, and goes on', async () => {
    class Tampering extends InjectPrimary {
      override async history(id: string): Promise<unknown> {
        const doc = (await super.history(id)) as { versions: { values: { type: string; data: { value: string } }[] }[] };
        if (id === 'hdl:20.5000/T') {
          const url = doc.versions.at(-1)!.values.find((v) => v.type === 'URL')!;
          url.data.value = url.data.value.replace('example', 'exbmple');
        }
        return doc;
      }
    }
    const state = (await mirror.service.store.getMeta<MirrorState>(STATE_META))!;
    const follower = new MirrorFollower(new Tampering(primary.app), { ...mirror, state }, log, { pollMs: 10, maxAttempts: 2 });
    lines.length = 0;
    expect(await call('PUT', '/api/handles/20.5000/T', [{ index: 1, type: 'URL', data: 'https://example.org/t' }])).toBe(201);
    expect(await call('PUT', '/api/handles/20.5000/U', [{ index: 1, type: 'URL', data: 'https://example.org/u' }])).toBe(201);
    const seqT = primary.service.store.lastSeq - 1;

    expect(await follower.step()).toBe('retry');
    expect(follower.status()).toMatchObject({ state: 'retrying', position: seqT - 1, retrying: { seq: seqT, attempts: 1, of: 2 }, lastError: { code: 'ERR_SIGNATURE_INVALID' } });
    expect(follower.metrics()).toMatch(/^cairn_mirror_retrying 1$/m);
    expect(await follower.step()).toBe('more');
    expect(await follower.step()).toBe('idle');

    expect(mirror.service.store.findRecord('20.5000/T')).toBeUndefined();
    expect(mirror.service.store.findRecord('20.5000/U')?.status).toBe('active');
    const status = follower.status();
    expect(status).toMatchObject({ state: 'following', position: seqT + 1, rejectedTotal: 1 });
    expect(status.rejected.at(-1)).toMatchObject({ seq: seqT, id: 'hdl:20.5000/T', version: 1, code: 'ERR_SIGNATURE_INVALID', message: expect.stringMatching(/digest mismatch/) });
    expect(follower.metrics()).toMatch(/^cairn_mirror_rejected_total 1$/m);
    expect(follower.metrics()).toMatch(/^cairn_mirror_verification_failures_total 2$/m);
    expect(lines.filter((l) => l.event === 'mirror-rejected').map((l) => [l.level, l.id, l.attempt])).toEqual([
      ['error', 'hdl:20.5000/T', 1],
      ['error', 'hdl:20.5000/T', 2],
    ]);
    expect(lines.some((l) => l.event === 'mirror-gave-up' && l.seq === seqT)).toBe(true);
    // The rejection is kept across restarts.
    expect((await mirror.service.store.getMeta<MirrorState>(STATE_META))!.rejected.at(-1)!.seq).toBe(seqT);
  });
});

describe('feed entries a mirror cannot use', () => {
  it('are rejected as entries (never stalling the feed): a handle outside the prefix, a history that is missing', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'cairn-mirror-bad-'));
    const config = loadConfig({}, { dataDir: fresh, certsDir: fresh, syncWrites: false, mirrorOf: 'http://primary.test', mirrorIdentity: ADMIN_IDENTITY, mirrorSecret: ADMIN_SECRET });
    const other = await openMirrorService(config);
    try {
      const real = new InjectPrimary(primary.app);
      const feed = [
        { seq: 1, id: 'hdl:21.T1/elsewhere', version: 1, op: 'create' as const },
        { seq: 2, id: 'hdl:20.5000/never-written', version: 1, op: 'create' as const },
        { seq: 3, id: 'hdl:0.NA/20.5000', version: 1, op: 'create' as const },
      ];
      const fake: Primary = {
        url: 'http://primary.test',
        changes: async (since, limit) => checkChangesPage({ last: feed.length, changes: feed.filter((e) => e.seq > since).slice(0, limit) }, since, limit),
        history: (id) => real.history(id),
        jwks: () => real.jwks(),
        servesPrefix: async () => true,
      };
      const follower = new MirrorFollower(fake, other, log, { pollMs: 10, maxAttempts: 1 });
      await follow(follower);
      expect(follower.status()).toMatchObject({ position: 3, rejectedTotal: 2 });
      expect(follower.status().rejected.map((r) => [r.seq, r.code])).toEqual([
        [1, 'ERR_MIRROR_FEED_INVALID'],
        [2, 'ERR_MIRROR_FEED_INVALID'],
      ]);
      expect(other.service.store.findRecord('0.NA/20.5000')?.version).toBe(1);
    } finally {
      await other.service.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});

describe('the primary\'s keys', () => {
  it('are fetched at start, and again when a signature names a key the mirror does not know', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'cairn-mirror-keys-'));
    const config = loadConfig({}, { dataDir: fresh, certsDir: fresh, syncWrites: false, mirrorOf: 'http://primary.test', mirrorIdentity: ADMIN_IDENTITY, mirrorSecret: ADMIN_SECRET });
    const other = await openMirrorService(config);
    try {
      class Stale extends InjectPrimary {
        override async jwks(): Promise<unknown> {
          const real = await super.jwks();
          return this.jwksCalls === 1 ? { keys: [] } : real; // the first answer predates the primary's key
        }
      }
      const source = new Stale(primary.app);
      await follow(new MirrorFollower(source, other, log, { pollMs: 10 }));
      expect(source.jwksCalls).toBe(2);
      expect(other.service.store.findRecord('0.NA/20.5000')?.version).toBe(primary.service.store.findRecord('0.NA/20.5000')?.version);
      expect(other.keys.jwks()).toEqual(primary.service.signer.jwks());
    } finally {
      await other.service.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('a data directory of a primary is not opened as a mirror, nor a mirror of another primary', async () => {
    const other = mkdtempSync(join(tmpdir(), 'cairn-primary-'));
    try {
      const base = { dataDir: other, certsDir: other, syncWrites: false, adminSecret: ADMIN_SECRET };
      await (await startService(loadConfig({}, base))).close();
      const asMirror = loadConfig({}, { ...base, mirrorOf: 'http://primary.test', mirrorIdentity: ADMIN_IDENTITY, mirrorSecret: ADMIN_SECRET });
      await expect(openMirrorService(asMirror)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/holds a primary's data/) });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), mirrorOf: 'http://elsewhere.test', mirrorIdentity: ADMIN_IDENTITY, mirrorSecret: ADMIN_SECRET });
    await mirror.service.close();
    try {
      await expect(openMirrorService(config)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/mirrors http:\/\/primary.test/) });
    } finally {
      mirror = await openMirror();
    }
  });
});
