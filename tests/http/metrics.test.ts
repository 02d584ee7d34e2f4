import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoipClient } from '../../src/doip/client.js';
import { DnsSeries, Metrics } from '../../src/http/metrics.js';
import { APEX, buildQuery, T, tcpQuery, transfer, udpQuery } from '../dns/helpers.js';
import { startRealServer } from '../helpers/service.js';
import type { RunningServer } from '../../src/server.js';

/**
 * `/metrics` of a real server (HTTP, DNS and DOIP listeners on loopback): what each protocol's
 * requests add, and the README's metrics table against what is exposed, both ways.
 */
let server: RunningServer;
let dir: string;
let url: string;
beforeAll(async () => {
  // A shedding limit far out of reach: the overload gauges are exposed only while one is on.
  ({ server, dir, url } = await startRealServer({ overloadMaxEventLoopDelayMs: 600_000 }));
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const scrape = async (): Promise<string> => {
  const res = await fetch(`${url}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};
/** The value of one series, by its exact name and labels (undefined when absent). */
const valueOf = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('/metrics of a running server', () => {
  it('counts HTTP requests by route pattern, method and status class', async () => {
    for (const path of ['/api/handles/20.5000/absent-1', '/api/handles/20.5000/absent-2']) expect((await fetch(`${url}${path}`)).status).toBe(404);
    expect((await fetch(`${url}/no/such/route`, { method: 'PATCH' })).status).toBe(404);
    const text = await scrape();
    expect(valueOf(text, 'cairn_http_requests_total{method="GET",route="/api/handles/*",status="4xx"}')).toBe(2);
    expect(valueOf(text, 'cairn_http_requests_total{method="PATCH",route="unmatched",status="4xx"}')).toBe(1);
    expect(valueOf(text, 'cairn_http_request_duration_seconds_count{method="GET",route="/api/handles/*",status="4xx"}')).toBe(2);
    expect(valueOf(text, 'cairn_http_request_duration_seconds_bucket{method="GET",route="/api/handles/*",status="4xx",le="+Inf"}')).toBe(2);
  });

  it('counts DNS queries by transport, opcode, type and rcode, zone transfers included', async () => {
    const port = server.dns.port;
    await udpQuery(port, buildQuery({ name: APEX, type: T.SOA }));
    await udpQuery(port, buildQuery({ name: APEX, type: T.SOA })); // the cached path
    await udpQuery(port, buildQuery({ name: ['nope', ...APEX.split('.')], type: T.A }));
    await tcpQuery(port, buildQuery({ name: APEX, type: T.NS }));
    await transfer(port, buildQuery({ name: APEX, type: T.AXFR }));
    await udpQuery(port, buildQuery({ name: APEX, type: T.SOA, opcode: 4 }));
    const text = await scrape();
    expect(valueOf(text, 'cairn_dns_queries_total{transport="udp",opcode="QUERY",qtype="SOA",rcode="NOERROR"}')).toBe(2);
    expect(valueOf(text, 'cairn_dns_queries_total{transport="udp",opcode="QUERY",qtype="A",rcode="NXDOMAIN"}')).toBe(1);
    expect(valueOf(text, 'cairn_dns_queries_total{transport="tcp",opcode="QUERY",qtype="NS",rcode="NOERROR"}')).toBe(1);
    expect(valueOf(text, 'cairn_dns_queries_total{transport="tcp",opcode="QUERY",qtype="AXFR",rcode="NOERROR"}')).toBe(1);
    expect([...text.matchAll(/^cairn_dns_queries_total\{transport="udp",opcode="NOTIFY",qtype="SOA",rcode="\w+"\} 1$/gm)]).toHaveLength(1);
    expect(valueOf(text, 'cairn_dns_query_duration_seconds_count{transport="tcp",opcode="QUERY",qtype="AXFR",rcode="NOERROR"}')).toBe(1);
  });

  it('counts DOIP requests by operation and status; unknown operations as "other"', async () => {
    const client = await DoipClient.connect({ host: '127.0.0.1', port: server.doip.port, rejectUnauthorized: false });
    try {
      expect((await client.send({ targetId: 'service', operationId: '0.DOIP/Op.Hello' })).status).toBe('0.DOIP/Status.001');
      await client.send({ targetId: 'service', operationId: '0.doip/op.hello' });
      const odd = await client.send({ targetId: 'service', operationId: 'x.Custom/Op.Anything' });
      const text = await scrape();
      expect(valueOf(text, 'cairn_doip_requests_total{operation="0.DOIP/Op.Hello",status="0.DOIP/Status.001"}')).toBe(2);
      expect(valueOf(text, `cairn_doip_requests_total{operation="other",status="${odd.status}"}`)).toBe(1);
    } finally {
      client.close();
    }
  });

  it('counts verification verdicts', async () => {
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const challenge = (await (await post('/api/verify/challenges', { id: '20.5000.7/GHOST' })).json()) as { challengeId: string };
    const res = await post('/api/verify', { id: '20.5000.7/GHOST', challengeId: challenge.challengeId, evidence: { type: 'none' } });
    expect(((await res.json()) as { verdict: string }).verdict).toBe('unknown');
    expect(valueOf(await scrape(), 'cairn_verify_verdicts_total{verdict="unknown"}')).toBe(1);
  });

  it('reports the store size and the change-log position', async () => {
    const put = await fetch(`${url}/api/oids/2.999.77`, { method: 'PUT', headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent('300:0.NA/20.5000')}:test-admin-secret-123`).toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify({ description: 'metrics test' }) });
    expect(put.status).toBeLessThan(300);
    let text = await scrape();
    // The store is counted in the background at most once a minute: the first count (at start) saw the prefix record.
    for (let i = 0; i < 50 && valueOf(text, 'cairn_store_records{family="handle"}') === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await scrape();
    }
    expect(valueOf(text, 'cairn_store_records{family="handle"}')).toBeGreaterThanOrEqual(1);
    expect(valueOf(text, 'cairn_store_records{family="its"}')).toBe(0);
    expect(valueOf(text, 'cairn_store_disk_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'cairn_changelog_position')).toBe(server.service.store.lastSeq);
    expect(server.service.store.lastSeq).toBeGreaterThanOrEqual(2);
  });
});

