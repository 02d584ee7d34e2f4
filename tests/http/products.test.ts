import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { gtinCheckDigit } from '../../src/ids/gs1.js';
import { luhnCheckDigit } from '../../src/ids/imei.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';
import { loadVector } from '../helpers/vectors.js';
import { makeCert, makeChain, makeCrl, type TestCert } from './verify-fixtures.js';

/**
 * The product registry over HTTP (issue 6, registry side): manufacturers, anchors and CRLs,
 * classes, items, lifecycle, aliases, permissions and the bad-input list of the issue. Every
 * refused request is shown to change nothing (the change log does not move).
 */
const gs1 = loadVector<{ valid: string[]; invalidCheckDigit: string[] }>('gs1.json');
const imeis = loadVector<{ valid: string[]; invalidCheckDigit: string[] }>('imei.json');
const GTIN = gs1.valid[0]!;
const OTHER_GTIN = gs1.valid[1]!;
const IMEI = imeis.valid[0]!;
/** Luhn-valid IMEIs under a made-up TAC, for items beyond the vector's one. */
const imeiNo = (n: number): string => {
  const body = `35000000${String(n).padStart(6, '0')}`;
  return `${body}${luhnCheckDigit(body)}`;
};
const SUN_KEYS = { metaKey: '00'.repeat(16), fileKey: '11'.repeat(16) };

let t: TestService;
const json = (auth: string | null) => ({ 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) });
const send = (method: 'PUT' | 'POST', url: string, body: unknown, auth: string | null = adminAuth()) =>
  t.app.inject({ method, url, headers: json(auth), payload: typeof body === 'string' ? body : JSON.stringify(body) });
const get = (url: string, auth: string | null = null) => t.app.inject({ method: 'GET', url, headers: auth ? { authorization: auth } : {} });
const ndjson = (prefix: string, lines: readonly unknown[], auth: string | null = adminAuth(), type = 'application/x-ndjson') =>
  t.app.inject({
    method: 'POST',
    url: `/api/products/${prefix}/items`,
    headers: { 'content-type': type, ...(auth ? { authorization: auth } : {}) },
    payload: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
  });

interface Manufacturer {
  prefix: string;
  identity: string;
  secret: string;
  auth: string;
}
let acme: Manufacturer;
let globex: Manufacturer;
let chain: { root: TestCert; intermediate: TestCert; device: TestCert };
const edKey = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
const p256Key = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

async function createManufacturer(name: string): Promise<Manufacturer> {
  const res = await send('POST', '/api/manufacturers', { name });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json() as Manufacturer;
  return { ...body, auth: basic(body.identity, body.secret) };
}

beforeAll(async () => {
  t = await startTestService();
  acme = await createManufacturer('Acme Devices');
  globex = await createManufacturer('Globex');
  chain = await makeChain('Acme');
  for (const [id, body] of Object.entries({
    plain: { name: 'Plain', model: 'P-1', evidence: 'none' },
    widget: { name: 'Widget', model: 'W-1', evidence: 'device-signature', gtin: GTIN },
    certified: { name: 'Certified', model: 'C-1', evidence: 'x509-chain' },
    tagged: { name: 'Tagged', model: 'T-1', evidence: 'sun', sunKeys: SUN_KEYS },
  })) {
    const res = await send('PUT', `/api/products/${acme.prefix}/classes/${id}`, body, acme.auth);
    expect(res.statusCode, res.body).toBe(201);
  }
  expect((await send('PUT', `/api/products/${globex.prefix}/classes/plain`, { name: 'Plain', model: 'G', evidence: 'none' }, globex.auth)).statusCode).toBe(201);
});
afterAll(async () => t?.close());

