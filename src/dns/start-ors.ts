import type { Config } from '../config.js';
import type { DnsSeries } from '../http/metrics.js';
import type { Service } from '../service/bootstrap.js';
import { startDnsListener } from './listener.js';
import { Notifier, parseNotifyTarget, type NotifyTarget } from './notify.js';
import { OrsSource } from './ors-source.js';
import { zoneOptions, type OrsZoneOptions } from './ors-zone.js';
import { OrsResponder } from './responder.js';

export interface RunningOrs {
  readonly port: number;
  readonly zone: OrsZoneOptions;
  readonly source: OrsSource;
  close(): Promise<void>;
}

/** The ORS side of a running service: the zone over the OID registry, its responder and NOTIFY sender. */
export async function startOrs(
  service: Service,
  config: Config,
  publicUrl: string,
  onError: (e: unknown) => void = () => undefined,
  metrics?: DnsSeries,
): Promise<RunningOrs> {
  const zone = zoneOptions(config.orsDomain, publicUrl, config.host.includes(':') ? '127.0.0.1' : config.host);
  const source = await OrsSource.open(service.store, service.oids);
  const responder = new OrsResponder({ zone, source, transferAllow: config.dnsTransferAllow, onError });
  const targets = config.dnsNotify.map(parseNotifyTarget).filter((t): t is NotifyTarget => t !== undefined);
  const notifier = new Notifier(zone, targets, { attempts: 5, intervalMs: 2000, onError });
  const stopNotify = source.onSerial((serial) => notifier.notify(serial));
  const listener = await startDnsListener({ host: config.host, port: config.dnsPort, responder, onError, ...(metrics ? { metrics } : {}) });
  return {
    port: listener.port,
    zone,
    source,
    async close() {
      stopNotify();
      notifier.close();
      await listener.close();
      source.close();
    },
  };
}
