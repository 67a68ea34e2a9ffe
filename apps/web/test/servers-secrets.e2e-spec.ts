import Redis from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
// The web app does not depend on contracts; the key names are plain constants, read from the source.
import { redisKeys } from '../../../packages/contracts/src/names';
import { ApiUser, EVERYTHING, eventually, loginAs, UUID } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

jest.setTimeout(120_000);

describe('MCP servers and secrets pages', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let ownerCtx: BrowserContext;
  let page: Page;
  let serverId = '';
  const serverSlug = 'everything';

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Acme')).slug;
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
    page = await ownerCtx.newPage();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const listServers = async () => (await owner.call('GET', `/v1/orgs/${org}/servers`)).items as { id: string; slug: string }[];

  it('validates the register form in the page and shows the API’s own validation messages', async () => {
    await page.goto(`/o/${org}/servers`);
    await page.getByText('No MCP servers yet').waitFor();
    await page.getByRole('link', { name: 'Register server' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/servers/new$`));

    // Checked before sending, with the API's own schema: stdio without a command, a bad slug, a bad env name.
    await page.getByLabel('Name', { exact: true }).fill('Broken');
    await page.getByLabel(/^Slug/).fill('Bad_Slug');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Variable name 1').fill('1BAD');
    await page.getByRole('button', { name: 'Register server' }).click();
    const alert = page.getByTestId('form-errors');
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain('Command is required for the stdio transport');
    expect(text).toContain('Slug must be lowercase letters, digits and single hyphens');
    expect(text).toContain('Environment variable 1BAD is not a valid environment variable name');
    expect(await page.getByLabel(/^Slug/).getAttribute('aria-invalid')).toBe('true');

    // A header the gateway owns: refused by the same schema, so nothing reaches the API.
    await page.getByLabel(/^Slug/).fill('remote');
    await page.getByLabel('Streamable HTTP').check();
    await page.getByLabel('URL', { exact: true }).fill('https://mcp.example.test/mcp');
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByLabel('Header name 1').fill('Host');
    await page.getByLabel('Value of header 1').fill('evil.example');
    await page.getByRole('button', { name: 'Register server' }).click();
    await page.getByTestId('form-errors').getByText('Header Host cannot be set: the gateway manages the Host header').waitFor();
    await shot(page, 'servers-form-validation');
    expect(await listServers()).toEqual([]);
  });

  it('hints the allowed launchers and shows the API’s refusal of another one next to the command', async () => {
    await page.goto(`/o/${org}/servers/new`);
    const hint = page.getByTestId('command-hint');
    expect(await hint.textContent()).toBe(
      'The program or the whole command line. Allowed launchers: npx, uvx, node, python3 or deno (by name, or by path in /usr/bin, /usr/local/bin, /bin).',
    );
    await page.getByLabel('Name', { exact: true }).fill('Shell');
    await page.getByLabel(/^Command/).fill('bash');
    await page.getByLabel(/^Arguments/).fill('-c\necho hi');
    await page.getByRole('button', { name: 'Register server' }).click();
    const refusal = page.getByTestId('command-not-allowed');
    await refusal.waitFor();
    const text = await refusal.textContent();
    expect(text).toContain('The command "bash" is not an allowed launcher on this gateway.');
    expect(text).toContain('Allowed: npx, uvx, node, python3, deno');
    expect(await page.getByLabel(/^Command/).getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByTestId('form-errors').textContent()).toContain('"bash" is not an allowed launcher');
    await shot(page, 'servers-command-not-allowed');
    expect(await listServers()).toEqual([]);
  });

  it('registers server-everything over stdio, probes it and shows its catalogue', async () => {
    await page.goto(`/o/${org}/servers/new`);
    await page.getByLabel('Name', { exact: true }).fill('Everything');
    expect(await page.getByLabel(/^Slug/).inputValue()).toBe(serverSlug);
    await page.getByLabel(/^Description/).fill('The MCP reference server');
    await page.getByLabel(/^Command/).fill(process.execPath);
    await page.getByLabel(/^Arguments/).fill(`${EVERYTHING}\nstdio`);
    await page.getByLabel(/^Tags/).fill('demo, reference');
    await shot(page, 'servers-register-form');
    await page.getByRole('button', { name: 'Register server' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/servers/${UUID}$`));
    serverId = page.url().split('/').pop()!;

    const stored = await owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`);
    expect(stored).toMatchObject({ slug: serverSlug, transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    expect(stored.tags).toEqual(['demo', 'reference']);
    expect(await page.getByTestId('server-health').textContent()).toBe('Not probed');
    await page.getByText('No catalogue yet').waitFor();

    // A server never probed is probed on arrival, without a click: progress while it runs, then the catalogue.
    await page.getByTestId('probe-progress').waitFor({ timeout: 5_000 });
    const result = page.getByTestId('probe-result');
    await result.waitFor({ timeout: 45_000 });
    expect(await result.textContent()).toMatch(/^Probe succeeded: \d+ tools/);
    const echo = page.getByTestId('tool-echo');
    await echo.waitFor();
    expect(await echo.textContent()).toContain('Echoes back the input string');
    const arg = echo.getByRole('row', { name: /message/ });
    expect(await arg.textContent()).toMatch(/message\s*required\s*string\s*Message to echo/);
    expect(await echo.locator('pre').isVisible()).toBe(false);
    await echo.getByText('Raw input schema (JSON)').click();
    const raw = JSON.parse((await echo.locator('pre').textContent())!);
    expect(raw).toMatchObject({
      type: 'object',
      properties: { message: { type: 'string', description: 'Message to echo' } },
      required: ['message'],
    });
    expect(await page.getByTestId('server-health').textContent()).toBe('Healthy');
    expect(await page.getByTestId('last-probe').textContent()).toMatch(/UTC$/);

    const probed = await owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`);
    expect(probed.health).toBe('ok');
    expect(probed.catalog.tools.map((t: { name: string }) => t.name)).toContain('echo');
    expect(await page.locator('[data-testid^="tool-"]').count()).toBe(probed.catalog.tools.length);

    // Endpoints with copy buttons and client snippets for this server.
    const urls = await page.getByTestId('endpoint-url').allTextContents();
    expect(urls).toEqual([`${stack.gatewayUrl}/mcp/${org}/${serverSlug}`, `${stack.gatewayUrl}/mcp/${org}`]);
    await page.getByRole('button', { name: 'Copy URL' }).first().click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${stack.gatewayUrl}/mcp/${org}/${serverSlug}`);
    await page.getByRole('tab', { name: 'Cursor' }).click();
    expect(await page.getByRole('tabpanel').textContent()).toContain(`"url": "${stack.gatewayUrl}/mcp/${org}/${serverSlug}"`);
    await shot(page, 'servers-detail-catalogue');

    await page.goto(`/o/${org}/servers`);
    const row = page.getByTestId(`server-row-${serverSlug}`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Healthy');
    expect(await row.textContent()).toContain('Enabled');
    expect(await row.getByTestId('tool-count').textContent()).toBe(String(probed.catalog.tools.length));
    await shot(page, 'servers-list');
  });

  it('disables and enables the server with the toggle', async () => {
    await page.goto(`/o/${org}/servers/${serverId}`);
    const toggle = page.getByRole('switch', { name: 'Enabled' });
    expect(await toggle.getAttribute('aria-checked')).toBe('true');
    await toggle.click();
    const off = await eventually(
      () => owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`),
      (s) => s.enabled === false,
    );
    expect(off.enabled).toBe(false);
    await page.reload();
    expect(await page.getByRole('switch', { name: 'Enabled' }).getAttribute('aria-checked')).toBe('false');
    await page.getByText('Disabled: agents cannot see or call its tools').waitFor();
    await page.getByRole('switch', { name: 'Enabled' }).click();
    const on = await eventually(
      () => owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`),
      (s) => s.enabled === true,
    );
    expect(on.enabled).toBe(true);
    await page.getByText('Can use its tools').waitFor();
  });

  it('sets the network policy of a stdio server in the form and shows it on the server', async () => {
    await page.goto(`/o/${org}/servers/${serverId}`);
    expect(await page.getByTestId('server-network').textContent()).toBe('None');
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL(/\/edit$/);
    const select = page.getByLabel(/^Network/);
    expect(await select.inputValue()).toBe('none');
    expect(await page.getByTestId('network-hint').textContent()).toMatch(/^No network at all/);
    await select.selectOption('egress');
    expect(await page.getByTestId('network-hint').textContent()).toMatch(/^Outbound to public internet addresses only/);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`/servers/${serverId}$`));
    expect(await page.getByTestId('server-network').textContent()).toBe('Egress (public internet)');
    expect((await owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`)).network).toBe('egress');

    // The form starts from the stored policy; only stdio servers have one.
    await page.goto(`/o/${org}/servers/${serverId}/edit`);
    expect(await page.getByLabel(/^Network/).inputValue()).toBe('egress');
    await page.getByLabel('Streamable HTTP').check();
    expect(await page.getByLabel(/^Network/).count()).toBe(0);
    await page.getByLabel(/^stdio/).check();
    await page.getByLabel(/^Network/).selectOption('none');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`/servers/${serverId}$`));
    expect(await page.getByTestId('server-network').textContent()).toBe('None');
    expect((await owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`)).network).toBe('none');
  });

  it('warns on the servers pages while a gateway runs tenant code without a sandbox', async () => {
    // What a gateway worker with the sandbox turned off writes (the hash is the wire contract).
    const redis = new Redis(process.env.REDIS_URL!);
    const workerId = `gw-unsandboxed-${process.pid}`;
    const status = {
      schemaVersion: 1,
      workerId,
      sandbox: { mode: 'off', ok: true, detail: 'sandbox off', egress: { ok: true, detail: '' }, limits: 'rlimit' },
      at: new Date().toISOString(),
    };
    try {
      await redis.hset(redisKeys.gatewayStatus, workerId, JSON.stringify(status));
      for (const url of [`/o/${org}/servers`, `/o/${org}/servers/${serverId}`]) {
        await page.goto(url);
        const banner = page.getByTestId('sandbox-banner');
        await banner.waitFor();
        expect(await banner.getAttribute('data-summary')).toBe('unconfined');
        expect(await banner.textContent()).toContain('Tenant code runs without a sandbox.');
        expect(await banner.textContent()).toContain(workerId);
      }
      await shot(page, 'servers-sandbox-unconfined');
    } finally {
      await redis.hdel(redisKeys.gatewayStatus, workerId);
      redis.disconnect();
    }
    await page.goto(`/o/${org}/servers`);
    await page.getByTestId(`server-row-${serverSlug}`).waitFor();
    expect(await page.content()).not.toContain(workerId);
    // Otherwise a quiet line (or a banner only if a real gateway is in trouble).
    expect(await page.locator('[data-testid="sandbox-note"], [data-testid="sandbox-banner"]').count()).toBe(1);
  });

  it('creates a secret, uses it from a server, shows where it is used and replaces its value', async () => {
    await page.goto(`/o/${org}/secrets`);
    await page.getByText('No secrets yet').waitFor();
    const newSecret = page.getByRole('form', { name: 'Create secret' });
    // Validation before sending.
    await newSecret.getByLabel('Secret name').fill('bad-name');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByText('Use letters, digits and _ only').waitFor();
    await page.getByText('Enter the value.').waitFor();

    expect(await newSecret.getByLabel(/^Value/).getAttribute('type')).toBe('password');
    await newSecret.getByLabel('Secret name').fill('API_TOKEN');
    await newSecret.getByLabel(/^Value/).fill('first-s3cret-value');
    await newSecret.getByLabel('Description (optional)').fill('Token for the demo server');
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByText('Secret API_TOKEN saved.').waitFor();
    const row = page.getByTestId('secret-row-API_TOKEN');
    await row.waitFor();
    expect(await row.getByTestId('used-by').textContent()).toBe('Not used');
    expect(await newSecret.getByLabel(/^Value/).inputValue()).toBe('');
    expect(await page.content()).not.toContain('first-s3cret-value');

    // Reference it from an env var of the server through the edit form.
    await page.goto(`/o/${org}/servers/${serverId}`);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.waitForURL(/\/edit$/);
    expect(await page.getByLabel(/^Arguments/).inputValue()).toBe(`${EVERYTHING}\nstdio`);
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Variable name 1').fill('API_TOKEN');
    await page.getByLabel('Source of variable 1').selectOption('secret');
    await page.getByLabel('Secret for variable 1').selectOption('API_TOKEN');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`/servers/${serverId}$`));
    const env = page.getByRole('table', { name: 'environment variables' });
    await env.waitFor();
    expect(await env.textContent()).toMatch(/API_TOKEN\s*secret\s*API_TOKEN/);
    const edited = await owner.call('GET', `/v1/orgs/${org}/servers/${serverId}`);
    expect(edited.env).toEqual({ API_TOKEN: { secret: 'API_TOKEN' } });
    expect(edited.args).toEqual([EVERYTHING, 'stdio']);

    await page.goto(`/o/${org}/secrets`);
    const usedBy = page.getByTestId('secret-row-API_TOKEN').getByTestId('used-by');
    expect(await usedBy.textContent()).toBe(serverSlug);
    expect(await usedBy.getByRole('link', { name: serverSlug }).getAttribute('href')).toBe(`/o/${org}/servers/${serverId}`);

    // Replace the value: a password field in a dialog; the value never comes back.
    const before = (await owner.call('GET', `/v1/orgs/${org}/secrets/API_TOKEN`)).updatedAt as string;
    await page.getByTestId('secret-row-API_TOKEN').getByRole('button', { name: 'Replace value' }).click();
    const dialog = page.locator('dialog[open]');
    const input = dialog.getByLabel('New value');
    expect(await input.getAttribute('type')).toBe('password');
    await dialog.getByRole('button', { name: 'Replace value' }).click();
    await dialog.getByText('Enter the value.').waitFor();
    await input.fill('second-s3cret-value');
    await dialog.getByRole('button', { name: 'Replace value' }).click();
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.getByTestId('secret-row-API_TOKEN').getByText('Replaced').waitFor();
    const after = await owner.call('GET', `/v1/orgs/${org}/secrets/API_TOKEN`);
    expect(new Date(after.updatedAt).getTime()).toBeGreaterThan(new Date(before).getTime());
    expect(after.description).toBe('Token for the demo server');
    expect(after).not.toHaveProperty('value');
    expect(await page.content()).not.toContain('second-s3cret-value');

    // The server still probes with the replaced secret in its environment.
    await page.goto(`/o/${org}/servers/${serverId}`);
    await page.getByRole('button', { name: 'Probe' }).click();
    await page.getByTestId('probe-result').getByText('Probe succeeded').waitFor({ timeout: 45_000 });

    // Delete with confirmation: refused while in use (the API's words), allowed when unused.
    await owner.call('PUT', `/v1/orgs/${org}/secrets/SPARE_KEY`, { value: 'x' });
    await page.goto(`/o/${org}/secrets`);
    await page.getByTestId('secret-row-API_TOKEN').getByRole('button', { name: 'Delete' }).click();
    await dialog.getByText(`API_TOKEN is used by ${serverSlug}`).waitFor();
    await dialog.getByRole('button', { name: 'Delete secret' }).click();
    await dialog.getByRole('alert').getByText(`is used by server ${serverSlug}`).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('secret-row-SPARE_KEY').getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete secret' }).click();
    await page.getByTestId('secret-row-SPARE_KEY').waitFor({ state: 'detached' });
    const names = (await owner.call('GET', `/v1/orgs/${org}/secrets`)).items.map((s: { name: string }) => s.name);
    expect(names).toEqual(['API_TOKEN']);
    await shot(page, 'secrets');
  });

  it('deletes a server only after its slug is typed', async () => {
    const doomed = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'doomed',
      name: 'Doomed',
      transport: 'streamable-http',
      url: 'https://mcp.example.test/mcp',
    });
    await page.goto(`/o/${org}/servers/${doomed.id}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.locator('dialog[open]');
    const confirm = dialog.getByRole('button', { name: 'Delete server' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Type doomed to confirm').fill('doomed');
    await confirm.click();
    await page.waitForURL(new RegExp(`/o/${org}/servers$`));
    await owner.call('GET', `/v1/orgs/${org}/servers/${doomed.id}`, undefined, [404]);
    expect((await listServers()).map((s) => s.slug)).toEqual([serverSlug]);
  });

  it('shows a member everything read-only', async () => {
    const member = await owner.addMember(org, 'member');
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, member);
    const p = await ctx.newPage();
    await p.goto(`/o/${org}/servers`);
    await p.getByTestId(`server-row-${serverSlug}`).waitFor();
    expect(await p.getByRole('link', { name: 'Register server' }).count()).toBe(0);

    await p.getByRole('link', { name: 'Everything' }).click();
    await p.getByTestId('tool-echo').waitFor();
    for (const name of ['Probe', 'Delete']) expect(await p.getByRole('button', { name }).count()).toBe(0);
    expect(await p.getByRole('switch').count()).toBe(0);
    expect(await p.getByRole('link', { name: 'Edit' }).count()).toBe(0);
    expect(await p.getByTestId('endpoint-url').count()).toBe(2);
    await shot(p, 'servers-member-detail');

    await p.goto(`/o/${org}/secrets`);
    await p.getByTestId('secret-row-API_TOKEN').waitFor();
    expect(await p.getByRole('form', { name: 'Create secret' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Replace value' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Delete' }).count()).toBe(0);

    for (const url of [`/o/${org}/servers/new`, `/o/${org}/servers/${serverId}/edit`]) {
      await p.goto(url);
      await p.getByTestId('forbidden').waitFor();
    }
    await ctx.close();
  });

  it('gives a billing member the forbidden page', async () => {
    const billing = await owner.addMember(org, 'billing');
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, billing);
    const p = await ctx.newPage();
    for (const url of [`/o/${org}/servers`, `/o/${org}/servers/${serverId}`, `/o/${org}/secrets`]) {
      await p.goto(url);
      await p.getByTestId('forbidden').waitFor();
      expect(await p.getByText('Everything').count()).toBe(0);
    }
    await shot(p, 'servers-billing-forbidden');
    await ctx.close();
  });

  it('fits a phone screen', async () => {
    const ctx = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(ctx, owner);
    const p = await ctx.newPage();
    for (const [url, name] of [
      [`/o/${org}/servers/${serverId}`, 'servers-phone-detail'],
      [`/o/${org}/servers`, 'servers-phone-list'],
      [`/o/${org}/secrets`, 'secrets-phone'],
      [`/o/${org}/servers/new`, 'servers-phone-form'],
    ] as const) {
      await p.goto(url);
      await p.locator('h1').waitFor();
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect({ url, overflow }).toEqual({ url, overflow: 0 });
      await shot(p, name);
    }
    await ctx.close();
  });
});
