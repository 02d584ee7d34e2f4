import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OidChange } from '../../src/families/oid/oid-service.js';
import { parseOid } from '../../src/ids/oid.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;

const put = (oid: string, body: unknown) =>
  t.app.inject({ method: 'PUT', url: `/api/oids/${oid}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const del = (oid: string) => t.app.inject({ method: 'DELETE', url: `/api/oids/${oid}`, headers: { authorization: adminAuth() } });
const get = (url: string) => t.app.inject({ url });
const byIri = (iri: string) => get(`/api/oids?iri=${encodeURIComponent(iri)}`);
const oids = () => t.service.oids;

/** PUT that must be refused with `code`, leaving the store as it was. */
async function refused(oid: string, body: unknown, status: number, code: string): Promise<void> {
  const seq = t.service.store.lastSeq;
  const before = (await get(`/api/oids/${oid}`)).body;
  const res = await put(oid, body);
  expect([res.statusCode, res.json().code]).toEqual([status, code]);
  expect(t.service.store.lastSeq).toBe(seq);
  expect((await get(`/api/oids/${oid}`)).body).toBe(before);
}

beforeAll(async () => {
  t = await startTestService();
  expect((await put('2.999', { description: 'Example arc', asn1Ids: ['example'], unicodeLabels: ['Example'] })).statusCode).toBe(201);
  expect((await put('2.999.1', { description: 'sensors', asn1Ids: ['sensor'], unicodeLabels: ['Sensor'] })).statusCode).toBe(201);
  expect((await put('2.999.3', { description: 'unit', unicodeLabels: ['Ångström'] })).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('labels are unique among active siblings', () => {
  it.each([
    ['the same ASN.1 identifier', { description: 'x', asn1Ids: ['sensor'] }],
    ['an ASN.1 identifier equal to a sibling Unicode label but for case', { description: 'x', asn1Ids: ['sensor2', 'sENSOR'] }],
    ['a Unicode label differing only in case', { description: 'x', unicodeLabels: ['SENSOR'] }],
    ['a non-ASCII label differing only in case', { description: 'x', unicodeLabels: ['ÅNGSTRÖM'] }],
    ['a non-ASCII label in decomposed form', { description: 'x', unicodeLabels: ['A\u030angstro\u0308m'] }],
  ])('refuses %s (409), changing nothing', async (_name, body) => {
    await refused('2.999.2', body, 409, 'ERR_OID_LABEL_TAKEN');
    expect((await get('/api/oids/2.999.2')).statusCode).toBe(404);
  });

  it('names the arc holding the label', async () => {
    const res = await put('2.999.2', { description: 'x', unicodeLabels: ['sensor'] });
    expect(res.json()).toMatchObject({ code: 'ERR_OID_LABEL_TAKEN', label: 'sensor', takenBy: '2.999.1', oid: '2.999.2' });
  });

  it('refuses an update that takes a sibling label, keeping the arc as it was', async () => {
    expect((await put('2.999.4', { description: 'four', unicodeLabels: ['Four'] })).statusCode).toBe(201);
    await refused('2.999.4', { description: 'four, renamed', unicodeLabels: ['Four', 'Sensor'] }, 409, 'ERR_OID_LABEL_TAKEN');
    expect((await get('/api/oids/2.999.4')).json()).toMatchObject({ version: 1, description: 'four', unicodeLabels: ['Four'] });
  });

  it('refuses a label the standard names give another arc under the same parent', async () => {
    await refused('2.998', { description: 'x', unicodeLabels: ['example'] }, 409, 'ERR_OID_LABEL_TAKEN');
    await refused('2.998', { description: 'x', asn1Ids: ['uuid'] }, 409, 'ERR_OID_LABEL_TAKEN');
  });

  it('lets an arc keep and repeat its own labels, across asn1Ids and unicodeLabels', async () => {
    const res = await put('2.999.1', { description: 'sensors, v2', asn1Ids: ['sensor'], unicodeLabels: ['Sensor', 'Sensoren'] });
    expect(res.statusCode).toBe(200);
  });

  it('allows the same label under another parent', async () => {
    expect((await put('2.999.1.1', { description: 'nested', unicodeLabels: ['Sensor'] })).statusCode).toBe(201);
  });

  it('frees a label when its arc drops it or is tombstoned', async () => {
    expect((await put('2.999.5', { description: 'five', unicodeLabels: ['Old'] })).statusCode).toBe(201);
    expect((await put('2.999.5', { description: 'five', unicodeLabels: ['New'] })).statusCode).toBe(200);
    expect((await byIri('/Example/Old')).json().code).toBe('ERR_OID_INVALID');
    expect((await byIri('/Example/New')).json().oid).toBe('2.999.5');
    expect((await put('2.999.6', { description: 'six', unicodeLabels: ['old'] })).statusCode).toBe(201);
    await refused('2.999.7', { description: 'seven', unicodeLabels: ['NEW'] }, 409, 'ERR_OID_LABEL_TAKEN');
    expect((await del('2.999.5')).statusCode).toBe(200);
    expect((await put('2.999.7', { description: 'seven', unicodeLabels: ['NEW'] })).statusCode).toBe(201);
  });
});

describe('OID-IRIs resolve registered labels', () => {
  it.each([
    ['/Example/Sensor', '2.999.1'],
    ['/Joint-ISO-ITU-T/Example/Sensor', '2.999.1'],
    ['/Example/sensor', '2.999.1'],
    ['/example/SENSOR', '2.999.1'],
    ['/joint-iso-itu-t/EXAMPLE/Sensoren', '2.999.1'],
    ['/Example/Sensor/Sensor', '2.999.1.1'],
    ['/Example/1/Sensor', '2.999.1.1'],
    ['/Example/Ångström', '2.999.3'],
    ['/Example/%C3%85ngstr%C3%B6m', '2.999.3'],
    ['/Example/ÅNGSTRÖM', '2.999.3'],
    ['oid:/Example/NEW', '2.999.7'],
    ['/2/999/3', '2.999.3'],
  ])('%s is %s', async (iri, dotted) => {
    const res = await byIri(iri);
    expect([res.statusCode, res.json().oid]).toEqual([200, dotted]);
  });

  it('still resolves long arcs and UUID labels to unregistered arcs (404 with the OID)', async () => {
    const res = await byIri('/UUID/f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    expect([res.statusCode, res.json().code, res.json().oid]).toEqual([404, 'ERR_OID_NOT_FOUND', '2.25.329800735698586629295641978511506172918']);
    expect((await byIri('/Example/42')).json()).toMatchObject({ code: 'ERR_OID_NOT_FOUND', oid: '2.999.42', nearest: '2.999' });
  });

  it.each([
    ['/Example/Nobody', 'ERR_OID_INVALID'],
    ['/Example/Five', 'ERR_OID_INVALID'],
    ['/Example/-bad', 'ERR_OID_INVALID'],
    ['Example', 'ERR_OID_INVALID'],
  ])('refuses %s (%s)', async (iri, code) => {
    const res = await byIri(iri);
    expect([res.statusCode, res.json().code]).toEqual([400, code]);
  });

  it('forgets the labels of a tombstoned arc', async () => {
    expect((await put('2.999.8', { description: 'eight', unicodeLabels: ['Eight'] })).statusCode).toBe(201);
    expect((await byIri('/Example/Eight')).json().oid).toBe('2.999.8');
    expect((await del('2.999.8')).statusCode).toBe(200);
    expect((await byIri('/Example/Eight')).json().code).toBe('ERR_OID_INVALID');
  });

  it('asks for exactly one of iri and dltTx', async () => {
    expect((await get('/api/oids')).json().code).toBe('ERR_QUERY_INVALID');
    expect((await get('/api/oids?iri=')).json().code).toBe('ERR_QUERY_INVALID');
    expect((await get('/api/oids?iri=/Example&dltTx=eip155:1:0x00')).json().code).toBe('ERR_QUERY_INVALID');
  });
});

describe('the registry for the DNS responder', () => {
  it('findChildByLabel matches by label key, active arcs only', async () => {
    expect((await oids().findChildByLabel([2n, 999n], 'SENSOR'))?.text).toBe('2.999.1');
    expect((await oids().findChildByLabel(parseOid('2.999'), 'ångström'))?.text).toBe('2.999.3');
    expect((await oids().findChildByLabel(parseOid('2.999.1'), 'sensor'))?.text).toBe('2.999.1.1');
    expect((await oids().findChildByLabel([2n], 'example'))?.text).toBe('2.999');
    expect(await oids().findChildByLabel([2n, 999n], 'Eight')).toBeUndefined(); // tombstoned
    expect(await oids().findChildByLabel([2n, 999n], 'Nobody')).toBeUndefined();
    expect(await oids().findChildByLabel([2n, 998n], 'Sensor')).toBeUndefined();
    expect(await oids().findChildByLabel([2n, 999n], 'Sensor\u0000')).toBeUndefined();
  });

  it('hasActiveDescendant sees active arcs at any depth, not the arc itself nor tombstones', async () => {
    expect((await put('2.997.5.6.7', { description: 'deep' })).statusCode).toBe(201);
    expect((await put('2.997.50', { description: 'a sibling whose key continues 2.997.5 in decimal' })).statusCode).toBe(201);
    const has = (dotted: string) => oids().hasActiveDescendant(parseOid(dotted));
    expect(await has('2.997')).toBe(true);
    expect(await has('2.997.5')).toBe(true);
    expect(await has('2.997.5.6')).toBe(true);
    expect(await has('2.997.5.6.7')).toBe(false);
    expect(await has('2.997.50')).toBe(false);
    expect(await has('2.999.1')).toBe(true);
    expect(await has('2.999.1.1')).toBe(false);
    expect(await has('2.999.8')).toBe(false); // tombstoned itself, nothing beneath
    expect(await has('2.996')).toBe(false);
    expect((await del('2.997.5.6.7')).statusCode).toBe(200);
    expect(await has('2.997.5')).toBe(false);
    expect(await has('2.997')).toBe(true); // 2.997.50
  });

  it('hasActiveDescendant is one bounded read', async () => {
    const keys = vi.spyOn(t.service.store.index, 'keys');
    try {
      await oids().hasActiveDescendant(parseOid('2.999'));
      expect(keys).toHaveBeenCalledTimes(1);
      expect(keys.mock.calls[0]![0]).toMatchObject({ limit: 1 });
    } finally {
      keys.mockRestore();
    }
  });

  it('activeArcs yields every active arc in numeric order, with its record', async () => {
    expect((await put('2.999.10', { description: 'ten' })).statusCode).toBe(201);
    expect((await put('2.999.9', { description: 'nine' })).statusCode).toBe(201);
    const seen: string[] = [];
    for await (const { oid, record } of oids().activeArcs()) {
      expect([record.id, record.status]).toEqual([oid.text, 'active']);
      seen.push(oid.text);
    }
    expect(seen).toEqual(['2.997.50', '2.999', '2.999.1', '2.999.1.1', '2.999.3', '2.999.4', '2.999.6', '2.999.7', '2.999.9', '2.999.10']);
  });

  it('onChange reports committed puts and removes with their change-log position', async () => {
    const changes: OidChange[] = [];
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const offThrowing = oids().onChange(() => {
      throw new Error('listener bug');
    });
    const off = oids().onChange((c) => changes.push(c));
    try {
      expect((await put('2.999.11', { description: 'eleven' })).statusCode).toBe(201);
      const created = t.service.store.lastSeq;
      expect((await del('2.999.11')).statusCode).toBe(200);
      const deleted = t.service.store.lastSeq;
      await refused('2.999.12', { description: 'x', unicodeLabels: ['Sensor'] }, 409, 'ERR_OID_LABEL_TAKEN');
      expect(changes.map((c) => [c.oid.text, c.seq])).toEqual([
        ['2.999.11', created],
        ['2.999.11', deleted],
      ]);
      expect(warn).toHaveBeenCalledTimes(2);
      expect((await get('/api/oids/2.999.11')).statusCode).toBe(410);
    } finally {
      off();
      offThrowing();
      warn.mockRestore();
    }
    expect((await put('2.999.12', { description: 'twelve' })).statusCode).toBe(201);
    expect(changes).toHaveLength(2);
  });
});

describe('/api/resolve and /api/history take OID-IRIs with registered labels', () => {
  it('resolves oid:/Example/Sensor to 2.999.1 through /api/resolve', async () => {
    const res = await get(`/api/resolve/${encodeURIComponent('oid:/Example/Sensor')}`);
    expect([res.statusCode, res.json().oid]).toEqual([200, '2.999.1']);
  });

  it('serves the history of oid:/Example/Sensor', async () => {
    const res = await get(`/api/history/${encodeURIComponent('oid:/Example/Sensor')}`);
    expect([res.statusCode, res.json().id]).toEqual([200, 'urn:oid:2.999.1']);
  });

  it('answers an unknown label with ERR_OID_INVALID', async () => {
    const res = await get(`/api/resolve/${encodeURIComponent('oid:/Example/NoSuchLabel')}`);
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_OID_INVALID']);
  });
});
