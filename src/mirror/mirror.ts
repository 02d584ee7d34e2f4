import type { Config } from '../config.js';
import { ConfigInvalid } from '../errors.js';
import type { DoipService } from '../doip/operations.js';
import type { Service } from '../service/bootstrap.js';
import { MirrorFollower, type MirrorLog } from './follower.js';
import { mirrorHttp, refuseDoipWrites, type MirrorHttp } from './http.js';
import { HttpPrimary } from './primary.js';
import { openMirrorService } from './service.js';

/** A read-only mirror of a Cairn primary, as `runServer` runs it (README "Mirrors"). */
export interface Mirror {
  readonly service: Service;
  /** Hooks for the HTTP app (`AppOptions.mirror`). */
  readonly http: MirrorHttp;
  /** Makes a DoipService refuse writes. */
  guardDoip(doip: DoipService): void;
  /** Starts following the primary's change feed. */
  start(log: MirrorLog): void;
  /** Stops following (call before closing the service). */
  stop(): Promise<void>;
}

export async function openMirror(config: Config): Promise<Mirror> {
  const { mirrorOf, mirrorIdentity, mirrorSecret } = config;
  if (mirrorOf === undefined || mirrorIdentity === undefined || mirrorSecret === undefined) {
    throw new ConfigInvalid('A mirror needs CAIRN_MIRROR_OF, CAIRN_MIRROR_IDENTITY and CAIRN_MIRROR_SECRET');
  }
  const opened = await openMirrorService(config);
  const primary = new HttpPrimary(mirrorOf, mirrorIdentity, mirrorSecret);
  // Silent until `start` gives it the server's logger (which exists only once the app does).
  const silent: MirrorLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const follower = new MirrorFollower(primary, opened, silent, { pollMs: config.mirrorPollMs });
  return {
    service: opened.service,
    http: mirrorHttp(mirrorOf, follower),
    guardDoip: (doip) => refuseDoipWrites(doip, mirrorOf),
    start: (log) => follower.start(log),
    stop: () => follower.stop(),
  };
}
