import { ImeiCheckMismatch, ImeiInvalid } from '../errors.js';

/**
 * IMEI and IMEISV (3GPP TS 23.003 section 6.2 and Annex B):
 *
 *   IMEI    = TAC (8 digits) + SNR (6 digits) + CD (1 Luhn check digit)    15 digits
 *   IMEISV  = TAC (8 digits) + SNR (6 digits) + SVN (2 digits)             16 digits, no check digit
 *
 * The Luhn digit is computed over TAC and SNR: from the rightmost of those 14 digits, every other
 * digit is doubled (its digit sum taken), the rest are added as they are, and CD makes the total
 * a multiple of 10. A valid check digit says nothing about whether the TAC was allocated.
 * The identifier form is `imei:<15 digits>` (an IMEISV `imei:<16 digits>` names the same device,
 * whose IMEI is its TAC and SNR with the check digit computed).
 */
export interface Imei {
  readonly kind: 'imei';
  /** The 15 digits. */
  readonly text: string;
  readonly tac: string;
  readonly snr: string;
}

export interface Imeisv {
  readonly kind: 'imeisv';
  /** The 16 digits. */
  readonly text: string;
  readonly tac: string;
  readonly snr: string;
  readonly svn: string;
  /** The device's IMEI (TAC + SNR + computed check digit). */
  readonly imei: string;
}

/** Luhn check digit of the 14 digits TAC + SNR. */
export function luhnCheckDigit(body: string): number {
  let sum = 0;
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = body.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** Exactly 15 digits with the right Luhn digit (ERR_IMEI_INVALID, ERR_IMEI_CHECK_MISMATCH). */
export function parseImei(text: string): Imei {
  if (typeof text !== 'string' || !/^[0-9]{15}$/.test(text)) {
    const sv = typeof text === 'string' && /^[0-9]{16}$/.test(text) ? ' (16 digits is an IMEISV; give the 15-digit IMEI)' : '';
    throw new ImeiInvalid(`IMEI "${String(text).slice(0, 20)}" must be 15 digits${sv}`, { imei: typeof text === 'string' ? text.slice(0, 20) : null });
  }
  const expected = luhnCheckDigit(text.slice(0, 14));
  if (expected !== text.charCodeAt(14) - 48) throw new ImeiCheckMismatch(`IMEI ${text}: the Luhn check digit should be ${expected}`, { imei: text, expected: String(expected) });
  return { kind: 'imei', text, tac: text.slice(0, 8), snr: text.slice(8, 14) };
}

/** Exactly 16 digits; the software version number 99 is reserved (TS 23.003 6.2.2). */
export function parseImeisv(text: string): Imeisv {
  if (typeof text !== 'string' || !/^[0-9]{16}$/.test(text)) throw new ImeiInvalid(`IMEISV "${String(text).slice(0, 20)}" must be 16 digits`);
  const svn = text.slice(14);
  if (svn === '99') throw new ImeiInvalid('IMEISV software version number 99 is reserved');
  const body = text.slice(0, 14);
  return { kind: 'imeisv', text, tac: text.slice(0, 8), snr: text.slice(8, 14), svn, imei: `${body}${luhnCheckDigit(body)}` };
}

/** An IMEI (15 digits) or an IMEISV (16 digits). */
export function parseImeiOrSv(text: string): Imei | Imeisv {
  return typeof text === 'string' && text.length === 16 ? parseImeisv(text) : parseImei(text);
}

/** `imei:<15 digits>` or `imei:<16 digits>` (case-insensitive scheme); the device's IMEI. */
export function parseImeiId(text: string): Imei | Imeisv {
  if (typeof text !== 'string' || !/^imei:/i.test(text)) throw new ImeiInvalid('An IMEI identifier is written imei:<15 digits>');
  return parseImeiOrSv(text.slice(5));
}

export function isImei(text: unknown): text is string {
  try {
    parseImei(text as string);
    return true;
  } catch {
    return false;
  }
}

export function formatImeiId(imei: string): string {
  return `imei:${parseImei(imei).text}`;
}
