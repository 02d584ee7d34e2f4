import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigInvalid } from '../errors.js';
import { generateKeyPair, SIGNING_ALGORITHMS, type SigningAlg } from '../signing/algorithms.js';
import { signingKey, verificationKey, type SigningKey, type VerificationKey } from '../signing/signer.js';
import { writeFileAtomic } from './atomic-file.js';

/**
 * Signing keys live in the certs directory, one pair per algorithm:
 *   signing-<alg>.key.pem  PKCS#8 private key, mode 0600, gitignored
 *   signing-<alg>.pub.pem  SPKI public key
 * The active algorithm's key is created on first use; keys of other algorithms found there stay
 * published for verification.
 */
const fileFor = (dir: string, alg: SigningAlg, kind: 'key' | 'pub'): string => join(dir, `signing-${alg.toLowerCase()}.${kind}.pem`);

export function loadOrCreateSigningKeys(dir: string, active: SigningAlg): { active: SigningKey; others: VerificationKey[] } {
  mkdirSync(dir, { recursive: true });
  const keyFile = fileFor(dir, active, 'key');
  if (!existsSync(keyFile) && existsSync(fileFor(dir, active, 'pub'))) {
    // A lost private key must not be silently replaced: records it signed would stop verifying.
    throw new ConfigInvalid(`${keyFile} is missing but its public key is there: restore the key (a new key would orphan every record signed with the old one)`);
  }
  if (!existsSync(keyFile)) {
    const pair = generateKeyPair(active);
    // Public half first: a private key file present means its pair is complete.
    writeFileAtomic(fileFor(dir, active, 'pub'), pair.publicKey.export({ format: 'pem', type: 'spki' }), 0o644);
    writeFileAtomic(keyFile, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), 0o600);
  }
  const privateKey = createPrivateKey(readFileSync(keyFile));
  const activeKey = signingKey(privateKey, createPublicKey(privateKey));
  const others: VerificationKey[] = [];
  for (const alg of SIGNING_ALGORITHMS) {
    const pub = fileFor(dir, alg, 'pub');
    if (alg !== active && existsSync(pub)) others.push(verificationKey(createPublicKey(readFileSync(pub))));
  }
  return { active: activeKey, others };
}

