/**
 * ITS sign queries (issue 5, "Performance"): `near` and `ahead` against 10^6 signs, p50 and p99
 * latency, with PostGIS answering the same queries on the same points in the same run; budget:
 * Cairn's `near` p50 at most 2x PostGIS's.
 *
 *   1. The signs: `signs` records under issuer DE.417, spread uniformly (seeded) over a box around
 *      Berlin scaled with the count so that the density stays about 32 signs per km² at any size
 *      (10^6 signs: about 31,000 km²). Each is a speed-limit sign (`nat.DE-274[<v>]`) with a facing,
 *      validity, mount and an OSM alias, signed like every record. They are written in-process
 *      through `ItsService.createMany` in batches of 2,000 into a data directory cached under
 *      tests/artifacts/its-bench-<format>-<count>/ and reused by later runs (signing 10^6 records
 *      takes minutes); delete that folder to regenerate.
 *   2. Cairn, in-process: `ItsService.query` on the store (no HTTP), then over HTTP: `cairn serve`
 *      (CAIRN_LOG_LEVEL=warn) on loopback, one client sending the queries one after another on a
 *      keep-alive connection; the latency is from sending the request to the last byte of the
 *      answer (the signed records of up to 100 signs).
 *   3. PostGIS, when `initdb`, `pg_ctl`, `postgres` and `psql` and the postgis extension are
 *      installed: a throwaway cluster (initdb as the `postgres` user in a temporary directory,
 *      postgres on a free loopback port, fsync off), the same points COPYed in, as
 *      `geography(Point, 4326)` with a GiST index: geography because the query radius is in
 *      metres anywhere on Earth, with no projection to choose; distances on the sphere
 *      (`use_spheroid => false`), as Cairn computes them, so that both return the same signs. Each
 *      row carries the sign's document, a `jsonb` column holding the signed JSON Cairn answers
 *      with (copied from Cairn's stored views), so both send the same payload per sign. One psql
 *      process runs the prepared queries with `\timing` (the time from sending a query to its
 *      last row, printed by psql), rows returned: id, distance (and bearing for `ahead`), doc.
 *      The cluster is stopped and its directory removed at the end, on error, and on exit
 *      (SIGINT included).
 *   4. The same query points for every system: `queries` `near` points (radius `radius` m) and as
 *      many `ahead` points with a heading (distance `aheadDistance` m), seeded; every query is run
 *      once as warm-up, then once measured. Before measuring, the hit sets of both systems are
 *      compared on every query.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import type { Principal } from '../../src/families/doa/authorize.js';
import { parseItsQuery } from '../../src/families/its/its-query.js';
import { itsSignRecordKey } from '../../src/families/its/its-storage.js';
import { formatItsSignId, parseItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { ADMIN_INDEX, startService } from '../../src/service/bootstrap.js';
import { cleanEnv, freePort, sleep, spawnTracked, stop } from './procs.js';
import { splicePhase } from './report-splice.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const NODE = process.execPath;

export const ITS_BUDGET = 2;
/** Bump when the generated data changes: the cache folder is keyed by it and the count. */
const FORMAT = 'v1';
const ADMIN_SECRET = 'bench-admin-secret-0123';
const BATCH = 2000;
/** Signs per km² (about what German road sign databases hold in a city's outskirts). */
const DENSITY = 32;
const CENTER = { lat: 52.3, lon: 13.4 };
const M_PER_DEG_LAT = 111_195;

export interface ItsOptions {
  readonly quick: boolean;
  readonly signs: number;
  /** Queries per mode. */
  readonly queries: number;
  readonly radius: number;
  readonly aheadDistance: number;
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
  /** Mean signs per answer. */
  readonly hits: number;
}

type Mode = 'near' | 'ahead';

export interface ItsSkipped {
  readonly skipped: string;
}

export interface ItsMeasured {
  readonly skipped?: undefined;
  readonly date: string;
  readonly signs: number;
  readonly areaKm2: number;
  readonly generated: { readonly seconds: number; readonly cached: boolean; readonly bytes: number };
  readonly inProcess: Record<Mode, Latency>;
  readonly http: Record<Mode, Latency>;
  readonly postgis: { readonly skipped: string } | { readonly version: string; readonly loadSeconds: number; readonly latency: Record<Mode, Latency>; readonly agreement: Record<Mode, { same: number; of: number; firstDifference?: string }> };
  /** Cairn HTTP p50 / PostGIS p50, per mode. */
  readonly ratio?: Record<Mode, number>;
}

