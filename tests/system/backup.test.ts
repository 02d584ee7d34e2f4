import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBackupFile } from '../../src/ops/backup-format.js';
import { killAllChildren, requireBuiltCli, runCairn, startServer, type ServerChild } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * `cairn backup` while the server serves and writes keep landing, `cairn restore` into an empty
 * data directory, and a server on the restored directory answering byte for byte what the
 * original answered for everything the backup holds, with the same change log up to the backup's
 * position. Then the offline path (server stopped). Every family is in the store: handles
 * (updated, deleted), OIDs (labels, children, a deleted arc), ITS signs (moved, deleted, an issuer
 * grant), a product item (IMEI and GS1 aliases).
 */

const SECRET = 'backup-test-admin-secret';
const AUTH = basic(ADMIN_IDENTITY, SECRET);
const HANDLES = 20;

let root: string;
let certs: string;
let original: string;

beforeAll(() => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-backup-'));
  certs = join(root, 'certs');
  original = join(root, 'data');
});

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

const env = (dataDir: string, extra: Record<string, string> = {}): Record<string, string> => ({
  CAIRN_DATA_DIR: dataDir,
  CAIRN_CERTS_DIR: certs,
  CAIRN_ADMIN_SECRET: SECRET,
  ...extra,
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function call(server: ServerChild, method: string, path: string, body?: unknown, auth = true): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(auth ? { authorization: AUTH } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.text() };
}

async function ok(server: ServerChild, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await call(server, method, path, body);
  expect(answer.status, `${method} ${path}: ${answer.body}`).toBeLessThan(300);
  return answer.body === '' ? {} : (JSON.parse(answer.body) as Record<string, unknown>);
}

/** Writes one of everything; returns the public GET paths whose answers the restored server must repeat. */
async function populate(server: ServerChild): Promise<string[]> {
  const paths: string[] = ['/api/handles/0.NA/20.5000', '/.well-known/jwks.json'];
  for (let i = 0; i < HANDLES; i++) {
    const h = `20.5000/bk-${i}`;
    await ok(server, 'PUT', `/api/handles/${h}`, [
      { index: 1, type: 'URL', data: `https://example.org/bk/${i}` },
      { index: 2, type: 'EMAIL', data: `bk-${i}@example.org` },
    ]);
    paths.push(`/api/handles/${h}`, `/api/resolve/hdl:${h}`, `/api/history/hdl:${h}`);
  }
  for (let i = 0; i < 5; i++) await ok(server, 'PUT', `/api/handles/20.5000/bk-${i}`, [{ index: 1, type: 'URL', data: `https://example.org/bk/${i}/v2` }]);
  await ok(server, 'DELETE', '/api/handles/20.5000/bk-5?reason=retired');
  paths.push('/api/search?type=URL&value=https%3A%2F%2Fexample.org%2Fbk%2F7');

  await ok(server, 'PUT', '/api/oids/2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Beispiel'] });
  await ok(server, 'PUT', '/api/oids/2.999.1', { description: 'First child', asn1Ids: ['first'] });
  await ok(server, 'PUT', '/api/oids/2.999.2', { description: 'Second child' });
  await ok(server, 'PUT', '/api/oids/2.999.1', { description: 'First child, renamed', asn1Ids: ['first', 'one'] });
  await ok(server, 'DELETE', '/api/oids/2.999.2');
  paths.push('/api/oids/2.999', '/api/oids/2.999.1', '/api/oids/2.999.2', '/api/oids/2.999/children', '/api/history/urn:oid:2.999.1', '/api/resolve/oid:/Example/first');

  await ok(server, 'PUT', '/api/its/issuers/DE.417', { identity: ADMIN_IDENTITY, name: 'Roads DE' });
  const sign = { position: { lat: 52.5163, lon: 13.3777 }, facing: 180, aliases: ['osm:node/7'] };
  const moved = (await ok(server, 'POST', '/api/its/sign/DE.417?type=nat.DE-274%5B60%5D', sign)).id as string;
  const gone = (await ok(server, 'POST', '/api/its/sign/DE.417?type=nat.DE-274%5B60%5D', { ...sign, position: { lat: 52.52, lon: 13.38 } })).id as string;
  await ok(server, 'PUT', `/api/its/${encodeURIComponent(moved)}`, { ...sign, position: { lat: 52.5165, lon: 13.378 } });
  await ok(server, 'DELETE', `/api/its/${encodeURIComponent(gone)}?reason=removed`);
  paths.push(
    `/api/its/${encodeURIComponent(moved)}`,
    `/api/its/${encodeURIComponent(gone)}`,
    '/api/its/issuers/DE.417',
    '/api/its?bbox=13.3,52.4,13.5,52.6',
    '/api/its?alias=osm:node/7',
    '/api/its/changes?since=0',
  );

  const maker = await ok(server, 'POST', '/api/manufacturers', { name: 'Acme Devices' });
  const prefix = maker.prefix as string;
  await ok(server, 'PUT', `/api/products/${prefix}/classes/widget`, { name: 'Widget', model: 'W-1', evidence: 'none', gtin: '09506000134352' });
  await ok(server, 'PUT', `/api/products/${prefix}/items/sn-1`, { class: 'widget', imei: '260531793113837' });
  paths.push(`/api/products/${prefix}/items/sn-1`, '/api/products/lookup/imei:260531793113837', `/api/manufacturers/${prefix}`);
  return paths;
}

