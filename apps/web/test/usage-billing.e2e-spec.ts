import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { ApiUser, connectAgent, EVERYTHING, loginAs } from './api';
import { launch, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';
import { type StripeFake, startStripeStack } from './stripe-stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(120_000);

const month = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date());

/** Polls `fn` until it returns a truthy value (the worker rolls usage up asynchronously). */
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** An org with server-everything (stdio), a role that denies get-env, and an agent key. */
async function setupOrg(stack: FullStack) {
  const owner = await ApiUser.signup(stack.apiUrl, 'Owner');
  const org = await owner.createOrg('Usage Co');
  await owner.call('POST', `/v1/orgs/${org.slug}/servers`, {
    slug: 'everything',
    name: 'Everything',
    transport: 'stdio',
    command: process.execPath,
    args: [EVERYTHING, 'stdio'],
  });
  const role = await owner.call('POST', `/v1/orgs/${org.slug}/roles`, {
    name: 'agents',
    rules: {
      tools: [
        { effect: 'deny', match: 'everything__get-env' },
        { effect: 'allow', match: '*' },
      ],
    },
  });
  const key = await owner.call('POST', `/v1/orgs/${org.slug}/keys`, { name: 'ci-agent', roleIds: [role.id] });
  return { owner, org, key: key.key as string };
}

const mcp = (stack: FullStack, slug: string, key: string): Promise<Client> =>
  connectAgent(stack.gatewayUrl, slug, key, 'usage-e2e', '1.0.0');

const text = (page: Page, testId: string) => page.getByTestId(testId).textContent();

