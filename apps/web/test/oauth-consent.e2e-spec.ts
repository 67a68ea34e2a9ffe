import { createHash, randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, eventually, loginAs } from './api';
import { launchWith, newContext, shot } from './browser';
import { callbackServer } from './oauth-callback';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

interface AsMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string;
}

/** An OAuth client speaking to the API with plain fetch, as an MCP client would. */
class OAuthClient {
  clientId = '';
  constructor(
    readonly meta: AsMetadata,
    readonly redirectUri: string,
  ) {}

  static async discover(apiUrl: string): Promise<AsMetadata> {
    return (await (await fetch(`${apiUrl}/.well-known/oauth-authorization-server`)).json()) as AsMetadata;
  }

  /** A client whose id is the URL of its metadata document (no registration call). */
  static fromDocument(meta: AsMetadata, clientId: string, redirectUri: string): OAuthClient {
    const c = new OAuthClient(meta, redirectUri);
    c.clientId = clientId;
    return c;
  }

  static async register(apiUrl: string, redirectUri: string, name: string): Promise<OAuthClient> {
    const c = new OAuthClient(await OAuthClient.discover(apiUrl), redirectUri);
    const res = await fetch(c.meta.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: name,
        client_uri: 'https://agent.example/about',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`register → ${res.status}: ${body}`);
    c.clientId = (JSON.parse(body) as { client_id: string }).client_id;
    return c;
  }

  /** GET /authorize with PKCE S256 and a state; answers where the API sends the browser (not followed). */
  async authorize(resource: string | null, scope: string) {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(16).toString('base64url');
    const u = new URL(this.meta.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      scope,
      ...(resource ? { resource } : {}),
    }))
      u.searchParams.set(k, v);
    const res = await fetch(u, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 303 || !location) throw new Error(`authorize → ${res.status}: ${await res.text()}`);
    return { consentUrl: location, verifier, state };
  }

  async token(params: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(this.meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ client_id: this.clientId, ...params }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }
}

/** Every CSP violation the page reports (Chromium logs each one as a console error). */
function violations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