export type ItsResults = ItsSkipped | ItsMeasured;

/** The box the signs are spread over: square in metres, DENSITY signs per km². */
function region(count: number): { minLat: number; maxLat: number; minLon: number; maxLon: number; km2: number } {
  const km2 = count / DENSITY;
  const halfM = (Math.sqrt(km2) * 1000) / 2;
  const dLat = halfM / M_PER_DEG_LAT;
  const dLon = halfM / (M_PER_DEG_LAT * Math.cos((CENTER.lat * Math.PI) / 180));
  return { minLat: CENTER.lat - dLat, maxLat: CENTER.lat + dLat, minLon: CENTER.lon - dLon, maxLon: CENTER.lon + dLon, km2 };
}

interface Point {
  readonly serial: number;
  readonly lat: number;
  readonly lon: number;
  readonly facing: number;
}

/** The signs' points, the same sequence for Cairn and PostGIS. */
function* points(count: number): Generator<Point> {
  const r = region(count);
  const rnd = prng(0x175);
  for (let i = 0; i < count; i++) {
    const lat = Math.round((r.minLat + rnd() * (r.maxLat - r.minLat)) * 1e7) / 1e7;
    const lon = Math.round((r.minLon + rnd() * (r.maxLon - r.minLon)) * 1e7) / 1e7;
    yield { serial: i + 1, lat, lon, facing: Math.round(rnd() * 3600) / 10 };
  }
}

const idOf = (serial: number, value: number): string =>
  formatItsSignId({ kind: 'sign', country: 'DE', authority: 417, serial, type: parseItsSignType(`nat.DE-274[${value}]`) });

interface Query {
  readonly lat: number;
  readonly lon: number;
  readonly heading: number;
}

function queryPoints(count: number, n: number): Query[] {
  const r = region(count);
  // Inside the box by the largest query distance, so that every query sees the full density.
  const mLat = 5000 / M_PER_DEG_LAT;
  const mLon = 5000 / (M_PER_DEG_LAT * Math.cos((CENTER.lat * Math.PI) / 180));
  const rnd = prng(0x51);
  return Array.from({ length: n }, () => ({
    lat: Math.round((r.minLat + mLat + rnd() * Math.max(0, r.maxLat - r.minLat - 2 * mLat)) * 1e6) / 1e6,
    lon: Math.round((r.minLon + mLon + rnd() * Math.max(0, r.maxLon - r.minLon - 2 * mLon)) * 1e6) / 1e6,
    heading: Math.round(rnd() * 3600) / 10,
  }));
}

const env = (data: string, certs: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  cleanEnv({ CAIRN_DATA_DIR: data, CAIRN_CERTS_DIR: certs, CAIRN_ADMIN_SECRET: ADMIN_SECRET, ...extra });

function dirBytes(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]) || 0;
}

/** The cached data directory for `count` signs, generated when missing. */
async function dataFor(count: number, log: (s: string) => void): Promise<{ dir: string; seconds: number; cached: boolean }> {
  const dir = join(REPO, 'tests', 'artifacts', `its-bench-${FORMAT}-${count}`);
  const ready = join(dir, 'READY.json');
  if (existsSync(ready)) {
    const info = JSON.parse(readFileSync(ready, 'utf8')) as { seconds: number };
    log(`its: reusing ${count} signs in ${dir} (generated in ${info.seconds.toFixed(0)} s)`);
    return { dir, seconds: info.seconds, cached: true };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`its: generating ${count} signed signs into ${dir} (cached for later runs)`);
  const t0 = process.hrtime.bigint();
  const service = await startService(loadConfig(env(join(dir, 'data'), join(dir, 'certs'), { CAIRN_SYNC_WRITES: 'false' })));
  try {
    const admin: Principal = { identity: { index: ADMIN_INDEX, handle: `0.NA/${service.config.prefix}` }, serverAdmin: true };
    await service.its.putIssuer('DE.417', { identity: `${ADMIN_INDEX}:0.NA/${service.config.prefix}`, name: 'Benchmark roads' }, admin);
    let batch: { id: string; body: unknown }[] = [];
    let done = 0;
    let lastLog = Date.now();
    for (const p of points(count)) {
      const value = 30 + 10 * (p.serial % 10);
      batch.push({
        id: idOf(p.serial, value),
        body: {
          position: { lat: p.lat, lon: p.lon, height: 2.1 },
          facing: p.facing,
          status: 'placed',
          validity: { from: '2026-01-01T00:00:00Z', to: null, windows: [] },
          mount: { post: `post-${p.serial}`, order: 1 },
          road: 'B 2',
          aliases: [`osm:node/${1_000_000 + p.serial}`],
        },
      });
      if (batch.length === BATCH) {
        await service.its.createMany(batch, admin);
        done += batch.length;
        batch = [];
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          log(`its: ${done} of ${count} signs written`);
        }
      }
    }
    if (batch.length > 0) await service.its.createMany(batch, admin);
  } finally {
    await service.close();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  writeFileSync(ready, JSON.stringify({ count, format: FORMAT, seconds }));
  log(`its: ${count} signs generated in ${seconds.toFixed(0)} s`);
  return { dir, seconds, cached: false };
}

