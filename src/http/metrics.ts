import type { FastifyInstance } from 'fastify';

/**
 * A small Prometheus text-format registry: request counts and a latency histogram per route,
 * method and status class. Labels come from the route pattern, never the raw URL, so cardinality
 * stays bounded.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

export class HttpMetrics {
  private readonly series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${route.replace(/["\\\n]/g, '_')}",status="${status}"`;
    let s = this.series.get(key);
    if (!s) {
      s = { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
  }

  render(gauges: Readonly<Record<string, { help: string; value: number }>>): string {
    const lines = [
      '# HELP cairn_http_requests_total HTTP requests answered, by route, method and status.',
      '# TYPE cairn_http_requests_total counter',
    ];
    for (const [labels, s] of this.series) lines.push(`cairn_http_requests_total{${labels}} ${s.count}`);
    lines.push('# HELP cairn_http_request_duration_seconds Time to answer HTTP requests.', '# TYPE cairn_http_request_duration_seconds histogram');
    for (const [labels, s] of this.series) {
      BUCKETS.forEach((b, i) => lines.push(`cairn_http_request_duration_seconds_bucket{${labels},le="${b}"} ${s.buckets[i]}`));
      lines.push(`cairn_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${s.count}`);
      lines.push(`cairn_http_request_duration_seconds_sum{${labels}} ${s.sum}`);
      lines.push(`cairn_http_request_duration_seconds_count{${labels}} ${s.count}`);
    }
    for (const [name, g] of Object.entries(gauges)) lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    return `${lines.join('\n')}\n`;
  }

  register(app: FastifyInstance): void {
    app.addHook('onResponse', (req, reply, done) => {
      this.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
}
