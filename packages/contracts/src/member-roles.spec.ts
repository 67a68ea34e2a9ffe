import { MemberRole, roleMay } from './member-roles';

describe('the role matrix', () => {
  it('lets owners do everything, admins manage and read, members read, billing only billing', () => {
    const table = Object.fromEntries(
      MemberRole.options.map((r) => [r, (['read', 'manage', 'billing', 'owner'] as const).filter((a) => roleMay(r, a))]),
    );
    expect(table).toEqual({
      owner: ['read', 'manage', 'billing', 'owner'],
      admin: ['read', 'manage'],
      member: ['read'],
      billing: ['billing'],
    });
  });

  it('refuses an unknown role with the list of roles', () => {
    expect(MemberRole.safeParse('root').error?.issues[0]?.message).toBe('must be one of owner, admin, member, billing');
  });
});
