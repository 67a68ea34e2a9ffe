// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${key.metadata.*}` references are literal rule values here.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiUser, EVERYTHING, loginAs, UUID } from './api';
import { launchWith, newContext, shot } from './browser';
import { type FullStack, startFullStack } from './stack';

// A project's testTimeout (apps/web/jest.config.js) is not applied when jest runs from the root config.
jest.setTimeout(120_000);

/** The rules as the JSON view shows them (switching views keeps the rules object as it is). */
async function rulesInJson(page: Page): Promise<unknown> {
  await page.getByRole('tab', { name: 'JSON' }).click();
  const rules = JSON.parse(await page.getByLabel('Rules (JSON)').inputValue());
  await page.getByRole('tab', { name: 'Form' }).click();
  return rules;
}

describe('the role builder', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let org: string;
  let ctx: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    org = (await owner.createOrg('Builders')).slug;
    const server = await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.probe(org, server.id);
    ctx = await newContext(browser, stack.webUrl);
    await loginAs(ctx, owner);
    page = await ctx.newPage();
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    await browser?.close();
    await stack?.close();
  });

  it('ticks tools from the catalogue, constrains an argument from its schema enum, and round-trips through JSON', async () => {
    await page.goto(`/o/${org}/roles/new`);
    await page.getByRole('checkbox', { name: 'Allow everything__echo' }).check();
    await page.getByRole('checkbox', { name: 'Allow everything__get-structured-content' }).check();
    // The name follows the server until someone types one.
    expect(await page.getByLabel(/^Name/).inputValue()).toBe('everything-agent');

    const rule = page.getByTestId('tool-rule').nth(1);
    expect(await rule.getByTestId('rule-matches').textContent()).toBe('Matches 1 tool: everything__get-structured-content');
    await rule.getByText('Argument constraints').click();
    // The argument and its values come from the tool's input schema.
    await rule.getByLabel('Add a constraint on an argument').selectOption('location');
    const location = rule.getByTestId('constraint-location');
    expect(await location.textContent()).toContain('one of 3 values');
    await location.getByRole('checkbox', { name: 'location may be Chicago' }).check();
    await page.getByTestId('metadata-help').waitFor();
    // A string field without an enum takes a typed list.
    const echo = page.getByTestId('tool-rule').first();
    await echo.getByText('Argument constraints').click();
    await echo.getByLabel('Add a constraint on an argument').selectOption('message');
    await echo.getByLabel('message: only one of').fill('hi, hello');
    await shot(page, 'roles-builder');

    expect(await rulesInJson(page)).toEqual({
      tools: [
        { effect: 'allow', match: 'everything__echo', constraints: { message: { oneOf: ['hi', 'hello'] } } },
        { effect: 'allow', match: 'everything__get-structured-content', constraints: { location: { oneOf: ['Chicago'] } } },
      ],
      prompts: [],
      resources: [],
      rateLimits: [],
      redact: [],
      ipAllow: [],
    });

    // Edited as JSON, shown by the form, and back: the same rules.
    const edited = {
      tools: [
        { effect: 'allow', match: 'everything__echo', constraints: { message: { equals: '${key.metadata.who}', required: true } } },
        { effect: 'deny', match: 'everything__get-env' },
        { effect: 'allow', match: 'everything__get-structured-content', constraints: { location: { oneOf: ['Chicago'] } } },
      ],
      prompts: [{ effect: 'allow', match: 'everything__*' }],
      resources: [{ effect: 'allow', server: 'everything', uri: 'demo://resource/static/document/*' }],
      rateLimits: [{ scope: 'tool', perMinute: 30, burst: 5, match: 'everything__echo' }],
      redact: [{ name: 'emails', pattern: '[a-z]+@[a-z]+', replacement: '[email]' }],
      ipAllow: ['10.0.0.0/8'],
    };
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page.getByLabel('Rules (JSON)').fill(JSON.stringify(edited));
    await page.getByRole('tab', { name: 'Form' }).click();
    expect(await page.getByRole('checkbox', { name: 'Deny everything__get-env' }).isChecked()).toBe(true);
    expect(await page.getByLabel('Calls per minute of rate limit 1').inputValue()).toBe('30');
    expect(await page.getByLabel('message: Must equal').inputValue()).toBe('${key.metadata.who}');
    expect(await rulesInJson(page)).toEqual(edited);

    await page.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/roles/${UUID}\\?created=1$`));
    const id = new RegExp(`/roles/(${UUID})`).exec(page.url())![1]!;
    expect((await owner.call('GET', `/v1/orgs/${org}/roles/${id}`)).rules).toEqual(edited);
  });

  it('warns on rules that match nothing and flags invalid values on their fields before submit', async () => {
    await page.goto(`/o/${org}/roles/new`);
    await page.getByLabel(/^Name/).fill('typos');
    await page.getByRole('button', { name: 'Add a tool rule by pattern' }).click();
    await page.getByLabel('Match of tool rule 1').fill('everthing__echo');
    const warning = page.getByTestId('no-match-warning');
    expect(await warning.textContent()).toContain('Matches no tool of your servers’ catalogues — did you mean everything__echo?');
    expect(await page.getByTestId('summary-matches').first().textContent()).toBe('matches nothing');
    await page.getByLabel('Match of tool rule 1').fill('everything__ech*');
    expect(await page.getByTestId('rule-matches').textContent()).toBe('Matches 1 tool: everything__echo');

    // What the old preview called valid: an unknown effect and a negative rate.
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page
      .getByLabel('Rules (JSON)')
      .fill(JSON.stringify({ tools: [{ effect: 'permit', match: 'everything__echo' }], rateLimits: [{ scope: 'key', perMinute: -5 }] }));
    await page.getByRole('tab', { name: 'Form' }).click();
    const effectError = page.locator('[data-testid="field-error"][data-path="rules.tools.0.effect"]');
    const rateError = page.locator('[data-testid="field-error"][data-path="rules.rateLimits.0.perMinute"]');
    await effectError.waitFor();
    await rateError.waitFor();
    expect(await page.getByTestId('rules-problems').textContent()).toContain('Rate limit 1 › perMinute');
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByTestId('submit-blocked').waitFor();
    await shot(page, 'roles-builder-invalid');
    expect((await owner.call('GET', `/v1/orgs/${org}/roles`)).items.map((r: { name: string }) => r.name)).not.toContain('typos');

    // The messages are the API's own: the same body sent directly is refused with them.
    const res = await fetch(`${stack.apiUrl}/v1/orgs/${org}/roles`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({
        name: 'typos',
        rules: { tools: [{ effect: 'permit', match: 'everything__echo' }], rateLimits: [{ scope: 'key', perMinute: -5 }] },
      }),
    });
    const problem = await res.json();
    expect(problem.errors).toEqual([
      { path: 'rules.tools.0.effect', message: (await effectError.textContent())! },
      { path: 'rules.rateLimits.0.perMinute', message: (await rateError.textContent())! },
    ]);

    await page.getByLabel('Effect of tool rule 1').selectOption('allow');
    await page.getByLabel('Calls per minute of rate limit 1').fill('30');
    await effectError.waitFor({ state: 'detached' });
    await rateError.waitFor({ state: 'detached' });
    expect(await page.getByTestId('rules-problems').count()).toBe(0);
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(new RegExp(`/o/${org}/roles/${UUID}\\?created=1$`));
  });

  it('tests the unsaved draft against a tool with arguments; the result clears when the inputs or the draft change', async () => {
    const before = (await owner.call('GET', `/v1/orgs/${org}/roles`)).items.length;
    await page.goto(`/o/${org}/roles/new`);
    await page.getByRole('checkbox', { name: 'Allow everything__echo' }).check();
    const panel = page.getByTestId('draft-simulate');
    await panel.getByLabel('Tool').fill('everything__echo');
    await panel.getByLabel('Argument message').fill('hello');
    await panel.getByRole('button', { name: 'Test the draft' }).click();
    const decision = panel.getByTestId('draft-decision');
    // An error answer would show instead of a decision: wait for either, so a failure says what it was.
    const answer = panel.getByTestId('draft-decision').or(panel.getByTestId('draft-simulate-error'));
    expect(await answer.textContent()).toBe('Allowed');
    expect(await panel.getByTestId('draft-reason').textContent()).toBe('allowed by role:everything-agent/tools[0]');

    await panel.getByLabel('Argument message').fill('hello again');
    await decision.waitFor({ state: 'detached' });
    await panel.getByRole('button', { name: 'Test the draft' }).click();
    await decision.waitFor();

    // The draft changes: a constraint from key metadata, and the old answer is gone.
    const rule = page.getByTestId('tool-rule').first();
    await rule.getByText('Argument constraints').click();
    await rule.getByLabel('Add a constraint on an argument').selectOption('message');
    await decision.waitFor({ state: 'detached' });
    await rule.getByLabel('message: Must equal').fill('${key.metadata.who}');
    await panel.getByLabel('Key metadata (optional JSON)').fill('{"who": "hello again"}');
    await panel.getByRole('button', { name: 'Test the draft' }).click();
    expect(await decision.textContent()).toBe('Allowed');
    await panel.getByLabel('Argument message').fill('someone else');
    await panel.getByRole('button', { name: 'Test the draft' }).click();
    await decision.filter({ hasText: 'Denied' }).waitFor();
    expect(await panel.getByTestId('draft-reason').textContent()).toBe('argument "message" must equal "hello again"');
    await shot(page, 'roles-builder-simulate');

    // Nothing was saved by testing.
    expect((await owner.call('GET', `/v1/orgs/${org}/roles`)).items).toHaveLength(before);
  });

  it('works at phone width', async () => {
    const phone = await newContext(browser, stack.webUrl, { phone: true });
    await loginAs(phone, owner);
    const p = await phone.newPage();
    await p.goto(`/o/${org}/roles/new`);
    await p.getByRole('checkbox', { name: 'Allow everything__echo' }).check();
    await p.getByTestId('rule-matches').waitFor();
    // A long catalogue can be filtered; a ticked tool stays ticked while hidden.
    await p.getByLabel('Filter tools of everything').fill('sum');
    expect(await p.getByRole('checkbox', { name: 'Allow everything__get-sum' }).count()).toBe(1);
    expect(await p.getByRole('checkbox', { name: 'Allow everything__echo' }).count()).toBe(0);
    expect(await p.getByTestId('rule-matches').textContent()).toBe('Matches 1 tool: everything__echo');
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(p, 'roles-builder-phone');
    await phone.close();
  });

  it('asks a never-probed server for its tools itself, and says so when it cannot answer', async () => {
    await owner.call('POST', `/v1/orgs/${org}/servers`, {
      slug: 'broken',
      name: 'Broken',
      transport: 'stdio',
      command: process.execPath,
      args: ['-e', 'process.exit(3)'],
    });
    await page.goto(`/o/${org}/roles/new`);
    const status = page.getByTestId('picker-probe-broken');
    await status.filter({ hasText: 'Its tools could not be read' }).waitFor({ timeout: 45_000 });
    await shot(page, 'roles-builder-probe-failed');
    // The probe happened (and is recorded on the server), so the next visit does not repeat it.
    const servers = (await owner.call('GET', `/v1/orgs/${org}/servers`)).items;
    expect(servers.find((s: { slug: string }) => s.slug === 'broken')).toMatchObject({ health: 'error', catalog: null });
    await page.reload();
    expect(await page.getByTestId('picker-probe-broken').textContent()).toContain('press Probe on the server’s page');
    // The working server's tools are still there to tick (its section starts closed beside another server's).
    await page.getByTestId('picker-everything').locator('summary').click();
    await page.getByRole('checkbox', { name: 'Allow everything__echo' }).check();
    expect(await page.getByTestId('rule-matches').textContent()).toBe('Matches 1 tool: everything__echo');
  });
});
