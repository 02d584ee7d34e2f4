import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { runServer, type RunningServer } from '../../src/server.js';
import { startService, type Service } from '../../src/service/bootstrap.js';

export const ADMIN_SECRET = 'test-admin-secret-123';
export const ADMIN_IDENTITY = '300:0.NA/20.5000';

export interface TestService {
  readonly dir: string;
  readonly config: Config;
  readonly service: Service;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Servers started in the test process share its event loop with the tests' own work (fixtures,
 * signing loops, property runs), so its delay says nothing about the server: that shedding signal
 * is off here (the request cap stays at its default). `cairn serve` children (child.ts) keep every
 * default; tests/http/overload*.test.ts show the defaults shed.
 */
const IN_PROCESS: Partial<Config> = { overloadMaxEventLoopDelayMs: 0 };

/** A real service (classic-level on disk) in a fresh temporary directory, with its fastify app. */
export async function startTestService(overrides: Partial<Config> = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-test-'));
  const config = loadConfig(
    {},
    { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false, ...IN_PROCESS, ...overrides },
  );
  const service = await startService(config);
  const app = await buildApp(service);
  return {
    dir,
    config,
    service,
    app,
    async close() {
      await app.close();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `Authorization` header for HTTP Basic with Handle.Net's percent-encoded `index:handle` user. */
export function basic(identity: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(identity)}:${secret}`).toString('base64')}`;
}

export const adminAuth = (): string => basic(ADMIN_IDENTITY, ADMIN_SECRET);

/**
 * A real server process in this one (`runServer`: HTTP, DNS, DOIP on free loopback ports, log
 * silent) over a fresh temporary directory, removed again if the server fails to start.
 */
export async function startRealServer(overrides: Partial<Config> = {}): Promise<{ dir: string; config: Config; server: RunningServer; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-dns-'));
  const config = loadConfig(
    {},
    {
      dataDir: join(dir, 'data'),
      certsDir: join(dir, 'certs'),
      adminSecret: ADMIN_SECRET,
      httpPort: 0,
      dnsPort: 0,
      doipPort: 0,
      syncWrites: false,
      logLevel: 'silent',
      ...IN_PROCESS,
      ...overrides,
    },
  );
  try {
    const server = await runServer(config);
    return { dir, config, server, url: `http://127.0.0.1:${server.http.port}` };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** PUT or DELETE `/api/oids/{oid}` as the service admin; the status and the body text. */
export async function oidRequest(url: string, method: 'PUT' | 'DELETE', oid: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/api/oids/${oid}`, {
    method,
    headers: { authorization: adminAuth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}
