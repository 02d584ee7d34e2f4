/**
 * The data of `npm run bench -- --scale` (issue 8): data directories holding 10^4, 10^6 and 10^7
 * signed handle records, the largest also 10^6 OID arcs and 10^6 road signs. Everything is written
 * through the service's own write paths (`importBatch`, `oids.put`, `its.createMany`), so every
 * record is signed, indexed, in the change log and in the transparency log, exactly as a real
 * registry's would be.
 *
 * Generation is slow (the 10^7 directory takes about an hour on one core), so each directory is
 * cached under tests/artifacts/scale-<FORMAT>-<handles>[-o<oids>-s<signs>]/ with a READY.json, and an interrupted run
 * resumes: progress is committed with each batch (meta `scale.progress`). The 10^7 directory starts
 * as a copy of the finished 10^6 one.
 *
 *   node dist/tests/bench/scale-fixture.js [--sizes 10000,1000000,10000000] [--oids N] [--signs N]
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import type { ImportLine } from '../../src/families/doa/handle-service.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import type { Principal } from '../../src/families/doa/authorize.js';
import { ADMIN_INDEX, startService, type Service } from '../../src/service/bootstrap.js';
import { cleanEnv } from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/tests/bench
const REPO = resolve(HERE, '..', '..', '..');

/** Bump when the generated data changes: the cache folder is keyed by it and the handle count. */
export const SCALE_FORMAT = 'v1';
export const SCALE_ADMIN_SECRET = 'bench-admin-secret-0123';
export const SCALE_PREFIX = '20.5000';
/** The arc the generated OIDs live under: RFC 5612's documentation PEN, then 9 ("scale"). */
export const SCALE_OID_ROOT = '1.3.6.1.4.1.32473.9';
const OID_GROUP = 1000;
const HANDLE_BATCH = 2000;
const SIGN_BATCH = 2000;
const PROGRESS_KEY = 'scale.progress';

export interface ScaleProgress {
  handles: number;
  oids: number;
  signs: number;
}

export interface ScaleFixture {
  readonly dir: string;
  readonly dataDir: string;
  readonly certsDir: string;
  readonly counts: ScaleProgress;
  /** Seconds spent generating, per kind (summed over resumed runs). */
  readonly seconds: ScaleProgress;
}

/** The n-th generated handle (1-based). */
export const scaleHandle = (n: number): string => `${SCALE_PREFIX}/scale-${n}`;

/** The n-th generated OID arc (1-based, leaves only; groups are registered before their leaves). */
export const scaleOid = (n: number): string => `${SCALE_OID_ROOT}.${Math.ceil(n / OID_GROUP)}.${((n - 1) % OID_GROUP) + 1}`;

/** The n-th generated road sign's identifier (1-based). */
export const scaleSign = (n: number): string =>
  formatItsSignId({ kind: 'sign', country: 'DE', authority: 418, serial: n, type: parseItsSignType(`nat.DE-274[${signValue(n)}]`) });

const signValue = (n: number): number => 30 + 10 * (n % 10);

export const scaleEnv = (dataDir: string, certsDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
  cleanEnv({ CAIRN_DATA_DIR: dataDir, CAIRN_CERTS_DIR: certsDir, CAIRN_ADMIN_SECRET: SCALE_ADMIN_SECRET, ...extra });

/** Where the data for `counts` is cached: keyed by the format and every count. */
export function fixtureDir(counts: ScaleProgress): string {
  const extra = counts.oids > 0 || counts.signs > 0 ? `-o${counts.oids}-s${counts.signs}` : '';
  return join(REPO, 'tests', 'artifacts', `scale-${SCALE_FORMAT}-${counts.handles}${extra}`);
}

/** The cached directory for `counts`, if a finished one exists. */
export function readyFixture(counts: ScaleProgress): ScaleFixture | undefined {
  const dir = fixtureDir(counts);
  const ready = join(dir, 'READY.json');
  if (!existsSync(ready)) return undefined;
  const info = JSON.parse(readFileSync(ready, 'utf8')) as { counts: ScaleProgress; seconds: ScaleProgress; logComplete?: boolean };
  // Made before generation waited for the transparency log: finish it (below) before use.
  if (info.logComplete !== true) return undefined;
  return { dir, dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), counts: info.counts, seconds: info.seconds };
}

/**
 * Generates (or finishes) the directory of `target.handles` handles plus `target.oids` arcs and
 * `target.signs` signs. `base`: a finished smaller directory to start from (copied).
 */
