import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, connectAgent, EVERYTHING, eventually, loginAs, PASSWORD } from './api';
import { launchWith, newContext, shot, signUpAndCreateOrg } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

const ADMIN_MIRROR_SOON = { AUDIT_ACTIVITY_SETTLE_MS: '1000', AUDIT_ACTIVITY_INTERVAL_MS: '500' };

const VALID_RULES = JSON.stringify({ tools: [{ effect: 'allow', match: 'everything__echo' }] });

/** Whether the page is wider than its window (something pushes it sideways). */
const overflows = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);

describe('What was seen, fixed', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let serverId: string;
  let keyId: string;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // Admin actions reach the audit chain once settled (30 s by default): sooner here.
    [stack, browser] = await launchWith(startFullStack(ADMIN_MIRROR_SOON), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Olga Owner');
    org = (await owner.createOrg('Fixes')).slug;
    const o = `/v1/orgs/${org}`;
    const server = await owner.call('POST', `${o}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    serverId = server.id;
    await owner.probe(org, server.id);
    const role = await owner.call('POST', `${o}/roles`, { name: 'echoer', rules: JSON.parse(VALID_RULES) });
    const key = await owner.call('POST', `${o}/keys`, { name: 'echo-bot', roleIds: [role.id] });
    keyId = key.id;
    await owner.call('PATCH', `${o}/keys/${key.id}`, { name: 'echo-bot-2' });
    const agent = (await eventually(
      () => connectAgent(stack.gatewayUrl, org, key.key, 'fixes-agent').catch(() => null),
      (c) => c !== null,
      20_000,
    ))!;
    for (const m of ['a', 'b', 'c', 'd']) await agent.callTool({ name: 'everything__echo', arguments: { message: m } });
    // Listings and a denied call: traffic that is no forwarded call's latency.
    await agent.listTools();
    await agent.callTool({ name: 'everything__get-env', arguments: {} }).catch(() => undefined);
    await agent.close();
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('marks an empty name and a taken URL name on their fields, and clears them on edit', async () => {
    await page.goto('/orgs');
    const form = page.getByRole('form', { name: 'Create organisation' });
    await form.getByRole('button', { name: 'Create organisation' }).click();
    const name = form.getByLabel('Organisation name');
    await expect(name.getAttribute('aria-invalid')).resolves.toBe('true');
    await form.getByText('Enter a name for the organisation.').waitFor();

    await name.fill('Another');
    await expect(name.getAttribute('aria-invalid')).resolves.toBeNull();
    await form.getByLabel('URL name').fill(org);
    await form.getByRole('button', { name: 'Create organisation' }).click();
    const slug = form.getByLabel('URL name');
    await form.locator('#org-slug-msg.field-error').getByText('already taken').waitFor();
    await expect(slug.getAttribute('aria-invalid')).resolves.toBe('true');
    // On the field only: no banner repeating it.
    expect(await form.getByRole('alert').count()).toBe(0);
    await shot(page, 'fixes-org-slug-taken');
    await slug.fill(`${org}-2`);
    await expect(slug.getAttribute('aria-invalid')).resolves.toBeNull();
  });

  it('marks a taken role name on the name field', async () => {
    await page.goto(`/o/${org}/roles/new`);
    await page.getByLabel(/^Name/).fill('echoer');
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page.getByLabel('Rules (JSON)').fill(VALID_RULES);
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.locator('#role-name-msg.field-error').getByText('already the name of another role').waitFor();
    expect(await page.getByLabel(/^Name/).getAttribute('aria-invalid')).toBe('true');
  });

  it('says "Role created" once, and not after the first edit or a reload', async () => {
    await page.goto(`/o/${org}/roles/new`);
    await page.getByLabel(/^Name/).fill('viewer');
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page.getByLabel('Rules (JSON)').fill(VALID_RULES);
    await page.getByRole('button', { name: 'Create role' }).click();
    const created = page.getByText('Role created.');
    await created.waitFor();
    await page.waitForURL((u) => !u.search.includes('created'));
    await page.getByLabel('Description (optional)').fill('Looks only');
    await created.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved. Keys holding this role').waitFor();
    expect(await created.count()).toBe(0);
    await page.reload();
    await page.getByLabel(/^Name/).waitFor();
    expect(await created.count()).toBe(0);
  });

  it('clears "Saved." once the settings are edited again', async () => {
    await page.goto(`/o/${org}/settings`);
    const form = page.getByRole('form', { name: 'Organisation settings' });
    await form.getByLabel('Organisation name').fill('Fixes Renamed');
    await form.getByRole('button', { name: 'Save changes' }).click();
    const saved = form.getByText('Saved.');
    await saved.waitFor();
    await form.getByLabel('Organisation name').fill('Fixes Renamed Again');
    await saved.waitFor({ state: 'detached' });
  });

  it('states a failed probe once', async () => {
    const broken = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'broken',
      name: 'Broken',
      transport: 'stdio',
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
    });
    // Never probed: the page probes it on arrival.
    await page.goto(`/o/${org}/servers/${broken.id}`);
    const stored = page.getByTestId('last-probe-error');
    await stored.waitFor({ timeout: 45_000 });
    await page.getByRole('button', { name: 'Probe' }).waitFor();
    const message = (await stored.textContent())!;
    expect(message.length).toBeGreaterThan(0);
    expect(await page.getByTestId('probe-result').count()).toBe(0);
    expect(await page.getByText(message).count()).toBe(1);
  });

  it('headline latency is the forwarded calls’ average, the same as the one server that served them', async () => {
    const text = (id: string) => page.getByTestId(id).textContent();
    await eventually(
      async () => {
        await page.goto(`/o/${org}/usage`);
        return text('total-calls');
      },
      (t) => t === '5',
      20_000,
    );
    const server = page.getByTestId('breakdown-by-server').getByRole('row', { name: /Everything/ });
    const serverLatency = await server.locator('td').last().textContent();
    expect(serverLatency).toMatch(/\d.* (ms|s)$/);
    expect(await text('total-latency')).toBe(serverLatency);
  });

  it('activity names and links what each entry is about, and shows a before/after diff', async () => {
    await page.goto(`/o/${org}/activity`);
    const row = (action: string) => page.locator(`[data-testid="activity-row"][data-action="${action}"]`).first();
    // The oldest server.created entry: the first server, registered before the broken one.
    const server = page.locator('[data-testid="activity-row"][data-action="server.created"]').last().getByTestId('activity-target');
    expect(await server.textContent()).toBe('Everything');
    expect(await server.getAttribute('href')).toBe(`/o/${org}/servers/${serverId}`);
    const key = row('key.updated');
    expect(await key.getByTestId('activity-target').textContent()).toBe('echo-bot-2');
    expect(await key.getByTestId('activity-target').getAttribute('href')).toBe(`/o/${org}/keys/${keyId}`);
    await key.getByText('Changed name').click();
    const name = key.locator('[data-testid="activity-diff"] tr[data-field="name"]');
    expect(await name.locator('del').textContent()).toBe('echo-bot');
    expect(await name.locator('ins').textContent()).toBe('echo-bot-2');
    await shot(page, 'fixes-activity-diff');
    await page.setViewportSize({ width: 390, height: 844 });
    await key.getByText('Changed name').scrollIntoViewIfNeeded();
    await shot(page, 'fixes-activity-diff-phone');
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('audit rows link the key and server of a call, and name an admin action’s target', async () => {
    await page.goto(`/o/${org}/audit`);
    const call = page.locator('[data-testid="audit-row"][data-target="echo"]').first();
    await call.waitFor();
    expect(await call.getByRole('link', { name: 'echo-bot-2' }).getAttribute('href')).toBe(`/o/${org}/keys/${keyId}`);
    expect(await call.getByRole('link', { name: 'everything' }).getAttribute('href')).toBe(`/o/${org}/servers/${serverId}`);
    const admin = page.locator(`[data-testid="audit-row"][data-target="key:${keyId}"]`).first();
    const target = admin.getByTestId('audit-admin-target');
    expect(await target.textContent()).toBe('echo-bot-2');
    expect(await target.getAttribute('href')).toBe(`/o/${org}/keys/${keyId}`);

    await admin.getByRole('link', { name: /^Event #/ }).click();
    await page.getByTestId('audit-detail').waitFor();
    expect(await page.getByTestId('audit-admin-target').textContent()).toBe('echo-bot-2');
    const diff = page.locator('[data-testid="activity-diff"] tr[data-field="name"]');
    expect(await diff.locator('ins').textContent()).toBe('echo-bot-2');
  });

  it('keeps the sidebar in view while a long page scrolls', async () => {
    await page.setViewportSize({ width: 1366, height: 420 });
    await page.goto(`/o/${org}/servers/${serverId}`);
    const sidebar = page.locator('aside.sidebar');
    expect(await page.evaluate(() => document.documentElement.scrollHeight > window.innerHeight + 300)).toBe(true);
    await page.evaluate(() => window.scrollTo(0, 300));
    await page.waitForFunction(() => window.scrollY >= 300);
    expect((await sidebar.boundingBox())!.y).toBe(0);
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('a long e-mail address and the open menu fit a 390 px screen', async () => {
    const phone = await newContext(browser, stack.webUrl, { phone: true });
    try {
      const p = await phone.newPage();
      await p.goto('/signup');
      const email = `firstname.middlename.lastname.${uniq('x')}@a-very-long-subdomain.example-company.test`;
      const slug = uniq('long');
      await signUpAndCreateOrg(p, { name: 'Maximiliane Long-Address', email, password: PASSWORD }, { name: 'Long', slug });
      expect(await overflows(p)).toBe(false);
      await p.getByRole('button', { name: 'Menu' }).click();
      const shown = p.locator('.sidebar .me').getByText(email);
      await shown.waitFor();
      expect(await overflows(p)).toBe(false);
      const box = (await shown.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      await shot(p, 'fixes-phone-menu-long-email');
      await p.goto('/orgs');
      await p.getByText(`Signed in as ${email}`).waitFor();
      expect(await overflows(p)).toBe(false);
    } finally {
      await phone.close();
    }
  });
});
