import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * The resolution fast path answers in front of fastify's router, so only a real socket reaches
 * it. Its answers must be the fastify route's, byte for byte: `?via=router` sends the same request through
 * the router for comparison.
 */
let t: TestService;
let base: string;
beforeAll(async () => {
  t = await startTestService();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => t.close());

const fastHits = async (): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^cairn_http_fast_path_total (\d+)$/m.exec(text)![1]);
};
const write = (method: 'PUT' | 'DELETE', path: string, values?: unknown) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: adminAuth(), ...(values ? { 'content-type': 'application/json' } : {}) },
    ...(values ? { body: JSON.stringify(values) } : {}),
  });

async function both(path: string) {
  const before = await fastHits();
  const fast = await fetch(`${base}${path}`);
  const afterFast = await fastHits();
  const routed = await fetch(`${base}${path}?via=router`);
  const afterRouted = await fastHits();
  return {
    fast: { status: fast.status, type: fast.headers.get('content-type'), cors: fast.headers.get('access-control-allow-origin'), body: Buffer.from(await fast.arrayBuffer()) },
    routed: { status: routed.status, type: routed.headers.get('content-type'), cors: routed.headers.get('access-control-allow-origin'), body: Buffer.from(await routed.arrayBuffer()) },
    fastCounted: afterFast - before,
    routedCounted: afterRouted - afterFast,
  };
}

describe('resolution fast path over a real socket', () => {
  it('answers a stored handle exactly as the fastify route does', async () => {
    expect((await write('PUT', '/api/handles/20.5000/fast', [{ index: 1, type: 'URL', data: 'https://v1.example/' }])).status).toBe(201);
    const r = await both('/api/handles/20.5000/fast');
    expect(r.fastCounted).toBe(1);
    expect(r.routedCounted).toBe(0);
    expect(r.fast).toEqual(r.routed);
    expect(r.fast).toMatchObject({ status: 200, type: 'application/json; charset=utf-8', cors: '*' });
    expect(JSON.parse(r.fast.body.toString()).values[0].data.value).toBe('https://v1.example/');
  });

  it('serves a write as soon as it is acknowledged (read your writes through the view cache)', async () => {
    await fetch(`${base}/api/handles/20.5000/fast`); // cached now
    expect((await write('PUT', '/api/handles/20.5000/fast', [{ index: 1, type: 'URL', data: 'https://v2.example/' }])).status).toBe(200);
    const r = await both('/api/handles/20.5000/fast');
    expect(r.fast).toEqual(r.routed);
    expect(JSON.parse(r.fast.body.toString()).values[0].data.value).toBe('https://v2.example/');
  });

  it('answers tombstones with 410 like the route, and leaves misses to the router', async () => {
    expect((await write('DELETE', '/api/handles/20.5000/fast?reason=gone')).status).toBe(200);
    const gone = await both('/api/handles/20.5000/fast');
    expect(gone.fast).toEqual(gone.routed);
    expect(gone.fast.status).toBe(410);
    const missing = await both('/api/handles/20.5000/never');
    expect(missing.fastCounted).toBe(0);
    expect(missing.fast).toEqual(missing.routed);
    expect(missing.fast.status).toBe(404);
  });

  it('leaves percent-encoded paths, filters and other methods to the router', async () => {
    expect((await write('PUT', '/api/handles/20.5000/a%20b', [{ index: 1, type: 'URL', data: 'https://space.example/' }])).status).toBe(201);
    const before = await fastHits();
    const encoded = await fetch(`${base}/api/handles/20.5000/a%20b`);
    expect(encoded.status).toBe(200);
    expect(((await encoded.json()) as { handle: string }).handle).toBe('20.5000/a b');
    expect((await fetch(`${base}/api/handles/20.5000/a%20b?type=URL`)).status).toBe(200);
    expect((await fetch(`${base}/api/handles/20.5000/a%20b`, { method: 'HEAD' })).status).toBe(200);
    expect(await fastHits()).toBe(before);
  });

  it('counts fast-path answers in the request metrics too', async () => {
    await fetch(`${base}/api/handles/0.NA/20.5000`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/cairn_http_requests_total\{method="GET",route="\/api\/handles\/\*",status="200"\} [1-9]/);
  });
});
