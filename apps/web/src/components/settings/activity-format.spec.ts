import { ACTIONS, type ActivityRow, actionWords, fieldChanges, targetLabel } from './activity-format';

const row = (over: Partial<ActivityRow>): ActivityRow => ({
  id: 'a1',
  actorId: 'u1',
  action: 'oauth_grant.created',
  targetType: 'oauth_grant',
  targetId: '0f0e0d0c-0000-4000-8000-000000000000',
  before: null,
  after: null,
  createdAt: '2026-12-07T00:00:00.000Z',
  ...over,
});

describe('activity entries of OAuth grants', () => {
  it('are filterable and read as connecting and disconnecting an app', () => {
    expect(ACTIONS).toEqual(expect.arrayContaining(['oauth_grant.created', 'oauth_grant.revoked']));
    expect(actionWords(row({}))).toBe('connected an app (OAuth)');
    expect(actionWords(row({ action: 'oauth_grant.revoked' }))).toBe('disconnected an app (OAuth)');
  });

  it('name the app, not the consenting person, as what changed', () => {
    const after = { client: { id: 'c', name: 'Claude', uri: null }, consentedBy: { id: 'u1', email: 'ann@example.com' } };
    expect(targetLabel(row({ after }), new Map())).toBe('Claude');
    expect(targetLabel(row({ action: 'oauth_grant.revoked', before: after }), new Map())).toBe('Claude');
    expect(targetLabel(row({}), new Map())).toBe('oauth_grant 0f0e0d0c');
  });
});

describe('fieldChanges', () => {
  it('lists changed fields with both sides, leaving out unchanged ones and timestamps', () => {
    expect(fieldChanges({ name: 'a', enabled: true, updatedAt: '1' }, { name: 'b', enabled: true, updatedAt: '2', tags: ['x'] })).toEqual([
      { field: 'name', before: 'a', after: 'b' },
      { field: 'tags', after: ['x'] },
    ]);
  });

  it('a created thing has only after values, a deleted one only before', () => {
    expect(fieldChanges(null, { name: 'n' })).toEqual([{ field: 'name', after: 'n' }]);
    expect(fieldChanges({ name: 'n' }, null)).toEqual([{ field: 'name', before: 'n' }]);
    expect(fieldChanges(null, null)).toEqual([]);
  });
});
