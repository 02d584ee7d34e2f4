import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { GTIN, HANDLE, OID, overInject, seed, SIGN, type Seeded } from './fixtures.js';

/**
 * The pages over `app.inject()`: content negotiation, the headers every page carries (a strict
 * CSP, nosniff), the static assets, and the GS1 Digital Link route. What the pages do in a browser
 * is pages.test.ts.
 */
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

let t: TestService;
let data: Seeded;

beforeAll(async () => {
  t = await startTestService({ overloadMaxEventLoopDelayMs: 0 });
  data = await seed(overInject(t.app));
});
afterAll(async () => t.close());

const get = (url: string, accept?: string, headers: Record<string, string> = {}) =>
  t.app.inject({ url, headers: { ...(accept ? { accept } : {}), ...headers } });

/** The page checks every HTML answer must pass. */
function expectPage(res: Awaited<ReturnType<typeof get>>, status = 200): void {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  const csp = String(res.headers['content-security-policy']);
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.body).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
  expect(res.body).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  // No inline code or style: scripts only as files of this origin, no style attributes or elements.
  expect(res.body).not.toMatch(/<script(?![^>]*\ssrc="\/assets\/)[^>]*>/);
  expect(res.body).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
  expect(res.body).not.toMatch(/(?:src|href)="(?:https?:)?\/\/(?!example\.org)/);
}

describe('pages and their headers', () => {
  it.each([
    ['the verifier', '/'],
    ['a handle record', `/${HANDLE}?noredirect`],
    ['an OID record', `/oid/${OID}`],
    ['a road sign record', `/its/${encodeURIComponent(SIGN)}`],
    ['a GS1 Digital Link', `/01/${GTIN}/21/LB-1`],
  ])('%s: HTML with a strict CSP and nosniff', async (_what, url) => {
    expectPage(await get(url, BROWSER));
  });

  it('the verifier page labels its field and hides the scan button until the script finds a camera', async () => {
    const res = await get('/', BROWSER);
    expect(res.body).toContain('<label for="identifier">Identifier</label>');
    expect(res.body).toContain('id="identifier" name="id"');
    expect(res.body).toMatch(/<button type="button" id="scan" class="secondary" hidden>/);
  });

  it('?id= prefills the field, escaped, and asks the script to run the check', async () => {
    const res = await get(`/?id=${encodeURIComponent('"><script>alert(1)</script>')}`, BROWSER);
    expectPage(res);
    expect(res.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(res.body).toContain('data-autorun="true"');
  });

  it('every asset a page links is served with its type, nosniff and an ETag; a repeat is a 304', async () => {
    const pages = await Promise.all(['/', `/oid/${OID}`].map((u) => get(u, BROWSER)));
    const links = new Set(pages.flatMap((p) => [...p.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)));
    expect([...links].map((l) => l.split('?')[0]).sort()).toEqual(['/assets/record.js', '/assets/style.css', '/assets/verifier.js']);
    for (const link of links) {
      const res = await get(link);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(link.includes('.css') ? /^text\/css/ : /^text\/javascript/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cache-control']).toContain('immutable');
      const again = await get(link, undefined, { 'if-none-match': String(res.headers.etag) });
      expect(again.statusCode).toBe(304);
    }
    // common.js is imported by the other modules, not linked.
    expect((await get('/assets/common.js')).statusCode).toBe(200);
  });

  it.each(['/assets/nope.js', '/assets/..%2Fpackage.json', '/assets/%2E%2E%2F%2E%2E%2Fpackage.json'])('%s: no such asset', async (url) => {
    const res = await get(url);
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ERR_ROUTE_NOT_FOUND');
  });
});

describe('content negotiation', () => {
  it('/{handle}?noredirect: JSON (the /api/handles bytes) for API clients, the record page for browsers', async () => {
    const api = await get(`/api/handles/${HANDLE}`);
    for (const accept of [undefined, 'application/json', '*/*']) {
      const res = await get(`/${HANDLE}?noredirect`, accept);
      expect([res.statusCode, res.headers['content-type'], res.body]).toEqual([200, 'application/json; charset=utf-8', api.body]);
      expect(res.headers.vary).toBe('Accept');
    }
    const page = await get(`/${HANDLE}?noredirect`, BROWSER);
    expectPage(page);
    expect(page.headers.vary).toBe('Accept');
    expect(page.body).toContain('A demonstration record, second version');
    expect(page.body).toContain(`data-kind="handle" data-id="${HANDLE}" data-api="/api/handles/${HANDLE}" data-history="/api/history/hdl:${HANDLE}"`);
  });

  it('an OID page names its APIs and its ORS name; unknown and malformed OIDs are error pages', async () => {
    const page = await get(`/oid/${OID}`, BROWSER);
    expect(page.body).toContain(`data-api="/api/oids/${OID}" data-history="/api/history/urn:oid:${OID}" data-subject="urn:oid:${OID}"`);
    expect(page.body).toContain('data-ors-name="999.2.oid-res.org."');
    const unknown = await get('/oid/2.998', BROWSER);
    expectPage(unknown, 404);
    expect(unknown.body).toContain('<code>ERR_OID_NOT_FOUND</code>');
    expectPage(await get('/oid/2.x', BROWSER), 400);
  });

  it('the history and record URLs an OID or ITS page uses answer', async () => {
    expect((await get(`/api/history/urn:oid:${OID}`)).statusCode).toBe(200);
    const its = await get(`/its/${encodeURIComponent(SIGN)}`, BROWSER);
    const api = /data-api="([^"]+)"/.exec(its.body)![1]!;
    expect((await get(api.replaceAll('&amp;', '&'))).statusCode).toBe(200);
    expectPage(await get('/its/its:sign:DE.417:ZZZZ~0', BROWSER), 400);
  });
});

describe('GET /01/{gtin}/21/{serial}', () => {
  it('JSON for API clients: the item, its evidence and how to verify it', async () => {
    const res = await get(data.gs1, 'application/json');
    expect(res.statusCode).toBe(200);
    expect(res.headers.vary).toContain('Accept');
    expect(res.json()).toMatchObject({ id: data.items.label, link: data.gs1, item: { manufacturer: 'Acme Devices', status: 'active' }, evidence: 'none' });
    // The same item the product lookup finds.
    const lookup = await get(`/api/products/lookup/${data.gs1}`);
    expect(lookup.json()).toMatchObject({ handle: data.items.label, via: 'gs1' });
  });

  it('browsers get the verifier page, prefilled, with what the registry says', async () => {
    const res = await get(data.gs1, BROWSER);
    expectPage(res);
    expect(res.body).toContain(`value="${data.gs1}"`);
    expect(res.body).toContain('data-autorun="true"');
    expect(res.body).toContain('<dt>Manufacturer</dt><dd>Acme Devices</dd>');
  });

  it('an unknown item: a 404 problem, or the verifier page with a 404 status', async () => {
    const url = `/01/${GTIN}/21/NOPE`;
    expect((await get(url)).json().code).toBe('ERR_VERIFY_ITEM_NOT_FOUND');
    expectPage(await get(url, BROWSER), 404);
  });

  it('the /{handle} wildcard does not take GS1 paths: /01/… reaches the GS1 route, other /01 paths no handle', async () => {
    expect((await get(data.gs1)).json().evidence).toBe('none');
    const other = await get('/01/12345');
    expect([other.statusCode, other.json().code]).toEqual([404, 'ERR_ROUTE_NOT_FOUND']);
  });
});