describe('POST /api/manufacturers', () => {
  it('gives the manufacturer a derived prefix, its admin identity and a secret shown once', async () => {
    expect(acme).toMatchObject({ prefix: '20.5000.1', identity: '300:0.NA/20.5000.1' });
    expect(acme.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(globex).toMatchObject({ prefix: '20.5000.2', identity: '300:0.NA/20.5000.2' });
    const view = await get(`/api/manufacturers/${acme.prefix}`);
    expect(view.statusCode).toBe(200);
    expect(view.json()).toMatchObject({ prefix: '20.5000.1', name: 'Acme Devices', handle: '20.5000.1/_manufacturer', identity: acme.identity, anchors: [], crls: [] });
    expect(view.body).not.toContain(acme.secret);
  });

  it('stores the manufacturer as a signed handle record, which the generic handle API cannot change', async () => {
    const res = await get('/api/handles/20.5000.1/_manufacturer');
    expect(res.statusCode).toBe(200);
    const values = res.json().values as { index: number; type: string; data: { value: unknown } }[];
    expect(values.map((v) => [v.index, v.type])).toEqual([
      [1, 'PRODUCT.MANUFACTURER'],
      [100, 'HS_ADMIN'],
      [101, 'HS_ADMIN'],
      [400, 'HS_SIGNATURE'],
    ]);
    expect(JSON.parse(values[0]!.data.value as string)).toEqual({ name: 'Acme Devices', prefix: '20.5000.1' });
    const before = t.service.store.lastSeq;
    const edit = await send('PUT', '/api/handles/20.5000.1/_manufacturer?index=1&overwrite=true', [{ index: 1, type: 'PRODUCT.MANUFACTURER', data: '{"name":"Evil"}' }], acme.auth);
    expect(edit.statusCode).toBe(403);
    expect(t.service.store.lastSeq).toBe(before);
  });

  it('is for the service admin only', async () => {
    const before = t.service.store.lastSeq;
    const byManufacturer = await send('POST', '/api/manufacturers', { name: 'Rogue' }, acme.auth);
    expect(byManufacturer.statusCode).toBe(403);
    expect(byManufacturer.json().code).toBe('ERR_PERMISSION_DENIED');
    expect((await send('POST', '/api/manufacturers', { name: 'Rogue' }, null)).statusCode).toBe(401);
    expect((await send('POST', '/api/manufacturers', { name: '' })).json().code).toBe('ERR_BODY_INVALID');
    expect(t.service.store.lastSeq).toBe(before);
  });
});

describe('trust anchors and CRLs', () => {
  it('registers roots and intermediates (EC P-256 and RSA) as the manufacturer, and describes them', async () => {
    const rsaKeys = (await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as { publicKey: webcrypto.CryptoKey; privateKey: webcrypto.CryptoKey };
    const rsaRoot = await makeCert({ cn: 'Acme RSA Root', ca: true, keys: rsaKeys });
    const res = await send('PUT', `/api/manufacturers/${acme.prefix}/anchors`, { anchors: [chain.root.pem + chain.intermediate.pem, rsaRoot.pem, chain.root.pem] }, acme.auth);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.anchors.map((a: { subject: string }) => a.subject)).toEqual(['CN=Acme Root', 'CN=Acme Intermediate', 'CN=Acme RSA Root']);
    expect(body.anchors[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const found = await t.service.products!.registry.findManufacturer(acme.prefix);
    expect(found?.anchors).toEqual([chain.root.pem, chain.intermediate.pem, rsaRoot.pem]);
  });

  it('takes CRLs signed by a registered anchor', async () => {
    const crl = await makeCrl(chain.intermediate, [12345]);
    const res = await send('PUT', `/api/manufacturers/${acme.prefix}/crls`, { crls: [crl.pem] }, acme.auth);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().crls).toEqual([expect.objectContaining({ issuer: 'CN=Acme Intermediate', revoked: 1 })]);
    expect(t.service.products!.registry.findManufacturer(acme.prefix)?.crls).toEqual([crl.pem]);
  });

  it('drops CRLs whose issuer is no longer an anchor when the anchors are replaced', async () => {
    const crl = await makeCrl(chain.root, []);
    expect((await send('PUT', `/api/manufacturers/${acme.prefix}/crls`, { crls: [crl.pem] })).statusCode).toBe(200);
    const replaced = await send('PUT', `/api/manufacturers/${acme.prefix}/anchors`, { anchors: chain.intermediate.pem }, acme.auth);
    expect(replaced.json()).toMatchObject({ droppedCrls: 1, crls: [] });
    // Back to the root and intermediate for the tests that follow.
    expect((await send('PUT', `/api/manufacturers/${acme.prefix}/anchors`, { anchors: [chain.root.pem, chain.intermediate.pem] })).statusCode).toBe(200);
  });
});

describe('classes', () => {
  it('answers a class without its SUN keys, and keeps them out of every read path', async () => {
    const cls = await get(`/api/products/${acme.prefix}/classes/tagged`);
    expect(cls.statusCode).toBe(200);
    expect(cls.json()).toMatchObject({ classId: 'tagged', name: 'Tagged', model: 'T-1', evidence: 'sun', sunKeysSet: true, handle: '20.5000.1/_class/tagged' });
    const secretHex = SUN_KEYS.fileKey.toUpperCase();
    const reads = [
      cls,
      await get('/api/handles/20.5000.1/_class/tagged'),
      await get('/api/handles/20.5000.1/_class/tagged?auth=true', adminAuth()),
      await get('/api/handles/20.5000.1/_class/tagged?auth=true&type=PRODUCT.SUN_KEYS', adminAuth()),
      await get('/api/history/hdl:20.5000.1/_class/tagged'),
      await get('/api/resolve/hdl:20.5000.1/_class/tagged'),
      await send('PUT', `/api/products/${acme.prefix}/classes/tagged`, { name: 'Tagged', model: 'T-2', evidence: 'sun' }, acme.auth),
    ];
    for (const r of reads) {
      expect(r.statusCode, r.body).toBeLessThan(300);
      expect(r.body.toUpperCase()).not.toContain(secretHex);
    }
    // The replacement without keys kept them, for the verifier only.
    expect(t.service.products!.registry.findClass(acme.prefix, 'tagged')).toMatchObject({ model: 'T-2', sunKeys: { metaKey: SUN_KEYS.metaKey, fileKey: secretHex } });
  });

  it('normalises the class GTIN to GTIN-14', async () => {
    const eight = `9638507${gtinCheckDigit('9638507')}`;
    const res = await send('PUT', `/api/products/${acme.prefix}/classes/small`, { name: 'Small', model: 'S', evidence: 'none', gtin: eight }, acme.auth);
    expect(res.statusCode).toBe(201);
    expect(res.json().gtin).toBe(eight.padStart(14, '0'));
  });
});

describe('items', () => {
  it('registers an item as the signed handle <prefix>/<serial>, status active, with its aliases', async () => {
    const key = edKey();
    const res = await send('PUT', `/api/products/${acme.prefix}/items/SN-000123`, { class: 'widget', devicePublicKey: key, lot: 'L-7', madeAt: '2026-03-01', imei: IMEI }, acme.auth);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      handle: '20.5000.1/SN-000123',
      class: 'widget',
      status: 'active',
      gtin: GTIN.padStart(14, '0'),
      gs1: `/01/${GTIN.padStart(14, '0')}/21/SN-000123`,
      imei: IMEI,
      lot: 'L-7',
      madeAt: '2026-03-01',
      devicePublicKey: { kty: 'OKP', crv: 'Ed25519', x: key.x },
      identifiers: { handle: 'hdl:20.5000.1/SN-000123', imei: `imei:${IMEI}` },
      manufacturer: { prefix: '20.5000.1', name: 'Acme Devices' },
      version: 1,
    });
    const handle = await get('/api/handles/20.5000.1/SN-000123');
    expect(handle.statusCode).toBe(200);
    const types = (handle.json().values as { type: string }[]).map((v) => v.type);
    expect(types).toEqual([
      'PRODUCT.CLASS_ID', 'PRODUCT.STATUS', 'PRODUCT.LOT', 'PRODUCT.MADE_AT', 'PRODUCT.GTIN', 'PRODUCT.GS1', 'PRODUCT.IMEI', 'PRODUCT.DEVICE_KEY', 'HS_ADMIN', 'HS_ADMIN', 'HS_SIGNATURE',
    ]);
    const resolved = await get('/api/resolve/hdl:20.5000.1/SN-000123');
    expect(resolved.json()).toMatchObject({ id: 'hdl:20.5000.1/SN-000123', version: 1, signature: { alg: 'EdDSA' } });
  });

  it('finds the item by handle, GS1 Digital Link and IMEI (registry.findItem and /api/products/lookup)', async () => {
    const products = t.service.products!;
    const ids = ['20.5000.1/SN-000123', 'hdl:20.5000.1/sn-000123', `/01/${GTIN}/21/SN-000123`, `https://id.example/01/${GTIN}/21/SN-000123`, `imei:${IMEI}`, `imei:${IMEI.slice(0, 14)}01`];
    for (const id of ids) {
      const found = await products.findItem(id);
      expect(found, id).toBeDefined();
      expect(found!.handle).toBe('20.5000.1/SN-000123');
      expect(found!.item).toMatchObject({ class: 'widget', status: 'active', imei: IMEI });
      expect(found!.cls).toMatchObject({ classId: 'widget', evidence: 'device-signature' });
      expect(found!.manufacturer).toMatchObject({ prefix: '20.5000.1', name: 'Acme Devices', anchors: [chain.root.pem, chain.intermediate.pem] });
    }
    expect(await products.findItem(`/01/${GTIN}/21/SN-999`)).toBeUndefined();
    expect(await products.findItem(`imei:${imeiNo(999)}`)).toBeUndefined();
    expect(await products.findItem('20.5000.1/nothing')).toBeUndefined();
    expect(await products.findItem('20.5000.1/_manufacturer')).toBeUndefined();
    await expect(products.findItem(`imei:${imeis.invalidCheckDigit[0]}`)).rejects.toMatchObject({ code: 'ERR_IMEI_CHECK_MISMATCH' });
    await expect(products.findItem(`/01/${gs1.invalidCheckDigit[0]}/21/X`)).rejects.toMatchObject({ code: 'ERR_GTIN_CHECK_MISMATCH' });

    const byImei = await get(`/api/products/lookup/imei:${IMEI}`);
    expect(byImei.statusCode).toBe(200);
    expect(byImei.json()).toMatchObject({ handle: '20.5000.1/SN-000123', via: 'imei', status: 'active' });
    const byLink = await get(`/api/products/lookup//01/${GTIN}/21/SN-000123`);
    expect(byLink.json()).toMatchObject({ handle: '20.5000.1/SN-000123', via: 'gs1' });
    const byHandle = await get('/api/products/lookup/hdl:20.5000.1/SN-000123');
    expect(byHandle.json()).toMatchObject({ handle: '20.5000.1/SN-000123', via: 'handle' });
    const unknown = await get(`/api/products/lookup/imei:${imeiNo(998)}`);
    expect([unknown.statusCode, unknown.json().code]).toEqual([404, 'ERR_PRODUCT_ITEM_NOT_FOUND']);
    const malformed = await get(`/api/products/lookup/imei:${imeis.invalidCheckDigit[0]}`);
    expect([malformed.statusCode, malformed.json().code]).toEqual([400, 'ERR_IMEI_CHECK_MISMATCH']);
  });

  it('resolves the item record through /api/resolve by IMEI and by GS1 Digital Link, as its handle', async () => {
    const byHandle = (await get('/api/resolve/hdl:20.5000.1/SN-000123')).json();
    expect(byHandle).toMatchObject({ id: 'hdl:20.5000.1/SN-000123', signature: { alg: 'EdDSA' } });
    for (const url of [
      `/api/resolve/imei:${IMEI}`,
      `/api/resolve/imei:${IMEI.slice(0, 14)}01`,
      `/api/resolve/01/${GTIN}/21/SN-000123`,
      `/api/resolve//01/${GTIN}/21/SN-000123`,
      `/api/resolve/https://id.example/01/${GTIN}/21/SN-000123`,
    ]) {
      const res = await get(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.json(), url).toEqual(byHandle);
    }
    const cases: [string, number, string][] = [
      [`/api/resolve/imei:${imeiNo(998)}`, 404, 'ERR_PRODUCT_ITEM_NOT_FOUND'],
      [`/api/resolve/01/${GTIN}/21/SN-999`, 404, 'ERR_PRODUCT_ITEM_NOT_FOUND'],
      [`/api/resolve/imei:${imeis.invalidCheckDigit[0]}`, 400, 'ERR_IMEI_CHECK_MISMATCH'],
      [`/api/resolve/01/${gs1.invalidCheckDigit[0]}/21/X`, 400, 'ERR_GTIN_CHECK_MISMATCH'],
    ];
    for (const [url, status, code] of cases) {
      const res = await get(url);
      expect([res.statusCode, res.json().code], url).toEqual([status, code]);
    }
  });

  it('registers items for each kind of evidence, with what the class needs', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['P-1', { class: 'plain' }],
      ['E-1', { class: 'widget', devicePublicKey: p256Key() }],
      ['E-2', { class: 'widget', devicePublicKey: generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }) }],
      ['X-1', { class: 'certified', deviceCertificate: chain.device.pem }],
      ['T-1', { class: 'tagged', sunUid: '04de5f1eacc040' }],
      ['G-1', { class: 'plain', gtin: OTHER_GTIN }],
    ];
    for (const [serial, body] of cases) {
      const res = await send('PUT', `/api/products/${acme.prefix}/items/${serial}`, body, acme.auth);
      expect(res.statusCode, `${serial}: ${res.body}`).toBe(201);
    }
    const tagged = await t.service.products!.findItem('20.5000.1/T-1');
    expect(tagged?.item.sunUid).toBe('04DE5F1EACC040');
    expect(tagged?.cls.sunKeys).toBeDefined();
    const x = await t.service.products!.findItem('20.5000.1/X-1');
    expect(x?.item.deviceCertificate).toBe(chain.device.pem);
    expect((await t.service.products!.findItem('20.5000.1/E-2'))?.item.devicePublicKey).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    // An item's own GTIN (the class has none) is its GS1 alias.
    expect((await t.service.products!.findItem(`/01/${OTHER_GTIN}/21/G-1`))?.handle).toBe('20.5000.1/G-1');
  });

  it('replaces an item with PUT (a new version, the status kept) and writes nothing when nothing changed', async () => {
    const url = `/api/products/${acme.prefix}/items/P-1`;
    const before = t.service.store.lastSeq;
    const same = await send('PUT', url, { class: 'plain' }, acme.auth);
    expect(same.statusCode).toBe(200);
    expect(t.service.store.lastSeq).toBe(before);
    expect((await send('POST', `${url}/status`, { status: 'recalled', reason: 'batch fault' }, acme.auth)).statusCode).toBe(200);
    const changed = await send('PUT', url, { class: 'plain', lot: 'L-2' }, acme.auth);
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ lot: 'L-2', status: 'recalled', statusReason: 'batch fault', version: 3 });
  });
});

