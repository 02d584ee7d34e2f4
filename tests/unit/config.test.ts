import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig, redactConfig } from '../../src/config.js';

describe('configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', httpPort: 8080, prefix: '20.5000', signingAlg: 'EdDSA', bodyLimit: 1048576, syncWrites: true, doipPort: 9000 });
    expect(c.dataDir.endsWith('/data')).toBe(true);
  });

  it('reads every CAIRN_ variable', () => {
    const c = loadConfig({
      CAIRN_HOST: '::1',
      CAIRN_HTTP_PORT: '0',
      CAIRN_DATA_DIR: '/tmp/d',
      CAIRN_CERTS_DIR: '/tmp/c',
      CAIRN_PREFIX: '21.T1',
      CAIRN_ADMIN_SECRET: 'long-enough-secret',
      CAIRN_SIGNING_ALG: 'ES256',
      CAIRN_LOG_LEVEL: 'warn',
      CAIRN_SYNC_WRITES: 'false',
      CAIRN_BODY_LIMIT: '2048',
      CAIRN_SIGNATURE_VALIDITY: '3600',
      CAIRN_DNS_PORT: '0',
      CAIRN_ORS_DOMAIN: 'ORS.Example.',
      CAIRN_PUBLIC_URL: 'https://oid.example/',
      CAIRN_DNS_NOTIFY: '127.0.0.1:5300, [::1]:5301',
      CAIRN_DNS_TRANSFER_ALLOW: '10.0.0.2',
      CAIRN_DOIP_PORT: '0',
      CAIRN_MIRROR_OF: 'https://primary.example/cairn/',
      CAIRN_MIRROR_IDENTITY: '300:0.NA/21.T1',
      CAIRN_MIRROR_SECRET: 'replication-secret',
      CAIRN_MIRROR_POLL_MS: '250',
      CAIRN_OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '250',
      CAIRN_OVERLOAD_MAX_HEAP_BYTES: '1000000',
      CAIRN_OVERLOAD_MAX_RSS_BYTES: '2000000',
      CAIRN_OVERLOAD_RETRY_AFTER: '5',
    });
    // Settings added later keep their defaults here (their own tests read them).
    expect(c).toEqual({
      ...loadConfig({}),
      host: '::1',
      httpPort: 0,
      dataDir: '/tmp/d',
      certsDir: '/tmp/c',
      prefix: '21.T1',
      adminSecret: 'long-enough-secret',
      signingAlg: 'ES256',
      logLevel: 'warn',
      syncWrites: false,
      bodyLimit: 2048,
      signatureValiditySeconds: 3600,
      dnsPort: 0,
      orsDomain: 'ors.example',
      publicUrl: 'https://oid.example',
      dnsNotify: ['127.0.0.1:5300', '[::1]:5301'],
      dnsTransferAllow: ['10.0.0.2'],
      doipPort: 0,
      mirrorOf: 'https://primary.example/cairn',
      mirrorIdentity: '300:0.NA/21.T1',
      mirrorSecret: 'replication-secret',
      mirrorPollMs: 250,
      overloadMaxEventLoopDelayMs: 250,
      overloadMaxHeapBytes: 1000000,
      overloadMaxRssBytes: 2000000,
      overloadRetryAfterSeconds: 5,
    });
    expect(redactConfig(c).adminSecret).toBe('<redacted>');
    expect(redactConfig(c).mirrorSecret).toBe('<redacted>');
  });

  it.each([
    ['CAIRN_HTTP_PORT', '70000'],
    ['CAIRN_HTTP_PORT', 'eighty'],
    ['CAIRN_SIGNING_ALG', 'HS256'],
    ['CAIRN_SIGNING_ALG', 'none'],
    ['CAIRN_PREFIX', '0.NA'],
    ['CAIRN_PREFIX', '20.5000/x'],
    ['CAIRN_ADMIN_SECRET', 'short'],
    ['CAIRN_LOG_LEVEL', 'loud'],
    ['CAIRN_SYNC_WRITES', 'sometimes'],
    ['CAIRN_DNS_PORT', '65536'],
    ['CAIRN_ORS_DOMAIN', 'bad_domain.org'],
    ['CAIRN_ORS_DOMAIN', '-x.org'],
    ['CAIRN_PUBLIC_URL', 'ftp://x'],
    ['CAIRN_DNS_NOTIFY', 'secondary.example:53'],
    ['CAIRN_DNS_TRANSFER_ALLOW', 'anyone'],
    ['CAIRN_BODY_LIMIT', '0'],
    ['CAIRN_DOIP_PORT', '65536'],
    ['CAIRN_DOIP_PORT', 'tls'],
    ['CAIRN_MIRROR_OF', 'http://primary.example'], // without CAIRN_MIRROR_IDENTITY and CAIRN_MIRROR_SECRET
    ['CAIRN_MIRROR_POLL_MS', '0'],
    ['CAIRN_OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', '-1'],
    ['CAIRN_OVERLOAD_RETRY_AFTER', '0'],
  ])('%s=%s is ERR_CONFIG_INVALID', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it.each([
    ['ftp://primary.example'],
    ['primary.example'],
    ['http://primary.example/?x=1'],
    ['http://user:pw@primary.example'],
  ])('CAIRN_MIRROR_OF=%s is ERR_CONFIG_INVALID', (url) => {
    const env = { CAIRN_MIRROR_OF: url, CAIRN_MIRROR_IDENTITY: '300:0.NA/20.5000', CAIRN_MIRROR_SECRET: 'replication-secret' };
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ CAIRN_HTTP_PORT: '' }).httpPort).toBe(DEFAULTS.httpPort);
  });
});
