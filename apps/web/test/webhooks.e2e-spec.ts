import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Browser, BrowserContext } from 'playwright-core';
import { ApiUser, connectAgent, EVERYTHING, eventually, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(180_000);

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local SIEM: records every request and answers 200. */
function startReceiver(): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, got, server })),
  );
}

/** The webhooks page: audit webhooks (secret once, deliveries) and the quota alert URL, by role. */
describe('webhooks page', () => {
  let stack: FullStack;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let owner: ApiUser;
  let member: ApiUser;
  let billing: ApiUser;
  let slug: string;
  let key: string;
  let ownerCtx: BrowserContext;
  let secret = '';

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack({ AUDIT_WEBHOOK_INTERVAL_MS: '300' }), (s) => s.close());
    receiver = await startReceiver();
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    slug = (await owner.createOrg('Hooks Co')).slug;
    await owner.call('POST', `/v1/orgs/${slug}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
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
    await new Promise((r) => receiver?.server.close(r));
  });

  it('creates an audit webhook from the sidebar and shows its signing secret once', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}`);
    await page.getByRole('navigation', { name: 'Organisation' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL(new RegExp(`/o/${slug}/webhooks$`));
    await page.getByText('No audit webhooks yet').waitFor();

    // A bad URL is marked on its field.
    await page.getByLabel('Receiver URL').fill('ftp://siem.example/x');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.locator('#webhook-url-hint.field-error').waitFor();
    expect(await page.getByLabel('Receiver URL').getAttribute('aria-invalid')).toBe('true');

    await page.getByLabel('Receiver URL').fill(`${receiver.url}/siem`);
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const value = page.getByTestId('secret-value');
    await value.waitFor();
    secret = (await value.textContent()) ?? '';
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);
    await page.getByRole('button', { name: /^Copy/ }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await page.getByText('How to verify a delivery').click();
    await page.getByTestId('verify-signature').getByText('HMAC-SHA256').waitFor();
    await shot(page, 'webhooks-secret-once');

    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByTestId('audit-webhook').waitFor();
    expect(await page.getByTestId('secret-value').count()).toBe(0);
    await page.reload();
    await page.getByTestId('audit-webhook').waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.close();
  });

  it('delivers audit events to the receiver, signed, and lists the delivery with its status', async () => {
    const agent = await connectAgent(stack.gatewayUrl, slug, key, 'webhooks-e2e');
    await agent.callTool({ name: 'everything__echo', arguments: { message: 'to the SIEM' } });
    await agent.close();

    // The session's initialize may arrive in an earlier delivery than the call: wait for the call.
    const got = await eventually(
      async () => receiver.got.filter((r) => r.path === '/siem'),
      (g) => g.some((r) => r.body.includes('"method":"tools/call"')),
      30_000,
    );
    expect(got.map((r) => r.body).join('')).toContain('"method":"tools/call"');
    for (const r of got) {
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-toolgate-signature'])) ?? [];
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${r.body}`).digest('hex'));
      expect(r.headers['x-toolgate-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    }

    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/webhooks`);
    const rows = page.getByTestId('deliveries').locator('tbody tr');
    await eventually(
      async () => {
        await page.reload();
        return page.getByTestId('deliveries').count();
      },
      (n) => n > 0,
      20_000,
    );
    expect(await rows.first().textContent()).toMatch(/Delivered.*HTTP 200/);
    await shot(page, 'webhooks-deliveries');
    await page.close();

    const phone = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(phone, owner);
    const small = await phone.newPage();
    await small.goto(`/o/${slug}/webhooks`);
    await small.getByTestId('deliveries').waitFor();
    expect(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(small, 'webhooks-phone');
    await phone.close();
  });

  it('saves the quota alert webhook, marks a bad URL on its field', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/webhooks`);
    const field = page.getByLabel('Alert URL');
    await field.fill('https://user:pw@alerts.example/x');
    await page.getByRole('button', { name: 'Save alert URL' }).click();
    await page.locator('#quota-webhook-hint.field-error').waitFor();
    expect(await page.locator('#quota-webhook-hint').textContent()).toMatch(/credentials/);

    await field.fill(`${receiver.url}/quota`);
    await page.getByRole('button', { name: 'Save alert URL' }).click();
    await page.getByText('Quota alert webhook saved.').waitFor();
    expect((await owner.call('GET', `/v1/orgs/${slug}/billing`)).alertWebhookUrl).toBe(`${receiver.url}/quota`);
    await page.reload();
    expect(await page.getByLabel('Alert URL').inputValue()).toBe(`${receiver.url}/quota`);
    await shot(page, 'webhooks-quota-alert');
    await page.close();
  });

  it('a member reads audit webhooks but cannot add or delete; a billing member sees only the quota alert form', async () => {
    const memberCtx = await newContext(browser, stack.webUrl);
    await loginAs(memberCtx, member);
    const page = await memberCtx.newPage();
    await page.goto(`/o/${slug}/webhooks`);
    await page.getByTestId('audit-webhook').waitFor();
    expect(await page.getByRole('button', { name: 'Add webhook' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    expect(await page.getByLabel('Alert URL').count()).toBe(0);
    await page.getByText('The quota alert webhook is set by owners and billing members.').waitFor();
    // The API refuses it too.
    await member.call('POST', `/v1/orgs/${slug}/audit/webhooks`, { url: 'https://x.example/h' }, [403]);
    await memberCtx.close();

    const billingCtx = await newContext(browser, stack.webUrl);
    await loginAs(billingCtx, billing);
    const b = await billingCtx.newPage();
    await b.goto(`/o/${slug}/webhooks`);
    expect(await b.getByLabel('Alert URL').inputValue()).toBe(`${receiver.url}/quota`);
    expect(await b.getByText('Audit log webhooks').count()).toBe(0);
    expect(await b.content()).not.toContain('/siem');
    await billingCtx.close();
  });

  it('deletes an audit webhook after confirmation', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/webhooks`);
    await page.getByTestId('audit-webhook').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByText('No audit webhooks yet').waitFor();
    expect((await owner.call('GET', `/v1/orgs/${slug}/audit/webhooks`)).items).toEqual([]);
    await page.close();
  });
});