describe('deleted items', () => {
  it('answers a tombstoned item by handle with its last fields, never by alias, and never registers its serial again', async () => {
    const imei = imeiNo(42);
    expect((await send('PUT', `/api/products/${acme.prefix}/items/D-1`, { class: 'plain', imei, lot: 'L-D' }, acme.auth)).statusCode).toBe(201);
    const del = await t.app.inject({ method: 'DELETE', url: '/api/handles/20.5000.1/D-1', headers: { authorization: adminAuth() } });
    expect(del.statusCode, del.body).toBe(200);
    const found = await t.service.products!.findItem('20.5000.1/D-1');
    expect(found?.record.status).toBe('tombstoned');
    expect(found?.item).toMatchObject({ class: 'plain', imei, lot: 'L-D', status: 'active' });
    expect(await t.service.products!.findItem(`imei:${imei}`)).toBeUndefined();
    expect((await get('/api/products/20.5000.1/items/D-1')).json().code).toBe('ERR_HANDLE_DELETED');
    const before = t.service.store.lastSeq;
    const again = await send('PUT', `/api/products/${acme.prefix}/items/D-1`, { class: 'plain' }, acme.auth);
    expect([again.statusCode, again.json().code]).toEqual([409, 'ERR_PRODUCT_ITEM_EXISTS']);
    expect(t.service.store.lastSeq).toBe(before);
    // Its IMEI is free again for another item.
    expect((await send('PUT', `/api/products/${acme.prefix}/items/D-2`, { class: 'plain', imei }, acme.auth)).statusCode).toBe(201);
  });
});

