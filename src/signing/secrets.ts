import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * HS_SECKEY secrets are stored as scrypt hashes (RFC 7914), never in clear:
 *
 *   scrypt$<log2 N>$<r>$<p>$<salt, base64url>$<hash, base64url>
 *
 * Comparison is constant-time. The cost parameters travel with the hash so they can be raised later.
 */
const LOG_N = 14;
const R = 8;
const P = 1;
const KEY_LEN = 32;

export function hashSecret(secret: string, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(secret, salt, KEY_LEN, { N: 2 ** LOG_N, r: R, p: P });
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** The same hash, computed in libuv's thread pool so the event loop keeps serving. */
export async function hashSecretAsync(secret: string, salt: Buffer = randomBytes(16)): Promise<string> {
  const hash = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, salt, KEY_LEN, { N: 2 ** LOG_N, r: R, p: P }, (err, key) => (err ? reject(err) : resolve(key))),
  );
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** A stored hash that matches no secret, to spend the same time on unknown identities. */
export const DUMMY_SECRET_HASH = hashSecret('no identity has this secret', Buffer.alloc(16));

export function isHashedSecret(data: string): boolean {
  return /^scrypt\$\d{1,2}\$\d{1,2}\$\d{1,2}\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(data);
}

/** Checks a secret against its stored hash off the event loop (scrypt runs in the thread pool). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  if (!isHashedSecret(stored)) return false;
  const [, logN, r, p, salt, hash] = stored.split('$') as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const n = Number(logN);
  if (n < 10 || n > 20 || expected.length < 16) return false;
  const actual = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, { N: 2 ** n, r: Number(r), p: Number(p), maxmem: 256 * 2 ** n * Number(r) }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
  return timingSafeEqual(actual, expected);
}

export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
