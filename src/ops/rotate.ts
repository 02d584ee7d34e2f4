import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigInvalid, StoreLocked } from '../errors.js';
import { prefixHandle } from '../ids/handle.js';
import { encodePublicKeyJwk } from '../records/pubkey.js';
import type { HandleValue } from '../records/value.js';
import { isSigningAlg, SIGNING_ALGORITHMS, type SigningAlg } from '../signing/algorithms.js';
import { openStore } from '../store/open.js';
import { startService, type Service } from '../service/bootstrap.js';
import {
  activateKey,
  createPendingKey,
  isoTime,
  keyIndex,
  loadOrCreateSigningKeys,
  readKeyRegistry,
  registryFromRing,
  signedSince,
  writeKeyRegistry,
  type KeyEntry,
  type KeyRegistry,
} from '../service/key-files.js';
import { verificationKey } from '../signing/signer.js';
import { prepareResign, RESIGN_META, ResignJob, type ResignContext, type ResignOptions, type ResignState } from './resign.js';

/**
 * `cairn keys rotate`: a new signing key becomes active, the old one verify-only until its retire
 * time, and every live record is re-signed with the new key (src/ops/resign.ts). Runs with the
 * server stopped: it holds the data directory (ERR_STORE_LOCKED otherwise).
 *
 * Steps, each safe to interrupt (running the command again, or `cairn keys resign`, finishes an
 * interrupted rotation instead of starting another):
 *   1. the key pair is written to the certs directory and entered in the registry as pending;
 *   2. its HS_PUBKEY is published on `0.NA/<prefix>` (signed by the old key, one commit);
 *   3. the registry switches: the new key active, the old one verify-only with its retire time;
 *   4. the re-sign checkpoint is written and the records are re-signed in batches (or, with
 *      `defer`, left to the next `cairn serve`, which resumes it in the background).
 */
export interface RotateOptions {
  /** Algorithm of the new key; default: the active key's. */
  readonly alg?: SigningAlg;
  /** When the old key leaves the JWKS (seconds since the epoch), null for never; default: now + CAIRN_SIGNATURE_VALIDITY. */
  readonly retireAfter?: number | null;
  /** Switch keys only; the re-sign is left to the next start. */
  readonly defer?: boolean;
  readonly resign?: ResignOptions;
}

export interface KeySummary {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly index: number;
}

export interface RotateResult {
  readonly active: KeySummary & { readonly issuer: string };
  readonly previous: KeySummary & { readonly retireAfter: string | null };
  /** True when an interrupted rotation was finished rather than a new key made. */
  readonly resumed: boolean;
  readonly resign: ResignState | { readonly deferred: true };
}

const NEVER = 'never';
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export async function rotateKeys(config: Config, options: RotateOptions = {}): Promise<RotateResult> {
  let service = await openHeld(config);
  try {
    const { active, previous, resumed, retire } = await switchKeys(service, options);
    // Reopen with the new key active: startup writes the re-sign checkpoint and pins the old keys.
    await service.close();
    service = await openHeld(config);
    if (service.signer.active.kid !== active.kid) throw new ConfigInvalid(`The registry names ${active.kid} active but ${service.signer.active.kid} was loaded`);
    const job = service.resign;
    let resign: RotateResult['resign'];
    if (options.defer) resign = job?.state ?? (await service.store.getMeta<ResignState>(RESIGN_META)) ?? { deferred: true };
    else if (job) resign = await new ResignJob(contextOf(service), job.state, options.resign).run();
    else resign = (await service.store.getMeta<ResignState>(RESIGN_META)) ?? { deferred: true };
    return rotateResult(config, active, previous, resumed, retire, resign);
  } finally {
    await service.close();
  }
}

/**
 * Steps 1-3 of a rotation on an open service: the pending key (made, or the one an interrupted
 * rotation left), its publication, and the registry's switch to it. The caller loads the switched
 * keys: by reopening the store (`cairn keys rotate`) or in the live signer (`rotateServing`).
 */