describe('lifecycle', () => {
  it('keeps every status change as a version in the history; destroyed is final', async () => {
    const url = `/api/products/${acme.prefix}/items/L-1`;
    expect((await send('PUT', url, { class: 'plain' }, acme.auth)).statusCode).toBe(201);
    const steps: [string, string][] = [
      ['stolen', 'reported by the owner'],
      ['active', 'recovered'],
      ['key-compromised', 'key leaked'],
      ['consumed', 'used'],
      ['destroyed', 'shredded'],
    ];
    for (const [status, reason] of steps) {
      const res = await send('POST', `${url}/status`, { status, reason }, acme.auth);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ status, statusReason: reason });
    }
    const before = t.service.store.lastSeq;
    const again = await send('POST', `${url}/status`, { status: 'active', reason: 'oops' }, acme.auth);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_PRODUCT_STATUS_FINAL');
    expect(t.service.store.lastSeq).toBe(before);

    const history = await get('/api/history/hdl:20.5000.1/L-1');
    expect(history.statusCode).toBe(200);
    const versions = history.json().versions as { version: number; values: { type: string; data: { value: string } }[] }[];
    const statuses = versions.map((v) => JSON.parse(v.values.find((x) => x.type === 'PRODUCT.STATUS')!.data.value) as { status: string; reason?: string });
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(statuses.map((s) => s.status)).toEqual(['active', 'stolen', 'active', 'key-compromised', 'consumed', 'destroyed']);
    expect(statuses[1]!.reason).toBe('reported by the owner');
    expect((await t.service.products!.findItem('20.5000.1/L-1'))?.item).toMatchObject({ status: 'destroyed', statusReason: 'shredded' });
  });
});

