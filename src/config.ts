import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
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
  /** LevelDB table files kept open (their index and filter blocks in memory); see README "Scale". */
  readonly storeMaxOpenFiles: number;
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
  /** Load shedding (src/http/overload.ts): limits past which requests are answered 503; 0 switches one off. */
  readonly overloadMaxInFlight: number;
  readonly overloadMaxEventLoopDelayMs: number;
  readonly overloadMaxHeapBytes: number;
  readonly overloadMaxRssBytes: number;
  readonly overloadRetryAfterSeconds: number;
  /** Failed logins allowed per client address, and per identity, in one window (src/families/doa/login-limiter.ts). */
  readonly loginFailuresPerAddress: number;
  readonly loginFailuresPerIdentity: number;
  readonly loginFailureWindowSeconds: number;
  /** Device verification (issue 6, src/families/products/verify/): clone rules, log retention, rate limit, lifetimes. */
  readonly verifyMaxSpeedKmh: number;
  readonly verifyRetentionSeconds: number;
  readonly verifyRateLimit: number;
  readonly verifyRatePerSecond: number;
  readonly verifyChallengeTtlSeconds: number;
  readonly verifyTokenLifetimeSeconds: number;
}

/** Where an effective setting came from (`cairn config`). */
export type ConfigSource = 'default' | 'file' | 'env';

