import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { ConfigInvalid } from '../errors.js';
import { loadOrCreateSigningKeys } from '../service/key-files.js';
import { Signer } from '../signing/signer.js';

/**
 * The service's signer from CAIRN_CERTS_DIR, for the operations commands: the keys that must
 * already be there. Unlike starting the service, this never creates a key (a fresh key would
 * verify nothing and seal a backup no restore could trust), so a certs directory without the
 * configured algorithm's private key is a configuration error.
 */
export function loadExistingSigner(config: Config, purpose: string): Signer {
  // The names key-files.ts gives the first key of an algorithm and the registry of rotated keys
  // (with a registry, loading never creates a key: a missing active key is ERR_CONFIG_INVALID).
  const keyFile = join(config.certsDir, `signing-${config.signingAlg.toLowerCase()}.key.pem`);
  const registry = join(config.certsDir, 'signing-keys.json');
  if (!existsSync(keyFile) && !existsSync(registry)) {
    throw new ConfigInvalid(
      `${purpose} needs the service's signing keys, and ${keyFile} is missing: point CAIRN_CERTS_DIR at the certs directory of the service (and CAIRN_SIGNING_ALG at its algorithm)`,
    );
  }
  const keys = loadOrCreateSigningKeys(config.certsDir, config.signingAlg);
  return new Signer(keys.active, keys.others);
}
