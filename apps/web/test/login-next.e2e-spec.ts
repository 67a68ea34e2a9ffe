import type { Browser } from 'playwright-core';
import { ApiUser, PASSWORD } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

describe('login return path (`next`)', () => {
  let stack: FullStack;
  let browser: Browser;
  let user: ApiUser;
  let slug: string;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    user = await ApiUser.signup(stack.apiUrl, 'Nora Next');
    slug = (await user.createOrg('Next Co')).slug;
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** Logs in through the form on `/login?next=<next>` and answers where the browser ended up. */
  async function loginWithNext(next: string): Promise<URL> {
    const ctx = await newContext(browser, stack.webUrl);
    const page = await ctx.newPage();
    const left: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame() && !f.url().startsWith(stack.webUrl)) left.push(f.url());
    });
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    // Home (`/`) forwards to the first organisation: wait for wherever the login finally leads.
    await page.waitForURL((u) => u.origin !== stack.webUrl || !['/login', '/'].includes(u.pathname));
    const url = new URL(page.url());
    expect(left).toEqual([]);
    await ctx.close();
    return url;
  }

  it.each([
    ['an absolute URL', 'https://evil.example/phish'],
    ['a scheme-relative URL', '//evil.example/phish'],
    ['a backslash the browser reads as a slash', '/\\evil.example/phish'],
    ['a tab the browser drops', '/\t/evil.example/phish'],
  ])('refuses %s and lands on the dashboard instead', async (_name, next) => {
    const url = await loginWithNext(next);
    expect(url.origin).toBe(stack.webUrl);
    expect(url.pathname).toBe(`/o/${slug}`);
  });

  it('keeps a dashboard path: a signed-out visit to the consent page returns there after login', async () => {
    const ctx = await newContext(browser, stack.webUrl);
    const page = await ctx.newPage();
    await page.goto('/oauth/consent?request=no-such-request');
    await page.waitForURL(/\/login\?/);
    expect(new URL(page.url()).searchParams.get('next')).toBe('/oauth/consent?request=no-such-request');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((u) => u.pathname === '/oauth/consent');
    expect(new URL(page.url()).searchParams.get('request')).toBe('no-such-request');
    await page.getByTestId('consent-invalid').waitFor();
    await shot(page, 'oauth-consent-unknown-request');
    await ctx.close();
  });
});
