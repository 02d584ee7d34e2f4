import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;
const user1 = basic('300:20.5000/user1', 'user1-secret-value');
const user2 = basic('300:20.5000/user2', 'user2-secret-value');

const send = (method: 'PUT' | 'DELETE', url: string, body?: unknown, auth: string | null = adminAuth()) =>
  t.app.inject({
    method,
    url,
    headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
const get = (url: string, auth?: string) => t.app.inject({ url, headers: auth ? { authorization: auth } : {} });

beforeAll(async () => {
  t = await startTestService();
  for (const [h, secret] of [['20.5000/user1', 'user1-secret-value'], ['20.5000/user2', 'user2-secret-value']]) {
    expect((await send('PUT', `/api/handles/${h}`, [{ index: 300, type: 'HS_SECKEY', data: secret }])).statusCode).toBe(201);
  }
});
afterAll(async () => t.close());

describe('registering and resolving arcs', () => {
  it('registers 2.999 and answers all its forms, signed', async () => {
    const put = await send('PUT', '/api/oids/2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'], grants: ['300:20.5000/user1'] });
    expect(put.statusCode).toBe(201);
    const res = await get('/api/oids/2.999');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      oid: '2.999',
      der: '06028837',
      iri: '/Example',
      asn1: '{ joint-iso-itu-t(2) example(999) }',
      description: 'Example arc',
      asn1Ids: ['example'],
      unicodeLabels: ['Example'],
      grants: ['300:20.5000/user1'],
      status: 'active',
      version: 1,
    });
    const jwks = createLocalJWKSet((await get('/.well-known/jwks.json')).json());
    const { payload } = await compactVerify(body.signature.jws, jwks);
    const claims = JSON.parse(new TextDecoder().decode(payload));
    expect(claims.sub).toBe('urn:oid:2.999');
    expect(claims.digests.digests.map((d: { index: number }) => d.index)).toEqual(
      body.values.filter((v: { type: string }) => v.type !== 'HS_SIGNATURE').map((v: { index: number }) => v.index),
    );
  });

  it('serves anonymous readers the view stored at write time, equal to a fresh rendering', async () => {
    const stored = (await get('/api/oids/2.999')).body;
    expect(JSON.parse(stored)).toEqual(JSON.parse(JSON.stringify(t.service.oids.view('2.999'))));
  });

  it('answers an unregistered OID 404 with the nearest registered superior and its distance', async () => {
    const res = await get('/api/oids/2.999.1.5');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'ERR_OID_NOT_FOUND', nearest: '2.999', distance: 2 });
  });

  it('resolves through /api/resolve by urn:oid: and by OID-IRI, and through ?iri=', async () => {
    expect((await get('/api/resolve/urn:oid:2.999')).json().oid).toBe('2.999');
    expect((await get('/api/resolve/oid:/Example')).json().oid).toBe('2.999');
    expect((await get('/api/oids?iri=/Joint-ISO-ITU-T/Example')).json().oid).toBe('2.999');
  });

  it('maps a UUID to its 2.25 arc', async () => {
    const uuid = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6';
    expect((await send('PUT', '/api/oids/2.25.329800735698586629295641978511506172918', { description: 'X.667 example UUID' })).statusCode).toBe(201);
    const res = await get(`/api/oids/uuid/${uuid}`);
    expect(res.json()).toMatchObject({ oid: '2.25.329800735698586629295641978511506172918', iri: '/UUID/329800735698586629295641978511506172918' });
    expect((await get('/api/oids/uuid/not-a-uuid')).json().code).toBe('ERR_OID_INVALID');
  });

  it('refuses overwrite=false on a registered arc (409)', async () => {
    const res = await send('PUT', '/api/oids/2.999?overwrite=false', { description: 'again' });
    expect([res.statusCode, res.json().code]).toEqual([409, 'ERR_OID_EXISTS']);
  });
});

