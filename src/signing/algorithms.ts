import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * The signature algorithms Cairn signs with. An allow-list: the algorithm of a signature is always
 * taken from the key that is expected to verify it, never from the token being checked.
 */
export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlg(x: unknown): x is SigningAlg {
  return typeof x === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(x);
}

/** The digest name node:crypto's sign/verify takes (Ed25519 hashes internally, hence null). */
export function digestFor(alg: SigningAlg): string | null {
  return alg === 'EdDSA' ? null : 'sha256';
}

export function generateKeyPair(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/** The algorithm a public or private key is fit for, or undefined if Cairn does not sign with it. */
export function algForKey(key: KeyObject): SigningAlg | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  return undefined;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the key id Cairn publishes. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members: Record<string, readonly string[]> = { OKP: ['crv', 'kty', 'x'], EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'] };
  const names = members[String(jwk.kty)];
  if (!names) throw new TypeError(`No thumbprint members for kty ${String(jwk.kty)}`);
  const canonical = `{${names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(jwk[n])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
