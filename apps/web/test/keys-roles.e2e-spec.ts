import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, EVERYTHING, eventually, loginAs, UUID } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

interface McpAnswer {
  status: number;
  session: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: JSON-RPC payloads; each check knows what it expects.
  json: any;
}

/** One JSON-RPC POST to the gateway's Streamable HTTP endpoint; an SSE answer is reduced to its last message. */
async function mcp(url: string, key: string, body: unknown, session?: string): Promise<McpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${key}`,
      ...(session ? { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const data = text
      .split(/\n\n/)
      .map((block) =>
        block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n'),
      )
      .filter(Boolean);
    json = data.length ? JSON.parse(data[data.length - 1]!) : null;
  } else if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  return { status: res.status, session: res.headers.get('mcp-session-id'), json };
}

/** initialize + initialized + tools/call echo with `key`; returns the HTTP status of initialize and the echo text. */
async function callEcho(gatewayUrl: string, org: string, key: string, message: string): Promise<{ init: number; text?: string }> {
  const url = `${gatewayUrl}/mcp/${org}`;
  const init = await mcp(url, key, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'keys-roles-e2e', version: '1' } },
  });
  if (init.status !== 200 || !init.session) return { init: init.status };
  await mcp(url, key, { jsonrpc: '2.0', method: 'notifications/initialized' }, init.session);
  const called = await mcp(
    url,
    key,
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything__echo', arguments: { message } } },
    init.session,
  );
  return { init: init.status, text: called.json?.result?.content?.[0]?.text ?? JSON.stringify(called.json) };
}

const INVALID_RULES = JSON.stringify(
  { tools: [{ effect: 'deny', match: 'everything__echo', constraints: { message: { maxLength: 5 } } }] },
  null,
  2,
);
const VALID_RULES = JSON.stringify(
  {
    tools: [
      { effect: 'allow', match: 'everything__echo', constraints: { message: { maxLength: 20 } } },
      { effect: 'allow', match: 'everything__get-*' },
      { effect: 'deny', match: 'everything__get-env' },
    ],
    rateLimits: [{ scope: 'key', perMinute: 120 }],
  },
  null,
  2,
);

describe('Agent keys and Roles & policies pages', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let member: ApiUser;
  let billing: ApiUser;
  let org: string;
  let ownerCtx: BrowserContext;
  let page: Page;
  let roleId = '';
  let keyId = '';
  let secret = '';

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Acme')).slug;
    [member, billing] = await Promise.all([owner.addMember(org, 'member'), owner.addMember(org, 'billing')]);
    // The servers page is another area's: register and probe server-everything directly.
    const server = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.probe(org, server.id);
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
    page = await ownerCtx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ownerCtx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('shows empty states, then creates a role through the editor: JSON errors locally, policy errors from the API', async () => {
    await page.goto(`/o/${org}/roles`);
    await page.getByText('No roles yet').waitFor();
    await page.getByText('Create a key', { exact: false }).first().waitFor(); // the test panel needs a key first
    await shot(page, 'roles-empty');

    await page.getByRole('link', { name: 'New role' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/roles/new$`));
    // Rules start empty in the builder; the JSON view is one tab away.
    await page.getByRole('tab', { name: 'JSON' }).click();
    expect(await page.getByLabel('Rules (JSON)').inputValue()).toContain('"tools": []');

    await page.getByLabel(/^Name/).fill('support-agent');
    await page.getByLabel('Description (optional)').fill('Reads and echoes; never touches the environment');

    // Broken JSON: explained before anything is sent, and the form view stays closed.
    await page.getByLabel('Rules (JSON)').fill('{ "tools": [ { "effect": "allow", } ] }');
    const parseError = page.getByTestId('rules-parse-error');
    await parseError.waitFor();
    expect(await parseError.textContent()).toMatch(/Not valid JSON — line 1, column \d+/);
    expect(await page.getByRole('tab', { name: 'Form' }).isDisabled()).toBe(true);

    // Valid JSON the API would refuse: flagged with the API's own message before submit, with the rule it is about.
    await page.getByLabel('Rules (JSON)').fill(INVALID_RULES);
    const problems = page.getByTestId('rules-problems');
    await problems.waitFor();
    const problemText = await problems.textContent();
    expect(problemText).toContain('constraints only apply to allow rules');
    expect(problemText).toContain('Tool rule 1');
    expect(problemText).toContain('rules.tools.0.constraints');
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByTestId('submit-blocked').waitFor();
    await shot(page, 'roles-editor-api-error');
    expect((await owner.call('GET', `/v1/orgs/${org}/roles`)).items).toHaveLength(0);

    await page.getByLabel('Rules (JSON)').fill(VALID_RULES);
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/roles/(${UUID})\\?created=1$`));
    roleId = new RegExp(`/roles/(${UUID})`).exec(page.url())![1]!;
    const role = await owner.call('GET', `/v1/orgs/${org}/roles/${roleId}`);
    expect(role).toMatchObject({ name: 'support-agent', description: 'Reads and echoes; never touches the environment' });
    expect(role.rules.tools).toHaveLength(3);
    await page.getByText('Role created').waitFor();
    expect(await page.getByTestId('rules-summary').textContent()).toContain('everything__get-env');
    await shot(page, 'roles-detail-owner');

    await page.goto(`/o/${org}/roles`);
    const row = page.getByTestId('role-row');
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('3 tool rules · 1 rate limit');
  });

  it('creates a key with that role and metadata; the secret is shown once and works on the gateway', async () => {
    await page.goto(`/o/${org}/keys`);
    await page.getByText('No agent keys yet').waitFor();
    await page.getByRole('button', { name: 'New key' }).click();

    // Validation before sending.
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Give the key a name').waitFor();

    await page.getByLabel(/^Name/).fill('support-bot');
    await page.getByRole('checkbox', { name: 'support-agent' }).check();
    await page.getByRole('button', { name: 'Add metadata' }).click();
    await page.getByLabel('Metadata name 1').fill('customer_id');
    await page.getByLabel('Metadata value 1').fill('c-42');
    const expiry = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Expires on (optional)').fill(expiry);
    await shot(page, 'keys-create-form');
    await page.getByRole('button', { name: 'Create key' }).click();

    const secretEl = page.getByTestId('secret-value');
    await secretEl.waitFor();
    secret = (await secretEl.textContent())!.trim();
    expect(secret).toMatch(/^tg_[A-Za-z0-9]{40}$/);
    await page.getByText('copy it now. It will not be shown again').waitFor();
    await page.getByTestId('key-row').waitFor();
    await shot(page, 'keys-secret-once');

    const keys = (await owner.call('GET', `/v1/orgs/${org}/keys`)).items;
    expect(keys).toHaveLength(1);
    keyId = keys[0].id;
    expect(keys[0]).toMatchObject({
      name: 'support-bot',
      prefix: secret.slice(0, 11),
      roles: [{ id: roleId, name: 'support-agent' }],
      metadata: { customer_id: 'c-42' },
      expiresAt: `${expiry}T23:59:59.000Z`,
      status: 'active',
    });

    // The list shows it; the secret is gone once acknowledged and never comes back.
    const row = page.locator(`[data-key-id="${keyId}"]`);
    const rowText = await row.textContent();
    expect(rowText).toContain(secret.slice(0, 11));
    expect(rowText).toContain('support-agent');
    expect(rowText).toContain('customer_id=c-42');
    expect(rowText).toContain('active');
    expect(rowText).toContain('in 30 days');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    expect(await page.getByTestId('secret-value').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);

    // The key really works: an MCP client initializes on the org endpoint and calls an allowed tool.
    const used = await eventually(
      () => callEcho(stack.gatewayUrl, org, secret, 'hello'),
      (r) => r.text === 'Echo: hello',
    );
    expect(used).toEqual({ init: 200, text: 'Echo: hello' });
    await shot(page, 'keys-list');
  });

  it('tests calls in the simulate panel: allowed, denied by a rule, and failing a constraint', async () => {
    await page.goto(`/o/${org}/roles/${roleId}`);
    const panel = page.locator('#test-a-call');
    expect(await panel.getByLabel(/^As key/).inputValue()).toBe(keyId);
    expect(await panel.getByLabel(/^Server/).inputValue()).toBe('everything');

    await panel.getByLabel(/^Tool name/).fill('echo');
    await panel.getByLabel('Arguments (JSON object)').fill('{"message": "hi"}');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await panel.getByTestId('simulate-decision').filter({ hasText: 'Allowed' }).waitFor();
    expect(await panel.getByTestId('simulate-rule').textContent()).toBe('role:support-agent/tools[0]');
    expect(await panel.getByTestId('simulate-reason').textContent()).toBe('Allowed by role:support-agent/tools[0].');
    // The rule behind the decision is shown as written.
    expect(await panel.getByTestId('simulate-result').textContent()).toContain('"maxLength": 20');
    await shot(page, 'roles-simulate-allowed');

    await panel.getByLabel(/^Tool name/).fill('get-env');
    await panel.getByLabel('Arguments (JSON object)').fill('{}');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await panel.getByTestId('simulate-decision').filter({ hasText: 'Denied' }).waitFor();
    expect(await panel.getByTestId('simulate-rule').textContent()).toBe('role:support-agent/tools[2]');
    expect(await panel.getByTestId('simulate-reason').textContent()).toBe(
      'Tool "everything__get-env" is denied by role:support-agent/tools[2].',
    );
    await shot(page, 'roles-simulate-denied');

    // A constraint failure names the argument and the allow rule it failed.
    await panel.getByLabel(/^Tool name/).fill('echo');
    await panel.getByLabel('Arguments (JSON object)').fill('{"message": "this message is far too long for the rule"}');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await panel.getByTestId('simulate-decision').filter({ hasText: 'Denied' }).waitFor();
    await panel.getByTestId('simulate-reason').filter({ hasText: 'message' }).waitFor();
    expect(await panel.getByTestId('simulate-rule').textContent()).toBe('role:support-agent/tools[0]');

    // Bad arguments are caught before sending.
    await panel.getByLabel('Arguments (JSON object)').fill('[1, 2]');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await panel.getByText('Arguments must be a JSON object').waitFor();
  });

  it('edits the key (PATCH) and rotates it: the new secret is shown once and the old one stops working', async () => {
    await page.goto(`/o/${org}/keys/${keyId}`);
    await page.getByLabel(/^Name/).fill('support-bot-2');
    await page.getByLabel('Metadata value 1').fill('c-43');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    expect(await owner.call('GET', `/v1/orgs/${org}/keys/${keyId}`)).toMatchObject({
      name: 'support-bot-2',
      metadata: { customer_id: 'c-43' },
      roles: [{ id: roleId }],
    });
    await shot(page, 'keys-detail');

    await page.goto(`/o/${org}/keys`);
    await page.locator(`[data-key-id="${keyId}"]`).getByRole('button', { name: 'Rotate' }).click();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    const dialog = page.getByTestId('secret-dialog');
    const newSecretEl = dialog.getByTestId('secret-value');
    await newSecretEl.waitFor();
    const rotated = (await newSecretEl.textContent())!.trim();
    expect(rotated).toMatch(/^tg_[A-Za-z0-9]{40}$/);
    expect(rotated).not.toBe(secret);
    await shot(page, 'keys-rotated-secret');
    await dialog.getByRole('button', { name: 'I have stored it' }).click();

    const old = await owner.call('GET', `/v1/orgs/${org}/keys/${keyId}`);
    expect(old.status).toBe('revoked');
    const newId: string = old.rotatedToId;
    const fresh = await owner.call('GET', `/v1/orgs/${org}/keys/${newId}`);
    expect(fresh).toMatchObject({ name: 'support-bot-2', status: 'active', prefix: rotated.slice(0, 11) });
    await page.locator(`[data-key-id="${keyId}"]`).getByText('revoked').waitFor();

    const oldCall = await eventually(
      () => callEcho(stack.gatewayUrl, org, secret, 'x'),
      (r) => r.init === 401,
    );
    expect(oldCall.init).toBe(401);
    const newCall = await eventually(
      () => callEcho(stack.gatewayUrl, org, rotated, 'rotated'),
      (r) => r.text === 'Echo: rotated',
    );
    expect(newCall.text).toBe('Echo: rotated');

    // The old key's page points to its successor.
    await page.goto(`/o/${org}/keys/${keyId}`);
    await page.getByRole('link', { name: 'Open the key that replaced it' }).click();
    await page.waitForURL(new RegExp(`/keys/${newId}$`));

    // Revoke (with confirmation): the gateway refuses the key from then on.
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Revoked', { exact: true }).waitFor();
    expect((await owner.call('GET', `/v1/orgs/${org}/keys/${newId}`)).status).toBe('revoked');
    expect(await page.getByRole('button', { name: 'Rotate' }).count()).toBe(0);
    const revokedCall = await eventually(
      () => callEcho(stack.gatewayUrl, org, rotated, 'x'),
      (r) => r.init === 401,
    );
    expect(revokedCall.init).toBe(401);
    await page.goto(`/o/${org}/keys?status=revoked`);
    expect(await page.getByTestId('key-row').count()).toBe(2);
    await shot(page, 'keys-revoked');
  });

  it('shows the API message when deleting a role in use, then deletes it detached from its keys', async () => {
    const temp = await owner.call('POST', `/v1/orgs/${org}/roles`, { name: 'temp', rules: { prompts: [{ effect: 'allow', match: '*' }] } });
    const holder = await owner.call('POST', `/v1/orgs/${org}/keys`, { name: 'holder', roleIds: [temp.id] });
    await page.goto(`/o/${org}/roles/${temp.id}`);
    await page.getByRole('button', { name: 'Delete role' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Delete role' }).click();
    await dialog.getByText('Role "temp" is used by 1 active key: "holder"').waitFor();
    expect(await dialog.getByRole('alert').textContent()).toContain('tick the box above to detach it');
    await shot(page, 'roles-delete-in-use');
    expect((await owner.call('GET', `/v1/orgs/${org}/roles`)).items).toHaveLength(2);

    await dialog.getByRole('checkbox').check();
    await dialog.getByRole('button', { name: 'Delete role' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/roles$`));
    const left = (await owner.call('GET', `/v1/orgs/${org}/roles`)).items;
    expect(left.map((r: { name: string }) => r.name)).toEqual(['support-agent']);
    expect((await owner.call('GET', `/v1/orgs/${org}/keys/${holder.id}`)).roles).toEqual([]);
    // The list streams in after the navigation: wait for its row before counting.
    await page.getByTestId('role-row').filter({ hasText: 'support-agent' }).waitFor();
    expect(await page.getByTestId('role-row').count()).toBe(1);
  });

  it('gives a member read-only pages (simulate allowed) and a billing member the forbidden page', async () => {
    const activeKey = await owner.call('POST', `/v1/orgs/${org}/keys`, { name: 'member-visible', roleIds: [roleId] });
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, member);
    const p = await ctx.newPage();
    await p.goto(`/o/${org}/keys`);
    await p.getByTestId('keys-table').waitFor();
    await p.getByText('Your role can see keys').waitFor();
    expect(await p.getByRole('button', { name: 'New key' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Rotate' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await shot(p, 'keys-member');
    await p.goto(`/o/${org}/keys/${activeKey.id}`);
    expect(await p.getByRole('button', { name: 'Save changes' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Rotate' }).count()).toBe(0);

    await p.goto(`/o/${org}/roles`);
    await p.getByTestId('roles-table').waitFor();
    expect(await p.getByRole('link', { name: 'New role' }).count()).toBe(0);
    await p.goto(`/o/${org}/roles/${roleId}`);
    await p.getByTestId('rules-summary').waitFor();
    expect(await p.getByLabel('Rules (JSON)').count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Delete role' }).count()).toBe(0);
    // Simulate is a read: members may use it.
    const panel = p.locator('#test-a-call');
    await panel.getByLabel(/^Tool name/).fill('get-sum');
    await panel.getByRole('button', { name: 'Run test' }).click();
    await panel.getByTestId('simulate-decision').filter({ hasText: 'Allowed' }).waitFor();
    expect(await panel.getByTestId('simulate-rule').textContent()).toBe('role:support-agent/tools[1]');
    await shot(p, 'roles-member');
    await p.goto(`/o/${org}/roles/new`);
    await p.getByTestId('forbidden').waitFor();
    await ctx.close();

    const bctx = await newContext(browser, stack.webUrl);
    await loginAs(bctx, billing);
    const b = await bctx.newPage();
    for (const path of [`/o/${org}/keys`, `/o/${org}/roles`, `/o/${org}/roles/${roleId}`, `/o/${org}/keys/${activeKey.id}`]) {
      await b.goto(path);
      await b.getByTestId('forbidden').waitFor();
    }
    await shot(b, 'keys-billing-forbidden');
    await bctx.close();
  });

  it('works at phone width', async () => {
    const ctx = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(ctx, owner);
    const p = await ctx.newPage();
    await p.goto(`/o/${org}/keys`);
    await p.getByTestId('keys-table').waitFor();
    await shot(p, 'keys-phone');
    await p.goto(`/o/${org}/roles/${roleId}`);
    await p.getByTestId('tool-rule').first().waitFor();
    // Nothing sticks out sideways: the page scrolls only vertically.
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(p, 'roles-phone');
    await ctx.close();
  });
});
