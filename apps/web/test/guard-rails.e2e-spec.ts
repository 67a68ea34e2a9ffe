import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, connectAgent, EVERYTHING, eventually, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, freePort, startFullStack } from './stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(180_000);

/**
 * Guard rails on every org page: the monthly quota nearly / fully used and servers whose last
 * probe failed show as banners, only to the roles that may read them and only in their own org;
 * a billing member opening the org lands on billing.
 */
describe('guard rails', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let slug: string;
  let otherSlug: string;
  let key: string;
  let brokenId: string;
  let member: ApiUser;
  let billing: ApiUser;
  let ownerCtx: BrowserContext;

  const billable = async () => (await owner.call('GET', `/v1/orgs/${slug}/usage/alerts?limit=1`)).current.used as number;

  async function callEcho(n: number) {
    const agent = await connectAgent(stack.gatewayUrl, slug, key, 'guard-rails-e2e');
    try {
      for (let i = 0; i < n; i++) await agent.callTool({ name: 'everything__echo', arguments: { message: `m${i}` } });
    } finally {
      await agent.close();
    }
  }

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    const org = await owner.createOrg('Guard Co');
    slug = org.slug;
    otherSlug = (await owner.createOrg('Quiet Co')).slug;
    await owner.call('POST', `/v1/orgs/${slug}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    // Nothing listens on this port: every probe of this server fails.
    const closed = await freePort();
    brokenId = (
      await owner.call('POST', `/v1/orgs/${slug}/servers`, {
        slug: 'broken',
        name: 'Broken HTTP',
        transport: 'streamable-http',
        url: `http://127.0.0.1:${closed}/mcp`,
      })
    ).id;
    const role = await owner.call('POST', `/v1/orgs/${slug}/roles`, {
      name: 'agents',
      rules: { tools: [{ effect: 'allow', match: '*' }] },
    });
    key = (await owner.call('POST', `/v1/orgs/${slug}/keys`, { name: 'agent', roleIds: [role.id] })).key;
    member = await owner.addMember(slug, 'member', 'Member');
    billing = await owner.addMember(slug, 'billing', 'Billing');
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('no banner while nothing is wrong', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}`);
    await page.getByRole('heading', { name: 'Guard Co' }).waitFor();
    expect(await page.getByTestId('org-banners').count()).toBe(0);
    await page.close();
  });

  it('a failed probe puts a banner naming the server on every page; its health card does not promise working tools', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/servers/${brokenId}`);
    await page.getByRole('button', { name: 'Probe' }).click();
    // The failure is stated once, by the refreshed page beside when the probe ran.
    await page.getByTestId('last-probe-error').waitFor({ timeout: 40_000 });
    // The probe refreshes the page, layout included: the banner appears without a reload.
    const banner = page.getByTestId('servers-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/A server failed its last probe: Broken HTTP\./);
    expect(await page.getByTestId('server-agents').textContent()).toMatch(/^Enabled, but the last probe failed/);
    expect(await page.getByTestId('server-agents').textContent()).not.toMatch(/Can use its tools/);
    await shot(page, 'guard-rails-server-failed-probe');

    // Elsewhere in the org too, with a link to the server.
    await page.goto(`/o/${slug}/keys`);
    await page.getByTestId('servers-banner').getByRole('link', { name: 'Broken HTTP' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/servers/${brokenId}$`));
    await page.close();
  });

  it('the monthly quota warns from 80% and says when it is used up', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/settings`);
    await page.getByLabel('Monthly call quota').fill('5');
    await page.getByRole('button', { name: 'Save quota' }).click();
    await page.getByText('Quota saved.').waitFor();

    await callEcho(4);
    expect(await eventually(billable, (n) => n >= 4, 45_000)).toBe(4);
    await page.goto(`/o/${slug}/usage`);
    const quota = page.getByTestId('quota-banner');
    await quota.waitFor();
    expect(await quota.textContent()).toMatch(/Monthly quota nearly used up\. 4 of 5 calls \(80%\) this month/);
    expect(await quota.getAttribute('class')).toMatch(/warn/);
    // An owner can raise the quota from the banner.
    expect(await quota.getByRole('link', { name: 'Raise the quota' }).getAttribute('href')).toBe(`/o/${slug}/settings#plan`);
    await shot(page, 'guard-rails-quota-warn');

    await callEcho(1);
    expect(await eventually(billable, (n) => n >= 5, 45_000)).toBe(5);
    await page.reload();
    await page.getByTestId('quota-banner').waitFor();
    expect(await page.getByTestId('quota-banner').textContent()).toMatch(/Monthly quota used up\. The gateway refuses agents' calls until/);
    expect(await page.getByTestId('quota-banner').getAttribute('class')).toMatch(/error/);
    await shot(page, 'guard-rails-quota-over');
    await page.close();

    const phone = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(phone, owner);
    const small = await phone.newPage();
    await small.goto(`/o/${slug}`);
    await small.getByTestId('quota-banner').waitFor();
    expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(small, 'guard-rails-banners-phone');
    await phone.close();
  });

  it("another org of the same person shows none of this org's warnings", async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${otherSlug}`);
    await page.getByRole('heading', { name: 'Quiet Co' }).waitFor();
    expect(await page.getByTestId('org-banners').count()).toBe(0);
    await page.close();
  });

  it('a member sees both banners, pointed at usage instead of the quota form', async () => {
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, member);
    const page = await ctx.newPage();
    await page.goto(`/o/${slug}/keys`);
    await page.getByTestId('quota-banner').waitFor();
    await page.getByTestId('servers-banner').waitFor();
    expect(await page.getByTestId('quota-banner').getByRole('link').getAttribute('href')).toBe(`/o/${slug}/usage`);
    await ctx.close();
  });

  it('a billing member lands on billing, sees what they can use, the quota banner but no server names', async () => {
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, billing);
    const page = await ctx.newPage();
    await page.goto(`/o/${slug}`);
    await page.waitForURL(new RegExp(`/o/${slug}/billing$`));
    await page.getByRole('heading', { name: 'Billing' }).first().waitFor();
    const nav = page.getByRole('navigation', { name: 'Organisation' });
    const labels = (await nav.getByRole('link').allTextContents()).map((s) => s.trim());
    expect(labels).toEqual(['Usage', 'Billing', 'Webhooks', 'Members', 'Settings']);
    expect(await page.getByTestId('quota-banner').getByRole('link').getAttribute('href')).toBe(`/o/${slug}/billing`);
    // Billing members may not read servers: their names must not reach them through the banner.
    expect(await page.getByTestId('servers-banner').count()).toBe(0);
    expect(await page.content()).not.toContain('Broken HTTP');
    await shot(page, 'guard-rails-billing-landing');

    // The org switcher goes through the same landing.
    await page.goto('/orgs');
    await page.goto(`/o/${slug}`);
    await page.waitForURL(new RegExp(`/o/${slug}/billing$`));
    await ctx.close();
  });

  it('a disabled server is no reason to warn on every page', async () => {
    // Agents cannot reach a disabled server anyway, so its failed probe is no longer everyone's concern.
    await owner.call('PATCH', `/v1/orgs/${slug}/servers/${brokenId}`, { enabled: false });
    const page: Page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/keys`);
    await page.getByTestId('quota-banner').waitFor();
    expect(await page.getByTestId('servers-banner').count()).toBe(0);
    await page.close();
  });
});
