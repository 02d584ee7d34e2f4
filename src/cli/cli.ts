import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientConfig, loadConfig, withMirror, type ClientConfig, type Config } from '../config.js';
import { AuthRequired, CairnError, type ErrorCode, ERRORS } from '../errors.js';
import { runServer } from '../server.js';
import { importFile } from './import.js';
import { importItsFile, parseItsImportArgs } from './its-import.js';
import { importProductsFile } from './products-import.js';
import { exportZone } from './zone-export.js';
import { backupCommand } from '../ops/backup.js';
import { formatReport, runDoctor } from '../ops/doctor.js';
import { restoreBackup } from '../ops/restore.js';
import { keysCommand } from '../ops/rotate.js';
import { effectiveConfig, takeConfigFlag } from './config-command.js';

const USAGE = `Usage: cairn <command> [--config FILE]

  --config FILE          (with any command) read settings from a JSON file; CAIRN_* environment
                         variables override it
  config                 print the effective configuration as JSON, secrets masked, with the source
                         (default, file, env) of each value
  serve [--mirror-of URL]
                         run the service (configuration from CAIRN_* variables and --config);
                         with --mirror-of (or CAIRN_MIRROR_OF), a read-only mirror of that primary
  resolve ID             resolve an identifier (hdl:PREFIX/SUFFIX) on a running server
  put HANDLE FILE        create or replace a handle from a JSON file of values on a running server
  import FILE.ndjson     bulk-load handles into the data directory (server stopped); one
                         {"handle": ..., "values": [...]} per line; resumable and idempotent
  its import FILE.geojson [--issuer CC.authority]
                         load road signs from a GeoJSON FeatureCollection of points with
                         OpenStreetMap traffic_sign and direction (server stopped); idempotent,
                         bad features reported and skipped
  products import FILE.ndjson
                         register product items into the data directory (server stopped): a
                         manifest line {"manifestId", "count", "prefix"}, then one item per line;
                         resumable, idempotent by manifest id; exit 65 if any row failed
  zone export [FILE]     write the ORS DNS zone (RFC 1035 master file) to FILE or stdout
                         (server stopped; a running server serves the same zone by AXFR)
  keys rotate [--alg EdDSA|ES256|RS256] [--retire-after TIME|DURATION|never] [--defer]
              [--batch N] [--pause-ms N]
                         new signing key, active at once; the old one stays in the JWKS until
                         TIME (RFC 3339) or now + DURATION (30d, 12h, P90D; default
                         CAIRN_SIGNATURE_VALIDITY); re-signs every record in batches, resumably
                         (--defer: leaves that to the next start). Server stopped
  keys resign [--batch N] [--pause-ms N]
                         finish an interrupted rotation and its re-sign (server stopped; a
                         starting server also resumes the re-sign, in the background)
  keys list              the signing keys and their state, and the re-sign's progress
  backup FILE            write a consistent, sealed backup of the whole store (gzip NDJSON) to FILE:
                         from the running server (service admin credentials, as for put) or,
                         with the server stopped, from the data directory
  restore FILE           restore a backup into an empty CAIRN_DATA_DIR after verifying its hash,
                         seal, every signature (keys in CAIRN_CERTS_DIR), history, change log and
                         indexes; a damaged or tampered file is refused and leaves nothing
  doctor [--json]        check the data directory (server stopped): records, views, signatures,
                         history, change log, indexes; exit 0 when clean, 65 with problems

Client commands use CAIRN_URL (default http://CAIRN_HOST:CAIRN_HTTP_PORT) and CAIRN_IDENTITY /
CAIRN_SECRET, else the admin credentials file in CAIRN_DATA_DIR.`;

