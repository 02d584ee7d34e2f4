import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllChildren, requireBuiltCli, runCairn } from '../helpers/child.js';
import { hasTool } from '../helpers/tools.js';
import { APEX, buildQuery, startOrsServer, T, textOf, transfer, type OrsServer } from './helpers.js';

/**
 * `cairn zone export FILE` (the compiled CLI, server stopped) writes the zone a running server
 * transfers: the same records, as an RFC 1035 master file that named-checkzone accepts.
 */

const PUBLIC = 'https://ors.example.net';
let s: OrsServer;
let axfrLines: Set<string>;
let axfrSerial: number;
let env: Record<string, string>;

beforeAll(async () => {
  requireBuiltCli();
  s = await startOrsServer({ publicUrl: PUBLIC });
  const arcs: [string, unknown][] = [
    ['2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] }],
    // A URI with the characters master files and NAPTR regexps escape: " \ ! ; ( ) $ @
    ['2.999.1', { description: 'Sensors', asn1Ids: ['sensors'], ors: ['https://sensors.example.com/ors', 'https://odd.example/a"b\\c!d;e(f)g$h@i'] }],
    ['2.999.1.7', { description: 'Sensor seven' }],
    ['2.999.5', { description: 'Unicode label', unicodeLabels: ['Ångström', 'Größe'] }],
    ['1.3.6.1.4.1.99999', { description: 'A deep arc', ors: ['urn:example:deep'] }],
    ['2.25.329800735698586629295641978511506172918', { description: 'X.667 example UUID' }],
    ['2.999.2', { description: 'Deleted later' }],
  ];
  for (const [oid, body] of arcs) expect([oid, await s.put(oid, body)]).toEqual([oid, 201]);
  expect(await s.del('2.999.2')).toBe(200);
  const { records } = await transfer(s.dnsPort, buildQuery({ name: APEX, type: T.AXFR }));
  const soa = records[0]!;
  if (soa.data.kind !== 'SOA') throw new Error('AXFR does not start with an SOA');
  axfrSerial = soa.data.serial;
  axfrLines = new Set(records.map(textOf));
  env = {
    CAIRN_DATA_DIR: s.config.dataDir,
    CAIRN_CERTS_DIR: s.config.certsDir,
    CAIRN_PUBLIC_URL: PUBLIC,
    CAIRN_LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await killAllChildren();
  await s?.close();
});

/** A master file's records as normalised text lines: comments, blank lines and $ORIGIN dropped, blanks collapsed, names lower-cased. */
function masterFileLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('$ORIGIN')) continue;
    const [owner, ttl, cls, type, ...rdata] = line.split(/\s+/);
    const data = ['NS', 'CNAME', 'DNAME'].includes(type!) ? rdata.map((x) => x.toLowerCase()) : rdata;
    out.push([owner!.toLowerCase(), ttl, cls, type, ...data].join(' '));
  }
  return out;
}

describe('cairn zone export', () => {
  it('refuses while the server holds the store', async () => {
    const file = join(s.dir, 'locked.zone');
    const r = await runCairn(['zone', 'export', file], env);
    expect(r.code).toBe(75); // ERR_STORE_LOCKED
    expect(r.stderr).toContain('ERR_STORE_LOCKED');
    expect(existsSync(file)).toBe(false);
  });

  it('writes, with the server stopped, exactly the records of an AXFR; stdout gives the same text', async () => {
    await s.server.stop();
    const file = join(s.dir, 'ors.zone');
    const r = await runCairn(['zone', 'export', file], env);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = masterFileLines(readFileSync(file, 'utf8'));
    expect(JSON.parse(r.stdout)).toEqual({ records: lines.length, serial: axfrSerial });
    expect(new Set(lines).size).toBe(lines.length);
    expect([...new Set(lines)].sort()).toEqual([...axfrLines].sort());
    expect(existsSync(`${file}.partial`)).toBe(false);

    const toStdout = await runCairn(['zone', 'export', '-'], env);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(readFileSync(file, 'utf8'));
  });

  it('writes a file named-checkzone accepts', async (ctx) => {
    const file = join(s.dir, 'ors.zone');
    if (!existsSync(file)) {
      await s.server.stop();
      expect((await runCairn(['zone', 'export', file], env)).code).toBe(0);
    }
    if (!hasTool('named-checkzone', ['-v'])) return ctx.skip();
    const r = spawnSync('named-checkzone', ['-k', 'fail', '-n', 'fail', APEX, file], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toMatchObject({ status: 0 });
    expect(r.stdout).toContain(`serial ${axfrSerial}`);
    expect(r.stdout).toMatch(/OK\s*$/);
  });
});
