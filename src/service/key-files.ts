import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigInvalid } from '../errors.js';
import { generateKeyPair, isSigningAlg, jwkThumbprint, SIGNING_ALGORITHMS, type SigningAlg } from '../signing/algorithms.js';
import { signingKey, verificationKey, type SigningKey, type VerificationKey } from '../signing/signer.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * Signing keys live in the certs directory (CAIRN_CERTS_DIR):
 *
 *   signing-<alg>.key.pem        generation 0 of an algorithm: PKCS#8 private key, mode 0600
 *   signing-<alg>.pub.pem        its SPKI public key
 *   signing-<alg>-<g>.key.pem    generation g >= 1 (made by `cairn keys rotate`), same modes
 *   signing-<alg>-<g>.pub.pem
 *   signing-keys.json            the key registry (mode 0600), written by the first rotation
 *
 * Without a registry (no rotation yet) the files decide: the configured algorithm's generation-0
 * key signs (created on first use) and the keys of other algorithms found there stay published.
 * Once a registry exists it decides: which key is active, which are verify-only and until when,
 * and each key's `HS_PUBKEY` index on `0.NA/<prefix>`: base + 10 x generation, with base 301
 * (EdDSA), 302 (ES256), 303 (RS256), so generation 0 keeps the indexes 301-303 and later keys of
 * one algorithm never share one (EdDSA 301, 311, 321, ...; indexes another value of the prefix
 * record already holds are skipped).
 */
export const KEY_REGISTRY_FILE = 'signing-keys.json';
export const KEY_INDEX_BASE: Readonly<Record<SigningAlg, number>> = { EdDSA: 301, ES256: 302, RS256: 303 };

export const keyIndex = (alg: SigningAlg, generation: number): number => KEY_INDEX_BASE[alg] + 10 * generation;

/** One key in the registry. Times are RFC 3339 UTC strings. */
export interface KeyEntry {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly generation: number;
  /** `HS_PUBKEY` index on `0.NA/<prefix>`; `iss` of the signatures it makes is `<index>:0.NA/<prefix>`. */
  readonly index: number;
  /**
   * pending: made by a rotation that has not switched to it yet (published on the prefix record at
   * most, never signing); active: signs; verify-only: signed before, kept for verification.
   */
  readonly status: 'pending' | 'active' | 'verify-only';
  /** Private and public key files, relative to the certs directory. */
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  /** The public JWK (`kid`, `alg`, `use` included): a verify-only key needs no file to stay published. */
  readonly jwk: Readonly<Record<string, string>>;
  /** Made by `cairn keys rotate`: once it is active, every live record is re-signed with it. */
  readonly resign: boolean;
  readonly created: string;
  /** When it last became active and last stopped being active (milliseconds kept). */
  readonly activated?: string;
  readonly deactivated?: string;
  /** When a verify-only key leaves the JWKS (it stays while live records still need it); absent: never. */
  readonly retireAfter?: string;
  /** On a pending key: the retire time (or "never") its rotation gives the key it replaces. */
  readonly retirePreviousAfter?: string;
}

export interface KeyRegistry {
  readonly format: 1;
  /** CAIRN_SIGNING_ALG when the active key was last chosen: a later change of it adds a key of that algorithm. */
  readonly configuredAlg: SigningAlg;
  readonly active: string;
  readonly keys: readonly KeyEntry[];
}

export interface KeyRing {
  readonly active: SigningKey;
  /** Every other key that is not pending: verify-only, with its retire time. */
  readonly others: VerificationKey[];
  /** Pending keys of an interrupted rotation (not signing, not in the JWKS). */
  readonly pending: readonly VerificationKey[];
  /** The registry, or undefined while the files decide (no rotation yet). */
  readonly registry: KeyRegistry | undefined;
}

const legacyFile = (alg: SigningAlg, kind: 'key' | 'pub'): string => `signing-${alg.toLowerCase()}.${kind}.pem`;
const generationFile = (alg: SigningAlg, generation: number, kind: 'key' | 'pub'): string =>
  generation === 0 ? legacyFile(alg, kind) : `signing-${alg.toLowerCase()}-${generation}.${kind}.pem`;