interface ChangeFeed {
  readonly last: number;
  readonly changes: { seq: number; id: string }[];
}

async function changeLog(server: ServerChild): Promise<ChangeFeed> {
  const all: { seq: number; id: string }[] = [];
  let since = 0;
  let last = 0;
  for (;;) {
    const page = JSON.parse((await call(server, 'GET', `/api/changes?since=${since}&limit=1000`)).body) as ChangeFeed & { next: number };
    all.push(...page.changes);
    last = page.last;
    if (page.changes.length === 0 || page.next >= page.last) break;
    since = page.next;
  }
  return { last, changes: all };
}

describe('backup and restore', () => {
  let paths: string[];
  let during: string[];
  let backupPosition: number;

  it('backs up a serving server while writes land, restores into an empty directory, and the restored server answers the same bytes', { timeout: 90_000 }, async () => {
    const a = await startServer(env(original));
    try {
      await backUpWhileWriting(a);
    } finally {
      await a.stop();
    }
  });

  async function backUpWhileWriting(a: ServerChild): Promise<void> {
    paths = await populate(a);
    const before = JSON.parse((await call(a, 'GET', '/readyz', undefined, false)).body) as { changeLog: number };

    // A writer that keeps going for the whole backup.
    during = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const h = `20.5000/during-${n}`;
        const res = await call(a, 'PUT', `/api/handles/${h}`, [{ index: 1, type: 'URL', data: `https://example.org/during/${n}` }]);
        expect(res.status).toBe(201);
        during.push(h);
      }
    })();
    const file = join(root, 'live.ndjson.gz');
    let result;
    try {
      result = await runCairn(['backup', file], env(original, { CAIRN_URL: a.url }), 60_000);
    } finally {
      writing = false;
      await writer;
    }
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { source: string; changeLog: number; entries: number; file: string };
    expect(outcome.source).toBe('server');
    backupPosition = outcome.changeLog;
    const after = await changeLog(a);
    // Writes landed before the snapshot and after it: the backup was taken mid-stream.
    expect(backupPosition).toBeGreaterThan(before.changeLog);
    expect(after.last).toBeGreaterThan(backupPosition);
    const { header } = await checkBackupFile(file);
    expect(header).toMatchObject({ format: 'cairn-backup', prefix: '20.5000', source: 'server', changeLog: backupPosition, entries: outcome.entries });
    expect(header.jwks.keys.map((k) => k.alg)).toEqual(['EdDSA']);

    // Restore into a directory that exists and is empty.
    const restored = join(root, 'restored');
    mkdirSync(restored);
    const restore = await runCairn(['restore', file], env(restored));
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ changeLog: backupPosition, entries: outcome.entries });

    const b = await startServer(env(restored));
    try {
      const ready = JSON.parse((await call(b, 'GET', '/readyz', undefined, false)).body) as { changeLog: number };
      expect(ready.changeLog).toBe(backupPosition);
      // Everything written before the backup, byte for byte (reads anonymous, as resolvers ask).
      const statuses: number[] = [];
      for (const path of paths) {
        const [x, y] = await Promise.all([call(a, 'GET', path, undefined, false), call(b, 'GET', path, undefined, false)]);
        expect(x.status, `${path} on the original: ${x.body}`).toBeLessThan(500);
        expect(y, path).toEqual(x);
        statuses.push(x.status);
      }
      // Only the deleted handle (twice: handle API and resolve), arc and sign answer 410; nothing
      // compared is a 404 on both sides.
      expect(statuses.filter((s) => s === 410)).toHaveLength(4);
      expect(statuses.filter((s) => s !== 200 && s !== 410)).toEqual([]);
      // The change log: the original's first entries up to the backup's position, exactly.
      const restoredLog = await changeLog(b);
      expect(restoredLog.last).toBe(backupPosition);
      expect(restoredLog.changes).toEqual(after.changes.filter((c) => c.seq <= backupPosition));
      // The writes of the writer: those the snapshot saw are there, the others are not.
      const seen = new Set(after.changes.filter((c) => c.seq <= backupPosition).map((c) => c.id));
      expect(during.some((h) => seen.has(`hdl:${h}`))).toBe(true);
      expect(during.some((h) => !seen.has(`hdl:${h}`))).toBe(true);
      for (const h of during) {
        const [x, y] = await Promise.all([call(a, 'GET', `/api/handles/${h}`, undefined, false), call(b, 'GET', `/api/handles/${h}`, undefined, false)]);
        if (seen.has(`hdl:${h}`)) expect(y, h).toEqual(x);
        else expect(y.status, h).toBe(404);
      }
      // The restored service takes writes and continues the change log.
      await ok(b, 'PUT', '/api/handles/20.5000/after-restore', [{ index: 1, type: 'URL', data: 'https://example.org/after' }]);
      expect((await changeLog(b)).last).toBe(backupPosition + 1);
    } finally {
      expect((await b.stop()).code, b.output()).toBe(0);
    }
    const doctor = await runCairn(['doctor', '--json'], env(restored));
    expect(doctor.code, doctor.stdout).toBe(0);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; problemCount: number; checked: { indexByName: Record<string, number> } };
    expect(report).toMatchObject({ ok: true, problemCount: 0 });
    for (const name of ['prefix', 'hvalue', 'palias', 'oidchild', 'oidactive', 'oidlabel', 'itspos', 'itsgeoh', 'itsalias', 'itsaliash']) {
      expect(report.checked.indexByName[name], name).toBeGreaterThan(0);
    }
  }

  it('backs up a stopped server from its data directory, and that backup restores too', { timeout: 60_000 }, async () => {
    expect(paths, 'the first test populated the store').toBeDefined();
    const file = join(root, 'offline.ndjson.gz');
    const result = await runCairn(['backup', file], env(original));
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { source: string; changeLog: number };
    expect(outcome.source).toBe('offline');
    expect(outcome.changeLog).toBeGreaterThan(backupPosition);
    expect(existsSync(`${file}.partial`)).toBe(false);

    const restored = join(root, 'restored-offline');
    const restore = await runCairn(['restore', file], env(restored));
    expect(restore.code, restore.stderr).toBe(0);
    const doctor = await runCairn(['doctor'], env(restored));
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toContain('result: clean');

    const [x, y] = await Promise.all([startServer(env(original)), startServer(env(restored))]);
    try {
      for (const path of [...paths, ...during.slice(0, 5).map((h) => `/api/handles/${h}`)]) {
        const [p, q] = await Promise.all([call(x, 'GET', path, undefined, false), call(y, 'GET', path, undefined, false)]);
        expect(q, path).toEqual(p);
      }
      expect((await changeLog(y)).changes).toEqual((await changeLog(x)).changes);
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
  });

  it('asks the running server with the admin credentials and refuses others', { timeout: 30_000 }, async () => {
    const server = await startServer(env(original));
    try {
      // No admin secret anywhere: the server is reached, but the CLI has no credentials to send.
      const withoutSecret = { CAIRN_DATA_DIR: original, CAIRN_CERTS_DIR: certs, CAIRN_URL: server.url };
      const anonymous = await runCairn(['backup', join(root, 'nope.ndjson.gz')], withoutSecret);
      expect(anonymous.code).toBe(77);
      expect(anonymous.stderr).toContain('ERR_AUTH_REQUIRED');
      const wrong = await runCairn(['backup', join(root, 'nope.ndjson.gz')], { ...withoutSecret, CAIRN_IDENTITY: ADMIN_IDENTITY, CAIRN_SECRET: 'not-the-secret' });
      expect(wrong.code).toBe(77);
      expect(wrong.stderr).toContain('ERR_AUTH_FAILED');
      expect(existsSync(join(root, 'nope.ndjson.gz'))).toBe(false);
      expect(existsSync(join(root, 'nope.ndjson.gz.partial'))).toBe(false);
    } finally {
      await server.stop();
    }
    // Neither a store here nor a server: EX_UNAVAILABLE.
    const gone = await runCairn(['backup', join(root, 'nope.ndjson.gz')], env(join(root, 'nowhere'), { CAIRN_URL: 'http://127.0.0.1:9' }));
    expect(gone.code).toBe(69);
    expect(existsSync(join(root, 'nowhere'))).toBe(false);
  });
});
