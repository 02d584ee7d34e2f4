import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AuthAlgUnsupported, AuthHeaderInvalid, AuthTypeUnsupported, CairnError } from '../../errors.js';
import type { PublicJwk } from '../../records/pubkey.js';
import { parseIdentity, type Identity } from './identity.js';

/**
 * Handle.Net's challenge-response authentication over HTTP (Handle.Net Technical Manual v9, the
 * REST API's authentication section). The server challenges with
 *
 *   WWW-Authenticate: Handle sessionId="<id>", nonce="<base64 server nonce>"
 *
 * and the client answers, on any request or on `PUT /api/sessions/this`, with
 *
 *   Authorization: Handle [version="0",] sessionId="<id>", id="<index>:<handle>", type="HS_PUBKEY",
 *                  cnonce="<base64 client nonce>", alg="<alg>", signature="<base64>"
 *
 * where the signature is made with the private key of the `HS_PUBKEY` value at `index` of
 * `handle`, over the server nonce bytes followed by the client nonce bytes. Once answered, the
 * session is authenticated and `Authorization: Handle sessionId="<id>"` alone suffices.
 *
 * Syntax (RFC 9110 section 11.4 credentials): the scheme and the parameter names are
 * case-insensitive (`sessionID` is seen in the wild), parameters are separated by commas with
 * optional white space, values are quoted strings or bare tokens (Base64 characters included).
 * A parameter given twice is an error; parameters Cairn does not know are ignored.
 *
 * Algorithms: `alg` names the hash, and the stored key decides the scheme, as in Handle.Net:
 *   RSA key:     `SHA1` or `SHA256`, RSASSA-PKCS1-v1_5 (Handle.Net's own RSA signing)
 *   P-256 key:   `SHA256`, ECDSA (DER signature, or the 64-octet r||s form WebCrypto produces)
 *   Ed25519 key: `EdDSA` (or `Ed25519`): pure Ed25519 over the same bytes (a Cairn extension)
 * `SHA-1` / `SHA-256` are read as `SHA1` / `SHA256`; every other name is refused.
 *
 * `type="HS_SECKEY"` is refused: Cairn keeps secrets only as scrypt hashes, so it cannot check a
 * MAC keyed with the secret; HS_SECKEY identities authenticate with HTTP Basic.
 */

export type HandleSignatureAlg = 'SHA1' | 'SHA256' | 'EdDSA';

/** The signed answer to a session's nonce. */
export interface ChallengeAnswer {
  readonly identity: Identity;
  readonly type: 'HS_PUBKEY';
  readonly cnonce: Buffer;
  readonly alg: HandleSignatureAlg;
  readonly signature: Buffer;
}

/** A parsed `Authorization: Handle` header (or the same fields as a JSON body). */
export interface HandleAuthorization {
  readonly sessionId?: string;
  readonly answer?: ChallengeAnswer;
}

export const MAX_AUTHORIZATION_LENGTH = 8192;
const MAX_PARAMS = 16;
const MAX_SESSION_ID_LENGTH = 128;
const MAX_IDENTITY_LENGTH = 1100;
const MAX_CNONCE_BYTES = 256;
const MAX_SIGNATURE_BYTES = 1024;
const MIN_RSA_BITS = 1024;

const ANSWER_FIELDS = ['id', 'type', 'cnonce', 'alg', 'signature'] as const;
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** A bare value: a token, widened to Base64 and token68 characters (`/`, `=`). */
const BARE = /[!#$%&'*+\-.^_`|~0-9A-Za-z/=]/;
const SESSION_ID = /^[\x21-\x7e]+$/;

const invalid = (message: string): AuthHeaderInvalid => new AuthHeaderInvalid(message);

/** Splits `Scheme rest` (the scheme is case-insensitive); an empty scheme is answered by the caller. */
export function splitAuthorization(header: string): { scheme: string; rest: string } {
  const text = header.trim();
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?:[ \t]+([\s\S]*))?$/.exec(text);
  if (!m) return { scheme: '', rest: text };
  return { scheme: m[1]!.toLowerCase(), rest: m[2] ?? '' };
}

/**
 * RFC 9110 auth-params: `name = (token / quoted-string)`, comma separated. Names come back in
 * lower case. Throws ERR_AUTH_HEADER_INVALID on anything else.
 */
