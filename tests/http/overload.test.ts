import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Load shedding: with a small event-loop delay limit, a busy event loop makes the service
 * answer 503 ERR_OVERLOADED with Retry-After, on the routed path and on the resolution fast path
 * (a real socket: only it reaches the fast path), while /healthz keeps answering.
 */
let t: TestService;
let base: string;
const HANDLE = '/api/handles/20.5000/busy';

beforeAll(async () => {
  t = await startTestService({ overloadMaxEventLoopDelayMs: 5, overloadRetryAfterSeconds: 7 });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  // With so small a limit a busy machine may already shed now and then: retry until written.
  let status = 503;
  for (let i = 0; i < 100 && status === 503; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    const put = await fetch(`${base}${HANDLE}`, {
      method: 'PUT',
      headers: { authorization: adminAuth(), 'content-type': 'application/json' },
      body: JSON.stringify([{ index: 1, type: 'URL', data: 'https://busy.example/' }]),
    });
    status = put.status;
  }
  expect(status).toBe(201);
});
afterAll(async () => t?.close());

/**
 * Keeps the event loop busy in 40 ms slices until stopped: every sample of the loop's delay is then
 * far above the limit, while requests still get through between slices (as on an overloaded server).
 */
function busyLoop(): { stop(): void } {
  let stopped = false;
  const slice = (): void => {
    const end = Date.now() + 40;
    while (Date.now() < end) {
      // busy on purpose
    }
    if (!stopped) setTimeout(slice, 1);
  };
  setTimeout(slice, 1);
  return { stop: () => (stopped = true) };
}

const answer = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), cors: res.headers.get('access-control-allow-origin'), body: await res.text() };
};

/** Polls `path` until it answers `status` (at most `ms`); the answers seen. */
async function until(path: string, status: number, ms: number) {
  const end = Date.now() + ms;
  let last = await answer(path);
  while (last.status !== status && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    last = await answer(path);
  }
  return last;
}

describe('overload shedding', () => {
  it('sheds with 503 + Retry-After on the routed and the fast path alike; /healthz keeps answering', async () => {
    const load = busyLoop();
    let seen;
    try {
      const routed = await until(`${HANDLE}?via=router`, 503, 10_000);
      seen = { routed, fast: await answer(HANDLE), problem: await answer('/api/resolve/hdl:20.5000/busy'), health: await answer('/healthz') };
    } finally {
      load.stop();
    }
    const { routed, fast, problem, health } = seen;
    expect(routed).toMatchObject({ status: 503, retryAfter: '7', cors: '*' });
    expect(JSON.parse(routed.body)).toMatchObject({ responseCode: 3, code: 'ERR_OVERLOADED' });
    // The fast path's answer is the route's, byte for byte.
    expect(fast).toEqual(routed);
    expect(problem).toMatchObject({ status: 503, retryAfter: '7', type: 'application/problem+json; charset=utf-8' });
    expect(JSON.parse(problem.body)).toMatchObject({ status: 503, code: 'ERR_OVERLOADED' });
    expect(health.status).toBe(200);
  });

  it('recovers once the event loop is free again', async () => {
    expect((await until(HANDLE, 200, 15_000)).status).toBe(200);
  });
});