function latency(ms: number[], hits: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, max: s.at(-1)!, hits: hits.reduce((a, b) => a + b, 0) / hits.length };
}

const nearParams = (q: Query, o: ItsOptions): Record<string, string> => ({ near: `${q.lat},${q.lon}`, radius: String(o.radius) });
const aheadParams = (q: Query, o: ItsOptions): Record<string, string> => ({ ahead: `${q.lat},${q.lon},${q.heading}`, distance: String(o.aheadDistance) });
const paramsFor = (mode: Mode, q: Query, o: ItsOptions): Record<string, string> => (mode === 'near' ? nearParams(q, o) : aheadParams(q, o));

type Answers = Record<Mode, string[][]>;

async function inProcess(dir: string, qs: readonly Query[], o: ItsOptions): Promise<{ latency: Record<Mode, Latency>; answers: Answers }> {
  const service = await startService(loadConfig(env(join(dir, 'data'), join(dir, 'certs'), { CAIRN_SYNC_WRITES: 'false' })));
  try {
    const latencyOf = {} as Record<Mode, Latency>;
    const answers = {} as Answers;
    for (const mode of ['near', 'ahead'] as const) {
      for (const q of qs) await service.its.query(parseItsQuery(paramsFor(mode, q, o)));
      const ms: number[] = [];
      const hits: number[] = [];
      answers[mode] = [];
      for (const q of qs) {
        const t0 = process.hrtime.bigint();
        const r = await service.its.query(parseItsQuery(paramsFor(mode, q, o)));
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        hits.push(r.count);
        answers[mode].push((JSON.parse(r.json) as { signs: { id: string }[] }).signs.map((s) => s.id.replace(/:nat\.DE-274\[\d+\]/, '')));
      }
      latencyOf[mode] = latency(ms, hits);
    }
    return { latency: latencyOf, answers };
  } finally {
    await service.close();
  }
}

