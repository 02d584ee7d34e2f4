import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';

/**
 * NXP NTAG 424 DNA "Secure Unique NFC" (SUN) messages, as NXP's application note AN12196 describes
 * them. On every read the tag mirrors into its NDEF URL:
 *
 *   picc_data = AES-128-CBC(K_SDMMetaRead, IV = 0, PICCDataTag || UID(7) || SDMReadCtr(3, LE) || random)
 *   enc       = optional: file data encrypted with the session ENC key (below)
 *   cmac      = SDMMAC: the odd-indexed bytes (1, 3, ..., 15) of AES-CMAC(K_SesSDMFileReadMAC, input)
 *
 * with the session keys derived from the class's file-read key (AN12196, "SDM session key
 * generation", NIST SP 800-108 counter mode with AES-CMAC as the PRF):
 *
 *   K_SesSDMFileReadMAC = AES-CMAC(K_SDMFileRead, 3CC3 0001 0080 || UID || SDMReadCtr)
 *   K_SesSDMFileReadENC = AES-CMAC(K_SDMFileRead, C33C 0001 0080 || UID || SDMReadCtr)
 *
 * The MAC input is the URL text from SDMMACInputOffset to the MAC itself: empty when no file data is
 * mirrored; with encrypted file data, the tag is set up (as in AN12196's example) so that it covers
 * the upper-case hex of the encrypted data followed by the URL text before the MAC, `&cmac=`.
 * PICCDataTag 0xC7 says: UID mirrored, counter mirrored, UID length 7; anything else is refused.
 *
 * The read counter is returned; that it rises above every counter seen before for the tag is the
 * caller's check (`counterRises`), since it needs the stored high-water mark.
 */
export interface SunKeys {
  /** K_SDMMetaRead, 16 bytes. */
  readonly metaKey: Uint8Array;
  /** K_SDMFileRead, 16 bytes. */
  readonly fileKey: Uint8Array;
}

export interface SunMessage {
  readonly piccData: Uint8Array;
  readonly cmac: Uint8Array;
  readonly encFileData?: Uint8Array;
}

export type SunResult =
  | { readonly ok: true; readonly uid: string; readonly counter: number; readonly fileData?: Buffer }
  | { readonly ok: false; readonly reason: 'sun-picc-invalid' | 'sun-cmac-mismatch' };

export const PICC_DATA_TAG = 0xc7;
export const DEFAULT_MAC_SUFFIX = '&cmac=';
const SV2_MAC = Buffer.from('3cc300010080', 'hex');
const SV1_ENC = Buffer.from('c33c00010080', 'hex');

function aesEcbBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const d = createDecipheriv('aes-128-cbc', key, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
}

/** GF(2^128) doubling of RFC 4493's subkey generation. */
function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) out[15]! ^= 0x87;
  return out;
}

/** AES-CMAC (RFC 4493) with a 128-bit key. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  const k1 = dbl(aesEcbBlock(key, Buffer.alloc(16)));
  const k2 = dbl(k1);
  const blocks = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const last = Buffer.alloc(16);
  const tail = message.subarray((blocks - 1) * 16);
  last.set(tail);
  if (!complete) last[tail.length] = 0x80;
  const sub = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i]! ^= sub[i]!;
  let x: Buffer = Buffer.alloc(16);
  for (let b = 0; b < blocks - 1; b++) {
    for (let i = 0; i < 16; i++) x[i]! ^= message[b * 16 + i]!;
    x = aesEcbBlock(key, x);
  }
  for (let i = 0; i < 16; i++) x[i]! ^= last[i]!;
  return aesEcbBlock(key, x);
}

/** Decrypts PICCData: the UID and read counter, or undefined when the plaintext is not PICC data. */
export function decryptPiccData(metaKey: Uint8Array, piccData: Uint8Array): { uid: Buffer; counterBytes: Buffer; counter: number } | undefined {
  if (piccData.length !== 16) return undefined;
  const plain = aesCbcDecrypt(metaKey, Buffer.alloc(16), piccData);
  if (plain[0] !== PICC_DATA_TAG) return undefined;
  const uid = plain.subarray(1, 8);
  const counterBytes = plain.subarray(8, 11);
  return { uid, counterBytes, counter: counterBytes.readUIntLE(0, 3) };
}

export function sessionMacKey(fileKey: Uint8Array, uid: Uint8Array, counterBytes: Uint8Array): Buffer {
  return aesCmac(fileKey, Buffer.concat([SV2_MAC, uid, counterBytes]));
}

export function sessionEncKey(fileKey: Uint8Array, uid: Uint8Array, counterBytes: Uint8Array): Buffer {
  return aesCmac(fileKey, Buffer.concat([SV1_ENC, uid, counterBytes]));
}

/** The 8-byte SDMMAC: bytes 1, 3, ..., 15 of the full CMAC. */
export function truncateMac(full: Uint8Array): Buffer {
  return Buffer.from([1, 3, 5, 7, 9, 11, 13, 15].map((i) => full[i]!));
}

/** What the tag MACs: nothing, or the mirrored encrypted data as upper-case hex plus the URL text before the MAC. */
export function macInput(encFileData: Uint8Array | undefined, suffix = DEFAULT_MAC_SUFFIX): Buffer {
  if (!encFileData || encFileData.length === 0) return Buffer.alloc(0);
  return Buffer.from(`${Buffer.from(encFileData).toString('hex').toUpperCase()}${suffix}`, 'ascii');
}

/** Decrypts mirrored file data: AES-128-CBC with the session ENC key, IV = AES(K_ses_enc, ctr || 0^13). */
export function decryptFileData(fileKey: Uint8Array, uid: Uint8Array, counterBytes: Uint8Array, encFileData: Uint8Array): Buffer {
  const key = sessionEncKey(fileKey, uid, counterBytes);
  const iv = aesEcbBlock(key, Buffer.concat([counterBytes, Buffer.alloc(13)]));
  return aesCbcDecrypt(key, iv, encFileData);
}

export function verifySun(keys: SunKeys, msg: SunMessage, macSuffix = DEFAULT_MAC_SUFFIX): SunResult {
  const picc = decryptPiccData(keys.metaKey, msg.piccData);
  if (!picc) return { ok: false, reason: 'sun-picc-invalid' };
  if (msg.encFileData && msg.encFileData.length % 16 !== 0) return { ok: false, reason: 'sun-picc-invalid' };
  const mac = truncateMac(aesCmac(sessionMacKey(keys.fileKey, picc.uid, picc.counterBytes), macInput(msg.encFileData, macSuffix)));
  if (msg.cmac.length !== 8 || !timingSafeEqual(mac, msg.cmac)) return { ok: false, reason: 'sun-cmac-mismatch' };
  const uid = picc.uid.toString('hex').toUpperCase();
  if (msg.encFileData && msg.encFileData.length > 0) {
    return { ok: true, uid, counter: picc.counter, fileData: decryptFileData(keys.fileKey, picc.uid, picc.counterBytes, msg.encFileData) };
  }
  return { ok: true, uid, counter: picc.counter };
}

/** A read counter must exceed the highest one seen before for the tag. */
export function counterRises(highestSeen: number | undefined, counter: number): boolean {
  return highestSeen === undefined || counter > highestSeen;
}
