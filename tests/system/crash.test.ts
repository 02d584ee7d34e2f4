import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueIndexTerms } from '../../src/families/doa/reverse-index.js';
import { renderHandleView } from '../../src/families/doa/views.js';
import { foldHandleCase, parseHandle } from '../../src/ids/handle.js';
import { deserializeRecord, type StoredRecord } from '../../src/records/record.js';
import { loadOrCreateSigningKeys } from '../../src/service/key-files.js';
import { verifyRecordSignature } from '../../src/signing/record-signature.js';
import { Signer } from '../../src/signing/signer.js';
import { openStore } from '../../src/store/open.js';
import { SEP, seqKey, type ChangeEntry } from '../../src/store/store.js';
import { killAllChildren, requireBuiltCli, startServer, type ServerChild } from '../helpers/child.js';
import { ADMIN_IDENTITY, basic } from '../helpers/service.js';

/**
 * Crash safety (DESIGN.md section 8: "`kill -9` at any moment loses no acknowledged write and leaves
 * indexes consistent"). The real server runs in a child process; the test writes to it with several
 * requests in flight, SIGKILLs it at a random point mid-stream, checks the store on disk directly
 * (records, views, indexes, history, change log, signatures) against what was acknowledged,
 * restarts it on the same directories and checks the served state, and repeats.
 */

const SECRET = 'crash-test-admin-secret';
const AUTH = basic(ADMIN_IDENTITY, SECRET);
const HANDLES = 300;
const WORKERS = 8;
const CYCLES = 3;
/** Per cycle: kill after a random number of acknowledged writes in this range, or at the deadline. */
const KILL_AFTER_MIN = 150;
const KILL_AFTER_MAX = 400;
const CYCLE_DEADLINE_MS = 6_000;
const REQUEST_TIMEOUT_MS = 5_000;

/** What the test knows about one handle: every write it sent, in order, and how many were acknowledged. */
interface Model {
  readonly name: string;
  readonly key: string;
  /** URL written by version n is sent[n - 1]. At most one write per handle is in flight. */
  readonly sent: string[];
  acked: number;
  inFlight: boolean;
}

const urlOf = (record: StoredRecord): string | undefined => {
  const v = record.values.find((x) => x.index === 1 && x.type === 'URL');
  return v ? Buffer.from(v.data).toString('utf8') : undefined;
};

interface StoreSnapshot {
  readonly records: Map<string, StoredRecord>;
  readonly history: Map<string, Map<number, StoredRecord>>;
  readonly changeCount: number;
}

/**
 * Opens the data directory directly and checks that records, views, the prefix index, history and
 * the change log agree, and that every record's signature verifies. Returns what it read; every
 * inconsistency found is pushed to `problems`.
 */
