/**
 * The load generator of the soak test (tests/bench/soak.ts runs it as a child process pinned to
 * the other core than the server's):
 *
 *   node dist/tests/bench/soak-worker.js '<JSON WorkerOptions>'
 *
 * One operation is one of (tests/bench/soak-stats.ts `kindOf`: 8:1:1):
 *   resolve   GET /api/handles/{prefix}/soak-{n}, n random over the imported set;
 *   register  PUT /api/handles/{prefix}/soak-{tag}-{seq}?overwrite=false as the prefix admin (HTTP Basic): 201;
 *   verify    POST /api/verify/challenges, the device signs the challenge message, POST /api/verify: verdict "genuine".
 *
 * `closed`: `connections` loops run operations back to back (the capacity); `open`: operation i
 * starts `i / rate` s after the start whatever happened to earlier ones, so a slow answer delays
 * nobody's start and latency (completion - scheduled start) includes any queueing. At most
 * `connections` operations are in flight; up to `waitingCap` more wait for a slot (their latency
 * keeps counting); past that an operation is dropped and counted as an error, so the loop cannot
 * run away.
 *
 * Errors: any other status than the expected one (by status and the answer's `code`), socket
 * errors, timeouts (no byte for `timeoutMs`), drops, and verdicts other than "genuine".
 * Prints one JSON line (WorkerResult) on stdout; progress per window on stderr.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { KINDS, dueBy, kindOf, scheduledAtMs, summarize, windowOf, type Kind, type LatencySummary } from './soak-stats.js';

export interface WorkerOptions {
  readonly mode: 'closed' | 'open';
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly prefix: string;
  /** Handles soak-1 .. soak-{handles} exist. */
  readonly handles: number;
  /** Distinguishes this run's registrations: soak-{tag}-{seq}. */
  readonly tag: string;
  /** Authorization header of the prefix admin. */
  readonly admin: string;
  /** JSON: [{ id, key (PKCS#8 PEM, Ed25519) }]. */
  readonly devicesFile: string;
  readonly timeoutMs: number;
  /** closed: concurrent loops; open: operations in flight at most (and sockets). */
  readonly connections: number;
  /** open: operations waiting for an in-flight slot at most; past that one is dropped. */
  readonly waitingCap: number;
  /** closed: untimed seconds first. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** open: operations per second. */
  readonly rate: number;
  /** open: seconds per reported window. */
  readonly windowSeconds: number;
}

export interface WindowResult {
  readonly index: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly ops: Record<Kind, LatencySummary & { readonly ok: number }>;
  readonly httpRequests: number;
  readonly errors: Record<string, number>;
  /** The load generator's own event-loop delay (p99, ms): large values mean the client lagged, not the server. */
  readonly clientLoopDelayP99Ms: number;
}

export interface WorkerResult {
  readonly mode: WorkerOptions['mode'];
  readonly startedAtMs: number;
  readonly seconds: number;
  readonly scheduled: number;
  readonly completed: number;
  readonly ok: number;
  readonly windows: WindowResult[];
}

const opts = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
const url = new URL(opts.base);
const agent = new Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections });
const devices = (JSON.parse(readFileSync(opts.devicesFile, 'utf8')) as { id: string; key: string }[]).map((d) => ({ id: d.id, key: createPrivateKey(d.key) as KeyObject }));

interface Answer {
  readonly status: number;
  readonly body: string;
}

class Failure extends Error {
  constructor(readonly label: string) {
    super(label);
  }
}

let httpRequests = 0;

function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  httpRequests++;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e: NodeJS.ErrnoException) => reject(new Failure(`socket ${e.code ?? e.message}`)));
      },
    );
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Failure('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof Failure ? e : new Failure(`socket ${e.code ?? e.message}`)));
    req.end(body);
  });
}

/** Fails with "HTTP <status> <code>" unless the answer has the expected status. */
function expect(a: Answer, status: number): Answer {
  if (a.status === status) return a;
  let code = '';
  try {
    code = String((JSON.parse(a.body) as { code?: unknown }).code ?? '');
  } catch {
    // Not JSON: the status alone.
  }
  throw new Failure(`HTTP ${a.status}${code ? ` ${code}` : ''}`);
}

