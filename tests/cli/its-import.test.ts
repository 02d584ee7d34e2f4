import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { parseIdentity } from '../../src/families/doa/identity.js';
import type { SignView } from '../../src/families/its/its-record.js';
import { parseItsSignId } from '../../src/ids/its-sign.js';
import { startService, type Service } from '../../src/service/bootstrap.js';
import { CLI, killAllChildren, requireBuiltCli, runCairn, startServer } from '../helpers/child.js';
import { hasTool } from '../helpers/tools.js';

/** `cairn its import FILE.geojson`: the compiled CLI in a child process, state checked through the service and a server. */

const SECRET = 'its-import-admin-secret';
const ADMIN = { identity: parseIdentity('300:0.NA/20.5000'), serverAdmin: true };
let root: string;

beforeAll(() => {
  requireBuiltCli();
  root = mkdtempSync(join(tmpdir(), 'cairn-its-import-'));
});

afterAll(async () => {
  await killAllChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Case {
  readonly dataDir: string;
  readonly certsDir: string;
  readonly env: Record<string, string>;
  file(name: string, features: readonly unknown[]): string;
}

let cases = 0;
/** A fresh data directory with the issuers granted (through the service, in-process, before any CLI run). */
async function freshCase(issuers: readonly string[] = ['DE.417']): Promise<Case> {
  const base = join(root, `case-${++cases}`);
  mkdirSync(base);
  const dataDir = join(base, 'data');
  const certsDir = join(base, 'certs');
  await withService(dataDir, certsDir, async (service) => {
    for (const issuer of issuers) await service.its.putIssuer(issuer, { identity: '300:20.5000/roads', name: `Roads ${issuer}` }, ADMIN);
  });
  return {
    dataDir,
    certsDir,
    env: { CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certsDir, CAIRN_ADMIN_SECRET: SECRET, CAIRN_LOG_LEVEL: 'warn' },
    /** One feature per line: feature i starts on line i + 2. */
    file(name, features) {
      const path = join(base, name);
      writeFileSync(path, `{"type": "FeatureCollection", "features": [\n${features.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`);
      return path;
    },
  };
}

async function withService<T>(dataDir: string, certsDir: string, fn: (service: Service) => Promise<T>): Promise<T> {
  const config = loadConfig({}, { dataDir, certsDir, adminSecret: SECRET, syncWrites: false });
  const service = await startService(config);
  try {
    return await fn(service);
  } finally {
    await service.close();
  }
}

async function byAlias(service: Service, alias: string): Promise<SignView[]> {
  const result = await service.its.query({ area: { mode: 'alias', alias }, limit: 1000 });
  return (JSON.parse(result.json) as { signs: SignView[] }).signs.sort((a, b) => (a.mount?.order ?? 0) - (b.mount?.order ?? 0));
}

function point(lon: number, lat: number, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties, ...extra };
}

interface Rejection {
  feature: number;
  line: number;
  code: string;
  field?: string;
  reason?: string;
  message: string;
}

interface Summary {
  file: string;
  features: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: Rejection[];
  seconds: number;
}

function summary(stdout: string): Summary {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Summary;
}

const ID = (issuer: string, type: string): RegExp => new RegExp(`^its:(sign|plate):${issuer.replace('.', '\\.')}:${type.replace(/[.[\]]/g, (c) => `\\${c}`)}:[0-9A-Z]{1,10}~[0-9A-Z]$`);

describe('cairn its import', () => {
  const berlin = [
    point(13.3777, 52.5163, { '@id': 'node/123', traffic_sign: 'DE:274[60],1020-30;265[3.8]', direction: 'S' }),
    point(4.8952, 52.3702, { id: 124, issuer: 'NL.5', traffic_sign: 'C2', direction: 90 }),
    point(13.39, 52.53, { traffic_sign: '205', facing: 45 }),
  ];

  it('creates a sign per sign and a plate per supplementary sign, which resolve afterwards; a re-run creates nothing; a changed row updates', { timeout: 60_000 }, async () => {
    const c = await freshCase(['DE.417', 'NL.5']);
    const file = c.file('berlin.geojson', berlin);

    const first = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(summary(first.stdout)).toMatchObject({ file, features: 3, created: 5, updated: 0, unchanged: 0, rejected: [] });

    // Through a started server: alias look-up, GET /api/its/{id}, /api/resolve.
    const server = await startServer({ ...c.env, CAIRN_LOG_LEVEL: 'info' });
    let ids: string[];
    try {
      const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
        const res = await fetch(`${server.url}${path}`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const post = await get(`/api/its?alias=${encodeURIComponent('osm:node/123')}`);
      expect(post.status).toBe(200);
      const signs = (post.body.signs as SignView[]).sort((a, b) => a.mount!.order! - b.mount!.order!);
      expect(signs).toHaveLength(3);
      const [limit, plate, height] = signs as [SignView, SignView, SignView];
      expect(limit).toMatchObject({
        kind: 'sign',
        issuer: 'DE.417',
        type: 'nat.DE-274[60]',
        position: { lat: 52.5163, lon: 13.3777 },
        facing: 180,
        status: 'placed',
        value: 60,
        unit: 'km/h',
        mount: { post: 'osm:node/123', order: 1 },
        aliases: ['osm:node/123', 'osm-ts:node/123/1'],
        source: 'OpenStreetMap traffic_sign',
      });
      expect(limit.id).toMatch(ID('DE.417', 'nat.DE-274[60]'));
      expect(plate).toMatchObject({ kind: 'plate', type: 'nat.DE-1020-30', value: null, mount: { post: 'osm:node/123', order: 2 }, aliases: ['osm:node/123', 'osm-ts:node/123/1/1'] });
      expect(plate.id).toMatch(/^its:plate:DE\.417:nat\.DE-1020-30:/);
      // 3.8 is not a whole number: on the record (with the catalogue's unit), not in the identifier.
      expect(height).toMatchObject({ kind: 'sign', type: 'nat.DE-265', value: 3.8, unit: 'm', mount: { order: 3 }, aliases: ['osm:node/123', 'osm-ts:node/123/2'] });
      expect(height.id).toMatch(ID('DE.417', 'nat.DE-265'));

      const nl = (await get(`/api/its?alias=${encodeURIComponent('osm:node/124')}`)).body.signs as SignView[];
      expect(nl).toHaveLength(1);
      expect(nl[0]).toMatchObject({ issuer: 'NL.5', type: 'nat.NL-C2', facing: 90, mount: { post: 'osm:node/124', order: 1 } });
      const geo = (await get(`/api/its?alias=${encodeURIComponent('geo:52.53,13.39')}`)).body.signs as SignView[];
      expect(geo).toHaveLength(1);
      expect(geo[0]).toMatchObject({ issuer: 'DE.417', type: 'nat.DE-205', facing: 45, aliases: ['geo:52.53,13.39', 'osm-ts:geo/52.53,13.39/1'] });

      ids = [limit.id, plate.id, height.id, nl[0]!.id, geo[0]!.id];
      // Minted serials: DE.417 counted 1..4 in file order, NL.5 its own 1.
      expect(ids.map((id) => parseItsSignId(id).serial)).toEqual([1, 2, 3, 1, 4]);
      for (const id of ids) {
        const one = await get(`/api/its/${encodeURIComponent(id)}`);
        expect(one.status, id).toBe(200);
        expect(one.body.id).toBe(id);
        expect(one.body.signature).toMatchObject({ alg: 'EdDSA' });
        expect((await get(`/api/resolve/${encodeURIComponent(id)}`)).body.id).toBe(id);
      }

      // The server holds the data directory: the import refuses to run beside it.
      const locked = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
      expect(locked.code).toBe(75);
      expect(locked.stderr).toContain('ERR_STORE_LOCKED');
    } finally {
      await server.stop();
    }

    // The same file again: nothing written.
    const seqBefore = await withService(c.dataDir, c.certsDir, async (s) => s.store.lastSeq);
    const again = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
    expect(again.code, again.stderr).toBe(0);
    expect(summary(again.stdout)).toMatchObject({ features: 3, created: 0, updated: 0, unchanged: 5, rejected: [] });
    expect(await withService(c.dataDir, c.certsDir, async (s) => s.store.lastSeq)).toBe(seqBefore);

    // Changed rows: a new speed limit, the height limit taken off the post, the Dutch sign turned.
    const changed = c.file('berlin.geojson', [
      point(13.3777, 52.5163, { '@id': 'node/123', traffic_sign: 'DE:274[80],1020-30', direction: 'S' }),
      point(4.8952, 52.3702, { id: 124, issuer: 'NL.5', traffic_sign: 'C2', direction: 'NE' }),
      berlin[2],
    ]);
    const third = await runCairn(['its', 'import', changed, '--issuer', 'DE.417'], c.env);
    expect(third.code, third.stderr).toBe(0);
    expect(summary(third.stdout)).toMatchObject({ features: 3, created: 0, updated: 3, unchanged: 2, rejected: [] });
    await withService(c.dataDir, c.certsDir, async (s) => {
      const [limit, plate, height] = (await byAlias(s, 'osm:node/123')) as [SignView, SignView, SignView];
      // Same identity (serial), new type and value: an update, not a new sign.
      expect(parseItsSignId(limit.id).serial).toBe(1);
      expect(limit).toMatchObject({ type: 'nat.DE-274[80]', value: 80, version: 2 });
      expect(limit.id).toMatch(ID('DE.417', 'nat.DE-274[80]'));
      expect(plate).toMatchObject({ id: ids[1], version: 1 });
      expect(height).toMatchObject({ status: 'removed', version: 2, value: 3.8 });
      expect(s.its.view(ids[3]!)).toMatchObject({ facing: 45, version: 2 });
      expect(s.its.view(ids[4]!)).toMatchObject({ version: 1 });
    });

    // And that state is stable too.
    const fourth = await runCairn(['its', 'import', changed, '--issuer', 'DE.417'], c.env);
    expect(summary(fourth.stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 4 });
  });

  it('keeps what it does not manage (road, lanes, other aliases) when it updates a sign', { timeout: 30_000 }, async () => {
    const c = await freshCase();
    const file = c.file('one.geojson', [point(13.3777, 52.5163, { '@id': 123, traffic_sign: 'DE:274[60]', direction: 180 })]);
    // The same node written as osmium and Overpass write it: the same post, nothing new.
    const osmium = c.file('osmium.geojson', [point(13.3777, 52.5163, { '@id': 'n123', traffic_sign: 'DE:274[60]', direction: '180' })]);
    const overpass = c.file('overpass.geojson', [point(13.3777, 52.5163, { traffic_sign: 'DE:274[60]', direction: 'S' }, { id: 'node/123' })]);
    expect((await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env)).code).toBe(0);
    for (const other of [osmium, overpass]) {
      expect(summary((await runCairn(['its', 'import', other, '--issuer', 'DE.417'], c.env)).stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 1 });
    }
    await withService(c.dataDir, c.certsDir, async (s) => {
      const [sign] = await byAlias(s, 'osm:node/123');
      const { position, facing, value, mount, aliases } = sign!;
      await s.its.put(sign!.id, { position: { ...position, height: 2.1 }, facing, value, mount, aliases: [...aliases, 'bast:DE-0001'], road: 'B 2', lanes: [1] }, ADMIN);
    });
    const same = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
    expect(summary(same.stdout)).toMatchObject({ created: 0, updated: 1, unchanged: 0 }); // the source is the import's again
    const turned = c.file('one.geojson', [point(13.3777, 52.5163, { '@id': 123, traffic_sign: 'DE:274[60]', direction: 170 })]);
    expect(summary((await runCairn(['its', 'import', turned, '--issuer', 'DE.417'], c.env)).stdout)).toMatchObject({ updated: 1 });
    await withService(c.dataDir, c.certsDir, async (s) => {
      const [sign] = await byAlias(s, 'bast:DE-0001');
      expect(sign).toMatchObject({ facing: 170, road: 'B 2', lanes: [1], position: { lat: 52.5163, lon: 13.3777, height: 2.1 }, version: 4 });
      expect(sign!.aliases).toEqual(['osm:node/123', 'osm-ts:node/123/1', 'bast:DE-0001']);
    });
  });

  it('reports bad rows (feature index, line, error code) on stderr and in the summary, and imports the rest', { timeout: 30_000 }, async () => {
    const c = await freshCase();
    const good = (id: number, ts = 'DE:206') => point(13.4 + id / 1000, 52.5, { '@id': `node/${id}`, traffic_sign: ts, direction: 'N' });
    const features = [
      good(1),
      point(13.4, 52.5, { '@id': 'node/2', traffic_sign: 'DE:9999', direction: 'N' }), // not in the catalogue
      point(13.4, 152.5, { '@id': 'node/3', traffic_sign: 'DE:206', direction: 'N' }), // latitude out of range
      point(13.4, 52.5, { '@id': 'node/4', traffic_sign: 'DE:274[60', direction: 'N' }), // unparseable
      { type: 'Feature', geometry: { type: 'LineString', coordinates: [[13.4, 52.5], [13.5, 52.5]] }, properties: { '@id': 'node/5', traffic_sign: 'DE:206', direction: 'N' } },
      point(13.4, 52.5, { '@id': 'node/6', traffic_sign: 'DE:206' }), // no direction
      point(13.4, 52.5, { '@id': 'node/7', traffic_sign: 'DE:206', direction: 'forward' }),
      point(13.4, 52.5, { '@id': 'node/8', traffic_sign: 'DE:206;city_limit', direction: 'N' }), // one bad sign: the whole post is refused
      point(13.4, 52.5, { '@id': 'node/9', traffic_sign: 'DE:206', direction: 'N', issuer: 'FR.9' }), // issuer not granted
      point(13.4, 52.5, { '@id': 'node/10', traffic_sign: 'DE:206[5]', direction: 'N' }), // 206 takes no value
      point(13.4, 52.5, { '@id': 'node/11', traffic_sign: 'DE:206[5.5]', direction: 'N' }), // nor a decimal one
      good(1, 'DE:205'), // the same post again
      good(12),
    ];
    const file = c.file('bad.geojson', features);
    const r = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
    expect(r.code, r.stderr).toBe(0);
    const s = summary(r.stdout);
    expect(s).toMatchObject({ features: 13, created: 2, updated: 0, unchanged: 0 });
    expect(s.rejected.map(({ feature, line, code, field, reason }) => ({ feature, line, code, field, reason }))).toEqual([
      { feature: 1, line: 3, code: 'ERR_ITS_CODE_UNKNOWN', field: 'code', reason: undefined },
      { feature: 2, line: 4, code: 'ERR_ITS_SIGN_INVALID', field: 'position.lat', reason: undefined },
      { feature: 3, line: 5, code: 'ERR_ITS_SIGN_INVALID', field: 'traffic_sign', reason: 'bracket' },
      { feature: 4, line: 6, code: 'ERR_ITS_SIGN_INVALID', field: 'geometry', reason: undefined },
      { feature: 5, line: 7, code: 'ERR_ITS_SIGN_INVALID', field: 'direction', reason: undefined },
      { feature: 6, line: 8, code: 'ERR_ITS_SIGN_INVALID', field: 'direction', reason: undefined },
      { feature: 7, line: 9, code: 'ERR_ITS_SIGN_INVALID', field: 'traffic_sign', reason: 'code' },
      { feature: 8, line: 10, code: 'ERR_ITS_ISSUER_NOT_FOUND', field: undefined, reason: undefined },
      { feature: 9, line: 11, code: 'ERR_ITS_CODE_UNKNOWN', field: 'value', reason: undefined },
      { feature: 10, line: 12, code: 'ERR_ITS_CODE_UNKNOWN', field: 'value', reason: undefined },
      { feature: 11, line: 13, code: 'ERR_ITS_SIGN_INVALID', field: 'id', reason: undefined },
    ]);
    expect(s.rejected[1]!.message).toContain('latitude 152.5');
    const stderr = r.stderr.trim().split('\n');
    expect(stderr).toHaveLength(11);
    expect(stderr[0]).toMatch(/^cairn its import: feature 1 \(line 3\): ERR_ITS_CODE_UNKNOWN: nat\.DE-9999/);
    expect(stderr[2]).toMatch(/^cairn its import: feature 3 \(line 5\): ERR_ITS_SIGN_INVALID: traffic_sign "DE:274\[60"/);
    await withService(c.dataDir, c.certsDir, async (service) => {
      expect(await byAlias(service, 'osm:node/1')).toMatchObject([{ type: 'nat.DE-206' }]);
      expect(await byAlias(service, 'osm:node/12')).toHaveLength(1);
      for (const n of [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) expect(await byAlias(service, `osm:node/${n}`), `node ${n}`).toEqual([]);
    });
  });

  it.each([
    ['not JSON', '{"type": "FeatureCollection", "features": [\n{"type": "Feature",,}\n]}', /not GeoJSON: not JSON \(line 2\)/],
    ['a single Feature', JSON.stringify(point(13.4, 52.5, { traffic_sign: 'DE:206', direction: 0 })), /not a GeoJSON FeatureCollection/],
    ['features not an array', '{"type": "FeatureCollection", "features": {}}', /not a GeoJSON FeatureCollection/],
  ])('exits 65 (EX_DATAERR) and writes nothing when the file is %s', async (_name, text, message) => {
    const c = await freshCase();
    const seq = await withService(c.dataDir, c.certsDir, async (s) => s.store.lastSeq);
    const file = join(c.dataDir, '..', 'broken.geojson');
    writeFileSync(file, text);
    const r = await runCairn(['its', 'import', file, '--issuer', 'DE.417'], c.env);
    expect(r.code).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/ERR_IMPORT_LINE_INVALID/);
    expect(r.stderr).toMatch(message);
    expect(await withService(c.dataDir, c.certsDir, async (s) => s.store.lastSeq)).toBe(seq);
  });

  it('an empty FeatureCollection is a readable file: exit 0, nothing to do', async () => {
    const c = await freshCase();
    const r = await runCairn(['its', 'import', c.file('empty.geojson', [])], c.env);
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r.stdout)).toMatchObject({ features: 0, created: 0, updated: 0, unchanged: 0, rejected: [] });
  });

  it('without an issuer, a feature is rejected; an ungranted or malformed --issuer stops before reading on', async () => {
    const c = await freshCase();
    const file = c.file('no-issuer.geojson', [point(13.4, 52.5, { '@id': 1, traffic_sign: 'DE:206', direction: 0 })]);
    const none = await runCairn(['its', 'import', file], c.env);
    expect(none.code, none.stderr).toBe(0);
    expect(summary(none.stdout).rejected).toMatchObject([{ feature: 0, line: 2, code: 'ERR_ITS_ID_INVALID', field: 'issuer' }]);

    const ungranted = await runCairn(['its', 'import', file, '--issuer=FR.9'], c.env);
    expect(ungranted.code).toBe(65);
    expect(ungranted.stderr).toContain('ERR_ITS_ISSUER_NOT_FOUND');

    for (const args of [['its', 'import', file, '--issuer', 'DE'], ['its', 'import', file, '--issuer'], ['its', 'import'], ['its', 'export', file], ['its', 'import', file, '--frob']]) {
      const r = await runCairn(args, c.env);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/cairn: (usage: cairn its import|--issuer)/);
    }
    const help = await runCairn(['--help'], c.env);
    expect(help.stdout).toContain('its import FILE.geojson [--issuer CC.authority]');
  });

  it.runIf(hasTool('script', ['--version']))('draws a progress bar when stderr is a terminal (through script(1))', { timeout: 30_000 }, async () => {
    const c = await freshCase();
    const features = Array.from({ length: 60 }, (_, i) => point(13.4 + i / 1000, 52.5, { '@id': i + 1, traffic_sign: 'DE:274[50],1020-30', direction: 'SW' }));
    features[7] = point(13.4, 52.5, { '@id': 8, traffic_sign: 'DE:274[50', direction: 'SW' });
    const file = c.file('progress.geojson', features);
    const env = { ...process.env, ...c.env };
    const r = spawnSync('script', ['-qec', `node ${CLI} its import ${file} --issuer DE.417`, '/dev/null'], { env, encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\[#{30}\] 100\.0% +60\/60 features/);
    expect(r.stdout).toMatch(/cairn its import: feature 7 \(line 9\): ERR_ITS_SIGN_INVALID/);
    expect(r.stdout).toContain('"created":118');
  });
});
