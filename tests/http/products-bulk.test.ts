import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../src/ids/imei.js';
import { adminAuth, basic, startTestService, type TestService } from '../helpers/service.js';
import { loadVector } from '../helpers/vectors.js';

/**
 * Bulk registration (POST /api/products/{prefix}/items, NDJSON): a result per row, a failed row
 * writes nothing and keeps nothing else from being written, idempotent by manifest id.
 */
const imeis = loadVector<{ invalidCheckDigit: string[] }>('imei.json');
const imeiNo = (n: number): string => {
  const body = `35111111${String(n).padStart(6, '0')}`;
  return `${body}${luhnCheckDigit(body)}`;
};
const edKey = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });

let t: TestService;
let acme: { prefix: string; auth: string };
let globex: { prefix: string; auth: string };

const json = (auth: string) => ({ 'content-type': 'application/json', authorization: auth });
const send = (method: 'PUT' | 'POST', url: string, body: unknown, auth = adminAuth()) => t.app.inject({ method, url, headers: json(auth), payload: JSON.stringify(body) });
const bulk = (prefix: string, lines: readonly unknown[], auth = acme.auth, type = 'application/x-ndjson') =>
  t.app.inject({
    method: 'POST',
    url: `/api/products/${prefix}/items`,
    headers: { 'content-type': type, authorization: auth },
    payload: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
  });

beforeAll(async () => {
  t = await startTestService();
  for (const name of ['Acme Devices', 'Globex']) {
    const res = await send('POST', '/api/manufacturers', { name });
    const m = res.json() as { prefix: string; identity: string; secret: string };
    const entry = { prefix: m.prefix, auth: basic(m.identity, m.secret) };
    if (name === 'Globex') globex = entry;
    else acme = entry;
  }
  expect((await send('PUT', `/api/products/${acme.prefix}/classes/plain`, { name: 'Plain', model: 'P', evidence: 'none' }, acme.auth)).statusCode).toBe(201);
  expect((await send('PUT', `/api/products/${acme.prefix}/classes/widget`, { name: 'Widget', model: 'W', evidence: 'device-signature' }, acme.auth)).statusCode).toBe(201);
  expect((await send('PUT', `/api/products/${acme.prefix}/items/E-1`, { class: 'plain', lot: 'original' }, acme.auth)).statusCode).toBe(201);
});
afterAll(async () => t?.close());

