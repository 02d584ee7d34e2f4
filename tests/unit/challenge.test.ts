import { constants, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CairnError } from '../../src/errors.js';
import {
  challengeMessage,
  decodeBase64,
  parseAuthParams,
  parseHandleAuthorization,
  splitAuthorization,
  verifyChallengeSignature,
} from '../../src/families/doa/challenge.js';
import type { HandleService } from '../../src/families/doa/handle-service.js';
import { SessionStore } from '../../src/families/doa/sessions.js';
import type { HandleValue } from '../../src/records/value.js';
import { encodePublicKeyJwk, type PublicJwk } from '../../src/records/pubkey.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof CairnError) return e.code;
    throw e;
  }
  return 'none';
};

describe('splitAuthorization', () => {
  it.each([
    ['Handle sessionId="a"', 'handle', 'sessionId="a"'],
    ['  handle   sessionId=a  ', 'handle', 'sessionId=a'],
    ['HANDLE', 'handle', ''],
    ['Basic QUJD', 'basic', 'QUJD'],
    ['"quoted"', '', '"quoted"'],
  ])('%j -> %s / %j', (header, scheme, rest) => {
    expect(splitAuthorization(header)).toEqual({ scheme, rest });
  });
});

describe('parseAuthParams (RFC 9110 auth-params)', () => {
  it.each<[string, Record<string, string>]>([
    ['sessionId="abc"', { sessionid: 'abc' }],
    ['sessionID=abc', { sessionid: 'abc' }],
    ['a="1",b=2 ,  c = "3"', { a: '1', b: '2', c: '3' }],
    ['nonce="QUJD+/=="', { nonce: 'QUJD+/==' }],
    ['nonce=QUJD+/==', { nonce: 'QUJD+/==' }],
    ['x="with \\"escaped\\" quotes and a \\\\ backslash"', { x: 'with "escaped" quotes and a \\ backslash' }],
    ['x="a, b"', { x: 'a, b' }],
    ['x=""', { x: '' }],
    [', a="1",, b="2",', { a: '1', b: '2' }],
    ['', {}],
    ['\ta="1"\t', { a: '1' }],
  ])('%j', (text, expected) => {
    expect(Object.fromEntries(parseAuthParams(text))).toEqual(expected);
  });

  it.each([
    ['a name without "="', 'sessionId'],
    ['a value missing', 'a='],
    ['an unterminated quote', 'a="abc'],
    ['a dangling escape', 'a="abc\\'],
    ['an escaped control character', 'a="\\\u0001"'],
    ['a control character', 'a="x\u0000y"'],
    ['a non-ASCII character', 'a="é"'],
    ['a duplicate (case-insensitive)', 'a="1", A="2"'],
    ['no comma between parameters', 'a="1" b="2"'],
    ['a bare value with a quote inside', 'a=b"c'],
    ['a name that is not a token', '(a)="1"'],
    ['seventeen parameters', Array.from({ length: 17 }, (_, i) => `p${i}=v`).join(',')],
    ['more than 8192 characters', `a="${'x'.repeat(8200)}"`],
  ])('refuses %s: ERR_AUTH_HEADER_INVALID', (_name, text) => {
    expect(codeOf(() => parseAuthParams(text))).toBe('ERR_AUTH_HEADER_INVALID');
  });
});

