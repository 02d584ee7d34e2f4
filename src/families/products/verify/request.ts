import { VerifyContextInvalid, VerifyEvidenceInvalid, VerifyRequestInvalid } from '../../../errors.js';
import { CHALLENGE_ID } from './challenges.js';
import { MAX_SIGNATURE_BYTES } from './device-signature.js';
import { COUNTRY, GEOHASH, MAX_GEOHASH_LENGTH } from './locations.js';
import { MAX_CHAIN_LENGTH } from './x509-chain.js';

/**
 * Strict reading of the verification request bodies. Unknown members are refused rather than
 * ignored: a misspelt `challengeID` or `evidenc` must not quietly turn into a request that proves
 * less. Every refusal is a 400 with a stable code:
 *
 *   ERR_VERIFY_REQUEST_INVALID   the body's shape, `id`, `challengeId`
 *   ERR_VERIFY_EVIDENCE_INVALID  `evidence`: its type, Base64url/hex fields, sizes
 *   ERR_VERIFY_CONTEXT_INVALID   `context`: purpose, country (ISO 3166-1 alpha-2), geohash (<= 5)
 */
export type Evidence =
  | { readonly type: 'none' }
  | { readonly type: 'device-signature'; readonly signature: Buffer }
  | { readonly type: 'x509-chain'; readonly chain: readonly string[]; readonly signature: Buffer }
  | { readonly type: 'sun'; readonly piccData: Buffer; readonly cmac: Buffer; readonly encFileData?: Buffer };

export interface VerifyContext {
  readonly purpose?: string;
  /** Upper case. */
  readonly country?: string;
  /** Lower case, at most 5 characters. */
  readonly geohash?: string;
}

export interface VerifyRequest {
  readonly id: string;
  readonly challengeId?: string;
  readonly evidence: Evidence;
  readonly context: VerifyContext;
  /** Asks for the inclusion proof of the item's registration (`registration` in the answer). */
  readonly proof: boolean;
}

export const MAX_ID_LENGTH = 2048;
const MAX_PEM_LENGTH = 16 * 1024;
const MAX_ENC_FILE_HEX = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const PURPOSE = /^[a-z][a-z0-9-]{0,31}$/;

type Obj = Record<string, unknown>;
const isObject = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function onlyKeys(o: Obj, allowed: readonly string[], fail: (m: string) => Error, where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw fail(`${where} has an unknown member "${k}" (allowed: ${allowed.join(', ')})`);
}

