import { RoleName, UpsertRoleRequest } from './roles';

const messages = (r: { error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('RoleName', () => {
  it('accepts lowercase names with digits, _ and -', () => {
    for (const n of ['a', 'support-agents', 'tier_2', '0ps']) expect(RoleName.safeParse(n).success).toBe(true);
  });

  it.each([['Admins'], ['-leading'], ['_leading'], ['has space'], [''], ['a'.repeat(64)]])('refuses %j', (n) => {
    expect(messages(RoleName.safeParse(n))).toEqual([
      ': must be 1-63 characters: lowercase letters, digits, _ and -, starting with a letter or digit',
    ]);
  });
});

describe('UpsertRoleRequest', () => {
  it('refuses an unknown effect, a negative rate and unknown fields, each at its path', () => {
    const r = UpsertRoleRequest.safeParse({
      name: 'ops',
      rules: { tools: [{ effect: 'permit', match: '*' }], rateLimits: [{ scope: 'key', perMinute: -5 }] },
      extra: true,
    });
    expect(r.success).toBe(false);
    const paths = (r.error?.issues ?? []).map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['rules.tools.0.effect', 'rules.rateLimits.0.perMinute', '']));
  });

  it('accepts a role without a description and clears one with null', () => {
    expect(UpsertRoleRequest.safeParse({ name: 'ops', rules: {} }).success).toBe(true);
    expect(UpsertRoleRequest.safeParse({ name: 'ops', description: null, rules: {} }).success).toBe(true);
  });
});
