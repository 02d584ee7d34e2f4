import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_STEP_TIMEOUT, hasChromium, launchChromium, newIsolatedContext } from '../helpers/browser.js';
import { adminAuth, startTestService, type TestService } from '../helpers/service.js';

/**
 * A real client: `@kit-data-manager/pid-component` (the npm web component, as installed) renders
 * a handle in headless Chromium. It resolves handles with `fetch('https://hdl.handle.net/api/handles/
 * {prefix}/{suffix}')` (dist/collection/rendererModules/Handle/PID.js); that URL is routed to
 * Cairn's real HTTP listener on loopback, and every other request that would leave 127.0.0.1 is
 * aborted. The component lists a record's values whose type is itself a handle (a data type, as
 * in the ePIC DTR): it resolves the type handle through the same API, follows the type's
 * `10320/loc` location with `view="json"` for the type's name, and shows one row per value with
 * that name and the value's `data.value`. Values with plain types (URL, HS_ADMIN, ...) are not
 * rows in its table. The test compares the rows with Cairn's anonymous record.
 */
const CHROMIUM = hasChromium();

const HANDLE = '20.5000/demo';
const UNKNOWN = '20.5000/no-such-handle';
const HDL_API = 'https://hdl.handle.net/api/handles/';
const SCREENSHOTS = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));
const COMPONENT_DIST = fileURLToPath(new URL('../../node_modules/@kit-data-manager/pid-component/dist/pid-component/', import.meta.url));

/** Data types as handles; their JSON descriptions are served by the test's static server. */
const TYPES = [
  { handle: '20.5000/type-landing-page', name: 'landingPage', description: 'Web page describing the object' },
  { handle: '20.5000/type-contact', name: 'contact', description: 'E-mail address of the responsible team' },
  { handle: '20.5000/type-sensor-model', name: 'sensorModel', description: 'Manufacturer model of the sensor' },
  { handle: '20.5000/type-internal-note', name: 'internalNote', description: 'Administrators only' },
] as const;

const LANDING = 'https://example.org/datasets/demo';
const CONTACT = 'ops@example.org';
const SENSOR = 'Acme T-1000 thermometer';
const PLAIN_URL = 'https://example.org/plain-url-value';
const SECRET = 'admin-only note: rotate the station key';

const RECORD = [
  { index: 1, type: 'URL', data: PLAIN_URL },
  { index: 2, type: '20.5000/type-landing-page', data: LANDING },
  { index: 3, type: '20.5000/type-contact', data: CONTACT },
  { index: 4, type: '20.5000/type-sensor-model', data: SENSOR },
  // Admin read and write only: anonymous resolution never returns it.
  { index: 5, type: '20.5000/type-internal-note', data: SECRET, permissions: '1100' },
];

interface HandleValue {
  index: number;
  type: string;
  data: { format: string; value: unknown };
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Files under `root` only; anything else is a 404. */
function serveFile(root: string, relative: string): { status: number; type: string; body: Buffer } {
  const path = resolve(root, `.${sep}${decodeURIComponent(relative)}`);
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) return { status: 404, type: 'text/plain', body: Buffer.from('not found') };
  try {
    return { status: 200, type: MIME[extname(path)] ?? 'application/octet-stream', body: readFileSync(path) };
  } catch {
    return { status: 404, type: 'text/plain', body: Buffer.from('not found') };
  }
}

