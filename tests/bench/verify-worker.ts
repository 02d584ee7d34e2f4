/**
 * The verification measurement of the benchmark (tests/bench/verify.ts runs it as a child process
 * pinned to one core):
 *
 *   node dist/tests/bench/verify-worker.js '{"device":"Ed25519","token":"EdDSA","items":200,"rounds":6,"seconds":0.5}'
 *
 * One "verification" is what the service does for one verifier, both requests of the protocol:
 * `issueChallenge({id})` (POST /api/verify/challenges) then `verify({id, challengeId, evidence})`
 * (POST /api/verify) on the same `VerifyService` the HTTP route builds, over a real service
 * (LevelDB on disk): item lookup, challenge bookkeeping, the device signature check, the clone
 * rules and log, and the signed verdict token. Not counted: HTTP (section (a) measures it) and the
 * device's own signature over the challenge (made between the two calls, outside the clock).
 *
 * The anchor is `crypto.verify` alone, in the same process on the same core, with the same
 * `KeyObject`s, message bytes and signatures the service just checked, in the same batch shape.
 * Both run in interleaved slices (`rounds` of each, `seconds` per slice) and the ratio is taken
 * from the medians, after every item has been verified twice (the steady state of a verifier
 * whose items are in its caches); the first, cold verification of each item is reported apart. A third loop times raw signing of verdict-sized payloads with the token key:
 * the cost every answer carries on top of the device check.
 *
 * Prints one JSON line.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { challengeMessage } from '../../src/families/products/verify/challenge-message.js';
import { StoreCounterStore } from '../../src/families/products/verify/sun-counters.js';
import { VerifyService } from '../../src/families/products/verify/verify-service.js';
import { ProductRegistry } from '../../src/families/products/registry.js';
import { prefixHandle } from '../../src/ids/handle.js';
import { startService } from '../../src/service/bootstrap.js';

interface WorkerOptions {
  readonly device: 'Ed25519' | 'P-256';
  readonly token: 'EdDSA' | 'ES256';
  readonly items: number;
  readonly rounds: number;
  readonly seconds: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
const BATCH = 64;
const ADMIN = 'bench-admin-secret-0123';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Slice {
  readonly ops: number;
  readonly seconds: number;
  readonly cpuUs: number;
}

const rate = (s: Slice): number => s.ops / s.seconds;
const cpuPerOp = (s: Slice): number => s.cpuUs / s.ops;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-verify-'));
  const config = loadConfig({}, { dataDir: join(dir, 'data'), certsDir: join(dir, 'certs'), adminSecret: ADMIN, syncWrites: false, logLevel: 'silent', overloadMaxEventLoopDelayMs: 0, signingAlg: opts.token });
  const service = await startService(config);
  const app = await buildApp(service, { fastResolve: false });
  try {
    // Setup through the API, as a manufacturer would: one class, `items` items with their own keys.
    const admin = `Basic ${Buffer.from(`${encodeURIComponent(`300:0.NA/${config.prefix}`)}:${ADMIN}`).toString('base64')}`;
    const send = async (method: 'POST' | 'PUT', url: string, body: unknown, auth: string): Promise<Record<string, unknown>> => {
      const res = await app.inject({ method, url, headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json() as Record<string, unknown>;
    };
    const m = await send('POST', '/api/manufacturers', { name: 'Bench Devices' }, admin);
    const prefix = String(m.prefix);
    const auth = `Basic ${Buffer.from(`${encodeURIComponent(String(m.identity))}:${String(m.secret)}`).toString('base64')}`;
    await send('PUT', `/api/products/${prefix}/classes/phone`, { name: 'Phone', model: 'P-1', evidence: 'device-signature' }, auth);
    const devices: { id: string; privateKey: KeyObject; publicKey: KeyObject }[] = [];
    for (let i = 0; i < opts.items; i++) {
      const pair = opts.device === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const serial = `SN-${String(i).padStart(7, '0')}`;
      await send('PUT', `/api/products/${prefix}/items/${serial}`, { class: 'phone', devicePublicKey: pair.publicKey.export({ format: 'jwk' }) }, auth);
      devices.push({ id: `${prefix}/${serial}`, ...pair });
    }

    // The verifier exactly as routes/verify.ts builds it.
    const registry = service.products?.registry ?? new ProductRegistry(service.store, { prefix: config.prefix });
    const verifier = new VerifyService((id) => registry.findItem(id), service.signer, {
      service: prefixHandle(config.prefix),
      counters: new StoreCounterStore(service.store),
    });
    const digest = opts.device === 'Ed25519' ? null : 'sha256';
    const deviceSign = (key: KeyObject, msg: Buffer): Buffer => sign(digest, msg, { key, dsaEncoding: 'ieee-p1363' });

    // The last batch the service checked, replayed by the raw loop.
    let lastBatch: { key: KeyObject; message: Buffer; signature: Buffer }[] = [];
    let next = 0;
    let verdictsSeen = 0;

    const serviceSlice = async (seconds: number): Promise<Slice & { issueCpuUs: number }> => {
      let ops = 0;
      let elapsed = 0;
      let cpu = 0;
      let issueCpu = 0;
      // At least one batch (seconds = 0: exactly one).
      do {
        const items = Array.from({ length: BATCH }, () => devices[next++ % devices.length]!);
        // Timed: the challenges.
        let t = process.hrtime.bigint();
        let c = process.cpuUsage();
        const challenges = [];
        for (const d of items) challenges.push(await verifier.issueChallenge({ id: d.id }));
        let cu = process.cpuUsage(c);
        issueCpu += cu.user + cu.system;
        cpu += cu.user + cu.system;
        elapsed += Number(process.hrtime.bigint() - t) / 1e9;
        // Untimed: the devices sign.
        const batch = challenges.map((ch, i) => {
          const message = challengeMessage({ service: ch.service, id: ch.id, nonce: ch.nonce, challengeId: ch.challengeId });
          return { key: items[i]!.publicKey, message, signature: deviceSign(items[i]!.privateKey, message), challengeId: ch.challengeId, id: ch.id };
        });
        // Timed: the verifications.
        t = process.hrtime.bigint();
        c = process.cpuUsage();
        for (const b of batch) {
          const a = await verifier.verify({ id: b.id, challengeId: b.challengeId, evidence: { type: 'device-signature', signature: b.signature.toString('base64url') } });
          if (a.verdict !== 'genuine') throw new Error(`${b.id}: ${a.verdict} ${a.reasons.join(',')}`);
        }
        cu = process.cpuUsage(c);
        cpu += cu.user + cu.system;
        elapsed += Number(process.hrtime.bigint() - t) / 1e9;
        ops += batch.length;
        verdictsSeen += batch.length;
        lastBatch = batch;
      } while (elapsed < seconds);
      return { ops, seconds: elapsed, cpuUs: cpu, issueCpuUs: issueCpu };
    };

    const rawSlice = (seconds: number): Slice => {
      const t = process.hrtime.bigint();
      const c = process.cpuUsage();
      const limit = BigInt(Math.round(seconds * 1e9));
      let ops = 0;
      while (process.hrtime.bigint() - t < limit) {
        for (const b of lastBatch) {
          if (!verify(digest, b.message, { key: b.key, dsaEncoding: 'ieee-p1363' }, b.signature)) throw new Error('raw verify failed');
        }
        ops += lastBatch.length;
      }
      const cu = process.cpuUsage(c);
      return { ops, seconds: Number(process.hrtime.bigint() - t) / 1e9, cpuUs: cu.user + cu.system };
    };

    // Raw signing of verdict-shaped payloads with the token key (what each answer adds).
    const tokenSlice = (seconds: number): Slice => {
      const t = process.hrtime.bigint();
      const c = process.cpuUsage();
      const limit = BigInt(Math.round(seconds * 1e9));
      const input = Buffer.from(`${'e'.repeat(120)}.${'p'.repeat(420)}`);
      const tokenDigest = opts.token === 'EdDSA' ? null : 'sha256';
      const key = { key: service.signer.active.privateKey, dsaEncoding: 'ieee-p1363' as const };
      let ops = 0;
      while (process.hrtime.bigint() - t < limit) {
        for (let k = 0; k < BATCH; k++) sign(tokenDigest, input, key);
        ops += BATCH;
      }
      const cu = process.cpuUsage(c);
      return { ops, seconds: Number(process.hrtime.bigint() - t) / 1e9, cpuUs: cu.user + cu.system };
    };

    // Cold: the first verification of each item (record decoded, device key imported, tags made).
    const coldOps = Math.ceil(devices.length / BATCH) * BATCH;
    let cold: Slice = { ops: 0, seconds: 0, cpuUs: 0 };
    while (cold.ops < coldOps) {
      const s = await serviceSlice(0);
      cold = { ops: cold.ops + s.ops, seconds: cold.seconds + s.seconds, cpuUs: cold.cpuUs + s.cpuUs };
    }
    // Warm-up: every item once more, then JIT and caches settle.
    for (let done = 0; done < coldOps; ) done += (await serviceSlice(0)).ops;
    await serviceSlice(Math.min(0.5, opts.seconds));
    rawSlice(Math.min(0.3, opts.seconds));
    const svc: (Slice & { issueCpuUs: number })[] = [];
    const raw: Slice[] = [];
    const tok: Slice[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      // Alternate the order so that neither side always runs right after the other.
      if (r % 2 === 0) {
        raw.push(rawSlice(opts.seconds));
        svc.push(await serviceSlice(opts.seconds));
      } else {
        svc.push(await serviceSlice(opts.seconds));
        raw.push(rawSlice(opts.seconds));
      }
      tok.push(tokenSlice(opts.seconds / 2));
    }
    const ratios = svc.map((s, i) => rate(s) / rate(raw[i]!));
    const cpuRatios = svc.map((s, i) => cpuPerOp(raw[i]!) / cpuPerOp(s));
    const rawVerifyCpu = median(raw.map(cpuPerOp));
    const tokenCpu = median(tok.map(cpuPerOp));
    process.stdout.write(
      `${JSON.stringify({
        device: opts.device,
        token: opts.token,
        items: opts.items,
        rounds: opts.rounds,
        verdicts: verdictsSeen,
        serviceRate: median(svc.map(rate)),
        rawRate: median(raw.map(rate)),
        tokenSignRate: median(tok.map(rate)),
        ratio: median(ratios),
        ratios,
        cpuRatio: median(cpuRatios),
        serviceCpuUs: median(svc.map(cpuPerOp)),
        issueCpuUs: median(svc.map((s) => s.issueCpuUs / s.ops)),
        rawVerifyCpuUs: rawVerifyCpu,
        tokenSignCpuUs: tokenCpu,
        // Were the service nothing but the device check plus the token signature: its best ratio.
        ceiling: rawVerifyCpu / (rawVerifyCpu + tokenCpu),
        rssMiB: process.memoryUsage().rss / 2 ** 20,
        // The first verification of each item, before any cache held it.
        coldCpuUs: cpuPerOp(cold),
      })}\n`,
    );
  } finally {
    await app.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`verify-worker: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
