import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, eventually, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

/** A call to the API as automation makes it: a bare fetch with the management token. */
async function withToken(apiUrl: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

describe('API tokens pages', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Acme')).slug;
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('creates a service account token, shows it once with a curl line, and it works against the API until revoked', async () => {
    await page.goto(`/o/${org}`);
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/tokens$`));
    await page.getByText('No API tokens yet').waitFor();

    await page.getByRole('button', { name: 'New token' }).click();
    // Checked with the contract's schema before anything is sent.
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('Must not be empty').waitFor();

    await page.getByLabel(/^Name/).fill('deploy pipeline');
    await page.getByRole('checkbox', { name: /manage/ }).check();
    await page.getByLabel('Expires after').selectOption('30');
    await shot(page, 'tokens-create-form');
    await page.getByRole('button', { name: 'Create token' }).click();

    const secretEl = page.getByTestId('secret-value');
    await secretEl.waitFor();
    const token = (await secretEl.textContent())!.trim();
    expect(token).toMatch(/^tgm_[A-Za-z0-9]{40}$/);
    const curl = (await page.getByTestId('token-curl').textContent())!;
    expect(curl).toContain(`Authorization: Bearer ${token}`);
    expect(curl).toContain(`${stack.apiUrl}/v1/orgs/${org}/servers`);
    await shot(page, 'tokens-secret-once');

    // Automation uses it: reads, and (scope manage) creates an agent key; it is bound to this org.
    expect((await withToken(stack.apiUrl, token, 'GET', `/v1/orgs/${org}/servers`)).status).toBe(200);
    const key = await withToken(stack.apiUrl, token, 'POST', `/v1/orgs/${org}/keys`, { name: 'made-by-ci' });
    expect(key.status).toBe(201);
    expect((await withToken(stack.apiUrl, token, 'GET', '/v1/me')).json.code).toBe('person_required');

    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    expect(await page.getByTestId('secret-value').count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    const row = page.getByTestId('token-row');
    expect(await row.count()).toBe(1);
    const rowText = (await row.textContent())!;
    expect(rowText).toContain('deploy pipeline');
    expect(rowText).toContain('read, manage');
    expect(rowText).toContain(token.slice(0, 12));
    expect(rowText).toContain('in 29 days');
    // lastUsedAt is written after the response ("never" until it lands).
    await eventually(
      async () => {
        await page.reload();
        return (await page.getByTestId('token-row').textContent())!;
      },
      (t) => !t.includes('never'),
    );
    expect((await owner.call('GET', `/v1/orgs/${org}/tokens`)).items[0].lastUsedAt).not.toBeNull();

    // The activity log names the token that created the key.
    await page.goto(`/o/${org}/activity?action=key.created`);
    expect(await page.getByTestId('activity-token').first().textContent()).toContain('Service account “deploy pipeline”');

    await page.goto(`/o/${org}/tokens`);
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('revoked', { exact: true }).waitFor();
    await shot(page, 'tokens-revoked');
    const refused = await withToken(stack.apiUrl, token, 'GET', `/v1/orgs/${org}/servers`);
    expect(refused).toMatchObject({ status: 401, json: { code: 'token_revoked' } });
  });

  it('creates a personal token on the account page, bound to the chosen org', async () => {
    await page.goto('/orgs');
    const section = page.locator('#tokens');
    await section.getByText('No personal tokens').waitFor();
    await section.getByRole('button', { name: 'New token' }).click();
    await section.getByLabel(/^Name/).fill('my laptop');
    await section.getByRole('button', { name: 'Create token' }).click();
    const token = (await section.getByTestId('secret-value').textContent())!.trim();
    expect(token).toMatch(/^tgm_/);
    const me = await withToken(stack.apiUrl, token, 'GET', '/v1/me');
    expect(me.status).toBe(200);
    expect(me.json.orgs.map((o: { slug: string }) => o.slug)).toEqual([org]);
    // Scope read only: no agent keys.
    expect((await withToken(stack.apiUrl, token, 'POST', `/v1/orgs/${org}/keys`, { name: 'x' })).json.code).toBe('insufficient_scope');
    await section.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    expect(await page.locator('#tokens').getByTestId('token-row').count()).toBe(1);
    await shot(page, 'tokens-personal');
  });
});
