import { constants, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStore, useSessionStore } from '../../src/families/doa/sessions.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * Handle.Net challenge-response over REST: the 401 challenge, the sessions API, and
 * session-authenticated writes, with keys generated here for each algorithm.
 */

let t: TestService;
const LOOPBACK = '127.0.0.1';

type Kind = 'rsa' | 'ed25519' | 'p256';
interface Pair {
  readonly kind: Kind;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}
const pair = (kind: Kind): Pair => {
  if (kind === 'rsa') return { kind, ...generateKeyPairSync('rsa', { modulusLength: 2048 }) };
  if (kind === 'ed25519') return { kind, ...generateKeyPairSync('ed25519') };
  return { kind, ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) };
};
const keys = { rsa: pair('rsa'), ed: pair('ed25519'), ec: pair('p256'), other: pair('ed25519'), carol: pair('ed25519') };

const jwk = (k: KeyObject) => k.export({ format: 'jwk' });
const pubkeyValue = (index: number, k: Pair) => ({ index, type: 'HS_PUBKEY', data: { format: 'key', value: jwk(k.publicKey) } });
const adminValue = (index: number, handle: string, adminIndex: number, permissions: string) => ({
  index,
  type: 'HS_ADMIN',
  data: { format: 'admin', value: { handle, index: adminIndex, permissions } },
});
const url = (u: string) => ({ index: 1, type: 'URL', data: { format: 'string', value: u } });

/** The signature a client computes: over the server nonce bytes, then the client nonce bytes. */
function signNonce(k: Pair, alg: string, nonce: Buffer, cnonce: Buffer, p1363 = false): Buffer {
  const message = Buffer.concat([nonce, cnonce]);
  if (k.kind === 'rsa') return sign(alg === 'SHA1' ? 'sha1' : 'sha256', message, { key: k.privateKey, padding: constants.RSA_PKCS1_PADDING });
  if (k.kind === 'ed25519') return sign(null, message, k.privateKey);
  return sign('sha256', message, { key: k.privateKey, dsaEncoding: p1363 ? 'ieee-p1363' : 'der' });
}

interface Answer {
  sessionId: string;
  id: string;
  alg: string;
  cnonce: Buffer;
  signature: Buffer;
  type?: string;
}
const answerHeader = (a: Answer): string =>
  `Handle sessionId="${a.sessionId}", id="${a.id}", type="${a.type ?? 'HS_PUBKEY'}", cnonce="${a.cnonce.toString('base64')}", alg="${a.alg}", signature="${a.signature.toString('base64')}"`;
const sessionHeader = (sessionId: string): string => `Handle sessionId="${sessionId}"`;

