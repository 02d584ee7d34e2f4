import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DoipClient, type DoipClientRequest } from '../../src/doip/client.js';
import { startDoipListener, type DoipListener } from '../../src/doip/listener.js';
import { doipFor } from '../../src/doip/operations.js';
import { bytesSegment, encodeMessage, jsonSegment, type DoipSegment } from '../../src/doip/segments.js';
import { loadOrCreateDevCertificate } from '../../src/service/tls-cert.js';
import { ADMIN_IDENTITY, ADMIN_SECRET, adminAuth, startTestService, type TestService } from '../helpers/service.js';

/** DOIP operations through a real TLS socket, the development certificate as the client's only CA. */

let t: TestService;
let listener: DoipListener;
let client: DoipClient;
let ca: string;
const admin = { clientId: ADMIN_IDENTITY, authentication: { password: ADMIN_SECRET } };

beforeAll(async () => {
  t = await startTestService();
  const tls = loadOrCreateDevCertificate(t.config.certsDir);
  ca = tls.cert;
  listener = await startDoipListener(doipFor(t.service), { host: '127.0.0.1', port: 0, key: tls.key, cert: tls.cert });
  client = await connectClient();
});
afterAll(async () => {
  client.close();
  await listener.close();
  await t.close();
});

const connectClient = (): Promise<DoipClient> => DoipClient.connect({ host: '127.0.0.1', port: listener.port, ca });
const send = (req: Omit<DoipClientRequest, 'targetId'> & { targetId?: string }, segments: DoipSegment[] = []) =>
  client.send({ targetId: 'service', ...req }, segments);
const outputOf = (r: { output?: unknown }) => r.output as Record<string, unknown>;
const putHandle = (handle: string, values: unknown[], auth = adminAuth()) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: { 'content-type': 'application/json', authorization: auth }, payload: JSON.stringify(values) });

describe('Op.Hello and Op.ListOperations', () => {
  it('says who the service is, over a TLS connection that verifies against the development certificate', async () => {
    const r = await send({ requestId: 'h1', operationId: '0.DOIP/Op.Hello' });
    expect(r.status).toBe('0.DOIP/Status.001');
    expect(r.requestId).toBe('h1');
    expect(r.output).toMatchObject({
      id: '0.NA/20.5000',
      type: '0.TYPE/DOIPServiceInfo',
      attributes: { ipAddress: '127.0.0.1', port: listener.port, protocol: 'TCP', protocolVersion: '2.0', publicKey: { kty: 'OKP', crv: 'Ed25519' } },
    });
    expect(client.socket.authorized).toBe(true);
  });

  it('answers Hello on the service record id too, and refuses it on an object', async () => {
    expect((await send({ operationId: '0.DOIP/Op.Hello', targetId: '0.na/20.5000' })).status).toBe('0.DOIP/Status.001');
    const r = await send({ operationId: '0.DOIP/Op.Hello', targetId: '20.5000/whatever' });
    expect(r.status).toBe('0.DOIP/Status.101');
    expect(outputOf(r).code).toBe('ERR_DOIP_REQUEST_INVALID');
  });

  it('lists the operations of the service', async () => {
    const r = await send({ operationId: '0.DOIP/Op.ListOperations' });
    expect(r.output).toEqual(['0.DOIP/Op.Hello', '0.DOIP/Op.ListOperations', '0.DOIP/Op.Create', '0.DOIP/Op.Search', '0.DOIP/Op.Retrieve']);
  });

  it('answers an unknown operation with Status.200 and keeps the connection', async () => {
    const r = await send({ requestId: 'u', operationId: '0.DOIP/Op.Frobnicate' });
    expect(r).toMatchObject({ requestId: 'u', status: '0.DOIP/Status.200', output: { code: 'ERR_DOIP_OPERATION_UNKNOWN' } });
    expect((await send({ operationId: '0.DOIP/Op.Hello' })).status).toBe('0.DOIP/Status.001');
  });

  it('answers a request that is not JSON with Status.101, echoing no requestId, and keeps the connection', async () => {
    const r = await client.sendRaw(Buffer.from('{"requestId": "x", \n#\n#\n'));
    expect(r.status).toBe('0.DOIP/Status.101');
    expect(outputOf(r).code).toBe('ERR_DOIP_REQUEST_INVALID');
    expect((await send({ operationId: '0.DOIP/Op.Hello' })).status).toBe('0.DOIP/Status.001');
  });

  it('answers pipelined requests in order', async () => {
    const wire = Buffer.concat([1, 2, 3].map((n) => encodeMessage([jsonSegment({ requestId: `p${n}`, targetId: 'service', operationId: '0.DOIP/Op.Hello' })])));
    const answers = Promise.all([client.sendRaw(wire), client.sendRaw(Buffer.alloc(0)), client.sendRaw(Buffer.alloc(0))]);
    expect((await answers).map((a) => a.requestId)).toEqual(['p1', 'p2', 'p3']);
  });
});

