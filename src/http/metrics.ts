import type { FastifyInstance } from 'fastify';
import { canonicalOperation } from '../doip/message.js';
import { OPCODE, RCODE, TYPE } from '../dns/wire.js';

/**
 * Cairn's Prometheus text-format registry (`GET /metrics`; every name is in the README's metrics
 * table, which a test keeps in step): requests and latency per HTTP route, DNS operation and DOIP
 * operation, verification verdicts, and gauges read at scrape time (store, change log, overload).
 *
 * Labels come from bounded sets only (route patterns, status classes, known DNS types and DOIP
 * operations; anything else is "other"), so cardinality stays bounded whatever clients send.
 * Series are found through maps keyed by those values, so counting a request builds no strings:
 * the HTTP fast path and the DNS cache path allocate nothing here once a series exists.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

class Series {
  count = 0;
  sum = 0;
  readonly buckets = new Array<number>(BUCKETS.length).fill(0);

  constructor(readonly labels: string) {}

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    for (let i = BUCKETS.length - 1; i >= 0 && seconds <= BUCKETS[i]!; i--) this.buckets[i]!++;
  }
}

const escape = (value: string): string => value.replace(/["\\\n]/g, '_');

/** A counter `<name>_total`-style and a histogram over the same series. */
function renderPair(lines: string[], counter: string, counterHelp: string, histogram: string, histogramHelp: string, series: Iterable<Series>): void {
  const all = [...series];
  lines.push(`# HELP ${counter} ${counterHelp}`, `# TYPE ${counter} counter`);
  for (const s of all) lines.push(`${counter}{${s.labels}} ${s.count}`);
  lines.push(`# HELP ${histogram} ${histogramHelp}`, `# TYPE ${histogram} histogram`);
  for (const s of all) {
    BUCKETS.forEach((b, i) => lines.push(`${histogram}_bucket{${s.labels},le="${b}"} ${s.buckets[i]}`));
    lines.push(`${histogram}_bucket{${s.labels},le="+Inf"} ${s.count}`, `${histogram}_sum{${s.labels}} ${s.sum}`, `${histogram}_count{${s.labels}} ${s.count}`);
  }
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** HTTP requests by route pattern, method and status class. */
class HttpSeries {
  private readonly byRoute = new Map<string, Map<string, (Series | undefined)[]>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (!byMethod) this.byRoute.set(route, (byMethod = new Map()));
    let byClass = byMethod.get(method);
    if (!byClass) byMethod.set(method, (byClass = []));
    const c = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    (byClass[c] ??= new Series(`method="${escape(method)}",route="${escape(route)}",status="${STATUS_CLASSES[c]}"`)).observe(seconds);
  }

  *series(): Iterable<Series> {
    for (const byMethod of this.byRoute.values()) for (const byClass of byMethod.values()) for (const s of byClass) if (s) yield s;
  }
}

const nameOf = (table: Readonly<Record<string, number>>): Map<number, string> => new Map(Object.entries(table).map(([k, v]) => [v, k]));
const QTYPE_NAMES = nameOf(TYPE);
const OPCODE_NAMES = nameOf(OPCODE);
const RCODE_NAMES = nameOf(RCODE);

/** DNS messages answered, by transport, opcode, question type and response code. */
export class DnsSeries {
  private readonly byKey = new Map<number, Series>();

  /**
   * Counts one query and its answer (the first message of it for a zone transfer; undefined when
   * nothing was sent back). Reads the opcode and question type from the query's wire form and the
   * rcode from the answer's header, without decoding either.
   */
  observe(transport: 'udp' | 'tcp', query: Buffer, answer: Buffer | readonly Buffer[] | undefined, seconds: number): void {
    const opcode = query.length >= 12 ? (query[2]! >> 3) & 0xf : 15;
    const qtype = questionType(query);
    const first = answer === undefined ? undefined : Buffer.isBuffer(answer) ? answer : answer[0];
    const rcode = first !== undefined && first.length >= 4 ? first[3]! & 0xf : 16;
    const known = QTYPE_NAMES.has(qtype) ? qtype : 0;
    const key = (((transport === 'udp' ? 0 : 1) * 16 + opcode) * 65536 + known) * 17 + rcode;
    let s = this.byKey.get(key);
    if (!s) {
      const labels = `transport="${transport}",opcode="${OPCODE_NAMES.get(opcode) ?? String(opcode)}",qtype="${QTYPE_NAMES.get(known) ?? 'other'}",rcode="${rcode === 16 ? 'none' : (RCODE_NAMES.get(rcode) ?? String(rcode))}"`;
      this.byKey.set(key, (s = new Series(labels)));
    }
    s.observe(seconds);
  }