const inject = (method: string, path: string, authorization?: string, body?: unknown, remoteAddress = LOOPBACK) =>
  t.app.inject({
    method: method as 'GET',
    url: path,
    remoteAddress,
    headers: { ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const put = (handle: string, values: unknown[], authorization?: string, query = '') => inject('PUT', `/api/handles/${handle}${query}`, authorization, values);

async function openSession(): Promise<{ sessionId: string; nonce: Buffer }> {
  const res = await inject('POST', '/api/sessions');
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(Object.keys(body)).toEqual(['sessionId', 'nonce']);
  return { sessionId: body.sessionId, nonce: Buffer.from(body.nonce, 'base64') };
}

/** A signed answer to a fresh session's nonce. */
async function answerFor(k: Pair, id: string, alg: string, p1363 = false): Promise<Answer> {
  const { sessionId, nonce } = await openSession();
  const cnonce = randomBytes(16);
  return { sessionId, id, alg, cnonce, signature: signNonce(k, alg, nonce, cnonce, p1363) };
}

/** POST /api/sessions, then PUT /api/sessions/this with the signature: the authenticated session id. */
async function login(k: Pair, id: string, alg: string): Promise<string> {
  const a = await answerFor(k, id, alg);
  const res = await inject('PUT', '/api/sessions/this', answerHeader(a));
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json()).toMatchObject({ sessionId: a.sessionId, authenticated: true, id });
  return a.sessionId;
}

/** The Handle challenge of a 401, parsed as a client would. */
function challengeOf(res: LightMyRequestResponse): { sessionId: string; nonce: Buffer } {
  const header = res.headers['www-authenticate'];
  const list = Array.isArray(header) ? header : [String(header)];
  const handle = list.find((h) => h.startsWith('Handle '));
  expect(handle, `no Handle challenge in ${JSON.stringify(header)}`).toBeDefined();
  const m = /^Handle sessionId="([^"]+)", nonce="([^"]+)"$/.exec(handle!);
  expect(m).not.toBeNull();
  return { sessionId: m![1]!, nonce: Buffer.from(m![2]!, 'base64') };
}

const code = (res: LightMyRequestResponse) => [res.statusCode, res.json().code];

beforeAll(async () => {
  t = await startTestService();
  const setup: [string, unknown[]][] = [
    ['20.5000/rsa-user', [pubkeyValue(300, keys.rsa)]],
    ['20.5000/ed-user', [pubkeyValue(300, keys.ed)]],
    ['20.5000/ec-user', [pubkeyValue(300, keys.ec)]],
    ['20.5000/nokey', [url('https://example.org/nokey')]],
    // Carol has a secret at 300 and a key at 301: two identities of one handle.
    ['20.5000/carol', [{ index: 300, type: 'HS_SECKEY', data: 'carol-secret-value' }, pubkeyValue(301, keys.carol)]],
  ];
  for (const [handle, values] of setup) expect((await put(handle, values, adminAuth())).statusCode).toBe(201);
  for (const user of ['rsa-user', 'ed-user', 'ec-user']) {
    const target = [url('https://example.org/before'), adminValue(100, `20.5000/${user}`, 300, '011111110011')];
    expect((await put(`20.5000/target-${user}`, target, adminAuth())).statusCode).toBe(201);
  }
});
afterAll(async () => t.close());

describe('the challenge on 401', () => {
  it('answers a write without credentials with WWW-Authenticate: Handle (a live session, 16-byte nonce) and then Basic', async () => {
    const res = await put('20.5000/target-ed-user', [url('https://example.org/x')], undefined, '?index=1');
    expect(code(res)).toEqual([401, 'ERR_AUTH_REQUIRED']);
    const header = res.headers['www-authenticate'];
    expect(Array.isArray(header)).toBe(true);
    expect((header as string[])[1]).toBe('Basic realm="handle"');
    const { sessionId, nonce } = challengeOf(res);
    expect(nonce.length).toBeGreaterThanOrEqual(16);
    const status = await inject('GET', '/api/sessions/this', sessionHeader(sessionId));
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({ sessionId, nonce: nonce.toString('base64'), authenticated: false });
  });

  it('gives every challenge its own session and nonce', async () => {
    const a = challengeOf(await put('20.5000/x', [url('https://example.org/x')]));
    const b = challengeOf(await put('20.5000/x', [url('https://example.org/x')]));
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(a.nonce.equals(b.nonce)).toBe(false);
  });

  it('lets the client answer the challenge on the request itself, then go on with the session id alone', async () => {
    const first = await put('20.5000/target-ed-user', [url('https://example.org/one-shot')], undefined, '?index=1');
    const { sessionId, nonce } = challengeOf(first);
    const cnonce = randomBytes(16);
    const id = '300:20.5000/ed-user';
    const signed = answerHeader({ sessionId, id, alg: 'EdDSA', cnonce, signature: signNonce(keys.ed, 'EdDSA', nonce, cnonce) });
    expect((await put('20.5000/target-ed-user', [url('https://example.org/one-shot')], signed, '?index=1')).statusCode).toBe(200);
    expect((await put('20.5000/target-ed-user', [url('https://example.org/again')], sessionHeader(sessionId), '?index=1')).statusCode).toBe(200);
    const record = (await inject('GET', '/api/handles/20.5000/target-ed-user?index=1')).json();
    expect(record.values[0].data.value).toBe('https://example.org/again');
    expect((await inject('GET', '/api/sessions/this', sessionHeader(sessionId))).json()).toMatchObject({ authenticated: true, id });
  });

  it('is not offered where credentials may not be sent (plain HTTP from elsewhere): Basic alone', async () => {
    const res = await put('20.5000/x', [url('https://example.org/x')], undefined, '');
    expect(res.statusCode).toBe(401);
    const remote = await t.app.inject({
      method: 'PUT',
      url: '/api/handles/20.5000/x',
      remoteAddress: '192.0.2.7',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([url('https://example.org/x')]),
    });
    expect(remote.statusCode).toBe(401);
    expect(remote.headers['www-authenticate']).toBe('Basic realm="handle"');
  });

  it('keeps reads that are not auth=true on Basic alone', async () => {
    const res = await inject('GET', '/api/handles?prefix=20.5000');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="handle"');
    const auth = await inject('GET', '/api/handles?prefix=20.5000&auth=true');
    expect(auth.statusCode).toBe(401);
    expect(challengeOf(auth).nonce.length).toBe(16);
  });
});

describe('challenge-response for each algorithm', () => {
  const cases: [string, Pair, string, string, boolean][] = [
    ['RSA PKCS#1 v1.5 with SHA-256', keys.rsa, '300:20.5000/rsa-user', 'SHA256', false],
    ['RSA PKCS#1 v1.5 with SHA-1', keys.rsa, '300:20.5000/rsa-user', 'SHA1', false],
    ['Ed25519', keys.ed, '300:20.5000/ed-user', 'EdDSA', false],
    ['ECDSA P-256 (DER signature)', keys.ec, '300:20.5000/ec-user', 'SHA256', false],
    ['ECDSA P-256 (r||s signature, as WebCrypto signs)', keys.ec, '300:20.5000/ec-user', 'SHA256', true],
  ];
  it.each(cases)('%s: authenticates the session, which then writes with its id alone', async (_name, k, id, alg, p1363) => {
    const a = await answerFor(k, id, alg, p1363);
    const res = await inject('PUT', '/api/sessions/this', answerHeader(a));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ sessionId: a.sessionId, nonce: expect.any(String), authenticated: true, id });
    const target = `20.5000/target-${id.split('/')[1]}`;
    const write = await put(target, [url(`https://example.org/${alg}`)], sessionHeader(a.sessionId), '?index=1');
    expect(write.statusCode, write.body).toBe(200);
    expect((await inject('GET', `/api/handles/${target}?index=1`)).json().values[0].data.value).toBe(`https://example.org/${alg}`);
    expect(code(await put(target, [url('https://example.org/anonymous')], undefined, '?index=1'))).toEqual([401, 'ERR_AUTH_REQUIRED']);
  });

  it('accepts SHA-256 spelled with a hyphen and Ed25519 as the alg name', async () => {
    expect(await login(keys.rsa, '300:20.5000/rsa-user', 'SHA-256')).toBeTypeOf('string');
    expect(await login(keys.ed, '300:20.5000/ed-user', 'Ed25519')).toBeTypeOf('string');
  });

  it('reads the header as Handle clients write it: lower-case scheme, sessionID, bare values, no spaces', async () => {
    const a = await answerFor(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    const header = `handle version="0",sessionID=${a.sessionId},id="${a.id}",type=HS_PUBKEY,cnonce=${a.cnonce.toString('base64')},alg=EdDSA,signature=${a.signature.toString('base64')}`;
    const res = await inject('POST', '/api/sessions/this', header);
    expect(res.statusCode, res.body).toBe(200);
    expect((await inject('GET', '/api/sessions/this', `handle sessionId=${a.sessionId}`)).json().authenticated).toBe(true);
  });

  it('takes the answer as a JSON body too (PUT /api/sessions/this)', async () => {
    const a = await answerFor(keys.ec, '300:20.5000/ec-user', 'SHA256');
    const body = { sessionId: a.sessionId, id: a.id, type: 'HS_PUBKEY', cnonce: a.cnonce.toString('base64'), alg: 'SHA256', signature: a.signature.toString('base64') };
    const res = await inject('PUT', '/api/sessions/this', undefined, body);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().authenticated).toBe(true);
  });
});

