import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigInvalid } from '../../../errors.js';
import { writeFileAtomic } from '../../../service/atomic-file.js';

/**
 * The verification log's HMAC key (verification-log.ts), in `CAIRN_CERTS_DIR` beside the signing
 * keys: 32 random bytes, base64url, mode 0600, made on first start. Kept out of the data
 * directory on purpose: the log's keyed hashes are stored in LevelDB, and a copy of the data alone
 * must not let anyone test whether a given item or IMEI was verified. Losing the file costs only the
 * log (its entries can no longer be matched, so the clone rules start afresh); a damaged file is
 * refused rather than silently replaced.
 */
export const VERIFY_LOG_KEY_FILE = 'verify-log-hmac.key';

export function loadOrCreateLogKey(certsDir: string): Buffer {
  const file = join(certsDir, VERIFY_LOG_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(certsDir, { recursive: true });
    writeFileAtomic(file, `${randomBytes(32).toString('base64url')}\n`, 0o600);
  }
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) throw new ConfigInvalid(`${file} must hold 32 bytes in base64url (the verification log's HMAC key); remove it to start a new log`);
  return Buffer.from(text, 'base64url');
}
