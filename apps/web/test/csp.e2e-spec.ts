import type { Browser, Page } from 'playwright-core';
import { launchWith, newContext, signUpAndCreateOrg } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

jest.setTimeout(120_000);

/** Every CSP violation the page reports (Chromium logs each one as a console error). */
function violations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

describe('dashboard Content-Security-Policy', () => {
  let stack: FullStack;
  let browser: Browser;
  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('is strict (nonce scripts, no inline, no framing) and differs per response', async () => {
    const [a, b] = [await fetch(`${stack.webUrl}/login`), await fetch(`${stack.webUrl}/login`)];
    const csp = a.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{24}' 'strict-dynamic'(;|$)/);
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(b.headers.get('content-security-policy')).not.toBe(csp);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    // Next's own scripts carry this response's nonce.
    expect(await a.text()).toContain(`nonce="${nonce}"`);
    expect(a.headers.get('x-frame-options')).toBe('DENY');
    expect(a.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('the dashboard works under it: sign-up, organisation, live audit socket, no violations', async () => {
    const ctx = await newContext(browser, stack.webUrl);
    const page = await ctx.newPage();
    const seen = violations(page);
    await page.goto('/signup');
    const slug = uniq('csp');
    await signUpAndCreateOrg(
      page,
      { name: 'Cy Sp', email: `${uniq('csp')}@example.test`, password: 'correct horse battery' },
      { name: 'CSP', slug },
    );
    await page.goto(`/o/${slug}/audit`);
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 20_000 });
    expect(seen).toEqual([]);

    // Injected markup cannot run code: an inline event handler is refused.
    await page.evaluate(() => {
      document.body.insertAdjacentHTML('beforeend', '<img src="data:," onload="window.__injected = true">');
    });
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
    expect(seen.length).toBeGreaterThan(0);
    await ctx.close();
  });
});