describe('permissions', () => {
  it("lets manufacturer B write nothing under A's prefix, and nobody anonymous", async () => {
    const writes: [method: 'PUT' | 'POST', url: string, body: unknown][] = [
      ['PUT', `/api/manufacturers/${acme.prefix}/anchors`, { anchors: [chain.root.pem] }],
      ['PUT', `/api/manufacturers/${acme.prefix}/crls`, { crls: [] }],
      ['PUT', `/api/products/${acme.prefix}/classes/intruder`, { name: 'X', model: 'X', evidence: 'none' }],
      ['PUT', `/api/products/${acme.prefix}/classes/plain`, { name: 'X', model: 'X', evidence: 'none' }],
      ['PUT', `/api/products/${acme.prefix}/items/B-1`, { class: 'plain' }],
      ['PUT', `/api/products/${acme.prefix}/items/P-1`, { class: 'plain' }],
      ['POST', `/api/products/${acme.prefix}/items/SN-000123/status`, { status: 'stolen', reason: 'sabotage' }],
    ];
    const before = t.service.store.lastSeq;
    for (const [method, url, body] of writes) {
      const asB = await send(method, url, body, globex.auth);
      expect(asB.statusCode, `${url}: ${asB.body}`).toBe(403);
      expect(asB.json().code).toBe('ERR_PERMISSION_DENIED');
      expect((await send(method, url, body, null)).statusCode).toBe(401);
    }
    const bulk = await ndjson(acme.prefix, [{ manifestId: 'intrusion', count: 1 }, { serial: 'B-2', class: 'plain' }], globex.auth);
    expect(bulk.statusCode).toBe(403);
    expect(t.service.store.lastSeq).toBe(before);
    // B's own prefix works, and its class ids are its own.
    expect((await send('PUT', `/api/products/${globex.prefix}/items/G-1`, { class: 'plain' }, globex.auth)).statusCode).toBe(201);
    // The generic handle API cannot edit an item either, not even as its manufacturer.
    const edit = await send('PUT', '/api/handles/20.5000.1/SN-000123?index=2&overwrite=true', [{ index: 2, type: 'PRODUCT.STATUS', data: '{"status":"active"}' }], acme.auth);
    expect(edit.statusCode).toBe(403);
  });
});

