/**
 * Resource templates and completions under policy, through the real stack: a template is listed
 * only to a role that could be allowed some URI of it, and completion/complete is decided like
 * the read or prompts/get it prepares, denials carrying the rule and reason (-32003).
 */
import { join } from 'node:path';
import { createKey, createOrg, type Org } from './fixtures/gw-helpers';
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