describe('Op.Create, Op.Retrieve, Op.Update, Op.Delete', () => {
  let minted: string;

  it('creates an object with element bytes sent as segments, minting an id under the prefix', async () => {
    const r = await send({ ...admin, requestId: 'c1', operationId: '0.DOIP/Op.Create' }, [
      jsonSegment({ type: 'Document', attributes: { title: 'Field notes', year: 2026 }, elements: [{ id: 'text', type: 'text/plain', length: 11 }, { id: 'blob' }] }),
      jsonSegment({ id: 'text' }),
      bytesSegment(Buffer.from('hello world')),
      jsonSegment({ id: 'blob' }),
      bytesSegment(Buffer.from([0, 255, 10, 35, 10])),
    ]);
    expect(r.status).toBe('0.DOIP/Status.001');
    const out = outputOf(r);
    minted = out.id as string;
    expect(minted).toMatch(/^20\.5000\/[0-9a-f-]{36}$/);
    expect(out).toEqual({
      id: minted,
      type: 'Document',
      attributes: { title: 'Field notes', year: 2026 },
      elements: [
        { id: 'text', type: 'text/plain', length: 11 },
        { id: 'blob', length: 5 },
      ],
    });
  });

  it('stores the object as a signed handle record that resolves through /api/handles', async () => {
    const res = await t.app.inject({ url: `/api/handles/${minted}` });
    expect(res.statusCode).toBe(200);
    const values = res.json().values as { index: number; type: string; data: { format: string; value: unknown } }[];
    expect(values.map((v) => [v.index, v.type])).toEqual([
      [1, 'DOIP.TYPE'],
      [2, 'DOIP.ATTRIBUTES'],
      [3, 'DOIP.ELEMENTS'],
      [100, 'HS_ADMIN'],
      [400, 'HS_SIGNATURE'],
      [1000, 'DOIP.ELEMENT'],
      [1001, 'DOIP.ELEMENT'],
    ]);
    expect(values[0]!.data).toEqual({ format: 'string', value: 'Document' });
    expect(values[5]!.data).toEqual({ format: 'string', value: 'hello world' });
    expect(values[6]!.data).toEqual({ format: 'base64', value: Buffer.from([0, 255, 10, 35, 10]).toString('base64') });
    const resolved = (await t.app.inject({ url: `/api/resolve/hdl:${minted}` })).json();
    expect(resolved.signature.jws.split('.')).toHaveLength(3);
  });

  it('creates under a chosen id, and answers Status.105 when it exists', async () => {
    const input = { id: '20.5000/doip-one', type: 'Sensor', attributes: { name: 'Thermo One' } };
    const first = await send({ ...admin, operationId: '0.DOIP/Op.Create', input });
    expect(first.status).toBe('0.DOIP/Status.001');
    expect(outputOf(first).id).toBe('20.5000/doip-one');
    const again = await send({ ...admin, operationId: '0.DOIP/Op.Create', input });
    expect(again.status).toBe('0.DOIP/Status.105');
    expect(outputOf(again).code).toBe('ERR_HANDLE_EXISTS');
  });

  it('retrieves the object, one element as a bytes segment, or everything with includeElementData', async () => {
    const plain = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: minted });
    expect(outputOf(plain).type).toBe('Document');
    expect(plain.outputSegments).toEqual([]);

    const one = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: minted, attributes: { element: 'blob' } });
    expect(one.status).toBe('0.DOIP/Status.001');
    expect(one.output).toBeUndefined();
    expect(one.outputSegments).toEqual([{ kind: 'bytes', data: Buffer.from([0, 255, 10, 35, 10]) }]);

    const all = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: minted, attributes: { includeElementData: true } });
    expect(all.outputSegments.map((s) => s.kind)).toEqual(['json', 'json', 'bytes', 'json', 'bytes']);
    const [objectSegment, textHeader, textBytes] = all.outputSegments as [DoipSegment, DoipSegment, DoipSegment];
    expect(JSON.parse((objectSegment as { text: string }).text).id).toBe(minted);
    expect(JSON.parse((textHeader as { text: string }).text)).toEqual({ id: 'text' });
    expect((textBytes as { data: Buffer }).data.toString()).toBe('hello world');
  });

  it('answers Status.104 for an unknown object, an unknown element, and a handle that is no object', async () => {
    const missing = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: '20.5000/nothing-here' });
    expect(missing).toMatchObject({ status: '0.DOIP/Status.104', output: { code: 'ERR_HANDLE_NOT_FOUND' } });
    const element = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: minted, attributes: { element: 'nope' } });
    expect(element).toMatchObject({ status: '0.DOIP/Status.104', output: { code: 'ERR_DOIP_ELEMENT_NOT_FOUND' } });
    expect((await putHandle('20.5000/plain-handle', [{ index: 1, type: 'URL', data: 'https://example.org/' }])).statusCode).toBe(201);
    const plain = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: '20.5000/plain-handle' });
    expect(plain).toMatchObject({ status: '0.DOIP/Status.104', output: { code: 'ERR_DOIP_NOT_AN_OBJECT' } });
    const foreign = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: '21.T1/x' });
    expect(foreign).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_PREFIX_NOT_HOMED' } });
  });

  it('updates attributes and element bytes, drops unlisted elements, and leaves other values alone', async () => {
    expect((await putHandle(`${minted}?index=5&overwrite=true`, [{ index: 5, type: 'URL', data: 'https://example.org/landing' }])).statusCode).toBe(200);
    const r = await send({ ...admin, operationId: '0.DOIP/Op.Update', targetId: minted }, [
      jsonSegment({ attributes: { title: 'Field notes, revised' }, elements: [{ id: 'text', type: 'text/markdown' }, { id: 'new' }] }),
      jsonSegment({ id: 'new' }),
      bytesSegment(Buffer.from('# fresh')),
    ]);
    expect(r.status).toBe('0.DOIP/Status.001');
    expect(r.output).toEqual({
      id: minted,
      type: 'Document',
      attributes: { title: 'Field notes, revised' },
      elements: [
        { id: 'text', type: 'text/markdown', length: 11 },
        { id: 'new', length: 7 },
      ],
    });
    const values = (await t.app.inject({ url: `/api/handles/${minted}` })).json().values as { index: number; type: string; data: { value: string } }[];
    expect(values.map((v) => [v.index, v.type])).toEqual([
      [1, 'DOIP.TYPE'],
      [2, 'DOIP.ATTRIBUTES'],
      [3, 'DOIP.ELEMENTS'],
      [5, 'URL'],
      [100, 'HS_ADMIN'],
      [400, 'HS_SIGNATURE'],
      [1000, 'DOIP.ELEMENT'],
      [1001, 'DOIP.ELEMENT'],
    ]);
    // "new" took the index "blob" left free: the old bytes are gone from the record.
    expect(values.find((v) => v.index === 1001)!.data.value).toBe('# fresh');
    const text = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: minted, attributes: { element: 'text' } });
    expect((text.outputSegments[0] as { data: Buffer }).data.toString()).toBe('hello world');
  });

  it('refuses an update whose input names another object, and element data no element lists', async () => {
    const other = await send({ ...admin, operationId: '0.DOIP/Op.Update', targetId: minted, input: { id: '20.5000/doip-one' } });
    expect(other).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_DOIP_REQUEST_INVALID' } });
    const stray = await send({ ...admin, operationId: '0.DOIP/Op.Update', targetId: minted }, [jsonSegment({}), jsonSegment({ id: 'ghost' }), bytesSegment(Buffer.from('x'))]);
    expect(stray).toMatchObject({ status: '0.DOIP/Status.101', output: { message: expect.stringContaining('ghost') } });
    const lying = await send({ ...admin, operationId: '0.DOIP/Op.Create' }, [jsonSegment({ type: 'T', elements: [{ id: 'a', length: 3 }] }), jsonSegment({ id: 'a' }), bytesSegment(Buffer.from('abcd'))]);
    expect(lying).toMatchObject({ status: '0.DOIP/Status.101', output: { message: expect.stringContaining('declares 3 bytes, 4 arrived') } });
  });

  it('deletes by tombstone: Retrieve then answers Status.104 with the tombstone, REST answers 410', async () => {
    const del = await send({ ...admin, operationId: '0.DOIP/Op.Delete', targetId: '20.5000/doip-one' });
    expect(del.status).toBe('0.DOIP/Status.001');
    expect(del.output).toBeUndefined();
    const gone = await send({ operationId: '0.DOIP/Op.Retrieve', targetId: '20.5000/doip-one' });
    expect(gone).toMatchObject({ status: '0.DOIP/Status.104', output: { code: 'ERR_HANDLE_DELETED', tombstone: { reason: 'deleted through DOIP' } } });
    expect((await t.app.inject({ url: '/api/handles/20.5000/doip-one' })).statusCode).toBe(410);
    const again = await send({ ...admin, operationId: '0.DOIP/Op.Delete', targetId: '20.5000/doip-one' });
    expect(again.status).toBe('0.DOIP/Status.104');
  });

  it('lists the operations of an object', async () => {
    const r = await send({ operationId: '0.DOIP/Op.ListOperations', targetId: minted });
    expect(r.output).toEqual(['0.DOIP/Op.Retrieve', '0.DOIP/Op.Update', '0.DOIP/Op.Delete', '0.DOIP/Op.ListOperations']);
  });
});

