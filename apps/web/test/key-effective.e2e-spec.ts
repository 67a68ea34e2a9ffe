import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, EVERYTHING, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

describe('The key page lists what the key can call', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let keyId: string;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Acme')).slug;
    // A real probed server: its catalogue comes from the gateway running the everything server.
    const server = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.probe(org, server.id);
    const role = await owner.call('POST', `/v1/orgs/${org}/roles`, {
      name: 'echoer',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    keyId = (await owner.call('POST', `/v1/orgs/${org}/keys`, { name: 'agent', roleIds: [role.id] })).id;
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('shows the allowed tool of the probed server, with the other tools folded away as denied', async () => {
    await page.goto(`/o/${org}/keys/${keyId}`);
    const section = page.locator('#effective-policy');
    await section.getByRole('heading', { name: 'What this key can call' }).waitFor();
    const server = section.locator('[data-server="everything"]');
    const allowed = server.locator('li[data-access="allowed"]');
    expect(await allowed.count()).toBe(1);
    expect(await allowed.textContent()).toContain('echo');
    expect(await allowed.textContent()).toContain('role:echoer/tools[0]');
    const denied = server.locator('details');
    expect(await denied.locator('summary').textContent()).toMatch(/^\d+ denied$/);
    expect(await denied.locator('li[data-access="denied"]').first().isVisible()).toBe(false);
    await shot(page, 'key-effective');
  });
});
