import { connect, type AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../../src/config.js';
import { registerOverload } from '../../src/http/overload.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * Load shedding in one process over real sockets (only they reach the resolution fast path):
 * the answer's shape on every path, what the DEFAULT event-loop signal does not count as
 * overload, the in-flight cap at work, and every limit at `0` registering nothing. Real load:
 * overload-load.test.ts.
 */
const HANDLE = '/api/handles/20.5000/busy';

async function listening(t: TestService): Promise<string> {
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const put = await t.app.inject({
    method: 'PUT',
    url: HANDLE,
    headers: { authorization: adminAuth(), 'content-type': 'application/json' },
    payload: [{ index: 1, type: 'URL', data: 'https://busy.example/' }],
  });
  expect(put.statusCode).toBe(201);
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

const answer = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), cors: res.headers.get('access-control-allow-origin'), body: await res.text() };
};

/** Polls `url` until it answers `status` (at most `ms`); the last answer. */
async function until(url: string, status: number, ms: number) {
  const end = Date.now() + ms;
  let last = await answer(url);
  while (last.status !== status && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    last = await answer(url);
  }
  return last;
}

const metric = async (base: string, name: string): Promise<string | undefined> => (await (await fetch(`${base}/metrics`)).text()).match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1];

describe('overload shedding: the answer', () => {
  let t: TestService;
  let base: string;
  beforeAll(async () => {
    // A heap limit no process meets: shedding from the first memory sample on, steadily.
    t = await startTestService({ overloadMaxHeapBytes: 1, overloadRetryAfterSeconds: 7 });
    base = await listening(t);
  });
  afterAll(async () => t?.close());

  it('is 503 + Retry-After on the routed and the fast path alike; /healthz and /metrics keep answering', async () => {
    const routed = await until(`${base}${HANDLE}?via=router`, 503, 10_000);
    expect(routed).toMatchObject({ status: 503, retryAfter: '7', cors: '*' });
    expect(JSON.parse(routed.body)).toMatchObject({ responseCode: 3, code: 'ERR_OVERLOADED' });
    // The fast path's answer is the route's, byte for byte.
    expect(await answer(`${base}${HANDLE}`)).toEqual(routed);
    const problem = await answer(`${base}/api/resolve/hdl:20.5000/busy`);
    expect(problem).toMatchObject({ status: 503, retryAfter: '7', type: 'application/problem+json; charset=utf-8' });
    expect(JSON.parse(problem.body)).toMatchObject({ status: 503, code: 'ERR_OVERLOADED' });
    expect((await answer(`${base}/readyz`)).status).toBe(503);
    expect((await answer(`${base}/healthz`)).status).toBe(200);
    expect(await metric(base, 'cairn_overload_shedding')).toBe('1');
    // This scrape is the one request in flight.
    expect(await metric(base, 'cairn_http_in_flight')).toBe('1');
  });
});

describe('overload shedding: the event-loop delay signal', () => {
  let byDefault: TestService;
  let defaultBase: string;
  beforeAll(async () => {
    // The in-process helper switches the delay signal off; the default is restored here.
    byDefault = await startTestService({ overloadMaxEventLoopDelayMs: DEFAULTS.overloadMaxEventLoopDelayMs });
    defaultBase = await listening(byDefault);
  });
  afterAll(async () => byDefault?.close());

  it('one long stall (3 s) is not overload: the next requests are answered', async () => {
    const end = Date.now() + 3_000;
    while (Date.now() < end) {
      // one synchronous stretch, as a start-up or a bulk job in the process would be
    }
    for (let i = 0; i < 5; i++) expect((await answer(`${defaultBase}${HANDLE}?n=${i}`)).status).toBe(200);
    expect(await metric(defaultBase, 'cairn_overload_shedding')).toBe('0');
  });

  it('a loop kept busy past the limit with no request arriving is not overload either (start-up work)', async () => {
    const end = Date.now() + 3_500;
    // Stretches past the limit, back to back, and nobody asking meanwhile.
    while (Date.now() < end) {
      const stretch = Date.now() + DEFAULTS.overloadMaxEventLoopDelayMs + 300;
      while (Date.now() < stretch) {
        // busy on purpose
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect((await answer(`${defaultBase}${HANDLE}`)).status).toBe(200);
    expect(await metric(defaultBase, 'cairn_overload_shedding')).toBe('0');
  });
});

describe('overload shedding: switched off', () => {
  it('registers nothing when every limit is 0, and the metrics say nothing about it', async () => {
    const none = { overloadMaxInFlight: 0, overloadMaxEventLoopDelayMs: 0, overloadMaxHeapBytes: 0, overloadMaxRssBytes: 0 };
    expect(await registerOverload(Fastify(), loadConfig({}, none))).toBeUndefined();
    expect(await registerOverload(Fastify(), loadConfig({}, { ...none, overloadMaxInFlight: 1 }))).toBeDefined();
    const t = await startTestService(none);
    try {
      const scrape = (await t.app.inject('/metrics')).body;
      expect(scrape).toContain('cairn_http_requests_total');
      expect(scrape).not.toContain('cairn_overload_shedding');
      expect(scrape).not.toContain('cairn_http_in_flight');
    } finally {
      await t.close();
    }
  });

  it('a cap of 1 in flight sheds the next request while one is in flight, exempt paths aside, and admits again once it is answered', async () => {
    const t = await startTestService({ overloadMaxInFlight: 1 });
    try {
      const base = await listening(t);
      // A request whose body never comes stays in flight (onRequest has run; the body is awaited).
      const { port } = t.app.server.address() as AddressInfo;
      const stuck = connect(port, '127.0.0.1');
      await new Promise((r) => stuck.once('connect', r));
      stuck.write(`PUT ${HANDLE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[`);
      // The stuck one and the scrape itself (exempt, counted all the same).
      let inFlight: string | undefined;
      for (let i = 0; i < 100 && inFlight !== '2'; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        inFlight = await metric(base, 'cairn_http_in_flight');
      }
      expect(inFlight).toBe('2');
      const shed = await answer(`${base}${HANDLE}`);
      expect(shed).toMatchObject({ status: 503, retryAfter: String(DEFAULTS.overloadRetryAfterSeconds) });
      expect((await answer(`${base}${HANDLE}?via=router`)).status).toBe(503);
      expect((await answer(`${base}/healthz?probe=1`)).status).toBe(200);
      stuck.destroy();
      // A dropped connection releases its place too.
      expect((await until(`${base}${HANDLE}`, 200, 10_000)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
