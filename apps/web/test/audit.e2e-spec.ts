import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { ApiUser, connectAgent, EVERYTHING, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// The root Jest config runs projects, where a project's testTimeout is not applied.
jest.setTimeout(120_000);

const HEX64 = /^[0-9a-f]{64}$/;

interface AuditItem {
  id: string;
  seq: number;
  target: string | null;
  method: string;
  decision: string;
  outcome: string;
}

const mcp = (stack: FullStack, slug: string, key: string): Promise<Client> =>
  connectAgent(stack.gatewayUrl, slug, key, 'audit-e2e', '2.1.0');

const row = (page: Page, target: string) => page.locator(`[data-testid="audit-row"][data-target="${target}"]`);

describe('audit log page', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let member: ApiUser;
  let billing: ApiUser;
  let slug: string;
  let agentKey: string;
  let ownerCtx: BrowserContext;
  /** The allowed echo call, as the API lists it. */
  let echo: AuditItem;
  let denied: AuditItem;
  const marker = `hello audit ${Date.now()}`;

  const list = (query = '') => owner.call<{ items: AuditItem[]; nextCursor: string | null }>('GET', `/v1/orgs/${slug}/audit${query}`);

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    const org = await owner.createOrg('Audit Co');
    slug = org.slug;
    await owner.call('POST', `/v1/orgs/${slug}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    const role = await owner.call('POST', `/v1/orgs/${slug}/roles`, {
      name: 'agents',
      rules: {
        tools: [
          { effect: 'deny', match: 'everything__get-env' },
          { effect: 'allow', match: '*' },
        ],
      },
    });
    agentKey = (await owner.call('POST', `/v1/orgs/${slug}/keys`, { name: 'ci-agent', roleIds: [role.id] })).key;
    member = await owner.addMember(slug, 'member');
    billing = await owner.addMember(slug, 'billing');
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows calls through the gateway as they happen, without a reload (allowed and denied)', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    // The socket is up before any call is made.
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('live-status').textContent()).toContain('Live');
    expect(await row(page, 'echo').count()).toBe(0);
    // Anything that reloads the page would drop this flag.
    await page.evaluate(() => {
      (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });

    const client = await mcp(stack, slug, agentKey);
    try {
      const res = await client.callTool({ name: 'everything__echo', arguments: { message: marker } });
      expect(JSON.stringify(res.content)).toContain(marker);
      await expect(client.callTool({ name: 'everything__get-env', arguments: {} })).rejects.toThrow(/denied/i);
    } finally {
      await client.close();
    }

    // The worker stores them; the socket brings them into the open page.
    await row(page, 'echo').first().waitFor({ timeout: 30_000 });
    await row(page, 'get-env').first().waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    // The chain status (checked when the page opened) says it is behind.
    expect(await page.getByTestId('chain-since').textContent()).toMatch(/new events? since this check/);

    const items = (await list('?method=tools/call')).items;
    echo = items.find((i) => i.target === 'echo')!;
    denied = items.find((i) => i.target === 'get-env')!;
    expect(echo).toMatchObject({ decision: 'allow', outcome: 'ok' });
    expect(denied).toMatchObject({ decision: 'deny', outcome: 'denied' });

    const echoRow = row(page, 'echo').first();
    expect(await echoRow.getAttribute('data-id')).toBe(echo.id);
    const echoText = (await echoRow.textContent()) ?? '';
    for (const s of ['tools/call', 'ci-agent', 'everything', 'allow', 'ok', `#${echo.seq}`]) expect(echoText).toContain(s);
    const deniedText = (await row(page, 'get-env').first().textContent()) ?? '';
    for (const s of ['deny', 'denied', 'ci-agent']) expect(deniedText).toContain(s);
    // Newest first: the denial came after the echo.
    const ids = await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    expect(ids.indexOf(denied.id)).toBeLessThan(ids.indexOf(echo.id));
    await shot(page, 'audit-table');
    await page.close();
  });

  it('filters by decision through the URL, and says so when nothing matches', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    await page.getByLabel('Decision').selectOption('deny');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((u) => u.searchParams.get('decision') === 'deny');
    await row(page, 'get-env').first().waitFor();
    const decisions = await page
      .locator('[data-testid="audit-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-decision')));
    expect(new Set(decisions)).toEqual(new Set(['deny']));
    expect(await row(page, 'echo').count()).toBe(0);
    // The page shows exactly what the API answers for the same filter.
    const api = (await list('?decision=deny')).items.map((i) => i.id);
    const shown = await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    expect(shown).toEqual(api);
    expect(await page.getByLabel('Decision').inputValue()).toBe('deny');
    await shot(page, 'audit-filtered-deny');

    // A filter by tool and outcome that matches nothing: the empty state, not an empty table.
    await page.goto(`/o/${slug}/audit?target=echo&outcome=timeout`);
    await page.getByText('No events match these filters').waitFor();
    expect(await page.getByTestId('audit-table').count()).toBe(0);
    // An invalid range is caught before anything is sent.
    await page.getByLabel('From (UTC)').fill('2026-05-02T10:00');
    await page.getByLabel('To (UTC)').fill('2026-05-01T10:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain('The end must be after the start');
    expect(new URL(page.url()).searchParams.get('from')).toBeNull();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForURL((u) => u.search === '');
    await row(page, 'echo').first().waitFor();
    await page.close();
  });

  it('opens one event with its redacted arguments, decision, rule, latency and hashes', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    await row(page, 'echo')
      .first()
      .getByRole('link', { name: /^Event #/ })
      .click();
    await page.waitForURL(new RegExp(`/audit/${echo.id}$`));
    await page.getByTestId('audit-arguments').waitFor();
    const full = await owner.call('GET', `/v1/orgs/${slug}/audit/${echo.id}`);
    const args = await page.getByTestId('audit-arguments').textContent();
    expect(JSON.parse(args!)).toEqual({ message: marker });
    const hash = await page.getByTestId('audit-hash').textContent();
    const prev = await page.getByTestId('audit-prev-hash').textContent();
    expect(hash).toMatch(HEX64);
    expect(prev).toMatch(HEX64);
    expect({ hash, prev }).toEqual({ hash: full.hash, prev: full.prevHash });
    expect(await page.getByTestId('audit-seq').textContent()).toBe(`#${echo.seq}`);
    const detail = (await page.getByTestId('audit-detail').textContent()) ?? '';
    for (const s of ['ci-agent', 'everything', 'tools/call', 'echo', 'allow', full.rule, 'ok', 'audit-e2e 2.1.0', ' ms']) {
      expect(detail).toContain(s);
    }
    await shot(page, 'audit-detail');

    // The denied call names its rule and error.
    await page.goto(`/o/${slug}/audit/${denied.id}`);
    const deniedDetail = (await page.getByTestId('audit-detail').textContent()) ?? '';
    expect(deniedDetail).toContain('role:agents/tools[0]');
    expect(await page.getByTestId('audit-error').textContent()).toMatch(/denied/i);

    // An id that is not there (or not an id) is the not-found page.
    await page.goto(`/o/${slug}/audit/00000000-0000-4000-8000-000000000000`);
    await page.getByTestId('not-found').waitFor();
    await page.goto(`/o/${slug}/audit/not-an-id`);
    await page.getByTestId('not-found').waitFor();
    await page.close();
  });

  it('shows the chain as verified up to its head', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    await page.locator('[data-testid="chain-status"][data-state="valid"]').waitFor();
    const verify = await owner.call('GET', `/v1/orgs/${slug}/audit/verify`);
    expect(verify.valid).toBe(true);
    const text = (await page.getByTestId('chain-status').textContent()) ?? '';
    expect(text).toContain(`Verified up to #${verify.headSeq}`);
    expect(text).toContain(verify.headHash);
    await page.close();
  });

  it('exports the chain as NDJSON with hashes', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export').click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^audit-${slug}-.*\\.ndjson$`));
    const lines = readFileSync((await download.path())!, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; id?: string; hash?: string; prevHash?: string; seq?: number; complete?: boolean });
    expect(lines[0]!.type).toBe('header');
    expect(lines.at(-1)).toMatchObject({ type: 'end', complete: true });
    const events = lines.filter((l) => l.type === 'event');
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const e of events) {
      expect(e.hash).toMatch(HEX64);
      expect(e.prevHash).toMatch(HEX64);
    }
    // Each line links to the previous one.
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    expect(events.map((e) => e.id)).toEqual(expect.arrayContaining([echo.id, denied.id]));
    await page.close();
  });

  it('pages to older events and back; live updates pause on older pages', async () => {
    const client = await mcp(stack, slug, agentKey);
    try {
      for (let i = 0; i < 50; i++) await client.callTool({ name: 'everything__get-sum', arguments: { a: i, b: 1 } });
    } finally {
      await client.close();
    }
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/audit?method=tools/call`);
    // Wait until the worker has stored all of them.
    for (let i = 0; i < 60; i++) {
      const sums = (await list('?method=tools/call&target=get-sum&limit=100')).items.length;
      if (sums === 50) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.reload();
    expect(await page.locator('[data-testid="audit-row"]').count()).toBe(50);
    await page.getByRole('link', { name: 'Older →' }).click();
    await page.waitForURL((u) => !!u.searchParams.get('cursor'));
    expect(new URL(page.url()).searchParams.get('method')).toBe('tools/call');
    await row(page, 'echo').first().waitFor();
    expect(await page.getByTestId('live-status').getAttribute('data-state')).toBe('paused');
    await page.getByRole('link', { name: '← Newest' }).click();
    await page.waitForURL((u) => !u.searchParams.get('cursor'));
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
    await page.close();
  });

  it('says so when live updates cannot connect, retries with backoff, and recovers', async () => {
    const page = await ownerCtx.newPage();
    let blocked = true;
    // An API whose WebSocket drops every connection until `blocked` is lifted.
    await page.routeWebSocket(/\/v1\/live/, (ws) => {
      if (blocked) ws.close({ code: 1011, reason: 'test outage' });
      else ws.connectToServer();
    });
    await page.goto(`/o/${slug}/audit?target=echo`);
    await page.getByTestId('live-fallback').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('live-fallback').textContent()).toMatch(
      /Live updates are not available right now.*Trying again in \d+ s/,
    );
    expect(await page.getByTestId('live-status').getAttribute('data-state')).toBe('retrying');
    await shot(page, 'audit-live-fallback');
    blocked = false;
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('live-fallback').count()).toBe(0);
    // And events flow again.
    const before = await row(page, 'echo').count();
    const client = await mcp(stack, slug, agentKey);
    try {
      await client.callTool({ name: 'everything__echo', arguments: { message: 'after the outage' } });
    } finally {
      await client.close();
    }
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="audit-row"][data-target="echo"]').length > n, before, {
      timeout: 30_000,
    });
    await page.close();
  });

  it('lets a member read the log at phone width, and shows billing the forbidden page', async () => {
    const memberCtx = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(memberCtx, member);
    const page = await memberCtx.newPage();
    await page.goto(`/o/${slug}/audit`);
    await row(page, 'get-sum').first().waitFor();
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
    await page.locator('[data-testid="chain-status"][data-state="valid"]').waitFor();
    // The table scrolls inside its wrapper; the page itself does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    // A short page for the artifact: the calls of the first test.
    await page.goto(`/o/${slug}/audit?method=tools%2Fcall&serverId=&target=echo`);
    await row(page, 'echo').first().waitFor();
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
    await shot(page, 'audit-phone');
    await page.goto(`/o/${slug}/audit/${echo.id}`);
    await page.getByTestId('audit-arguments').waitFor();
    expect(JSON.parse((await page.getByTestId('audit-arguments').textContent())!)).toEqual({ message: marker });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await shot(page, 'audit-detail-phone');
    await memberCtx.close();

    const billingCtx = await newContext(browser, stack.webUrl);
    await loginAs(billingCtx, billing);
    const bp = await billingCtx.newPage();
    await bp.goto(`/o/${slug}`);
    await bp.getByRole('link', { name: 'Usage' }).waitFor();
    expect(await bp.getByRole('link', { name: 'Audit log' }).count()).toBe(0); // not in billing's menu
    await bp.goto(`/o/${slug}/audit`);
    await bp.getByTestId('forbidden').waitFor();
    expect(await bp.getByTestId('audit-table').count()).toBe(0);
    await bp.goto(`/o/${slug}/audit/${echo.id}`);
    await bp.getByTestId('forbidden').waitFor();
    expect(await bp.getByText(marker).count()).toBe(0);
    // Nor can billing get a live ticket through the BFF.
    const ticket = await bp.evaluate(async (s) => {
      const r = await fetch(`/api/v1/orgs/${s}/audit/live-ticket`, { method: 'POST', headers: { accept: 'application/json' } });
      return r.status;
    }, slug);
    expect(ticket).toBe(403);
    await shot(bp, 'audit-billing-forbidden');
    await billingCtx.close();
  });
});