  series(): Iterable<Series> {
    return this.byKey.values();
  }
}

/** The first question's type, or 0 when the message has none or is cut short. */
function questionType(message: Buffer): number {
  if (message.length < 12 || message.readUInt16BE(4) === 0) return 0;
  let i = 12;
  while (i < message.length) {
    const len = message[i]!;
    if (len === 0) {
      i += 1;
      break;
    }
    if (len >= 0xc0) {
      i += 2;
      break;
    }
    i += len + 1;
  }
  return i + 2 <= message.length ? message.readUInt16BE(i) : 0;
}

/** DOIP requests over TLS by operation and DOIP status. */
export class DoipSeries {
  private readonly byKey = new Map<string, Series>();

  /** `operationId` undefined: the request could not be read. Operations DOIP does not define count as "other". */
  observe(operationId: string | undefined, status: string, seconds: number): void {
    const op = operationId === undefined ? 'invalid' : (canonicalOperation(operationId) ?? 'other');
    const key = `${op} ${status}`;
    let s = this.byKey.get(key);
    if (!s) this.byKey.set(key, (s = new Series(`operation="${op}",status="${escape(status.slice(0, 64))}"`)));
    s.observe(seconds);
  }

  series(): Iterable<Series> {
    return this.byKey.values();
  }
}

/** A value read at scrape time. */
export interface Gauge {
  readonly help: string;
  readonly type?: 'gauge' | 'counter';
  /** One value, or one per label set (`family="oid"` → value). */
  readonly value: number | ReadonlyMap<string, number>;
}

export class Metrics {
  readonly http = new HttpSeries();
  readonly dns = new DnsSeries();
  readonly doip = new DoipSeries();
  private readonly verdicts = new Map<string, number>();
  private readonly collectors: (() => Readonly<Record<string, Gauge>>)[] = [];

  /** One HTTP request (routed, or answered by the fast path). */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.http.observe(method, route, status, seconds);
  }

  /** One verification verdict given (POST /api/verify). */
  verdict(verdict: string): void {
    this.verdicts.set(verdict, (this.verdicts.get(verdict) ?? 0) + 1);
  }

  /** Adds gauges read at every scrape (store size, overload state...). */
  collect(collector: () => Readonly<Record<string, Gauge>>): void {
    this.collectors.push(collector);
  }

  render(gauges: Readonly<Record<string, Gauge>> = {}): string {
    const lines: string[] = [];
    renderPair(lines, 'cairn_http_requests_total', 'HTTP requests answered, by route pattern, method and status class.', 'cairn_http_request_duration_seconds', 'Time to answer HTTP requests.', this.http.series());
    renderPair(lines, 'cairn_dns_queries_total', 'DNS messages answered (zone transfers and NOTIFY included), by transport, opcode, question type and rcode.', 'cairn_dns_query_duration_seconds', 'Time to answer DNS messages (a zone transfer: until its last message is sent).', this.dns.series());
    renderPair(lines, 'cairn_doip_requests_total', 'DOIP requests over TLS answered, by operation and DOIP status.', 'cairn_doip_request_duration_seconds', 'Time to answer DOIP requests.', this.doip.series());
    lines.push('# HELP cairn_verify_verdicts_total Verification verdicts given, by verdict.', '# TYPE cairn_verify_verdicts_total counter');
    for (const [verdict, n] of this.verdicts) lines.push(`cairn_verify_verdicts_total{verdict="${escape(verdict)}"} ${n}`);
    const all: Record<string, Gauge> = { ...gauges };
    for (const collector of this.collectors) Object.assign(all, collector());
    for (const [name, g] of Object.entries(all)) {
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} ${g.type ?? 'gauge'}`);
      if (typeof g.value === 'number') lines.push(`${name} ${g.value}`);
      else for (const [labels, v] of g.value) lines.push(`${name}{${labels}} ${v}`);
    }
    return `${lines.join('\n')}\n`;
  }

  register(app: FastifyInstance): void {
    app.addHook('onResponse', (req, reply, done) => {
      this.http.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
}

/** The name the HTTP side has always used for the registry. */
export { Metrics as HttpMetrics };
