import { UpdateMemberRequest } from './members';

describe('UpdateMemberRequest', () => {
  it('takes one of the four roles and nothing else', () => {
    expect(UpdateMemberRequest.parse({ role: 'billing' })).toEqual({ role: 'billing' });
    expect(UpdateMemberRequest.safeParse({ role: 'root' }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'role: must be one of owner, admin, member, billing',
    ]);
    expect(UpdateMemberRequest.safeParse({ role: 'admin', userId: 'x' }).success).toBe(false);
  });
});