async function inspectStore(dataDir: string, signer: Signer, problems: string[]): Promise<StoreSnapshot> {
  const store = await openStore(join(dataDir, 'leveldb'), { sync: false });
  try {
    const records = new Map<string, StoredRecord>();
    for await (const [key, record] of store.allRecords()) records.set(key, record);

    // Change log: contiguous sequence from 1; per key, versions 1..version in order, ops matching.
    const versions = new Map<string, number[]>();
    let seq = 0;
    for await (const [key, text] of store.changes.iterator()) {
      seq++;
      const entry = JSON.parse(text) as ChangeEntry;
      if (key !== seqKey(seq) || entry.seq !== seq) problems.push(`change log: entry ${key} (seq ${entry.seq}) where seq ${seq} was expected`);
      const list = versions.get(entry.key) ?? [];
      list.push(entry.version);
      versions.set(entry.key, list);
      const record = records.get(entry.key);
      if (!record) problems.push(`change log: seq ${entry.seq} names ${entry.key}, which has no record`);
      else if (entry.id !== record.id) problems.push(`change log: seq ${entry.seq} has id ${entry.id}, the record ${record.id}`);
      const op = entry.version === 1 ? 'create' : 'update';
      if (entry.op !== op) problems.push(`change log: seq ${entry.seq} (${entry.key} v${entry.version}) has op ${entry.op}, expected ${op}`);
    }
    if (store.lastSeq !== seq) problems.push(`store.lastSeq is ${store.lastSeq} but the change log has ${seq} entries`);

    // History: versions 1..version-1 of every record, each stored under its own version.
    const history = new Map<string, Map<number, StoredRecord>>();
    for await (const [hkey, text] of store.history.iterator()) {
      const sep = hkey.lastIndexOf(SEP);
      const key = hkey.slice(0, sep);
      const version = parseInt(hkey.slice(sep + 1), 16);
      const old = deserializeRecord(text);
      if (old.version !== version) problems.push(`history: ${JSON.stringify(hkey)} holds version ${old.version}`);
      if (!records.has(key)) problems.push(`history: ${JSON.stringify(hkey)} belongs to no record`);
      const byVersion = history.get(key) ?? new Map<number, StoredRecord>();
      byVersion.set(version, old);
      history.set(key, byVersion);
    }

    // Prefix index: exactly the active records, each under its prefix, valued with its id.
    const index = new Map<string, string>();
    for await (const [key, id] of store.index.iterator()) index.set(key, id);
    const expectedIndex = new Map<string, string>();
    for (const [key, record] of records) {
      if (record.status === 'active') expectedIndex.set(`prefix${SEP}${foldHandleCase(parseHandle(record.id).prefix)}${SEP}${key}`, record.id);
      // The reverse-lookup index (GET /api/search) is written in the same batch as the record.
      for (const term of valueIndexTerms(record)) expectedIndex.set(`${term}${SEP}${key}`, record.id);
    }
    for (const [key, id] of expectedIndex) {
      if (index.get(key) !== id) problems.push(`index: ${JSON.stringify(key)} is ${JSON.stringify(index.get(key))}, expected ${id}`);
    }
    for (const key of index.keys()) if (!expectedIndex.has(key)) problems.push(`index: stray entry ${JSON.stringify(key)}`);

    // Views: one per record (stored in the same entry), exactly the pre-rendered response of its current state.
    const views = new Map<string, Buffer>();
    for (const key of records.keys()) {
      const view = store.storedView(key);
      if (view) views.set(key, view);
    }

    const now = Math.floor(Date.now() / 1000);
    for (const [key, record] of records) {
      const vs = versions.get(key) ?? [];
      const expected = Array.from({ length: record.version }, (_, i) => i + 1);
      if (vs.join() !== expected.join()) problems.push(`change log: ${key} is at version ${record.version}, change-log versions [${vs.join()}]`);
      const hv = [...(history.get(key)?.keys() ?? [])].sort((a, b) => a - b);
      if (hv.join() !== expected.slice(0, -1).join()) problems.push(`history: ${key} is at version ${record.version}, history has [${hv.join()}]`);
      const view = views.get(key);
      const rendered = renderHandleView(record);
      if (!view) problems.push(`views: no view for ${key}`);
      else if (view.readUInt16BE(0) !== rendered.status || !view.subarray(2).equals(rendered.body)) {
        problems.push(`views: view of ${key} is not the rendering of its record (version ${record.version})`);
      }
      try {
        verifyRecordSignature(record.id, record.values, signer, now);
      } catch (e) {
        problems.push(`signature: ${record.id} v${record.version}: ${(e as Error).message}`);
      }
    }
    return { records, history, changeCount: seq };
  } finally {
    await store.close();
  }
}

/** Compares the store with the model: no acknowledged write lost, nothing the test never sent. Then adopts what landed. */
function reconcile(models: readonly Model[], snapshot: StoreSnapshot, problems: string[]): { landedUnacked: number } {
  let landedUnacked = 0;
  const known = new Set(models.map((m) => m.key));
  for (const key of snapshot.records.keys()) {
    if (!known.has(key) && key !== foldHandleCase('0.NA/20.5000')) problems.push(`store holds ${key}, which the test never wrote`);
  }
  for (const m of models) {
    const record = snapshot.records.get(m.key);
    const version = record?.version ?? 0;
    if (version < m.acked) {
      problems.push(`${m.name}: acknowledged version ${m.acked} lost, store has version ${version}`);
      continue;
    }
    if (version > m.sent.length) {
      problems.push(`${m.name}: store has version ${version}, the test sent only ${m.sent.length} writes`);
      continue;
    }
    if (record) {
      if (urlOf(record) !== m.sent[version - 1]) problems.push(`${m.name}: version ${version} holds ${urlOf(record)}, expected ${m.sent[version - 1]}`);
      for (let v = 1; v < version; v++) {
        const old = snapshot.history.get(m.key)?.get(v);
        if (old && urlOf(old) !== m.sent[v - 1]) problems.push(`${m.name}: history version ${v} holds ${urlOf(old)}, expected ${m.sent[v - 1]}`);
      }
    }
    if (version > m.acked) landedUnacked++;
    // Adopt the state that survived: an unacknowledged write either landed (now the current version) or is forgotten.
    m.acked = version;
    m.sent.length = version;
  }
  return { landedUnacked };
}