describe('sessions', () => {
  it('are reused until deleted; DELETE answers 204, then the id is unknown', async () => {
    const sessionId = await login(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    for (const n of [1, 2, 3]) {
      expect((await put('20.5000/target-ed-user', [url(`https://example.org/reuse-${n}`)], sessionHeader(sessionId), '?index=1')).statusCode).toBe(200);
    }
    const del = await inject('DELETE', '/api/sessions/this', sessionHeader(sessionId));
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    const after = await put('20.5000/target-ed-user', [url('https://example.org/deleted')], sessionHeader(sessionId), '?index=1');
    expect(code(after)).toEqual([401, 'ERR_AUTH_SESSION_UNKNOWN']);
    expect(challengeOf(after).sessionId).not.toBe(sessionId);
    expect(code(await inject('DELETE', '/api/sessions/this', sessionHeader(sessionId)))).toEqual([401, 'ERR_AUTH_SESSION_UNKNOWN']);
    expect(code(await inject('GET', '/api/sessions/this', sessionHeader(sessionId)))).toEqual([401, 'ERR_AUTH_SESSION_UNKNOWN']);
  });

  it('refuse a replayed answer (401 ERR_AUTH_NONCE_USED), on the sessions API and on a write', async () => {
    const a = await answerFor(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    expect((await inject('PUT', '/api/sessions/this', answerHeader(a))).statusCode).toBe(200);
    expect(code(await inject('PUT', '/api/sessions/this', answerHeader(a)))).toEqual([401, 'ERR_AUTH_NONCE_USED']);
    const write = await put('20.5000/target-ed-user', [url('https://example.org/replay')], answerHeader(a), '?index=1');
    expect(code(write)).toEqual([401, 'ERR_AUTH_NONCE_USED']);
    // The session itself stays authenticated for its rightful holder.
    expect((await inject('GET', '/api/sessions/this', sessionHeader(a.sessionId))).json().authenticated).toBe(true);
  });

  it('spend the nonce on a failed answer too: a later correct one is refused', async () => {
    const a = await answerFor(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    const bad = { ...a, signature: Buffer.from(a.signature).fill(7, 0, 8) };
    expect(code(await inject('PUT', '/api/sessions/this', answerHeader(bad)))).toEqual([401, 'ERR_AUTH_FAILED']);
    expect(code(await inject('PUT', '/api/sessions/this', answerHeader(a)))).toEqual([401, 'ERR_AUTH_NONCE_USED']);
    expect((await inject('GET', '/api/sessions/this', sessionHeader(a.sessionId))).json().authenticated).toBe(false);
  });

  it('answer 401 ERR_AUTH_REQUIRED for an unauthenticated session id on a write', async () => {
    const { sessionId } = await openSession();
    const res = await put('20.5000/target-ed-user', [url('https://example.org/x')], sessionHeader(sessionId), '?index=1');
    expect(code(res)).toEqual([401, 'ERR_AUTH_REQUIRED']);
  });

  it('open authenticated with HTTP Basic, and end when the secret changes', async () => {
    const res = await inject('POST', '/api/sessions', basic('300:20.5000/carol', 'carol-secret-value'));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ authenticated: true, id: '300:20.5000/carol' });
    expect(code(await inject('POST', '/api/sessions', basic('300:20.5000/carol', 'wrong-secret-value')))).toEqual([401, 'ERR_AUTH_FAILED']);
    const status = await inject('GET', '/api/sessions/this', sessionHeader(body.sessionId));
    expect(status.json()).toMatchObject({ authenticated: true, id: '300:20.5000/carol' });
    const replaced = await put('20.5000/carol', [{ index: 300, type: 'HS_SECKEY', data: 'carol-new-secret' }], adminAuth(), '?index=300');
    expect(replaced.statusCode).toBe(200);
    expect(code(await inject('GET', '/api/sessions/this', sessionHeader(body.sessionId)))).toEqual([401, 'ERR_AUTH_SESSION_EXPIRED']);
    await put('20.5000/carol', [{ index: 300, type: 'HS_SECKEY', data: 'carol-secret-value' }], adminAuth(), '?index=300');
  });

  it('end when the HS_PUBKEY they were proven with is replaced', async () => {
    const temp = pair('ed25519');
    expect((await put('20.5000/temp-user', [pubkeyValue(300, temp)], adminAuth())).statusCode).toBe(201);
    const sessionId = await login(temp, '300:20.5000/temp-user', 'EdDSA');
    expect((await inject('GET', '/api/sessions/this', sessionHeader(sessionId))).statusCode).toBe(200);
    expect((await put('20.5000/temp-user', [pubkeyValue(300, pair('ed25519'))], adminAuth(), '?index=300')).statusCode).toBe(200);
    const res = await inject('GET', '/api/sessions/this', sessionHeader(sessionId));
    expect(code(res)).toEqual([401, 'ERR_AUTH_SESSION_EXPIRED']);
    expect(code(await inject('GET', '/api/sessions/this', sessionHeader(sessionId)))).toEqual([401, 'ERR_AUTH_SESSION_UNKNOWN']);
  });

  it('refuse a Handle header with a session id or answer on POST /api/sessions, and accept version="0" alone', async () => {
    const { sessionId } = await openSession();
    expect(code(await inject('POST', '/api/sessions', sessionHeader(sessionId)))).toEqual([400, 'ERR_AUTH_HEADER_INVALID']);
    const res = await inject('POST', '/api/sessions', 'Handle version="0"');
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json())).toEqual(['sessionId', 'nonce']);
  });

  it('need a session named on GET, PUT and DELETE /api/sessions/this', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await inject(method, '/api/sessions/this');
      expect(code(res)).toEqual([401, 'ERR_AUTH_REQUIRED']);
      expect(challengeOf(res).nonce.length).toBe(16);
    }
    const { sessionId } = await openSession();
    expect(code(await inject('PUT', '/api/sessions/this', sessionHeader(sessionId)))).toEqual([400, 'ERR_AUTH_HEADER_INVALID']);
    expect(code(await inject('GET', '/api/sessions/this', adminAuth()))).toEqual([400, 'ERR_AUTH_HEADER_INVALID']);
  });

  it('are credentials: refused over plain HTTP from a non-loopback address (403)', async () => {
    const sessionId = await login(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    const remote = '192.0.2.7';
    expect(code(await inject('POST', '/api/sessions', undefined, undefined, remote))).toEqual([403, 'ERR_AUTH_INSECURE_TRANSPORT']);
    expect(code(await inject('GET', '/api/sessions/this', sessionHeader(sessionId), undefined, remote))).toEqual([403, 'ERR_AUTH_INSECURE_TRANSPORT']);
    expect(code(await inject('DELETE', '/api/sessions/this', sessionHeader(sessionId), undefined, remote))).toEqual([403, 'ERR_AUTH_INSECURE_TRANSPORT']);
    const write = await inject('PUT', '/api/handles/20.5000/target-ed-user?index=1', sessionHeader(sessionId), [url('https://example.org/remote')], remote);
    expect(code(write)).toEqual([403, 'ERR_AUTH_INSECURE_TRANSPORT']);
    expect((await inject('GET', '/api/sessions/this', sessionHeader(sessionId))).statusCode).toBe(200);
  });
});

