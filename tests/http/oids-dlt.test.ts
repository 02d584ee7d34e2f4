import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

let t: TestService;

const put = (oid: string, body: unknown) =>
  t.app.inject({ method: 'PUT', url: `/api/oids/${oid}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
const del = (oid: string) => t.app.inject({ method: 'DELETE', url: `/api/oids/${oid}`, headers: { authorization: adminAuth() } });
const get = (url: string, auth?: string) => t.app.inject({ url, headers: auth ? { authorization: auth } : {} });
const byTx = (ref: string, auth?: string) => get(`/api/oids?dltTx=${encodeURIComponent(ref)}`, auth);

const HASH = `0x${'Ab'.repeat(32)}`;
const TX = { chain: 'eip155:1', txHash: HASH, block: 19_000_000, contract: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', time: '2025-01-31T12:00:00Z' };

beforeAll(async () => {
  t = await startTestService();
  expect((await put('2.999', { description: 'Example arc' })).statusCode).toBe(201);
  expect((await put('2.999.100', { description: 'IoT resource: a thermometer' })).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('Y.4476 ledger transactions', () => {
  it('registers a transaction arc, shows dltTx with the hash in lower case, and signs it', async () => {
    const res = await put('2.999.100.1', { description: 'Calibration record', dltTx: TX });
    expect(res.statusCode).toBe(201);
    const body = (await get('/api/oids/2.999.100.1')).json();
    expect(body.dltTx).toEqual({ ...TX, txHash: HASH.toLowerCase() });
    const value = body.values.find((v: { type: string }) => v.type === 'DLT.TX');
    expect(JSON.parse(value.data.value)).toEqual({ ...TX, txHash: HASH.toLowerCase() });
    const jwks = createLocalJWKSet((await get('/.well-known/jwks.json')).json());
    const claims = JSON.parse(new TextDecoder().decode((await compactVerify(body.signature.jws, jwks)).payload));
    expect(claims.digests.digests.map((d: { index: number }) => d.index)).toContain(value.index);
  });

  it('finds the arc by ?dltTx= with the same JSON as GET /api/oids/{dotted}, any hash case', async () => {
    const direct = await get('/api/oids/2.999.100.1');
    for (const ref of [`eip155:1:${HASH}`, `eip155:1:${HASH.toLowerCase()}`, `eip155:1:${HASH.toUpperCase().replace('0X', '0x')}`]) {
      const res = await byTx(ref);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe(direct.body);
    }
    const privileged = await byTx(`eip155:1:${HASH}`, adminAuth());
    expect(privileged.json()).toEqual((await get('/api/oids/2.999.100.1', adminAuth())).json());
  });

  it('lets a transaction identify one active arc only (409, nothing changes)', async () => {
    const seq = t.service.store.lastSeq;
    const res = await put('2.999.100.2', { description: 'copy', dltTx: { chain: 'eip155:1', txHash: HASH.toLowerCase() } });
    expect([res.statusCode, res.json().code, res.json().takenBy]).toEqual([409, 'ERR_OID_DLT_TX_TAKEN', '2.999.100.1']);
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await get('/api/oids/2.999.100.2')).statusCode).toBe(404);
    // The arc that holds it may be written again with it.
    expect((await put('2.999.100.1', { description: 'Calibration record, v2', dltTx: TX })).statusCode).toBe(200);
  });

  it('tells chains apart, and keeps non-eip155 hashes case-sensitive', async () => {
    expect((await put('2.999.100.3', { description: 'Polygon', dltTx: { chain: 'eip155:137', txHash: HASH } })).statusCode).toBe(201);
    const solana = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp';
    expect((await put('2.999.100.4', { description: 'upper', dltTx: { chain: solana, txHash: 'AbC' } })).statusCode).toBe(201);
    expect((await put('2.999.100.5', { description: 'lower', dltTx: { chain: solana, txHash: 'abc' } })).statusCode).toBe(201);
    expect((await byTx(`eip155:137:${HASH}`)).json().oid).toBe('2.999.100.3');
    expect((await byTx(`${solana}:AbC`)).json().oid).toBe('2.999.100.4');
    expect((await byTx(`${solana}:abc`)).json().oid).toBe('2.999.100.5');
    expect((await byTx(`${solana}:ABC`)).json().code).toBe('ERR_OID_NOT_FOUND');
  });

  it('answers 404 for an unknown transaction, and frees one whose arc drops it or is deleted', async () => {
    const other = `0x${'1'.repeat(64)}`;
    const missing = await byTx(`eip155:1:${other}`);
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'ERR_OID_NOT_FOUND']);
    expect((await put('2.999.100.4', { description: 'upper, without its transaction' })).statusCode).toBe(200);
    expect((await byTx('solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:AbC')).statusCode).toBe(404);
    expect((await get('/api/oids/2.999.100.4')).json().dltTx).toBeUndefined();
    expect((await del('2.999.100.1')).statusCode).toBe(200);
    expect((await byTx(`eip155:1:${HASH}`)).statusCode).toBe(404);
    expect((await put('2.999.100.2', { description: 'now it is free', dltTx: { chain: 'eip155:1', txHash: HASH } })).statusCode).toBe(201);
    expect((await byTx(`eip155:1:${HASH}`)).json().oid).toBe('2.999.100.2');
  });

  it.each([
    ['no hash', 'eip155:1', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['eip155 hash too short', 'eip155:1:0x1234', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['eip155 hash without 0x', `eip155:1:${'a'.repeat(64)}`, 400, 'ERR_OID_DLT_TX_INVALID'],
    ['upper-case namespace', `EIP155:1:${HASH}`, 400, 'ERR_OID_DLT_TX_INVALID'],
    ['namespace too short', 'ab:1:xyz', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['namespace too long', 'abcdefghi:1:xyz', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['reference too long', `cosmos:${'a'.repeat(33)}:xyz`, 400, 'ERR_OID_DLT_TX_INVALID'],
    ['hash with a slash', 'cosmos:hub:ab/cd', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['hash with a colon', 'cosmos:hub:ab:cd', 400, 'ERR_OID_DLT_TX_INVALID'],
    ['hash of 129 characters', `cosmos:hub:${'a'.repeat(129)}`, 400, 'ERR_OID_DLT_TX_INVALID'],
    ['empty', '', 400, 'ERR_QUERY_INVALID'],
  ])('?dltTx= %s -> %i %s', async (_name, ref, status, code) => {
    const res = await byTx(ref);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });

  it.each([
    ['not an object', 'eip155:1'],
    ['an array', [TX]],
    ['unknown member', { ...TX, gas: 21000 }],
    ['no chain', { txHash: HASH }],
    ['no txHash', { chain: 'eip155:1' }],
    ['chain without a reference', { chain: 'eip155', txHash: HASH }],
    ['eip155 hash not hex', { chain: 'eip155:1', txHash: `0x${'g'.repeat(64)}` }],
    ['txHash of 129 characters', { chain: 'cosmos:hub', txHash: 'a'.repeat(129) }],
    ['txHash a number', { chain: 'cosmos:hub', txHash: 12 }],
    ['negative block', { ...TX, block: -1 }],
    ['fractional block', { ...TX, block: 1.5 }],
    ['block as text', { ...TX, block: '1' }],
    ['block beyond 2^53', { ...TX, block: 2 ** 53 }],
    ['contract with a space', { ...TX, contract: '0x5a Aeb' }],
    ['empty contract', { ...TX, contract: '' }],
    ['time without a zone', { ...TX, time: '2025-01-31T12:00:00' }],
    ['time on 30 February', { ...TX, time: '2023-02-30T00:00:00Z' }],
    ['time at hour 24', { ...TX, time: '2023-02-28T24:00:00Z' }],
    ['date only', { ...TX, time: '2025-01-31' }],
    ['time a number', { ...TX, time: 1738324800 }],
  ])('a PUT with dltTx %s is refused (400 ERR_OID_DLT_TX_INVALID), changing nothing', async (_name, dltTx) => {
    const seq = t.service.store.lastSeq;
    const res = await put('2.999.100.9', { description: 'bad', dltTx });
    expect([res.statusCode, res.json().code]).toEqual([400, 'ERR_OID_DLT_TX_INVALID']);
    expect(t.service.store.lastSeq).toBe(seq);
  });

  it('accepts the optional members at their edges', async () => {
    const res = await put('2.999.100.9', { description: 'edges', dltTx: { chain: 'cosmos:cosmoshub-4', txHash: 'A-_z', block: 0, time: '2024-02-29T23:59:59.123+05:30' } });
    expect(res.statusCode).toBe(201);
    expect(res.json().dltTx).toEqual({ chain: 'cosmos:cosmoshub-4', txHash: 'A-_z', block: 0, time: '2024-02-29T23:59:59.123+05:30' });
  });
});
