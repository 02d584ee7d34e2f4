import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/**
 * Every kind of bad input gets its status and stable code, and changes nothing: the change-log
 * position and the target record stay exactly as they were.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService();
  const res = await t.app.inject({
    method: 'PUT',
    url: '/api/handles/20.5000/target',
    headers: { 'content-type': 'application/json', authorization: adminAuth() },
    payload: '[{"index":1,"type":"URL","data":"https://example.org/"}]',
  });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => t.close());

const value = '{"index":1,"type":"URL","data":"https://example.org/changed"}';

interface Case {
  name: string;
  url?: string;
  method?: 'PUT' | 'DELETE' | 'GET';
  body?: string;
  contentType?: string;
  auth?: string | null;
  status: number;
  code: string;
  responseCode?: number;
}

const cases: Case[] = [
  { name: 'oversized body (over 1 MiB)', body: `[{"index":1,"type":"URL","data":"${'x'.repeat(1024 * 1024)}"}]`, status: 413, code: 'ERR_BODY_TOO_LARGE' },
  { name: 'malformed JSON', body: '[{"index":1,', status: 400, code: 'ERR_BODY_MALFORMED_JSON', responseCode: 4 },
  { name: 'empty JSON body', body: '', status: 400, code: 'ERR_BODY_INVALID' },
  { name: 'body neither values nor a value', body: '{"foo":1}', status: 400, code: 'ERR_BODY_INVALID' },
  { name: '__proto__ key', body: '[{"index":1,"type":"URL","data":"x","__proto__":{"admin":true}}]', status: 400, code: 'ERR_BODY_FORBIDDEN_KEY' },
  { name: 'constructor.prototype key', body: '[{"index":1,"type":"URL","data":"x","constructor":{"prototype":{"admin":true}}}]', status: 400, code: 'ERR_BODY_FORBIDDEN_KEY' },
  { name: 'wrong media type', body: value, contentType: 'text/plain', status: 415, code: 'ERR_MEDIA_TYPE_UNSUPPORTED' },
  { name: 'empty suffix', url: '/api/handles/20.5000/', body: `[${value}]`, status: 400, code: 'ERR_HANDLE_INVALID', responseCode: 102 },
  { name: 'empty prefix', url: '/api/handles//abc', body: `[${value}]`, status: 400, code: 'ERR_HANDLE_INVALID', responseCode: 102 },
  { name: 'control character in suffix', url: '/api/handles/20.5000/a%01b', body: `[${value}]`, status: 400, code: 'ERR_HANDLE_INVALID' },
  { name: 'overlong handle', url: `/api/handles/20.5000/${'x'.repeat(1100)}`, body: `[${value}]`, status: 400, code: 'ERR_HANDLE_INVALID' },
  { name: 'foreign prefix', url: '/api/handles/10.1000/x', body: `[${value}]`, status: 400, code: 'ERR_PREFIX_NOT_HOMED', responseCode: 301 },
  { name: 'unknown value format', body: '[{"index":1,"type":"URL","data":{"format":"rot13","value":"x"}}]', status: 400, code: 'ERR_VALUE_FORMAT_UNKNOWN' },
  { name: 'duplicate indexes in one request', body: `[${value},${value}]`, status: 400, code: 'ERR_VALUE_INDEX_DUPLICATE' },
  { name: 'index 0', body: '[{"index":0,"type":"URL","data":"x"}]', status: 400, code: 'ERR_VALUE_INVALID', responseCode: 202 },
  { name: 'client-supplied HS_SIGNATURE', body: '[{"index":400,"type":"HS_SIGNATURE","data":"a.b.c"}]', status: 400, code: 'ERR_VALUE_TYPE_RESERVED' },
  { name: 'public HS_SECKEY', body: '[{"index":300,"type":"HS_SECKEY","data":"secret-secret","permissions":"1110"}]', status: 400, code: 'ERR_VALUE_INVALID' },
  { name: 'no credentials', body: `[${value}]`, auth: null, status: 401, code: 'ERR_AUTH_REQUIRED', responseCode: 402 },
  { name: 'wrong secret', body: `[${value}]`, auth: basic('300:0.NA/20.5000', 'wrong-secret'), status: 401, code: 'ERR_AUTH_FAILED' },
  { name: 'malformed identity', body: `[${value}]`, auth: basic('admin', 'test-admin-secret-123'), status: 401, code: 'ERR_AUTH_FAILED' },
  { name: 'non-Basic authorization', body: `[${value}]`, auth: 'Bearer abc', status: 401, code: 'ERR_AUTH_FAILED' },
  { name: 'bad percent-encoding in user', body: `[${value}]`, auth: `Basic ${Buffer.from('300%ZZ0.NA/20.5000:x').toString('base64')}`, status: 401, code: 'ERR_AUTH_FAILED' },
  { name: 'bad overwrite flag', url: '/api/handles/20.5000/target?overwrite=maybe', body: `[${value}]`, status: 400, code: 'ERR_QUERY_INVALID' },
  { name: 'delete of a missing index', method: 'DELETE', url: '/api/handles/20.5000/target?index=77', status: 400, code: 'ERR_VALUE_NOT_FOUND', responseCode: 200 },
  { name: 'delete with an invalid successor', method: 'DELETE', url: '/api/handles/20.5000/target?successor=nope', status: 400, code: 'ERR_HANDLE_INVALID' },
];

describe('bad input changes nothing', () => {
  it.each(cases)('$name -> $status $code', async (c) => {
    const seqBefore = t.service.store.lastSeq;
    const before = (await t.app.inject({ url: '/api/handles/20.5000/target' })).body;
    const res = await t.app.inject({
      method: c.method ?? 'PUT',
      url: c.url ?? '/api/handles/20.5000/target',
      headers: {
        ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}),
        ...(c.auth === null ? {} : { authorization: c.auth ?? adminAuth() }),
      },
      ...(c.body !== undefined ? { payload: c.body } : {}),
    });
    expect(res.statusCode).toBe(c.status);
    const body = res.json();
    expect(body.code).toBe(c.code);
    expect(typeof body.responseCode).toBe('number');
    if (c.responseCode !== undefined) expect(body.responseCode).toBe(c.responseCode);
    expect(t.service.store.lastSeq).toBe(seqBefore);
    expect((await t.app.inject({ url: '/api/handles/20.5000/target' })).body).toBe(before);
  });

  it('the service keeps answering after all of it', async () => {
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
