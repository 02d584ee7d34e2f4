import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigInvalid } from '../errors.js';
import { HandleService } from '../families/doa/handle-service.js';
import { VALUE_INDEX_META, VALUE_INDEX_VERSION } from '../families/doa/reverse-index.js';
import { ItsService } from '../families/its/its-service.js';
import { ITS_GEO_INDEX_META, ITS_GEO_INDEX_VERSION } from '../families/its/its-storage.js';
import { OID_INDEX_META, OID_INDEX_VERSION, OidService } from '../families/oid/oid-service.js';
import { ProductService } from '../families/products/product-service.js';
import { prefixHandle } from '../ids/handle.js';
import { encodeAdmin } from '../records/admin.js';
import { ALL_ADMIN_PERMISSIONS } from '../records/permissions.js';
import { encodePublicKeyJwk } from '../records/pubkey.js';
import type { HandleValue } from '../records/value.js';
import { generateSecret, hashSecret } from '../signing/secrets.js';
import { Signer } from '../signing/signer.js';
import type { SigningAlg } from '../signing/algorithms.js';
import { prepareResign, ResignJob, type ResignOptions } from '../ops/resign.js';
import { TransparencyLog } from '../log/transparency-log.js';
import { openStore } from '../store/open.js';
import type { RecordStore } from '../store/store.js';
import { writeFileAtomic } from './atomic-file.js';
import { KEY_INDEX_BASE, loadOrCreateSigningKeys, signedSince } from './key-files.js';

/**
 * HS_PUBKEY index of each algorithm's first key on `0.NA/<prefix>`; the signer's `iss` names it.
 * Keys made by rotations take 10 more per generation (key-files.ts); `signer.active.index` is the
 * index of the key that signs.
 */
export const KEY_INDEX: Readonly<Record<SigningAlg, number>> = KEY_INDEX_BASE;
export const ADMIN_INDEX = 300;

export interface Service {
  readonly config: Config;
  readonly store: RecordStore;
  readonly signer: Signer;
  readonly handles: HandleService;
  readonly oids: OidService;
  readonly its: ItsService;
  /**
   * The product registry (issue 6); `products.findItem(id)` (`products.registry`) is its read side.
   * Optional only because a mirror (src/mirror/service.ts) builds its Service without one yet.
   */
  readonly products?: ProductService;
  /**
   * The re-sign after a key rotation still to finish (src/ops/resign.ts), if any: running in the
   * background unless `startService` was asked for it `'manual'`ly.
   */
  readonly resign?: ResignJob;
  /** The transparency log (src/log/), following the change log; a mirror has none. */
  readonly log?: TransparencyLog;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * An unfinished re-sign after a key rotation: resumed in the background (the default, with these
   * batch options), or left to the caller to `run` ('manual').
   */
  readonly resign?: 'manual' | ResignOptions;
}

/**
 * Opens the store and signing keys, and on first start creates the prefix record
 * `0.NA/<prefix>` (HS_ADMIN, the admin's HS_SECKEY, the signing keys as HS_PUBKEY). Later starts
 * reuse all of it; a newly configured algorithm's key is added to the prefix record.
 */
