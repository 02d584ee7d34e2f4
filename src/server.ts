import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { redactConfig } from './config.js';
import { buildApp } from './http/app.js';
import { startService, type Service } from './service/bootstrap.js';

export interface RunningServer {
  readonly service: Service;
  readonly app: FastifyInstance;
  readonly http: { host: string; port: number };
  stop(): Promise<void>;
}

/** Process entry: config -> store -> listeners. Logs one JSON line with the bound addresses. */
export async function runServer(config: Config): Promise<RunningServer> {
  const service = await startService(config);
  const app = await buildApp(service, { logger: { level: config.logLevel } });
  await app.listen({ host: config.host, port: config.httpPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  app.log.info({ event: 'ready', http: `http://${config.host}:${port}`, prefix: config.prefix, config: redactConfig(config) }, 'cairn ready');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await app.close();
      await service.close();
    })());
  return { service, app, http: { host: config.host, port }, stop };
}
