import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseTarget, parseLocations, prefersHtml } from '../../src/http/routes/proxy.js';
import type { HandleValue } from '../../src/records/value.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

const LOCS = `<?xml version="1.0"?>
<locations>
  <!-- the page for people first -->
  <location href="https://loc.example/page?a=1&amp;b=2" weight="1" view="html" />
  <location href='https://loc.example/data.json' weight="0" view="json" ctype="application/json"/>
</locations>`;

let t: TestService;
const put = (handle: string, values: unknown[]) =>
  t.app.inject({ method: 'PUT', url: `/api/handles/${handle}`, headers: { authorization: adminAuth(), 'content-type': 'application/json' }, payload: JSON.stringify(values) });
const get = (url: string, accept?: string) => t.app.inject({ url, headers: accept ? { accept } : {} });

beforeAll(async () => {
  t = await startTestService();
  const records: [string, unknown[]][] = [
    ['20.5000/p-url', [{ index: 1, type: 'URL', data: 'https://u.example/a' }, { index: 2, type: 'NOTE', data: '<script>alert("x")</script> & more' }]],
    ['20.5000/p-sub', [{ index: 1, type: 'URL.mirror', data: 'https://mirror.example/' }]],
    ['20.5000/p-two', [{ index: 1, type: 'URL.mirror', data: 'https://mirror.example/' }, { index: 2, type: 'URL', data: 'https://main.example/' }]],
    ['20.5000/p-loc', [{ index: 1, type: 'URL', data: 'https://legacy.example/' }, { index: 2, type: '10320/loc', data: LOCS }]],
    ['20.5000/p-sc', [{ index: 1, type: '10320/loc', data: '<locations http_sc="303"><location href="https://see-other.example/"/></locations>' }]],
    ['20.5000/p-tpl', [{ index: 1, type: '10320/loc', data: '<locations><location href_template="https://t.example/r?id={hdl}&amp;p=/x/{hdl:path}"/></locations>' }]],
    ['20.5000/p-badloc', [{ index: 1, type: '10320/loc', data: 'not xml at all' }, { index: 2, type: 'URL', data: 'https://fallback.example/' }]],
    ['20.5000/p-none', [{ index: 1, type: 'EMAIL', data: 'someone@example.org' }]],
    ['20.5000/p-js', [{ index: 1, type: 'URL', data: 'javascript:alert(1)' }]],
    ['20.5000/p-utf8', [{ index: 1, type: 'URL', data: 'https://ü.example/päth' }]],
    ['20.5000/p-private', [{ index: 1, type: 'URL', data: 'https://secret.example/', permissions: '1100' }]],
    ['20.5000/p-gone', [{ index: 1, type: 'URL', data: 'https://gone.example/' }]],
  ];
  for (const [handle, values] of records) expect((await put(handle, values)).statusCode).toBe(201);
  const del = await t.app.inject({ method: 'DELETE', url: '/api/handles/20.5000/p-gone?reason=retired&successor=20.5000/p-url', headers: { authorization: adminAuth() } });
  expect(del.statusCode).toBe(200);
});
afterAll(async () => t.close());

describe('GET /{handle} redirects', () => {
  it.each([
    ['the URL value', '/20.5000/p-url', 302, 'https://u.example/a'],
    ['a URL subtype when there is no plain URL', '/20.5000/p-sub', 302, 'https://mirror.example/'],
    ['the plain URL before a subtype', '/20.5000/p-two', 302, 'https://main.example/'],
    ['the weighted 10320/loc entry (URL values weigh 0 beside it)', '/20.5000/p-loc', 302, 'https://loc.example/page?a=1&b=2'],
    ['the 10320/loc entry locatt names', '/20.5000/p-loc?locatt=view:json', 302, 'https://loc.example/data.json'],
    ['the entries that have the locatt attribute at all', '/20.5000/p-loc?locatt=ctype', 302, 'https://loc.example/data.json'],
    ['all entries when locatt matches none', '/20.5000/p-loc?locatt=view:xml', 302, 'https://loc.example/page?a=1&b=2'],
    ['with http_sc from <locations>', '/20.5000/p-sc', 303, 'https://see-other.example/'],
    ['an expanded href_template', '/20.5000/p-tpl', 302, 'https://t.example/r?id=20.5000%2Fp-tpl&p=/x/20.5000/p-tpl'],
    ['the URL when 10320/loc is unreadable', '/20.5000/p-badloc', 302, 'https://fallback.example/'],
    ['with urlappend appended', '/20.5000/p-url?urlappend=%2Fsub%3Fq%3D1', 302, 'https://u.example/a/sub?q=1'],
    ['with non-ASCII percent-encoded for the header', '/20.5000/p-utf8', 302, 'https://%C3%BC.example/p%C3%A4th'],
    ['case-insensitively', '/20.5000/P-URL', 302, 'https://u.example/a'],
    ['from a percent-encoded path', '/20.5000/p%2Durl', 302, 'https://u.example/a'],
  ])('to %s', async (_what, url, status, location) => {
    const res = await get(url, BROWSER);
    expect([res.statusCode, res.headers.location]).toEqual([status, location]);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<a href="');
  });
});