describe('parseHandleAuthorization', () => {
  const b64 = (n: number) => randomBytes(n).toString('base64');
  const answer = `sessionId="s1", id="300:0.NA/20.5000", type="HS_PUBKEY", cnonce="${b64(16)}", alg="SHA256", signature="${b64(256)}"`;

  it('reads a session id alone, version 0, and an empty header', () => {
    expect(parseHandleAuthorization('sessionId="s1"')).toEqual({ sessionId: 's1' });
    expect(parseHandleAuthorization('version="0", sessionId="s1"')).toEqual({ sessionId: 's1' });
    expect(parseHandleAuthorization('')).toEqual({});
    expect(parseHandleAuthorization('clientCert="false", realm="x"')).toEqual({});
  });

  it('reads a signed answer', () => {
    const auth = parseHandleAuthorization(answer);
    expect(auth.sessionId).toBe('s1');
    expect(auth.answer).toMatchObject({ identity: { index: 300, handle: '0.NA/20.5000' }, type: 'HS_PUBKEY', alg: 'SHA256' });
    expect(auth.answer!.cnonce.length).toBe(16);
    expect(auth.answer!.signature.length).toBe(256);
  });

  it.each([
    ['SHA1', 'SHA1'],
    ['sha-1', 'SHA1'],
    ['SHA-256', 'SHA256'],
    ['eddsa', 'EdDSA'],
    ['Ed25519', 'EdDSA'],
  ])('alg %s reads as %s', (alg, expected) => {
    expect(parseHandleAuthorization(answer.replace('alg="SHA256"', `alg="${alg}"`)).answer!.alg).toBe(expected);
  });

  it.each([
    ['version 1', 'version="1", sessionId="s1"', 'ERR_AUTH_HEADER_INVALID'],
    ['an empty session id', 'sessionId=""', 'ERR_AUTH_HEADER_INVALID'],
    ['a session id with a space', 'sessionId="a b"', 'ERR_AUTH_HEADER_INVALID'],
    ['a 129-character session id', `sessionId="${'s'.repeat(129)}"`, 'ERR_AUTH_HEADER_INVALID'],
    ['an answer without signature', answer.replace(/, signature="[^"]*"/, ''), 'ERR_AUTH_HEADER_INVALID'],
    ['an answer without sessionId', answer.replace('sessionId="s1", ', ''), 'ERR_AUTH_HEADER_INVALID'],
    ['only an id', 'sessionId="s1", id="300:0.NA/20.5000"', 'ERR_AUTH_HEADER_INVALID'],
    ['an id without index', answer.replace('300:0.NA/20.5000', '0.NA/20.5000'), 'ERR_AUTH_HEADER_INVALID'],
    ['an id with an invalid handle', answer.replace('300:0.NA/20.5000', '300:nohandle'), 'ERR_AUTH_HEADER_INVALID'],
    ['an overlong id', answer.replace('300:0.NA/20.5000', `300:20.5000/${'x'.repeat(1200)}`), 'ERR_AUTH_HEADER_INVALID'],
    ['a signature that is not Base64', answer.replace(/signature="[^"]*"/, 'signature="%%%"'), 'ERR_AUTH_HEADER_INVALID'],
    ['a 1025-byte signature', answer.replace(/signature="[^"]*"/, `signature="${b64(1025)}"`), 'ERR_AUTH_HEADER_INVALID'],
    ['a 257-byte cnonce', answer.replace(/cnonce="[^"]*"/, `cnonce="${b64(257)}"`), 'ERR_AUTH_HEADER_INVALID'],
    ['an empty cnonce', answer.replace(/cnonce="[^"]*"/, 'cnonce=""'), 'ERR_AUTH_HEADER_INVALID'],
    ['alg MD5', answer.replace('SHA256', 'MD5'), 'ERR_AUTH_ALG_UNSUPPORTED'],
    ['alg SHA512', answer.replace('SHA256', 'SHA512'), 'ERR_AUTH_ALG_UNSUPPORTED'],
    ['alg HMAC-SHA256', answer.replace('SHA256', 'HMAC-SHA256'), 'ERR_AUTH_ALG_UNSUPPORTED'],
    ['type HS_SECKEY', answer.replace('HS_PUBKEY', 'HS_SECKEY'), 'ERR_AUTH_TYPE_UNSUPPORTED'],
    ['type HS_CERT', answer.replace('HS_PUBKEY', 'HS_CERT'), 'ERR_AUTH_TYPE_UNSUPPORTED'],
    ['clientCert', 'clientCert="true"', 'ERR_AUTH_TYPE_UNSUPPORTED'],
  ])('refuses %s: %s', (_name, text, code) => {
    expect(codeOf(() => parseHandleAuthorization(text))).toBe(code);
  });
});

describe('decodeBase64 (strict)', () => {
  it.each([
    ['QUJD', 'ABC'],
    ['QUI=', 'AB'],
    ['QUI', 'AB'],
    ['QQ==', 'A'],
    ['-_8', Buffer.from([0xfb, 0xff]).toString('latin1')],
    ['+/8=', Buffer.from([0xfb, 0xff]).toString('latin1')],
  ])('%s', (text, expected) => {
    expect(decodeBase64('x', text, 64).toString('latin1')).toBe(expected);
  });

  it.each([
    ['white space', 'QU JD'],
    ['a line break', 'QUJD\nQUJD'],
    ['mixed alphabets', '+_8A'],
    ['one character too many', 'QUJDR'],
    ['padding on an unpadded length', 'QUJD='],
    ['padding in the middle', 'QQ==QQ=='],
    ['stray bits', 'QR=='],
    ['empty', ''],
    ['over the limit', 'QUJDQUJD'],
  ])('refuses %s', (_name, text) => {
    expect(codeOf(() => decodeBase64('x', text, 4))).toBe('ERR_AUTH_HEADER_INVALID');
  });
});

describe('verifyChallengeSignature', () => {
  const nonce = randomBytes(16);
  const cnonce = randomBytes(16);
  const message = challengeMessage(nonce, cnonce);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = (k: typeof rsa.publicKey) => k.export({ format: 'jwk' }) as PublicJwk;

  it('signs the server nonce followed by the client nonce', () => {
    expect(message).toEqual(Buffer.concat([nonce, cnonce]));
  });

  it('RSA PKCS#1 v1.5 with SHA-1 and SHA-256', () => {
    for (const [alg, hash] of [['SHA1', 'sha1'], ['SHA256', 'sha256']] as const) {
      const sig = sign(hash, message, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING });
      expect(verifyChallengeSignature(jwk(rsa.publicKey), alg, message, sig)).toBe(true);
      expect(verifyChallengeSignature(jwk(rsa.publicKey), alg === 'SHA1' ? 'SHA256' : 'SHA1', message, sig)).toBe(false);
    }
  });

  it('RSA-PSS signatures are not PKCS#1 v1.5', () => {
    const pss = sign('sha256', message, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING });
    expect(verifyChallengeSignature(jwk(rsa.publicKey), 'SHA256', message, pss)).toBe(false);
  });

  it('Ed25519', () => {
    const sig = sign(null, message, ed.privateKey);
    expect(verifyChallengeSignature(jwk(ed.publicKey), 'EdDSA', message, sig)).toBe(true);
    expect(verifyChallengeSignature(jwk(ed.publicKey), 'EdDSA', challengeMessage(cnonce, nonce), sig)).toBe(false);
  });

  it('P-256 with DER and with r||s signatures', () => {
    const der = sign('sha256', message, { key: ec.privateKey, dsaEncoding: 'der' });
    const raw = sign('sha256', message, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyChallengeSignature(jwk(ec.publicKey), 'SHA256', message, der)).toBe(true);
    expect(verifyChallengeSignature(jwk(ec.publicKey), 'SHA256', message, raw)).toBe(true);
    expect(verifyChallengeSignature(jwk(ec.publicKey), 'SHA256', message, Buffer.alloc(64, 1))).toBe(false);
    expect(verifyChallengeSignature(jwk(ec.publicKey), 'SHA256', message, Buffer.alloc(3, 0x30))).toBe(false);
  });

  it('refuses an alg that does not go with the key', () => {
    expect(codeOf(() => verifyChallengeSignature(jwk(ed.publicKey), 'SHA256', message, Buffer.alloc(64)))).toBe('ERR_AUTH_ALG_UNSUPPORTED');
    expect(codeOf(() => verifyChallengeSignature(jwk(rsa.publicKey), 'EdDSA', message, Buffer.alloc(256)))).toBe('ERR_AUTH_ALG_UNSUPPORTED');
    expect(codeOf(() => verifyChallengeSignature(jwk(ec.publicKey), 'SHA1', message, Buffer.alloc(64)))).toBe('ERR_AUTH_ALG_UNSUPPORTED');
  });

  it('does not verify with an RSA key under 1024 bits, or a broken key', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 512 });
    const sig = sign('sha256', message, { key: weak.privateKey, padding: constants.RSA_PKCS1_PADDING });
    expect(verifyChallengeSignature(jwk(weak.publicKey), 'SHA256', message, sig)).toBe(false);
    expect(verifyChallengeSignature({ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }, 'EdDSA', message, Buffer.alloc(64))).toBe(false);
  });
});

