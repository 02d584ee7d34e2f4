import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig, type Config } from '../../src/config.js';
import { registerOverload } from '../../src/http/overload.js';
import { sendError, toCairnError } from '../../src/http/problem.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Load shedding under real load over 127.0.0.1, with the DEFAULT settings: an open-loop burst far
 * past capacity is partly shed and the queue stays bounded; a saturating closed-loop client (32
 * keep-alive connections) is never shed; `CAIRN_OVERLOAD_MAX_IN_FLIGHT=0` switches the cap off.
 *
 * The clients run in a worker thread: their own event loop, so the server's loop (this thread)
 * measures only the server. No timing budget is asserted; the queue's peak (what bounds latency)
 * and the answers are.
 */

/** The load generator (plain JS: a worker thread does not go through vitest's transform). */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { mode, base, paths, count, ms, connections } = workerData;
function get(agent, path) {
  return new Promise((resolve) => {
    const req = http.get(base + path, { agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ path, status: res.statusCode, retryAfter: res.headers['retry-after'] ?? null, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => resolve({ path, status: 0, retryAfter: null, body: String(e.code ?? e.message) }));
    req.setTimeout(120000, () => req.destroy(new Error('client timeout')));
  });
}
async function run() {
  if (mode === 'burst') {
    // Open loop: every request at once, each on a connection of its own, none waiting for another.
    return Promise.all(Array.from({ length: count }, (_, i) => get(false, paths[i % paths.length])));
  }
  // Closed loop: each connection sends its next request when the last is answered.
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const end = performance.now() + ms;
  const answers = [];
  await Promise.all(Array.from({ length: connections }, async (_, i) => {
    for (let n = i; performance.now() < end; n++) answers.push(await get(agent, paths[n % paths.length]));
  }));
  agent.destroy();
  return answers;
}
run().then((answers) => parentPort.postMessage(answers));
`;

interface Answer {
  readonly path: string;
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

type Load = { mode: 'burst'; count: number } | { mode: 'closed'; ms: number; connections: number };

function load(base: string, paths: readonly string[], how: Load): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(CLIENT, { eval: true, workerData: { base, paths, ...how } });
    worker.once('message', (answers: Answer[]) => {
      resolve(answers);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

const statuses = (answers: readonly Answer[]): Record<number, number> => {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
};

/** Milliseconds the slow route holds its one server per request: a capacity of about 1000/SERVE_MS per second. */
const SERVE_MS = 1;
const BURST = 1_500;

/**
 * A fastify app with Cairn's shedding and error shapes and a route with a fixed capacity (one
 * request at a time, SERVE_MS each, as a store or a downstream would be): past it a queue forms
 * in the route, and `peak` says how long it grew.
 */
async function slowServer(overrides: Partial<Config>): Promise<{ app: FastifyInstance; base: string; peak: () => number }> {
  const app = Fastify();
  app.setErrorHandler((err, req, reply) => sendError(req, reply, toCairnError(err)));
  await registerOverload(app, loadConfig({}, overrides));
  let queued = 0;
  let peak = 0;
  let tail: Promise<unknown> = Promise.resolve();
  app.get('/slow', async () => {
    peak = Math.max(peak, ++queued);
    const turn = tail.then(() => sleep(SERVE_MS));
    tail = turn;
    await turn;
    queued--;
    return { ok: true };
  });
  app.get('/quick', async () => ({ ok: true }));
  // A listen backlog that holds the whole burst: the kernel should not be what sheds here.
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, peak: () => peak };
}

const HANDLE = '/api/handles/20.5000/load';

/** Stores HANDLE and listens on 127.0.0.1; the base URL. */
async function serving(t: TestService): Promise<string> {
  const put = await t.app.inject({
    method: 'PUT',
    url: HANDLE,
    headers: { authorization: adminAuth(), 'content-type': 'application/json' },
    payload: [{ index: 1, type: 'URL', data: 'https://load.example/' }],
  });
  expect(put.statusCode).toBe(201);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

/**
 * Keeps this event loop busy in `sliceMs` stretches with a breath between them, until stopped:
 * every delay sample is then about `sliceMs` late, while requests still get through between
 * stretches (as on a server whose every turn of the loop has too much to do).
 */
function busyLoop(sliceMs: number): { stop(): void } {
  let stopped = false;
  const slice = (): void => {
    const end = Date.now() + sliceMs;
    while (Date.now() < end) {
      // busy on purpose
    }
    if (!stopped) setTimeout(slice, 1);
  };
  setTimeout(slice, 1);
  return { stop: () => (stopped = true) };
}

let closeAfter: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await closeAfter?.();
  closeAfter = undefined;
});

describe('overload shedding under load (default settings)', () => {
  it('sheds part of an open-loop burst far past capacity (503 + Retry-After, queue within the cap, then recovers); 0 switches the cap off', async () => {
    const capped = await slowServer({});
    const capless = await slowServer({ overloadMaxInFlight: 0 });
    closeAfter = () => Promise.all([capped.app.close(), capless.app.close()]);

    const answers = await load(capped.base, ['/slow'], { mode: 'burst', count: BURST });
    const counts = statuses(answers);
    // Every request is answered, one way or the other.
    expect(counts[200]! + counts[503]!, JSON.stringify(counts)).toBe(BURST);
    expect(counts[200]).toBeGreaterThan(0);
    expect(counts[503]).toBeGreaterThan(0);
    const shed = answers.filter((a) => a.status === 503);
    expect(new Set(shed.map((a) => a.retryAfter))).toEqual(new Set([String(DEFAULTS.overloadRetryAfterSeconds)]));
    expect(JSON.parse(shed[0]!.body)).toMatchObject({ status: 503, code: 'ERR_OVERLOADED' });
    // What bounds the latency of the answered ones: none ever queued behind more than the cap.
    expect(capped.peak()).toBeLessThanOrEqual(DEFAULTS.overloadMaxInFlight);
    expect((await fetch(`${capped.base}/quick`)).status).toBe(200);

    const without = await load(capless.base, ['/slow'], { mode: 'burst', count: BURST });
    expect(statuses(without)).toEqual({ 200: BURST });
    // The burst did go past the default cap, so the default would have shed it. Unshed, the last
    // answers waited behind that whole queue; capped, behind at most the cap (latency = queue x
    // service time). Wall-clock latencies on a shared machine are not asserted.
    expect(capless.peak()).toBeGreaterThan(DEFAULTS.overloadMaxInFlight);
  }, 120_000);

  it('never sheds a saturating closed-loop client: 32 keep-alive connections, fast path and routed', async () => {
    // Every setting at its default (the in-process helper turns the delay signal off: restored here).
    const t: TestService = await startTestService({ overloadMaxEventLoopDelayMs: DEFAULTS.overloadMaxEventLoopDelayMs });
    const slow = await slowServer({});
    closeAfter = async () => {
      await slow.app.close();
      await t.close();
    };
    const base = await serving(t);
    const paths = [HANDLE, `${HANDLE}?type=URL`, '/api/resolve/hdl:20.5000/load', '/api/handles/20.5000/missing'];
    const answers = await load(base, paths, { mode: 'closed', ms: 4_000, connections: 32 });
    expect(answers.length).toBeGreaterThan(32);
    expect(statuses(answers)).toEqual({ 200: expect.any(Number), 404: expect.any(Number) });
    // A route at its capacity with 32 clients waiting holds 32 in flight: a bounded queue, not shed.
    const queued = await load(slow.base, ['/slow'], { mode: 'closed', ms: 2_000, connections: 32 });
    expect(statuses(queued)).toEqual({ 200: queued.length });
    expect(slow.peak()).toBeLessThanOrEqual(32);
  }, 60_000);

  it('sheds (fast path and routed) while the loop stays busy past the default delay limit with requests coming, and recovers; 0 switches that signal off', async () => {
    // The in-process helper switches the delay signal off: restored for one of the two.
    const byDefault = await startTestService({ overloadMaxEventLoopDelayMs: DEFAULTS.overloadMaxEventLoopDelayMs });
    const off = await startTestService({ overloadMaxEventLoopDelayMs: 0 });
    closeAfter = async () => {
      await byDefault.close();
      await off.close();
    };
    const defaultBase = await serving(byDefault);
    const offBase = await serving(off);
    const paths = [HANDLE, `${HANDLE}?type=URL`];
    const clients = { mode: 'closed', ms: 9_000, connections: 8 } as const;
    const loads = Promise.all([load(defaultBase, paths, clients), load(offBase, paths, clients)]);
    await sleep(500);
    // Stretches past the default limit plus the 100 ms sampling period, for well over its 2 s.
    const busy = busyLoop(DEFAULTS.overloadMaxEventLoopDelayMs + 300);
    await sleep(6_000);
    busy.stop();
    const [atDefault, atOff] = await loads;

    const shed = atDefault.filter((a) => a.status === 503);
    expect(new Set(shed.map((a) => a.path))).toEqual(new Set(paths));
    expect(new Set(shed.map((a) => a.retryAfter))).toEqual(new Set([String(DEFAULTS.overloadRetryAfterSeconds)]));
    expect(statuses(atDefault)).toEqual({ 200: expect.any(Number), 503: shed.length });
    // The same busy loop, the same clients: with the signal at 0 nothing is shed.
    expect(statuses(atOff)).toEqual({ 200: atOff.length });
    // Free again: answered (after the 1 s hold).
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      if (i > 0) await sleep(100);
      status = (await fetch(`${defaultBase}${HANDLE}`)).status;
    }
    expect(status).toBe(200);
  }, 90_000);
});