async function switchKeys(service: Service, options: RotateOptions): Promise<{ active: KeyEntry; previous: KeyEntry; resumed: boolean; retire: number | null }> {
  const config = service.config;
  const now = nowSeconds();
  const ring = loadOrCreateSigningKeys(config.certsDir, config.signingAlg);
  let registry: KeyRegistry = readKeyRegistry(config.certsDir) ?? registryFromRing(ring, config.signingAlg, now);
  const previous = registry.keys.find((k) => k.kid === registry.active)!;
  let pending = registry.keys.find((k) => k.status === 'pending');
  if (pending && options.alg !== undefined && options.alg !== pending.alg) {
    // An interrupted rotation to another algorithm: that key never signed; drop it.
    const dropped = pending.kid;
    registry = { ...registry, keys: registry.keys.filter((k) => k.kid !== dropped) };
    pending = undefined;
  }
  const resumed = pending !== undefined;
  const retire = options.retireAfter !== undefined ? options.retireAfter : resumed ? storedRetire(pending!) : now + config.signatureValiditySeconds;
  const prefix = prefixRecordOf(service);
  if (pending === undefined) {
    const taken = (index: number): boolean => prefix.values.some((v) => v.index === index);
    pending = { ...createPendingKey(config.certsDir, registry, options.alg ?? previous.alg, now, taken), retirePreviousAfter: retire === null ? NEVER : isoTime(retire) };
    registry = { ...registry, keys: [...registry.keys, pending] };
    writeKeyRegistry(config.certsDir, registry);
  } else if (options.retireAfter !== undefined) {
    const updated: KeyEntry = { ...pending, retirePreviousAfter: retire === null ? NEVER : isoTime(retire) };
    registry = { ...registry, keys: registry.keys.map((k) => (k.kid === updated.kid ? updated : k)) };
    writeKeyRegistry(config.certsDir, registry);
    pending = updated;
  }
  await publishKey(service, pending, now);
  const { retirePreviousAfter: _done, ...active } = pending;
  registry = activateKey({ ...registry, keys: registry.keys.map((k) => (k.kid === active.kid ? active : k)) }, active.kid, now, retire ?? undefined);
  if (retire !== null) {
    // Every record moves to the new key, so keys kept side by side before retire with the old one.
    registry = { ...registry, keys: registry.keys.map((k) => (k.status === 'verify-only' && k.retireAfter === undefined ? { ...k, retireAfter: isoTime(retire) } : k)) };
  }
  writeKeyRegistry(config.certsDir, registry);
  return { active, previous, resumed, retire };
}

function rotateResult(config: Config, active: KeyEntry, previous: KeyEntry, resumed: boolean, retire: number | null, resign: RotateResult['resign']): RotateResult {
  const prefixText = prefixHandle(config.prefix);
  return {
    active: { kid: active.kid, alg: active.alg, index: active.index, issuer: `${active.index}:${prefixText}` },
    previous: { kid: previous.kid, alg: previous.alg, index: previous.index, retireAfter: retire === null ? null : isoTime(retire) },
    resumed,
    resign,
  };
}

/** Re-sign jobs started by rotations while serving, by service (the one a start resumed is `service.resign`). */
const servingJobs = new WeakMap<Service, ResignJob>();
/** Rotations while serving, one after another per service. */
const rotations = new WeakMap<Service, Promise<unknown>>();

/** The re-sign job of the running service, if one was started (running, finished or stopped). */
export function currentResign(service: Service): ResignJob | undefined {
  return servingJobs.get(service) ?? service.resign;
}

/**
 * `POST /api/admin/keys/rotate`: the rotation `cairn keys rotate` makes, on the running service
 * (which holds the data directory, so the CLI cannot). Same steps, equally safe to interrupt; then
 * the live signer switches to the new key (the next signature is the new key's), the re-sign
 * checkpoint is written, and the re-sign runs in the background, `onError` told if it fails; a
 * later start resumes it if the process stops first. A re-sign still running stops first (it
 * restarts towards the newer key). Rotations on one service run one after another.
 */
