import type { Browser, BrowserContext } from 'playwright-core';
import type { ConsentRequestView } from '../../../packages/contracts/src/oauth';
import { launchWith, newContext, shot } from './browser';
import { fakeOAuthApi, startWeb } from './fake-oauth-api';
import { callbackServer } from './oauth-callback';

jest.setTimeout(120_000);

const OWNER = { email: 'olive@example.test', name: 'Olive Owner' };

function view(over: Partial<ConsentRequestView>): ConsentRequestView {
  return {
    id: 'r1',
    client: { id: 'c1', name: 'Agent', uri: null, logoUri: null, registration: 'dynamic' },
    redirectUri: 'http://127.0.0.1:1/callback',
    resource: null,
    scope: null,
    orgs: [],
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    ...over,
  };
}

const role = (id: string, name: string) => ({ id, name, description: null });
const ORGS: ConsentRequestView['orgs'] = [
  { id: 'org-a', slug: 'alpha', name: 'Alpha', memberRole: 'owner', canGrant: true, roles: [role('ra1', 'reader'), role('ra2', 'ops')] },
  { id: 'org-b', slug: 'beta', name: 'Beta', memberRole: 'member', canGrant: false, roles: [role('rb1', 'reader')] },
  { id: 'org-c', slug: 'gamma', name: 'Gamma', memberRole: 'admin', canGrant: true, roles: [] },
];

/** The consent page's own branches, against a stand-in API (see fake-oauth-api.ts). */
describe('consent page (stand-in API)', () => {
  const api = fakeOAuthApi([OWNER]);
  let web: Awaited<ReturnType<typeof startWeb>>;
  let browser: Browser;
  let cb: Awaited<ReturnType<typeof callbackServer>>;
  let ctx: BrowserContext;

  beforeAll(async () => {
    const apiUrl = await api.start();
    cb = await callbackServer();
    [web, browser] = await launchWith(startWeb(apiUrl), (w) => w.close());
    ctx = await newContext(browser, web.webUrl);
    const page = await ctx.newPage();
    await page.goto('/login');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('anything at all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.close();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await cb?.close();
    await api.close();
  });

  it('with several orgs, none is preselected; roles follow the chosen org and its scope; a member role explains itself', async () => {
    api.requests.set('multi', {
      views: {
        [OWNER.email]: view({
          id: 'multi',
          client: {
            id: 'https://client.example/oauth.json',
            name: 'Verified Agent',
            uri: 'https://client.example',
            logoUri: null,
            registration: 'metadata-document',
          },
          redirectUri: cb.url,
          scope: 'role:ops',
          orgs: ORGS,
        }),
      },
      outcome: (kind) => ({ redirectTo: `${cb.url}?${kind === 'approve' ? 'code=c0de' : 'error=access_denied'}&state=s1` }),
    });
    const page = await ctx.newPage();
    await page.goto('/oauth/consent?request=multi');
    await page.getByTestId('client-verified').getByText('client.example').waitFor();
    expect(await page.getByTestId('client-dynamic').count()).toBe(0);
    expect(await page.getByTestId('resource').textContent()).toContain('not named');
    expect(await page.getByLabel('Organisation').inputValue()).toBe('');
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await page.getByLabel('Organisation').selectOption('org-b');
    await page.getByTestId('cannot-grant').getByText('Only owners and admins can connect apps').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await page.getByLabel('Organisation').selectOption('org-c');
    await page.getByTestId('no-roles').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).isDisabled()).toBe(true);

    await page.getByLabel('Organisation').selectOption('org-a');
    expect(await page.getByRole('checkbox', { name: /ops/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /reader/ }).isChecked()).toBe(false);
    await page.getByRole('checkbox', { name: /reader/ }).check();
    await shot(page, 'oauth-consent-several-orgs');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((u) => u.href.startsWith(cb.url));
    expect(cb.hits.at(-1)?.get('code')).toBe('c0de');
    expect(api.decisions.at(-1)).toEqual({
      id: 'multi',
      kind: 'approve',
      email: OWNER.email,
      body: { orgId: 'org-a', roleIds: ['ra2', 'ra1'] },
    });
    await page.close();
  });

  it('does not follow an answer that points anywhere but the redirect URI shown', async () => {
    api.requests.set('elsewhere', {
      views: { [OWNER.email]: view({ id: 'elsewhere', redirectUri: cb.url, orgs: [ORGS[0]!] }) },
      outcome: () => ({ redirectTo: 'http://127.0.0.2:9/callback?code=stolen' }),
    });
    const page = await ctx.newPage();
    await page.goto('/oauth/consent?request=elsewhere');
    await page.getByTestId('client-dynamic').getByText('self-asserted').waitFor();
    // A single org is preselected.
    expect(await page.getByLabel('Organisation').inputValue()).toBe('org-a');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('alert').getByText('not sent there').waitFor();
    expect(new URL(page.url()).pathname).toBe('/oauth/consent');
    await page.close();
  });

  it('says so when the request expired while the page was open', async () => {
    api.requests.set('stale', {
      views: { [OWNER.email]: view({ id: 'stale', redirectUri: cb.url, scope: 'role:reader', orgs: [ORGS[0]!] }) },
      outcome: () => ({ status: 404, detail: 'Authorization request not found, expired or already decided' }),
    });
    const page = await ctx.newPage();
    await page.goto('/oauth/consent?request=stale');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByTestId('consent-gone').getByText('expired or already decided').waitFor();
    await shot(page, 'oauth-consent-expired');
    await page.close();
  });
});
