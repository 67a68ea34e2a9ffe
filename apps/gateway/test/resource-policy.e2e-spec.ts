/**
 * Resource templates and completions under policy, through the real stack: a template is listed
 * only to a role that could be allowed some URI of it, and completion/complete is decided like
 * the read or prompts/get it prepares, denials carrying the rule and reason (-32003).
 */
import { join } from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { auditEvents, createKey, createOrg, type Org } from './fixtures/gw-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(60_000);

const FIXTURE = join(__dirname, 'fixtures', 'names-server.mjs');
const NM = { slug: 'nm', name: 'NM', transport: 'stdio', command: process.execPath, args: [FIXTURE] };

let stack: Stack;
let o: Org;
/** Keys by role name. */
const keys: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack();
  o = await createOrg(stack, {
    servers: [NM],
    roleName: 'items',
    rules: {
      prompts: [
        { effect: 'allow', match: 'nm__*' },
        { effect: 'deny', match: 'nm__dash-name' },
      ],
      resources: [
        { effect: 'allow', server: 'nm', uri: 'nm://items/*' },
        { effect: 'deny', uri: 'nm://secret/*' },
      ],
    },
  });
  keys.items = o.key;
  const roles: Record<string, unknown> = {
    anything: { resources: [{ effect: 'allow', uri: '*' }] },
    'tools-only': { tools: [{ effect: 'allow', match: '*' }] },
    'other-server': { resources: [{ effect: 'allow', server: 'crm', uri: '*' }] },
  };
  for (const [name, rules] of Object.entries(roles)) {
    const role = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, { name, rules });
    keys[name] = (await createKey(o, [role.id])).key;
  }
});
afterAll(() => stack.close());

const url = (scope = '') => `${stack.gatewayUrl}/mcp/${o.org.slug}${scope}`;

async function templates(role: string, scope = ''): Promise<string[]> {
  const client = await connect(url(scope), keys[role] ?? '');
  try {
    return (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort();
  } finally {
    await client.close();
  }
}

/** The McpError a call rejects with (fails the test if it resolves). */
async function rpcError(p: Promise<unknown>): Promise<McpError> {
  const e = await p.then(
    (r) => {
      throw new Error(`expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(McpError);
  return e as McpError;
}

describe('resources/templates/list', () => {
  it('lists every template to a role allowing any URI', async () => {
    expect(await templates('anything')).toEqual(['tg://nm/nm://items/{id}', 'tg://nm/nm://secret/{id}']);
    expect(await templates('anything', '/nm')).toEqual(['nm://items/{id}', 'nm://secret/{id}']);
  });

  it('lists only the templates some allowed URI falls under', async () => {
    expect(await templates('items')).toEqual(['tg://nm/nm://items/{id}']);
    expect(await templates('items', '/nm')).toEqual(['nm://items/{id}']);
  });

  it('lists none to a role without resource rules, or with rules for another server only', async () => {
    for (const role of ['tools-only', 'other-server']) {
      expect(await templates(role)).toEqual([]);
      expect(await templates(role, '/nm')).toEqual([]);
    }
  });
});

describe('completion/complete', () => {
  const arg = { name: 'id', value: '1' };

  it('completes a template URI the role may read', async () => {
    const client = await connect(url(), keys.items ?? '');
    try {
      const done = await client.complete({ ref: { type: 'ref/resource', uri: 'tg://nm/nm://items/{id}' }, argument: arg });
      expect(done.completion.values).toEqual(['1', '12']);
    } finally {
      await client.close();
    }
  });

  it('refuses a resource completion the policy denies, naming the rule and reason, and audits it', async () => {
    for (const [role, scope, uri, rule] of [
      ['items', '', 'tg://nm/nm://secret/{id}', 'role:items/resources[1]'],
      ['items', '/nm', 'nm://secret/{id}', 'role:items/resources[1]'],
      ['tools-only', '', 'tg://nm/nm://items/{id}', null],
      ['other-server', '/nm', 'nm://items/{id}', null],
    ] as const) {
      const client = await connect(url(scope), keys[role] ?? '');
      try {
        const e = await rpcError(client.complete({ ref: { type: 'ref/resource', uri }, argument: arg }));
        expect(e.code).toBe(-32003);
        expect(e.data).toEqual({ rule, reason: expect.stringContaining('nm://') });
      } finally {
        await client.close();
      }
    }
    const events = await auditEvents(stack, o.org.id, (ev) => ev.some((e) => e.method === 'completion/complete' && e.rule));
    expect(events.find((e) => e.method === 'completion/complete' && e.target === 'nm://secret/{id}')).toMatchObject({
      decision: 'deny',
      outcome: 'denied',
      rule: 'role:items/resources[1]',
    });
  });

  it('refuses a prompt completion the policy denies with the same rule and reason', async () => {
    const client = await connect(url(), keys.items ?? '');
    const other = await connect(url(), keys['tools-only'] ?? '');
    try {
      const denied = await rpcError(client.complete({ ref: { type: 'ref/prompt', name: 'nm__dash-name' }, argument: arg }));
      expect(denied.code).toBe(-32003);
      expect(denied.data).toEqual({ rule: 'role:items/prompts[1]', reason: expect.stringContaining('nm__dash-name') });

      const unlisted = await rpcError(other.complete({ ref: { type: 'ref/prompt', name: 'nm__plain_tool' }, argument: arg }));
      expect(unlisted.code).toBe(-32003);
      expect(unlisted.data).toEqual({ rule: null, reason: 'no rule allows prompt "nm__plain_tool"' });

      const allowed = await client.complete({ ref: { type: 'ref/prompt', name: 'nm__plain_tool' }, argument: { name: 'x', value: 'a' } });
      expect(allowed.completion.values).toEqual(['alpha']);
    } finally {
      await Promise.all([client.close(), other.close()]);
    }
  });
});
