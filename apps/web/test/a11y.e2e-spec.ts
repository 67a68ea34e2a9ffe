import { createHash, randomBytes } from 'node:crypto';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, connectAgent, EVERYTHING, eventually, loginAs, PASSWORD } from './api';
import { launchWith, newContext, signUpAndCreateOrg } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

const ADMIN_MIRROR_SOON = { AUDIT_ACTIVITY_SETTLE_MS: '1000', AUDIT_ACTIVITY_INTERVAL_MS: '500' };

/** Ids of what the pages show, made once in beforeAll. */
interface Fixture {
  org: string;
  serverId: string;
  roleId: string;
  keyId: string;
  callEventId: string;
  adminEventId: string;
  invitationToken: string;
  consentPath: string;
}

interface A11yPage {
  name: string;
  path: (f: Fixture) => string;
  /** Visited without a session (sign-up, login, an invitation link). */
  anonymous?: true;
  /** Brings the page into the state worth checking (a menu opened, a section expanded). */
  prepare?: (page: Page) => Promise<void>;
}

/**
 * Every page of the dashboard (apps/web/src/app), one line each: a new page is one more line here.
 * Detail pages use the fixture's ids; the 404 page is reached through an unknown org path.
 */
const PAGES: A11yPage[] = [
  { name: 'login', path: () => '/login', anonymous: true },
  { name: 'signup', path: () => '/signup', anonymous: true },
  { name: 'invitation', path: (f) => `/invitations/${f.invitationToken}`, anonymous: true },
  { name: 'orgs', path: () => '/orgs' },
  { name: 'oauth consent', path: (f) => f.consentPath },
  { name: 'overview', path: (f) => `/o/${f.org}` },
  { name: 'overview, menu open', path: (f) => `/o/${f.org}`, prepare: openMenuOnPhone },
  { name: 'servers', path: (f) => `/o/${f.org}/servers` },
  { name: 'server new', path: (f) => `/o/${f.org}/servers/new` },
  { name: 'servers import', path: (f) => `/o/${f.org}/servers/import` },
  { name: 'server', path: (f) => `/o/${f.org}/servers/${f.serverId}` },
  { name: 'server edit', path: (f) => `/o/${f.org}/servers/${f.serverId}/edit` },
  { name: 'secrets', path: (f) => `/o/${f.org}/secrets` },
  { name: 'roles', path: (f) => `/o/${f.org}/roles` },
  { name: 'role new', path: (f) => `/o/${f.org}/roles/new` },
  { name: 'role', path: (f) => `/o/${f.org}/roles/${f.roleId}` },
  { name: 'keys', path: (f) => `/o/${f.org}/keys` },
  { name: 'key', path: (f) => `/o/${f.org}/keys/${f.keyId}` },
  { name: 'apps', path: (f) => `/o/${f.org}/apps` },
  { name: 'audit', path: (f) => `/o/${f.org}/audit` },
  { name: 'audit call event', path: (f) => `/o/${f.org}/audit/${f.callEventId}` },
  { name: 'audit admin event', path: (f) => `/o/${f.org}/audit/${f.adminEventId}` },
  { name: 'activity', path: (f) => `/o/${f.org}/activity`, prepare: openFirstDiff },
  { name: 'usage', path: (f) => `/o/${f.org}/usage` },
  { name: 'billing', path: (f) => `/o/${f.org}/billing` },
  { name: 'members', path: (f) => `/o/${f.org}/members` },
  { name: 'tokens', path: (f) => `/o/${f.org}/tokens` },
  { name: 'webhooks', path: (f) => `/o/${f.org}/webhooks` },
  { name: 'settings', path: (f) => `/o/${f.org}/settings` },
  { name: 'not found', path: (f) => `/o/${f.org}/servers/00000000-0000-4000-8000-000000000000` },
];

const VIEWPORTS = [
  { name: 'desktop', phone: false },
  { name: 'phone', phone: true },
] as const;

/** WCAG 2.0–2.2 A and AA, plus axe's best practices (landmarks, headings); only serious and critical fail. */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

async function openMenuOnPhone(page: Page): Promise<void> {
  const toggle = page.getByRole('button', { name: 'Menu' });
  if (await toggle.isVisible()) await toggle.click();
}

async function openFirstDiff(page: Page): Promise<void> {
  const summary = page.locator('[data-testid="activity-row"] details summary').first();
  if (await summary.count()) await summary.click();
}

/** The serious and critical violations on the page, one readable paragraph each ('' when none). */
async function seriousViolations(page: Page): Promise<string> {
  const { violations } = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 5)
        .map((n) => `    at ${n.target.join(' ')}\n      ${(n.failureSummary ?? '').replace(/\n/g, '\n      ')}`);
      const more = v.nodes.length > 5 ? [`    … and ${v.nodes.length - 5} more`] : [];
      return [`${v.impact} ${v.id}: ${v.help} (${v.helpUrl})`, ...nodes, ...more].join('\n');
    })
    .join('\n\n');
}