describe('OAuth consent and connected apps', () => {
  let stack: FullStack;
  let browser: Browser;
  let cb: Awaited<ReturnType<typeof callbackServer>>;
  let owner: ApiUser;
  let member: ApiUser;
  let slug: string;
  let resource: string;
  let ownerCtx: BrowserContext;
  let memberCtx: BrowserContext;

  beforeAll(async () => {
    // The metadata-document client is served from loopback, which the SSRF guard refuses unless allowed.
    [stack, browser] = await launchWith(startFullStack({ OAUTH_CLIENT_METADATA_ALLOW_HOSTS: '127.0.0.1' }), (s) => s.close());
    cb = await callbackServer();
    owner = await ApiUser.signup(stack.apiUrl, 'Olga Owner');
    const org = await owner.createOrg('Consent Co');
    slug = org.slug;
    resource = `${stack.gatewayUrl}/mcp/${slug}`;
    await owner.call('POST', `/v1/orgs/${slug}/roles`, {
      name: 'reader',
      description: 'Read-only tools',
      rules: { tools: [{ effect: 'allow', match: '*' }] },
    });
    await owner.call('POST', `/v1/orgs/${slug}/roles`, { name: 'ops', rules: { tools: [{ effect: 'allow', match: '*' }] } });
    member = await owner.addMember(slug, 'member', 'Mo Member');
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
    memberCtx = await newContext(browser, stack.webUrl);
    await loginAs(memberCtx, member);
  }, 180_000);
  afterAll(async () => {
    await cb?.close();
    await browser?.close();
    await stack?.close();
  });

  it('an owner approves with a role; the app gets tokens; revoking it on Connected apps kills the refresh token', async () => {
    const client = await OAuthClient.register(stack.apiUrl, cb.url, 'E2E Agent');
    const { consentUrl, verifier, state } = await client.authorize(resource, 'role:reader');
    const consent = new URL(consentUrl);
    expect(consent.origin).toBe(stack.webUrl);
    expect(consent.pathname).toBe('/oauth/consent');

    const page = await ownerCtx.newPage();
    const seen = violations(page);
    const res = await page.goto(consentUrl);
    // Never framable: a consent page in someone else's frame is a clickjacking target.
    expect(res?.headers()['x-frame-options']).toBe('DENY');
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await page.getByTestId('consent').waitFor();
    expect(await page.getByTestId('client-name').textContent()).toBe('E2E Agent');
    await page.getByTestId('client-dynamic').getByText('self-asserted').waitFor();
    expect(await page.getByTestId('client-home').textContent()).toBe('agent.example');
    expect(await page.getByTestId('redirect-host').textContent()).toBe(new URL(cb.url).host);
    expect(await page.getByTestId('resource').textContent()).toBe(resource);
    // The only org offered is preselected, and so is the role the scope named.
    expect(await page.getByLabel('Organisation').inputValue()).not.toBe('');
    expect(await page.getByRole('checkbox', { name: /reader/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /ops/ }).isChecked()).toBe(false);
    const approve = page.getByRole('button', { name: 'Approve' });
    await page.getByRole('checkbox', { name: /reader/ }).uncheck();
    expect(await approve.isDisabled()).toBe(true);
    await page.getByRole('checkbox', { name: /reader/ }).check();
    expect(await approve.isEnabled()).toBe(true);
    await shot(page, 'oauth-consent-owner');

    await approve.click();
    await page.waitForURL((u) => u.href.startsWith(cb.url));
    expect(seen).toEqual([]);
    expect(cb.hits).toHaveLength(1);
    const hit = cb.hits[0]!;
    expect(hit.get('state')).toBe(state);
    const code = hit.get('code');
    expect(code).toBeTruthy();

    const tokens = await client.token({
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: cb.url,
      code_verifier: verifier,
      resource,
    });
    expect(tokens.status).toBe(200);
    expect(tokens.json).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i), access_token: expect.any(String) });
    const refresh = tokens.json.refresh_token as string;
    expect(refresh).toBeTruthy();

    // The request was used: opening its consent page again says so.
    await page.goto(consentUrl);
    await page.getByTestId('consent-invalid').waitFor();

    await page.goto(`/o/${slug}`);
    await page.getByRole('link', { name: 'Connected apps' }).click();
    await page.waitForURL((u) => u.pathname === `/o/${slug}/apps`);
    const row = page.getByTestId('grant-row').filter({ hasText: 'E2E Agent' });
    await row.waitFor();
    await row.getByText(resource).waitFor();
    await row.getByRole('link', { name: 'reader' }).waitFor();
    await row.getByText(owner.email).waitFor();
    await shot(page, 'oauth-connected-apps');

    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('stop working').waitFor();
    await dialog.getByRole('button', { name: 'Revoke access' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // Gone from the live list; kept, marked revoked and without actions, under "All".
    await row.waitFor({ state: 'detached' });
    await page.getByText('No connected apps').waitFor();
    await page.getByRole('link', { name: 'All, with revoked' }).click();
    await row.getByText('revoked').waitFor();
    expect(await row.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await shot(page, 'oauth-connected-apps-revoked');

    const after = await eventually(
      () => client.token({ grant_type: 'refresh_token', refresh_token: refresh, resource }),
      (r) => r.status !== 200,
    );
    expect(after.status).toBe(400);
    expect(after.json.error).toBe('invalid_grant');
    await page.close();
  });

  it('a member sees why they cannot approve, cannot revoke, and Deny returns access_denied to the app', async () => {
    const client = await OAuthClient.register(stack.apiUrl, cb.url, 'Member Agent');
    const { consentUrl, state } = await client.authorize(resource, 'role:reader');
    const page = await memberCtx.newPage();
    await page.goto(consentUrl);
    await page.getByTestId('consent').waitFor();
    await page.getByText('Only owners and admins can connect apps').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    await shot(page, 'oauth-consent-member');

    // The API refuses too, whatever the page shows.
    const id = new URL(consentUrl).searchParams.get('request')!;
    const roles = (await owner.call('GET', `/v1/orgs/${slug}/roles`)) as { items: { id: string }[] };
    const orgId = ((await owner.call('GET', `/v1/orgs/${slug}`)) as { id: string }).id;
    await member.call('POST', `/v1/oauth/requests/${id}/approve`, { orgId, roleIds: [roles.items[0]!.id] }, [403]);

    const before = cb.hits.length;
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL((u) => u.href.startsWith(cb.url));
    const hit = cb.hits[before]!;
    expect(hit.get('error')).toBe('access_denied');
    expect(hit.get('state')).toBe(state);
    expect(hit.get('code')).toBeNull();

    // Read-only Connected apps: the owner's revoked grant is listed under All, with no actions.
    await page.goto(`/o/${slug}/apps?status=all`);
    await page.getByText('Your role can see connected apps but not revoke them.').waitFor();
    await page.getByTestId('grant-row').filter({ hasText: 'E2E Agent' }).waitFor();
    expect(await page.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await shot(page, 'oauth-connected-apps-member');
    await page.close();
  });
  it('a person in several orgs picks one; a metadata-document client is shown as verified; member and role-less orgs explain themselves', async () => {
    // The owner also belongs to Beta as a member and to Gamma (no roles yet) as an admin.
    const label: Record<string, string> = { 'Consent Co': `Consent Co (${slug})` };
    for (const [name, role] of [
      ['Beta', 'member'],
      ['Gamma', 'admin'],
    ] as const) {
      const other = await ApiUser.signup(stack.apiUrl, `${name} Owner`);
      const o = await other.createOrg(name);
      label[name] = `${name} (${o.slug})`;
      const inv = await other.call('POST', `/v1/orgs/${o.slug}/invitations`, { email: owner.email, role });
      await owner.call('POST', `/v1/invitations/${inv.token}/accept`, {});
    }
    const clientId = `${cb.origin}/oauth/client.json`;
    cb.documents.set('/oauth/client.json', {
      client_id: clientId,
      client_name: 'Documented Agent',
      redirect_uris: [cb.url],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const client = OAuthClient.fromDocument(await OAuthClient.discover(stack.apiUrl), clientId, cb.url);
    // No resource: the person chooses the organisation.
    const { consentUrl, state } = await client.authorize(null, 'role:ops');

    const page = await ownerCtx.newPage();
    await page.goto(consentUrl);
    await page.getByTestId('client-verified').getByText('127.0.0.1').waitFor();
    expect(await page.getByTestId('client-dynamic').count()).toBe(0);
    expect(await page.getByTestId('resource').textContent()).toContain('not named');
    const picker = page.getByLabel('Organisation');
    expect(await picker.inputValue()).toBe('');
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await picker.selectOption({ label: label['Beta'] });
    await page.getByTestId('cannot-grant').getByText('Only owners and admins can connect apps').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await picker.selectOption({ label: label['Gamma'] });
    await page.getByTestId('no-roles').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);

    await picker.selectOption({ label: label['Consent Co'] });
    expect(await page.getByRole('checkbox', { name: /ops/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /reader/ }).isChecked()).toBe(false);
    await shot(page, 'oauth-consent-several-orgs');
    const before = cb.hits.length;
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((u) => u.href.startsWith(cb.url));
    expect(cb.hits[before]?.get('state')).toBe(state);
    expect(cb.hits[before]?.get('code')).toBeTruthy();

    await page.goto(`/o/${slug}/apps`);
    const row = page.getByTestId('grant-row').filter({ hasText: 'Documented Agent' });
    await row.getByRole('link', { name: 'ops' }).waitFor();
    expect(await row.getByRole('link', { name: 'reader' }).count()).toBe(0);
    await page.close();
  });

  it('a request decided in another tab cannot be approved: the page says it can no longer be used', async () => {
    const client = await OAuthClient.register(stack.apiUrl, cb.url, 'Two Tabs Agent');
    const { consentUrl } = await client.authorize(resource, 'role:reader');
    const [first, second] = [await ownerCtx.newPage(), await ownerCtx.newPage()];
    await first.goto(consentUrl);
    await second.goto(consentUrl);
    await first.getByRole('button', { name: 'Deny' }).click();
    await first.waitForURL((u) => u.href.startsWith(cb.url));
    await second.getByRole('button', { name: 'Approve' }).click();
    await second.getByTestId('consent-gone').waitFor();
    await shot(second, 'oauth-consent-already-decided');
    await first.close();
    await second.close();
  });
});