let registered = 0;
const resolvePath = (): string => `/api/handles/${opts.prefix}/soak-${1 + Math.floor(Math.random() * opts.handles)}`;

async function operation(kind: Kind, i: number): Promise<void> {
  if (kind === 'resolve') {
    expect(await send('GET', resolvePath()), 200);
    return;
  }
  if (kind === 'register') {
    const seq = ++registered;
    const body = JSON.stringify({ values: [{ index: 1, type: 'URL', data: { format: 'string', value: `https://objects.example.org/soak/${opts.tag}/${seq}` } }] });
    expect(await send('PUT', `/api/handles/${opts.prefix}/soak-${opts.tag}-${seq}?overwrite=false`, body, { authorization: opts.admin }), 201);
    return;
  }
  const device = devices[i % devices.length]!;
  const ch = JSON.parse(expect(await send('POST', '/api/verify/challenges', JSON.stringify({ id: device.id })), 201).body) as { challengeId: string; nonce: string; service: string; id: string };
  const signature = sign(null, challengeMessage({ service: ch.service, id: ch.id, nonce: ch.nonce, challengeId: ch.challengeId }), device.key).toString('base64url');
  const answer = expect(await send('POST', '/api/verify', JSON.stringify({ id: ch.id, challengeId: ch.challengeId, evidence: { type: 'device-signature', signature } })), 200);
  const verdict = (JSON.parse(answer.body) as { verdict?: unknown }).verdict;
  if (verdict !== 'genuine') throw new Failure(`verdict ${String(verdict)}`);
}

// -------------------------------------------------------------------------------------------------
// Windows

class Window {
  readonly latencies: Record<Kind, number[]> = { resolve: [], register: [], verify: [] };
  readonly ok: Record<Kind, number> = { resolve: 0, register: 0, verify: 0 };
  readonly errors = new Map<string, number>();
  httpRequests = 0;
  loopDelayP99Ms = 0;

  fail(label: string): void {
    this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
  }
}

function windowResult(w: Window, index: number, startMs: number, endMs: number): WindowResult {
  const ops = {} as Record<Kind, LatencySummary & { ok: number }>;
  for (const k of KINDS) ops[k] = { ...summarize(w.latencies[k]), ok: w.ok[k] };
  return { index, startMs, endMs, ops, httpRequests: w.httpRequests, errors: Object.fromEntries(w.errors), clientLoopDelayP99Ms: w.loopDelayP99Ms };
}

const labelOf = (e: unknown): string => (e instanceof Failure ? e.label : `client ${(e as Error)?.message ?? String(e)}`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// -------------------------------------------------------------------------------------------------
// Closed loop: the capacity

async function closed(): Promise<WorkerResult> {
  const epoch0 = Date.now();
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupSeconds * 1000;
  const end = measureFrom + opts.seconds * 1000;
  const w = new Window();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let next = 0;
  let completed = 0;
  let httpAtStart = 0;
  setTimeout(() => {
    httpAtStart = httpRequests;
    delay.enable();
  }, opts.warmupSeconds * 1000);
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const i = next++;
      const kind = kindOf(i);
      const started = performance.now();
      let failed: string | undefined;
      try {
        await operation(kind, i);
      } catch (e) {
        failed = labelOf(e);
      }
      const done = performance.now();
      if (done < measureFrom || done > end) continue;
      completed++;
      if (failed !== undefined) w.fail(failed);
      else {
        w.ok[kind]++;
        w.latencies[kind].push(done - started);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, loop));
  delay.disable();
  w.httpRequests = httpRequests - httpAtStart;
  w.loopDelayP99Ms = delay.percentile(99) / 1e6;
  const ok = KINDS.reduce((n, k) => n + w.ok[k], 0);
  const startMs = epoch0 + opts.warmupSeconds * 1000;
  return { mode: 'closed', startedAtMs: startMs, seconds: opts.seconds, scheduled: next, completed, ok, windows: [windowResult(w, 0, startMs, startMs + opts.seconds * 1000)] };
}

// -------------------------------------------------------------------------------------------------
// Open loop: the soak

