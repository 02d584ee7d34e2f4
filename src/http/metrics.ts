import type { FastifyInstance } from 'fastify';

/**
 * A small Prometheus text-format registry: request counts and a latency histogram per route,
 * method and status. Labels come from the route pattern, never the raw URL, so cardinality stays
 * bounded; series are found through nested maps so the hot path builds no label strings.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Series {
  count: number;
  sum: number;
  readonly buckets: number[];
}

type ByStatus = Map<number, Series>;

export class HttpMetrics {
  private readonly series = new Map<string, Map<string, ByStatus>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route);
    if (!byMethod) this.series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) byStatus.set(status, (s = { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) }));
    s.count++;
    s.sum += seconds;
    for (let i = BUCKETS.length - 1; i >= 0 && seconds <= BUCKETS[i]!; i--) s.buckets[i]!++;
  }

  render(gauges: Readonly<Record<string, { help: string; value: number }>>): string {
    const all: [string, Series][] = [];
    for (const [route, byMethod] of this.series) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, s] of byStatus) all.push([`method="${method}",route="${route.replace(/["\\\n]/g, '_')}",status="${status}"`, s]);
      }
    }
    const lines = [
      '# HELP cairn_http_requests_total HTTP requests answered, by route, method and status.',
      '# TYPE cairn_http_requests_total counter',
      ...all.map(([labels, s]) => `cairn_http_requests_total{${labels}} ${s.count}`),
      '# HELP cairn_http_request_duration_seconds Time to answer HTTP requests.',
      '# TYPE cairn_http_request_duration_seconds histogram',
    ];
    for (const [labels, s] of all) {
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