export function parseAuthParams(text: string): Map<string, string> {
  if (text.length > MAX_AUTHORIZATION_LENGTH) throw invalid(`Authorization header longer than ${MAX_AUTHORIZATION_LENGTH} characters`);
  const params = new Map<string, string>();
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const at = (): string => `at character ${i + 1} of the parameters`;
  ws();
  while (i < text.length) {
    if (text[i] === ',') {
      // Empty list elements are allowed (RFC 9110 section 5.6.1).
      i++;
      ws();
      continue;
    }
    const start = i;
    while (i < text.length && TCHAR.test(text[i]!)) i++;
    if (i === start) throw invalid(`Expected a parameter name ${at()}`);
    const name = text.slice(start, i).toLowerCase();
    ws();
    if (text[i] !== '=') throw invalid(`Parameter ${name} has no "=" (${at()})`);
    i++;
    ws();
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\') {
          const next = text[i + 1];
          if (next === undefined || !isQuotable(next)) throw invalid(`Bad escape in the value of ${name}`);
          value += next;
          i += 2;
          continue;
        }
        if (!isQuotable(c)) throw invalid(`Control or non-ASCII character in the value of ${name}`);
        value += c;
        i++;
      }
      if (!closed) throw invalid(`Unterminated quoted value of ${name}`);
    } else {
      const vs = i;
      while (i < text.length && BARE.test(text[i]!)) i++;
      if (i === vs) throw invalid(`Parameter ${name} has no value (${at()})`);
      value = text.slice(vs, i);
    }
    if (params.has(name)) throw invalid(`Parameter ${name} appears twice`);
    params.set(name, value);
    if (params.size > MAX_PARAMS) throw invalid(`More than ${MAX_PARAMS} parameters`);
    ws();
    if (i < text.length) {
      if (text[i] !== ',') throw invalid(`Expected "," after the value of ${name} (${at()})`);
      i++;
      ws();
    }
  }
  return params;
}

/** qdtext and quoted-pair characters, ASCII only: HTAB, SP and VCHAR. */
function isQuotable(c: string): boolean {
  const code = c.charCodeAt(0);
  return code === 0x09 || (code >= 0x20 && code <= 0x7e);
}

/** Parses the parameters after `Handle` in an Authorization header. */
export function parseHandleAuthorization(rest: string): HandleAuthorization {
  return handleAuthorizationFromParams(parseAuthParams(rest));
}

/**
 * Checks the Handle parameters (names in lower case): `version` must be `0` if given, a signed
 * answer needs all of `id`, `type`, `cnonce`, `alg`, `signature` and the `sessionId` whose nonce
 * it signs.
 */
export function handleAuthorizationFromParams(params: ReadonlyMap<string, string>): HandleAuthorization {
  const version = params.get('version');
  if (version !== undefined && version !== '0') throw invalid(`version="${version}" is not supported (only "0")`);
  const clientCert = params.get('clientcert');
  if (clientCert !== undefined && clientCert.toLowerCase() !== 'false') {
    throw new AuthTypeUnsupported('Client certificate authentication (clientCert) is not offered; answer the challenge with an HS_PUBKEY signature');
  }
  const sessionId = params.get('sessionid');
  if (sessionId !== undefined) {
    if (sessionId.length === 0 || sessionId.length > MAX_SESSION_ID_LENGTH || !SESSION_ID.test(sessionId)) {
      throw invalid(`sessionId must be 1 to ${MAX_SESSION_ID_LENGTH} visible ASCII characters`);
    }
  }
  const given = ANSWER_FIELDS.filter((f) => params.has(f));
  if (given.length === 0) return sessionId === undefined ? {} : { sessionId };
  const missing = ANSWER_FIELDS.filter((f) => !params.has(f));
  if (missing.length > 0) throw invalid(`Authorization: Handle with ${given.join(', ')} also needs ${missing.join(', ')}`);
  if (sessionId === undefined) throw invalid('A signed answer needs the sessionId whose nonce it signs');

  const type = params.get('type')!;
  if (type.toUpperCase() === 'HS_SECKEY') {
    throw new AuthTypeUnsupported('type="HS_SECKEY" is not offered: secrets are stored hashed here, so authenticate HS_SECKEY identities with HTTP Basic');
  }
  if (type.toUpperCase() !== 'HS_PUBKEY') throw new AuthTypeUnsupported(`type="${type}" is not supported (only HS_PUBKEY)`);
  const alg = parseAlg(params.get('alg')!);
  const idText = params.get('id')!;
  if (idText.length > MAX_IDENTITY_LENGTH) throw invalid(`id is longer than ${MAX_IDENTITY_LENGTH} characters`);
  let identity: Identity;
  try {
    identity = parseIdentity(idText);
  } catch (e) {
    if (e instanceof CairnError) throw invalid(`id: ${e.message}`);
    throw e;
  }
  const cnonce = decodeBase64('cnonce', params.get('cnonce')!, MAX_CNONCE_BYTES);
  const signature = decodeBase64('signature', params.get('signature')!, MAX_SIGNATURE_BYTES);
  return { sessionId, answer: { identity, type: 'HS_PUBKEY', cnonce, alg, signature } };
}