export const isoTime = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const seconds = (iso: string | undefined): number | undefined => (iso === undefined ? undefined : Math.floor(Date.parse(iso) / 1000));

/**
 * Loads the signing keys: the active one with its private key, the others for verification.
 * Creates the first key of `active` when there is none. Throws ERR_CONFIG_INVALID for a lost or
 * swapped private key and for a damaged registry.
 */
export function loadOrCreateSigningKeys(dir: string, active: SigningAlg): KeyRing {
  mkdirSync(dir, { recursive: true });
  const registry = readKeyRegistry(dir);
  return registry ? ringFromRegistry(dir, registry, active) : ringFromFiles(dir, active);
}

/** Before any rotation: one key per algorithm, the configured one active. */
function ringFromFiles(dir: string, active: SigningAlg): KeyRing {
  const keyFile = join(dir, legacyFile(active, 'key'));
  if (!existsSync(keyFile) && existsSync(join(dir, legacyFile(active, 'pub')))) {
    // A lost private key must not be silently replaced: records it signed would stop verifying.
    throw new ConfigInvalid(`${keyFile} is missing but its public key is there: restore the key (a new key would orphan every record signed with the old one)`);
  }
  if (!existsSync(keyFile)) writeKeyPair(dir, active, 0);
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const activeKey = signingKey(privateKey, createPublicKey(privateKey), { index: keyIndex(active, 0) });
  const others: VerificationKey[] = [];
  for (const alg of SIGNING_ALGORITHMS) {
    const pub = join(dir, legacyFile(alg, 'pub'));
    if (alg !== active && existsSync(pub)) others.push(verificationKey(createPublicKey(readFileSync(pub)), { index: keyIndex(alg, 0) }));
  }
  return { active: activeKey, others, pending: [], registry: undefined };
}

function ringFromRegistry(dir: string, given: KeyRegistry, configured: SigningAlg): KeyRing {
  let registry = given;
  if (registry.configuredAlg !== configured) {
    // CAIRN_SIGNING_ALG changed since the active key was chosen: that algorithm signs from now on,
    // side by side with the keys before it (nothing is re-signed; both stay published).
    registry = switchAlgorithm(dir, registry, configured);
    writeKeyRegistry(dir, registry);
  }
  const entry = registry.keys.find((k) => k.kid === registry.active)!;
  const keyFile = join(dir, entry.privateKeyFile);
  if (!existsSync(keyFile)) {
    throw new ConfigInvalid(`${keyFile} (the active signing key ${entry.kid}) is missing: restore it (a new key would orphan every record signed with it)`);
  }
  const privateKey = loadPrivateKey(keyFile);
  const activeKey = signingKey(privateKey, createPublicKey(privateKey), { index: entry.index });
  if (activeKey.kid !== entry.kid) {
    throw new ConfigInvalid(`${keyFile} is not the key ${entry.kid} that ${join(dir, KEY_REGISTRY_FILE)} names as active: restore the original key`);
  }
  const others: VerificationKey[] = [];
  const pending: VerificationKey[] = [];
  for (const k of registry.keys) {
    if (k.kid === entry.kid) continue;
    const key = publicKeyOf(dir, k);
    (k.status === 'pending' ? pending : others).push(key);
  }
  return { active: activeKey, others, pending, registry };
}

function loadPrivateKey(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file));
  } catch (e) {
    throw new ConfigInvalid(`${file} is not a PEM private key: ${(e as Error).message}`);
  }
}

/** A registry key as a verification key, from the JWK the registry holds (checked against its kid). */
export function publicKeyOf(dir: string, k: KeyEntry): VerificationKey {
  let key: VerificationKey;
  try {
    const { kid: _kid, alg: _alg, use: _use, ...jwk } = k.jwk;
    key = verificationKey(createPublicKey({ key: jwk as never, format: 'jwk' }), {
      index: k.index,
      ...(k.status === 'verify-only' && k.retireAfter !== undefined ? { retireAfter: seconds(k.retireAfter)! } : {}),
    });
  } catch (e) {
    throw new ConfigInvalid(`${join(dir, KEY_REGISTRY_FILE)}: key ${k.kid} has an unusable public key: ${(e as Error).message}`);
  }
  if (key.kid !== k.kid || key.alg !== k.alg) throw new ConfigInvalid(`${join(dir, KEY_REGISTRY_FILE)}: key ${k.kid} does not match its public key`);
  return key;
}