export function rotateServing(service: Service, options: Omit<RotateOptions, 'defer'> = {}, onError: (e: unknown) => void = () => undefined): Promise<RotateResult> {
  const previous = rotations.get(service) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => rotateLive(service, options, onError));
  rotations.set(service, next);
  return next;
}

async function rotateLive(service: Service, options: Omit<RotateOptions, 'defer'>, onError: (e: unknown) => void): Promise<RotateResult> {
  const config = service.config;
  await currentResign(service)?.stop();
  const { active, previous, resumed, retire } = await switchKeys(service, options);
  const ring = loadOrCreateSigningKeys(config.certsDir, config.signingAlg);
  if (ring.active.kid !== active.kid) throw new ConfigInvalid(`The registry names ${active.kid} active but ${ring.active.kid} was loaded`);
  service.signer.switchTo(ring.active, ring.others);
  // Like the keys known at start, the new key's HS_PUBKEY is the service's own: no PUT may replace it.
  (service.handles.protectedKeyIndexes as Set<number>).add(active.index);
  const context = contextOf(service);
  const state = await prepareResign(context, true, (kid, since) => signedSince(ring.registry, kid, since));
  let resign: RotateResult['resign'] = state ?? (await service.store.getMeta<ResignState>(RESIGN_META)) ?? { deferred: true };
  if (state) {
    const job = new ResignJob(context, state, options.resign);
    servingJobs.set(service, job);
    job.start(onError);
    resign = job.state;
  }
  return rotateResult(config, active, previous, resumed, retire, resign);
}

/**
 * `cairn keys resign`: finishes what a rotation left: an interrupted key switch (a pending key),
 * then the re-sign of every live record. Nothing to do is not an error.
 */
export async function resumeRotation(config: Config, options: ResignOptions = {}): Promise<{ rotation?: RotateResult; resign: ResignState | null }> {
  const registry = readKeyRegistry(config.certsDir);
  if (registry?.keys.some((k) => k.status === 'pending')) {
    const rotation = await rotateKeys(config, { resign: options });
    return { rotation, resign: 'deferred' in rotation.resign ? null : rotation.resign };
  }
  const service = await openHeld(config);
  try {
    if (!service.resign) return { resign: (await service.store.getMeta<ResignState>(RESIGN_META)) ?? null };
    return { resign: await new ResignJob(contextOf(service), service.resign.state, options).run() };
  } finally {
    await service.close();
  }
}

/** What `cairn keys list` shows: every key with its state, and the re-sign checkpoint when the store is free. */
export interface KeyListing {
  readonly keys: readonly (KeySummary & { readonly state: 'active' | 'verify-only' | 'retired' | 'pending'; readonly retireAfter: string | null; readonly created: string })[];
  readonly resign: ResignState | null | 'store in use';
}

export async function listKeys(config: Config): Promise<KeyListing> {
  let resign: KeyListing['resign'] = null;
  const dbDir = join(config.dataDir, 'leveldb');
  if (existsSync(dbDir)) {
    try {
      const store = await openStore(dbDir, { sync: false });
      try {
        resign = (await store.getMeta<ResignState>(RESIGN_META)) ?? null;
      } finally {
        await store.close();
      }
    } catch (e) {
      if (!(e instanceof StoreLocked)) throw e;
      resign = 'store in use';
    }
  }
  return keyListing(config, resign);
}

/** `GET /api/admin/keys`: the listing of the running service, with its re-sign's live progress. */
export async function listServingKeys(service: Service): Promise<KeyListing & { readonly resignRunning: boolean; readonly resignError: string | null }> {
  const job = currentResign(service);
  const resign = job?.state ?? (await service.store.getMeta<ResignState>(RESIGN_META)) ?? null;
  const error = job?.error === undefined ? null : ((job.error as Error)?.message ?? String(job.error));
  return { ...keyListing(service.config, resign), resignRunning: job !== undefined && !job.state.done && job.error === undefined, resignError: error };
}