export function parseItemId(x: unknown): string {
  if (typeof x !== 'string' || x.trim() === '') throw new VerifyRequestInvalid('"id" must be a non-empty string');
  if (x.length > MAX_ID_LENGTH) throw new VerifyRequestInvalid(`"id" is longer than ${MAX_ID_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(x)) throw new VerifyRequestInvalid('"id" contains control characters');
  return x.trim();
}

/** `POST /api/verify/challenges` body: `{"id": ...}`. */
export function parseChallengeRequest(body: unknown): { id: string } {
  if (!isObject(body)) throw new VerifyRequestInvalid('The body must be a JSON object {"id": ...}');
  onlyKeys(body, ['id'], (m) => new VerifyRequestInvalid(m), 'The body');
  return { id: parseItemId(body.id) };
}

function base64url(x: unknown, name: string, maxBytes: number): Buffer {
  if (typeof x !== 'string' || !BASE64URL.test(x) || x.length % 4 === 1) throw new VerifyEvidenceInvalid(`"${name}" must be base64url without padding`);
  const bytes = Buffer.from(x, 'base64url');
  if (bytes.length === 0 || bytes.length > maxBytes) throw new VerifyEvidenceInvalid(`"${name}" must decode to 1..${maxBytes} bytes`);
  return bytes;
}

function hex(x: unknown, name: string, lengths: { exact?: number; multipleOf?: number; max?: number }): Buffer {
  if (typeof x !== 'string' || !/^(?:[0-9A-Fa-f]{2})+$/.test(x)) throw new VerifyEvidenceInvalid(`"${name}" must be hexadecimal`);
  const n = x.length / 2;
  if (lengths.exact !== undefined && n !== lengths.exact) throw new VerifyEvidenceInvalid(`"${name}" must be ${lengths.exact} bytes (${lengths.exact * 2} hex digits)`);
  if (lengths.multipleOf !== undefined && n % lengths.multipleOf !== 0) throw new VerifyEvidenceInvalid(`"${name}" must be a multiple of ${lengths.multipleOf} bytes`);
  if (lengths.max !== undefined && x.length > lengths.max) throw new VerifyEvidenceInvalid(`"${name}" is longer than ${lengths.max} hex digits`);
  return Buffer.from(x, 'hex');
}

export function parseEvidence(x: unknown): Evidence {
  if (!isObject(x) || typeof x.type !== 'string') throw new VerifyEvidenceInvalid('"evidence" must be an object with a "type"');
  const fail = (m: string): Error => new VerifyEvidenceInvalid(m);
  switch (x.type) {
    case 'none':
      onlyKeys(x, ['type'], fail, 'Evidence "none"');
      return { type: 'none' };
    case 'device-signature':
      onlyKeys(x, ['type', 'signature'], fail, 'Evidence "device-signature"');
      return { type: 'device-signature', signature: base64url(x.signature, 'signature', MAX_SIGNATURE_BYTES) };
    case 'x509-chain': {
      onlyKeys(x, ['type', 'chain', 'signature'], fail, 'Evidence "x509-chain"');
      const chain = x.chain;
      if (!Array.isArray(chain) || chain.length === 0 || chain.length > MAX_CHAIN_LENGTH) {
        throw new VerifyEvidenceInvalid(`"chain" must be an array of 1..${MAX_CHAIN_LENGTH} PEM certificates, leaf first`);
      }
      for (const pem of chain) {
        if (typeof pem !== 'string' || pem.length > MAX_PEM_LENGTH) throw new VerifyEvidenceInvalid(`"chain" entries must be PEM strings of at most ${MAX_PEM_LENGTH} characters`);
      }
      return { type: 'x509-chain', chain: chain as string[], signature: base64url(x.signature, 'signature', MAX_SIGNATURE_BYTES) };
    }
    case 'sun': {
      onlyKeys(x, ['type', 'piccData', 'cmac', 'encFileData'], fail, 'Evidence "sun"');
      const piccData = hex(x.piccData, 'piccData', { exact: 16 });
      const cmac = hex(x.cmac, 'cmac', { exact: 8 });
      if (x.encFileData === undefined || x.encFileData === '') return { type: 'sun', piccData, cmac };
      return { type: 'sun', piccData, cmac, encFileData: hex(x.encFileData, 'encFileData', { multipleOf: 16, max: MAX_ENC_FILE_HEX }) };
    }
    default:
      throw new VerifyEvidenceInvalid(`Unknown evidence type "${x.type}" (none, device-signature, x509-chain, sun)`);
  }
}

export function parseContext(x: unknown): VerifyContext {
  if (x === undefined || x === null) return {};
  if (!isObject(x)) throw new VerifyContextInvalid('"context" must be an object');
  onlyKeys(x, ['purpose', 'country', 'geohash'], (m) => new VerifyContextInvalid(m), '"context"');
  const out: { purpose?: string; country?: string; geohash?: string } = {};
  if (x.purpose !== undefined) {
    if (typeof x.purpose !== 'string' || !PURPOSE.test(x.purpose)) throw new VerifyContextInvalid('"purpose" must be a short lower-case word (a-z, 0-9, -)');
    out.purpose = x.purpose;
  }
  if (x.country !== undefined) {
    const c = typeof x.country === 'string' ? x.country.toUpperCase() : '';
    if (!COUNTRY.test(c)) throw new VerifyContextInvalid('"country" must be an ISO 3166-1 alpha-2 code');
    out.country = c;
  }
  if (x.geohash !== undefined) {
    const g = typeof x.geohash === 'string' ? x.geohash.toLowerCase() : '';
    if (g.length > MAX_GEOHASH_LENGTH) throw new VerifyContextInvalid(`"geohash" must be at most ${MAX_GEOHASH_LENGTH} characters: Cairn keeps only coarse locations`);
    if (!GEOHASH.test(g)) throw new VerifyContextInvalid('"geohash" must be a geohash (0-9, b-z without a, i, l, o)');
    out.geohash = g;
  }
  return out;
}

/** `POST /api/verify` body: `{id, challengeId?, evidence, context?, proof?}`. */
export function parseVerifyRequest(body: unknown): VerifyRequest {
  if (!isObject(body)) throw new VerifyRequestInvalid('The body must be a JSON object {id, challengeId, evidence, context}');
  onlyKeys(body, ['id', 'challengeId', 'evidence', 'context', 'proof'], (m) => new VerifyRequestInvalid(m), 'The body');
  if (body.proof !== undefined && typeof body.proof !== 'boolean') throw new VerifyRequestInvalid('"proof" must be true or false');
  const id = parseItemId(body.id);
  let challengeId: string | undefined;
  if (body.challengeId !== undefined) {
    if (typeof body.challengeId !== 'string' || !CHALLENGE_ID.test(body.challengeId)) throw new VerifyRequestInvalid('"challengeId" is not a challenge id');
    challengeId = body.challengeId;
  }
  if (body.evidence === undefined) throw new VerifyEvidenceInvalid('"evidence" is required ({"type": "none"} at least)');
  const evidence = parseEvidence(body.evidence);
  const context = parseContext(body.context);
  const proof = body.proof === true;
  return challengeId === undefined ? { id, evidence, context, proof } : { id, challengeId, evidence, context, proof };
}
