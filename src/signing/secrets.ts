import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * HS_SECKEY secrets are stored as scrypt hashes (RFC 7914), never in clear:
 *
 *   scrypt$<log2 N>$<r>$<p>$<salt, base64url>$<hash, base64url>
 *
 * Comparison is constant-time. The cost parameters travel with the hash so they can be raised
 * later. Hashing runs in libuv's thread pool, so the event loop keeps serving meanwhile.
 */
const LOG_N = 14;
const R = 8;
const P = 1;
const KEY_LEN = 32;

function scryptAsync(secret: string, salt: Buffer, length: number, logN: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, length, { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string, salt: Buffer = randomBytes(16)): Promise<string> {
  const hash = await scryptAsync(secret, salt, KEY_LEN, LOG_N, R, P);
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

let dummy: Promise<string> | undefined;

/** A stored hash that matches no secret, to spend the same time on unknown identities (made on first use). */
export function dummySecretHash(): Promise<string> {
  return (dummy ??= hashSecret('no identity has this secret', Buffer.alloc(16)));
}

export function isHashedSecret(data: string): boolean {
  return /^scrypt\$\d{1,2}\$\d{1,2}\$\d{1,2}\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(data);
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  if (!isHashedSecret(stored)) return false;
  const [, logN, r, p, salt, hash] = stored.split('$') as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const n = Number(logN);
  if (n < 10 || n > 20 || expected.length < 16) return false;
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length, n, Number(r), Number(p));
  return timingSafeEqual(actual, expected);
}

export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
