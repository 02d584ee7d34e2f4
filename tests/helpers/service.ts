import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
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

/** A real service (classic-level on disk) in a fresh temporary directory, with its fastify app. */
export async function startTestService(overrides: Partial<Config> = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-test-'));
  const config = loadConfig(
    {},
    { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN_SECRET, syncWrites: false, ...overrides },
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
