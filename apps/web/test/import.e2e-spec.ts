import type { Browser, BrowserContext } from 'playwright-core';
import { ApiUser, EVERYTHING, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, freePort, startFullStack } from './stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(180_000);

const TOKEN = 'sk-test-abcdefghijklmnop1234';

/** Registering several servers at once from a desktop client's MCP config. */
describe('import servers from a client config', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let slug: string;
  let ctx: BrowserContext;
  let config: string;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    slug = (await owner.createOrg('Import Co')).slug;
    // Already taken in the org: the import must neither reuse this slug nor overwrite this secret.
    await owner.call('POST', `/v1/orgs/${slug}/servers`, {
      slug: 'everything',
      name: 'Old',
      transport: 'streamable-http',
      url: 'https://old.example/mcp',
    });
    await owner.call('PUT', `/v1/orgs/${slug}/secrets/API_TOKEN`, { value: 'keep-me' });
    config = JSON.stringify(
      {
        mcpServers: {
          Everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], env: { API_TOKEN: TOKEN, LOG_LEVEL: 'info' } },
          'Remote Tools': {
            url: `http://127.0.0.1:${await freePort()}/mcp`,
            // biome-ignore lint/suspicious/noTemplateCurlyInString: VS Code's placeholder, written as the client writes it.
            headers: { Authorization: 'Bearer ${input:remote-key}' },
          },
          Broken: { command: '' },
        },
      },
      null,
      2,
    );
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('refuses malformed input on the field', async () => {
    const page = await ctx.newPage();
    await page.goto(`/o/${slug}/servers/import`);
    await page.getByLabel('Config file contents').fill('{ "mcpServers": ');
    await page.getByRole('button', { name: 'Preview servers' }).click();
    await page.locator('#config-hint.field-error').waitFor();
    expect(await page.getByTestId('config-hint').textContent()).toMatch(/not valid JSON/);
    await page.getByLabel('Config file contents').fill('{ "something": {} }');
    await page.getByRole('button', { name: 'Preview servers' }).click();
    await page.getByText(/No server list found/).waitFor();
    await page.close();
  });

  it('previews, imports what it can row by row, and lets failed rows be fixed and retried', async () => {
    const page = await ctx.newPage();
    await page.goto(`/o/${slug}/servers`);
    await page.getByRole('link', { name: 'Import from a client config' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/servers/import$`));
    await page.getByLabel('Config file contents').fill(config);
    await page.getByRole('button', { name: 'Preview servers' }).click();

    const rows = page.getByTestId('import-row');
    await page.getByRole('heading', { name: '3 servers in the file' }).waitFor();
    const [everything, remote, broken] = [rows.nth(0), rows.nth(1), rows.nth(2)];
    // The credential goes into a new org secret (API_TOKEN exists, so it gets the server's prefix).
    expect(await everything.getByTestId('to-secret').textContent()).toMatch(/stored as org secret EVERYTHING_API_TOKEN/);
    expect(await everything.textContent()).toContain('LOG_LEVEL');
    expect(await remote.textContent()).toMatch(/needs a value for the new org secret REMOTE_TOOLS_AUTHORIZATION/);
    expect(await broken.textContent()).toMatch(/Cannot be imported: Neither a "command"/);
    expect(await broken.getByRole('checkbox').isDisabled()).toBe(true);
    await shot(page, 'import-preview');

    // First try: the slug is taken and the header's value is missing: both rows fail, each with its reason.
    await page.getByRole('button', { name: 'Import 2 servers' }).click();
    await remote.getByTestId('row-error').waitFor();
    // The taken slug is marked on the URL name field, and said only there.
    const slugField = everything.getByLabel('URL name');
    expect(await slugField.getAttribute('aria-invalid')).toBe('true');
    expect(await everything.locator('.field-error').textContent()).toMatch(/"everything" is already used by another server/);
    expect(await everything.getByTestId('row-error').count()).toBe(0);
    expect(await remote.getByTestId('row-error').textContent()).toMatch(/Enter a value for REMOTE_TOOLS_AUTHORIZATION first/);
    await shot(page, 'import-row-errors');

    // Fix both and retry: nothing typed before is lost.
    await slugField.fill('everything-2');
    expect(await slugField.getAttribute('aria-invalid')).toBeNull();
    await remote.getByLabel('Value of secret REMOTE_TOOLS_AUTHORIZATION').fill('Bearer remote-secret-value');
    await page.getByRole('button', { name: 'Import 2 servers' }).click();
    // Rows are registered one after another; the button comes back once all are through.
    await page.getByRole('button', { name: 'Import 0 servers' }).waitFor();
    expect(await page.getByRole('button', { name: 'Import 0 servers' }).isDisabled()).toBe(true);
    expect(await page.getByTestId('import-summary').textContent()).toMatch(/2 of 3 registered/);
    expect(await everything.getByText('registered', { exact: true }).count()).toBe(1);
    expect(await remote.getByText('registered', { exact: true }).count()).toBe(1);
    await shot(page, 'import-done');

    const servers = (await owner.call('GET', `/v1/orgs/${slug}/servers`)).items as Array<Record<string, unknown>>;
    const bySlug = Object.fromEntries(servers.map((s) => [s.slug as string, s]));
    expect(Object.keys(bySlug).sort()).toEqual(['everything', 'everything-2', 'remote-tools']);
    expect(bySlug['everything-2']).toMatchObject({
      transport: 'stdio',
      command: process.execPath,
      env: { API_TOKEN: { secret: 'EVERYTHING_API_TOKEN' }, LOG_LEVEL: { value: 'info' } },
    });
    expect(bySlug['remote-tools']).toMatchObject({
      transport: 'streamable-http',
      headers: { Authorization: { secret: 'REMOTE_TOOLS_AUTHORIZATION' } },
    });
    // The credential is nowhere in the server's configuration, and the existing secret was left alone.
    expect(JSON.stringify(servers)).not.toContain(TOKEN);
    const secrets = (await owner.call('GET', `/v1/orgs/${slug}/secrets`)).items.map((s: { name: string }) => s.name).sort();
    expect(secrets).toEqual(['API_TOKEN', 'EVERYTHING_API_TOKEN', 'REMOTE_TOOLS_AUTHORIZATION']);

    // The imported stdio server works: probing it reads its tools.
    const probed = await owner.call('POST', `/v1/orgs/${slug}/servers/${bySlug['everything-2']!.id}/probe`);
    expect(probed.catalog.tools.map((t: { name: string }) => t.name)).toContain('echo');
    await page.close();
  });

  it('reads an uploaded VS Code mcp.json (comments, "servers", "type": "http")', async () => {
    const page = await ctx.newPage();
    await page.goto(`/o/${slug}/servers/import`);
    const vscode = `{
      // .vscode/mcp.json
      "servers": {
        "weather": { "type": "http", "url": "https://weather.example/mcp", },
      },
    }`;
    await page.locator('input[type=file]').setInputFiles({ name: 'mcp.json', mimeType: 'application/json', buffer: Buffer.from(vscode) });
    await page.getByRole('heading', { name: '1 server in the file' }).waitFor();
    expect(await page.getByTestId('import-row').textContent()).toContain('https://weather.example/mcp');
    await page.close();

    const phone = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(phone, owner);
    const small = await phone.newPage();
    await small.goto(`/o/${slug}/servers/import`);
    await small.getByLabel('Config file contents').fill(config);
    await small.getByRole('button', { name: 'Preview servers' }).click();
    await small.getByTestId('import-row').first().waitFor();
    expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(small, 'import-phone');
    await phone.close();
  });

  it('is for owners and admins only', async () => {
    const member = await owner.addMember(slug, 'member', 'Member');
    const mctx = await newContext(browser, stack.webUrl);
    await loginAs(mctx, member);
    const page = await mctx.newPage();
    const res = await page.goto(`/o/${slug}/servers/import`);
    expect(res?.status()).toBe(403);
    await page.goto(`/o/${slug}/servers`);
    await page.getByRole('heading', { name: 'MCP servers' }).waitFor();
    expect(await page.getByRole('link', { name: 'Import from a client config' }).count()).toBe(0);
    await mctx.close();
  });
});
