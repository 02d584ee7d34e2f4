import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

/** The DOIP operations over HTTP at /doip (Cordra's mapping), through app.inject(). */

let t: TestService;
beforeAll(async () => {
  t = await startTestService();
});
afterAll(async () => t.close());

const OP = (name: string): string => encodeURIComponent(`0.DOIP/Op.${name}`);
const doipHeader = (res: { headers: Record<string, unknown> }) => JSON.parse(String(res.headers['doip-response']));
const post = (query: string, body?: unknown, headers: Record<string, string> = {}, remoteAddress?: string) =>
  t.app.inject({
    method: 'POST',
    url: `/doip?${query}`,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    ...(remoteAddress ? { remoteAddress } : {}),
  });

describe('/doip (Cordra mapping)', () => {
  it('answers Hello on GET with the service info and a Doip-Response header', async () => {
    const res = await t.app.inject({ url: `/doip?operationId=${OP('Hello')}&targetId=service&requestId=h1` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: '0.NA/20.5000', type: '0.TYPE/DOIPServiceInfo', attributes: { protocolVersion: '2.0' } });
    expect(doipHeader(res)).toEqual({ status: '0.DOIP/Status.001', requestId: 'h1' });
  });

  it('creates with HTTP Basic, the object as the body and element bytes as Base64 data', async () => {
    const res = await post(`operationId=${OP('Create')}&targetId=service`, {
      id: '20.5000/http-doc',
      type: 'Document',
      attributes: { title: 'Over HTTP' },
      elements: [{ id: 'page', type: 'text/html', data: Buffer.from('<b>hi</b>').toString('base64') }],
    }, { authorization: adminAuth() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: '20.5000/http-doc', type: 'Document', attributes: { title: 'Over HTTP' }, elements: [{ id: 'page', type: 'text/html', length: 9 }] });
  });

  it('retrieves the object, one element as its bytes (never run as a page), or all with data', async () => {
    const plain = await t.app.inject({ url: `/doip?o=${OP('Retrieve')}&t=20.5000/http-doc` });
    expect(plain.json().attributes).toEqual({ title: 'Over HTTP' });
    const element = await t.app.inject({ url: `/doip?operationId=${OP('Retrieve')}&targetId=20.5000/http-doc&attributes.element=page` });
    expect(element.statusCode).toBe(200);
    expect(element.body).toBe('<b>hi</b>');
    expect(element.headers['content-type']).toMatch(/^text\/html/);
    expect(element.headers['content-security-policy']).toContain('sandbox');
    expect(element.headers['x-content-type-options']).toBe('nosniff');
    const all = await t.app.inject({ url: `/doip?operationId=${OP('Retrieve')}&targetId=20.5000/http-doc&attributes=${encodeURIComponent('{"includeElementData":true}')}` });
    expect(all.json().elements[0].data).toBe(Buffer.from('<b>hi</b>').toString('base64'));
  });

  it('searches with attributes from the query string', async () => {
    const res = await t.app.inject({ url: `/doip?operationId=${OP('Search')}&targetId=service&attributes.query=type:Document&attributes.type=id&attributes.pageSize=5` });
    expect(res.json()).toEqual({ size: 1, results: ['20.5000/http-doc'] });
  });

  it('takes a whole DOIP request as the body, authentication included', async () => {
    const res = await post('', {
      requestId: 'r2',
      clientId: ADMIN_IDENTITY,
      authentication: { password: ADMIN_SECRET },
      targetId: '20.5000/http-doc',
      operationId: '0.DOIP/Op.Update',
      input: { attributes: { title: 'Updated' } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().attributes).toEqual({ title: 'Updated' });
    expect(doipHeader(res)).toEqual({ status: '0.DOIP/Status.001', requestId: 'r2' });
  });

  it('answers errors as problem+json with the stable code, the HTTP status and the DOIP status', async () => {
    const missing = await t.app.inject({ url: `/doip?operationId=${OP('Retrieve')}&targetId=20.5000/none` });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.json().code).toBe('ERR_HANDLE_NOT_FOUND');
    expect(doipHeader(missing).status).toBe('0.DOIP/Status.104');

    const anonymous = await post(`operationId=${OP('Delete')}&targetId=20.5000/http-doc`);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe('ERR_AUTH_REQUIRED');
    expect(doipHeader(anonymous).status).toBe('0.DOIP/Status.102');

    const wrong = await post(`operationId=${OP('Delete')}&targetId=20.5000/http-doc`, undefined, { authorization: basic(ADMIN_IDENTITY, 'not-the-secret') });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('ERR_AUTH_FAILED');

    const exists = await post(`operationId=${OP('Create')}&targetId=service`, { id: '20.5000/http-doc', type: 'X' }, { authorization: adminAuth() });
    expect(exists.statusCode).toBe(409);
    expect(doipHeader(exists).status).toBe('0.DOIP/Status.105');

    const unknown = await t.app.inject({ url: `/doip?operationId=${OP('Frobnicate')}&targetId=service` });
    expect(unknown.statusCode).toBe(400);
    expect(doipHeader(unknown).status).toBe('0.DOIP/Status.200');
  });

  it('refuses writes on GET, a missing operation, and attributes that are not JSON', async () => {
    const get = await t.app.inject({ url: `/doip?operationId=${OP('Delete')}&targetId=20.5000/http-doc`, headers: { authorization: adminAuth() } });
    expect(get.statusCode).toBe(400);
    expect(get.json().code).toBe('ERR_DOIP_REQUEST_INVALID');
    expect((await t.app.inject({ url: '/doip' })).json().code).toBe('ERR_DOIP_REQUEST_INVALID');
    const bad = await t.app.inject({ url: `/doip?operationId=${OP('Search')}&targetId=service&attributes=%7Bnope` });
    expect(bad.json().code).toBe('ERR_DOIP_REQUEST_INVALID');
    const proto = await post(`operationId=${OP('Search')}&targetId=service&attributes.__proto__=x`);
    expect(proto.json().code).toBe('ERR_DOIP_REQUEST_INVALID');
  });

  it('accepts credentials only over TLS or from loopback, in the body as in the header', async () => {
    const body = await post('', { clientId: ADMIN_IDENTITY, authentication: { password: ADMIN_SECRET }, targetId: 'service', operationId: '0.DOIP/Op.Hello' }, {}, '203.0.113.9');
    expect(body.statusCode).toBe(403);
    expect(body.json().code).toBe('ERR_AUTH_INSECURE_TRANSPORT');
    const header = await post(`operationId=${OP('Hello')}&targetId=service`, undefined, { authorization: adminAuth() }, '203.0.113.9');
    expect(header.json().code).toBe('ERR_AUTH_INSECURE_TRANSPORT');
    const anonymous = await post(`operationId=${OP('Hello')}&targetId=service`, undefined, {}, '203.0.113.9');
    expect(anonymous.statusCode).toBe(200);
  });

  it('deletes, after which the object answers 410 through both APIs', async () => {
    const res = await post(`operationId=${OP('Delete')}&targetId=20.5000/http-doc`, undefined, { authorization: adminAuth() });
    expect(res.statusCode).toBe(204);
    expect((await t.app.inject({ url: `/doip?operationId=${OP('Retrieve')}&targetId=20.5000/http-doc` })).statusCode).toBe(410);
    expect((await t.app.inject({ url: '/api/handles/20.5000/http-doc' })).statusCode).toBe(410);
  });
});