describe('grants', () => {
  it('lets a grantee register beneath its arc, and nowhere else', async () => {
    expect((await send('PUT', '/api/oids/2.999.1', { description: 'user1 arc', grants: ['300:20.5000/user2'] }, user1)).statusCode).toBe(201);
    const outside = await send('PUT', '/api/oids/2.998', { description: 'not granted' }, user1);
    expect([outside.statusCode, outside.json().code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    expect((await send('PUT', '/api/oids/2.999', { description: 'took over' }, user1)).statusCode).toBe(403);
    expect((await send('PUT', '/api/oids/2.999.1.7', { description: 'user2 arc' }, user2)).statusCode).toBe(201);
    // Handles compare case-insensitively in ASCII, so a grant names the identity however it is spelled.
    expect((await send('PUT', '/api/oids/2.999.1.8', { description: 'user2, other spelling' }, basic('300:20.5000/USER2', 'user2-secret-value'))).statusCode).toBe(201);
    expect((await send('PUT', '/api/oids/2.999.2', { description: 'user2 elsewhere' }, user2)).statusCode).toBe(403);
    expect((await send('DELETE', '/api/oids/2.999.1', undefined, user2)).statusCode).toBe(403);
    expect((await get('/api/oids/2.999')).json().description).toBe('Example arc');
  });
});

describe('children, confidentiality, history and deletion', () => {
  it('pages children in numeric order', async () => {
    for (const arc of ['10', '9', '2']) expect((await send('PUT', `/api/oids/2.999.${arc}`, { description: `arc ${arc}` })).statusCode).toBe(201);
    const all = (await get('/api/oids/2.999/children')).json();
    expect(all).toMatchObject({ oid: '2.999', total: 4, children: ['2.999.1', '2.999.2', '2.999.9', '2.999.10'] });
    expect((await get('/api/oids/2.999/children?page=1&pageSize=2')).json().children).toEqual(['2.999.9', '2.999.10']);
    expect((await get('/api/oids/2.999/children?pageSize=0')).json().code).toBe('ERR_QUERY_INVALID');
  });

  it('hides a confidential registrant from anonymous readers only', async () => {
    const res = await send('PUT', '/api/oids/2.999.3', { description: 'secretive', registrant: { name: 'Acme Sensors', contact: 'oid@acme.example' }, confidential: true });
    expect(res.statusCode).toBe(201);
    const anonymous = (await get('/api/oids/2.999.3')).json();
    expect(anonymous.confidential).toBe(true);
    expect(anonymous.registrant).toBeUndefined();
    expect(JSON.stringify(anonymous)).not.toContain('Acme');
    const admin = (await get('/api/oids/2.999.3', adminAuth())).json();
    expect(admin.registrant).toMatchObject({ name: 'Acme Sensors', contact: 'oid@acme.example' });
    expect(admin.firstRegistrant.name).toBe('Acme Sensors');
  });

  it('keeps the first registrant and the date a registrant took the arc', async () => {
    await send('PUT', '/api/oids/2.999.4', { description: 'v1', registrant: { name: 'First Ltd' } });
    const v1 = (await get('/api/oids/2.999.4')).json();
    await send('PUT', '/api/oids/2.999.4', { description: 'v2', registrant: { name: 'First Ltd' } });
    const v2 = (await get('/api/oids/2.999.4')).json();
    expect(v2.registrant.since).toBe(v1.registrant.since);
    await send('PUT', '/api/oids/2.999.4', { description: 'v3', registrant: { name: 'Second plc' } });
    const v3 = (await get('/api/oids/2.999.4')).json();
    expect([v3.firstRegistrant.name, v3.registrant.name, v3.version]).toEqual(['First Ltd', 'Second plc', 3]);
  });

  it('tombstones an arc: 410 afterwards, every version in history', async () => {
    expect((await send('DELETE', '/api/oids/2.999.4?reason=withdrawn')).statusCode).toBe(200);
    const gone = await get('/api/oids/2.999.4');
    expect([gone.statusCode, gone.json().code, gone.json().tombstone.reason]).toEqual([410, 'ERR_OID_DELETED', 'withdrawn']);
    const history = (await get('/api/history/urn:oid:2.999.4')).json();
    expect(history.versions.map((v: { version: number; status: string }) => [v.version, v.status])).toEqual([
      [1, 'active'],
      [2, 'active'],
      [3, 'active'],
      [4, 'tombstoned'],
    ]);
    expect((await get('/api/oids/2.999/children')).json().children).not.toContain('2.999.4');
  });
});

describe('bad input changes nothing', () => {
  it.each([
    ['no description', '/api/oids/2.999.50', { information: 'x' }, adminAuth(), 400, 'ERR_BODY_INVALID'],
    ['unknown member', '/api/oids/2.999.50', { description: 'x', colour: 'red' }, adminAuth(), 400, 'ERR_BODY_INVALID'],
    ['bad ASN.1 identifier', '/api/oids/2.999.50', { description: 'x', asn1Ids: ['Bad_Id'] }, adminAuth(), 400, 'ERR_BODY_INVALID'],
    ['integer Unicode label', '/api/oids/2.999.50', { description: 'x', unicodeLabels: ['50'] }, adminAuth(), 400, 'ERR_BODY_INVALID'],
    ['label with a space', '/api/oids/2.999.50', { description: 'x', unicodeLabels: ['a b'] }, adminAuth(), 400, 'ERR_OID_INVALID'],
    ['bad grant', '/api/oids/2.999.50', { description: 'x', grants: ['me'] }, adminAuth(), 400, 'ERR_BODY_INVALID'],
    ['root 3', '/api/oids/3.1', { description: 'x' }, adminAuth(), 400, 'ERR_OID_INVALID'],
    ['leading zero', '/api/oids/2.0999', { description: 'x' }, adminAuth(), 400, 'ERR_OID_INVALID'],
    ['second arc 40 under 1', '/api/oids/1.40', { description: 'x' }, adminAuth(), 400, 'ERR_OID_INVALID'],
    ['no credentials', '/api/oids/2.999.50', { description: 'x' }, null, 401, 'ERR_AUTH_REQUIRED'],
    ['__proto__', '/api/oids/2.999.50', JSON.parse('{"description":"x","__proto__":{"a":1}}'), adminAuth(), 400, 'ERR_BODY_FORBIDDEN_KEY'],
  ] as const)('%s -> %i %s', async (_name, url, body, auth, status, code) => {
    const seq = t.service.store.lastSeq;
    const payload = _name === '__proto__' ? '{"description":"x","__proto__":{"a":1}}' : JSON.stringify(body);
    const res = await t.app.inject({ method: 'PUT', url, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, payload });
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
    expect(t.service.store.lastSeq).toBe(seq);
  });
});
