import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/families/doa/authorize.js';
import { parseIdentity } from '../../src/families/doa/identity.js';
import { formatItsSignId, parseItsSignType } from '../../src/ids/its-sign.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/* ItsService.createMany (bulk loads, the benchmark): all or nothing, stored exactly as PUT stores. */

let t: TestService;
const admin: Principal = { identity: parseIdentity('300:0.NA/20.5000'), serverAdmin: true };
const stranger: Principal = { identity: parseIdentity('300:20.5000/nobody'), serverAdmin: false };
const id = (serial: number, type?: string) => formatItsSignId({ kind: 'sign', country: 'FR', authority: 9, serial, ...(type ? { type: parseItsSignType(type) } : {}) });
const body = (lat: number) => ({ position: { lat, lon: 2.35 }, facing: 90, aliases: [`osm:node/${Math.round(lat * 1e4)}`] });
const put = (url: string, b: unknown) => t.app.inject({ method: 'PUT', url, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(b) });

beforeAll(async () => {
  t = await startTestService();
  expect((await put('/api/its/issuers/FR.9', { identity: '300:20.5000/roads-fr' })).statusCode).toBe(201);
});
afterAll(async () => t.close());

describe('createMany', () => {
  it('writes every sign as PUT would: same view (but the times), same index entries', async () => {
    const ids = await t.service.its.createMany([{ id: id(1, 'any.X1'), body: body(48.85) }, { id: id(2), body: body(48.851) }], admin);
    expect(ids).toEqual([id(1, 'any.X1'), id(2)]);
    expect((await put(`/api/its/${encodeURIComponent(id(3))}`, body(48.852))).statusCode).toBe(201);
    const bulk = (await t.app.inject({ url: `/api/its/${encodeURIComponent(id(2))}` })).json();
    const single = (await t.app.inject({ url: `/api/its/${encodeURIComponent(id(3))}` })).json();
    const shape = (v: Record<string, unknown>) => Object.keys(v).sort();
    expect(shape(bulk)).toEqual(shape(single));
    expect(bulk).toMatchObject({ value: null, facing: 90, version: 1, aliases: ['osm:node/488510'] });
    expect((await t.app.inject({ url: `/api/its/${encodeURIComponent(id(1))}` })).json()).toMatchObject({ type: 'any.X1', value: null });
    const near = (await t.app.inject({ url: '/api/its?near=48.851,2.35&radius=500' })).json();
    expect(near.signs.map((s: { id: string }) => s.id)).toEqual([id(2), id(1, 'any.X1'), id(3)]);
    expect((await t.app.inject({ url: '/api/its?alias=osm:node/488500' })).json().count).toBe(1);
  });

  it('writes nothing when one sign is refused', async () => {
    const seq = t.service.store.lastSeq;
    await expect(t.service.its.createMany([{ id: id(10), body: body(48.86) }, { id: id(2), body: body(48.86) }], admin)).rejects.toMatchObject({ code: 'ERR_ITS_SERIAL_TAKEN' });
    await expect(t.service.its.createMany([{ id: id(11), body: body(48.86) }, { id: id(11), body: body(48.87) }], admin)).rejects.toMatchObject({ code: 'ERR_ITS_SERIAL_TAKEN' });
    await expect(t.service.its.createMany([{ id: id(12), body: body(48.86) }, { id: id(13), body: { facing: 1 } }], admin)).rejects.toMatchObject({ code: 'ERR_ITS_SIGN_INVALID' });
    await expect(t.service.its.createMany([{ id: id(14, 'nat.FR-B14'), body: body(48.86) }], admin)).rejects.toMatchObject({ code: 'ERR_ITS_CODE_UNKNOWN' });
    await expect(t.service.its.createMany([{ id: id(15), body: body(48.86) }], stranger)).rejects.toMatchObject({ code: 'ERR_PERMISSION_DENIED' });
    expect(t.service.store.lastSeq).toBe(seq);
    expect((await t.app.inject({ url: `/api/its/${encodeURIComponent(id(10))}` })).statusCode).toBe(404);
  });
});
