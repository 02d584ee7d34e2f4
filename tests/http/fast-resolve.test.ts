import { createHash } from 'node:crypto';
import { request } from 'node:http';
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
    expect(text).toMatch(/cairn_http_requests_total\{method="GET",route="\/api\/handles\/\*",status="2xx"\} [1-9]/);
  });
});

/** Status, every header line but `Date` in the order sent, and the body, over a real socket. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const lines: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i]!.toLowerCase() !== 'date') lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
        }
        resolve({ status: res.statusCode!, headers: lines, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The same request through the fast path and through the router, with how each was counted. */
async function bothRaw(path: string, headers: Record<string, string> = {}) {
  const before = await fastHits();
  const fast = await raw(path, headers);
  const afterFast = await fastHits();
  const routed = await raw(`${path}?via=router`, headers);
  const afterRouted = await fastHits();
  return { fast, routed, fastCounted: afterFast - before, routedCounted: afterRouted - afterFast };
}

const header = (lines: string[], name: string): string | undefined =>
  lines.find((l) => l.toLowerCase().startsWith(`${name}: `))?.slice(name.length + 2);

describe('HTTP caching of resolution, fast path and router alike', () => {
  const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url')}"`;

  it('sends the same header lines in the same order: Cache-Control from the smallest TTL, a strong ETag over the body', async () => {
    const values = [
      { index: 1, type: 'URL', data: 'https://cache.example/', ttl: 600 },
      { index: 2, type: 'EMAIL', data: 'ops@cache.example', ttl: 3600 },
    ];
    expect((await write('PUT', '/api/handles/20.5000/cached', values)).status).toBe(201);
    const r = await bothRaw('/api/handles/20.5000/cached');
    expect([r.fastCounted, r.routedCounted]).toEqual([1, 0]);
    expect(r.fast.headers).toEqual(r.routed.headers);
    expect(r.fast.body.equals(r.routed.body)).toBe(true);
    expect(header(r.fast.headers, 'cache-control')).toBe('max-age=600');
    expect(header(r.fast.headers, 'etag')).toBe(etagOf(r.fast.body));
    expect(header(r.fast.headers, 'vary')).toBeUndefined();
  });

  it.each([
    ['the ETag itself', (etag: string) => etag, 304],
    ['a list holding it', (etag: string) => `"nope", ${etag}`, 304],
    ['its weak form', (etag: string) => `W/${etag}`, 304],
    ['*', () => '*', 304],
    ['another tag', () => '"other"', 200],
  ])('If-None-Match with %s answers %i the same way on both paths', async (_what, inm, status) => {
    const etag = header((await raw('/api/handles/20.5000/cached')).headers, 'etag')!;
    const r = await bothRaw('/api/handles/20.5000/cached', { 'if-none-match': inm(etag) });
    expect(r.fastCounted).toBe(1);
    expect([r.fast.status, r.routed.status]).toEqual([status, status]);
    expect(r.fast.headers).toEqual(r.routed.headers);
    expect(header(r.fast.headers, 'etag')).toBe(etag);
    expect(header(r.fast.headers, 'cache-control')).toBe('max-age=600');
    if (status === 304) {
      expect(r.fast.body.length + r.routed.body.length).toBe(0);
      expect(header(r.fast.headers, 'content-type')).toBeUndefined();
    }
  });

  it('a new version gets a new ETag, and the old one no longer matches', async () => {
    const old = header((await raw('/api/handles/20.5000/cached')).headers, 'etag')!;
    expect((await write('PUT', '/api/handles/20.5000/cached', [{ index: 1, type: 'URL', data: 'https://cache2.example/', ttl: 60 }])).status).toBe(200);
    const r = await bothRaw('/api/handles/20.5000/cached', { 'if-none-match': old });
    expect([r.fast.status, r.routed.status]).toEqual([200, 200]);
    expect(header(r.fast.headers, 'etag')).not.toBe(old);
    expect(header(r.fast.headers, 'cache-control')).toBe('max-age=60');
    expect(r.fast.headers).toEqual(r.routed.headers);
  });

  it('counts an absolute TTL down', async () => {
    const expires = new Date(Date.now() + 1000_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect((await write('PUT', '/api/handles/20.5000/expiring', [{ index: 1, type: 'URL', data: 'https://soon.example/', ttl: expires }])).status).toBe(201);
    const r = await bothRaw('/api/handles/20.5000/expiring');
    expect(r.fast.headers).toEqual(r.routed.headers);
    const maxAge = Number(/^max-age=(\d+)$/.exec(header(r.fast.headers, 'cache-control')!)![1]);
    expect(maxAge).toBeGreaterThan(990);
    expect(maxAge).toBeLessThanOrEqual(1000);
  });

  it('answers tombstones with no-cache and no validator, If-None-Match or not', async () => {
    expect((await write('PUT', '/api/handles/20.5000/gone', [{ index: 1, type: 'URL', data: 'https://gone.example/' }])).status).toBe(201);
    expect((await write('DELETE', '/api/handles/20.5000/gone')).status).toBe(200);
    const r = await bothRaw('/api/handles/20.5000/gone', { 'if-none-match': '*' });
    expect([r.fast.status, r.routed.status]).toEqual([410, 410]);
    expect(r.fast.headers).toEqual(r.routed.headers);
    expect(header(r.fast.headers, 'cache-control')).toBe('no-cache');
    expect(header(r.fast.headers, 'etag')).toBeUndefined();
  });

  it('gives filtered resolutions (router only) an ETag and max-age of the values they serve', async () => {
    const res = await raw('/api/handles/20.5000/cached?type=URL');
    expect(res.status).toBe(200);
    expect(header(res.headers, 'cache-control')).toBe('max-age=60');
    expect(header(res.headers, 'etag')).toBe(etagOf(res.body));
    const again = await raw('/api/handles/20.5000/cached?type=URL', { 'if-none-match': header(res.headers, 'etag')! });
    expect([again.status, again.body.length]).toEqual([304, 0]);
    const none = await raw('/api/handles/20.5000/cached?type=NOPE');
    expect(JSON.parse(none.body.toString())).toEqual({ responseCode: 200, values: [], handle: '20.5000/cached' });
    expect(header(none.headers, 'cache-control')).toBe('no-cache');
  });
});
