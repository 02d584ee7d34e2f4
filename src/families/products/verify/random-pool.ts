import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for challenge ids, nonces and token ids, drawn from a 4 KiB block filled by the
 * CSPRNG at once: each `randomBytes()` call costs about as much in call overhead as drawing a
 * few hundred bytes, and a verification needs three small draws. Every byte is used once; callers
 * get their own copy.
 */
const BLOCK = 4096;
const pool = Buffer.alloc(BLOCK);
let offset = BLOCK;

export function pooledRandomBytes(n: number): Buffer {
  if (n > BLOCK) return randomFillSync(Buffer.alloc(n));
  if (offset + n > BLOCK) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