export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  const flag = takeConfigFlag(argv);
  if ('error' in flag) throw new UsageError(flag.error);
  const [command, ...args] = flag.rest;
  const config = loadConfig(process.env, {}, flag.file);
  switch (command) {
    case 'serve':
      return serve(serveConfig(config, args));
    case 'config':
      if (args.length > 0) throw new UsageError('usage: cairn [--config FILE] config');
      process.stdout.write(`${JSON.stringify(effectiveConfig(process.env, flag.file), null, 2)}\n`);
      return 0;
    case 'resolve':
      return resolveCommand(loadClientConfig(config), requireArgs(args, 1, 'resolve ID')[0]!);
    case 'put': {
      const [handle, file] = requireArgs(args, 2, 'put HANDLE FILE');
      return putCommand(config, loadClientConfig(config), handle!, file!);
    }
    case 'import': {
      const [file] = requireArgs(args, 1, 'import FILE.ndjson');
      const outcome = await importFile(config, file!, { progress: process.stderr.isTTY === true });
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return 0;
    }
    case 'its': {
      const parsed = parseItsImportArgs(args);
      if ('usage' in parsed) throw new UsageError(parsed.usage);
      const { file, issuer } = parsed;
      const outcome = await importItsFile(config, file, { progress: process.stderr.isTTY === true, ...(issuer === undefined ? {} : { issuer }) });
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return 0;
    }
    case 'products': {
      if (args[0] !== 'import' || args.length !== 2) throw new UsageError('usage: cairn products import FILE.ndjson');
      const outcome = await importProductsFile(config, args[1]!, { progress: process.stderr.isTTY === true });
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return outcome.failed > 0 ? 65 : 0;
    }
    case 'zone': {
      if (args[0] !== 'export' || args.length > 2) throw new UsageError('usage: cairn zone export [FILE]');
      const outcome = await exportZone(config, args[1]);
      if (args[1] !== undefined && args[1] !== '-') process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return 0;
    }
    case 'keys':
      return keysCommand(config, args, (message) => new UsageError(message));
    case 'backup': {
      const [file] = requireArgs(args, 1, 'backup FILE');
      const client = { client: () => loadClientConfig(config), unreachable: (message: string) => new ServerUnreachable(message) };
      const outcome = await backupCommand(config, client, file!);
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return 0;
    }
    case 'restore': {
      const [file] = requireArgs(args, 1, 'restore FILE');
      const outcome = await restoreBackup(config, file!);
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
      return 0;
    }
    case 'doctor': {
      if (args.length > 1 || (args.length === 1 && args[0] !== '--json')) throw new UsageError('usage: cairn doctor [--json]');
      const { report, exit } = await runDoctor(config);
      process.stdout.write(args[0] === '--json' ? `${JSON.stringify(report)}\n` : formatReport(report));
      return exit;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 64 : 0;
    default:
      process.stderr.write(`cairn: unknown command "${command}"\n${USAGE}\n`);
      return 64;
  }
}

/** A command used wrongly: exit 64 (EX_USAGE) with the usage line, not a data error. */
export class UsageError extends Error {}

function requireArgs(args: readonly string[], n: number, usage: string): readonly string[] {
  if (args.length !== n) throw new UsageError(`usage: cairn ${usage}`);
  return args;
}

/** The server could not be reached: exit 69 (EX_UNAVAILABLE). */
export class ServerUnreachable extends Error {}

async function request(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new ServerUnreachable(`cannot reach ${new URL(url).origin} (${cause}); is the server running? (CAIRN_URL)`);
  }
}

/** `serve [--mirror-of URL]` (also `--mirror-of=URL`); the flag wins over CAIRN_MIRROR_OF. */
export function serveConfig(config: Config, args: readonly string[]): Config {
  const usage = 'usage: cairn serve [--mirror-of URL]';
  if (args.length === 0) return config;
  const [flag, value, ...rest] = args;
  if (flag?.startsWith('--mirror-of=') && value === undefined) return withMirror(config, flag.slice('--mirror-of='.length));
  if (flag !== '--mirror-of' || value === undefined || value.startsWith('--') || rest.length > 0) throw new UsageError(usage);
  return withMirror(config, value);
}

async function serve(config: Config): Promise<undefined> {
  const server = await runServer(config);
  const shutdown = (signal: string): void => {
    server.app.log.info({ event: 'shutdown', signal }, 'cairn stopping');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return undefined;
}

/** Handle paths keep `/` between segments; everything else in a segment is percent-encoded. */
const encodePath = (id: string): string => id.split('/').map(encodeURIComponent).join('/');

async function resolveCommand(client: ClientConfig, id: string): Promise<number> {
  const res = await request(`${client.url}/api/resolve/${encodePath(id)}`);
  const body = await res.text();
  process.stdout.write(`${body}\n`);
  return errorExit(res.status, body);
}

async function putCommand(config: Config, client: ClientConfig, handle: string, file: string): Promise<number> {
  const { identity, secret } = credentials(config, client);
  const user = encodeURIComponent(identity);
  const body = readFileSync(file);
  const res = await request(`${client.url}/api/handles/${encodePath(handle)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` },
    body,
  });
  const answer = await res.text();
  process.stdout.write(`${answer}\n`);
  return errorExit(res.status, answer);
}

function credentials(config: Config, client: ClientConfig): { identity: string; secret: string } {
  if (client.identity && client.secret) return { identity: client.identity, secret: client.secret };
  const file = join(config.dataDir, 'admin-credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { identity: string; secret: string };
  throw new AuthRequired('Set CAIRN_IDENTITY and CAIRN_SECRET, or run where CAIRN_DATA_DIR holds admin-credentials.json');
}

/** 0 on success; otherwise the exit code the server's error code maps to. */
function errorExit(status: number, body: string): number {
  if (status < 400) return 0;
  let code: ErrorCode = 'ERR_INTERNAL';
  try {
    const parsed = JSON.parse(body) as { code?: string; responseCode?: number };
    if (parsed.code && parsed.code in ERRORS) code = parsed.code as ErrorCode;
    else if (status === 404 || status === 410) code = 'ERR_HANDLE_NOT_FOUND';
    else if (status === 401) code = 'ERR_AUTH_REQUIRED';
    else if (status === 403) code = 'ERR_PERMISSION_DENIED';
    else if (status < 500) code = 'ERR_BODY_INVALID';
  } catch {
    // Not JSON: fall back on the status.
  }
  throw new CairnError(code, `server answered ${status}`);
}
