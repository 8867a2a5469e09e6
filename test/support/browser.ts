// A real browser for the console's tests: playwright-core driving the system's Chromium (Debian's
// /usr/bin/chromium, or CHROMIUM_PATH); nothing downloads a browser. `.ci/run` installs it when missing.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { buildIfStale, repoRoot, ServiceProcess } from './service-process.js';
import { createTestDatabase, testRunId } from './test-app.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Git-ignored: every run rewrites them, and a test run must leave the tree as it found it.
export const SCREENSHOTS_DIR = join(repoRoot, 'test/screenshots');

export const VIEWPORTS = {
  desktop: { width: 1280, height: 900 },
  phone: { width: 390, height: 844 },
} as const;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** Saves the page at both widths as test/screenshots/console-<name>-<desktop|phone>.png, then restores the desktop width. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  for (const [width, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150); // the chart re-measures its container on resize
    await page.screenshot({ path: join(SCREENSHOTS_DIR, `console-${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

/**
 * The built service for a console test (built first when stale), on PostgreSQL and Redis when the suite
 * runs with them, as every other e2e file does; `name` keeps its queue prefix apart from other files'.
 */
export async function startConsoleService(name: string): Promise<ServiceProcess> {
  buildIfStale();
  const env: Record<string, string> = {};
  if (process.env.DATABASE_URL) {
    env.DATABASE_URL = await createTestDatabase();
    if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
    env.TOKENMETER_QUEUE_PREFIX = `{${testRunId()}_${process.pid}_${name}}`;
  }
  return ServiceProcess.start(env);
}

/**
 * Serves the built console (dist/console, built first when stale) to `page` at `<origin>/console/`, for an
 * app started in this process (startTestApp, e.g. on a ManualClock): run from the sources, it serves the API
 * but has no built console of its own. Everything else goes to the app.
 */
export async function routeBuiltConsole(page: Page, origin: string): Promise<void> {
  buildIfStale();
  const root = join(repoRoot, 'dist/console');
  await page.route(`${origin}/console/**`, (route) => {
    const path = new URL(route.request().url()).pathname.replace(/^\/console\/?/, '') || 'index.html';
    const file = resolve(root, path);
    if (!file.startsWith(`${root}/`) || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ path: file });
  });
}

/** Opens the console at `#/<hash>` and signs in with the key, as a person pastes it. */
export async function signInConsole(page: Page, service: { url: string }, key: string, hash: string): Promise<void> {
  await page.goto(`${service.url}/console/#/${hash}`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Open the console' }).click();
  await page.getByTestId('who').waitFor();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The API as a console test's own client: JSON in and out, any error status fails the test. */
export function serviceApi(service: ServiceProcess) {
  return async function api<T = any>(method: string, path: string, key: string, body?: unknown): Promise<T> {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
}

/** Reads until `ok` holds or `ms` pass; the error names what was wanted and the last thing read. */
export async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms: number, pollMs: number, wanted: string): Promise<void> {
  const deadline = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`expected ${wanted}, last saw: ${JSON.stringify(last)}`);
    await sleep(pollMs);
    last = await read();
  }
}

/** Waits (up to 15 s) until the element's text, its white space collapsed, matches. */
export async function expectText(locator: Locator, pattern: RegExp): Promise<void> {
  const text = async () => ((await locator.first().textContent({ timeout: 5_000 }).catch(() => null)) ?? '').replace(/\s+/g, ' ').trim();
  await until(text, (t) => pattern.test(t), 15_000, 100, `text matching ${pattern}`);
}

/** Waits (up to 15 s) until the input's value is `expected`. */
export async function expectValue(locator: Locator, expected: string): Promise<void> {
  await until(() => locator.inputValue({ timeout: 5_000 }).catch(() => ''), (v) => v === expected, 15_000, 100, `the value ${JSON.stringify(expected)}`);
}

/** Waits (up to 5 s) until the element (by its id) has the keyboard focus. */
export async function expectFocus(page: Page, locator: Locator): Promise<void> {
  const id = await locator.getAttribute('id');
  await until(() => page.evaluate('document.activeElement && document.activeElement.id'), (f) => id !== null && f === id, 5_000, 50, `focus on #${id}`);
}