export async function generateFixture(target: ScaleProgress, base: ScaleFixture | undefined, log: (s: string) => void): Promise<ScaleFixture> {
  const done = readyFixture(target);
  if (done) return done;
  const dir = fixtureDir(target);
  const secondsFile = join(dir, 'seconds.json');
  if (!existsSync(join(dir, 'data'))) {
    mkdirSync(dir, { recursive: true });
    if (base) {
      log(`scale: copying ${base.dir} as the start of ${dir}`);
      cpSync(base.dataDir, join(dir, 'data'), { recursive: true });
      cpSync(base.certsDir, join(dir, 'certs'), { recursive: true });
      writeFileSync(secondsFile, JSON.stringify(base.seconds));
    }
  }
  const seconds: ScaleProgress = existsSync(secondsFile) ? (JSON.parse(readFileSync(secondsFile, 'utf8')) as ScaleProgress) : { handles: 0, oids: 0, signs: 0 };
  const service = await startService(loadConfig(scaleEnv(join(dir, 'data'), join(dir, 'certs'), { CAIRN_SYNC_WRITES: 'false' })));
  try {
    const admin: Principal = { identity: { index: ADMIN_INDEX, handle: `0.NA/${service.config.prefix}` }, serverAdmin: true };
    const progress: ScaleProgress = (await service.store.getMeta<ScaleProgress>(PROGRESS_KEY)) ?? { handles: 0, oids: 0, signs: 0 };
    const timed = async (kind: keyof ScaleProgress, work: () => Promise<void>): Promise<void> => {
      const t0 = process.hrtime.bigint();
      await work();
      seconds[kind] += Number(process.hrtime.bigint() - t0) / 1e9;
      writeFileSync(secondsFile, JSON.stringify(seconds));
    };
    await timed('handles', () => addHandles(service, progress, target.handles, log));
    await logComplete(service, log);
    await timed('oids', () => addOids(service, admin, progress, target.oids, log));
    await timed('signs', () => addSigns(service, admin, progress, target.signs, log));
    // A lagging log would be caught up by the next start, in the background of the measurements.
    await logComplete(service, log);
    writeFileSync(join(dir, 'READY.json'), JSON.stringify({ format: SCALE_FORMAT, counts: progress, seconds, logComplete: true }, null, 2));
    return { dir, dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), counts: { ...progress }, seconds };
  } finally {
    await service.close();
  }
}

/** Waits until the transparency log holds every change-log entry, saying how far it is. */
async function logComplete(service: Service, log: (s: string) => void): Promise<void> {
  const tlog = service.log;
  if (!tlog || tlog.lag === 0) return;
  log(`scale: the transparency log is ${tlog.lag} entries behind; waiting for it`);
  const timer = setInterval(() => log(`scale: transparency log ${tlog.size} of ${service.store.lastSeq}`), 30_000);
  try {
    await tlog.sync();
  } finally {
    clearInterval(timer);
  }
}

/** Logs at most every 15 s. */
function throttled(log: (s: string) => void): (s: string) => void {
  let last = 0;
  return (s) => {
    if (Date.now() - last < 15_000) return;
    last = Date.now();
    log(s);
  };
}

function handleLine(n: number): ImportLine {
  const values: { index: number; type: string; data: string }[] = [
    { index: 1, type: 'URL', data: `https://objects.example.org/items/${n}` },
    { index: 2, type: 'EMAIL', data: `registrar-${n % 97}@example.org` },
  ];
  if (n % 2 === 0) values.push({ index: 3, type: 'DESC', data: `Scale object ${n}, batch ${Math.floor(n / 1000)}` });
  return { handle: scaleHandle(n), values, line: n };
}

async function addHandles(service: Service, progress: ScaleProgress, target: number, log: (s: string) => void): Promise<void> {
  const say = throttled(log);
  const t0 = Date.now();
  const from = progress.handles;
  while (progress.handles < target) {
    const end = Math.min(target, progress.handles + HANDLE_BATCH);
    const lines: ImportLine[] = [];
    for (let n = progress.handles + 1; n <= end; n++) lines.push(handleLine(n));
    const next = { ...progress, handles: end };
    await service.handles.importBatch(lines, { [PROGRESS_KEY]: next });
    progress.handles = end;
    say(`scale: ${end} of ${target} handles (${Math.round((end - from) / ((Date.now() - t0) / 1000))}/s)`);
  }
}

