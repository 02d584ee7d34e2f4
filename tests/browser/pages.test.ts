import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SigningAlg } from '../../src/signing/algorithms.js';
import { hasChromium, launchChromium, newIsolatedContext } from '../helpers/browser.js';
import { startRealServer } from '../helpers/service.js';
import { GTIN, HANDLE, NEARBY_SIGN, OID, OID_CHILD, seed, SIGN, type Seeded } from './fixtures.js';

/**
 * Cairn's web pages in headless Chromium (Debian's `chromium` through playwright-core) against a
 * real server on loopback: the verifier flow with the verdict token checked by WebCrypto in the
 * page, a tampered token, record pages with their in-browser signature check, history and map,
 * keyboard-only use and a 360 px phone screen. Every page is also saved as a screenshot, wide and
 * narrow, under tests/artifacts/screenshots/ (gitignored). Any console error (a CSP violation
 * among them) fails the test that caused it.
 */
const CHROMIUM = hasChromium();
const SCREENSHOTS = fileURLToPath(new URL('../artifacts/screenshots/', import.meta.url));
/** The browser and the server share this process: a slow machine must not make the server shed requests. */
const NO_SHEDDING = { overloadMaxEventLoopDelayMs: 0 } as const;
const WIDE = { width: 1100, height: 800 };
const NARROW = { width: 360, height: 740 };