describe('failed answers', () => {
  it('a signature by another key: 401 ERR_AUTH_FAILED, the same message as an unknown identity', async () => {
    const a = await answerFor(keys.other, '300:20.5000/ed-user', 'EdDSA');
    const res = await inject('PUT', '/api/sessions/this', answerHeader(a));
    expect(code(res)).toEqual([401, 'ERR_AUTH_FAILED']);
    expect(res.json().detail).toBe('Authentication failed for 300:20.5000/ed-user');
  });

  it.each([
    ['a key index with no HS_PUBKEY', keys.ed, '301:20.5000/ed-user'],
    ['an identity without any HS_PUBKEY', keys.ed, '300:20.5000/nokey'],
    ['an index holding an HS_SECKEY, not a key', keys.carol, '300:20.5000/carol'],
    ['an identity that does not exist', keys.ed, '300:20.5000/nobody'],
    ['another prefix', keys.ed, '300:21.T1/ed-user'],
  ])('%s: 401 ERR_AUTH_FAILED', async (_name, k, id) => {
    const a = await answerFor(k, id, 'EdDSA');
    const res = await inject('PUT', '/api/sessions/this', answerHeader(a));
    expect(code(res)).toEqual([401, 'ERR_AUTH_FAILED']);
    expect(res.json().detail).toBe(`Authentication failed for ${id}`);
  });

  it.each([
    ['SHA256 with an Ed25519 key', keys.ed, '300:20.5000/ed-user', 'SHA256'],
    ['EdDSA with an RSA key', keys.rsa, '300:20.5000/rsa-user', 'EdDSA'],
    ['SHA1 with a P-256 key', keys.ec, '300:20.5000/ec-user', 'SHA1'],
  ])('alg %s: 400 ERR_AUTH_ALG_UNSUPPORTED', async (_name, k, id, alg) => {
    const a = await answerFor(k, id, alg === 'SHA1' ? 'SHA256' : 'EdDSA');
    const res = await inject('PUT', '/api/sessions/this', answerHeader({ ...a, alg }));
    expect(code(res)).toEqual([400, 'ERR_AUTH_ALG_UNSUPPORTED']);
  });

  it('an answer over a tombstoned identity: 401 ERR_AUTH_FAILED', async () => {
    const temp = pair('ed25519');
    expect((await put('20.5000/gone-user', [pubkeyValue(300, temp)], adminAuth())).statusCode).toBe(201);
    expect((await inject('DELETE', '/api/handles/20.5000/gone-user', adminAuth())).statusCode).toBe(200);
    const a = await answerFor(temp, '300:20.5000/gone-user', 'EdDSA');
    expect(code(await inject('PUT', '/api/sessions/this', answerHeader(a)))).toEqual([401, 'ERR_AUTH_FAILED']);
  });
});

