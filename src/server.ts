import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { redactConfig } from './config.js';
import { buildApp } from './http/app.js';
import { createLogging } from './http/logging.js';
import { Metrics } from './http/metrics.js';
import { startOrs } from './dns/start-ors.js';
import { startDoipListener } from './doip/listener.js';
import { doipFor } from './doip/operations.js';
import { startService, type Service } from './service/bootstrap.js';
import { loadOrCreateDevCertificate } from './service/tls-cert.js';
import { openMirror } from './mirror/mirror.js';
import { LoginLimiter, useLoginLimiter } from './families/doa/login-limiter.js';
import { verifyRouteOptions } from './http/routes/verify.js';

export interface RunningServer {
  readonly service: Service;
  readonly app: FastifyInstance;
  readonly http: { host: string; port: number };
  readonly dns: { host: string; port: number };
  readonly doip: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * Process entry: config -> store -> listeners. Logs one JSON line with the bound addresses.
 * With `mirrorOf` set it runs a read-only mirror of that primary (src/mirror/).
 */
export async function runServer(config: Config): Promise<RunningServer> {
  const mirror = config.mirrorOf === undefined ? undefined : await openMirror(config);
  const service = mirror?.service ?? (await startService(config));
  const { loginFailuresPerAddress: perAddress, loginFailuresPerIdentity: perIdentity, loginFailureWindowSeconds: windowSeconds } = config;
  useLoginLimiter(service.handles, new LoginLimiter({ perAddress, perIdentity, windowSeconds }));
  const logging = createLogging(config.logLevel);
  const metrics = new Metrics();
  const app = await buildApp(service, { logging, metrics, verify: verifyRouteOptions(config), ...(mirror ? { mirror: mirror.http } : {}) });
  if (mirror) mirror.guardDoip(doipFor(service));
  await app.listen({ host: config.host, port: config.httpPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const publicUrl = config.publicUrl ?? `http://${host}:${port}`;
  let ors;
  try {
    ors = await startOrs(service, config, publicUrl, (e) => app.log.warn({ event: 'dns-error', err: e }, 'DNS responder error'), metrics.dns);
  } catch (e) {
    await app.close();
    await service.close();
    throw e;
  }
  let doip;
  try {
    const tls = loadOrCreateDevCertificate(config.certsDir);
    if (tls.generated) app.log.info({ event: 'doip-certificate', file: tls.certFile, sha256: tls.fingerprint }, 'generated the DOIP development TLS certificate');
    doip = await startDoipListener(doipFor(service), {
      host: config.host,
      port: config.doipPort,
      key: tls.key,
      cert: tls.cert,
      limits: { maxMessageBytes: config.bodyLimit, maxSegmentBytes: config.bodyLimit, maxSegments: 256 },
      onError: (e) => app.log.error({ event: 'doip-error', err: e }, 'DOIP request failed'),
      metrics: metrics.doip,
    });
  } catch (e) {
    await ors.close();
    await app.close();
    await service.close();
    throw e;
  }
  app.log.info(
    {
      event: 'ready',
      http: `http://${host}:${port}`,
      dns: `${host}:${ors.port}`,
      doip: `${host}:${doip.port}`,
      orsDomain: config.orsDomain,
      prefix: config.prefix,
      // Process start to every listener bound (Node's own start-up included).
      startupMs: Math.round(process.uptime() * 1000),
      ...(mirror ? { mirrorOf: config.mirrorOf } : {}),
      config: redactConfig(config),
    },
    'cairn ready',
  );
  // The log is buffered; whoever waits for the ready line must not wait for the buffer to fill.
  logging.flushSync();
  mirror?.start(app.log);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await mirror?.stop();
      await doip.close();
      await ors.close();
      await app.close();
      await service.close();
      logging.flushSync();
    })());
  return { service, app, http: { host: config.host, port }, dns: { host: config.host, port: ors.port }, doip: { host: config.host, port: doip.port }, stop };
}
