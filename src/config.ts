import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConfigInvalid } from './errors.js';
import { isSigningAlg, type SigningAlg } from './signing/algorithms.js';

/** Everything Cairn can be told. The only module that reads `process.env`. */
export interface Config {
  readonly host: string;
  /** 0 picks a free port. */
  readonly httpPort: number;
  readonly dataDir: string;
  readonly certsDir: string;
  /** The service's handle prefix; its admin is `300:0.NA/<prefix>`. */
  readonly prefix: string;
  /** The admin's secret on first start; generated and written to the data directory when absent. */
  readonly adminSecret: string | undefined;
  readonly signingAlg: SigningAlg;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** fsync each write batch. */
  readonly syncWrites: boolean;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /** How long a record signature stays valid. */
  readonly signatureValiditySeconds: number;
  /** UDP and TCP port of the ORS DNS responder; 0 picks a free port. */
  readonly dnsPort: number;
  /** The ORS domain the OID tree is published under (X.672). */
  readonly orsDomain: string;
  /** Base URL that ORS URI records point at; defaults to the HTTP listener's address. */
  readonly publicUrl: string | undefined;
  /** Secondaries sent DNS NOTIFY when the zone changes (`host:port`). */
  readonly dnsNotify: readonly string[];
  /** Addresses allowed to transfer the zone (AXFR, IXFR). */
  readonly dnsTransferAllow: readonly string[];
  /** TLS port of the DOIP v2.0 listener; 0 picks a free port. */
  readonly doipPort: number;
  /** Base URL of the primary this server mirrors (read-only); undefined for a primary. */
  readonly mirrorOf: string | undefined;
  /** `index:handle` the mirror reads the primary's change feed as (needs LIST_HANDLES there). */
  readonly mirrorIdentity: string | undefined;
  readonly mirrorSecret: string | undefined;
  /** Milliseconds between polls of the primary's change feed when it has nothing new. */
  readonly mirrorPollMs: number;
}

export const DEFAULTS: Config = {
  host: '127.0.0.1',
  httpPort: 8080,
  dataDir: './data',
  certsDir: './certs',
  prefix: '20.5000',
  adminSecret: undefined,
  signingAlg: 'EdDSA',
  logLevel: 'info',
  syncWrites: true,
  bodyLimit: 1024 * 1024,
  signatureValiditySeconds: 2 * 365 * 24 * 3600,
  dnsPort: 5353,
  orsDomain: 'oid-res.org',
  publicUrl: undefined,
  dnsNotify: [],
  dnsTransferAllow: ['127.0.0.1', '::1'],
  doipPort: 9000,
  mirrorOf: undefined,
  mirrorIdentity: undefined,
  mirrorSecret: undefined,
  mirrorPollMs: 1000,
};