function httpGet(agent: Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function overHttp(dir: string, qs: readonly Query[], o: ItsOptions, cpu: number | undefined, log: (s: string) => void): Promise<Record<Mode, Latency>> {
  const port = await freePort();
  const logFile = join(dir, 'serve.log');
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawnTracked(NODE, [CLI, 'serve'], {
      cpu,
      env: env(join(dir, 'data'), join(dir, 'certs'), { CAIRN_LOG_LEVEL: 'warn', CAIRN_HTTP_PORT: String(port), CAIRN_DNS_PORT: '0', CAIRN_DOIP_PORT: '0' }),
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await httpGet(agent, port, '/healthz')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > until) throw new Error(`cairn serve did not start: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      await sleep(100);
    }
    log(`its: cairn serve on 127.0.0.1:${port} (pid ${child.pid})`);
    const out = {} as Record<Mode, Latency>;
    for (const mode of ['near', 'ahead'] as const) {
      const path = (q: Query): string => `/api/its?${new URLSearchParams(paramsFor(mode, q, o)).toString()}`;
      for (const q of qs) await httpGet(agent, port, path(q));
      const ms: number[] = [];
      const hits: number[] = [];
      for (const q of qs) {
        const t0 = process.hrtime.bigint();
        const r = await httpGet(agent, port, path(q));
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.status !== 200) throw new Error(`GET ${path(q)}: ${r.status} ${r.body.slice(0, 300)}`);
        hits.push((JSON.parse(r.body) as { count: number }).count);
      }
      out[mode] = latency(ms, hits);
    }
    return out;
  } finally {
    agent.destroy();
    await stop(child);
  }
}

// ---- PostGIS --------------------------------------------------------------------------------------

const PG_BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

function pgBin(): string | undefined {
  return PG_BIN_DIRS.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')) && existsSync(join(d, 'pg_ctl')));
}

function postgisMissing(bin: string | undefined): string | undefined {
  if (bin === undefined) return 'PostgreSQL server binaries (initdb, pg_ctl, postgres) not installed';
  if (spawnSync('psql', ['--version'], { stdio: 'ignore' }).status !== 0) return 'psql not installed';
  const share = spawnSync(join(bin, 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).stdout?.trim();
  if (!share || !existsSync(join(share, 'extension', 'postgis.control'))) return 'the postgis extension is not installed (apt-get install postgis postgresql-15-postgis-3)';
  const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (process.getuid?.() === 0 && pw.status !== 0) return 'running as root and there is no postgres user to run the cluster as';
  return undefined;
}

interface Cluster {
  readonly dir: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** initdb + postgres in a fresh temporary directory; removed by `stop`, or on exit. */
async function startCluster(bin: string, log: (s: string) => void): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'cairn-bench-pg-'));
  const data = join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), gid: Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout) } : undefined;
  if (ids) chownSync(root, ids.uid, ids.gid);
  let child: ChildProcess | undefined;
  let removed = false;
  const removeNow = (): void => {
    if (removed) return;
    removed = true;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  // run.ts exits through process.exit on SIGINT/SIGTERM/deadline: the cluster goes too.
  process.once('exit', removeNow);
  try {
    const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'bench', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { encoding: 'utf8', cwd: root, ...(ids ?? {}) });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
    const port = await freePort();
    const settings = ['-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=512MB', '-c', 'maintenance_work_mem=512MB', '-c', 'max_wal_size=4GB', '-c', 'jit=off'];
    child = spawn(join(bin, 'postgres'), ['-D', data, ...settings], { stdio: ['ignore', 'ignore', openSync(join(root, 'postgres.log'), 'a')], cwd: root, ...(ids ?? {}) });
    const until = Date.now() + 60_000;
    while (spawnSync('psql', ['-X', '-h', '127.0.0.1', '-p', String(port), '-U', 'bench', '-d', 'postgres', '-c', 'select 1'], { stdio: 'ignore' }).status !== 0) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`postgres did not start: ${readFileSync(join(root, 'postgres.log'), 'utf8').slice(-2000)}`);
      await sleep(200);
    }
    log(`its: throwaway PostgreSQL cluster in ${root} on 127.0.0.1:${port} (pid ${child.pid})`);
    const running = child;
    return {
      dir: root,
      port,
      child: running,
      async stop() {
        if (running.exitCode === null && running.signalCode === null) {
          await new Promise<void>((done) => {
            const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
            running.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            running.kill('SIGINT'); // fast shutdown
          });
        }
        removeNow();
        process.removeListener('exit', removeNow);
      },
    };
  } catch (e) {
    removeNow();
    process.removeListener('exit', removeNow);
    throw e;
  }
}

function psql(port: number, args: readonly string[], input?: string): { stdout: string; stderr: string } {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'bench', '-d', 'postgres', ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 1024 ** 3,
  });
  if (r.status !== 0) throw new Error(`psql ${args.join(' ').slice(0, 200)} failed: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * The points as CSV for PostGIS, each with the signed JSON document Cairn answers with for that
 * sign (its stored view, read from Cairn's data directory), so that both systems return the same
 * payload per sign. Written in chunks: at 10^6 signs the file is several GB.
 */
async function writePointsCsv(dataDir: string, count: number, csv: string, log: (s: string) => void): Promise<void> {
  const service = await startService(loadConfig(env(join(dataDir, 'data'), join(dataDir, 'certs'), { CAIRN_SYNC_WRITES: 'false' })));
  const fd = openSync(csv, 'w');
  try {
    let lines: string[] = [];
    let done = 0;
    let lastLog = Date.now();
    for (const p of points(count)) {
      const id = idOf(p.serial, 30 + 10 * (p.serial % 10));
      const view = service.store.storedView(itsSignRecordKey(parseItsSignId(id)));
      if (view === undefined || view.readUInt16BE(0) !== 200) throw new Error(`${id}: no stored view in ${dataDir}`);
      const doc = view.subarray(2).toString('utf8').replaceAll('"', '""');
      lines.push(`${id.replace(/:nat\.DE-274\[\d+\]/, '')},${p.facing},SRID=4326;POINT(${p.lon} ${p.lat}),"${doc}"`);
      if (lines.length === 1000) {
        writeSync(fd, `${lines.join('\n')}\n`);
        lines = [];
        done += 1000;
        // Back to the event loop now and then: run.ts's SIGINT handler (which removes the cluster) must get to run.
        await new Promise((resolveTurn) => setImmediate(resolveTurn));
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          log(`its: ${done} of ${count} sign documents written for PostGIS`);
        }
      }
    }
    if (lines.length > 0) writeSync(fd, `${lines.join('\n')}\n`);
  } finally {
    closeSync(fd);
    await service.close();
  }
}

async function loadPostgis(port: number, count: number, dataDir: string, dir: string, log: (s: string) => void): Promise<number> {
  const t0 = process.hrtime.bigint();
  psql(port, ['-c', 'CREATE EXTENSION postgis']);
  // toast_tuple_target at its maximum keeps each document (about 5.5 kB) uncompressed in its row,
  // beside the point, as Cairn keeps a sign's view in its record entry: of the layouts tried, the
  // one PostgreSQL answered fastest from (the default compresses it out of line into TOAST).
  psql(port, ['-c', 'CREATE TABLE signs (id text, facing float8, geog geography(Point, 4326), doc jsonb) WITH (toast_tuple_target = 8160)']);
  // COPY from a CSV file (psql \copy reads it client-side).
  const csv = join(dir, 'points.csv');
  await writePointsCsv(dataDir, count, csv, log);
  psql(port, ['-c', `\\copy signs FROM '${csv}' WITH (FORMAT csv)`]);
  rmSync(csv);
  psql(port, ['-c', 'CREATE INDEX signs_geog ON signs USING gist (geog)']);
  psql(port, ['-c', 'VACUUM ANALYZE signs']);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The statements (prepared), and the query lines for psql's `-f`. */
function postgisScript(mode: Mode, qs: readonly Query[], o: ItsOptions, rows: boolean): string {
  const prepare =
    mode === 'near'
      ? `PREPARE q(float8, float8, float8) AS SELECT id, round(ST_Distance(geog, p, false)::numeric, 2) AS distance, doc FROM signs, (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS p) c WHERE ST_DWithin(geog, p, $3, false) ORDER BY ST_Distance(geog, p, false), id LIMIT 100;`
      : // ahead: within the distance, bearing within 30 degrees of the heading, facing within 45 of its reverse.
        `PREPARE q(float8, float8, float8, float8) AS SELECT id, round(d::numeric, 2) AS distance, round(b::numeric, 2) AS bearing, doc FROM (SELECT id, doc, (facing - $3 + 180) - 360 * floor((facing - $3 + 180) / 360) AS f, ST_Distance(geog, p, false) AS d, degrees(ST_Azimuth(p, geog)) AS b FROM signs, (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS p) c WHERE ST_DWithin(geog, p, $4, false)) s ` +
        `WHERE d > 0 AND least(abs(b - $3), 360 - abs(b - $3)) <= 30 AND least(f, 360 - f) <= 45 ORDER BY d, id LIMIT 100;`;
  const exec = qs.map((q) => (mode === 'near' ? `EXECUTE q(${q.lat}, ${q.lon}, ${o.radius});` : `EXECUTE q(${q.lat}, ${q.lon}, ${q.heading}, ${o.aheadDistance});`));
  return [prepare, ...(rows ? ['\\pset format unaligned', '\\pset tuples_only on', '\\echo ---'] : ['\\timing on']), ...(rows ? exec.flatMap((e) => [e, '\\echo ---']) : exec), ''].join('\n');
}

/** Each query's ids, from one psql run that prints the rows. */
function postgisAnswers(port: number, mode: Mode, qs: readonly Query[], o: ItsOptions): string[][] {
  const out = psql(port, [], postgisScript(mode, qs, o, true)).stdout;
  const blocks = out.split('---\n').slice(1);
  return blocks.slice(0, qs.length).map((b) => b.split('\n').filter((l) => l !== '').map((l) => l.split('|')[0]!));
}

/** `\timing` of every query, warm-up run first. */
function postgisTimes(port: number, mode: Mode, qs: readonly Query[], o: ItsOptions): number[] {
  psql(port, ['-o', '/dev/null'], postgisScript(mode, qs, o, false));
  const out = psql(port, ['-o', '/dev/null'], postgisScript(mode, qs, o, false)).stdout;
  const times = [...out.matchAll(/^Time: ([0-9.]+) ms/gm)].map((m) => Number(m[1]));
  // The PREPARE is timed too: its line comes first.
  return times.slice(-qs.length);
}

function postgisVersion(port: number): string {
  return psql(port, ['-A', '-t', '-c', "SELECT 'PostgreSQL ' || split_part(version(), ' ', 2) || ', PostGIS ' || postgis_lib_version()"]).stdout.trim();
}

function agree(a: string[][], b: string[][]): { same: number; of: number; firstDifference?: string } {
  let same = 0;
  let first: string | undefined;
  a.forEach((x, i) => {
    const y = b[i] ?? [];
    if (JSON.stringify(x) === JSON.stringify(y)) same++;
    else first ??= `query ${i}: Cairn ${x.length} signs, PostGIS ${y.length}; only in Cairn: ${x.filter((id) => !y.includes(id)).slice(0, 3).join(' ')}; only in PostGIS: ${y.filter((id) => !x.includes(id)).slice(0, 3).join(' ')}`;
  });
  return { same, of: a.length, ...(first === undefined ? {} : { firstDifference: first }) };
}

// ---- the phase ------------------------------------------------------------------------------------

export async function itsPhase(tmp: string, cpu: number | undefined, o: ItsOptions, log: (s: string) => void): Promise<ItsResults> {
  const work = join(tmp, 'its');
  mkdirSync(work, { recursive: true });
  const data = await dataFor(o.signs, log);
  const qs = queryPoints(o.signs, o.queries);
  log(`its: ${o.queries} near (radius ${o.radius} m) and ${o.queries} ahead (distance ${o.aheadDistance} m) queries, in-process`);
  const own = await inProcess(data.dir, qs, o);
  log(`its: in-process near p50 ${own.latency.near.p50.toFixed(2)} ms, ahead p50 ${own.latency.ahead.p50.toFixed(2)} ms`);
  const http = await overHttp(data.dir, qs, o, cpu, log);
  log(`its: HTTP near p50 ${http.near.p50.toFixed(2)} ms p99 ${http.near.p99.toFixed(2)} ms; ahead p50 ${http.ahead.p50.toFixed(2)} ms p99 ${http.ahead.p99.toFixed(2)} ms`);

  const bin = pgBin();
  const missing = postgisMissing(bin);
  let postgis: ItsMeasured['postgis'];
  if (missing !== undefined) {
    log(`its: PostGIS skipped: ${missing}`);
    postgis = { skipped: missing };
  } else {
    const cluster = await startCluster(bin!, log);
    try {
      const loadSeconds = await loadPostgis(cluster.port, o.signs, data.dir, work, log);
      log(`its: ${o.signs} points loaded into PostGIS with a GiST index in ${loadSeconds.toFixed(0)} s`);
      const agreement = {} as Record<Mode, { same: number; of: number; firstDifference?: string }>;
      const latencyOf = {} as Record<Mode, Latency>;
      for (const mode of ['near', 'ahead'] as const) {
        const answers = postgisAnswers(cluster.port, mode, qs, o);
        agreement[mode] = agree(own.answers[mode], answers);
        log(`its: ${mode}: ${agreement[mode].same} of ${agreement[mode].of} answers identical in both systems${agreement[mode].firstDifference ? `; first difference ${agreement[mode].firstDifference}` : ''}`);
        latencyOf[mode] = latency(postgisTimes(cluster.port, mode, qs, o), answers.map((a) => a.length));
      }
      postgis = { version: postgisVersion(cluster.port), loadSeconds, latency: latencyOf, agreement };
      log(`its: PostGIS near p50 ${latencyOf.near.p50.toFixed(2)} ms p99 ${latencyOf.near.p99.toFixed(2)} ms; ahead p50 ${latencyOf.ahead.p50.toFixed(2)} ms`);
    } finally {
      await cluster.stop();
      log(`its: PostgreSQL cluster stopped and ${cluster.dir} removed`);
    }
  }
  const ratio = 'latency' in postgis ? { near: http.near.p50 / postgis.latency.near.p50, ahead: http.ahead.p50 / postgis.latency.ahead.p50 } : undefined;
  return {
    date: new Date().toISOString().slice(0, 10),
    signs: o.signs,
    areaKm2: region(o.signs).km2,
    generated: { seconds: data.seconds, cached: data.cached, bytes: dirBytes(join(data.dir, 'data')) },
    inProcess: own.latency,
    http,
    postgis,
    ...(ratio ? { ratio } : {}),
  };
}

// ---- the report ------------------------------------------------------------------------------------

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => `${n.toFixed(2)} ms`;
const fmtRatio = (n: number): string => `${n.toFixed(2)}x`;

export const ITS_SECTION = '## (e) ITS sign queries (near, ahead)';
const ROW_LABEL = 'ITS `near` query, 10^6-sign scale';
const ROW_LABEL_AHEAD = 'ITS `ahead` query';

export function itsSummaryRows(r: ItsResults): string[] {
  if (r.skipped !== undefined) return [`| ${ROW_LABEL} | skipped: ${r.skipped} | PostGIS | | <= ${ITS_BUDGET}x | n/a |`];
  const pg = 'latency' in r.postgis ? r.postgis : undefined;
  const label = (base: string): string => `${base} (${fmtInt(r.signs)} signs, HTTP p50)`;
  const row = (mode: Mode, base: string, budgeted: boolean): string =>
    pg && r.ratio
      ? `| ${label(base)} | ${fmtMs(r.http[mode].p50)} | ${fmtMs(pg.latency[mode].p50)} (${pg.version}, psql) | ${fmtRatio(r.ratio[mode])} | ${budgeted ? `<= ${ITS_BUDGET}x` : 'none'} | ${budgeted ? (r.ratio[mode] <= ITS_BUDGET ? 'yes' : '**NO**') : 'n/a'} |`
      : `| ${label(base)} | ${fmtMs(r.http[mode].p50)} | skipped: ${'skipped' in r.postgis ? r.postgis.skipped : ''} | | ${budgeted ? `<= ${ITS_BUDGET}x` : 'none'} | n/a |`;
  return [row('near', ROW_LABEL, true), row('ahead', ROW_LABEL_AHEAD, false)];
}

export function itsSection(r: ItsResults, o: ItsOptions, partialRun: string | undefined): string[] {
  const L: string[] = [ITS_SECTION, ''];
  if (r.skipped !== undefined) {
    L.push(`Not measured in this run: ${r.skipped}.`, '');
    return L;
  }
  if (partialRun) L.push(`> Measured on its own by \`${partialRun}\` on ${r.date}; the other sections come from the last full run.`, '');
  const pg = 'latency' in r.postgis ? r.postgis : undefined;
  L.push(
    `- Data: ${fmtInt(r.signs)} signed speed-limit signs under issuer DE.417, uniform (seeded) over ${fmtInt(r.areaKm2)} km² around Berlin (${DENSITY} signs per km²; the box grows`,
    `  with the count, so a smaller \`--its-signs\` keeps the per-query work). Written in-process through \`ItsService.createMany\` in batches of ${BATCH};`,
    `  ${r.generated.cached ? `reused from the cache in tests/artifacts (generated in ${r.generated.seconds.toFixed(0)} s)` : `generated in this run in ${r.generated.seconds.toFixed(0)} s`}; LevelDB data ${(r.generated.bytes / 1024 ** 2).toFixed(0)} MiB.`,
    `- Queries: the same ${fmtInt(o.queries)} seeded points for every system; \`near\` with radius ${o.radius} m, \`ahead\` (a heading per point) with distance`,
    `  ${o.aheadDistance} m (cone ±30°, faces within 45° of the reverse heading). Every query once as warm-up, then once measured, one at a time.`,
    '- Cairn over HTTP: `cairn serve`, CAIRN_LOG_LEVEL=warn, on loopback; one keep-alive connection from the bench process (node:http); the',
    '  latency runs from sending the request to the last byte of the answer, which carries the full signed record of every sign (up to 100).',
    '- Cairn in-process: `ItsService.query` on the store, parsing the parameters included, no HTTP.',
  );
  if (pg) {
    L.push(
      `- PostGIS: ${pg.version}, a throwaway cluster (initdb as the postgres user in a temporary directory, fsync off, shared_buffers 512MB),`,
      '  stopped and removed afterwards. The same points as `geography(Point, 4326)` with a GiST index: geography so that the radius is metres',
      '  anywhere, with no projection to pick; distances on the sphere (`use_spheroid => false`), as Cairn computes them. Prepared statements',
      '  run by one psql process; the latency is psql\'s `\\timing` (sending the query to its last row, on loopback). The rows are the id,',
      '  distance (and bearing) and the sign\'s document: a `jsonb` column holding the signed JSON Cairn answers with for that sign (copied',
      '  from Cairn\'s stored views), so that both systems send the same payload per sign; stored uncompressed in the row',
      '  (`toast_tuple_target = 8160`), which PostgreSQL answered faster from than from its default compressed TOAST storage.',
      `  Loaded (signed documents read from Cairn's store, COPY, index, VACUUM ANALYZE) in ${pg.loadSeconds.toFixed(0)} s.`,
      `- Same answers: \`near\` ${pg.agreement.near.same} of ${pg.agreement.near.of}, \`ahead\` ${pg.agreement.ahead.same} of ${pg.agreement.ahead.of} identical (the same signs in the same order).` +
        (pg.agreement.near.firstDifference || pg.agreement.ahead.firstDifference ? ` First difference: ${pg.agreement.near.firstDifference ?? pg.agreement.ahead.firstDifference}.` : ''),
      '  `ahead` can differ at the edge of the ±30° cone: PostGIS computes `ST_Azimuth` on a geography on the WGS84 spheroid, Cairn its',
      '  bearing on the sphere, so a sign within a fraction of a degree of the edge may fall on different sides.',
    );
  } else L.push(`- PostGIS: not measured in this run: ${'skipped' in r.postgis ? r.postgis.skipped : ''}.`);
  L.push('- Both systems run on the same 2-core machine in the same run; this VM\'s throughput swings by about 20% between runs, so the ratio is the figure to read.', '');
  L.push('| system | query | p50 | p99 | mean | max | signs per answer (mean) |', '|---|---|---:|---:|---:|---:|---:|');
  const row = (name: string, mode: Mode, l: Latency): string => `| ${name} | ${mode} | ${fmtMs(l.p50)} | ${fmtMs(l.p99)} | ${fmtMs(l.mean)} | ${fmtMs(l.max)} | ${l.hits.toFixed(1)} |`;
  for (const mode of ['near', 'ahead'] as const) {
    L.push(row('Cairn, HTTP', mode, r.http[mode]), row('Cairn, in-process', mode, r.inProcess[mode]));
    if (pg) L.push(row(pg.version, mode, pg.latency[mode]));
  }
  L.push('');
  if (r.ratio) {
    L.push(
      `Ratio of p50s, Cairn over HTTP / PostGIS: \`near\` ${fmtRatio(r.ratio.near)} (budget <= ${ITS_BUDGET}x: ${r.ratio.near <= ITS_BUDGET ? 'met' : 'not met'}), \`ahead\` ${fmtRatio(r.ratio.ahead)} (no budget).`,
      '',
    );
  }
  L.push('<details><summary>ITS raw results (JSON)</summary>', '', '```json', JSON.stringify({ options: o, results: r }, null, 1), '```', '', '</details>', '');
  return L;
}

/** Replaces (or adds) this phase's rows in the summary table and its section, keeping everything else. */
export function spliceIts(existing: string | undefined, rows: readonly string[], section: readonly string[]): string {
  return splicePhase(existing, [ROW_LABEL, ROW_LABEL_AHEAD], rows, ITS_SECTION, section);
}
