import { tokenRoles } from './auth';

describe('tokenRoles (scope → member roles, capped by the person)', () => {
  it.each([
    [['read'], null, ['member']],
    [['manage'], null, ['admin']],
    [['billing'], null, ['billing']],
    [['read', 'manage', 'billing'], null, ['admin', 'member', 'billing']],
    [['manage'], 'owner', ['admin']],
    [['read', 'manage'], 'admin', ['admin', 'member']],
    [['read', 'manage'], 'member', ['member']],
    [['manage'], 'member', []],
    [['billing'], 'admin', []],
    [['read', 'billing'], 'billing', ['billing']],
  ] as const)('%j with person role %s acts as %j', (scopes, person, expected) => {
    expect(tokenRoles(scopes, person)).toEqual(expected);
  });
});