describe('the README metrics table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replaceAll('\r\n', '\n');
  const section = readme.slice(readme.indexOf('\n### Metrics\n'), readme.indexOf('\n### Overload\n'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `cairn_'))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  const table = new Map(
    rows.map(([name, type, labels, meaning]) => [
      name!.replace(/`/g, ''),
      { type: type!, labels: [...labels!.matchAll(/`(\w+)`/g)].map((m) => m[1]!).sort(), mirrorOnly: meaning!.startsWith('mirror only') },
    ]),
  );

  it('documents every metric /metrics exposes, with its type and labels, and nothing it does not', async () => {
    const text = await scrape();
    const exposed = new Map([...text.matchAll(/^# TYPE (\w+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const documented = [...table].filter(([, row]) => !row.mirrorOnly);
    expect([...exposed.keys()].sort()).toEqual(documented.map(([name]) => name).sort());
    for (const [name, row] of documented) expect(`${name} ${exposed.get(name)}`).toBe(`${name} ${row.type}`);
    // Every series' label names are the documented ones (`le` belongs to histogram buckets).
    for (const m of text.matchAll(/^(\w+?)(_bucket|_sum|_count)?\{([^}]*)\} /gm)) {
      const name = table.has(m[1]!) ? m[1]! : `${m[1]}${m[2] ?? ''}`;
      const labels = [...m[3]!.matchAll(/(\w+)="/g)].map((x) => x[1]!).filter((l) => l !== 'le').sort();
      expect([name, labels]).toEqual([name, table.get(name)?.labels]);
    }
  });

  it('documents the mirror-only metrics a mirror appends, and only those', () => {
    const source = readFileSync(new URL('../../src/mirror/follower.ts', import.meta.url), 'utf8');
    const appended = [...source.matchAll(/metric\('(cairn_\w+)', '(\w+)'/g)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(appended.length).toBeGreaterThan(0);
    const documented = [...table].filter(([, row]) => row.mirrorOnly).map(([name, row]) => `${name} ${row.type}`).sort();
    expect(documented).toEqual(appended);
  });
});

describe('metrics registry', () => {
  it('labels DNS messages it cannot read as "other"/"none" instead of failing', () => {
    const dns = new DnsSeries();
    dns.observe('udp', Buffer.from([1, 2, 3]), undefined, 0.001);
    dns.observe('udp', Buffer.concat([Buffer.alloc(4), Buffer.from([0, 1]), Buffer.alloc(6), Buffer.from([63])]), undefined, 0.001);
    const m = new Metrics();
    (m as unknown as { dns: DnsSeries }).dns.observe('tcp', Buffer.alloc(12), Buffer.from([0, 0, 0x84, 0x05]), 0.001);
    expect([...dns.series()].map((s) => s.labels)).toEqual(['transport="udp",opcode="15",qtype="other",rcode="none"', 'transport="udp",opcode="QUERY",qtype="other",rcode="none"']);
    expect(m.render()).toMatch(/^cairn_dns_queries_total\{transport="tcp",opcode="QUERY",qtype="other",rcode="REFUSED"\} 1$/m);
  });

  it('keeps one series per status class, whatever the exact status', () => {
    const m = new Metrics();
    for (const status of [200, 201, 204, 404, 410, 503]) m.observe('GET', '/x', status, 0.002);
    const text = m.render();
    expect(valueOf(text, 'cairn_http_requests_total{method="GET",route="/x",status="2xx"}')).toBe(3);
    expect(valueOf(text, 'cairn_http_requests_total{method="GET",route="/x",status="4xx"}')).toBe(2);
    expect(valueOf(text, 'cairn_http_requests_total{method="GET",route="/x",status="5xx"}')).toBe(1);
    expect(valueOf(text, 'cairn_http_request_duration_seconds_bucket{method="GET",route="/x",status="2xx",le="0.001"}')).toBe(0);
    expect(valueOf(text, 'cairn_http_request_duration_seconds_bucket{method="GET",route="/x",status="2xx",le="0.0025"}')).toBe(3);
  });
});
