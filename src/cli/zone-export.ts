import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { Config } from '../config.js';
import { OrsSource } from '../dns/ors-source.js';
import { soaRecord, zoneOptions } from '../dns/ors-zone.js';
import { zoneRecords } from '../dns/transfer.js';
import { formatName } from '../dns/wire.js';
import { formatRecord } from '../dns/zone-file.js';
import { startService } from '../service/bootstrap.js';

/**
 * `cairn zone export [FILE]`: the ORS zone as an RFC 1035 master file, read from the data
 * directory (server stopped: the store is locked while it runs; a running server gives the same
 * zone by AXFR). Writes FILE atomically, or stdout for `-` or no FILE.
 */
export async function exportZone(config: Config, file: string | undefined): Promise<{ records: number; serial: number }> {
  const service = await startService(config);
  try {
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const zone = zoneOptions(config.orsDomain, config.publicUrl ?? `http://${host}:${config.httpPort}`, config.host.includes(':') ? '127.0.0.1' : config.host);
    const source = await OrsSource.open(service.store, service.oids);
    const serial = source.serial();
    const records = [soaRecord(zone, serial), ...(await zoneRecords(zone, source))];
    source.close();
    const text = [`; ORS zone ${formatName(zone.apex)} exported by Cairn, serial ${serial}`, `$ORIGIN ${formatName(zone.apex)}`, ...records.map(formatRecord), ''].join('\n');
    if (file === undefined || file === '-') {
      process.stdout.write(text);
    } else {
      const partial = `${file}.partial`;
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(partial, { mode: 0o644 });
        out.on('error', reject);
        out.end(text, () => resolve());
      });
      await rename(partial, file);
    }
    return { records: records.length, serial };
  } finally {
    await service.close();
  }
}