describe('malformed Authorization: Handle headers', () => {
  const ok = {
    sessionId: 'c2Vzc2lvbg',
    cnonce: Buffer.from('client-nonce-123').toString('base64'),
    signature: Buffer.alloc(64, 1).toString('base64'),
  };
  const full = (over: Record<string, string | undefined> = {}): string => {
    const fields: Record<string, string | undefined> = {
      sessionId: ok.sessionId,
      id: '300:20.5000/ed-user',
      type: 'HS_PUBKEY',
      cnonce: ok.cnonce,
      alg: 'EdDSA',
      signature: ok.signature,
      ...over,
    };
    return `Handle ${Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ')}`;
  };
  const cases: [string, string, number, string][] = [
    ['missing signature', full({ signature: undefined }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['missing cnonce and alg', full({ cnonce: undefined, alg: undefined }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['an answer without sessionId', full({ sessionId: undefined }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['signature not Base64', full({ signature: 'not base64!' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['cnonce with bad padding', full({ cnonce: 'QUJD=' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['cnonce with stray bits (non-canonical)', full({ cnonce: 'QR==' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['cnonce mixing Base64 alphabets', full({ cnonce: 'ab+_' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['empty signature', full({ signature: '' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['oversized signature (2 KiB)', full({ signature: Buffer.alloc(2048, 1).toString('base64') }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['oversized cnonce (300 bytes)', full({ cnonce: Buffer.alloc(300, 1).toString('base64') }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['oversized sessionId', full({ sessionId: 'x'.repeat(129) }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['oversized header', `Handle sessionId="${'x'.repeat(9000)}"`, 400, 'ERR_AUTH_HEADER_INVALID'],
    ['id that is no identity', full({ id: 'admin' }), 400, 'ERR_AUTH_HEADER_INVALID'],
    ['a parameter given twice', `Handle sessionId="a", sessionid="b"`, 400, 'ERR_AUTH_HEADER_INVALID'],
    ['a parameter without "="', 'Handle sessionId', 400, 'ERR_AUTH_HEADER_INVALID'],
    ['an unterminated quoted value', 'Handle sessionId="abc', 400, 'ERR_AUTH_HEADER_INVALID'],
    ['garbage between parameters', 'Handle sessionId="a" id="b"', 400, 'ERR_AUTH_HEADER_INVALID'],
    ['a control character in a value', 'Handle sessionId="a\u0001b"', 400, 'ERR_AUTH_HEADER_INVALID'],
    ['too many parameters', `Handle ${Array.from({ length: 17 }, (_, i) => `p${i}="v"`).join(', ')}`, 400, 'ERR_AUTH_HEADER_INVALID'],
    ['version other than 0', 'Handle version="1", sessionId="abc"', 400, 'ERR_AUTH_HEADER_INVALID'],
    ['unknown alg', full({ alg: 'MD5' }), 400, 'ERR_AUTH_ALG_UNSUPPORTED'],
    ['HMAC alg', full({ alg: 'HMAC-SHA256' }), 400, 'ERR_AUTH_ALG_UNSUPPORTED'],
    ['type HS_SECKEY', full({ type: 'HS_SECKEY' }), 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
    ['unknown type', full({ type: 'HS_CERT' }), 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
    ['client certificates', 'Handle clientCert="true"', 400, 'ERR_AUTH_TYPE_UNSUPPORTED'],
    ['no sessionId at all', 'Handle version="0"', 401, 'ERR_AUTH_REQUIRED'],
    ['an unknown session', 'Handle sessionId="no-such-session"', 401, 'ERR_AUTH_SESSION_UNKNOWN'],
    ['an answer for an unknown session', full(), 401, 'ERR_AUTH_SESSION_UNKNOWN'],
    ['another scheme', 'Bearer abc', 401, 'ERR_AUTH_FAILED'],
  ];
  it.each(cases)('%s: %i %s on a write', async (_name, authorization, status, errorCode) => {
    const res = await put('20.5000/target-ed-user', [url('https://example.org/malformed')], authorization, '?index=1');
    expect(code(res)).toEqual([status, errorCode]);
  });

  it.each(cases)('%s: the same on PUT /api/sessions/this', async (name, authorization, status, errorCode) => {
    const res = await inject('PUT', '/api/sessions/this', authorization);
    // PUT /api/sessions/this needs an answer and the Handle scheme: two cases read differently there.
    if (name === 'another scheme') expect(code(res)).toEqual([400, 'ERR_AUTH_HEADER_INVALID']);
    else expect(code(res)).toEqual([status, errorCode]);
  });

  it('changes nothing', async () => {
    const record = (await inject('GET', '/api/handles/20.5000/target-ed-user?index=1')).json();
    expect(record.values[0].data.value).not.toBe('https://example.org/malformed');
  });
});

describe('expiry (injected clock)', () => {
  let clock = Date.now();
  const store = new SessionStore({ now: () => clock, challengeTtlMs: 60_000, idleTimeoutMs: 600_000, maxLifetimeMs: 3_600_000 });
  beforeAll(() => useSessionStore(t.service.handles, store));
  afterAll(() => useSessionStore(t.service.handles, new SessionStore()));

  it('an unanswered challenge expires: 401 ERR_AUTH_SESSION_EXPIRED', async () => {
    const a = await answerFor(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    clock += 60_001;
    expect(code(await inject('PUT', '/api/sessions/this', answerHeader(a)))).toEqual([401, 'ERR_AUTH_SESSION_EXPIRED']);
  });

  it('an authenticated session expires when idle, and each use restarts the idle timeout', async () => {
    const sessionId = await login(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    const write = () => put('20.5000/target-ed-user', [url(`https://example.org/t${clock}`)], sessionHeader(sessionId), '?index=1');
    clock += 599_000;
    expect((await write()).statusCode).toBe(200);
    clock += 599_000;
    expect((await write()).statusCode).toBe(200);
    clock += 600_000;
    const res = await write();
    expect(code(res)).toEqual([401, 'ERR_AUTH_SESSION_EXPIRED']);
    expect(challengeOf(res).sessionId).not.toBe(sessionId);
  });

  it('an authenticated session ends at its maximum lifetime however busy', async () => {
    const sessionId = await login(keys.ed, '300:20.5000/ed-user', 'EdDSA');
    for (let i = 0; i < 7; i++) {
      clock += 500_000;
      expect((await inject('GET', '/api/sessions/this', sessionHeader(sessionId))).statusCode).toBe(200);
    }
    clock += 500_000;
    expect(code(await inject('GET', '/api/sessions/this', sessionHeader(sessionId)))).toEqual([401, 'ERR_AUTH_SESSION_EXPIRED']);
  });
});

describe('a session-authenticated identity has exactly the permissions it would have with Basic', () => {
  const basicAuth = basic('300:20.5000/carol', 'carol-secret-value');
  let session = '';
  beforeAll(async () => {
    session = sessionHeader(await login(keys.carol, '301:20.5000/carol', 'EdDSA'));
  });

  /** Each operation on a fresh handle whose HS_ADMIN (index 0: any index of carol's handle) has `mask`. */
  const operations: [string, (handle: string, auth: string) => Promise<LightMyRequestResponse>][] = [
    ['add a value', (h, a) => put(h, [{ index: 7, type: 'NOTE', data: 'seven' }], a, '?index=7')],
    ['modify a value', (h, a) => put(h, [url('https://example.org/modified')], a, '?index=1')],
    ['remove a value', (h, a) => inject('DELETE', `/api/handles/${h}?index=1`, a)],
    ['add an admin', (h, a) => put(h, [adminValue(101, '20.5000/ed-user', 300, '000000010000')], a, '?index=101')],
    ['modify an admin', (h, a) => put(h, [adminValue(100, '20.5000/carol', 0, '111111111111')], a, '?index=100')],
    ['delete the handle', (h, a) => inject('DELETE', `/api/handles/${h}`, a)],
    ['create a handle under the prefix', (h, a) => put(`${h}-new`, [url('https://example.org/new')], a)],
  ];
  const masks = ['011111110011', '000000010000', '000001000000', '000000000010', '000000000000'];
  let n = 0;
  it.each(masks)('mask %s: every operation answers the same through Basic (300) and a session (301)', async (mask) => {
    for (const [name, op] of operations) {
      const results = [];
      for (const auth of [basicAuth, session]) {
        const handle = `20.5000/perm-${n++}`;
        expect((await put(handle, [url('https://example.org/p'), adminValue(100, '20.5000/carol', 0, mask)], adminAuth())).statusCode).toBe(201);
        const res = await op(handle, auth);
        results.push([res.statusCode, res.json().code ?? res.json().responseCode]);
      }
      expect(results[1], `${name} with mask ${mask}`).toEqual(results[0]);
    }
  });

  it('an HS_ADMIN naming index 300 admits the Basic identity, not the session identity 301 (403 ERR_PERMISSION_DENIED)', async () => {
    expect((await put('20.5000/only-300', [url('https://example.org/p'), adminValue(100, '20.5000/carol', 300, '011111110011')], adminAuth())).statusCode).toBe(201);
    expect((await put('20.5000/only-300', [url('https://example.org/b')], basicAuth, '?index=1')).statusCode).toBe(200);
    expect(code(await put('20.5000/only-300', [url('https://example.org/s')], session, '?index=1'))).toEqual([403, 'ERR_PERMISSION_DENIED']);
  });

  it('an admin of index 301 without MODIFY_VALUE gets 403 ERR_PERMISSION_INSUFFICIENT through its session', async () => {
    expect((await put('20.5000/only-301', [url('https://example.org/p'), adminValue(100, '20.5000/carol', 301, '011111100011')], adminAuth())).statusCode).toBe(201);
    const res = await put('20.5000/only-301', [url('https://example.org/s')], session, '?index=1');
    expect([res.statusCode, res.json().responseCode, res.json().code]).toEqual([403, 401, 'ERR_PERMISSION_INSUFFICIENT']);
    expect((await put('20.5000/only-301', [{ index: 9, type: 'NOTE', data: 'nine' }], session, '?index=9')).statusCode).toBe(200);
  });

  it('listing with a session follows LIST_HANDLES as with Basic', async () => {
    const viaBasic = await inject('GET', '/api/handles?prefix=20.5000', basicAuth);
    const viaSession = await inject('GET', '/api/handles?prefix=20.5000', session);
    expect([viaSession.statusCode, viaSession.json().code]).toEqual([viaBasic.statusCode, viaBasic.json().code]);
  });
});
