// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${key.metadata.*}` references are literal rule values here.
import { fieldErrors, RoleName, UpsertRole } from './roles';

/** The paths and messages UpsertRole reports for `rules`, as the API and the role builder list them. */
function problems(rules: unknown): { path: string; message: string }[] {
  const parsed = UpsertRole.safeParse({ name: 'r', rules });
  return parsed.success ? [] : fieldErrors(parsed.error);
}

describe('UpsertRole', () => {
  it('accepts a role and fills in the lists it omits', () => {
    expect(UpsertRole.parse({ name: 'support-agent', rules: { tools: [{ effect: 'allow', match: 'crm__*' }] } })).toEqual({
      name: 'support-agent',
      rules: { tools: [{ effect: 'allow', match: 'crm__*' }], prompts: [], resources: [], rateLimits: [], redact: [], ipAllow: [] },
    });
  });

  it('reports shape problems and value checks in one answer', () => {
    expect(
      problems({
        tools: [
          { effect: 'permit', match: 'a__b' },
          { effect: 'deny', match: 'a__c', constraints: { id: { equals: 1 } } },
          { effect: 'allow', match: 'a__d', constraints: { id: { equals: '${key.meta.id}', oneOf: ['x', '${key.metadata.id'] } } },
        ],
        rateLimits: [{ scope: 'key', perMinute: -5 }],
      }).map((p) => p.path),
    ).toEqual([
      'rules.tools.0.effect',
      'rules.rateLimits.0.perMinute',
      'rules.tools.1.constraints',
      'rules.tools.2.constraints.id.equals',
      'rules.tools.2.constraints.id.oneOf.1',
    ]);
  });

  it('accepts real IPv6 addresses and blocks, and refuses what only looks like one', () => {
    for (const ok of ['::1', '2001:db8::/32', '1:2:3:4:5:6:7:8', '::', 'fe80::1/64', '10.0.0.0/8']) {
      expect({ ok, problems: problems({ ipAllow: [ok] }) }).toEqual({ ok, problems: [] });
    }
    for (const bad of ['1:::2', ':::::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::1', '1:2:3:4:5:6:7']) {
      expect({ bad, problems: problems({ ipAllow: [bad] }) }).toEqual({
        bad,
        problems: [{ path: 'rules.ipAllow.0', message: 'must be an IPv4 or IPv6 address or CIDR block' }],
      });
    }
  });

  it('names unknown fields the way the API does', () => {
    expect(problems({ tools: [{ effect: 'allow', match: 'a__b', extra: 1 }] })).toEqual([
      { path: 'rules.tools.0', message: 'unknown field: extra' },
    ]);
  });

  it('accepts a role without a description and clears one with null', () => {
    expect(UpsertRole.safeParse({ name: 'ops', rules: {} }).success).toBe(true);
    expect(UpsertRole.safeParse({ name: 'ops', description: null, rules: {} }).success).toBe(true);
  });
});

describe('RoleName', () => {
  it('accepts lowercase names with digits, _ and -', () => {
    for (const n of ['a', 'support-agents', 'tier_2', '0ps']) expect(RoleName.safeParse(n).success).toBe(true);
  });

  it.each([['Admins'], ['-leading'], ['_leading'], ['has space'], [''], ['a'.repeat(64)]])('refuses %j', (n) => {
    const parsed = RoleName.safeParse(n);
    expect(parsed.success ? [] : parsed.error.issues.map((i) => i.message)).toEqual([
      'must be 1-63 characters: lowercase letters, digits, _ and -, starting with a letter or digit',
    ]);
  });
});