async function open(): Promise<WorkerResult> {
  const windowMs = opts.windowSeconds * 1000;
  const windowCount = Math.max(1, Math.round(opts.seconds / opts.windowSeconds));
  const total = Math.floor(opts.rate * opts.seconds);
  const windows = Array.from({ length: windowCount }, () => new Window());
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const epoch0 = Date.now();
  const t0 = performance.now();
  let issued = 0;
  let inFlight = 0;
  let completed = 0;
  let ok = 0;
  const waiting: { i: number; at: number }[] = [];
  let waitingHead = 0;
  let current = 0;
  let httpAtWindow = 0;

  const closeWindowsUpTo = (index: number): void => {
    while (current < index) {
      const w = windows[current]!;
      w.httpRequests = httpRequests - httpAtWindow;
      httpAtWindow = httpRequests;
      w.loopDelayP99Ms = delay.percentile(99) / 1e6;
      delay.reset();
      const r = windowResult(w, current, epoch0 + current * windowMs, epoch0 + (current + 1) * windowMs);
      const errs = Object.values(r.errors).reduce((a, b) => a + b, 0);
      const p99 = KINDS.map((k) => `${k} ${r.ops[k].p99Ms?.toFixed(1) ?? '-'}`).join(', ');
      process.stderr.write(`window ${current + 1}/${windowCount}: ${(KINDS.reduce((n, k) => n + r.ops[k].ok, 0) / opts.windowSeconds).toFixed(0)} ops/s ok, ${errs} errors, p99 ms ${p99}, in flight ${inFlight}, waiting ${waiting.length - waitingHead}\n`);
      current++;
    }
  };

  const launch = (i: number, at: number): void => {
    inFlight++;
    const kind = kindOf(i);
    operation(kind, i).then(
      () => finish(kind, at),
      (e: unknown) => finish(kind, at, labelOf(e)),
    );
  };
  const finish = (kind: Kind, at: number, failed?: string): void => {
    inFlight--;
    completed++;
    const done = performance.now();
    const w = windows[windowOf(done - t0, windowMs, windowCount)]!;
    if (failed !== undefined) w.fail(failed);
    else {
      ok++;
      w.ok[kind]++;
      w.latencies[kind].push(done - at);
    }
    if (waitingHead < waiting.length) {
      const next = waiting[waitingHead++]!;
      if (waitingHead > 4096) {
        waiting.splice(0, waitingHead);
        waitingHead = 0;
      }
      launch(next.i, next.at);
    }
  };

  while (issued < total) {
    const now = performance.now();
    closeWindowsUpTo(windowOf(now - t0, windowMs, windowCount + 1));
    const due = Math.min(total, dueBy(now - t0, opts.rate));
    for (; issued < due; issued++) {
      const at = t0 + scheduledAtMs(issued, opts.rate);
      if (inFlight < opts.connections) launch(issued, at);
      else if (waiting.length - waitingHead < opts.waitingCap) waiting.push({ i: issued, at });
      else {
        completed++;
        windows[windowOf(now - t0, windowMs, windowCount)]!.fail('dropped (concurrency cap)');
      }
    }
    await sleep(1);
  }
  // Stragglers: each operation ends within two timeouts (a verification is two requests).
  const until = performance.now() + 2 * opts.timeoutMs + 1000;
  while ((inFlight > 0 || waitingHead < waiting.length) && performance.now() < until) await sleep(5);
  const stuck = inFlight + waiting.length - waitingHead;
  if (stuck > 0) windows[windowCount - 1]!.errors.set('unfinished at the end', stuck);
  closeWindowsUpTo(windowCount);
  delay.disable();
  return { mode: 'open', startedAtMs: epoch0, seconds: (performance.now() - t0) / 1000, scheduled: total, completed, ok, windows: windows.map((w, i) => windowResult(w, i, epoch0 + i * windowMs, epoch0 + (i + 1) * windowMs)) };
}

(opts.mode === 'closed' ? closed() : open()).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    agent.destroy();
  },
  (e: unknown) => {
    process.stderr.write(`soak-worker: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
    agent.destroy();
  },
);
