import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, loginAs, PASSWORD } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack, uniq } from './stack';

interface Member {
  userId: string;
  email: string;
  role: string;
}

/** Elements that stick out of the viewport (outside a horizontally scrolling table wrapper). */
const overflowing = (p: Page) =>
  p.evaluate(() =>
    Array.from(document.querySelectorAll('main *'))
      .filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
      .slice(0, 5),
  );

describe('members, invitations, settings and activity', () => {
  // testTimeout in apps/web/jest.config.js is not applied when jest runs from the root config.
  jest.setTimeout(120_000);
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let slug: string;
  let orgName: string;
  let ownerCtx: BrowserContext;
  let page: Page;
  let invitee: string;
  let promoted: ApiUser;

  const members = async () => (await owner.call<{ items: Member[] }>('GET', `/v1/orgs/${slug}/members`)).items;
  const roleOf = async (email: string) => (await members()).find((m) => m.email === email)?.role;
  const dialog = () => page.locator('dialog[open]');
  /** A new person named `name` who joins with `role` (test/api.ts addMember types its name as a role). */
  const join = async (role: 'admin' | 'member' | 'billing', name: string) => {
    const other = await ApiUser.signup(stack.apiUrl, name);
    const inv = await owner.call('POST', `/v1/orgs/${slug}/invitations`, { email: other.email, role });
    await other.call('POST', `/v1/invitations/${inv.token}/accept`, {});
    return other;
  };

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Olga Owner');
    const org = await owner.createOrg('Acme Rockets');
    slug = org.slug;
    orgName = org.name;
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
    page = await ownerCtx.newPage();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('invites a person as billing; they sign up through the link, join and see billing navigation only', async () => {
    await page.goto(`/o/${slug}/members`);
    invitee = `${uniq('bill')}@example.test`;
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByText('Enter the email address of the person to invite.').waitFor();

    await page.getByLabel('Email').fill(invitee);
    await page.getByRole('form', { name: 'Invite a member' }).getByRole('combobox').selectOption('billing');
    await page.getByRole('button', { name: 'Invite' }).click();
    const linkEl = page.getByTestId('invitation-link');
    await linkEl.waitFor();
    const link = (await linkEl.textContent())!.trim();
    expect(link).toMatch(new RegExp(`^${stack.webUrl}/invitations/tgi_[A-Za-z0-9_-]{43}$`));
    const copy = page.getByRole('button', { name: /^Copy link/ });
    await copy.click();
    await copy.getByText('Copied', { exact: true }).waitFor();
    await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(link);
    await page.locator(`[data-testid="invitation-row"][data-email="${invitee}"]`).waitFor();
    await expect(page.locator(`[data-testid="invitation-row"][data-email="${invitee}"]`).textContent()).resolves.toContain('billing');
    await shot(page, 'members-invitation-link');

    // A second browser, logged out, opens the link.
    const guest = await newContext(browser, stack.webUrl);
    const g = await guest.newPage();
    await g.goto(link);
    await g.getByRole('heading', { name: `Join ${orgName}` }).waitFor();
    const card = await g.getByTestId('invitation').textContent();
    expect(card).toContain(invitee);
    expect(card).toContain('billing');
    expect(card).toContain('Olga Owner');
    await shot(g, 'invitation-logged-out');
    await g.getByRole('link', { name: 'Sign up to accept' }).click();
    await g.waitForURL(/\/signup\?next=/);
    await g.getByLabel('Name').fill('Bill Billing');
    // The invitation pre-fills (and locks) the invited address.
    expect(await g.getByLabel('Email').inputValue()).toBe(invitee);
    await g.getByLabel('Password').fill(PASSWORD);
    await g.getByRole('button', { name: 'Create account' }).click();
    await g.waitForURL((u) => u.pathname === new URL(link).pathname);
    await g.getByRole('button', { name: `Join ${orgName}` }).waitFor();
    await expect(g.getByTestId('invitation').textContent()).resolves.toContain(`Logged in as ${invitee}`);
    await shot(g, 'invitation-logged-in');
    await g.getByRole('button', { name: `Join ${orgName}` }).click();
    await g.waitForURL(new RegExp(`/o/${slug}$`));
    const sidebar = g.locator('aside');
    await expect(sidebar.textContent()).resolves.toContain('Your role: billing');
    const nav = g.getByRole('navigation', { name: 'Organisation' });
    expect(await nav.getByRole('link', { name: 'MCP servers' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Activity' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Billing' }).count()).toBe(1);
    expect(await roleOf(invitee)).toBe('billing');

    // The link is single-use: opening it again says so in words.
    await g.goto(link);
    await g.getByTestId('invitation-invalid').waitFor();
    await expect(g.getByTestId('invitation-invalid').textContent()).resolves.toContain('This invitation has already been accepted');
    await guest.close();

    // The owner's pending list no longer has it.
    await page.reload();
    expect(await page.locator(`[data-testid="invitation-row"][data-email="${invitee}"]`).count()).toBe(0);
    expect(await page.locator(`[data-testid="member-row"][data-email="${invitee}"]`).count()).toBe(1);
  });

  it('shows unknown invitation links and the wrong account in words, and revokes a pending invitation', async () => {
    await page.goto('/invitations/tgi_nope');
    await expect(page.getByTestId('invitation-invalid').textContent()).resolves.toContain('This invitation link is not valid');

    const other = `${uniq('someone')}@example.test`;
    const inv = await owner.call('POST', `/v1/orgs/${slug}/invitations`, { email: other, role: 'member' });
    await page.goto(`/invitations/${inv.token}`);
    await expect(page.getByTestId('invitation').textContent()).resolves.toContain(`you are logged in as ${owner.email}`);
    await page.getByRole('button', { name: 'Log out and switch account' }).waitFor();

    await page.goto(`/o/${slug}/members`);
    const row = page.locator(`[data-testid="invitation-row"][data-email="${other}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await dialog().getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(`The invitation for ${other} was revoked.`).waitFor();
    await row.waitFor({ state: 'detached' });
    const pending = await owner.call<{ items: { email: string }[] }>('GET', `/v1/orgs/${slug}/invitations`);
    expect(pending.items.map((i) => i.email)).not.toContain(other);
  });

  it('changes a member’s role', async () => {
    promoted = await join('member', 'Mia Member');
    await page.goto(`/o/${slug}/members`);
    await page.getByLabel('Role of Mia Member').selectOption('admin');
    await page.getByText('Mia Member is now admin.').waitFor();
    expect(await roleOf(promoted.email)).toBe('admin');
  });

  it('shows the last-owner rule when the only owner demotes themself or tries to leave', async () => {
    await page.goto(`/o/${slug}/members`);
    await page.getByLabel('Role of Olga Owner').selectOption('admin');
    const err = page.getByTestId('members-error');
    await err.waitFor();
    await expect(err.textContent()).resolves.toContain('You are the last owner of this organisation and cannot give up the owner role');
    await expect(page.getByLabel('Role of Olga Owner').inputValue()).resolves.toBe('owner');
    expect(await roleOf(owner.email)).toBe('owner');

    await page.getByRole('button', { name: 'Leave organisation' }).click();
    await dialog().getByRole('button', { name: 'Leave' }).click();
    await expect(dialog().getByRole('alert').textContent()).resolves.toContain(
      'You are the last owner of this organisation and cannot leave it',
    );
    await shot(page, 'members-last-owner');
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect(await roleOf(owner.email)).toBe('owner');
  });

  it('removes a member after confirmation', async () => {
    await page.goto(`/o/${slug}/members`);
    const row = page.locator(`[data-testid="member-row"][data-email="${promoted.email}"]`);
    await row.getByRole('button', { name: 'Remove' }).click();
    await dialog().getByRole('button', { name: 'Remove' }).click();
    await page.getByText(`Mia Member was removed from ${orgName}.`).waitFor();
    await row.waitFor({ state: 'detached' });
    expect((await members()).map((m) => m.email)).not.toContain(promoted.email);
  });

  it('a member sees the list but no invite or edit controls, and no activity', async () => {
    const mem = await join('member', 'Max Member');
    const ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, mem);
    const p = await ctx.newPage();
    await p.goto(`/o/${slug}/members`);
    await p.locator(`[data-testid="member-row"][data-email="${owner.email}"]`).waitFor();
    expect(await p.getByRole('button', { name: 'Invite' }).count()).toBe(0);
    expect(await p.getByRole('combobox', { name: /^Role of/ }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Remove' }).count()).toBe(0);
    expect(await p.getByRole('heading', { name: 'Pending invitations' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Leave organisation' }).count()).toBe(1);
    await shot(p, 'members-as-member');

    await p.goto(`/o/${slug}/settings`);
    await expect(p.getByTestId('org-name').textContent()).resolves.toBe(orgName);
    expect(await p.getByRole('button', { name: 'Save changes' }).count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Delete organisation' }).count()).toBe(0);
    expect(await p.getByLabel('Organisation name').count()).toBe(0);

    expect(await p.getByRole('navigation', { name: 'Organisation' }).getByRole('link', { name: 'Activity' }).count()).toBe(0);
    await p.goto(`/o/${slug}/activity`);
    await p.getByTestId('forbidden').waitFor();

    // A member may leave on their own.
    await p.goto(`/o/${slug}/members`);
    await p.getByRole('button', { name: 'Leave organisation' }).click();
    await p.locator('dialog[open]').getByRole('button', { name: 'Leave' }).click();
    await p.waitForURL(/\/orgs$/);
    expect((await members()).map((m) => m.email)).not.toContain(mem.email);
    await ctx.close();
  });

  it('shows the activity log with actor, action, target and before/after', async () => {
    await page.goto(`/o/${slug}/activity`);
    const table = page.getByTestId('activity-table');
    await table.waitFor();
    const actions = await page.getByTestId('activity-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    for (const a of [
      'org.created',
      'member.invited',
      'invitation.accepted',
      'invitation.revoked',
      'member.role_changed',
      'member.removed',
    ]) {
      expect(actions).toContain(a);
    }
    const changed = page.locator('[data-testid="activity-row"][data-action="member.role_changed"]').first();
    await expect(changed.textContent()).resolves.toContain('Olga Owner');
    await expect(changed.textContent()).resolves.toContain(promoted.email);
    // The target names the member and links to the members page; the diff shows the role field.
    await expect(changed.getByTestId('activity-target').getAttribute('href')).resolves.toBe(`/o/${slug}/members`);
    await changed.getByText('Changed role').click();
    const role = changed.locator('[data-testid="activity-diff"] tr[data-field="role"]');
    await expect(role.locator('del').textContent()).resolves.toBe('member');
    await expect(role.locator('ins').textContent()).resolves.toBe('admin');
    await shot(page, 'activity');

    await page.getByLabel('Action').selectOption('member.removed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=member\.removed/);
    const filtered = await page.getByTestId('activity-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(filtered.length).toBeGreaterThan(0);
    expect(new Set(filtered)).toEqual(new Set(['member.removed']));
  });

  it('renames the organisation, changes its slug and sets the quota', async () => {
    await page.goto(`/o/${slug}/settings`);
    await page.getByLabel('URL name').fill('Bad Slug!');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('The URL name must be lowercase letters, digits and single hyphens').waitFor();

    await page.getByLabel('URL name').fill(slug);
    await page.getByLabel('Organisation name').fill('Acme Orbital');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await owner.call('GET', `/v1/orgs/${slug}`)).name).toBe('Acme Orbital');
    orgName = 'Acme Orbital';

    const newSlug = uniq('orbital');
    await page.getByLabel('URL name').fill(newSlug);
    await page.getByText(`Agents will have to connect at /mcp/${newSlug}`).waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.waitForURL(new RegExp(`/o/${newSlug}/settings$`));
    await expect(page.getByLabel('URL name').inputValue()).resolves.toBe(newSlug);
    await expect(page.getByTestId('endpoint-url').textContent()).resolves.toBe(`${stack.gatewayUrl}/mcp/${newSlug}`);
    expect((await owner.call('GET', `/v1/orgs/${newSlug}`)).name).toBe('Acme Orbital');
    await owner.call('GET', `/v1/orgs/${slug}`, undefined, [404]);
    slug = newSlug;

    await page.getByLabel('Monthly call quota').fill('-5');
    await page.getByRole('button', { name: 'Save quota' }).click();
    await page.getByText('Enter a whole number of calls greater than 0').waitFor();
    await page.getByLabel('Monthly call quota').fill('25000');
    await page.getByRole('button', { name: 'Save quota' }).click();
    await page.getByText('Quota saved.').waitFor();
    expect((await owner.call('GET', `/v1/orgs/${slug}`)).monthlyCallQuota).toBe(25000);
    await shot(page, 'settings');
  });

  it('works at phone width', async () => {
    const phone = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(phone, owner);
    const p = await phone.newPage();
    await p.goto(`/o/${slug}/members`);
    await p.locator(`[data-testid="member-row"][data-email="${owner.email}"]`).waitFor();
    await shot(p, 'members-phone');
    expect(await overflowing(p)).toEqual([]);
    await p.goto(`/o/${slug}/settings`);
    await p.getByLabel('URL name').waitFor();
    await shot(p, 'settings-phone');
    expect(await overflowing(p)).toEqual([]);
    await phone.close();
  });

  it('deletes the organisation after typing its slug', async () => {
    await page.goto(`/o/${slug}/settings`);
    await page.getByRole('button', { name: 'Delete organisation' }).click();
    const confirm = dialog().getByRole('button', { name: 'Delete organisation' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog()
      .getByLabel(/to confirm/)
      .fill('wrong-slug');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog()
      .getByLabel(/to confirm/)
      .fill(slug);
    expect(await confirm.isDisabled()).toBe(false);
    await shot(page, 'settings-delete-confirm');
    await confirm.click();
    await page.waitForURL(/\/orgs$/);
    await owner.call('GET', `/v1/orgs/${slug}`, undefined, [404]);
    expect((await page.locator('main').textContent()) ?? '').not.toContain('Acme Orbital');
  });
});
