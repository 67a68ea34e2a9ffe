import type { Browser } from 'playwright-core';
import { ApiUser, loginAs, PASSWORD } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

const NEW_PASSWORD = 'a much better passphrase';

describe('account basics', () => {
  // testTimeout in apps/web/jest.config.js is not applied when jest runs from the root config.
  jest.setTimeout(120_000);
  let stack: FullStack;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('changes name and password on /orgs, then logs in with the new password', async () => {
    const user = await ApiUser.signup(stack.apiUrl, 'Nora Name');
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, user);
    const page = await ctx.newPage();
    await page.goto('/orgs');

    const nameForm = page.getByRole('form', { name: 'Change name' });
    await nameForm.getByLabel('Name', { exact: true }).fill('Nora Renamed');
    await nameForm.getByRole('button', { name: 'Save name' }).click();
    await nameForm.getByText('Name saved.').waitFor();
    expect((await user.call('GET', '/v1/me')).name).toBe('Nora Renamed');

    const pw = page.getByRole('form', { name: 'Change password' });
    // The API's field error lands on its field.
    await pw.getByLabel('Current password').fill('not the password');
    await pw.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await pw.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await pw.locator('#currentPassword-err').getByText('Is incorrect.').waitFor();
    // A mismatched confirmation is caught before any request.
    await pw.getByLabel('Current password').fill(PASSWORD);
    await pw.getByLabel('Confirm new password').fill(`${NEW_PASSWORD}!`);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await pw.getByText('The passwords do not match.').waitFor();

    await pw.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await pw.getByText('Password changed.', { exact: false }).waitFor();
    await shot(page, 'account-changed');

    // This session keeps working; the session the API user held (another one) was signed out.
    await page.reload();
    await page.getByRole('heading', { name: 'Your organisations' }).waitFor();
    const refresh = await fetch(`${stack.apiUrl}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: user.refreshToken }),
    });
    expect(refresh.status).toBe(401);

    // The visible Log out button, then a login with the new password.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.goto('/orgs');
    await page.getByRole('form', { name: 'Change name' }).getByLabel('Name', { exact: true }).waitFor();
    expect(await page.getByRole('form', { name: 'Change name' }).getByLabel('Name', { exact: true }).inputValue()).toBe('Nora Renamed');
    await ctx.close();
  });

  it('sign out of all sessions sends another browser to login on its next navigation', async () => {
    const user = await ApiUser.signup(stack.apiUrl, 'Sol Sessions');
    const [a, b] = [await newContext(browser, stack.webUrl), await newContext(browser, stack.webUrl)];
    await loginAs(a, user);
    await loginAs(b, user);
    const other = await b.newPage();
    await other.goto('/orgs');
    await other.getByRole('heading', { name: 'Your organisations' }).waitFor();
    // Closed so that no background prefetch refreshes meanwhile; the next navigation is the test.
    await other.close();

    const page = await a.newPage();
    await page.goto('/orgs');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Sign out of all sessions' }).click();
    await page.waitForURL((u) => u.pathname === '/login');

    const next = await b.newPage();
    await next.goto('/orgs');
    await next.waitForURL((u) => u.pathname === '/login');
    expect(new URL(next.url()).searchParams.get('next')).toBe('/orgs');
    await a.close();
    await b.close();
  });

  it('sign-up from an invitation link pre-fills the invited email', async () => {
    const owner = await ApiUser.signup(stack.apiUrl, 'Ines Inviter');
    const { slug } = await owner.createOrg('Invite Co');
    const email = `invitee-${Date.now()}@example.test`;
    const inv = await owner.call('POST', `/v1/orgs/${slug}/invitations`, { email, role: 'member' });
    const ctx = await newContext(browser, stack.webUrl);
    const page = await ctx.newPage();
    await page.goto(`/invitations/${inv.token}`);
    await page.getByRole('link', { name: 'Sign up to accept' }).click();
    await page.waitForURL((u) => u.pathname === '/signup');
    const field = page.getByLabel('Email');
    await field.waitFor();
    expect(await field.inputValue()).toBe(email);
    expect(await field.getAttribute('readonly')).not.toBeNull();
    await page.getByText('The invitation was sent to this address').waitFor();
    await shot(page, 'signup-invited');

    await page.getByLabel('Name').fill('Ivy Invitee');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((u) => u.pathname === `/invitations/${inv.token}`);
    await page.getByRole('button', { name: 'Join Invite Co' }).waitFor();
    await ctx.close();
  });
});