describe('SessionStore', () => {
  /** A HandleService stand-in holding one identity record with an Ed25519 key at 300. */
  const ed = generateKeyPairSync('ed25519');
  const keyValue: HandleValue = {
    index: 300,
    type: 'HS_PUBKEY',
    data: encodePublicKeyJwk(ed.publicKey.export({ format: 'jwk' }) as PublicJwk),
    ttlType: 'relative',
    ttl: 86400,
    timestamp: 0,
    permissions: 0b1110,
    references: [],
  };
  let values = [keyValue];
  const handles = {
    serviceAdmin: { index: 300, handle: '0.NA/20.5000' },
    findRecord: () => ({ status: 'active', values }),
  } as unknown as HandleService;
  const identity = { index: 300, handle: '20.5000/user' };
  const answerTo = (nonce: Buffer) => {
    const cnonce = randomBytes(8);
    return { identity, type: 'HS_PUBKEY' as const, cnonce, alg: 'EdDSA' as const, signature: sign(null, challengeMessage(nonce, cnonce), ed.privateKey) };
  };

  it('refuses nonces under 16 bytes and non-positive limits', () => {
    expect(codeOf(() => new SessionStore({ nonceBytes: 8 }))).toBe('ERR_CONFIG_INVALID');
    expect(codeOf(() => new SessionStore({ maxPending: 0 }))).toBe('ERR_CONFIG_INVALID');
  });

  it('makes distinct ids and 16-byte nonces', () => {
    const store = new SessionStore();
    const a = store.open();
    const b = store.open();
    expect(a.id).not.toBe(b.id);
    expect(a.nonce.length).toBe(16);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(store.status(a)).toEqual({ sessionId: a.id, nonce: a.nonce.toString('base64'), authenticated: false });
  });

  it('keeps at most maxPending unauthenticated sessions, evicting the oldest', () => {
    const store = new SessionStore({ maxPending: 3 });
    const ids = Array.from({ length: 5 }, () => store.open().id);
    expect(codeOf(() => store.find(ids[0]!))).toBe('ERR_AUTH_SESSION_UNKNOWN');
    expect(codeOf(() => store.find(ids[1]!))).toBe('ERR_AUTH_SESSION_UNKNOWN');
    for (const id of ids.slice(2)) expect(store.find(id).id).toBe(id);
    expect(store.size).toEqual({ pending: 3, authenticated: 0 });
  });

  it('does not let a flood of challenges evict authenticated sessions', () => {
    const store = new SessionStore({ maxPending: 2, maxAuthenticated: 2 });
    const s = store.open();
    expect(store.answer(s, answerTo(s.nonce), handles).identity).toEqual(identity);
    for (let i = 0; i < 100; i++) store.open();
    expect(store.principal(store.find(s.id), handles).identity).toEqual(identity);
    expect(store.size).toEqual({ pending: 2, authenticated: 1 });
  });

  it('evicts the least recently used authenticated session', () => {
    const store = new SessionStore({ maxAuthenticated: 2 });
    const login = () => {
      const s = store.open();
      store.answer(s, answerTo(s.nonce), handles);
      return s.id;
    };
    const [a, b] = [login(), login()];
    store.principal(store.find(a), handles); // a is now the most recently used
    const c = login();
    expect(codeOf(() => store.find(b))).toBe('ERR_AUTH_SESSION_UNKNOWN');
    expect(store.find(a).id).toBe(a);
    expect(store.find(c).id).toBe(c);
  });

  it('answers "expired" for a while after expiry, then forgets the session', () => {
    let now = 1_000_000;
    const store = new SessionStore({ now: () => now, challengeTtlMs: 1000, idleTimeoutMs: 5000 });
    const s = store.open();
    now += 1000;
    expect(codeOf(() => store.find(s.id))).toBe('ERR_AUTH_SESSION_EXPIRED');
    now += 5000;
    store.open(); // sweeps
    expect(codeOf(() => store.find(s.id))).toBe('ERR_AUTH_SESSION_UNKNOWN');
  });

  it('spends the nonce on every answer', () => {
    const store = new SessionStore();
    const s = store.open();
    const good = answerTo(s.nonce);
    expect(codeOf(() => store.answer(s, { ...good, signature: Buffer.alloc(64) }, handles))).toBe('ERR_AUTH_FAILED');
    expect(codeOf(() => store.answer(s, good, handles))).toBe('ERR_AUTH_NONCE_USED');
    expect(codeOf(() => store.principal(s, handles))).toBe('ERR_AUTH_REQUIRED');
  });

  it('ends a session when its key changes', () => {
    const store = new SessionStore();
    const s = store.open();
    store.answer(s, answerTo(s.nonce), handles);
    values = [{ ...keyValue, data: encodePublicKeyJwk(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as PublicJwk) }];
    try {
      expect(codeOf(() => store.principal(s, handles))).toBe('ERR_AUTH_SESSION_EXPIRED');
      expect(codeOf(() => store.find(s.id))).toBe('ERR_AUTH_SESSION_UNKNOWN');
    } finally {
      values = [keyValue];
    }
  });
});
