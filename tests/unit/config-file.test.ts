import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS, ENVIRONMENT, loadConfig, loadConfigWithSources, SETTINGS } from '../../src/config.js';
import { effectiveConfig, takeConfigFlag } from '../../src/cli/config-command.js';

const dir = mkdtempSync(join(tmpdir(), 'cairn-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(content: unknown): string {
  const file = join(dir, `cairn-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): { code?: string; message: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

describe('configuration file', () => {
  it('reads every setting from the file, with the JSON type of each', () => {
    const file = configFile({
      host: '::1',
      httpPort: 0,
      dataDir: 'var/data',
      certsDir: '/tmp/certs',
      prefix: '21.T1',
      adminSecret: 'long-enough-secret',
      signingAlg: 'ES256',
      logLevel: 'warn',
      syncWrites: false,
      storeMaxOpenFiles: 5000,
      bodyLimit: 2048,
      signatureValiditySeconds: 3600,
      dnsPort: 0,
      orsDomain: 'ORS.Example.',
      publicUrl: 'https://oid.example/',
      dnsNotify: ['127.0.0.1:5300'],
      dnsTransferAllow: ['10.0.0.2', '::1'],
      doipPort: 0,
      mirrorIdentity: '300:0.NA/21.T1',
      mirrorSecret: 'replication-secret',
      mirrorOf: 'https://primary.example/cairn/',
      mirrorPollMs: 250,
      overloadMaxInFlight: 256,
      overloadMaxEventLoopDelayMs: 50,
      overloadMaxHeapBytes: 0,
      overloadMaxRssBytes: 1_000_000_000,
      overloadRetryAfterSeconds: 3,
      loginFailuresPerAddress: 5,
      loginFailuresPerIdentity: 4,
      loginFailureWindowSeconds: 30,
      verifyMaxSpeedKmh: 1000,
      verifyRetentionSeconds: 86400,
      verifyRateLimit: 10,
      verifyRatePerSecond: 2,
      verifyChallengeTtlSeconds: 60,
      verifyTokenLifetimeSeconds: 120,
    });
    const { config, sources } = loadConfigWithSources({}, file);
    expect(config).toMatchObject({
      host: '::1',
      httpPort: 0,
      // Relative paths in the file are relative to the file's directory.
      dataDir: join(dir, 'var/data'),
      certsDir: '/tmp/certs',
      prefix: '21.T1',
      signingAlg: 'ES256',
      syncWrites: false,
      storeMaxOpenFiles: 5000,
      orsDomain: 'ors.example',
      publicUrl: 'https://oid.example',
      dnsNotify: ['127.0.0.1:5300'],
      dnsTransferAllow: ['10.0.0.2', '::1'],
      mirrorOf: 'https://primary.example/cairn',
      overloadMaxInFlight: 256,
      overloadMaxEventLoopDelayMs: 50,
      overloadMaxRssBytes: 1_000_000_000,
      overloadRetryAfterSeconds: 3,
      loginFailuresPerAddress: 5,
      loginFailuresPerIdentity: 4,
      loginFailureWindowSeconds: 30,
      verifyMaxSpeedKmh: 1000,
      verifyRetentionSeconds: 86400,
      verifyChallengeTtlSeconds: 60,
      verifyTokenLifetimeSeconds: 120,
    });
    expect(Object.values(sources).every((s) => s === 'file')).toBe(true);
  });

  it('lets environment variables override the file, and the file the defaults', () => {
    const file = configFile({ httpPort: 9090, prefix: '21.T1', logLevel: 'warn' });
    const { config, sources } = loadConfigWithSources({ CAIRN_HTTP_PORT: '7070', CAIRN_LOG_LEVEL: '' }, file);
    expect(config.httpPort).toBe(7070);
    expect(config.prefix).toBe('21.T1');
    expect(config.logLevel).toBe('warn');
    expect(config.doipPort).toBe(DEFAULTS.doipPort);
    expect(sources).toMatchObject({ httpPort: 'env', prefix: 'file', logLevel: 'file', doipPort: 'default' });
  });

  it('treats null in the file as not set there', () => {
    const file = configFile({ publicUrl: null, httpPort: null });
    expect(loadConfigWithSources({}, file).sources).toMatchObject({ publicUrl: 'default', httpPort: 'default' });
  });

  it('refuses an unknown key, naming the key and the file', () => {
    const file = configFile({ httpPort: 8081, httpProt: 8082 });
    const e = thrown(() => loadConfig({}, {}, file));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('"httpProt"');
    expect(e.message).toContain(file);
    expect(e.details).toEqual({ file, key: 'httpProt' });
  });

  it('refuses environment variable names and prototype keys as file keys', () => {
    expect(thrown(() => loadConfig({}, {}, configFile({ CAIRN_HTTP_PORT: 1 }))).details?.key).toBe('CAIRN_HTTP_PORT');
    expect(thrown(() => loadConfig({}, {}, configFile('{"__proto__": {"httpPort": 1}}'))).details?.key).toBe('__proto__');
  });

  it.each([
    ['httpPort', '8080', 'an integer'],
    ['httpPort', 80.5, 'an integer'],
    ['syncWrites', 'false', 'true or false'],
    ['host', 127, 'a string'],
    ['dnsTransferAllow', '127.0.0.1', 'an array of strings'],
    ['dnsTransferAllow', [1], 'an array of strings'],
    ['overloadMaxHeapBytes', -1, 'a whole number'],
    ['httpPort', 70000, 'port number'],
    ['signingAlg', 'HS256', 'EdDSA, ES256 or RS256'],
  ])('refuses %s = %j (%s), naming the key and the file', (key, value, says) => {
    const file = configFile({ [key]: value });
    const e = thrown(() => loadConfig({}, {}, file));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain(`"${key}" in ${file}`);
    expect(e.message).toContain(says);
  });

  it('refuses a missing file, a file that is not JSON and a file that is not an object', () => {
    for (const file of [join(dir, 'absent.json'), configFile('{"httpPort": 1,'), configFile('[1]')]) {
      const e = thrown(() => loadConfig({}, {}, file));
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.message).toContain(file);
    }
  });

  it('prints secrets as set or unset, never their value', () => {
    const file = configFile({ adminSecret: 'the-admin-secret-value' });
    const shown = effectiveConfig({ CAIRN_MIRROR_SECRET: 'the-mirror-secret' }, file);
    const text = JSON.stringify(shown);
    expect(text).not.toContain('the-admin-secret-value');
    expect(text).not.toContain('the-mirror-secret');
    expect(shown.config).toMatchObject({ adminSecret: '<redacted>', mirrorSecret: '<redacted>', publicUrl: null });
    expect(shown.sources).toMatchObject({ adminSecret: 'file', mirrorSecret: 'env', host: 'default' });
    expect(shown.file).toBe(file);
    expect(effectiveConfig({}, undefined).config.adminSecret).toBeNull();
  });
});

describe('--config on the command line', () => {
  it('is taken out wherever it stands, in both spellings', () => {
    expect(takeConfigFlag(['--config', 'a.json', 'serve'])).toEqual({ file: 'a.json', rest: ['serve'] });
    expect(takeConfigFlag(['keys', 'list', '--config=b.json'])).toEqual({ file: 'b.json', rest: ['keys', 'list'] });
    expect(takeConfigFlag(['doctor'])).toEqual({ file: undefined, rest: ['doctor'] });
  });

  it('needs a value, once', () => {
    expect(takeConfigFlag(['serve', '--config'])).toHaveProperty('error');
    expect(takeConfigFlag(['--config', '--json', 'doctor'])).toHaveProperty('error');
    expect(takeConfigFlag(['--config=a', '--config=b'])).toHaveProperty('error');
  });
});

describe('the one table of settings', () => {
  it('gives every setting an environment variable of its own', () => {
    const names = Object.values(ENVIRONMENT);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^CAIRN_[A-Z0-9_]+$/);
  });

  it('is the README configuration table, row for row (variable, default, file key, meaning)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replaceAll('\r\n', '\n');
    const start = readme.indexOf('\n## Configuration\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const rows = section
      .split('\n')
      .filter((l) => l.startsWith('| `CAIRN_'))
      .map((l) => l.slice(2, -2).split(' | '));
    const expected = Object.entries(SETTINGS).map(([key, s]) => [
      `\`${s.env}\``,
      s.shown === 'none' || s.shown === 'generated' ? s.shown : `\`${s.shown}\``,
      `\`${key}\``,
      s.doc,
    ]);
    expect(rows).toEqual(expected);
  });
});