describe('authentication and authorization', () => {
  beforeAll(async () => {
    // An identity with a secret but no rights on the prefix, and an object it administers.
    expect((await putHandle('20.5000/alice', [{ index: 300, type: 'HS_SECKEY', data: 'alice-secret-1' }])).statusCode).toBe(201);
    const own = await putHandle('20.5000/alice-object', [
      { index: 1, type: 'DOIP.TYPE', data: 'Note' },
      { index: 2, type: 'DOIP.ATTRIBUTES', data: '{"by":"alice"}' },
      { index: 3, type: 'DOIP.ELEMENTS', data: '[]' },
      { index: 100, type: 'HS_ADMIN', data: { format: 'admin', value: { handle: '20.5000/alice', index: 300, permissions: '011111110011' } } },
    ]);
    expect(own.statusCode).toBe(201);
  });
  const alice = { clientId: '300:20.5000/alice', authentication: { password: 'alice-secret-1' } };

  it('refuses writes without credentials (Status.102, ERR_AUTH_REQUIRED)', async () => {
    const r = await send({ operationId: '0.DOIP/Op.Create', input: { type: 'T' } });
    expect(r).toMatchObject({ status: '0.DOIP/Status.102', output: { code: 'ERR_AUTH_REQUIRED' } });
  });

  it.each([
    ['a wrong password', { clientId: ADMIN_IDENTITY, authentication: { password: 'wrong-secret' } }],
    ['an unknown identity', { clientId: '300:20.5000/nobody', authentication: { password: 'whatever-secret' } }],
    ['an identity that is no index:handle', { clientId: 'admin', authentication: { password: ADMIN_SECRET } }],
    ['a token instead of a password', { clientId: ADMIN_IDENTITY, authentication: { token: 'abc' } }],
    ['no clientId', { authentication: { password: ADMIN_SECRET } }],
    ['a username differing from clientId', { clientId: ADMIN_IDENTITY, authentication: { username: '300:20.5000/alice', password: ADMIN_SECRET } }],
  ])('refuses %s with Status.102 (ERR_AUTH_FAILED), even on Hello', async (_name, creds) => {
    const r = await send({ ...creds, operationId: '0.DOIP/Op.Hello' });
    expect(r).toMatchObject({ status: '0.DOIP/Status.102', output: { code: 'ERR_AUTH_FAILED' } });
  });

  it('accepts Cordra-style username in place of clientId', async () => {
    const r = await send({ authentication: { username: ADMIN_IDENTITY, password: ADMIN_SECRET }, operationId: '0.DOIP/Op.Hello' });
    expect(r.status).toBe('0.DOIP/Status.001');
  });

  it('refuses Create to an identity without ADD_HANDLE on the prefix (Status.103), as the REST API does', async () => {
    const r = await send({ ...alice, operationId: '0.DOIP/Op.Create', input: { id: '20.5000/alice-two', type: 'Note' } });
    expect(r).toMatchObject({ status: '0.DOIP/Status.103', output: { code: 'ERR_PERMISSION_DENIED' } });
    const rest = await putHandle('20.5000/alice-two', [{ index: 1, type: 'URL', data: 'x' }], `Basic ${Buffer.from('300%3A20.5000/alice:alice-secret-1').toString('base64')}`);
    expect(rest.statusCode).toBe(403);
    expect(rest.json().code).toBe('ERR_PERMISSION_DENIED');
  });

  it('lets an object admin update and delete its object, and nobody else', async () => {
    const updated = await send({ ...alice, operationId: '0.DOIP/Op.Update', targetId: '20.5000/alice-object', input: { attributes: { by: 'alice', v: 2 } } });
    expect(updated.status).toBe('0.DOIP/Status.001');
    const created = await send({ ...admin, operationId: '0.DOIP/Op.Create', input: { id: '20.5000/admins-object', type: 'Note' } });
    expect(created.status).toBe('0.DOIP/Status.001');
    const denied = await send({ ...alice, operationId: '0.DOIP/Op.Update', targetId: '20.5000/admins-object', input: { attributes: { hijacked: true } } });
    expect(denied).toMatchObject({ status: '0.DOIP/Status.103', output: { code: 'ERR_PERMISSION_DENIED' } });
    const notHers = await send({ ...alice, operationId: '0.DOIP/Op.Delete', targetId: '20.5000/admins-object' });
    expect(notHers).toMatchObject({ status: '0.DOIP/Status.103', output: { code: 'ERR_PERMISSION_DENIED' } });
    expect((await send({ operationId: '0.DOIP/Op.Retrieve', targetId: '20.5000/admins-object' })).output).toMatchObject({ attributes: {} });
    const deleted = await send({ ...alice, operationId: '0.DOIP/Op.Delete', targetId: '20.5000/alice-object' });
    expect(deleted.status).toBe('0.DOIP/Status.001');
  });
});