/** Environment variable for each setting (also the README's configuration table). */
export const ENVIRONMENT: Readonly<Record<keyof Config, string>> = {
  host: 'CAIRN_HOST',
  httpPort: 'CAIRN_HTTP_PORT',
  dataDir: 'CAIRN_DATA_DIR',
  certsDir: 'CAIRN_CERTS_DIR',
  prefix: 'CAIRN_PREFIX',
  adminSecret: 'CAIRN_ADMIN_SECRET',
  signingAlg: 'CAIRN_SIGNING_ALG',
  logLevel: 'CAIRN_LOG_LEVEL',
  syncWrites: 'CAIRN_SYNC_WRITES',
  bodyLimit: 'CAIRN_BODY_LIMIT',
  signatureValiditySeconds: 'CAIRN_SIGNATURE_VALIDITY',
  dnsPort: 'CAIRN_DNS_PORT',
  orsDomain: 'CAIRN_ORS_DOMAIN',
  publicUrl: 'CAIRN_PUBLIC_URL',
  dnsNotify: 'CAIRN_DNS_NOTIFY',
  dnsTransferAllow: 'CAIRN_DNS_TRANSFER_ALLOW',
  doipPort: 'CAIRN_DOIP_PORT',
  mirrorOf: 'CAIRN_MIRROR_OF',
  mirrorIdentity: 'CAIRN_MIRROR_IDENTITY',
  mirrorSecret: 'CAIRN_MIRROR_SECRET',
  mirrorPollMs: 'CAIRN_MIRROR_POLL_MS',
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function port(name: string, text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ConfigInvalid(`${name} must be a port number 0-65535, got "${text}"`);
  return Number(text);
}

function positiveInt(name: string, text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new ConfigInvalid(`${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

function bool(name: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigInvalid(`${name} must be true or false, got "${text}"`);
}

/** Builds the configuration from environment variables over the defaults; throws ERR_CONFIG_INVALID. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const read = (key: keyof Config): string | undefined => {
    const v = env[ENVIRONMENT[key]];
    return v === undefined || v === '' ? undefined : v;
  };
  const e = (key: keyof Config): string => ENVIRONMENT[key];
  const alg = read('signingAlg');
  if (alg !== undefined && !isSigningAlg(alg)) throw new ConfigInvalid(`${e('signingAlg')} must be EdDSA, ES256 or RS256, got "${alg}"`);
  const level = read('logLevel');
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigInvalid(`${e('logLevel')} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const prefix = read('prefix') ?? DEFAULTS.prefix;
  if (!/^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(prefix) || /^0\.NA$/i.test(prefix)) {
    throw new ConfigInvalid(`${e('prefix')} must be a handle prefix such as 20.5000, got "${prefix}"`);
  }
  const secret = read('adminSecret');
  if (secret !== undefined && secret.length < 12) throw new ConfigInvalid(`${e('adminSecret')} must be at least 12 characters`);
  const orsDomain = (read('orsDomain') ?? DEFAULTS.orsDomain).toLowerCase().replace(/\.$/, '');
  if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(orsDomain) || orsDomain.length > 200) {
    throw new ConfigInvalid(`${e('orsDomain')} must be a DNS domain such as oid-res.org, got "${orsDomain}"`);
  }
  const publicUrl = read('publicUrl');
  if (publicUrl !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(publicUrl)) {
    throw new ConfigInvalid(`${e('publicUrl')} must be an http(s) URL, got "${publicUrl}"`);
  }
  const list = (key: keyof Config): string[] | undefined => read(key)?.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const notify = list('dnsNotify') ?? [...DEFAULTS.dnsNotify];
  for (const target of notify) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(target)) throw new ConfigInvalid(`${e('dnsNotify')} entries must be address:port, got "${target}"`);
  }
  const transferAllow = list('dnsTransferAllow') ?? [...DEFAULTS.dnsTransferAllow];
  for (const address of transferAllow) {
    if (isIP(address) === 0) throw new ConfigInvalid(`${e('dnsTransferAllow')} entries must be IP addresses, got "${address}"`);
  }
  const config: Config = {
    host: read('host') ?? DEFAULTS.host,
    httpPort: read('httpPort') === undefined ? DEFAULTS.httpPort : port(e('httpPort'), read('httpPort')!),
    dataDir: resolve(read('dataDir') ?? DEFAULTS.dataDir),
    certsDir: resolve(read('certsDir') ?? DEFAULTS.certsDir),
    prefix,
    adminSecret: secret,
    signingAlg: (alg as SigningAlg | undefined) ?? DEFAULTS.signingAlg,
    logLevel: (level as Config['logLevel'] | undefined) ?? DEFAULTS.logLevel,
    syncWrites: read('syncWrites') === undefined ? DEFAULTS.syncWrites : bool(e('syncWrites'), read('syncWrites')!),
    bodyLimit: read('bodyLimit') === undefined ? DEFAULTS.bodyLimit : positiveInt(e('bodyLimit'), read('bodyLimit')!),
    signatureValiditySeconds:
      read('signatureValiditySeconds') === undefined
        ? DEFAULTS.signatureValiditySeconds
        : positiveInt(e('signatureValiditySeconds'), read('signatureValiditySeconds')!),
    dnsPort: read('dnsPort') === undefined ? DEFAULTS.dnsPort : port(e('dnsPort'), read('dnsPort')!),
    orsDomain,
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    dnsNotify: notify,
    dnsTransferAllow: transferAllow,
    doipPort: read('doipPort') === undefined ? DEFAULTS.doipPort : port(e('doipPort'), read('doipPort')!),
    mirrorOf: undefined,
    mirrorIdentity: read('mirrorIdentity'),
    mirrorSecret: read('mirrorSecret'),
    mirrorPollMs: read('mirrorPollMs') === undefined ? DEFAULTS.mirrorPollMs : positiveInt(e('mirrorPollMs'), read('mirrorPollMs')!),
  };
  const mirrorOf = read('mirrorOf');
  return { ...(mirrorOf === undefined ? config : withMirror(config, mirrorOf)), ...overrides };
}

/**
 * The configuration of a read-only mirror of the primary at `url` (`CAIRN_MIRROR_OF` or
 * `cairn serve --mirror-of URL`): an http(s) base URL, and the identity and secret the mirror reads
 * the primary's change feed with. Throws ERR_CONFIG_INVALID.
 */
export function withMirror(config: Config, url: string): Config {
  const name = ENVIRONMENT.mirrorOf;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigInvalid(`${name} must be the primary's http(s) base URL, got "${url}"`);
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
    throw new ConfigInvalid(`${name} must be the primary's http(s) base URL without query, fragment or credentials, got "${url}"`);
  }
  if (config.mirrorIdentity === undefined || config.mirrorSecret === undefined) {
    throw new ConfigInvalid(
      `A mirror reads the primary's change feed with credentials: set ${ENVIRONMENT.mirrorIdentity} (index:handle, with LIST_HANDLES on the primary's prefix) and ${ENVIRONMENT.mirrorSecret}`,
    );
  }
  if (!/^\d{1,10}:[^\s]+\/[^\s]+$/.test(config.mirrorIdentity)) {
    throw new ConfigInvalid(`${ENVIRONMENT.mirrorIdentity} must be an identity index:handle such as 300:0.NA/20.5000, got "${config.mirrorIdentity}"`);
  }
  return { ...config, mirrorOf: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}` };
}

/** The configuration without secrets, for logs and `cairn config`. */
export function redactConfig(config: Config): Record<string, unknown> {
  const hidden = (secret: string | undefined): string | undefined => (secret === undefined ? undefined : '<redacted>');
  return { ...config, adminSecret: hidden(config.adminSecret), mirrorSecret: hidden(config.mirrorSecret) };
}

/** Settings of the CLI's client commands (`resolve`, `put`), which talk to a running server. */
export interface ClientConfig {
  readonly url: string;
  /** `index:handle`; defaults to the admin credentials file in the data directory. */
  readonly identity: string | undefined;
  readonly secret: string | undefined;
}

export function loadClientConfig(config: Config, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: (env.CAIRN_URL || `http://${host}:${config.httpPort}`).replace(/\/+$/, ''),
    identity: env.CAIRN_IDENTITY || undefined,
    secret: env.CAIRN_SECRET || undefined,
  };
}
