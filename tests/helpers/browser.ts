import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';

/**
 * Headless Chromium for browser interop tests: Debian's `chromium` driven by `playwright-core`
 * (`npx playwright install` is not used; nothing is downloaded). As with `hasTool` in tools.ts, a
 * missing browser skips the tests with a message, except under CI=true, where `.ci/run` has
 * installed it and a missing one is a failure.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Upper bound for one browser step (launch, navigation, a wait), in milliseconds. */
export const BROWSER_STEP_TIMEOUT = 20_000;

export function hasChromium(): boolean {
  const found = existsSync(CHROMIUM_PATH) && spawnSync(CHROMIUM_PATH, ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  if (!found) {
    const message = `chromium is not installed at ${CHROMIUM_PATH}: browser interop tests are skipped (apt-get install chromium)`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI=true requires it`);
    console.warn(message);
  }
  return found;
}

/**
 * Headless Chromium. `chromium.launch` gives the browser a throw-away user data dir of its own;
 * tests open a fresh context per case (`newIsolatedContext`), so no Cache Storage, IndexedDB or
 * HTTP cache is shared between cases.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true, timeout: BROWSER_STEP_TIMEOUT });
}

/** A new context with bounded step timeouts and service workers blocked, so every request of its pages reaches `route`. */
export async function newIsolatedContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1100, height: 800 } });
  context.setDefaultTimeout(BROWSER_STEP_TIMEOUT);
  context.setDefaultNavigationTimeout(BROWSER_STEP_TIMEOUT);
  return context;
}
