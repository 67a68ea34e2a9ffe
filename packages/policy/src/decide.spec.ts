import { decide, seesServer, templateVisible, visible } from './decide';
import { principalWith, snapshotWith } from './test-fixtures';
import { type PolicyRequest, ruleLabel } from './types';

const tool = (server: string, name: string, args?: Record<string, unknown>): PolicyRequest => ({
  kind: 'tool',
  server,
  name,
  arguments: args,
});

describe('decide: rule selection', () => {
  const snapshot = snapshotWith([
    {
      name: 'reader',
      rules: {
        tools: [
          { effect: 'allow', match: 'github__list_*' },
          { effect: 'allow', match: 'github__get_issue' },
          { effect: 'deny', match: 'github__list_secrets' },
        ],
        prompts: [{ effect: 'allow', match: 'docs__*' }],
        resources: [
          { effect: 'allow', server: 'fs', uri: 'file:///repo/*' },
          { effect: 'deny', uri: 'file:///repo/.env' },
        ],
      },
    },
    { name: 'writer', rules: { tools: [{ effect: 'allow', match: 'github__*' }] } },
    { name: 'no-deletes', rules: { tools: [{ effect: 'deny', match: '*__delete_*' }] } },
    { name: 'empty', rules: {} },
  ]);

  it('denies by default when no rule matches', () => {
    const decision = decide(snapshot, principalWith(['reader']), tool('github', 'create_issue'));
    expect(decision).toEqual({ allowed: false, effect: 'deny', reason: 'no rule allows tool "github__create_issue"', rule: null });
  });

  it('allows on a matching allow rule and names it', () => {
    const decision = decide(snapshot, principalWith(['reader']), tool('github', 'list_issues'));
    expect(decision).toEqual({
      allowed: true,
      effect: 'allow',
      reason: 'allowed by role:reader/tools[0]',
      rule: { roleId: 'r_reader', roleName: 'reader', path: 'tools[0]' },
    });
  });

  it('lets a deny rule win over an allow rule in the same role, whatever the order', () => {
    const decision = decide(snapshot, principalWith(['reader']), tool('github', 'list_secrets'));
    expect(decision.allowed).toBe(false);
    expect(decision.rule).toEqual({ roleId: 'r_reader', roleName: 'reader', path: 'tools[2]' });
    expect(decision.reason).toBe('tool "github__list_secrets" is denied by role:reader/tools[2]');
  });

  it('lets a deny in one role win over an allow in another, in either role order', () => {
    for (const roles of [
      ['writer', 'no-deletes'],
      ['no-deletes', 'writer'],
    ]) {
      const decision = decide(snapshot, principalWith(roles), tool('github', 'delete_repo'));
      expect(decision.allowed).toBe(false);
      expect(decision.effect).toBe('deny');
      expect(decision.rule?.roleName).toBe('no-deletes');
    }
    expect(decide(snapshot, principalWith(['writer', 'no-deletes']), tool('github', 'create_issue')).allowed).toBe(true);
  });

  it('combines allows across roles', () => {
    expect(decide(snapshot, principalWith(['reader']), tool('github', 'create_issue')).allowed).toBe(false);
    expect(decide(snapshot, principalWith(['reader', 'writer']), tool('github', 'create_issue')).allowed).toBe(true);
    // The first allowing rule in role order is reported.
    expect(decide(snapshot, principalWith(['reader', 'writer']), tool('github', 'get_issue')).rule?.path).toBe('tools[1]');
    expect(decide(snapshot, principalWith(['writer', 'reader']), tool('github', 'get_issue')).rule?.roleName).toBe('writer');
  });

  it('matches tool globs against server__name, not the bare name', () => {
    expect(decide(snapshot, principalWith(['reader']), tool('gitlab', 'list_issues')).allowed).toBe(false);
    expect(decide(snapshot, principalWith(['writer']), tool('github', 'anything')).allowed).toBe(true);
  });

  it('keeps tools, prompts and resources apart', () => {
    const reader = principalWith(['reader']);
    expect(decide(snapshot, reader, { kind: 'prompt', server: 'docs', name: 'summarize' }).allowed).toBe(true);
    expect(decide(snapshot, reader, { kind: 'prompt', server: 'github', name: 'list_issues' }).allowed).toBe(false);
    expect(decide(snapshot, reader, { kind: 'tool', server: 'docs', name: 'summarize' }).allowed).toBe(false);
    expect(decide(snapshot, reader, { kind: 'prompt', server: 'docs', name: 'x' }).rule?.path).toBe('prompts[0]');
  });

  it('matches resource rules on server slug and URI', () => {
    const reader = principalWith(['reader']);
    const allowed = decide(snapshot, reader, { kind: 'resource', server: 'fs', name: 'file:///repo/README.md' });
    expect(allowed).toMatchObject({ allowed: true, rule: { path: 'resources[0]' } });
    expect(decide(snapshot, reader, { kind: 'resource', server: 'fs2', name: 'file:///repo/README.md' }).allowed).toBe(false);
    expect(decide(snapshot, reader, { kind: 'resource', server: 'fs', name: 'file:///etc/passwd' })).toEqual({
      allowed: false,
      effect: 'deny',
      reason: 'no rule allows resource "file:///etc/passwd" on server "fs"',
      rule: null,
    });
    // The deny rule has no server glob, so it applies on every server.
    const env = decide(snapshot, reader, { kind: 'resource', server: 'fs', name: 'file:///repo/.env' });
    expect(env).toMatchObject({ allowed: false, rule: { path: 'resources[1]' } });
    expect(env.reason).toBe('resource "file:///repo/.env" on server "fs" is denied by role:reader/resources[1]');
  });

  it('ignores unknown role ids and denies keys without roles', () => {
    const unknownOnly = { keyId: 'k', roleIds: ['r_nope'], metadata: {} };
    expect(decide(snapshot, unknownOnly, tool('github', 'list_issues'))).toEqual({
      allowed: false,
      effect: 'deny',
      reason: 'the key has no roles',
      rule: null,
    });
    expect(decide(snapshot, { keyId: 'k', roleIds: [], metadata: {} }, tool('github', 'list_issues')).allowed).toBe(false);
    const mixed = { keyId: 'k', roleIds: ['r_nope', 'r_reader'], metadata: {} };
    expect(decide(snapshot, mixed, tool('github', 'list_issues')).allowed).toBe(true);
  });

  it('denies everything for a role without rules', () => {
    expect(decide(snapshot, principalWith(['empty']), tool('github', 'list_issues'))).toMatchObject({ allowed: false, rule: null });
  });

  it('denies an unknown request kind from an untyped caller', () => {
    const request = { kind: 'sampling', server: 'github', name: 'list_issues' } as unknown as PolicyRequest;
    expect(decide(snapshot, principalWith(['writer']), request).allowed).toBe(false);
  });

  it('treats regex metacharacters in request names literally', () => {
    const snap = snapshotWith([{ name: 'r', rules: { tools: [{ effect: 'allow', match: 'srv__a.b' }] } }]);
    expect(decide(snap, principalWith(['r']), tool('srv', 'a.b')).allowed).toBe(true);
    expect(decide(snap, principalWith(['r']), tool('srv', 'aXb')).allowed).toBe(false);
    expect(decide(snap, principalWith(['r']), tool('srv', 'a.b(.*)')).allowed).toBe(false);
  });
});