/** The registry as it stands, or undefined when there is none yet. Throws ERR_CONFIG_INVALID if damaged. */
export function readKeyRegistry(dir: string): KeyRegistry | undefined {
  const file = join(dir, KEY_REGISTRY_FILE);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigInvalid(`${file} is not JSON: restore it from a backup of the certs directory`);
  }
  return checkRegistry(parsed, file);
}

function checkRegistry(x: unknown, file: string): KeyRegistry {
  const bad = (why: string): ConfigInvalid => new ConfigInvalid(`${file}: ${why}`);
  const r = x as Partial<KeyRegistry> | null;
  if (typeof r !== 'object' || r === null || r.format !== 1 || !isSigningAlg(r.configuredAlg) || typeof r.active !== 'string' || !Array.isArray(r.keys)) {
    throw bad('not a key registry (format 1 with configuredAlg, active, keys)');
  }
  const kids = new Set<string>();
  const indexes = new Set<number>();
  for (const k of r.keys as unknown[]) {
    const e = k as Partial<KeyEntry> | null;
    const time = (t: unknown): boolean => t === undefined || (typeof t === 'string' && Number.isFinite(Date.parse(t)));
    if (
      typeof e !== 'object' || e === null || typeof e.kid !== 'string' || !isSigningAlg(e.alg) || !Number.isInteger(e.generation) || e.generation! < 0 ||
      !Number.isInteger(e.index) || !['pending', 'active', 'verify-only'].includes(String(e.status)) || typeof e.privateKeyFile !== 'string' ||
      typeof e.publicKeyFile !== 'string' || /[/\\]/.test(e.privateKeyFile + e.publicKeyFile) || typeof e.jwk !== 'object' || e.jwk === null ||
      typeof e.resign !== 'boolean' || !time(e.created) || e.created === undefined || !time(e.activated) || !time(e.deactivated) || !time(e.retireAfter) ||
      !(e.retirePreviousAfter === 'never' || time(e.retirePreviousAfter))
    ) {
      throw bad(`entry ${JSON.stringify(e?.kid ?? null)} is malformed`);
    }
    if (kids.has(e.kid) || indexes.has(e.index!)) throw bad(`key ${e.kid} or its index ${e.index} appears twice`);
    if (jwkThumbprint(e.jwk) !== e.kid) throw bad(`key ${e.kid} is not its JWK's thumbprint`);
    kids.add(e.kid);
    indexes.add(e.index!);
  }
  const actives = (r.keys as KeyEntry[]).filter((k) => k.status === 'active');
  if (actives.length !== 1 || actives[0]!.kid !== r.active) throw bad('exactly one key must be active, the one "active" names');
  return r as KeyRegistry;
}

/**
 * Whether the key may have signed anything at or after `sinceMs` (ms since the epoch): it is still
 * active, or was never switched away from by the registry, or was switched away from later.
 */
export function signedSince(registry: KeyRegistry | undefined, kid: string, sinceMs: number): boolean {
  const entry = registry?.keys.find((k) => k.kid === kid);
  if (entry === undefined || entry.deactivated === undefined || entry.kid === registry!.active) return true;
  return Date.parse(entry.deactivated) > sinceMs;
}

/** Writes the registry atomically, mode 0600. */
export function writeKeyRegistry(dir: string, registry: KeyRegistry): void {
  writeFileAtomic(join(dir, KEY_REGISTRY_FILE), `${JSON.stringify(registry, null, 2)}\n`, 0o600);
}

/** The registry describing the keys the files decide (before the first rotation). */
export function registryFromRing(ring: { readonly active: VerificationKey; readonly others: readonly VerificationKey[]; readonly registry?: KeyRegistry | undefined }, configuredAlg: SigningAlg, now: number): KeyRegistry {
  if (ring.registry) return ring.registry;
  const entry = (k: VerificationKey, status: KeyEntry['status']): KeyEntry => ({
    kid: k.kid,
    alg: k.alg,
    generation: 0,
    index: keyIndex(k.alg, 0),
    status,
    privateKeyFile: legacyFile(k.alg, 'key'),
    publicKeyFile: legacyFile(k.alg, 'pub'),
    jwk: { ...k.jwk },
    resign: false,
    created: isoTime(now),
    ...(status === 'active' ? { activated: isoTime(now) } : {}),
  });
  return { format: 1, configuredAlg, active: ring.active.kid, keys: [entry(ring.active, 'active'), ...ring.others.map((k) => entry(k, 'verify-only'))] };
}