function keyListing(config: Config, resign: KeyListing['resign']): KeyListing {
  const now = nowSeconds();
  // Reads only: no key is made and nothing is written, whatever state the directories are in.
  const registry = readKeyRegistry(config.certsDir) ?? filesAsRegistry(config, now);
  const pinned: ReadonlySet<string> | 'all' =
    resign === 'store in use' ? 'all' : resign && !resign.done ? (resign.pinned === undefined ? 'all' : new Set(resign.pinned)) : new Set(resign?.others ?? []);
  const stateOf = (k: KeyEntry): KeyListing['keys'][number]['state'] => {
    if (k.status !== 'verify-only') return k.status;
    if (k.retireAfter === undefined || now < Date.parse(k.retireAfter) / 1000) return 'verify-only';
    return pinned === 'all' || pinned.has(k.kid) ? 'verify-only' : 'retired';
  };
  return {
    keys: (registry?.keys ?? []).map((k) => ({ kid: k.kid, alg: k.alg, index: k.index, state: stateOf(k), retireAfter: k.retireAfter ?? null, created: k.created })),
    resign,
  };
}

/** Before any rotation: the generation-0 key files there are, as registry entries (nothing created). */
function filesAsRegistry(config: Config, now: number): KeyRegistry | undefined {
  const found = SIGNING_ALGORITHMS.filter((alg) => existsSync(join(config.certsDir, `signing-${alg.toLowerCase()}.pub.pem`)));
  if (found.length === 0) return undefined;
  const keys = found.map((alg) => verificationKey(createPublicKey(readFileSync(join(config.certsDir, `signing-${alg.toLowerCase()}.pub.pem`))), { index: keyIndex(alg, 0) }));
  const active = keys.find((k) => k.alg === config.signingAlg);
  const first = active ?? keys[0]!;
  return registryFromRing({ active: first, others: keys.filter((k) => k !== first) }, config.signingAlg, now);
}

/** The service with the re-sign left to the caller; a data directory in use is ERR_STORE_LOCKED, saying why. */
async function openHeld(config: Config): Promise<Service> {
  try {
    return await startService(config, { resign: 'manual' });
  } catch (e) {
    if (e instanceof StoreLocked) {
      throw new StoreLocked(`${e.message}: stop the server first (key rotation holds the data directory; a starting server resumes an unfinished re-sign itself)`);
    }
    throw e;
  }
}

function contextOf(service: Service): ResignContext {
  const prefixText = prefixHandle(service.config.prefix);
  return {
    store: service.store,
    signer: service.signer,
    issuer: () => `${service.signer.active.index!}:${prefixText}`,
    validitySeconds: service.config.signatureValiditySeconds,
  };
}

function storedRetire(pending: KeyEntry): number | null {
  const text = pending.retirePreviousAfter;
  if (text === undefined || text === NEVER) return null;
  return Math.floor(Date.parse(text) / 1000);
}

function prefixRecordOf(service: Service) {
  const text = prefixHandle(service.config.prefix);
  const record = service.handles.findRecord(service.handles.parseServed(text));
  if (!record) throw new ConfigInvalid(`${text} is missing from the data directory`);
  return record;
}

/** Publishes the key's HS_PUBKEY on `0.NA/<prefix>` at its index, unless it is there already. */
async function publishKey(service: Service, key: KeyEntry, now: number): Promise<void> {
  const record = prefixRecordOf(service);
  const data = encodePublicKeyJwk({ ...key.jwk });
  const there = record.values.find((v) => v.index === key.index);
  if (there) {
    if (there.type === 'HS_PUBKEY' && Buffer.from(there.data).equals(data)) return;
    throw new ConfigInvalid(`Index ${key.index} of ${record.id} holds another value: the new key cannot be published there`);
  }
  const value: HandleValue = { index: key.index, type: 'HS_PUBKEY', data, permissions: 0b1110, ttlType: 'relative', ttl: 86400, timestamp: now, references: [] };
  await service.handles.writeSystemRecord(record.id, [...record.values, value]);
}

