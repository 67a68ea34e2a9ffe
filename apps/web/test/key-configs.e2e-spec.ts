import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { StreamableHTTPClientTransport } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js';
import { ApiUser, EVERYTHING, eventually, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

/** Lists tools exactly as a client configured with `url` and `headers` would; null while the gateway refuses. */
async function listToolsWith(url: string, headers: Record<string, string>): Promise<string[] | null> {
  const client = new Client({ name: 'key-configs-e2e', version: '1' }, { capabilities: {} });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    return (await client.listTools()).tools.map((t) => t.name);
  } catch {
    return null;
  } finally {
    await client.close().catch(() => {});
  }
}

describe('A new key hands over ready client configs', () => {
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
    // Servers and roles are other pages' business: set them up through the API.
    const server = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.probe(org, server.id);
    await owner.call('POST', `/v1/orgs/${org}/roles`, {
      name: 'echoer',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('warns about a role-less key, then the Cursor config of the created key works as-is with the SDK', async () => {
    await page.goto(`/o/${org}/keys`);
    await page.getByRole('button', { name: 'New key' }).click();
    const warning = page.getByTestId('no-role-warning');
    await warning.waitFor();
    expect(await warning.textContent()).toContain('can call nothing until it has a role');
    expect(await warning.getByRole('link').getAttribute('href')).toBe(`/o/${org}/roles`);
    await shot(page, 'key-configs-no-role-warning');
    await page.getByLabel(/^Name/).fill('cursor-agent');
    await page.getByRole('checkbox', { name: 'echoer' }).check();
    await warning.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Create key' }).click();

    const secret = (await page.getByTestId('secret-value').textContent())!.trim();
    await page.getByRole('tab', { name: 'Cursor' }).click();
    await page.getByRole('button', { name: /^Copy Cursor config/ }).click();
    // Read the rendered config (the clipboard may be unavailable headless): exactly what a user pastes.
    const cursor = JSON.parse((await page.getByTestId('client-config-text').textContent())!);
    const entry = cursor.mcpServers[`toolgate-${org}`];
    expect(entry).toEqual({ url: `${stack.gatewayUrl}/mcp/${org}`, headers: { Authorization: `Bearer ${secret}` } });
    await shot(page, 'key-configs-cursor');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'key-configs-cursor-phone');
    await page.setViewportSize({ width: 1366, height: 900 });

    const tools = await eventually(
      () => listToolsWith(entry.url, entry.headers),
      (t) => t !== null,
    );
    expect(tools).toEqual(['everything__echo']);
  });

  it('a rotation shows the new key filled into the configs', async () => {
    const { items } = await owner.call('GET', `/v1/orgs/${org}/keys`);
    await page.goto(`/o/${org}/keys`);
    await page.locator(`[data-key-id="${items[0].id}"]`).getByRole('button', { name: 'Rotate' }).click();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    const dialog = page.getByTestId('secret-dialog');
    const rotated = (await dialog.getByTestId('secret-value').textContent())!.trim();
    await dialog.getByRole('tab', { name: 'Claude Code' }).click();
    expect(await dialog.getByTestId('client-config-text').textContent()).toBe(
      `claude mcp add --transport http toolgate-${org} ${stack.gatewayUrl}/mcp/${org} --header 'Authorization: Bearer ${rotated}'`,
    );
    await shot(page, 'key-configs-rotated');
  });
});