describe('decide: ip allow-lists', () => {
  const snapshot = snapshotWith([
    { name: 'office', rules: { tools: [{ effect: 'allow', match: '*' }], ipAllow: ['203.0.113.0/24', '2001:db8::/32'] } },
    { name: 'vpn', rules: { ipAllow: ['10.0.0.0/8'] } },
    { name: 'anywhere', rules: { tools: [{ effect: 'allow', match: '*' }] } },
  ]);
  const call = tool('github', 'list_issues');

  it('allows IPv4 and IPv6 clients inside the list', () => {
    expect(decide(snapshot, principalWith(['office'], { ip: '203.0.113.9' }), call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['office'], { ip: '2001:db8::42' }), call).allowed).toBe(true);
  });

  it('treats IPv4-mapped IPv6 clients as IPv4', () => {
    expect(decide(snapshot, principalWith(['office'], { ip: '::ffff:203.0.113.9' }), call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['office'], { ip: '::ffff:198.51.100.1' }), call).allowed).toBe(false);
  });

  it('denies clients outside the list, naming the list', () => {
    const decision = decide(snapshot, principalWith(['office'], { ip: '198.51.100.1' }), call);
    expect(decision).toEqual({
      allowed: false,
      effect: 'deny',
      reason: 'client ip 198.51.100.1 is not in an allowed range (role:office/ipAllow)',
      rule: { roleId: 'r_office', roleName: 'office', path: 'ipAllow' },
    });
    expect(decide(snapshot, principalWith(['office'], { ip: '2001:db9::1' }), call).allowed).toBe(false);
  });

  it('denies when the ip is unknown or unparseable and a list applies', () => {
    for (const ip of [undefined, null, '', 'not-an-ip']) {
      const decision = decide(snapshot, principalWith(['office'], { ip }), call);
      expect(decision.allowed).toBe(false);
      expect(decision.rule?.path).toBe('ipAllow');
    }
    expect(decide(snapshot, principalWith(['office']), call).reason).toBe(
      'the client ip is unknown but role:office/ipAllow restricts addresses',
    );
  });

  it('takes the union of the lists of all roles', () => {
    const both = principalWith(['office', 'vpn'], { ip: '10.3.4.5' });
    expect(decide(snapshot, both, call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['vpn', 'office'], { ip: '203.0.113.1' }), call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['office', 'vpn'], { ip: '8.8.8.8' }), call).allowed).toBe(false);
  });

  it('applies the list even when another role has none', () => {
    expect(decide(snapshot, principalWith(['anywhere', 'vpn'], { ip: '8.8.8.8' }), call).allowed).toBe(false);
    expect(decide(snapshot, principalWith(['anywhere', 'vpn'], { ip: '10.0.0.1' }), call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['anywhere'], { ip: '8.8.8.8' }), call).allowed).toBe(true);
    expect(decide(snapshot, principalWith(['anywhere']), call).allowed).toBe(true);
  });
});

