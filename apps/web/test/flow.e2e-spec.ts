import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, connectAgent, EVERYTHING, eventually, PASSWORD, UUID } from './api';
import { launchWith, newContext, shot, signUpAndCreateOrg } from './browser';
import { type FullStack, uniq } from './stack';
import { type StripeFake, startStripeStack } from './stripe-stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(120_000);

const RULES = JSON.stringify(
  {
    tools: [
      { effect: 'allow', match: 'everything__echo', constraints: { message: { maxLength: 40 } } },
      { effect: 'allow', match: 'everything__get-sum' },
    ],
    rateLimits: [{ scope: 'key', perMinute: 120 }],
  },
  null,
  2,
);

/**
 * The whole story, in order, as one person would live it in the dashboard: sign up →
 * create an org → add server-everything over stdio → probe → create a role and a key → an SDK
 * client calls a tool through the gateway with that key → the call appears in the audit log →
 * usage shows it → a billing member sees invoices and cannot open server settings.
 *
 * Each step uses the state the previous one left (nothing is set up behind the UI's back except
 * the invoices, which only Stripe issues: the Stripe fake plays that part).
 */
describe('the first-day flow, end to end', () => {
  let stack: FullStack;
  let fake: StripeFake;
  let browser: Browser;
  let ownerCtx: BrowserContext;
  let page: Page;
  const email = `${uniq('founder')}@example.test`;
  const slug = uniq('flow');
  const marker = uniq('hello');
  let owner: ApiUser;
  let serverId = '';
  let secret = '';
  let keyId = '';

  beforeAll(async () => {
    [{ stack, fake }, browser] = await launchWith(startStripeStack(), async (s) => {
      await s.stack.close();
      await s.fake.stop();
    });
    ownerCtx = await newContext(browser, stack.webUrl);
    page = await ownerCtx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ownerCtx?.close();
    await browser?.close();
    await stack?.close();
    fake?.releaseHung();
    await fake?.stop();
  });

  it('signs up and creates an organisation', async () => {
    await page.goto('/signup');
    await signUpAndCreateOrg(page, { name: 'Fran Founder', email, password: PASSWORD }, { name: 'Flow Labs', slug });
    await expect(page.getByTestId('endpoint-url').first().textContent()).resolves.toBe(`${stack.gatewayUrl}/mcp/${slug}`);
    await shot(page, 'flow-01-overview');
    owner = await ApiUser.login(stack.apiUrl, email);
    expect((await owner.call('GET', '/v1/me')).orgs).toEqual([expect.objectContaining({ slug, role: 'owner' })]);
  });

  it('registers server-everything over stdio and probes it', async () => {
    await page.getByRole('navigation', { name: 'Organisation' }).getByRole('link', { name: 'MCP servers' }).click();
    await page.getByText('No MCP servers yet').waitFor();
    await page.getByRole('link', { name: 'Register server' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/servers/new$`));
    await page.getByLabel('Name', { exact: true }).fill('Everything');
    await page.getByLabel(/^Command/).fill(process.execPath);
    await page.getByLabel(/^Arguments/).fill(`${EVERYTHING}\nstdio`);
    await page.getByRole('button', { name: 'Register server' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/servers/${UUID}$`));
    serverId = page.url().split('/').pop()!;

    // Probed on arrival (a server never probed), no click needed.
    const result = page.getByTestId('probe-result');
    await result.waitFor({ timeout: 45_000 });
    expect(await result.textContent()).toMatch(/^Probe succeeded: \d+ tools/);
    await expect(page.getByTestId('tool-echo').textContent()).resolves.toContain('Echoes back the input string');
    expect(await page.getByTestId('server-health').textContent()).toBe('Healthy');
    await shot(page, 'flow-02-server-probed');
  });

  it('creates a role and a key holding it; the secret is shown once', async () => {
    await page.goto(`/o/${slug}/roles/new`);
    await page.getByLabel(/^Name/).fill('echo-agent');
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page.getByLabel('Rules (JSON)').fill(RULES);
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/roles/${UUID}\\?created=1$`));
    await page.getByText('Role created').waitFor();
    await shot(page, 'flow-03-role');

    await page.goto(`/o/${slug}/keys`);
    await page.getByRole('button', { name: 'New key' }).click();
    await page.getByLabel(/^Name/).fill('flow-bot');
    await page.getByRole('checkbox', { name: 'echo-agent' }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const secretEl = page.getByTestId('secret-value');
    await secretEl.waitFor();
    secret = (await secretEl.textContent())!.trim();
    expect(secret).toMatch(/^tg_[A-Za-z0-9]{40}$/);
    keyId = (await page.getByTestId('key-row').getAttribute('data-key-id'))!;
    await shot(page, 'flow-04-key-secret');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.getByTestId('secret-value').count()).toBe(0);
    await expect(page.getByTestId('key-row').getByRole('cell').nth(6).textContent()).resolves.toBe('never');
  });

  it('an SDK client calls a tool through the gateway; the audit log shows it without a reload', async () => {
    await page.goto(`/o/${slug}/audit`);
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 20_000 });
    const row = (target: string) => page.locator(`[data-testid="audit-row"][data-target="${target}"]`);
    expect(await row('echo').count()).toBe(0);

    // The key is in the gateway's snapshot once the API has published it (well under a second).
    const client = await connectAgent(stack.gatewayUrl, slug, secret, 'flow-e2e');
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual(['everything__echo', 'everything__get-sum']);
      const res = await client.callTool({ name: 'everything__echo', arguments: { message: marker } });
      expect(res.content).toEqual([{ type: 'text', text: `Echo: ${marker}` }]);
      // What the role does not allow is refused, and logged as such.
      await expect(client.callTool({ name: 'everything__get-env', arguments: {} })).rejects.toThrow(/denied|not allowed/i);
    } finally {
      await client.close();
    }

    const echoRow = row('echo').first();
    await echoRow.waitFor({ timeout: 30_000 });
    await row('get-env').first().waitFor({ timeout: 30_000 });
    const text = (await echoRow.textContent()) ?? '';
    for (const s of ['tools/call', 'flow-bot', 'everything', 'allow', 'ok']) expect(text).toContain(s);
    await shot(page, 'flow-05-audit-live');

    await echoRow.getByRole('link', { name: /^Event #/ }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/audit/${UUID}$`));
    expect(JSON.parse((await page.getByTestId('audit-arguments').textContent())!)).toEqual({ message: marker });
    await expect(page.getByTestId('audit-detail').textContent()).resolves.toContain('flow-e2e 1.0.0');
    await shot(page, 'flow-06-audit-detail');
  });

  it('usage shows the calls, and the key its last use', async () => {
    // The worker rolls usage up asynchronously: reload until it has.
    const calls = await eventually(
      async () => {
        await page.goto(`/o/${slug}/usage`);
        return page.getByTestId('total-calls').textContent();
      },
      (v) => v === '2',
      30_000,
    );
    expect(calls).toBe('2');
    expect(await page.getByTestId('total-denied').textContent()).toBe('1');
    expect(await page.getByTestId('total-billable').textContent()).toBe('1');
    await expect(page.getByTestId('breakdown-by-key').textContent()).resolves.toContain('flow-bot');
    await expect(
      page.getByTestId('breakdown-by-tool').getByRole('row').filter({ hasText: 'echo' }).getByRole('cell').nth(1).textContent(),
    ).resolves.toBe('1');
    await shot(page, 'flow-07-usage');

    const lastUsed = await eventually(
      async () => {
        await page.goto(`/o/${slug}/keys`);
        return page.locator(`[data-key-id="${keyId}"]`).getByRole('cell').nth(6).textContent();
      },
      (v) => v !== 'never',
    );
    expect(lastUsed).toMatch(/^(just now|\d+ minutes? ago)$/);
    expect((await owner.call('GET', `/v1/orgs/${slug}/keys/${keyId}`)).lastUsedAt).toEqual(expect.any(String));
    await shot(page, 'flow-08-keys-last-used');
  });

  it('detail pages answer 404 for an id that does not exist, and 200 for one that does', async () => {
    const unknown = randomUUID();
    for (const path of [
      `/o/${slug}/servers/${unknown}`,
      `/o/${slug}/servers/${unknown}/edit`,
      `/o/${slug}/keys/${unknown}`,
      `/o/${slug}/roles/${unknown}`,
      `/o/${slug}/audit/${unknown}`,
      `/o/${slug}/servers/not-an-id`,
    ]) {
      const res = await page.goto(path);
      expect({ path, status: res?.status() }).toEqual({ path, status: 404 });
      await page.getByTestId('not-found').waitFor();
    }
    for (const path of [`/o/${slug}/servers/${serverId}`, `/o/${slug}/keys/${keyId}`, `/o/${slug}/servers`, `/o/${slug}/audit`]) {
      const res = await page.goto(path);
      expect({ path, status: res?.status() }).toEqual({ path, status: 200 });
    }
  });

  it('a billing member joins through an invitation, sees invoices and cannot open server settings', async () => {
    // The owner turns Stripe billing on and invites a billing admin.
    await page.goto(`/o/${slug}/billing`);
    await page.getByRole('button', { name: 'Enable billing' }).click();
    await page.getByText('Billed through Stripe.').waitFor();
    const customer = (await owner.call('GET', `/v1/orgs/${slug}/billing`)).stripeCustomerId as string;
    expect(customer).toMatch(/^cus_/);
    fake.addInvoice(customer, {
      number: 'FLOW-0001',
      status: 'paid',
      amount_due: 4200,
      amount_paid: 4200,
      hosted_invoice_url: 'https://invoice.stripe.test/i/FLOW-0001',
      created: Math.floor(Date.now() / 1000) - 60,
    });

    await page.goto(`/o/${slug}/members`);
    const invitee = `${uniq('bill')}@example.test`;
    await page.getByLabel('Email').fill(invitee);
    await page.getByRole('form', { name: 'Invite a member' }).getByRole('combobox').selectOption('billing');
    await page.getByRole('button', { name: 'Invite' }).click();
    const link = (await page.getByTestId('invitation-link').textContent())!.trim();

    const billingCtx = await newContext(browser, stack.webUrl);
    try {
      const b = await billingCtx.newPage();
      await b.goto(link);
      await b.getByRole('link', { name: 'Sign up to accept' }).click();
      await b.getByLabel('Name').fill('Bea Billing');
      // The invitation pre-fills (and locks) the invited address.
      expect(await b.getByLabel('Email').inputValue()).toBe(invitee);
      await b.getByLabel('Password').fill(PASSWORD);
      await b.getByRole('button', { name: 'Create account' }).click();
      await b.getByRole('button', { name: 'Join Flow Labs' }).click();
      await b.waitForURL(new RegExp(`/o/${slug}$`));

      const nav = b.getByRole('navigation', { name: 'Organisation' });
      await nav.getByRole('link', { name: 'Billing' }).waitFor(); // the nav is there before counting what it lacks
      expect(await nav.getByRole('link', { name: 'MCP servers' }).count()).toBe(0);
      await nav.getByRole('link', { name: 'Billing' }).click();
      await b.waitForURL(new RegExp(`/o/${slug}/billing$`));
      const invoice = b.getByTestId('invoices').getByRole('row').filter({ hasText: 'FLOW-0001' });
      await expect(invoice.textContent()).resolves.toMatch(/Paid[\s\S]*\$42\.00/);
      expect(await invoice.getByRole('link', { name: /View invoice/ }).getAttribute('href')).toBe(
        'https://invoice.stripe.test/i/FLOW-0001',
      );
      await b.getByTestId('upcoming-invoice').waitFor();
      await shot(b, 'flow-09-billing-member-invoices');

      // Server settings, by URL: the forbidden page, with a real 403 status.
      for (const path of [`/o/${slug}/servers/${serverId}/edit`, `/o/${slug}/servers/${serverId}`, `/o/${slug}/servers`]) {
        const res = await b.goto(path);
        expect({ path, status: res?.status() }).toEqual({ path, status: 403 });
        await b.getByTestId('forbidden').waitFor();
      }
      await shot(b, 'flow-10-billing-member-forbidden');
      // The API agrees: the bearer behind the dashboard cannot read the server either.
      const asBilling = await ApiUser.login(stack.apiUrl, invitee);
      await asBilling.call('GET', `/v1/orgs/${slug}/servers/${serverId}`, undefined, [403]);
      // And an org that does not exist (or is not theirs) is a 404.
      expect((await b.goto(`/o/${uniq('nope')}`))?.status()).toBe(404);
    } finally {
      await billingCtx.close();
    }
  });
});
