/**
 * What the transparency log costs (a measurement, not a test; figures go to BENCHMARKS.md):
 *
 *   npx tsc -p . && node dist/tests/log/follower-cost.js [records per round, default 2000] [rounds, default 4]
 *
 * Two services in fresh directories register the same signed handle records in alternating rounds
 * (A B A B ...): A with the log following every commit, B with it stopped. Then a fresh log on B's
 * store appends B's whole change log at once (the start-up catch-up). Reported: the write rate
 * with the log against the write rate without it (ratio), and the catch-up cost per entry against
 * the cost of one write, both measured in this run. "With log" counts each round until the log has
 * caught up; "burst" counts the writes alone (the follower waits for a pause in the writes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { startService, type Service } from '../../src/service/bootstrap.js';

const perRound = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 4);

async function open(name: string): Promise<{ service: Service; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `cairn-logcost-${name}-`));
  const config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: 'bench-admin-secret', syncWrites: false });
  return { service: await startService(config), dir };
}

/** Milliseconds for the round's writes, and until the log has caught up with them too. */
async function writeRound(service: Service, round: number): Promise<{ writes: number; total: number }> {
  const started = performance.now();
  for (let i = 0; i < perRound; i++) {
    await service.handles.writeSystemRecord(`20.5000/c-${round}-${i}`, [
      { index: 1, type: 'URL', data: Buffer.from(`https://example.org/c/${round}/${i}`), permissions: 0b1110, ttlType: 'relative', ttl: 86400, timestamp: 1_764_000_000, references: [] },
    ]);
  }
  const writes = performance.now() - started;
  await service.log?.sync();
  return { writes, total: performance.now() - started };
}

const a = await open('with');
const b = await open('without');
await b.service.log!.close();
const without = b.service as Service & { log?: TransparencyLog };
Object.assign(without, { log: undefined });
const times = { with: 0, withWritesOnly: 0, without: 0 };
for (let r = 0; r < rounds; r++) {
  const withLog = await writeRound(a.service, r);
  times.with += withLog.total;
  times.withWritesOnly += withLog.writes;
  times.without += (await writeRound(without, r)).total;
}
const n = perRound * rounds;
const caughtUp = await TransparencyLog.open(b.service.store);
const started = performance.now();
await caughtUp.sync();
const catchUpMs = performance.now() - started;
const usPerWrite = (times.without * 1000) / n;
const usPerLeaf = (catchUpMs * 1000) / caughtUp.size;
console.log(
  JSON.stringify(
    {
      records: n,
      writesPerSecondWithLog: Math.round(n / (times.with / 1000)),
      writesPerSecondWithoutLog: Math.round(n / (times.without / 1000)),
      ratioWithToWithout: Number((times.without / times.with).toFixed(3)),
      burstWritesPerSecondWithLog: Math.round(n / (times.withWritesOnly / 1000)),
      burstRatioWithToWithout: Number((times.without / times.withWritesOnly).toFixed(3)),
      catchUpLeaves: caughtUp.size,
      catchUpMicrosecondsPerLeaf: Number(usPerLeaf.toFixed(1)),
      writeMicrosecondsPerRecord: Number(usPerWrite.toFixed(1)),
      catchUpCostAsShareOfWrite: Number((usPerLeaf / usPerWrite).toFixed(3)),
      followerStats: a.service.log!.stats,
    },
    null,
    2,
  ),
);
await caughtUp.close();
await a.service.close();
await b.service.close();
rmSync(a.dir, { recursive: true, force: true });
rmSync(b.dir, { recursive: true, force: true });