/** Runs in the page: an element's computed background colour (tests have no DOM types). */
const backgroundOf = (e: unknown): string =>
  (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor;

interface Opened {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly errors: string[];
}

describe.runIf(CHROMIUM)('web pages in headless Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let data: Seeded;
  let kid: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // Shared with other browser tests (pid-component): files are overwritten, never the folder removed.
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startRealServer(NO_SHEDDING);
    data = await seed(server.url);
    kid = ((await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0]!.kid;
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.server.stop();
    rmSync(server?.dir ?? '/nonexistent', { recursive: true, force: true });
  });

  /** A fresh context and page; every request off loopback is aborted (the pages must work offline). */
  async function open(path: string, viewport = WIDE): Promise<Opened> {
    const context = await newIsolatedContext(browser);
    contexts.push(context);
    await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    if (path) await page.goto(server.url + path);
    return { page, context, errors };
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  }

  async function verifyIdentifier(page: Page, id: string): Promise<void> {
    await page.getByLabel('Identifier').fill(id);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.locator('#result [data-verdict]').waitFor();
  }

  describe('the verifier page', () => {
    it('a no-evidence item: the registry vouches for the record only, and the verdict signature checks in the browser', async () => {
      const { page, errors } = await open('/');
      // The scan button only where the browser could scan (not headless Chromium on Linux).
      const canScan = await page.evaluate<boolean>("'BarcodeDetector' in window && typeof navigator.mediaDevices?.getUserMedia === 'function'");
      expect(await page.getByRole('button', { name: 'Scan a code' }).isVisible()).toBe(canScan);
      await verifyIdentifier(page, data.items.label);
      const verdict = page.locator('#result [data-verdict]');
      expect(await verdict.getAttribute('data-verdict')).toBe('registered-unproven');
      expect(await verdict.textContent()).toContain('Registered, not proven');
      expect(await verdict.textContent()).toContain('This kind of product carries no chip or secure tag');
      const sig = page.locator('[data-signature]');
      expect(await sig.getAttribute('data-signature')).toBe('valid');
      expect(await sig.textContent()).toContain(`Signature checked in your browser against key ${kid}`);
      expect(await verdict.evaluate(backgroundOf)).toBe('rgb(255, 245, 217)');
      await shot(page, 'verifier-unproven-wide');
      expect(errors).toEqual([]);
    });

    it('a stolen item is blocked, a recalled one says so, both in red or amber words', async () => {
      const { page, errors } = await open('/');
      await verifyIdentifier(page, data.items.stolen);
      const verdict = page.locator('#result [data-verdict]');
      expect(await verdict.getAttribute('data-verdict')).toBe('blocked');
      expect(await verdict.textContent()).toContain('reported stolen');
      expect(await verdict.evaluate(backgroundOf)).toBe('rgb(253, 236, 236)');
      expect(await page.locator('[data-signature]').getAttribute('data-signature')).toBe('valid');
      await shot(page, 'verifier-stolen-wide');
      await verifyIdentifier(page, data.items.recalled);
      await page.locator('#result', { hasText: 'recalled' }).waitFor();
      expect(await page.locator('#result').textContent()).toContain('The manufacturer has recalled this item.');
      expect(errors).toEqual([]);
    });

    it('a tampered verdict token is rejected, not shown as a verdict', async () => {
      const { page, context } = await open('/');
      await context.route('**/api/verify', async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { token: string };
        const [h, p, s] = body.token.split('.') as [string, string, string];
        // Flip one byte of the signature: still base64url, no longer the service's signature.
        const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
        await route.fulfill({ response, json: { ...body, token: `${h}.${p}.${flipped}` } });
      });
      await verifyIdentifier(page, data.items.label);
      const verdict = page.locator('#result [data-verdict]');
      expect(await verdict.getAttribute('data-verdict')).toBe('rejected');
      expect(await verdict.textContent()).toContain('Answer rejected');
      expect(await verdict.textContent()).not.toContain('Registered, not proven');
      expect(await page.locator('[data-signature]').getAttribute('data-signature')).toBe('invalid');
      await shot(page, 'verifier-tampered-wide');
    });

    it('a token whose payload was changed (genuine instead of blocked) is rejected too', async () => {
      const { page, context } = await open('/');
      await context.route('**/api/verify', async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { token: string; verdict: string };
        const [h, p, s] = body.token.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
        const forged = Buffer.from(JSON.stringify({ ...claims, verdict: 'genuine' })).toString('base64url');
        await route.fulfill({ response, json: { ...body, verdict: 'genuine', token: `${h}.${forged}.${s}` } });
      });
      await verifyIdentifier(page, data.items.stolen);
      expect(await page.locator('#result [data-verdict]').getAttribute('data-verdict')).toBe('rejected');
    });

    it('a device-signature class: says what a device-based check needs', async () => {
      const { page, errors } = await open('/');
      await verifyIdentifier(page, data.items.device);
      const verdict = page.locator('#result [data-verdict]');
      expect(await verdict.getAttribute('data-verdict')).toBe('device-needed');
      expect(await verdict.textContent()).toContain('chip with its own secret key');
      expect(await verdict.textContent()).toContain('Acme Devices');
      await shot(page, 'verifier-device-wide');
      expect(errors).toEqual([]);
    });

    it('an unknown code says unknown; OIDs, road signs and plain handles link to their records', async () => {
      const { page } = await open('/');
      for (const unknown of [`${data.prefix}/NO-SUCH-ITEM`, `/01/${GTIN}/21/NOPE`, 'imei:490154203237518']) {
        await verifyIdentifier(page, unknown);
        await page.locator('#result [data-verdict="unknown"]').waitFor();
        expect(await page.locator('#result').textContent()).toContain('The code is not in the registry.');
        expect(await page.locator('#result [data-signature]').getAttribute('data-signature')).toBe('valid');
      }
      for (const [id, href] of [
        [OID, `/oid/${OID}`],
        [`urn:oid:${OID_CHILD}`, `/oid/${OID_CHILD}`],
        [SIGN, `/its/${encodeURIComponent(SIGN)}`],
        [HANDLE, `/${HANDLE}?noredirect`],
      ] as const) {
        await page.getByLabel('Identifier').fill(id);
        await page.getByLabel('Identifier').press('Enter');
        await page.locator(`#result a[href="${href}"]`).waitFor();
      }
    });

    it('GS1 Digital Link: /01/{gtin}/21/{serial} opens the verifier prefilled and runs the check', async () => {
      const { page, errors } = await open(data.gs1);
      expect(await page.getByLabel('Identifier').inputValue()).toBe(data.gs1);
      await page.locator('#result [data-verdict]').waitFor();
      expect(await page.locator('#result [data-verdict]').getAttribute('data-verdict')).toBe('registered-unproven');
      expect(await page.locator('main').textContent()).toContain('Acme Devices');
      await shot(page, 'gs1-wide');
      expect(errors).toEqual([]);
    });

    it('with BarcodeDetector and a camera, a scan button reads the code and runs the check', async () => {
      const { page, context, errors } = await open('');
      // Headless Chromium on Linux has neither: a stand-in detector that sees the item's code, and a
      // camera that is a canvas stream.
      await context.addInitScript(`
        window.BarcodeDetector = class { async detect() { return [{ rawValue: ${JSON.stringify(data.items.stolen)} }]; } };
        navigator.mediaDevices.getUserMedia = async () => {
          const canvas = document.createElement('canvas');
          canvas.width = 64; canvas.height = 64;
          canvas.getContext('2d').fillRect(0, 0, 64, 64);
          return canvas.captureStream();
        };`);
      await page.goto(`${server.url}/`);
      const scan = page.getByRole('button', { name: 'Scan a code' });
      expect(await scan.isVisible()).toBe(true);
      await scan.focus();
      await page.keyboard.press('Enter');
      await page.locator('#result [data-verdict]').waitFor();
      expect(await page.getByLabel('Identifier').inputValue()).toBe(data.items.stolen);
      expect(await page.locator('#result [data-verdict]').getAttribute('data-verdict')).toBe('blocked');
      expect(await page.locator('#camera').isHidden()).toBe(true);
      expect(errors).toEqual([]);
    });

    it('works with the keyboard alone: tab to the field, type, tab to Check, press Enter', async () => {
      const { page } = await open('/');
      let steps = 0;
      while ((await page.evaluate<string | undefined>('document.activeElement?.id')) !== 'identifier') {
        await page.keyboard.press('Tab');
        if (++steps > 10) throw new Error('the identifier field is not reachable with Tab');
      }
      await page.keyboard.type(data.items.stolen);
      await page.keyboard.press('Tab');
      expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('check');
      // The focused control shows it (a visible outline, not colour alone).
      expect(await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle')).not.toBe('none');
      await page.keyboard.press('Enter');
      await page.locator('#result [data-verdict]').waitFor();
      expect(await page.locator('#result [data-verdict]').getAttribute('data-verdict')).toBe('blocked');
    });
  });

  describe('record pages', () => {
    it('a handle: values, signature valid, both versions in its history', async () => {
      const { page, errors } = await open(`/${HANDLE}?noredirect`);
      expect(await page.locator('#values').textContent()).toContain('A demonstration record, second version');
      await page.locator('#signature[data-signature]').waitFor();
      expect(await page.locator('#signature').getAttribute('data-signature')).toBe('valid');
      expect(await page.locator('#signature').textContent()).toContain(`Signature checked in your browser against key ${kid}`);
      await page.locator('[data-history="list"]').waitFor();
      expect(await page.locator('[data-history="list"] > li').count()).toBe(2);
      expect(await page.locator('[data-history="list"]').textContent()).toContain('changed 2 DESCRIPTION');
      await shot(page, 'handle-wide');
      expect(errors).toEqual([]);
    });

    it('a handle whose values were altered on the way is shown as failing its signature', async () => {
      const { page, context } = await open('');
      await context.route(`**/api/handles/${HANDLE}`, async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { values: { index: number; data: { value: string } }[] };
        body.values.find((v) => v.index === 2)!.data.value = 'Something else entirely';
        await route.fulfill({ response, json: body });
      });
      await page.goto(`${server.url}/${HANDLE}?noredirect`);
      await page.locator('#signature[data-signature]').waitFor();
      expect(await page.locator('#signature').getAttribute('data-signature')).toBe('invalid');
      expect(await page.locator('#signature').textContent()).toContain('value 2 (DESCRIPTION) was changed after signing');
    });

    it('an OID: values, signature, history, children and ORS name', async () => {
      const { page, errors } = await open(`/oid/${OID}`);
      await page.locator('#signature[data-signature]').waitFor();
      expect(await page.locator('#signature').getAttribute('data-signature')).toBe('valid');
      expect(await page.locator('#details').textContent()).toContain('Example arc');
      expect(await page.locator('#children a').allTextContents()).toEqual([OID_CHILD]);
      expect(await page.locator('#ors').textContent()).toContain('999.2.oid-res.org.');
      await page.locator('#history [data-history]').waitFor();
      expect(await page.locator('[data-history="list"] > li').count()).toBe(1);
      await shot(page, 'oid-wide');
      expect(errors).toEqual([]);
    });

    it('a road sign: values, signature, history and an SVG map with the sign, its facing and its neighbour', async () => {
      const { page, errors } = await open(`/its/${encodeURIComponent(SIGN)}`);
      await page.locator('#signature[data-signature]').waitFor();
      expect(await page.locator('#signature').getAttribute('data-signature')).toBe('valid');
      const map = page.locator('svg[data-map="its"]');
      expect(await map.locator(`circle.map-sign[data-sign="${SIGN}"]`).count()).toBe(1);
      expect(await map.locator('line.map-facing').getAttribute('data-facing')).toBe('180');
      expect(await map.locator(`a[data-sign="${NEARBY_SIGN}"]`).count()).toBe(1);
      expect(await page.locator('#details').textContent()).toContain('60 km/h');
      await page.locator('#history [data-history]').waitFor();
      expect(await page.locator('#history').textContent()).toMatch(/1 version|does not keep/);
      await shot(page, 'its-wide');
      expect(errors).toEqual([]);
    });
  });

  describe('on a 360 px wide phone screen', () => {
    it.each([
      ['verifier', '/'],
      ['gs1', ''],
      ['handle', `/${HANDLE}?noredirect`],
      ['oid', `/oid/${OID}`],
      ['its', `/its/${encodeURIComponent(SIGN)}`],
    ])('%s: nothing wider than the screen', async (name, path) => {
      const { page, errors } = await open(path || data.gs1, NARROW);
      if (name === 'verifier') await verifyIdentifier(page, data.items.label);
      else if (name === 'gs1') await page.locator('#result [data-verdict]').waitFor();
      else await page.locator('#signature[data-signature]').waitFor();
      // Wide tables scroll inside their own box (.scroll); nothing else may stick out.
      const sticking = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > ${NARROW.width + 0.5} && !e.closest('.scroll'))
        .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right))`);
      expect(sticking).toEqual([]);
      // Text too long for its box overflows without widening the box: compare scroll widths too.
      const overflowing = await page.evaluate<string[]>(`[...document.querySelectorAll('*')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')
        .map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + e.scrollWidth + '/' + e.clientWidth)`);
      expect(overflowing).toEqual([]);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(NARROW.width);
      await shot(page, `${name}-narrow`);
      expect(errors).toEqual([]);
    });
  });
});

describe.runIf(CHROMIUM).each(['ES256', 'RS256'] as SigningAlg[])('signatures by a %s service key, checked in the browser', (alg) => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let data: Seeded;

  beforeAll(async () => {
    server = await startRealServer({ ...NO_SHEDDING, signingAlg: alg });
    data = await seed(server.url);
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.server.stop();
    rmSync(server?.dir ?? '/nonexistent', { recursive: true, force: true });
  });

  it('the verdict token and a record signature verify', async () => {
    const context = await newIsolatedContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await page.getByLabel('Identifier').fill(data.items.label);
      await page.getByLabel('Identifier').press('Enter');
      const sig = page.locator('#result [data-signature]');
      await sig.waitFor();
      expect(await sig.getAttribute('data-signature')).toBe('valid');
      expect(await sig.textContent()).toContain(`(${alg})`);
      await page.goto(`${server.url}/${HANDLE}?noredirect`);
      await page.locator('#signature[data-signature]').waitFor();
      expect(await page.locator('#signature').getAttribute('data-signature')).toBe('valid');
      expect(await page.locator('#signature').textContent()).toContain(`(${alg})`);
    } finally {
      await context.close();
    }
  });
});