describe('visible', () => {
  const snapshot = snapshotWith([
    {
      name: 'support',
      rules: {
        tools: [
          { effect: 'allow', match: 'crm__*' },
          { effect: 'deny', match: 'crm__delete_*' },
          { effect: 'allow', match: 'crm__get_customer', constraints: { customer_id: { equals: '${key.metadata.customer_id}' } } },
        ],
        prompts: [{ effect: 'allow', match: 'crm__greeting' }],
        resources: [{ effect: 'allow', server: 'crm', uri: 'crm://customers/*' }],
      },
    },
    { name: 'constrained', rules: { tools: [{ effect: 'allow', match: 'db__query', constraints: { limit: { max: 10 } } }] } },
    { name: 'office', rules: { tools: [{ effect: 'allow', match: '*' }], ipAllow: ['10.0.0.0/8'] } },
  ]);
  const support = principalWith(['support']);

  it('shows what some allow rule matches and no deny rule matches', () => {
    expect(visible(snapshot, support, 'tool', 'crm', 'list_customers')).toBe(true);
    expect(visible(snapshot, support, 'tool', 'crm', 'delete_customer')).toBe(false);
    expect(visible(snapshot, support, 'tool', 'billing', 'list_invoices')).toBe(false);
    expect(visible(snapshot, support, 'prompt', 'crm', 'greeting')).toBe(true);
    expect(visible(snapshot, support, 'prompt', 'crm', 'farewell')).toBe(false);
    expect(visible(snapshot, support, 'resource', 'crm', 'crm://customers/42')).toBe(true);
    expect(visible(snapshot, support, 'resource', 'other', 'crm://customers/42')).toBe(false);
  });

  it('lists tools whose allow rules carry constraints without evaluating them', () => {
    expect(visible(snapshot, principalWith(['constrained']), 'tool', 'db', 'query')).toBe(true);
    expect(visible(snapshot, support, 'tool', 'crm', 'get_customer')).toBe(true);
  });

  it('sees a server when some allow rule of any kind can name it (for what a shared upstream says outside calls)', () => {
    expect(seesServer(snapshot, support, 'crm')).toBe(true);
    expect(seesServer(snapshot, support, 'billing')).toBe(false);
    expect(seesServer(snapshot, support, 'cr')).toBe(false);
    expect(seesServer(snapshot, principalWith(['constrained']), 'db')).toBe(true);
    expect(seesServer(snapshot, principalWith(['constrained']), 'crm')).toBe(false);
    const resourcesOnly = snapshotWith([{ name: 'r', rules: { resources: [{ effect: 'allow', server: 'docs', uri: '*' }] } }]);
    expect(seesServer(resourcesOnly, principalWith(['r']), 'docs')).toBe(true);
    expect(seesServer(resourcesOnly, principalWith(['r']), 'crm')).toBe(false);
    const globbed = snapshotWith([
      {
        name: 'g',
        rules: {
          tools: [
            { effect: 'allow', match: 'git*' },
            { effect: 'deny', match: 'crm__*' },
          ],
        },
      },
    ]);
    expect(seesServer(globbed, principalWith(['g']), 'github')).toBe(true);
    expect(seesServer(globbed, principalWith(['g']), 'crm')).toBe(false);
  });

  it('sees no server without roles or outside the ip allow-list', () => {
    expect(seesServer(snapshot, principalWith([]), 'crm')).toBe(false);
    expect(seesServer(snapshot, principalWith(['office'], { ip: '10.1.1.1' }), 'crm')).toBe(true);
    expect(seesServer(snapshot, principalWith(['office'], { ip: '11.1.1.1' }), 'crm')).toBe(false);
  });

  it('shows nothing to keys without roles or outside their ip allow-list', () => {
    expect(visible(snapshot, principalWith([]), 'tool', 'crm', 'list_customers')).toBe(false);
    expect(visible(snapshot, principalWith(['office'], { ip: '10.1.1.1' }), 'tool', 'crm', 'x')).toBe(true);
    expect(visible(snapshot, principalWith(['office'], { ip: '11.1.1.1' }), 'tool', 'crm', 'x')).toBe(false);
    expect(visible(snapshot, principalWith(['office']), 'tool', 'crm', 'x')).toBe(false);
  });
});