describe.runIf(CHROMIUM)('@kit-data-manager/pid-component in headless Chromium, resolving through Cairn', () => {
  let t: TestService;
  let cairn: string;
  let site: string;
  let siteDir: string;
  let server: Server;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    t = await startTestService();
    cairn = await t.app.listen({ host: '127.0.0.1', port: 0 });

    siteDir = mkdtempSync(join(tmpdir(), 'cairn-pid-component-'));
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const file = path.startsWith('/pid-component/')
        ? serveFile(COMPONENT_DIST, path.slice('/pid-component/'.length))
        : serveFile(siteDir, path.slice(1));
      res.writeHead(file.status, { 'content-type': file.type, 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
      res.end(file.body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // The static site: one page per case and the data type descriptions.
    for (const value of [HANDLE, UNKNOWN]) {
      writeFileSync(
        join(siteDir, `${value.replace(/\W/g, '_')}.html`),
        [
          '<!doctype html>',
          '<html lang="en"><head><meta charset="utf-8"><title>pid-component on Cairn</title>',
          '<script type="module" src="/pid-component/pid-component.esm.js"></script></head>',
          `<body style="padding:16px"><pid-component value="${value}" width="1000px" height="420px"></pid-component></body></html>`,
        ].join('\n'),
      );
    }
    mkdirSync(join(siteDir, 'types'));
    for (const type of TYPES) {
      writeFileSync(join(siteDir, 'types', `${type.name}.json`), JSON.stringify({ name: type.name, description: type.description }));
    }

    const put = async (handle: string, values: unknown[]): Promise<void> => {
      const res = await fetch(`${cairn}/api/handles/${handle}`, {
        method: 'PUT',
        headers: { authorization: adminAuth(), 'content-type': 'application/json' },
        body: JSON.stringify(values),
        signal: AbortSignal.timeout(BROWSER_STEP_TIMEOUT),
      });
      expect(res.status, `PUT ${handle}: ${await res.text()}`).toBe(201);
    };
    // Each type handle points at its JSON description, as ePIC DTR types do (10320/loc, view="json").
    for (const type of TYPES) {
      const loc = `<locations><location href="${site.replace('http:', 'https:')}/types/${type.name}.json" view="json" weight="0"/></locations>`;
      await put(type.handle, [{ index: 1, type: '10320/loc', data: loc }]);
    }
    await put(HANDLE, RECORD);

    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    await t?.close();
    if (siteDir) rmSync(siteDir, { recursive: true, force: true });
  }, 30_000);

  interface Exchange {
    url: string;
    status: number;
    body: string;
  }

  /** A fresh context whose only ways out are the static site and Cairn (through the hdl.handle.net route). */
  async function openPage(): Promise<{ page: Page; exchanges: Exchange[]; blocked: string[]; errors: string[] }> {
    const context = await newIsolatedContext(browser!);
    contexts.push(context);
    const exchanges: Exchange[] = [];
    const blocked: string[] = [];
    const errors: string[] = [];
    const sitePort = new URL(site).port;

    // Routes registered later are consulted first: this one catches what the others leave.
    await context.route('**/*', async (route: Route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'http:' && url.hostname === '127.0.0.1') return route.continue();
      blocked.push(url.href);
      return route.abort('blockedbyclient');
    });
    // The component fetches data type descriptions over https (it rewrites http:// to https://);
    // the site's https origin is answered from the plain-http static server.
    await context.route(`https://127.0.0.1:${sitePort}/types/**`, async (route: Route) => {
      const res = await fetch(`${site}${new URL(route.request().url()).pathname}`, { signal: AbortSignal.timeout(BROWSER_STEP_TIMEOUT) });
      await route.fulfill({ status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) });
    });
    // hdl.handle.net's REST API is Cairn: the request goes to Cairn's real port, and status,
    // headers and body come back unchanged (minus transfer framing, which fetch has undone).
    await context.route(`${HDL_API}**`, async (route: Route) => {
      const request = route.request();
      const url = new URL(request.url());
      const forwarded: Record<string, string> = { 'accept-encoding': 'identity' };
      for (const [name, value] of Object.entries(await request.allHeaders())) {
        if (['accept', 'origin', 'if-none-match', 'authorization'].includes(name)) forwarded[name] = value;
      }
      let res: Response;
      let body: Buffer;
      try {
        res = await fetch(`${cairn}${url.pathname}${url.search}`, {
          method: request.method(),
          headers: forwarded,
          signal: AbortSignal.timeout(BROWSER_STEP_TIMEOUT),
        });
        body = Buffer.from(await res.arrayBuffer());
      } catch (error) {
        exchanges.push({ url: url.href, status: 0, body: String(error) });
        return route.abort('failed');
      }
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) headers[name] = value;
      });
      exchanges.push({ url: url.href, status: res.status, body: body.toString('utf8') });
      await route.fulfill({ status: res.status, headers, body });
    });

    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, exchanges, blocked, errors };
  }

  const screenshot = async (page: Page, name: string): Promise<void> => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true, timeout: BROWSER_STEP_TIMEOUT });
  };

  it('shows the values of Cairn\'s record, and not the admin-only one', async () => {
    // What Cairn answers anyone: the reference for what the component may display.
    const record = (await (await fetch(`${cairn}/api/handles/${HANDLE}`, { signal: AbortSignal.timeout(BROWSER_STEP_TIMEOUT) })).json()) as { handle: string; values: HandleValue[] };
    expect(record.handle).toBe(HANDLE);
    expect(JSON.stringify(record)).not.toContain(SECRET);
    const nameOf = new Map<string, string>(TYPES.map((type) => [type.handle, type.name]));
    const expected = record.values
      .filter((value) => nameOf.has(value.type))
      .map((value) => ({ key: nameOf.get(value.type)!, value: String(value.data.value) }));
    expect(expected).toEqual([
      { key: 'landingPage', value: LANDING },
      { key: 'contact', value: CONTACT },
      { key: 'sensorModel', value: SENSOR },
    ]);

    const { page, exchanges, blocked, errors } = await openPage();
    await page.goto(`${site}/${HANDLE.replace(/\W/g, '_')}.html`);
    const component = page.locator('pid-component').first();
    // CSS locators pierce the component's open shadow root.
    const rows = component.locator('pid-data-table tbody tr');
    await expect.poll(() => rows.count(), { timeout: BROWSER_STEP_TIMEOUT }).toBe(expected.length);

    const shown: { key: string; value: string }[] = [];
    for (let i = 0; i < expected.length; i++) {
      const cells = rows.nth(i).locator('td');
      shown.push({
        key: ((await cells.nth(0).locator('a').textContent()) ?? '').trim(),
        value: ((await cells.nth(1).locator('span').first().textContent()) ?? '').trim(),
      });
    }
    // The component sorts rows by name; the record's order is by index.
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    expect([...shown].sort(byKey)).toEqual([...expected].sort(byKey));

    // The preview is the handle itself; the admin-only value appears nowhere on the page.
    await expect.poll(() => component.locator('[slot="summary"]').textContent(), { timeout: BROWSER_STEP_TIMEOUT }).toBe(HANDLE);
    expect(await page.getByText(SECRET).count()).toBe(0);
    expect(await page.getByText('internalNote').count()).toBe(0);

    // Open it, as a reader would: each value is now rendered by a nested pid-component (e-mail as
    // a mailto link, URL as a link, the sensor model as text) in the row named by its type.
    await component.locator('summary').first().click();
    for (const { key, value } of expected) {
      const row = rows.filter({ has: page.locator(`a:text-is("${key}")`) });
      await row.getByText(value, { exact: true }).first().waitFor({ state: 'visible' });
    }
    await screenshot(page, 'pid-component-demo.png');
    expect(await page.getByText(SECRET).count()).toBe(0);

    // Every resolution went to Cairn and came back from it; nothing left loopback.
    const resolved = exchanges.map((e) => `${e.status} ${e.url.slice(HDL_API.length)}`);
    expect(resolved).toContain(`200 ${HANDLE}`);
    for (const type of TYPES.slice(0, 3)) expect(resolved).toContain(`200 ${type.handle}`);
    expect(resolved.some((line) => line.endsWith('type-internal-note'))).toBe(false);
    for (const exchange of exchanges) expect(exchange.body).not.toContain(SECRET);
    expect(errors).toEqual([]);
    console.info(`pid-component: ${exchanges.length} resolutions through Cairn; blocked: ${blocked.length ? blocked.join(', ') : 'none'}`);
  }, 60_000);

  it('shows its failure state for a handle Cairn does not have', async () => {
    const { page, exchanges } = await openPage();
    await page.goto(`${site}/${UNKNOWN.replace(/\W/g, '_')}.html`);
    const alert = page.locator('pid-component').first().locator('[role="alert"]');
    await alert.waitFor({ state: 'visible' });
    expect((await alert.textContent())?.replace(/\s+/g, ' ').trim()).toBe(`Error loading data for: ${UNKNOWN}`);
    expect(await page.locator('pid-component pid-data-table').count()).toBe(0);
    await screenshot(page, 'pid-component-unknown.png');

    const answers = exchanges.filter((e) => e.url.startsWith(`${HDL_API}${UNKNOWN}`));
    expect(answers.length).toBeGreaterThan(0);
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body)).toMatchObject({ responseCode: 100, handle: UNKNOWN });
    }
  }, 45_000);
});
