import { rmSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, newIsolatedContext } from '../helpers/browser.js';
import { startRealServer } from '../helpers/service.js';
import { seed, type Seeded } from './fixtures.js';

/**
 * The verifier page checks the registration proof a verdict carries (issue 8) in headless
 * Chromium against a real server: the leaf hash against the token's logLeaf, the audit path to
 * the signed tree head's root (RFC 9162 2.1.3.2), the tree head's JWS against the JWKS. Answers
 * changed in transit (page.route) must show the failure, not the "Registered" line.
 */
const CHROMIUM = hasChromium();
const NO_SHEDDING = { overloadMaxEventLoopDelayMs: 0 } as const;

interface Reg {
  auditPath: string[];
  leafIndex: number;
  treeSize: number;
  leaf: { data: string };
  sth: { signature: string };
}

describe.runIf(CHROMIUM)('the verifier page checks the registration proof in the browser', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startRealServer>>;
  let data: Seeded;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startRealServer(NO_SHEDDING);
    data = await seed(server.url);
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.server.stop();
    rmSync(server?.dir ?? '/nonexistent', { recursive: true, force: true });
  });

  /** A page on the verifier; `change` rewrites the registration of every /api/verify answer. */
  async function check(id: string, change?: (r: Reg) => Reg): Promise<{ page: Page; errors: string[]; served: Reg[] }> {
    const context = await newIsolatedContext(browser);
    contexts.push(context);
    await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
    const served: Reg[] = [];
    await context.route('**/api/verify', async (route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { registration: Reg | null };
      if (body.registration) served.push(body.registration);
      const registration = body.registration && change ? change(structuredClone(body.registration)) : body.registration;
      await route.fulfill({ response, json: { ...body, registration } });
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.getByLabel('Identifier').fill(id);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.locator('#result [data-verdict]').waitFor();
    return { page, errors, served };
  }

  it('a registered item: "Registered in the public log on <date>, entry N of M, checked in your browser"', async () => {
    const { page, errors, served } = await check(data.items.label);
    expect(await page.locator('[data-signature]').getAttribute('data-signature')).toBe('valid');
    const line = page.locator('[data-log]');
    expect(await line.getAttribute('data-log')).toBe('valid');
    const reg = served[0]!;
    const day = String.raw`\d{4}-\d\d-\d\d`;
    expect(await line.textContent()).toMatch(
      new RegExp(`^Registered in the public log on ${day} \\d\\d:\\d\\d UTC, entry ${reg.leafIndex + 1} of ${reg.treeSize}, checked in your browser\\.$`),
    );
    expect(errors).toEqual([]);
  });

  it('an audit path changed in transit fails the check, and the page says so', async () => {
    const { page, errors, served } = await check(data.items.label, (r) => {
      const first = Buffer.from(r.auditPath[0]!, 'base64');
      first[0]! ^= 0x80;
      return { ...r, auditPath: [first.toString('base64'), ...r.auditPath.slice(1)] };
    });
    expect(served[0]!.auditPath.length).toBeGreaterThan(0);
    // The verdict itself still shows (its token is intact); the log line reports the failure.
    expect(await page.locator('[data-signature]').getAttribute('data-signature')).toBe('valid');
    const line = page.locator('[data-log]');
    expect(await line.getAttribute('data-log')).toBe('invalid');
    expect(await line.textContent()).toContain("the audit path does not lead to the log's signed root");
    expect(await page.locator('#result').textContent()).not.toContain('Registered in the public log');
    expect(errors).toEqual([]);
  });

  it('another leaf, a forged tree head or a stripped proof fail too', async () => {
    const cases: [string, (r: Reg) => Reg | null, string][] = [
      ['leaf', (r) => ({ ...r, leaf: { ...r.leaf, data: flipLast(r.leaf.data) } }), 'the log entry is not the one the signed verdict names'],
      ['sth', (r) => ({ ...r, sth: { ...r.sth, signature: `${r.sth.signature.slice(0, -4)}AAAA` } }), "the log's signed tree head does not verify"],
      ['stripped', () => null, 'the answer carries no proof'],
    ];
    for (const [, change, why] of cases) {
      const { page } = await check(data.items.label, change as (r: Reg) => Reg);
      const line = page.locator('[data-log]');
      expect(await line.getAttribute('data-log')).toBe('invalid');
      expect(await line.textContent()).toContain(why);
    }
  });

  it('an unknown item carries no proof and shows no log line', async () => {
    const { page } = await check(`${data.prefix}/NO-SUCH-ITEM`);
    expect(await page.locator('#result [data-verdict]').getAttribute('data-verdict')).toBe('unknown');
    expect(await page.locator('[data-log]').count()).toBe(0);
  });
});

function flipLast(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  b[b.length - 1]! ^= 1;
  return b.toString('base64');
}
