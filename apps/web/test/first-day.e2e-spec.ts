import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { StreamableHTTPClientTransport } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js';
import { EVERYTHING, eventually, PASSWORD, UUID } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(180_000);

/** Every click, fill, check and select a person makes goes through here, so the test can count them. */
class UiActions {
  readonly log: string[] = [];
  get count(): number {
    return this.log.length;
  }
  async click(target: Locator, what: string): Promise<void> {
    this.log.push(`click ${what}`);
    await target.click();
  }
  async fill(target: Locator, value: string, what: string): Promise<void> {
    this.log.push(`fill ${what}`);
    await target.fill(value);
  }
  async check(target: Locator, what: string): Promise<void> {
    this.log.push(`check ${what}`);
    await target.check();
  }
}

/**
 * A newcomer's first day, timed and counted: sign up → organisation → register server-everything
 * → tick two of its tools into a role → a key with that role → copy the Cursor config → an MCP
 * client configured with exactly that config lists those two tools and calls one.
 */
describe('first day: from sign-up to an agent call', () => {
  let stack: FullStack;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    ctx = await newContext(browser, stack.webUrl);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('takes fewer than 15 UI actions from sign-up to a working Cursor config', async () => {
    const ui = new UiActions();
    const started = Date.now();
    const orgName = uniq('Day One');

    await page.goto('/signup');
    await ui.fill(page.getByLabel('Name'), 'Nina Newcomer', 'name');
    await ui.fill(page.getByLabel('Email'), `${uniq('nina')}@example.test`, 'email');
    await ui.fill(page.getByLabel('Password'), PASSWORD, 'password');
    await ui.click(page.getByRole('button', { name: 'Create account' }), 'Create account');
    await page.waitForURL(/\/orgs$/);
    await ui.fill(page.getByLabel('Organisation name'), orgName, 'organisation name');
    await ui.click(page.getByRole('button', { name: 'Create organisation' }), 'Create organisation');
    await page.waitForURL(/\/o\/[a-z0-9-]+$/);
    const slug = page.url().split('/').pop()!;
    const accountActions = ui.count;

    await ui.click(page.getByRole('link', { name: 'Register an MCP server' }), 'Register an MCP server');
    // One pasted command line: the name follows the package (server-everything → everything).
    await ui.fill(page.getByLabel(/^Command/), `"${process.execPath}" "${EVERYTHING}" stdio`, 'command line');
    await ui.click(page.getByRole('button', { name: 'Register server' }), 'Register server (submit)');
    await page.waitForURL(new RegExp(`/o/${slug}/servers/${UUID}$`));

    // The server page probes a new server itself; its catalogue gives ticked tools to an agent.
    await ui.check(page.getByRole('checkbox', { name: 'Give echo to an agent' }), 'tick echo');
    await ui.check(page.getByRole('checkbox', { name: 'Give get-sum to an agent' }), 'tick get-sum');
    await shot(page, 'first-day-catalogue');
    await ui.click(page.getByRole('button', { name: 'Give an agent these 2 tools' }), 'Give an agent these 2 tools');
    const handoff = page.getByTestId('role-key');
    await ui.click(handoff.getByRole('tab', { name: 'Cursor' }), 'Cursor tab');
    await ui.click(handoff.getByRole('button', { name: /^Copy Cursor config/ }), 'Copy Cursor config');
    const shown = (await handoff.getByTestId('client-config-text').textContent())!;
    // The clipboard holds what was copied; where headless Chromium refuses to read it, the text it was copied from.
    const clipboard = await page.evaluate(() => navigator.clipboard.readText()).catch(() => null);
    const copied = clipboard ?? shown;
    expect(copied).toBe(shown);
    await shot(page, 'first-day-key');
    const funnelActions = ui.count - accountActions;
    const seconds = (Date.now() - started) / 1000;

    const entry = JSON.parse(copied).mcpServers[`toolgate-${slug}`];
    expect(Object.keys(entry).sort()).toEqual(['headers', 'url']);
    const connect = async () => {
      const client = new Client({ name: 'cursor-like', version: '1' }, { capabilities: {} });
      await client.connect(new StreamableHTTPClientTransport(new URL(entry.url), { requestInit: { headers: entry.headers } }));
      return client;
    };
    const client = await eventually(
      () => connect().catch(() => null),
      (c) => c !== null,
    );
    try {
      const tools = (await client!.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual(['everything__echo', 'everything__get-sum']);
      const res = await client!.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(res.content)).toContain('5');
    } finally {
      await client!.close();
    }

    console.log(
      `first day (Cursor config read from ${clipboard === null ? 'the page, the clipboard being unreadable' : 'the clipboard'}): ${ui.count} UI actions (${accountActions} for account and organisation, ${funnelActions} from there), ${seconds.toFixed(1)} s in the browser:\n  ${ui.log.join('\n  ')}`,
    );
    expect(ui.count).toBeLessThan(15);
    // The role it made is an ordinary one: named after the server, editable in the builder.
    await page.goto(`/o/${slug}/roles`);
    await page.getByRole('link', { name: 'everything-agent' }).waitFor();
  });
});