/** Resolves every model handle over HTTP from the (restarted) server and compares with the model. */
async function checkServed(server: ServerChild, models: readonly Model[], problems: string[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < models.length) {
      const m = models[next++]!;
      const res = await fetch(`${server.url}/api/handles/${m.name}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const body = (await res.json()) as { responseCode?: number; handle?: string; values?: { index: number; type: string; data: { value: unknown } }[] };
      if (m.acked === 0) {
        if (res.status !== 404 || body.responseCode !== 100) problems.push(`GET ${m.name}: expected 404/100 for a handle never written, got ${res.status}`);
        continue;
      }
      const url = body.values?.find((v) => v.index === 1)?.data.value;
      if (res.status !== 200 || body.handle !== m.name || url !== m.sent[m.acked - 1]) {
        problems.push(`GET ${m.name}: ${res.status} ${String(url)}, expected 200 ${m.sent[m.acked - 1]}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

interface Burst {
  readonly acks: number;
  readonly inFlightAtKill: number;
  readonly killedByDeadline: boolean;
  readonly errors: string[];
}

/**
 * Writes (creates and replacements) with WORKERS requests in flight until `killAfter` acknowledgements
 * or the deadline, then SIGKILLs the server without waiting for the requests still in flight.
 */
async function writeUntilKilled(server: ServerChild, models: Model[], cycle: number, killAfter: number): Promise<Burst> {
  const deadline = Date.now() + CYCLE_DEADLINE_MS;
  const errors: string[] = [];
  let acks = 0;
  let killed = false;
  let inFlightAtKill = 0;
  let killedByDeadline = false;
  const inFlight = (): number => models.filter((m) => m.inFlight).length;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    inFlightAtKill = inFlight();
    server.child.kill('SIGKILL');
  };
  const deadlineTimer = setTimeout(() => {
    killedByDeadline = true;
    kill();
  }, CYCLE_DEADLINE_MS);
  let counter = 0;
  const worker = async (): Promise<void> => {
    for (let attempts = 0; !killed && Date.now() < deadline && attempts < 10_000; attempts++) {
      const m = models[Math.floor(Math.random() * models.length)]!;
      if (m.inFlight) continue;
      m.inFlight = true;
      const version = m.sent.length + 1;
      const url = `https://example.org/crash/${m.name}/c${cycle}/v${version}/${counter++}`;
      m.sent.push(url);
      try {
        const res = await fetch(`${server.url}/api/handles/${m.name}`, {
          method: 'PUT',
          headers: { authorization: AUTH, 'content-type': 'application/json' },
          body: JSON.stringify([
            { index: 1, type: 'URL', data: url },
            { index: 2, type: 'DESC', data: `cycle ${cycle}, version ${version}` },
          ]),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const body = await res.text();
        if (res.status === 200 || res.status === 201) {
          m.acked = version;
          m.inFlight = false;
          acks++;
          const expected = version === 1 ? 201 : 200;
          if (res.status !== expected) errors.push(`PUT ${m.name} v${version}: ${res.status}, expected ${expected}`);
          if (acks >= killAfter) kill();
        } else if (!killed) {
          errors.push(`PUT ${m.name} v${version}: ${res.status} ${body}`);
        }
      } catch (e) {
        // After the kill, requests in flight fail: they were never acknowledged.
        if (!killed) errors.push(`PUT ${m.name} v${version} failed before the kill: ${(e as Error).message}`);
      } finally {
        m.inFlight = false;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: WORKERS }, worker));
  } finally {
    clearTimeout(deadlineTimer);
    kill();
  }
  return { acks, inFlightAtKill, killedByDeadline, errors };
}

describe('crash safety: SIGKILL while writing', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    requireBuiltCli();
    dir = mkdtempSync(join(tmpdir(), 'cairn-crash-'));
    env = { CAIRN_DATA_DIR: join(dir, 'data'), CAIRN_CERTS_DIR: join(dir, 'certs'), CAIRN_ADMIN_SECRET: SECRET, CAIRN_LOG_LEVEL: 'info' };
  });

  afterAll(async () => {
    await killAllChildren();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged write and keeps records, views, index, history and change log consistent', { timeout: 60_000 }, async () => {
    const models: Model[] = Array.from({ length: HANDLES }, (_, i) => {
      const name = `20.5000/crash-${i}`;
      return { name, key: foldHandleCase(name), sent: [], acked: 0, inFlight: false };
    });
    let server = await startServer(env);
    expect(existsSync(join(dir, 'certs', 'signing-eddsa.key.pem'))).toBe(true);
    const keys = loadOrCreateSigningKeys(join(dir, 'certs'), 'EdDSA');
    const signer = new Signer(keys.active, keys.others);
    let totalAcks = 0;
    let totalLandedUnacked = 0;
    let previousChanges = 1; // the prefix record 0.NA/20.5000

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const killAfter = KILL_AFTER_MIN + Math.floor(Math.random() * (KILL_AFTER_MAX - KILL_AFTER_MIN + 1));
      const burst = await writeUntilKilled(server, models, cycle, killAfter);
      const exit = await server.exited;
      expect(exit.signal, `cycle ${cycle}: server exit ${JSON.stringify(exit)}`).toBe('SIGKILL');
      expect(burst.errors, `cycle ${cycle}: unexpected answers while writing`).toEqual([]);
      expect(burst.acks, `cycle ${cycle}: acknowledged writes before the kill`).toBeGreaterThan(0);
      if (!burst.killedByDeadline) expect(burst.acks).toBeGreaterThanOrEqual(killAfter);
      expect(burst.inFlightAtKill, `cycle ${cycle}: writes in flight at the kill`).toBeGreaterThan(0);
      totalAcks += burst.acks;

      // The store as the crash left it.
      const problems: string[] = [];
      const snapshot = await inspectStore(env.CAIRN_DATA_DIR!, signer, problems);
      const { landedUnacked } = reconcile(models, snapshot, problems);
      expect(problems, `cycle ${cycle}: store after SIGKILL`).toEqual([]);
      expect(snapshot.changeCount).toBeGreaterThanOrEqual(previousChanges + burst.acks);
      expect(snapshot.changeCount).toBeLessThanOrEqual(previousChanges + burst.acks + burst.inFlightAtKill);
      previousChanges = snapshot.changeCount;
      totalLandedUnacked += landedUnacked;

      // Restart on the same directories: the served state is the stored one, the change log resumes.
      server = await startServer(env);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { changeLog?: number };
      expect(ready.changeLog).toBe(snapshot.changeCount);
      const served: string[] = [];
      await checkServed(server, models, served);
      expect(served, `cycle ${cycle}: served after restart`).toEqual([]);
      console.info(
        `crash cycle ${cycle}: killed after ${burst.acks} acks (target ${killAfter}${burst.killedByDeadline ? ', deadline' : ''}), ` +
          `${burst.inFlightAtKill} in flight, ${landedUnacked} unacknowledged landed, change log ${snapshot.changeCount}`,
      );
    }

    // Cycles 2 and 3 wrote to restarted servers; now a clean stop, and the store checked once more.
    const written = models.filter((m) => m.acked > 0).length;
    expect(written).toBeGreaterThan(0);
    expect(models.some((m) => m.acked > 1), 'some handles were updated, not only created').toBe(true);
    const stopped = await server.stop();
    expect(stopped.code, server.output()).toBe(0);
    const problems: string[] = [];
    const final = await inspectStore(env.CAIRN_DATA_DIR!, signer, problems);
    reconcile(models, final, problems);
    expect(problems, 'store after a clean stop').toEqual([]);
    expect(final.changeCount).toBe(previousChanges);
    expect(final.records.size).toBe(1 + written);
    console.info(`crash: ${totalAcks} acknowledged writes over ${CYCLES} kills, ${totalLandedUnacked} unacknowledged writes landed, ${written} handles`);
  });
});