describe('bad input changes nothing', () => {
  const validItem = () => ({ class: 'widget', devicePublicKey: edKey() });
  const cases: { name: string; url: () => string; body: () => unknown; code: ErrorCode; status: number; method?: 'PUT' | 'POST'; admin?: true }[] = [
    { name: 'a PEM that is not a certificate', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'] }), code: 'ERR_CERTIFICATE_INVALID', status: 400 },
    { name: 'a CRL sent as an anchor', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: [crlPem] }), code: 'ERR_CERTIFICATE_INVALID', status: 400 },
    { name: 'text without PEM as an anchor', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: ['hello'] }), code: 'ERR_CERTIFICATE_INVALID', status: 400 },
    { name: 'an anchor that is not a CA', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: [chain.device.pem] }), code: 'ERR_ANCHOR_NOT_CA', status: 400 },
    { name: 'a CA anchor without keyCertSign', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: [noCertSign.pem] }), code: 'ERR_ANCHOR_NOT_CA', status: 400 },
    { name: 'an expired anchor', url: () => `/api/manufacturers/${acme.prefix}/anchors`, body: () => ({ anchors: [chain.root.pem, expired.pem] }), code: 'ERR_ANCHOR_EXPIRED', status: 400 },
    { name: 'a CRL that is not a CRL', url: () => `/api/manufacturers/${acme.prefix}/crls`, body: () => ({ crls: [chain.root.pem] }), code: 'ERR_CRL_INVALID', status: 400 },
    { name: 'a CRL from an unregistered issuer', url: () => `/api/manufacturers/${acme.prefix}/crls`, body: () => ({ crls: [strangerCrl] }), code: 'ERR_CRL_ISSUER_UNKNOWN', status: 400 },
    { name: "a CRL with an anchor's name but another key", url: () => `/api/manufacturers/${acme.prefix}/crls`, body: () => ({ crls: [forgedCrl] }), code: 'ERR_CRL_SIGNATURE_INVALID', status: 400 },
    { name: 'a class with a wrong GTIN check digit', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'none', gtin: gs1.invalidCheckDigit[0] }), code: 'ERR_GTIN_CHECK_MISMATCH', status: 400 },
    { name: 'a class GTIN of the wrong length', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'none', gtin: '123' }), code: 'ERR_GTIN_INVALID', status: 400 },
    { name: 'an unknown evidence type', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'magic' }), code: 'ERR_PRODUCT_CLASS_INVALID', status: 400 },
    { name: 'a sun class without keys', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'sun' }), code: 'ERR_PRODUCT_CLASS_INVALID', status: 400 },
    { name: 'a SUN key that is not 16 bytes', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'sun', sunKeys: { metaKey: 'ab', fileKey: '11'.repeat(16) } }), code: 'ERR_PRODUCT_CLASS_INVALID', status: 400 },
    { name: 'a class with an unknown member', url: () => `/api/products/${acme.prefix}/classes/bad`, body: () => ({ name: 'B', model: 'B', evidence: 'none', colour: 'red' }), code: 'ERR_PRODUCT_CLASS_INVALID', status: 400 },
    { name: 'a class id with a space', url: () => `/api/products/${acme.prefix}/classes/b%20ad`, body: () => ({ name: 'B', model: 'B', evidence: 'none' }), code: 'ERR_PRODUCT_CLASS_INVALID', status: 400 },
    { name: 'a class for an unknown manufacturer', url: () => '/api/products/20.5000.99/classes/x', body: () => ({ name: 'B', model: 'B', evidence: 'none' }), code: 'ERR_MANUFACTURER_NOT_FOUND', status: 404, admin: true },
    { name: 'a JWK with a private part', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'widget', devicePublicKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) }), code: 'ERR_DEVICE_KEY_PRIVATE', status: 400 },
    { name: 'a private key PEM', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'widget', devicePublicKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) }), code: 'ERR_DEVICE_KEY_PRIVATE', status: 400 },
    { name: 'an RSA device key', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'widget', devicePublicKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) }), code: 'ERR_DEVICE_KEY_INVALID', status: 400 },
    { name: 'a JWK that is not a key', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'widget', devicePublicKey: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } }), code: 'ERR_DEVICE_KEY_INVALID', status: 400 },
    { name: 'an IMEI with a wrong Luhn digit', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ ...validItem(), imei: imeis.invalidCheckDigit[0] }), code: 'ERR_IMEI_CHECK_MISMATCH', status: 400 },
    { name: 'an IMEI of 14 digits', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ ...validItem(), imei: IMEI.slice(0, 14) }), code: 'ERR_IMEI_INVALID', status: 400 },
    { name: 'an item GTIN with a wrong check digit', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ ...validItem(), gtin: gs1.invalidCheckDigit[0] }), code: 'ERR_GTIN_CHECK_MISMATCH', status: 400 },
    { name: 'a device certificate that is not a certificate', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'certified', deviceCertificate: 'not a pem' }), code: 'ERR_CERTIFICATE_INVALID', status: 400 },
    { name: 'two certificates as the device certificate', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'certified', deviceCertificate: chain.device.pem + chain.intermediate.pem }), code: 'ERR_CERTIFICATE_INVALID', status: 400 },
    { name: 'a device-signature item without a key', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'widget' }), code: 'ERR_PRODUCT_EVIDENCE_MISSING', status: 400 },
    { name: 'an x509-chain item without a certificate', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'certified', devicePublicKey: edKey() }), code: 'ERR_PRODUCT_EVIDENCE_MISSING', status: 400 },
    { name: 'a sun item without a tag UID', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'tagged' }), code: 'ERR_PRODUCT_EVIDENCE_MISSING', status: 400 },
    { name: 'a tag UID of 6 bytes', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'tagged', sunUid: '04DE5F1EACC0' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'an item of an unknown class', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'nope' }), code: 'ERR_PRODUCT_CLASS_NOT_FOUND', status: 404 },
    { name: "an item of another manufacturer's class", url: () => `/api/products/${globex.prefix}/items/BAD-1`, body: () => ({ class: 'widget', devicePublicKey: edKey() }), code: 'ERR_PRODUCT_CLASS_NOT_FOUND', status: 404 },
    { name: 'an item whose IMEI another item has', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ ...validItem(), imei: IMEI }), code: 'ERR_PRODUCT_ALIAS_TAKEN', status: 409 },
    { name: "an item with another manufacturer's IMEI", url: () => `/api/products/${globex.prefix}/items/BAD-1`, body: () => ({ class: 'plain', imei: IMEI }), code: 'ERR_PRODUCT_ALIAS_TAKEN', status: 409 },
    { name: 'a GTIN and serial another item has', url: () => `/api/products/${globex.prefix}/items/SN-000123`, body: () => ({ class: 'plain', gtin: GTIN }), code: 'ERR_PRODUCT_ALIAS_TAKEN', status: 409 },
    { name: 'a GTIN on a serial too long for AI 21', url: () => `/api/products/${acme.prefix}/items/${'S'.repeat(21)}`, body: () => ({ ...validItem() }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'a serial with a space', url: () => `/api/products/${acme.prefix}/items/a%20b`, body: () => ({ class: 'plain' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'a serial starting with _', url: () => `/api/products/${acme.prefix}/items/_manufacturer`, body: () => ({ class: 'plain' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'an item with a status', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'plain', status: 'active' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'an impossible manufacture date', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => ({ class: 'plain', madeAt: '2026-02-30' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'a handle that is not an item', url: () => `/api/products/${acme.prefix}/items/plain-handle`, body: () => ({ class: 'plain' }), code: 'ERR_PRODUCT_ITEM_EXISTS', status: 409 },
    { name: 'an unknown status', method: 'POST', url: () => `/api/products/${acme.prefix}/items/P-1/status`, body: () => ({ status: 'lost', reason: 'x' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'a status change without a reason', method: 'POST', url: () => `/api/products/${acme.prefix}/items/P-1/status`, body: () => ({ status: 'stolen' }), code: 'ERR_PRODUCT_ITEM_INVALID', status: 400 },
    { name: 'a status change of an unknown item', method: 'POST', url: () => `/api/products/${acme.prefix}/items/NOPE/status`, body: () => ({ status: 'stolen', reason: 'x' }), code: 'ERR_PRODUCT_ITEM_NOT_FOUND', status: 404 },
    { name: 'a __proto__ key', url: () => `/api/products/${acme.prefix}/items/BAD-1`, body: () => '{"class":"plain","__proto__":{"x":1}}', code: 'ERR_BODY_FORBIDDEN_KEY', status: 400 },
  ];

  let crlPem: string;
  let expired: TestCert;
  let noCertSign: TestCert;
  let strangerCrl: string;
  let forgedCrl: string;
  beforeAll(async () => {
    crlPem = (await makeCrl(chain.root, [])).pem;
    expired = await makeCert({ cn: 'Old Root', ca: true, notBefore: new Date(Date.now() - 400 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    noCertSign = await makeCert({ cn: 'Odd CA', ca: true, keyUsage: 0x80 });
    strangerCrl = (await makeCrl(await makeCert({ cn: 'Stranger Root', ca: true }), [])).pem;
    forgedCrl = (await makeCrl(await makeCert({ cn: 'Acme Root', ca: true }), [])).pem;
    // A plain handle under Acme's prefix, made through the handle API.
    expect((await send('PUT', '/api/handles/20.5000.1/plain-handle', [{ index: 1, type: 'URL', data: 'https://example.org/' }], acme.auth)).statusCode).toBe(201);
  });

  it.each(cases)('$code: $name', async ({ url, body, code, status, method, admin }) => {
    const before = t.service.store.lastSeq;
    const manufacturerBefore = JSON.stringify(t.service.products!.registry.findManufacturer(acme.prefix));
    const auth = admin ? adminAuth() : url().includes(globex.prefix) ? globex.auth : acme.auth;
    const res = await send(method ?? 'PUT', url(), body(), auth);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe(code);
    expect(t.service.store.lastSeq).toBe(before);
    expect(JSON.stringify(t.service.products!.registry.findManufacturer(acme.prefix))).toBe(manufacturerBefore);
    expect(await t.service.products!.findItem('20.5000.1/BAD-1')).toBeUndefined();
  });

  it('names the member in `field`', async () => {
    const res = await send('PUT', `/api/products/${acme.prefix}/items/BAD-1`, { ...validItem(), imei: imeis.invalidCheckDigit[0] }, acme.auth);
    expect(res.json()).toMatchObject({ code: 'ERR_IMEI_CHECK_MISMATCH', field: 'imei' });
    const key = await send('PUT', `/api/products/${acme.prefix}/items/BAD-1`, { class: 'widget', devicePublicKey: { ...edKey(), d: 'x' } }, acme.auth);
    expect(key.json()).toMatchObject({ code: 'ERR_DEVICE_KEY_PRIVATE', field: 'devicePublicKey', member: 'd' });
  });

});