describe('POST /api/products/{prefix}/items', () => {
  let rows: unknown[];
  let first: { statusCode: number; body: string };

  it('registers the good rows and reports each failed row with its own code', async () => {
    rows = [
      { manifestId: 'acme-2026-03-01', count: 10, prefix: acme.prefix },
      { serial: 'B-1', class: 'plain', lot: 'L1' },
      { serial: 'B-2', class: 'widget', devicePublicKey: edKey(), imei: imeiNo(1) },
      { serial: 'B-3', prefix: globex.prefix, class: 'plain' },
      { serial: 'b-1', class: 'plain' },
      { serial: 'E-1', class: 'plain', lot: 'overwritten?' },
      { serial: 'B-4', class: 'plain', imei: imeis.invalidCheckDigit[0] },
      { serial: 'B-5', class: 'plain', imei: imeiNo(1) },
      '{"serial": "B-6", "class": ',
      { class: 'plain' },
      { serial: 'B-7', class: 'widget' },
    ];
    const before = t.service.store.lastSeq;
    const res = await bulk(acme.prefix, rows);
    first = res;
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ manifestId: 'acme-2026-03-01', prefix: acme.prefix, count: 10, created: 2, failed: 8 });
    const byLine = body.results.map((r: { line: number; status: string; code?: string }) => [r.line, r.status, r.code ?? null]);
    expect(byLine).toEqual([
      [2, 'created', null],
      [3, 'created', null],
      [4, 'failed', 'ERR_PRODUCT_PREFIX_MISMATCH'],
      [5, 'failed', 'ERR_PRODUCT_SERIAL_DUPLICATE'],
      [6, 'failed', 'ERR_PRODUCT_ITEM_EXISTS'],
      [7, 'failed', 'ERR_IMEI_CHECK_MISMATCH'],
      [8, 'failed', 'ERR_PRODUCT_ALIAS_TAKEN'],
      [9, 'failed', 'ERR_BODY_MALFORMED_JSON'],
      [10, 'failed', 'ERR_PRODUCT_ITEM_INVALID'],
      [11, 'failed', 'ERR_PRODUCT_EVIDENCE_MISSING'],
    ]);
    expect(body.results[0]).toEqual({ line: 2, serial: 'B-1', handle: `${acme.prefix}/B-1`, status: 'created' });
    expect(body.results[3]).toMatchObject({ serial: 'b-1', firstLine: 2, field: 'serial' });
    // Only the two new items were written; the existing one was neither replaced nor touched.
    expect(t.service.store.lastSeq).toBe(before + 2);
    const existing = await t.service.products!.findItem(`${acme.prefix}/E-1`);
    expect(existing?.record.version).toBe(1);
    expect(existing?.item.lot).toBe('original');
    expect((await t.service.products!.findItem(`imei:${imeiNo(1)}`))?.handle).toBe(`${acme.prefix}/B-2`);
    for (const serial of ['B-3', 'B-4', 'B-5', 'B-6', 'B-7']) expect(await t.service.products!.findItem(`${acme.prefix}/${serial}`)).toBeUndefined();
  });

  it('answers a repeat of the same manifest with the stored result and writes nothing', async () => {
    const before = t.service.store.lastSeq;
    const again = await bulk(acme.prefix, rows);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(JSON.parse(first.body));
    // The same rows with CRLF line ends and blank lines are the same batch.
    const crlf = await t.app.inject({
      method: 'POST',
      url: `/api/products/${acme.prefix}/items`,
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', authorization: acme.auth },
      payload: `${rows.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\r\n')}\r\n\r\n`,
    });
    expect(crlf.headers['idempotent-replayed']).toBe('true');
    expect(t.service.store.lastSeq).toBe(before);
  });

  it('refuses other rows under a manifest id already used (422) and writes nothing', async () => {
    const before = t.service.store.lastSeq;
    const res = await bulk(acme.prefix, [{ manifestId: 'acme-2026-03-01', count: 1 }, { serial: 'C-1', class: 'plain' }]);
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('ERR_MANIFEST_REUSED');
    expect(t.service.store.lastSeq).toBe(before);
  });

  it.each([
    ['a count that does not match the rows', [{ manifestId: 'm-count', count: 3 }, { serial: 'C-1', class: 'plain' }, { serial: 'C-2', class: 'plain' }], 400, 'ERR_MANIFEST_COUNT_MISMATCH'],
    ['a first line that is not a manifest', [{ serial: 'C-1', class: 'plain' }], 400, 'ERR_MANIFEST_INVALID'],
    ['a manifest without an id', [{ count: 1 }, { serial: 'C-1', class: 'plain' }], 400, 'ERR_MANIFEST_INVALID'],
    ['a manifest that is not JSON', ['manifest', { serial: 'C-1', class: 'plain' }], 400, 'ERR_MANIFEST_INVALID'],
    ["a manifest for another manufacturer's prefix", [{ manifestId: 'm-prefix', count: 1, prefix: '20.5000.2' }, { serial: 'C-1', class: 'plain' }], 400, 'ERR_PRODUCT_PREFIX_MISMATCH'],
    ['an empty body', [''], 400, 'ERR_MANIFEST_INVALID'],
  ] as const)('refuses %s as a whole, writing nothing', async (_name, lines, status, code) => {
    const before = t.service.store.lastSeq;
    const res = await bulk(acme.prefix, lines);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().code).toBe(code);
    expect(t.service.store.lastSeq).toBe(before);
    expect(await t.service.products!.findItem(`${acme.prefix}/C-1`)).toBeUndefined();
  });

  it('keeps a refused manifest id free: the corrected batch goes through', async () => {
    const res = await bulk(acme.prefix, [{ manifestId: 'm-count', count: 2 }, { serial: 'C-1', class: 'plain' }, { serial: 'C-2', class: 'plain' }]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ created: 2, failed: 0 });
  });

  it('takes NDJSON only, and only from the manufacturer or the service admin', async () => {
    const lines = [{ manifestId: 'm-auth', count: 1 }, { serial: 'D-1', class: 'plain' }];
    const asJson = await bulk(acme.prefix, lines, acme.auth, 'application/json');
    expect(asJson.statusCode).toBe(415);
    expect(asJson.json().code).toBe('ERR_MEDIA_TYPE_UNSUPPORTED');
    const asText = await bulk(acme.prefix, lines, acme.auth, 'text/plain');
    expect(asText.statusCode).toBe(415);
    const asGlobex = await bulk(acme.prefix, lines, globex.auth);
    expect(asGlobex.statusCode).toBe(403);
    const asAdmin = await bulk(acme.prefix, lines, adminAuth());
    expect(asAdmin.json()).toMatchObject({ created: 1 });
  });

  it('keeps manifest ids per manufacturer', async () => {
    expect((await send('PUT', `/api/products/${globex.prefix}/classes/plain`, { name: 'Plain', model: 'G', evidence: 'none' }, globex.auth)).statusCode).toBe(201);
    const res = await bulk(globex.prefix, [{ manifestId: 'acme-2026-03-01', count: 1 }, { serial: 'B-1', class: 'plain' }], globex.auth);
    expect(res.json()).toMatchObject({ prefix: globex.prefix, created: 1 });
  });
});