async function addOids(service: Service, admin: Principal, progress: ScaleProgress, target: number, log: (s: string) => void): Promise<void> {
  if (progress.oids >= target) return;
  const say = throttled(log);
  if (progress.oids === 0) {
    await service.oids.put('1.3.6.1.4.1.32473', { description: 'Documentation PEN (RFC 5612)' }, admin);
    await service.oids.put(SCALE_OID_ROOT, { description: 'Cairn scale benchmark', asn1Ids: ['cairnScale'] }, admin);
  }
  const t0 = Date.now();
  const from = progress.oids;
  while (progress.oids < target) {
    const n = progress.oids + 1;
    if ((n - 1) % OID_GROUP === 0) {
      const group = Math.ceil(n / OID_GROUP);
      await service.oids.put(`${SCALE_OID_ROOT}.${group}`, { description: `Scale group ${group}`, asn1Ids: [`group${group}`] }, admin);
    }
    await service.oids.put(scaleOid(n), { description: `Scale item ${n}` }, admin);
    progress.oids = n;
    // One meta write per group keeps resumption cheap; an arc written twice is an idempotent put.
    if (n % OID_GROUP === 0 || n === target) await service.store.commit([], { [PROGRESS_KEY]: { ...progress } });
    say(`scale: ${n} of ${target} OID arcs (${Math.round((n - from) / ((Date.now() - t0) / 1000))}/s)`);
  }
}

/** Signs spread over a box around Berlin at 32 per km² (as tests/bench/its.ts does). */
function signPosition(n: number, target: number): { lat: number; lon: number; facing: number } {
  const side = Math.ceil(Math.sqrt(target));
  const km = Math.sqrt(target / 32);
  const row = Math.floor((n - 1) / side);
  const col = (n - 1) % side;
  const lat = 52.3 - km / 2 / 111.195 + ((row + 0.5) / side) * (km / 111.195);
  const lon = 13.4 - km / 2 / 68.0 + ((col + 0.5) / side) * (km / 68.0);
  return { lat: Math.round(lat * 1e7) / 1e7, lon: Math.round(lon * 1e7) / 1e7, facing: (n * 37) % 360 };
}

async function addSigns(service: Service, admin: Principal, progress: ScaleProgress, target: number, log: (s: string) => void): Promise<void> {
  if (progress.signs >= target) return;
  const say = throttled(log);
  if (progress.signs === 0) {
    await service.its.putIssuer('DE.418', { identity: `${ADMIN_INDEX}:0.NA/${service.config.prefix}`, name: 'Scale benchmark roads' }, admin);
  }
  const t0 = Date.now();
  const from = progress.signs;
  while (progress.signs < target) {
    const end = Math.min(target, progress.signs + SIGN_BATCH);
    const batch: { id: string; body: unknown }[] = [];
    for (let n = progress.signs + 1; n <= end; n++) {
      const p = signPosition(n, target);
      batch.push({
        id: scaleSign(n),
        body: {
          position: { lat: p.lat, lon: p.lon, height: 2.1 },
          facing: p.facing,
          status: 'placed',
          validity: { from: '2026-01-01T00:00:00Z', to: null, windows: [] },
          mount: { post: `post-${n}`, order: 1 },
          road: 'B 96',
        },
      });
    }
    await service.its.createMany(batch, admin);
    progress.signs = end;
    await service.store.commit([], { [PROGRESS_KEY]: { ...progress } });
    say(`scale: ${end} of ${target} road signs (${Math.round((end - from) / ((Date.now() - t0) / 1000))}/s)`);
  }
}

/** The directories for `sizes` handles (ascending); the largest also gets `oids` arcs and `signs` signs. */
export async function scaleFixtures(sizes: readonly number[], extra: { oids: number; signs: number }, log: (s: string) => void): Promise<ScaleFixture[]> {
  const out: ScaleFixture[] = [];
  const sorted = [...sizes].sort((a, b) => a - b);
  for (const [i, handles] of sorted.entries()) {
    const largest = i === sorted.length - 1;
    const base = out.at(-1);
    out.push(await generateFixture({ handles, oids: largest ? extra.oids : 0, signs: largest ? extra.signs : 0 }, base, log));
  }
  return out;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const arg = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
  };
  const sizes = arg('--sizes', '10000,1000000,10000000').split(',').map(Number);
  const extra = { oids: Number(arg('--oids', '1000000')), signs: Number(arg('--signs', '1000000')) };
  const log = (s: string): void => console.log(`${new Date().toISOString().slice(11, 19)} ${s}`);
  scaleFixtures(sizes, extra, log).then(
    (f) => {
      for (const x of f) log(`ready: ${x.dir} ${JSON.stringify(x.counts)} ${JSON.stringify(x.seconds)}`);
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