/** Starts an OAuth authorization as a dynamically registered client; answers the consent page's path. */
async function consentPath(apiUrl: string, resource: string): Promise<string> {
  const meta = (await (await fetch(`${apiUrl}/.well-known/oauth-authorization-server`)).json()) as {
    authorization_endpoint: string;
    registration_endpoint: string;
  };
  const redirect = 'http://127.0.0.1:9/callback';
  const reg = await fetch(meta.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'A11y Agent',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  if (reg.status !== 201) throw new Error(`register → ${reg.status}: ${await reg.text()}`);
  const { client_id } = (await reg.json()) as { client_id: string };
  const u = new URL(meta.authorization_endpoint);
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id,
    redirect_uri: redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'a11y',
    scope: 'role:echoer',
    resource,
  }))
    u.searchParams.set(k, v);
  const res = await fetch(u, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (!location) throw new Error(`authorize → ${res.status}: ${await res.text()}`);
  const consent = new URL(location);
  return consent.pathname + consent.search;
}

describe('Accessibility (axe) of every dashboard page', () => {
  let stack: FullStack;
  let browser: Browser;
  const f = {} as Fixture;
  const contexts = new Map<string, BrowserContext>();

  beforeAll(async () => {
    // Admin actions reach the audit chain once settled (30 s by default): sooner here.
    [stack, browser] = await launchWith(startFullStack(ADMIN_MIRROR_SOON), (s) => s.close());
    // Sign up and create the org in the browser, as a newcomer does; the rest through the API.
    const email = `${uniq('a11y')}@example.test`;
    const signup = await newContext(browser, stack.webUrl);
    const p = await signup.newPage();
    await p.goto('/signup');
    f.org = uniq('a11y');
    await signUpAndCreateOrg(p, { name: 'Ada Access', email, password: PASSWORD }, { name: 'Access Co', slug: f.org });
    await signup.close();
    const owner = await ApiUser.login(stack.apiUrl, email);
    const o = `/v1/orgs/${f.org}`;

    const server = await owner.call('POST', `${o}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    f.serverId = server.id;
    await owner.probe(f.org, server.id);
    await owner.call('PUT', `${o}/secrets/API_TOKEN`, { value: 'a11y-secret-value' });
    const role = await owner.call('POST', `${o}/roles`, {
      name: 'echoer',
      description: 'Echo only',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    f.roleId = role.id;
    const key = await owner.call('POST', `${o}/keys`, { name: 'a11y-agent', roleIds: [role.id], metadata: { team: 'qa' } });
    f.keyId = key.id;
    await owner.call('PATCH', `${o}/keys/${key.id}`, { name: 'a11y-agent-renamed' });
    await owner.call('POST', `${o}/tokens`, { name: 'ci', scopes: ['read'], expiresInDays: 30 });
    f.invitationToken = (await owner.call('POST', `${o}/invitations`, { email: `${uniq('guest')}@example.test`, role: 'member' })).token;

    // Some usage: allowed and denied calls through the gateway.
    // The gateway learns of the new key from its next snapshot: retry until it lets the agent in.
    const agent = (await eventually(
      () => connectAgent(stack.gatewayUrl, f.org, key.key, 'a11y-client').catch(() => null),
      (c) => c !== null,
      20_000,
    ))!;
    for (const m of ['one', 'two', 'three']) await agent.callTool({ name: 'everything__echo', arguments: { message: m } });
    await agent.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }).catch(() => undefined);
    await agent.close();
    const calls = await eventually(
      () => owner.call('GET', `${o}/audit?method=tools/call&limit=1`),
      (r) => r.items.length > 0,
      20_000,
    );
    f.callEventId = calls.items[0].id;
    const admin = await eventually(
      () => owner.call('GET', `${o}/audit?method=admin.key.updated&limit=1`),
      (r) => r.items.length > 0,
      20_000,
    );
    f.adminEventId = admin.items[0].id;
    await eventually(
      () => owner.call('GET', `${o}/usage?groupBy=day`),
      (r) => r.totals.calls > 0,
      20_000,
    );
    f.consentPath = await consentPath(stack.apiUrl, `${stack.gatewayUrl}/mcp/${f.org}`);

    for (const v of VIEWPORTS) {
      const anon = await newContext(browser, stack.webUrl, { phone: v.phone });
      contexts.set(`${v.name}/anonymous`, anon);
      const ctx = await newContext(browser, stack.webUrl, { phone: v.phone });
      await loginAs(ctx, owner);
      contexts.set(v.name, ctx);
    }
  }, 240_000);

  afterAll(async () => {
    for (const ctx of contexts.values()) await ctx.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
  });

  describe.each(VIEWPORTS)('at $name width', (viewport) => {
    it.each(PAGES)('$name has no serious or critical violations', async (target) => {
      const ctx = contexts.get(target.anonymous ? `${viewport.name}/anonymous` : viewport.name)!;
      const page = await ctx.newPage();
      try {
        const res = await page.goto(target.path(f));
        expect(res?.status()).toBeLessThan(500);
        await page.locator('main').first().waitFor();
        // Loading skeletons (loading.tsx) give way to the page before it is checked.
        await page.waitForFunction(() => !document.querySelector('.skeleton'));
        await target.prepare?.(page);
        const report = await seriousViolations(page);
        if (report) throw new Error(`${target.name} (${viewport.name}, ${page.url()}):\n${report}`);
      } finally {
        await page.close();
      }
    });
  });
});