describe('usage and billing pages', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe('local ledger (no Stripe)', () => {
    let stack: FullStack;
    let owner: ApiUser;
    let slug: string;
    let billing: ApiUser;
    let agentKey: string;
    let ownerCtx: BrowserContext;
    let billingCtx: BrowserContext;

    beforeAll(async () => {
      stack = await startFullStack({ STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '', STRIPE_PRICE_ID: '' });
      const o = await setupOrg(stack);
      owner = o.owner;
      slug = o.org.slug;
      agentKey = o.key;
      billing = await owner.addMember(slug, 'billing');

      // Real MCP traffic through the gateway: 3 allowed calls and 1 denied by the role.
      const client = await mcp(stack, slug, agentKey);
      try {
        await client.callTool({ name: 'everything__echo', arguments: { message: 'one' } });
        await client.callTool({ name: 'everything__echo', arguments: { message: 'two' } });
        await client.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 3 } });
        await expect(client.callTool({ name: 'everything__get-env', arguments: {} })).rejects.toThrow();
      } finally {
        await client.close();
      }
      await until('the worker to roll up 4 calls', async () => {
        const u = await owner.call('GET', `/v1/orgs/${slug}/usage?groupBy=tool`);
        return u.totals.calls >= 4 && u;
      });

      ownerCtx = await newContext(browser, stack.webUrl);
      await loginAs(ownerCtx, owner);
      billingCtx = await newContext(browser, stack.webUrl);
      await loginAs(billingCtx, billing);
    }, 180_000);
    afterAll(async () => {
      await ownerCtx?.close();
      await billingCtx?.close();
      await stack?.close();
    });

    it('shows the calls, charts and the breakdown by tool, server and key', async () => {
      const api = await owner.call('GET', `/v1/orgs/${slug}/usage?groupBy=tool`);
      expect(api.totals).toMatchObject({ calls: 4, denied: 1, billable: 3 });

      const page = await ownerCtx.newPage();
      await page.goto(`/o/${slug}/usage`);
      await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
      expect(await text(page, 'total-calls')).toBe('4');
      expect(await text(page, 'total-denied')).toBe('1');
      expect(await text(page, 'total-billable')).toBe('3');
      expect(await text(page, 'total-latency')).toMatch(/\d.* (ms|s)$/);
      expect(await page.getByRole('link', { name: 'Last 7 days' }).getAttribute('aria-current')).toBe('page');

      const tools = page.getByTestId('breakdown-by-tool');
      // Header + echo, get-sum, get-env (requests that are not tool calls are left out).
      expect(await tools.getByRole('row').count()).toBe(4);
      const echo = tools.getByRole('row').filter({ hasText: 'echo' });
      await expect(echo.getByRole('cell').nth(1).textContent()).resolves.toBe('2');
      await expect(tools.getByRole('row').filter({ hasText: 'get-env' }).getByRole('cell').nth(3).textContent()).resolves.toBe('1');
      await expect(page.getByTestId('breakdown-by-key').textContent()).resolves.toContain('ci-agent');
      await expect(page.getByTestId('breakdown-by-server').textContent()).resolves.toContain('Everything');

      // Charts are images with a summary for screen readers and a data table behind a disclosure.
      const calls = page.getByRole('img', { name: /^Calls per day: 4 calls/ });
      expect(await calls.count()).toBe(1);
      expect(await page.getByRole('img', { name: /^Denials per day: 1 denied calls/ }).count()).toBe(1);
      await page.getByText('Show data table').first().click();
      const data = page.getByRole('table', { name: 'Calls per day' });
      await data.waitFor();
      await expect(data.getByRole('row').last().getByRole('cell').nth(1).textContent()).resolves.toBe('4');
      await shot(page, 'usage-7d');

      // The period picker is in the URL: 24 hours are shown hour by hour.
      await page.getByRole('link', { name: 'Last 24 hours' }).click();
      await page.waitForURL(/period=24h/);
      await page.getByRole('img', { name: /^Calls per hour: 4 calls/ }).waitFor(); // streams in after the navigation
      expect(await page.getByRole('img', { name: /^Calls per hour: 4 calls/ }).count()).toBe(1);
      expect(await text(page, 'total-calls')).toBe('4');
      await page.goto(`/o/${slug}/usage?period=month`);
      expect(await page.getByRole('link', { name: 'This month' }).getAttribute('aria-current')).toBe('page');
      expect(await text(page, 'total-calls')).toBe('4');
      await page.close();
    });

    it('shows an empty state for an organisation without usage', async () => {
      const other = await owner.createOrg('Quiet');
      const page = await ownerCtx.newPage();
      await page.goto(`/o/${other.slug}/usage`);
      await page.getByText('No usage in this period yet').waitFor();
      expect(await text(page, 'total-calls')).toBe('0');
      expect(await text(page, 'quota-text')).toContain('no monthly quota');
      expect(await page.getByRole('img').count()).toBe(0);
      await shot(page, 'usage-empty');
      await page.close();
    });

    it('shows quota progress and the 80% / 100% alerts', async () => {
      await owner.call('PATCH', `/v1/orgs/${slug}`, { monthlyCallQuota: 4 });
      const page = await ownerCtx.newPage();
      await page.goto(`/o/${slug}/usage`);
      expect(await text(page, 'quota-text')).toBe(`3 of 4 calls used in ${month} (75%)`);
      expect(await page.getByRole('progressbar', { name: 'Monthly quota used' }).getAttribute('aria-valuenow')).toBe('3');
      await page.getByText('No alerts raised').waitFor();

      // One more billable call reaches 100%: the worker raises both alerts.
      const client = await mcp(stack, slug, agentKey);
      await client.callTool({ name: 'everything__echo', arguments: { message: 'four' } });
      await client.close();
      await until('both alerts', async () => {
        const a = await owner.call('GET', `/v1/orgs/${slug}/usage/alerts`);
        return a.items.length >= 2 && a;
      });
      await page.reload();
      expect(await text(page, 'quota-text')).toMatch(new RegExp(`^4 of 4 calls used in ${month} \\(100%\\)$`));
      const alerts = page.getByTestId('quota-alerts');
      await expect(alerts.textContent()).resolves.toContain('100% reached');
      await expect(alerts.textContent()).resolves.toContain('80% reached');
      await expect(alerts.textContent()).resolves.toContain('No webhook configured');
      await shot(page, 'usage-quota');
      await page.close();
    });

    it('billing in local-ledger mode: usage, the estimate and no invoices, said plainly', async () => {
      // An org price makes the estimate visible: 4 billable calls × $250 per 1,000 = $1.00.
      await owner.call('PATCH', `/v1/orgs/${slug}/billing`, { estimatedCentsPer1k: 25_000 });
      const page = await billingCtx.newPage();
      await page.goto(`/o/${slug}/billing`);
      await expect(page.getByTestId('billing-mode').textContent()).resolves.toContain(
        'Local ledger. Stripe is not configured on this server',
      );
      expect(await text(page, 'billing-plan')).toBe('free');
      expect(await text(page, 'billing-billable')).toBe('4');
      expect(await text(page, 'billing-estimate')).toBe('$1.00');
      expect(await text(page, 'billing-period')).toMatch(/^[A-Z][a-z]{2} 1, \d{4} – [A-Z][a-z]{2} (28|29|30|31), \d{4}$/);
      await page.getByText('$250.00 per 1,000 billable calls').first().waitFor();
      await page.getByText('The local ledger does not issue invoices').waitFor();
      await page.getByText('No invoices yet').waitFor();
      expect(await page.getByRole('button', { name: 'Enable billing' }).count()).toBe(0);
      await shot(page, 'billing-local');

      // The billing member reads usage (they pay for it) but cannot open server settings.
      await page.goto(`/o/${slug}/usage`);
      expect(await text(page, 'total-calls')).toBe('5');
      await page.goto(`/o/${slug}/servers`);
      await page.getByTestId('forbidden').waitFor();
      await page.close();
    });

    it('admins and members get the forbidden page on billing and no billing link', async () => {
      for (const role of ['admin', 'member'] as const) {
        const person = await owner.addMember(slug, role);
        const ctx = await newContext(browser, stack.webUrl);
        await loginAs(ctx, person);
        const page = await ctx.newPage();
        await page.goto(`/o/${slug}/usage`);
        expect(await text(page, 'total-calls')).toBe('5');
        expect(await page.getByRole('link', { name: 'Billing', exact: true }).count()).toBe(0);
        expect(await page.getByRole('link', { name: 'See billing' }).count()).toBe(0);
        await page.goto(`/o/${slug}/billing`);
        await page.getByTestId('forbidden').waitFor();
        if (role === 'member') await shot(page, 'billing-forbidden-member');
        await ctx.close();
      }
    });

    it('works at phone width', async () => {
      const ctx = await newContext(browser, stack.webUrl, { phone: true });
      await loginAs(ctx, billing);
      const page = await ctx.newPage();
      await page.goto(`/o/${slug}/usage`);
      expect(await text(page, 'total-calls')).toBe('5');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(page, 'usage-phone');
      await page.goto(`/o/${slug}/billing`);
      expect(await text(page, 'billing-estimate')).toBe('$1.00');
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      await shot(page, 'billing-phone');
      await ctx.close();
    });
  });

  describe('Stripe mode (against the API’s Stripe fake)', () => {
    let stack: FullStack;
    let fake: StripeFake;
    let owner: ApiUser;
    let billing: ApiUser;
    let slug: string;
    let ctx: BrowserContext;

    beforeAll(async () => {
      ({ stack, fake } = await startStripeStack());
      owner = await ApiUser.signup(stack.apiUrl, 'Owner');
      slug = (await owner.createOrg('Paying Co')).slug;
      billing = await owner.addMember(slug, 'billing');
      ctx = await newContext(browser, stack.webUrl);
      await loginAs(ctx, billing);
    }, 180_000);
    afterAll(async () => {
      await ctx?.close();
      await stack?.close();
      fake?.releaseHung();
      await fake?.stop();
    });

    it('enables billing (a Stripe failure shown in words), then lists invoices with status and links', async () => {
      const page = await ctx.newPage();
      await page.goto(`/o/${slug}/billing`);
      await expect(page.getByTestId('billing-mode').textContent()).resolves.toContain(
        'Stripe is configured, but billing is not enabled for this organisation yet',
      );
      await page.getByText('Enable billing to start receiving invoices from Stripe.').waitFor();

      // Stripe fails: the error is a sentence, nothing is stored.
      fake.failNext(5, '/v1/customers', { status: 500 });
      await page.getByRole('button', { name: 'Enable billing' }).click();
      await expect(page.getByRole('alert').filter({ hasText: 'Stripe' }).textContent()).resolves.toContain(
        'Stripe could not be reached or refused the request, so billing was not enabled',
      );
      expect((await billing.call('GET', `/v1/orgs/${slug}/billing`)).status).toBe('none');
      await shot(page, 'billing-stripe-error');
      fake.clearFaults();

      await page.getByRole('button', { name: 'Enable billing' }).click();
      await page.getByText('Billed through Stripe.').waitFor();
      const view = await billing.call('GET', `/v1/orgs/${slug}/billing`);
      expect(view).toMatchObject({ mode: 'stripe', status: 'active', stripeCustomerId: expect.stringMatching(/^cus_/) });
      await expect(page.getByTestId('billing-mode').textContent()).resolves.toContain('active');
      await page.getByTestId('upcoming-invoice').waitFor();

      // Stripe issues invoices; the page refreshes them from Stripe's list.
      const customer = view.stripeCustomerId as string;
      fake.addInvoice(customer, {
        number: 'TG-0001',
        status: 'paid',
        amount_due: 1234,
        amount_paid: 1234,
        hosted_invoice_url: 'https://invoice.stripe.test/i/TG-0001',
        invoice_pdf: 'https://invoice.stripe.test/i/TG-0001.pdf',
        created: Math.floor(Date.now() / 1000) - 3600,
      });
      fake.addInvoice(customer, { number: 'TG-0002', status: 'open', amount_due: 560, amount_paid: 0 });
      await page.reload();
      const table = page.getByTestId('invoices');
      const paid = table.getByRole('row').filter({ hasText: 'TG-0001' });
      await expect(paid.textContent()).resolves.toMatch(/Paid[\s\S]*\$12\.34[\s\S]*\$12\.34/);
      expect(await paid.getByRole('link', { name: /View invoice/ }).getAttribute('href')).toBe('https://invoice.stripe.test/i/TG-0001');
      expect(await paid.getByRole('link', { name: /PDF/ }).getAttribute('href')).toBe('https://invoice.stripe.test/i/TG-0001.pdf');
      const open = table.getByRole('row').filter({ hasText: 'TG-0002' });
      await expect(open.textContent()).resolves.toMatch(/Open[\s\S]*\$5\.60[\s\S]*\$0\.00/);
      await expect(open.textContent()).resolves.toContain('None yet');
      // Newest first.
      await expect(table.getByRole('row').nth(1).textContent()).resolves.toContain('TG-0002');
      await shot(page, 'billing-stripe');

      // Still no server settings for a billing member.
      await page.goto(`/o/${slug}/servers`);
      await page.getByTestId('forbidden').waitFor();
      await page.close();
    });
  });
});
