import type { Browser } from 'playwright-core';
import { launchWith, newContext, shot, signUpAndCreateOrg } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

jest.setTimeout(120_000);

describe('dashboard smoke', () => {
  let stack: FullStack;
  let browser: Browser;
  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('signs up, creates an organisation and shows its endpoint', async () => {
    const ctx = await newContext(browser, stack.webUrl);
    const page = await ctx.newPage();
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await page.getByRole('link', { name: 'Create an account' }).click();
    const slug = uniq('acme');
    await signUpAndCreateOrg(
      page,
      { name: 'Ada Admin', email: `${uniq('ada')}@example.test`, password: 'correct horse battery' },
      { name: 'Acme', slug },
    );
    await expect(page.getByTestId('endpoint-url').first().textContent()).resolves.toBe(`${stack.gatewayUrl}/mcp/${slug}`);
    await shot(page, 'smoke-overview');
    await ctx.close();
  });
});