/**
 * `--retire-after`: an RFC 3339 time with a zone (2027-01-01T00:00:00Z), a duration from now
 * (`30d`, `12h`, `90m`, `3600s`, `2w`, or ISO 8601 `P30D`, `PT12H`, `P1DT2H`), or `never`.
 * Returns seconds since the epoch, null for never, undefined if the text is none of these.
 */
export function parseRetireAfter(text: string, now = nowSeconds()): number | null | undefined {
  if (text === NEVER) return null;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
  }
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };
  const short = /^(\d{1,9})([smhdw])$/.exec(text);
  if (short) return now + Number(short[1]) * unit[short[2]!]!;
  const iso = /^P(?:(\d{1,9})W)?(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?$/.exec(text);
  if (iso && text !== 'P' && !text.endsWith('T')) {
    const [, w, d, h, m, s] = iso.map((x) => Number(x ?? 0));
    return now + w! * unit.w! + d! * unit.d! + h! * unit.h! + m! * unit.m! + s!;
  }
  return undefined;
}

/**
 * `cairn keys rotate|resign|list`: prints a JSON summary and returns the exit code; a wrong use
 * throws `usageError(message)` (the CLI's exit 64).
 */
export async function keysCommand(config: Config, args: readonly string[], usageError: (message: string) => Error): Promise<number> {
  const [sub, ...rest] = args;
  const usage = 'usage: cairn keys rotate [--alg EdDSA|ES256|RS256] [--retire-after TIME|DURATION|never] [--defer] [--batch N] [--pause-ms N] | keys resign [--batch N] [--pause-ms N] | keys list';
  const flags = parseFlags(rest, sub === 'rotate' ? ['--alg', '--retire-after', '--batch', '--pause-ms'] : sub === 'resign' ? ['--batch', '--pause-ms'] : [], sub === 'rotate' ? ['--defer'] : [], usage, usageError);
  const count = (name: string, min: number): number | undefined => {
    const text = flags.get(name);
    if (text === undefined) return undefined;
    if (!/^\d{1,9}$/.test(text) || Number(text) < min) throw usageError(`${name} must be a whole number >= ${min}; ${usage}`);
    return Number(text);
  };
  const batchSize = count('--batch', 1);
  const pauseMs = count('--pause-ms', 0);
  const progress = process.stderr.isTTY === true;
  const resign = {
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(pauseMs === undefined ? {} : { pauseMs }),
    ...(progress ? { onBatch: (s: ResignState) => process.stderr.write(`\rre-signed ${s.resigned} records${s.done ? '\n' : ''}`) } : {}),
  };
  let outcome: unknown;
  switch (sub) {
    case 'rotate': {
      const alg = flags.get('--alg');
      if (alg !== undefined && !isSigningAlg(alg)) throw usageError(`--alg must be EdDSA, ES256 or RS256; ${usage}`);
      const retireText = flags.get('--retire-after');
      const retireAfter = retireText === undefined ? undefined : parseRetireAfter(retireText);
      if (retireAfter === undefined && retireText !== undefined) {
        throw usageError(`--retire-after must be an RFC 3339 time with a zone, a duration (30d, 12h, 90m, 3600s, 2w, P30D, PT12H) or never; ${usage}`);
      }
      outcome = await rotateKeys(config, {
        ...(alg === undefined ? {} : { alg }),
        ...(retireAfter === undefined ? {} : { retireAfter }),
        defer: flags.has('--defer'),
        resign,
      });
      break;
    }
    case 'resign':
      outcome = await resumeRotation(config, resign);
      break;
    case 'list':
      outcome = await listKeys(config);
      break;
    default:
      throw usageError(usage);
  }
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  return 0;
}

/** `--name value` (or `--name=value`) for `valued`, bare `--name` for `bare`; anything else is a usage error. */
function parseFlags(args: readonly string[], valued: readonly string[], bare: readonly string[], usage: string, usageError: (message: string) => Error): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (bare.includes(name) && eq < 0) flags.set(name, '');
    else if (valued.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || value === '') throw usageError(`${name} needs a value; ${usage}`);
      flags.set(name, value);
    } else throw usageError(`unknown argument "${arg}"; ${usage}`);
  }
  return flags;
}