describe('GET /{handle} shows the record', () => {
  it.each([
    ['?noredirect', '/20.5000/p-url?noredirect'],
    ['nothing to redirect to', '/20.5000/p-none'],
    ['only an unsafe URL', '/20.5000/p-js'],
    ['only an admin-only URL', '/20.5000/p-private'],
  ])('as Handle.Net JSON, the bytes /api/handles serves, with %s', async (_what, url) => {
    const res = await get(url);
    const api = await get(`/api/handles/${url.slice(1).split('?')[0]}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers.vary).toBe('Accept');
    expect(res.body).toBe(api.body);
    expect(res.body).not.toContain('secret.example');
  });

  it('as an escaped HTML page for browsers, its scripts and styles files of this origin only', async () => {
    const res = await get('/20.5000/p-url?noredirect', BROWSER);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.headers.vary).toBe('Accept');
    expect(res.body).toContain('<h1>Handle <code>20.5000/p-url</code></h1>');
    expect(res.body).toContain('<a href="https://u.example/a"');
    expect(res.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    expect(res.body).not.toContain('<script>');
    // The record page's script and style sheet (src/web): same-origin files, nothing inline.
    expect(res.body).not.toMatch(/<img\b|<style\b|<script(?! type="module" src="\/assets\/)|(?:src|href)="(?!\/|#|https:\/\/u\.example)/);
    expect(res.body).toContain('href="/api/handles/20.5000/p-url"');
  });
});

describe('GET /{handle} errors, by Accept', () => {
  it.each([
    ['an unknown handle', '/20.5000/never', 404, 'ERR_HANDLE_NOT_FOUND'],
    ['a tombstoned handle', '/20.5000/p-gone', 410, 'ERR_HANDLE_DELETED'],
    ['a tombstoned handle with noredirect', '/20.5000/p-gone?noredirect', 410, 'ERR_HANDLE_DELETED'],
    ['a control character in urlappend', '/20.5000/p-url?urlappend=%0d%0aX-Evil:%201', 400, 'ERR_QUERY_INVALID'],
  ])('%s: problem+json for API clients, HTML for browsers', async (_what, url, status, code) => {
    const json = await get(url, 'application/json');
    expect([json.statusCode, json.json().code]).toEqual([status, code]);
    expect(json.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json.headers.vary).toBe('Accept');
    expect(json.headers.location).toBeUndefined();
    const html = await get(url, BROWSER);
    expect(html.statusCode).toBe(status);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(`<code>${code}</code>`);
  });

  it('carries the tombstone: reason and successor', async () => {
    const json = await get('/20.5000/p-gone');
    expect(json.json().tombstone).toMatchObject({ reason: 'retired', successor: '20.5000/p-url' });
    const html = await get('/20.5000/p-gone', BROWSER);
    expect(html.body).toContain('Reason: retired.');
    expect(html.body).toContain('<a href="/20.5000/p-url">20.5000/p-url</a>');
  });
});

describe('GET /{handle} shadows no other route', () => {
  it.each([
    ['/api/nope', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/api/handles-typo/x', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/no/such/route', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/21.T11148/not-ours', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/healthz/extra', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/20.5000', 404, 'ERR_ROUTE_NOT_FOUND'],
    ['/20.5000/', 404, 'ERR_ROUTE_NOT_FOUND'],
  ])('%s answers %i %s', async (url, status, code) => {
    const res = await get(url, BROWSER);
    expect([res.statusCode, res.json().code]).toEqual([status, code]);
  });

  it.each(['/healthz', '/readyz', '/docs/', '/openapi.json', '/.well-known/jwks.json', '/api/handles/20.5000/p-url', '/api/history/hdl:20.5000/p-url'])(
    '%s is still its own route',
    async (url) => {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(res.headers.location).toBeUndefined();
    },
  );

  it('proxies the prefix record too (0.NA/<prefix>)', async () => {
    const res = await get('/0.NA/20.5000?noredirect');
    expect([res.statusCode, res.json().handle]).toEqual([200, '0.NA/20.5000']);
  });
});

const v = (index: number, type: string, data: string): HandleValue => ({
  index, type, data: Buffer.from(data), ttlType: 'relative', ttl: 86400, timestamp: 0, permissions: 0b1110, references: [],
});
const loc = (xml: string) => v(10, '10320/loc', xml);

describe('chooseTarget (10320/loc rules)', () => {
  const weighted = loc('<locations><location href="https://a.example/" weight="1"/><location href="https://b.example/" weight="3"/></locations>');
  it.each([
    [0.2, 'https://a.example/'], // 0.8 of 4 falls in a's share
    [0.3, 'https://b.example/'], // 1.2 of 4 falls in b's
    [0.99, 'https://b.example/'],
  ])('picks in proportion to weight (random %f -> %s)', (r, url) => {
    expect(chooseTarget('20.5000/x', [weighted], { random: () => r })?.url).toBe(url);
  });

  it('picks uniformly when every weight is 0, and never a 0 weight otherwise', () => {
    const zero = loc('<locations><location href="https://a.example/" weight="0"/><location href="https://b.example/" weight="0"/></locations>');
    expect(chooseTarget('20.5000/x', [zero], { random: () => 0.7 })?.url).toBe('https://b.example/');
    const mixed = loc('<locations><location href="https://z.example/" weight="0"/><location href="https://one.example/"/></locations>');
    for (const r of [0, 0.5, 0.999]) expect(chooseTarget('20.5000/x', [mixed], { random: () => r })?.url).toBe('https://one.example/');
  });

  it('follows chooseby: score, then weighted', () => {
    const scored = loc('<locations chooseby="score,weighted"><location href="https://low.example/" score="1"/><location href="https://high.example/" score="5"/></locations>');
    expect(chooseTarget('20.5000/x', [scored], { random: () => 0 })?.url).toBe('https://high.example/');
  });

  it('applies each locatt in turn, and weighs URL values by urlWeight or drops them with no_legacy', () => {
    const xml = loc('<locations urlWeight="5"><location href="https://a.example/" view="json" lang="en"/><location href="https://b.example/" view="json" lang="de"/></locations>');
    const url = v(1, 'URL', 'https://legacy.example/');
    expect(chooseTarget('20.5000/x', [url, xml], { locatt: ['view:json', 'lang:de'] })?.url).toBe('https://b.example/');
    expect(chooseTarget('20.5000/x', [url, xml], { random: () => 0.9 })?.url).toBe('https://legacy.example/');
    const noLegacy = loc('<locations no_legacy="true"><location href="https://only.example/"/></locations>');
    expect(chooseTarget('20.5000/x', [url, noLegacy], { random: () => 0.99 })?.url).toBe('https://only.example/');
  });

  it('reads entities and both quote styles, and refuses documents that are not <locations>', () => {
    expect(parseLocations(`<locations a='1'><location href="x?a=1&amp;b=&#x32;&#51;"/></locations>`)).toEqual({
      attributes: { a: '1' },
      entries: [{ href: 'x?a=1&b=23' }],
    });
    expect(parseLocations('<other><location href="https://a.example/"/></other>')).toBeUndefined();
    expect(parseLocations('text <locations/>')).toBeUndefined();
  });
});

describe('prefersHtml', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['application/json', false],
    ['text/html', true],
    [BROWSER, true],
    ['text/*', true],
    ['text/html;q=0.5, application/json', false],
    ['application/json;q=0.1, text/html', true],
  ])('%s -> %s', (accept, html) => {
    expect(prefersHtml(accept)).toBe(html);
  });
});
