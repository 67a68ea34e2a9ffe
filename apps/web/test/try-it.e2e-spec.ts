import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, EVERYTHING, loginAs, UUID } from './api';
import path from 'node:path';
import { launchWith, newContext, SCREENSHOTS, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

jest.setTimeout(120_000);

/**
 * Try it, the catalogue and the probe on arrival, against the real stack: API, worker, gateway
 * and server-everything over stdio. Who may try and bad input are covered by the API's own
 * tests (apps/api/src/modules/try-it/try-it.e2e-spec.ts).
 */
describe('Try it and the catalogue', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let ctx: BrowserContext;
  let page: Page;
  let serverId = '';
  let keyId = '';

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Tryout')).slug;
    // Deny first: the denial names this rule.
    await owner.call('POST', `/v1/orgs/${org}/roles`, {
      name: 'echoer',
      rules: {
        tools: [
          { effect: 'deny', match: 'everything__get-sum' },
          { effect: 'allow', match: 'everything__echo' },
        ],
      },
    });
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** The keys of the org as the keys page lists them. */
  const listedKeys = async () => (await owner.call('GET', `/v1/orgs/${org}/keys?status=all`)).items as { id: string; name: string }[];

  it('probes a server right after registration: the catalogue is there without a click', async () => {
    await page.goto(`/o/${org}/servers/new`);
    await page.getByLabel('Name', { exact: true }).fill('Everything');
    await page.getByLabel(/^Command/).fill(process.execPath);
    await page.getByLabel(/^Arguments/).fill(`${EVERYTHING}\nstdio`);
    await page.getByRole('button', { name: 'Register server' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/servers/${UUID}$`));
    serverId = page.url().split('/').pop()!;
    await page.getByTestId('probe-progress').waitFor({ timeout: 5_000 });
    await shot(page, 'try-it-01-probing-on-arrival');
    const result = page.getByTestId('probe-result');
    await result.waitFor({ timeout: 45_000 });
    expect(await result.textContent()).toMatch(/^Probe succeeded: \d+ tools/);
    await page.getByTestId('tool-echo').waitFor();
    expect(await page.getByTestId('server-health').textContent()).toBe('Healthy');
  });

  it('filters the catalogue by a search, folds sections, keeps the section links in view', async () => {
    const tools = page.locator('[data-testid^="tool-"]');
    const all = await tools.count();
    expect(all).toBeGreaterThan(3);
    const search = page.getByRole('searchbox', { name: 'Search the catalogue' });
    await search.fill('ECHO');
    await page.getByTestId('cat-tools-count').getByText(`(1 of ${all})`).waitFor();
    expect(await tools.count()).toBe(1);
    expect(await page.getByTestId('tool-echo').isVisible()).toBe(true);
    await search.fill('no such thing at all');
    await page.getByText('No tools match “no such thing at all”.').waitFor();
    await search.fill('');
    expect(await tools.count()).toBe(all);

    // Sections fold and open again.
    const toolsHeading = page.getByRole('heading', { name: /^Tools/ });
    await toolsHeading.click();
    await page.getByTestId('tool-echo').waitFor({ state: 'hidden' });
    await toolsHeading.click();
    await page.getByTestId('tool-echo').waitFor();

    // The bar with the search and the section links stays at the top while the tools scroll by.
    const nav = page.getByRole('navigation', { name: 'Catalogue sections' });
    await page.getByTestId('tool-echo').scrollIntoViewIfNeeded();
    await page.locator('[data-testid^="tool-"]').last().scrollIntoViewIfNeeded();
    const box = await nav.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeLessThan(120);
    await nav.getByRole('link', { name: /Tools/ }).click();
    await shot(page, 'try-it-02-catalogue');
  });

  it('calls echo as a temporary key of a role: result, decision and a link to its audit entry', async () => {
    const echo = page.getByTestId('tool-echo');
    await echo.getByRole('button', { name: 'Try it: echo' }).click();
    const form = echo.getByTestId('try-it');
    await form.getByLabel('Call as').selectOption({ label: 'role echoer' });
    // The form is built from the schema: message is a required string.
    await form.getByRole('button', { name: 'Call echo' }).click();
    expect(await form.getByRole('textbox', { name: /message/ }).getAttribute('aria-invalid')).toBe('true');
    await form.getByText('message is required').waitFor();
    await form.getByRole('textbox', { name: /message/ }).fill('hello from try it');
    await form.getByRole('button', { name: 'Call echo' }).click();
    const outcome = form.getByTestId('try-outcome');
    await outcome.waitFor({ timeout: 45_000 });
    expect(await outcome.getByTestId('try-result-text').first().textContent()).toBe('Echo: hello from try it');
    await outcome.getByText('allowed').waitFor();
    expect(await outcome.getByTestId('try-rule').textContent()).toContain('echoer');
    await shot(page, 'try-it-03-echo-allowed');
    await echo.screenshot({ path: path.join(SCREENSHOTS, 'try-it-03-echo-allowed-tool.png') });

    // The temporary key: never listed, already revoked, named after the person who clicked.
    const auditLink = outcome.getByTestId('try-audit-link');
    const href = (await auditLink.getAttribute('href'))!;
    expect(href).toMatch(new RegExp(`^/o/${org}/audit/${UUID}$`));
    const entry = await owner.call('GET', `/v1/orgs/${org}/audit/${href.split('/').pop()}`);
    expect(entry).toMatchObject({ method: 'tools/call', target: 'echo', decision: 'allow', serverSlug: 'everything' });
    const temp = await owner.call('GET', `/v1/orgs/${org}/keys/${entry.keyId}`);
    expect(temp).toMatchObject({ kind: 'try_it', status: 'revoked' });
    expect(temp.name).toContain(owner.email);
    expect((await listedKeys()).map((k) => k.id)).not.toContain(entry.keyId);

    await auditLink.click();
    await page.waitForURL(new RegExp(`${href}$`));
    // The entry names the person who clicked, through the temporary key's name.
    await page.getByTestId('audit-detail').getByText(`Try it as role echoer, by ${owner.email}`).waitFor();
    await shot(page, 'try-it-04-audit-entry');
    // Its key's page says what it was and offers no Try it (it is revoked).
    await page
      .getByTestId('audit-detail')
      .getByRole('link', { name: /^Try it as role echoer/ })
      .click();
    await page.getByTestId('try-it-key-notice').waitFor();
    expect(await page.getByTestId('try-it').count()).toBe(0);
    await shot(page, 'try-it-04b-temporary-key');
  });

  it('shows a denial with its rule and reason; raw JSON for arguments the form need not hold', async () => {
    await page.goto(`/o/${org}/servers/${serverId}`);
    const sum = page.getByTestId('tool-get-sum');
    await sum.getByRole('button', { name: 'Try it: get-sum' }).click();
    const form = sum.getByTestId('try-it');
    await form.getByLabel('Call as').selectOption({ label: 'role echoer' });
    await form.getByRole('button', { name: 'Edit as JSON' }).click();
    const raw = form.getByRole('textbox', { name: 'Arguments (JSON)' });
    // A typo is the API's field error, shown as such.
    await raw.fill('{"a": 1, "b": ');
    await form.getByRole('button', { name: 'Call get-sum' }).click();
    await form
      .getByTestId('try-error')
      .getByText(/Arguments: is not valid JSON/)
      .waitFor();
    await raw.fill('{"a": 1, "b": 2}');
    await form.getByRole('button', { name: 'Call get-sum' }).click();
    const outcome = form.getByTestId('try-outcome');
    await outcome.waitFor({ timeout: 45_000 });
    await outcome.getByText('denied', { exact: true }).waitFor();
    expect(await outcome.getByTestId('try-reason').textContent()).toMatch(/^Denied by policy: .+/);
    expect(await outcome.getByTestId('try-rule').textContent()).toMatch(/echoer.*tools\[0\]/);
    await outcome.getByTestId('try-audit-link').waitFor();
    await shot(page, 'try-it-05-denied');
    // The full page is long: the tool with its form and outcome, legible on its own.
    await sum.screenshot({ path: path.join(SCREENSHOTS, 'try-it-05-denied-tool.png') });
  });

  it('calls as an existing key from the key page (its roles and metadata), then the copy is gone', async () => {
    const roles = (await owner.call('GET', `/v1/orgs/${org}/roles`)).items as { id: string; name: string }[];
    const created = await owner.call('POST', `/v1/orgs/${org}/keys`, {
      name: 'support-bot',
      roleIds: [roles.find((r) => r.name === 'echoer')!.id],
      metadata: { customer_id: 'c-42' },
    });
    keyId = created.id;
    const before = (await listedKeys()).map((k) => k.id);

    await page.goto(`/o/${org}/keys/${keyId}`);
    const form = page.getByTestId('try-it');
    await form.getByText('Called as this key').waitFor();
    await form.getByLabel('Tool').selectOption({ label: 'everything · echo' });
    await form.getByRole('textbox', { name: /message/ }).fill('as support-bot');
    await form.getByRole('button', { name: 'Call echo' }).click();
    const outcome = form.getByTestId('try-outcome');
    await outcome.waitFor({ timeout: 45_000 });
    expect(await outcome.getByTestId('try-result-text').first().textContent()).toBe('Echo: as support-bot');
    const href = (await outcome.getByTestId('try-audit-link').getAttribute('href'))!;
    await shot(page, 'try-it-06-key-page');

    const entry = await owner.call('GET', `/v1/orgs/${org}/audit/${href.split('/').pop()}`);
    expect(entry.keyId).not.toBe(keyId);
    const temp = await owner.call('GET', `/v1/orgs/${org}/keys/${entry.keyId}`);
    expect(temp).toMatchObject({ kind: 'try_it', status: 'revoked', metadata: { customer_id: 'c-42' } });
    expect(temp.name).toContain('support-bot');
    expect(temp.roles.map((r: { name: string }) => r.name)).toEqual(['echoer']);
    // The key list is what it was: the copy is not in it, the key itself is untouched.
    expect((await listedKeys()).map((k) => k.id)).toEqual(before);
    expect(await owner.call('GET', `/v1/orgs/${org}/keys/${keyId}`)).toMatchObject({ status: 'active', lastUsedAt: null });
  });

  it('a server that does not answer: a clear message, not a result', async () => {
    await owner.call('POST', `/v1/orgs/${org}/roles`, { name: 'anything', rules: { tools: [{ effect: 'allow', match: '*' }] } });
    const broken = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'broken',
      name: 'Broken',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.call('POST', `/v1/orgs/${org}/servers/${broken.id}/probe`);
    // The catalogue stays; the command now dies at once, as a crashed server would.
    await owner.call('PATCH', `/v1/orgs/${org}/servers/${broken.id}`, { args: ['-e', 'process.exit(3)'] });

    await page.goto(`/o/${org}/servers/${broken.id}`);
    const echo = page.getByTestId('tool-echo');
    await echo.getByRole('button', { name: 'Try it: echo' }).click();
    const form = echo.getByTestId('try-it');
    await form.getByLabel('Call as').selectOption({ label: 'role anything' });
    await form.getByRole('textbox', { name: /message/ }).fill('anyone there?');
    await form.getByRole('button', { name: 'Call echo' }).click();
    const error = form.getByTestId('try-error');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toMatch(/^The server "broken" did not answer: .+/);
    expect(await form.getByTestId('try-outcome').count()).toBe(0);
    await echo.screenshot({ path: path.join(SCREENSHOTS, 'try-it-09-server-down.png') });
  });

  it('a member sees the catalogue without Try it', async () => {
    const member = await owner.addMember(org, 'member');
    const memberCtx = await newContext(browser, stack.webUrl);
    try {
      await loginAs(memberCtx, member);
      const p = await memberCtx.newPage();
      await p.goto(`/o/${org}/servers/${serverId}`);
      await p.getByTestId('tool-echo').waitFor();
      expect(await p.getByRole('button', { name: /^Try / }).count()).toBe(0);
      await p.goto(`/o/${org}/keys/${keyId}`);
      await p.getByRole('heading', { name: 'support-bot' }).waitFor();
      expect(await p.getByTestId('try-it').count()).toBe(0);
    } finally {
      await memberCtx.close();
    }
  });

  it('works at 390 px: catalogue, search and a call, with no sideways scrolling', async () => {
    const phone = await newContext(browser, stack.webUrl, { phone: true });
    try {
      await loginAs(phone, owner);
      const p = await phone.newPage();
      await p.goto(`/o/${org}/servers/${serverId}`);
      await p.getByRole('searchbox', { name: 'Search the catalogue' }).fill('echo');
      const echo = p.getByTestId('tool-echo');
      await echo.getByRole('button', { name: 'Try it: echo' }).click();
      const form = echo.getByTestId('try-it');
      await form.getByRole('textbox', { name: /message/ }).fill('small screen');
      await form.getByRole('button', { name: 'Call echo' }).click();
      await form.getByTestId('try-outcome').waitFor({ timeout: 45_000 });
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(p, 'try-it-07-phone-server');
      await p.getByTestId('catalog').screenshot({ path: path.join(SCREENSHOTS, 'try-it-07-phone-catalogue.png') });
      await p.goto(`/o/${org}/keys/${keyId}`);
      await p.getByTestId('try-it').waitFor();
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(p, 'try-it-08-phone-key');
    } finally {
      await phone.close();
    }
  });
});