describe('Op.Search', () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      const r = await send({ ...admin, operationId: '0.DOIP/Op.Create', input: { id: `20.5000/s-${i}`, type: i % 2 === 0 ? 'Even' : 'Odd', attributes: { n: i, name: `item ${i}` } } });
      expect(r.status).toBe('0.DOIP/Status.001');
    }
  });
  const search = async (attributes: Record<string, unknown>) => {
    const r = await send({ operationId: '0.DOIP/Op.Search', attributes });
    expect(r.status).toBe('0.DOIP/Status.001');
    return r.output as { size: number; results: unknown[] };
  };

  it('finds objects by type through the index, paged, ids or full objects', async () => {
    expect(await search({ query: 'type:Even', type: 'id' })).toEqual({ size: 4, results: ['20.5000/s-0', '20.5000/s-2', '20.5000/s-4', '20.5000/s-6'] });
    expect(await search({ query: 'type:Even', type: 'id', pageSize: 2, pageNum: 1 })).toEqual({ size: 4, results: ['20.5000/s-4', '20.5000/s-6'] });
    expect(await search({ query: 'type:Even', pageSize: 0 })).toEqual({ size: 4, results: [] });
    const full = await search({ query: 'type:Odd', pageSize: 1 });
    expect(full).toEqual({ size: 3, results: [{ id: '20.5000/s-1', type: 'Odd', attributes: { n: 1, name: 'item 1' } }] });
  });

  it('filters on attributes and free text, and sorts', async () => {
    expect(await search({ query: 'type:Odd n:3', type: 'id' })).toEqual({ size: 1, results: ['20.5000/s-3'] });
    expect(await search({ query: '"item 5"', type: 'id' })).toEqual({ size: 1, results: ['20.5000/s-5'] });
    expect(await search({ query: 'id:20.5000/S-*', type: 'id', sortFields: 'n DESC', pageSize: 3 })).toEqual({ size: 7, results: ['20.5000/s-6', '20.5000/s-5', '20.5000/s-4'] });
    expect(await search({ query: 'id:20.5000/s-2', type: 'id' })).toEqual({ size: 1, results: ['20.5000/s-2'] });
  });

  it('sees objects written through the Handle REST API, and follows type changes and deletions', async () => {
    expect((await putHandle('20.5000/rest-made', [{ index: 1, type: 'DOIP.TYPE', data: 'Odd' }])).statusCode).toBe(201);
    expect((await search({ query: 'type:Odd', type: 'id' })).results).toContain('20.5000/rest-made');
    await send({ ...admin, operationId: '0.DOIP/Op.Update', targetId: '20.5000/s-1', input: { type: 'Even' } });
    await send({ ...admin, operationId: '0.DOIP/Op.Delete', targetId: '20.5000/s-3' });
    expect(await search({ query: 'type:Odd', type: 'id' })).toEqual({ size: 2, results: ['20.5000/rest-made', '20.5000/s-5'] });
    expect((await search({ query: 'type:Even', type: 'id' })).size).toBe(5);
  });

  it('refuses bad search attributes with Status.101', async () => {
    for (const attributes of [{}, { query: 'a OR b' }, { query: 'x', type: 'ids' }, { query: 'x', pageNum: -1 }, { query: 'x', sortFields: 5 }]) {
      const r = await send({ operationId: '0.DOIP/Op.Search', attributes });
      expect(r).toMatchObject({ status: '0.DOIP/Status.101', output: { code: 'ERR_QUERY_INVALID' } });
    }
  });

  it('opens a second connection to the same service', async () => {
    const other = await connectClient();
    try {
      expect((await other.send({ targetId: 'service', operationId: '0.DOIP/Op.Search', attributes: { query: 'type:Even', pageSize: 0 } })).output).toEqual({ size: 5, results: [] });
    } finally {
      other.close();
    }
  });
});
