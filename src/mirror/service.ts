import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigInvalid } from '../errors.js';
import { HandleService } from '../families/doa/handle-service.js';
import { ItsService } from '../families/its/its-service.js';
import { OidService, type OidChange } from '../families/oid/oid-service.js';
import type { Principal } from '../families/doa/authorize.js';
import { prefixHandle } from '../ids/handle.js';
import { parseOid } from '../ids/oid.js';
import { KEY_INDEX, type Service } from '../service/bootstrap.js';
import { openStore } from '../store/open.js';
import type { RecordStore } from '../store/store.js';
import { withMirroredConfidential } from './oid-confidential.js';
import { PrimaryKeys } from './primary-keys.js';

/** What a mirror keeps about its primary in the store's meta, committed with the records it applies. */
export interface MirrorState {
  /** The primary's base URL. */
  readonly primary: string;
  /** The primary's change-log position up to which everything is applied or given up. */
  readonly cursor: number;
  /** Feed entries given up after failing verification (or being unusable) on every attempt. */
  readonly rejectedTotal: number;
  /** The last of those, newest last. */
  readonly rejected: readonly RejectedEntry[];
  /** Entries of families a mirror does not copy (ITS). */
  readonly unsupportedTotal: number;
}

export interface RejectedEntry {
  readonly seq: number;
  readonly id: string;
  readonly version: number;
  readonly code: string;
  readonly message: string;
  /** ISO-8601 time it was given up. */
  readonly at: string;
}

export const STATE_META = 'mirror';
export const JWKS_META = 'mirrorJwks';

/**
 * The OID registry of a mirror: arcs arrive through the follower's commits, not through `put`, so
 * the follower announces them here to the same listeners (the ORS zone serial and answer cache).
 */
export class MirroredOids extends OidService {
  private readonly mirrored = new Set<(change: OidChange) => void>();

  /** The primary's view, with `confidential` as far as the mirror can tell (src/mirror/oid-confidential.ts). */
  override view(text: string, who?: Principal): ReturnType<OidService['view']> {
    const view = super.view(text, who);
    const record = this.find(parseOid(text));
    // The view only ever leaves as JSON; OidService's type has no room for "unknown" (null) yet.
    return (record ? withMirroredConfidential(view, record) : view) as ReturnType<OidService['view']>;
  }

  override onChange(listener: (change: OidChange) => void): () => void {
    this.mirrored.add(listener);
    const off = super.onChange(listener);
    return () => {
      this.mirrored.delete(listener);
      off();
    };
  }

  /** Tells the listeners about an arc the follower committed (after the commit). */
  announce(change: OidChange): void {
    for (const listener of [...this.mirrored]) {
      try {
        listener(change);
      } catch (e) {
        process.emitWarning(`OID change listener failed: ${e instanceof Error ? e.message : String(e)}`, 'CairnListenerWarning');
      }
    }
  }
}

export interface MirrorService {
  readonly service: Service;
  readonly keys: PrimaryKeys;
  readonly oids: MirroredOids;
  readonly state: MirrorState;
}

/**
 * Opens a mirror's data directory: the store and the services over it, with the primary's keys
 * (as last fetched) in place of signing keys. Unlike `startService` it writes no record of its
 * own: every record, `0.NA/<prefix>` included, comes from the primary. A data directory that
 * holds a primary's data, or mirrors another primary, is refused.
 */
export async function openMirrorService(config: Config): Promise<MirrorService> {
  const primary = config.mirrorOf;
  if (primary === undefined) throw new ConfigInvalid('openMirrorService needs CAIRN_MIRROR_OF');
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openStore(join(config.dataDir, 'leveldb'), { sync: config.syncWrites, maxOpenFiles: config.storeMaxOpenFiles });
  try {
    const state = await initialState(store, primary, config.dataDir);
    const keys = new PrimaryKeys((await store.getMeta<unknown>(JWKS_META)) ?? { keys: [] });
    const issuer = `${KEY_INDEX.EdDSA}:${prefixHandle(config.prefix)}`;
    const options = { issuer, signatureValiditySeconds: config.signatureValiditySeconds };
    const handles = new HandleService(store, keys, { prefix: config.prefix, ...options, signingKeyIndexes: Object.values(KEY_INDEX) });
    const oids = new MirroredOids(store, keys, options);
    const its = new ItsService(store, keys, options);
    await oids.reindexIfNeeded();
    const service: Service = { config, store, signer: keys, handles, oids, its, close: () => store.close() };
    return { service, keys, oids, state };
  } catch (e) {
    await store.close();
    throw e;
  }
}

async function initialState(store: RecordStore, primary: string, dataDir: string): Promise<MirrorState> {
  const state = await store.getMeta<MirrorState>(STATE_META);
  if (state === undefined) {
    if (store.lastSeq > 0) {
      throw new ConfigInvalid(`${dataDir} holds a primary's data, not a mirror's: give the mirror a data directory of its own`);
    }
    const fresh: MirrorState = { primary, cursor: 0, rejectedTotal: 0, rejected: [], unsupportedTotal: 0 };
    await store.exclusive(() => store.commit([], { [STATE_META]: fresh }));
    return fresh;
  }
  if (state.primary !== primary) {
    throw new ConfigInvalid(`${dataDir} mirrors ${state.primary}, not ${primary}: start with CAIRN_MIRROR_OF=${state.primary} or an empty data directory`);
  }
  return state;
}
