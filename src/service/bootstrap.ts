import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigInvalid } from '../errors.js';
import { HandleService } from '../families/doa/handle-service.js';
import { ItsService } from '../families/its/its-service.js';
import { OidService } from '../families/oid/oid-service.js';
import { prefixHandle } from '../ids/handle.js';
import { encodeAdmin } from '../records/admin.js';
import { ALL_ADMIN_PERMISSIONS } from '../records/permissions.js';
import { encodePublicKeyJwk } from '../records/pubkey.js';
import type { HandleValue } from '../records/value.js';
import { generateSecret, hashSecret } from '../signing/secrets.js';
import { Signer } from '../signing/signer.js';
import type { SigningAlg } from '../signing/algorithms.js';
import { openStore } from '../store/open.js';
import type { RecordStore } from '../store/store.js';
import { writeFileAtomic } from './atomic-file.js';
import { loadOrCreateSigningKeys } from './key-files.js';

/** HS_PUBKEY index of each algorithm's key on `0.NA/<prefix>`; the signer's `iss` names it. */
export const KEY_INDEX: Readonly<Record<SigningAlg, number>> = { EdDSA: 301, ES256: 302, RS256: 303 };
export const ADMIN_INDEX = 300;

export interface Service {
  readonly config: Config;
  readonly store: RecordStore;
  readonly signer: Signer;
  readonly handles: HandleService;
  readonly oids: OidService;
  readonly its: ItsService;
  close(): Promise<void>;
}

/**
 * Opens the store and signing keys, and on first start creates the prefix record
 * `0.NA/<prefix>` (HS_ADMIN, the admin's HS_SECKEY, the signing keys as HS_PUBKEY). Later starts
 * reuse all of it; a newly configured algorithm's key is added to the prefix record.
 */
export async function startService(config: Config): Promise<Service> {
  mkdirSync(config.dataDir, { recursive: true });
  const keys = loadOrCreateSigningKeys(config.certsDir, config.signingAlg);
  const signer = new Signer(keys.active, keys.others);
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: config.syncWrites });
  const prefixRecord = prefixHandle(config.prefix);
  const handles = new HandleService(store, signer, {
    prefix: config.prefix,
    issuer: `${KEY_INDEX[signer.active.alg]}:${prefixRecord}`,
    signatureValiditySeconds: config.signatureValiditySeconds,
    signingKeyIndexes: Object.values(KEY_INDEX),
  });
  const oids = new OidService(store, signer, {
    issuer: `${KEY_INDEX[signer.active.alg]}:${prefixRecord}`,
    signatureValiditySeconds: config.signatureValiditySeconds,
  });
  const its = new ItsService(store, signer, {
    issuer: `${KEY_INDEX[signer.active.alg]}:${prefixRecord}`,
    signatureValiditySeconds: config.signatureValiditySeconds,
  });
  try {
    await ensurePrefixRecord(config, handles, signer);
    await oids.reindexIfNeeded();
  } catch (e) {
    await store.close();
    throw e;
  }
  return { config, store, signer, handles, oids, its, close: () => store.close() };
}

async function ensurePrefixRecord(config: Config, handles: HandleService, signer: Signer): Promise<void> {
  const text = prefixHandle(config.prefix);
  const existing = handles.findRecord(handles.parseServed(text));
  const now = Math.floor(Date.now() / 1000);
  const value = (index: number, type: string, data: Uint8Array, permissions = 0b1110): HandleValue => ({
    index, type, data, permissions, ttlType: 'relative', ttl: 86400, timestamp: now, references: [],
  });
  const pubkeys = signer.keys().map((k) => value(KEY_INDEX[k.alg], 'HS_PUBKEY', encodePublicKeyJwk({ ...k.jwk })));
  if (existing) {
    const published = existing.values.find((v) => v.type === 'HS_PUBKEY' && v.index === KEY_INDEX[signer.active.alg]);
    const mine = pubkeys.find((v) => v.index === KEY_INDEX[signer.active.alg])!;
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
