import { decodeOid } from '../../src/asn1/oid-der.js';
import { decodeMessage } from '../../src/dns/wire.js';
import { parseMessage } from '../../src/doip/segments.js';
import { parseVerifyRequest } from '../../src/families/products/verify/request.js';
import { parseGs1DigitalLink } from '../../src/ids/gs1.js';
import { parseHandle } from '../../src/ids/handle.js';
import { parseImeiId } from '../../src/ids/imei.js';
import { parseItsSignId } from '../../src/ids/its-sign.js';
import { parseOidValueNotation } from '../../src/ids/oid-asn1.js';
import { parseOidIri } from '../../src/ids/oid-iri.js';
import { parseOid } from '../../src/ids/oid.js';
import { valueFromJson } from '../../src/records/handle-json.js';
import { parseJsonBody } from '../../src/records/strict-json.js';

/**
 * A look for super-linear work, run by `npm run fuzz` after the targets: each parser is timed on
 * adversarial inputs (long runs of the characters its grammar loops over) of n and 4n units. Linear
 * work gives a ratio near 4, quadratic near 16. Timings on a shared machine are noisy: the ratio is
 * a pointer for a human, never an assertion.
 */
export interface ScalingRow {
  readonly parser: string;
  readonly input: string;
  readonly n: number;
  readonly msAtN: number;
  readonly msAt4N: number;
  readonly ratio: number;
}

interface Probe {
  readonly parser: string;
  readonly input: string;
  readonly make: (n: number) => unknown;
  readonly run: (input: never) => unknown;
}

const dnsRecords = (n: number): Buffer => {
  // n answers, each owned by a name compressed to the question's name.
  const header = Buffer.alloc(12);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(Math.min(n, 0xffff), 6);
  const question = Buffer.from([3, 0x6f, 0x72, 0x73, 0, 0, 1, 0, 1]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
  return Buffer.concat([header, question, ...Array.from({ length: Math.min(n, 0xffff) }, () => answer)]);
};

const PROBES: Probe[] = [
  { parser: 'parseHandle', input: '"a/" + "x" * n', make: (n) => `a/${'x'.repeat(n)}`, run: parseHandle },
  { parser: 'parseOid', input: '"1." * n', make: (n) => '1.'.repeat(n), run: parseOid },
  { parser: 'parseOidIri', input: '"/%41" * n', make: (n) => '/%41'.repeat(n), run: parseOidIri },
  { parser: 'parseOidValueNotation', input: '"{" + " " * n + "}"', make: (n) => `{${' '.repeat(n)}}`, run: parseOidValueNotation },
  { parser: 'parseOidValueNotation', input: '"{a" + "( " * n + "}"', make: (n) => `{a${'( '.repeat(n)}}`, run: parseOidValueNotation },
  { parser: 'parseItsSignId', input: '"its:" + ":" * n', make: (n) => `its:${':'.repeat(n)}`, run: parseItsSignId },
  { parser: 'parseGs1DigitalLink', input: '"/01/" * n', make: (n) => '/01/'.repeat(n), run: parseGs1DigitalLink },
  { parser: 'parseImeiId', input: '"imei:" + "1" * n', make: (n) => `imei:${'1'.repeat(n)}`, run: parseImeiId },
  { parser: 'parseJsonBody', input: '"[" * n + "]" * n', make: (n) => `${'['.repeat(n)}${']'.repeat(n)}`, run: parseJsonBody },
  { parser: 'parseJsonBody', input: '{"k":"v", ...} with n keys', make: (n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":"v"`).join(',')}}`, run: parseJsonBody },
  {
    parser: 'valueFromJson',
    input: 'base64 data "A" * n + "!"',
    make: (n) => ({ index: 1, type: 'X', data: { format: 'base64', value: `${'A'.repeat(n)}!` } }),
    run: (v: unknown) => valueFromJson(v, 0),
  },
  {
    parser: 'parseVerifyRequest',
    input: 'signature "A" * n',
    make: (n) => ({ id: 'x', evidence: { type: 'device-signature', signature: 'A'.repeat(n) } }),
    run: parseVerifyRequest,
  },
  { parser: 'DOIP parseMessage', input: '"{}\\n" * n + "#\\n#\\n"', make: (n) => Buffer.from(`${'{}\n'.repeat(n)}#\n#\n`), run: (b: Buffer) => parseMessage(b) },
  { parser: 'DOIP parseMessage', input: '"@\\n" + "1\\nx\\n" * n + "#\\n#\\n"', make: (n) => Buffer.from(`@\n${'1\nx\n'.repeat(n)}#\n#\n`), run: (b: Buffer) => parseMessage(b) },
  // n/16 records: at 4n that is 4,096 records in 65.5 KB, about the largest message DNS over TCP carries.
  { parser: 'DNS decodeMessage', input: 'n/16 compressed A records', make: (n) => dnsRecords(Math.floor(n / 16)), run: decodeMessage },
  { parser: 'decodeOid', input: '06 82 len + "81" * n', make: (n) => Buffer.from([0x06, 0x82, (n >> 8) & 0xff, n & 0xff, ...Array.from({ length: n }, () => 0x81)]), run: decodeOid },
];

function timeOnce(probe: Probe, input: unknown): number {
  const started = performance.now();
  try {
    (probe.run as (x: unknown) => unknown)(input);
  } catch {
    // Refusals are what most of these inputs get; their cost is what is measured.
  }
  return performance.now() - started;
}

/** Median of five runs, after one warm-up. */
function timeMedian(probe: Probe, n: number): number {
  const input = probe.make(n);
  timeOnce(probe, input);
  const times = Array.from({ length: 5 }, () => timeOnce(probe, input)).sort((a, b) => a - b);
  return times[2]!;
}

export function measureScaling(n = 16_384): ScalingRow[] {
  return PROBES.map((probe) => {
    const msAtN = timeMedian(probe, n);
    const msAt4N = timeMedian(probe, 4 * n);
    return { parser: probe.parser, input: probe.input, n, msAtN, msAt4N, ratio: msAt4N / Math.max(msAtN, 0.001) };
  });
}