/** How a setting is read: `text` from an environment variable, or a file value turned into text. */
interface Setting<T> {
  /** Environment variable. The file key is the setting's name in `Config` (camelCase). */
  readonly env: string;
  /** JSON type the configuration file must give it. */
  readonly json: 'string' | 'integer' | 'boolean' | 'list';
  readonly default: T;
  /** The default as the README shows it. */
  readonly shown: string;
  /** The README's description (the configuration table is checked against this). */
  readonly doc: string;
  /** Never printed: `cairn config` and the ready log line show only whether it is set. */
  readonly secret?: boolean;
  /** `name` names the variable or the file key in errors; `base` resolves relative paths. */
  readonly parse: (text: string, name: string, base: string) => T;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function port(text: string, name: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ConfigInvalid(`${name} must be a port number 0-65535, got "${text}"`);
  return Number(text);
}

function positiveInt(text: string, name: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new ConfigInvalid(`${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

/** 0 switches the limit off. */
function limit(text: string, name: string): number {
  if (!/^(0|[1-9]\d{0,14})$/.test(text)) throw new ConfigInvalid(`${name} must be a whole number (0: off), got "${text}"`);
  return Number(text);
}

/** A positive integer up to `max` (a limit the protocol sets). */
function upTo(max: number) {
  return (t: string, name: string): number => {
    const n = positiveInt(t, name);
    if (n > max) throw new ConfigInvalid(`${name} must be at most ${max}, got "${t}"`);
    return n;
  };
}

function bool(text: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigInvalid(`${name} must be true or false, got "${text}"`);
}

const text = (t: string): string => t;
const path = (t: string, _name: string, base: string): string => resolve(base, t);
const list = (t: string): string[] => t.split(',').map((x) => x.trim()).filter((x) => x !== '');

function oneOf<T extends string>(values: readonly T[]) {
  return (t: string, name: string): T => {
    if (!(values as readonly string[]).includes(t)) throw new ConfigInvalid(`${name} must be one of ${values.join(', ')}, got "${t}"`);
    return t as T;
  };
}

/**
 * Every setting once: its variable, file key, default, README text and parser. DEFAULTS,
 * ENVIRONMENT, the file's known keys and the README's configuration table all come from here.
 */
export const SETTINGS: { readonly [K in keyof Config]-?: Setting<Config[K]> } = {
  host: { env: 'CAIRN_HOST', json: 'string', default: '127.0.0.1', shown: '127.0.0.1', doc: 'address the HTTP listener binds', parse: text },
  httpPort: { env: 'CAIRN_HTTP_PORT', json: 'integer', default: 8080, shown: '8080', doc: 'HTTP port; `0` picks a free one (the ready log line says which)', parse: port },
  dataDir: { env: 'CAIRN_DATA_DIR', json: 'string', default: './data', shown: './data', doc: 'LevelDB store (`leveldb/`) and `admin-credentials.json`', parse: path },
  certsDir: { env: 'CAIRN_CERTS_DIR', json: 'string', default: './certs', shown: './certs', doc: 'signing keys `signing-<alg>.key.pem` / `.pub.pem`', parse: path },
  prefix: {
    env: 'CAIRN_PREFIX', json: 'string', default: '20.5000', shown: '20.5000', doc: 'the handle prefix served; its admin is `300:0.NA/<prefix>`',
    parse: (t, name) => {
      if (!/^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(t) || /^0\.NA$/i.test(t)) throw new ConfigInvalid(`${name} must be a handle prefix such as 20.5000, got "${t}"`);
      return t;
    },
  },
  adminSecret: {
    env: 'CAIRN_ADMIN_SECRET', json: 'string', default: undefined, shown: 'generated', secret: true,
    doc: "the service admin's secret on first start (12+ characters)",
    parse: (t, name) => {
      if (t.length < 12) throw new ConfigInvalid(`${name} must be at least 12 characters`);
      return t;
    },
  },
  signingAlg: {
    env: 'CAIRN_SIGNING_ALG', json: 'string', default: 'EdDSA', shown: 'EdDSA', doc: 'record signature algorithm: `EdDSA` (Ed25519), `ES256`, `RS256`',
    parse: (t, name) => {
      if (!isSigningAlg(t)) throw new ConfigInvalid(`${name} must be EdDSA, ES256 or RS256, got "${t}"`);
      return t;
    },
  },
  logLevel: { env: 'CAIRN_LOG_LEVEL', json: 'string', default: 'info', shown: 'info', doc: 'pino level; `info` also writes one access line per request', parse: oneOf(LOG_LEVELS) },
  syncWrites: { env: 'CAIRN_SYNC_WRITES', json: 'boolean', default: true, shown: 'true', doc: 'fsync every write batch (power-loss durability, not only process death)', parse: bool },
  storeMaxOpenFiles: {
    env: 'CAIRN_STORE_MAX_OPEN_FILES', json: 'integer', default: 1000, shown: '1000',
    doc: 'LevelDB table files kept open: each holds its index and filter blocks in memory; past this a random read may reopen a table (see BENCHMARKS.md (f))',
    parse: positiveInt,
  },
  bodyLimit: { env: 'CAIRN_BODY_LIMIT', json: 'integer', default: 1024 * 1024, shown: '1048576', doc: 'largest request body in bytes', parse: positiveInt },
  signatureValiditySeconds: {
    env: 'CAIRN_SIGNATURE_VALIDITY', json: 'integer', default: 2 * 365 * 24 * 3600, shown: '63072000', doc: 'seconds a record signature stays valid (2 years)', parse: positiveInt,
  },
  dnsPort: { env: 'CAIRN_DNS_PORT', json: 'integer', default: 5353, shown: '5353', doc: 'UDP and TCP port of the ORS DNS responder; `0` picks a free one', parse: port },
  orsDomain: {
    env: 'CAIRN_ORS_DOMAIN', json: 'string', default: 'oid-res.org', shown: 'oid-res.org', doc: 'the ORS domain the OID tree is published under (X.672)',
    parse: (t, name) => {
      const domain = t.toLowerCase().replace(/\.$/, '');
      if (!/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(domain) || domain.length > 200) {
        throw new ConfigInvalid(`${name} must be a DNS domain such as oid-res.org, got "${domain}"`);
      }
      return domain;
    },
  },
  publicUrl: {
    env: 'CAIRN_PUBLIC_URL', json: 'string', default: undefined, shown: 'http://CAIRN_HOST:CAIRN_HTTP_PORT', doc: 'base URL that ORS URI records (UINF, CINF, RINF) point at',
    parse: (t, name) => {
      if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(t)) throw new ConfigInvalid(`${name} must be an http(s) URL, got "${t}"`);
      return t.replace(/\/+$/, '');
    },
  },
  dnsNotify: {
    env: 'CAIRN_DNS_NOTIFY', json: 'list', default: [], shown: 'none', doc: 'secondaries to send DNS NOTIFY on zone changes, `address:port,...`',
    parse: (t, name) => {
      const targets = list(t);
      for (const target of targets) {
        if (!/^(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/.test(target)) throw new ConfigInvalid(`${name} entries must be address:port, got "${target}"`);
      }
      return targets;
    },
  },
  dnsTransferAllow: {
    env: 'CAIRN_DNS_TRANSFER_ALLOW', json: 'list', default: ['127.0.0.1', '::1'], shown: '127.0.0.1,::1', doc: 'addresses allowed to transfer the zone (AXFR, IXFR)',
    parse: (t, name) => {
      const addresses = list(t);
      for (const address of addresses) if (isIP(address) === 0) throw new ConfigInvalid(`${name} entries must be IP addresses, got "${address}"`);
      return addresses;
    },
  },
  doipPort: {
    env: 'CAIRN_DOIP_PORT', json: 'integer', default: 9000, shown: '9000', doc: 'DOIP v2.0 over TLS (development certificate in `CAIRN_CERTS_DIR`); `0` picks a free one', parse: port,
  },
  mirrorOf: {
    env: 'CAIRN_MIRROR_OF', json: 'string', default: undefined, shown: 'none',
    doc: 'run as a read-only mirror of the primary at this base URL (same as `cairn serve --mirror-of URL`; see [Mirrors](#mirrors))',
    // Checked with the mirror's credentials once everything is read (withMirror).
    parse: text,
  },
  mirrorIdentity: {
    env: 'CAIRN_MIRROR_IDENTITY', json: 'string', default: undefined, shown: 'none',
    doc: "`index:handle` the mirror reads the primary's change feed as (needs `LIST_HANDLES` on the primary's prefix)", parse: text,
  },
  mirrorSecret: {
    env: 'CAIRN_MIRROR_SECRET', json: 'string', default: undefined, shown: 'none', secret: true,
    doc: "that identity's secret (HTTP Basic; send it over https unless the primary is on loopback)", parse: text,
  },
  mirrorPollMs: {
    env: 'CAIRN_MIRROR_POLL_MS', json: 'integer', default: 1000, shown: '1000', doc: "milliseconds between polls of the primary's change feed when it has nothing new", parse: positiveInt,
  },
  overloadMaxInFlight: {
    env: 'CAIRN_OVERLOAD_MAX_IN_FLIGHT', json: 'integer', default: 512, shown: '512',
    doc: 'shed load (503 + `Retry-After`) while this many HTTP requests are being answered; `0`: off', parse: limit,
  },
  overloadMaxEventLoopDelayMs: {
    env: 'CAIRN_OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', json: 'integer', default: 500, shown: '500',
    doc: 'shed load once every event-loop delay sample (10 a second) has exceeded this many ms for 2 s, with requests arriving and the loop busy; `0`: off', parse: limit,
  },
  overloadMaxHeapBytes: { env: 'CAIRN_OVERLOAD_MAX_HEAP_BYTES', json: 'integer', default: 0, shown: '0', doc: 'shed load while the V8 heap in use exceeds this many bytes; `0`: off', parse: limit },
  overloadMaxRssBytes: { env: 'CAIRN_OVERLOAD_MAX_RSS_BYTES', json: 'integer', default: 0, shown: '0', doc: 'shed load while resident memory exceeds this many bytes; `0`: off', parse: limit },
  overloadRetryAfterSeconds: {
    env: 'CAIRN_OVERLOAD_RETRY_AFTER', json: 'integer', default: 10, shown: '10', doc: 'the `Retry-After` (seconds) of a shed request', parse: positiveInt,
  },
  loginFailuresPerAddress: {
    env: 'CAIRN_LOGIN_FAILURES_PER_ADDRESS', json: 'integer', default: 20, shown: '20',
    doc: 'failed logins (Basic, Handle challenge, DOIP) a client address (an IPv6 /64) may make per window; then 429 `ERR_AUTH_RATE_LIMITED` until the window ends', parse: positiveInt,
  },
  loginFailuresPerIdentity: {
    env: 'CAIRN_LOGIN_FAILURES_PER_IDENTITY', json: 'integer', default: 10, shown: '10', doc: 'failed logins per identity and credential type (`HS_SECKEY`, `HS_PUBKEY`) per window', parse: positiveInt,
  },
  loginFailureWindowSeconds: {
    env: 'CAIRN_LOGIN_FAILURE_WINDOW', json: 'integer', default: 60, shown: '60', doc: 'seconds a failed-login window lasts, from its first failure', parse: positiveInt,
  },
  verifyMaxSpeedKmh: {
    env: 'CAIRN_VERIFY_MAX_SPEED_KMH', json: 'integer', default: 900, shown: '900',
    doc: 'fastest plausible travel between two verifications of one item (km/h); faster is `impossible-travel`', parse: positiveInt,
  },
  verifyRetentionSeconds: {
    env: 'CAIRN_VERIFY_RETENTION', json: 'integer', default: 30 * 24 * 3600, shown: '2592000', doc: 'seconds the verification log keeps an entry (30 days)', parse: positiveInt,
  },
  verifyRateLimit: {
    env: 'CAIRN_VERIFY_RATE_LIMIT', json: 'integer', default: 30, shown: '30', doc: 'verify requests (challenges and verifications) a client address may burst; then 429 `ERR_VERIFY_RATE_LIMITED`', parse: positiveInt,
  },
  verifyRatePerSecond: {
    env: 'CAIRN_VERIFY_RATE_PER_SECOND', json: 'integer', default: 1, shown: '1', doc: "verify requests per second a client address's allowance refills by", parse: positiveInt,
  },
  verifyChallengeTtlSeconds: {
    env: 'CAIRN_VERIFY_CHALLENGE_TTL', json: 'integer', default: 120, shown: '120', doc: 'seconds a verification challenge stays valid (at most 120)', parse: upTo(120),
  },
  verifyTokenLifetimeSeconds: {
    env: 'CAIRN_VERIFY_TOKEN_LIFETIME', json: 'integer', default: 300, shown: '300', doc: 'seconds a signed verdict token is valid (`exp - iat`, at most 300)', parse: upTo(300),
  },
};

const KEYS = Object.keys(SETTINGS) as (keyof Config)[];

export const DEFAULTS: Config = Object.fromEntries(KEYS.map((k) => [k, SETTINGS[k].default])) as unknown as Config;

/** Environment variable for each setting (also the README's configuration table). */
export const ENVIRONMENT: Readonly<Record<keyof Config, string>> = Object.fromEntries(KEYS.map((k) => [k, SETTINGS[k].env])) as Record<keyof Config, string>;

/** A configuration and where each of its values came from. */
export interface LoadedConfig {
  readonly config: Config;
  readonly sources: Readonly<Record<keyof Config, ConfigSource>>;
  /** The configuration file read, absolute; undefined without one. */
  readonly file: string | undefined;
}

/**
 * Builds the configuration: environment variables over the configuration file (`--config`) over
 * the defaults; throws ERR_CONFIG_INVALID. `overrides` (tests, the CLI's flags) win over all.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}, file?: string): Config {
  const { config } = loadConfigWithSources(env, file);
  return { ...config, ...overrides };
}

export function loadConfigWithSources(env: NodeJS.ProcessEnv = process.env, file?: string): LoadedConfig {
  const fromFile = file === undefined ? undefined : readConfigFile(file);
  const values: Record<string, unknown> = {};
  const sources = {} as Record<keyof Config, ConfigSource>;
  const cwd = process.cwd();
  for (const key of KEYS) {
    const setting = SETTINGS[key] as Setting<unknown>;
    const envText = env[setting.env];
    if (envText !== undefined && envText !== '') {
      values[key] = setting.parse(envText, setting.env, cwd);
      sources[key] = 'env';
    } else if (fromFile && fromFile.values[key] !== undefined) {
      values[key] = setting.parse(fromFile.values[key], `"${key}" in ${fromFile.file}`, dirname(fromFile.file));
      sources[key] = 'file';
    } else {
      const d = setting.default;
      values[key] = typeof d === 'string' && setting.parse === path ? resolve(cwd, d) : Array.isArray(d) ? [...(d as unknown[])] : d;
      sources[key] = 'default';
    }
  }
  const config = values as unknown as Config;
  const mirrorOf = config.mirrorOf;
  return { config: mirrorOf === undefined ? config : withMirror({ ...config, mirrorOf: undefined }, mirrorOf), sources, file: fromFile?.file };
}

/**
 * Reads a JSON configuration file: one object whose keys are settings' file keys, each of the
 * JSON type the setting takes (null: not set here). Unknown keys and wrong types are
 * ERR_CONFIG_INVALID naming the key and the file. Returns each value as the text a variable would hold.
 */
function readConfigFile(given: string): { file: string; values: Partial<Record<keyof Config, string>> } {
  const file = resolve(given);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigInvalid(`Cannot read the configuration file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new ConfigInvalid(`The configuration file ${file} is not JSON: ${(e as Error).message}`, { file });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigInvalid(`The configuration file ${file} must hold one JSON object of settings`, { file });
  }
  const values: Partial<Record<keyof Config, string>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!Object.hasOwn(SETTINGS, key)) {
      throw new ConfigInvalid(`Unknown key "${key}" in ${file}; known keys: ${KEYS.join(', ')}`, { file, key });
    }
    if (value === null) continue;
    const setting = SETTINGS[key as keyof Config] as Setting<unknown>;
    const wrong = (): ConfigInvalid =>
      new ConfigInvalid(`"${key}" in ${file} must be ${JSON_TYPE_NAMES[setting.json]}, got ${JSON.stringify(value)}`, { file, key });
    switch (setting.json) {
      case 'string':
        if (typeof value !== 'string') throw wrong();
        values[key as keyof Config] = value;
        break;
      case 'integer':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrong();
        values[key as keyof Config] = String(value);
        break;
      case 'boolean':
        if (typeof value !== 'boolean') throw wrong();
        values[key as keyof Config] = String(value);
        break;
      case 'list':
        if (!Array.isArray(value) || !value.every((x) => typeof x === 'string' && !x.includes(','))) throw wrong();
        values[key as keyof Config] = value.join(',');
        break;
    }
  }
  return { file, values };
}

const JSON_TYPE_NAMES = { string: 'a string', integer: 'an integer', boolean: 'true or false', list: 'an array of strings' } as const;

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
  const out: Record<string, unknown> = { ...config };
  for (const key of KEYS) if (SETTINGS[key].secret && config[key] !== undefined) out[key] = REDACTED;
  return out;
}

/** What a secret that is set shows as. */
export const REDACTED = '<redacted>';

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