/**
 * A new key pair of `alg`, written to the certs directory (public half first: a private key file
 * present means its pair is complete), as a pending registry entry: the first generation of that
 * algorithm after those the registry holds whose index `taken` does not refuse.
 */
export function createPendingKey(dir: string, registry: KeyRegistry, alg: SigningAlg, now: number, taken: (index: number) => boolean): KeyEntry {
  const used = new Set(registry.keys.map((k) => k.index));
  let generation = Math.max(-1, ...registry.keys.filter((k) => k.alg === alg).map((k) => k.generation)) + 1;
  while (used.has(keyIndex(alg, generation)) || taken(keyIndex(alg, generation)) || existsSync(join(dir, generationFile(alg, generation, 'key')))) generation++;
  const key = writeKeyPair(dir, alg, generation);
  return {
    kid: key.kid,
    alg,
    generation,
    index: keyIndex(alg, generation),
    status: 'pending',
    privateKeyFile: generationFile(alg, generation, 'key'),
    publicKeyFile: generationFile(alg, generation, 'pub'),
    jwk: { ...key.jwk },
    resign: true,
    created: isoTime(now),
  };
}

function writeKeyPair(dir: string, alg: SigningAlg, generation: number): SigningKey {
  const pair = generateKeyPair(alg);
  writeFileAtomic(join(dir, generationFile(alg, generation, 'pub')), pair.publicKey.export({ format: 'pem', type: 'spki' }), 0o644);
  writeFileAtomic(join(dir, generationFile(alg, generation, 'key')), pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), 0o600);
  return signingKey(pair.privateKey, pair.publicKey, { index: keyIndex(alg, generation) });
}

/**
 * Makes `kid` the active key: the key active before becomes verify-only, leaving the JWKS at
 * `retireAfter` (seconds; undefined: never), and pending keys other than `kid` are dropped.
 */
export function activateKey(registry: KeyRegistry, kid: string, now: number, retireAfter: number | undefined): KeyRegistry {
  const switchedAt = new Date(Math.max(Date.now(), now * 1000)).toISOString();
  const keys = registry.keys
    .filter((k) => k.status !== 'pending' || k.kid === kid)
    .map((k): KeyEntry => {
      // Switch times to the millisecond: a re-sign that began after a key's switch never meets its signatures.
      if (k.kid === kid) return { ...k, status: 'active', activated: switchedAt };
      if (k.kid === registry.active) {
        const { retireAfter: _old, ...rest } = k;
        return { ...rest, status: 'verify-only', deactivated: switchedAt, ...(retireAfter === undefined ? {} : { retireAfter: isoTime(retireAfter) }) };
      }
      return k;
    });
  return { ...registry, active: kid, keys };
}

/**
 * The configured algorithm changed: its newest key that was never rotated away from signs again,
 * or a new one is made (generation after the others of that algorithm).
 */
function switchAlgorithm(dir: string, registry: KeyRegistry, alg: SigningAlg): KeyRegistry {
  const now = Math.floor(Date.now() / 1000);
  const candidates = registry.keys.filter((k) => k.alg === alg && k.status !== 'pending' && k.retireAfter === undefined);
  const reuse = candidates.sort((a, b) => b.generation - a.generation)[0];
  if (reuse && existsSync(join(dir, reuse.privateKeyFile))) {
    if (reuse.kid === registry.active) return { ...registry, configuredAlg: alg };
    return { ...activateKey(registry, reuse.kid, now, undefined), configuredAlg: alg };
  }
  const fresh = { ...createPendingKey(dir, registry, alg, now, () => false), resign: false };
  return { ...activateKey({ ...registry, keys: [...registry.keys, fresh] }, fresh.kid, now, undefined), configuredAlg: alg };
}