describe('templateVisible', () => {
  const snapshot = snapshotWith([
    { name: 'anything', rules: { resources: [{ effect: 'allow', uri: '*' }] } },
    { name: 'tools-only', rules: { tools: [{ effect: 'allow', match: '*' }] } },
    { name: 'items', rules: { resources: [{ effect: 'allow', server: 'nm', uri: 'nm://items/*' }] } },
    { name: 'one-item', rules: { resources: [{ effect: 'allow', server: 'nm', uri: 'nm://items/42' }] } },
    { name: 'other-server', rules: { resources: [{ effect: 'allow', server: 'crm', uri: '*' }] } },
    {
      name: 'no-items',
      rules: {
        resources: [
          { effect: 'allow', uri: '*' },
          { effect: 'deny', server: 'nm', uri: 'nm://items/*' },
          { effect: 'deny', uri: 'nm://fixed' },
          { effect: 'deny', uri: '*/42' },
        ],
      },
    },
    { name: 'office', rules: { resources: [{ effect: 'allow', uri: '*' }], ipAllow: ['10.0.0.0/8'] } },
  ]);
  const sees = (roles: string[], template: string, server = 'nm', ip?: string) =>
    templateVisible(snapshot, principalWith(roles, ip ? { ip } : {}), server, template);

  it('shows a template when some allow rule for its server can match one of its URIs', () => {
    expect(sees(['anything'], 'nm://items/{id}')).toBe(true);
    expect(sees(['items'], 'nm://items/{id}')).toBe(true);
    expect(sees(['one-item'], 'nm://items/{id}')).toBe(true);
    expect(sees(['other-server'], 'crm://x/{id}', 'crm')).toBe(true);
  });

  it('hides it from a role whose resource rules allow nothing on that server or under that template', () => {
    expect(sees(['tools-only'], 'nm://items/{id}')).toBe(false);
    expect(sees(['other-server'], 'nm://items/{id}')).toBe(false);
    expect(sees(['items'], 'nm://secret/{id}')).toBe(false);
    expect(sees(['items'], 'nm://items/{id}', 'crm')).toBe(false);
    expect(sees([], 'nm://items/{id}')).toBe(false);
  });

  it('hides it when one deny rule matches every URI it expands to, in any role', () => {
    expect(sees(['no-items'], 'nm://items/{id}')).toBe(false);
    expect(sees(['anything', 'no-items'], 'nm://items/{id}')).toBe(false);
    expect(sees(['no-items'], 'nm://fixed')).toBe(false);
    expect(sees(['no-items'], 'nm://secret/{id}')).toBe(true);
    // The deny covers only some of its URIs: listed, each read decided on its URI.
    expect(sees(['no-items'], 'nm://other/{id}')).toBe(true);
    expect(sees(['no-items'], 'nm://items/{id}', 'crm')).toBe(true);
  });

  it('shows nothing outside the ip allow-list', () => {
    expect(sees(['office'], 'nm://items/{id}', 'nm', '10.0.0.1')).toBe(true);
    expect(sees(['office'], 'nm://items/{id}', 'nm', '11.0.0.1')).toBe(false);
  });
});

describe('ruleLabel', () => {
  it('formats role:<roleName>/<path>', () => {
    expect(ruleLabel({ roleId: 'r1', roleName: 'support', path: 'tools[2]' })).toBe('role:support/tools[2]');
    expect(ruleLabel({ roleId: 'r1', roleName: 'ops', path: 'ipAllow' })).toBe('role:ops/ipAllow');
  });
});