export async function startService(config: Config, options: StartOptions = {}): Promise<Service> {
  mkdirSync(config.dataDir, { recursive: true });
  // The store first: its lock says whether another process holds the data directory.
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: config.syncWrites, maxOpenFiles: config.storeMaxOpenFiles });
  let keys: ReturnType<typeof loadOrCreateSigningKeys>;
  try {
    keys = loadOrCreateSigningKeys(config.certsDir, config.signingAlg);
  } catch (e) {
    await store.close();
    throw e;
  }
  // A new store's records are all written with every index there is: the start-up migrations for
  // stores from before an index existed (a walk over every record) have nothing to do in it.
  if (store.lastSeq === 0) {
    await store.commit([], { [VALUE_INDEX_META]: VALUE_INDEX_VERSION, [OID_INDEX_META]: OID_INDEX_VERSION, [ITS_GEO_INDEX_META]: ITS_GEO_INDEX_VERSION });
  }
  const signer = new Signer(keys.active, keys.others);
  const prefixRecord = prefixHandle(config.prefix);
  const issuer = (): string => `${signer.active.index ?? KEY_INDEX[signer.active.alg]}:${prefixRecord}`;
  const handles = new HandleService(store, signer, {
    prefix: config.prefix,
    get issuer() {
      return issuer();
    },
    signatureValiditySeconds: config.signatureValiditySeconds,
    signingKeyIndexes: [...new Set([...Object.values(KEY_INDEX), ...[...signer.keys(), ...keys.pending].map((k) => k.index ?? KEY_INDEX[k.alg])])],
  });
  const oids = new OidService(store, signer, {
    get issuer() {
      return issuer();
    },
    signatureValiditySeconds: config.signatureValiditySeconds,
  });
  const its = new ItsService(store, signer, {
    get issuer() {
      return issuer();
    },
    signatureValiditySeconds: config.signatureValiditySeconds,
  });
  const products = new ProductService(store, signer, handles, {
    prefix: config.prefix,
    get issuer() {
      return issuer();
    },
    signatureValiditySeconds: config.signatureValiditySeconds,
  });
  let resign: ResignJob | undefined;
  let log: TransparencyLog | undefined;
  try {
    await ensurePrefixRecord(config, handles, signer);
    // Catches up with the change log in the background, then follows every commit.
    log = (
      await TransparencyLog.open(store, {
        onError: (e) => process.stderr.write(`cairn: the transparency log stopped following the change log: ${(e as Error)?.message ?? String(e)}\n`),
      })
    ).follow();
    await oids.reindexIfNeeded();
    await its.reindexIfNeeded();
    const wanted = keys.registry?.keys.find((k) => k.kid === signer.active.kid)?.resign ?? false;
    const context = { store, signer, issuer, validitySeconds: config.signatureValiditySeconds };
    const state = await prepareResign(context, wanted, (kid, since) => signedSince(keys.registry, kid, since));
    if (state) resign = new ResignJob(context, state, options.resign === 'manual' ? {} : options.resign);
  } catch (e) {
    await log?.close();
    await store.close();
    throw e;
  }
  if (resign && options.resign !== 'manual') {
    resign.start((e) => process.stderr.write(`cairn: re-signing records with key ${signer.active.kid} stopped: ${(e as Error)?.message ?? String(e)}\n`));
  }
  const close = async (): Promise<void> => {
    await resign?.stop();
    await log?.close();
    await store.close();
  };
  return { config, store, signer, handles, oids, its, products, ...(resign ? { resign } : {}), ...(log ? { log } : {}), close };
}

async function ensurePrefixRecord(config: Config, handles: HandleService, signer: Signer): Promise<void> {
  const text = prefixHandle(config.prefix);
  const existing = handles.findRecord(handles.parseServed(text));
  const now = Math.floor(Date.now() / 1000);
  const value = (index: number, type: string, data: Uint8Array, permissions = 0b1110): HandleValue => ({
    index, type, data, permissions, ttlType: 'relative', ttl: 86400, timestamp: now, references: [],
  });
  const indexOf = (k: { index?: number; alg: SigningAlg }): number => k.index ?? KEY_INDEX[k.alg];
  const pubkeys = signer.keys().map((k) => value(indexOf(k), 'HS_PUBKEY', encodePublicKeyJwk({ ...k.jwk })));
  if (existing) {
    const published = existing.values.find((v) => v.type === 'HS_PUBKEY' && v.index === indexOf(signer.active));
    const mine = pubkeys.find((v) => v.index === indexOf(signer.active))!;
    if (published && !Buffer.from(published.data).equals(Buffer.from(mine.data))) {
      throw new ConfigInvalid(
        `The ${signer.active.alg} key in ${config.certsDir} is not the one ${text} publishes at index ${published.index}: restore the original key`,
      );
    }
    const present = new Set(existing.values.filter((v) => v.type === 'HS_PUBKEY').map((v) => v.index));
    const missing = pubkeys.filter((v) => !present.has(v.index));
    if (missing.length > 0) await handles.writeSystemRecord(existing.id, [...existing.values, ...missing]);
    return;
  }
  const secret = config.adminSecret ?? writeGeneratedCredentials(config, text);
  await handles.writeSystemRecord(text, [
    value(100, 'HS_ADMIN', encodeAdmin({ handle: text, index: ADMIN_INDEX, permissions: ALL_ADMIN_PERMISSIONS })),
    value(ADMIN_INDEX, 'HS_SECKEY', Buffer.from(await hashSecret(secret)), 0b1100),
    ...pubkeys,
  ]);
}

function writeGeneratedCredentials(config: Config, prefixRecord: string): string {
  const file = join(config.dataDir, 'admin-credentials.json');
  const secret = generateSecret();
  writeFileAtomic(file, `${JSON.stringify({ identity: `${ADMIN_INDEX}:${prefixRecord}`, secret }, null, 2)}\n`, 0o600);
  return secret;
}
