import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); playwright-core never downloads a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve(__dirname, '../test-results/screenshots');

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Starts what a spec needs (`start`, e.g. the full stack) and Chromium side by side. If either
 * fails, the other is stopped before the error is rethrown: a spec whose beforeAll failed never
 * reaches its afterAll, so nothing it started may be left running.
 */
export async function launchWith<T>(start: Promise<T>, stop: (started: T) => Promise<void>): Promise<[T, Browser]> {
  const [started, browser] = await Promise.allSettled([start, launch()]);
  if (started.status === 'fulfilled' && browser.status === 'fulfilled') return [started.value, browser.value];
  if (started.status === 'fulfilled') await stop(started.value);
  if (browser.status === 'fulfilled') await browser.value.close();
  throw started.status === 'rejected' ? started.reason : (browser as PromiseRejectedResult).reason;
}

export async function newContext(browser: Browser, baseURL: string, opts: { phone?: boolean } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({
    baseURL,
    viewport: opts.phone ? { width: 390, height: 844 } : { width: 1366, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  ctx.setDefaultTimeout(15_000);
  // Nothing may be fetched from the internet: fail loudly if the page tries.
  await ctx.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => {
    throw new Error(`the dashboard requested an external URL: ${route.request().url()}`);
  });
  return ctx;
}

/** Full-page screenshot kept as a test artifact (apps/web/test-results/screenshots). */
export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * From the sign-up form the page shows: creates the account, then the first organisation, and
 * waits for that organisation's overview (the path every new user takes).
 */
export async function signUpAndCreateOrg(
  page: Page,
  person: { name: string; email: string; password: string },
  org: { name: string; slug: string },
): Promise<void> {
  await page.getByLabel('Name').fill(person.name);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/orgs$/);
  await page.getByLabel('Organisation name').fill(org.name);
  await page.getByLabel('URL name').fill(org.slug);
  await page.getByRole('button', { name: 'Create organisation' }).click();
  await page.waitForURL(new RegExp(`/o/${org.slug}$`));
}