function parseAlg(text: string): HandleSignatureAlg {
  const name = text.toUpperCase();
  if (name === 'SHA1' || name === 'SHA-1') return 'SHA1';
  if (name === 'SHA256' || name === 'SHA-256') return 'SHA256';
  if (name === 'EDDSA' || name === 'ED25519') return 'EdDSA';
  throw new AuthAlgUnsupported(`alg="${text}" is not supported (SHA1 or SHA256 for RSA, SHA256 for P-256, EdDSA for Ed25519)`);
}

/**
 * Strict Base64: the standard or the URL-safe alphabet (not mixed), padding optional but
 * correct if present, no white space, canonical (no stray bits in the last character).
 */
export function decodeBase64(name: string, text: string, maxBytes: number): Buffer {
  if (text.length > Math.ceil(maxBytes / 3) * 4) throw invalid(`${name} is longer than ${maxBytes} bytes`);
  const standard = /^[A-Za-z0-9+/]*={0,2}$/.test(text);
  const urlSafe = !standard && /^[A-Za-z0-9_-]*={0,2}$/.test(text);
  if (!standard && !urlSafe) throw invalid(`${name} is not Base64`);
  const bare = text.replace(/=+$/, '');
  if (bare.length % 4 === 1 || (bare.length !== text.length && text.length % 4 !== 0)) throw invalid(`${name} is not Base64 (bad length or padding)`);
  const encoding = urlSafe ? 'base64url' : 'base64';
  const bytes = Buffer.from(bare, encoding);
  if (bytes.toString(encoding).replace(/=+$/, '') !== bare) throw invalid(`${name} is not canonical Base64`);
  if (bytes.length === 0) throw invalid(`${name} is empty`);
  if (bytes.length > maxBytes) throw invalid(`${name} is longer than ${maxBytes} bytes`);
  return bytes;
}

/** Server nonce bytes followed by client nonce bytes: what the client signs. */
export function challengeMessage(nonce: Uint8Array, cnonce: Uint8Array): Buffer {
  return Buffer.concat([nonce, cnonce]);
}

/**
 * Verifies a challenge signature with a stored HS_PUBKEY (as its JWK). Throws
 * ERR_AUTH_ALG_UNSUPPORTED when `alg` does not go with the key's type; returns false for a
 * signature that does not verify or a key that cannot be used.
 */
export function verifyChallengeSignature(jwk: PublicJwk, alg: HandleSignatureAlg, message: Uint8Array, signature: Uint8Array): boolean {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return false;
  }
  const type = key.asymmetricKeyType;
  try {
    if (type === 'rsa') {
      if (alg === 'EdDSA') throw new AuthAlgUnsupported('An RSA key signs with alg SHA1 or SHA256');
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return false;
      return verify(alg === 'SHA1' ? 'sha1' : 'sha256', message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    }
    if (type === 'ed25519') {
      if (alg !== 'EdDSA') throw new AuthAlgUnsupported('An Ed25519 key signs with alg EdDSA');
      return verify(null, message, key, signature);
    }
    if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
      if (alg !== 'SHA256') throw new AuthAlgUnsupported('A P-256 key signs with alg SHA256');
      if (quietly(() => verify('sha256', message, { key, dsaEncoding: 'der' }, signature))) return true;
      return signature.length === 64 && verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch (e) {
    if (e instanceof CairnError) throw e;
    return false; // a signature node:crypto cannot even parse
  }
  return false;
}

/** A DER signature that does not parse is just a signature that does not verify. */
function quietly(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
