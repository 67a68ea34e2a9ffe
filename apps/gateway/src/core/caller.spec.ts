import type { PolicySnapshot, SnapshotGrant, SnapshotKey } from '@toolgate/contracts';
import { currentKey, grantAsKey } from './caller';

const grant: SnapshotGrant = {
  id: 'g1',
  clientId: 'c1',
  clientName: 'Client',
  userId: 'u1',
  userEmail: 'u@example.test',
  roleIds: ['r1'],
  resource: 'https://gw.example/mcp/acme',
};
const key: SnapshotKey = {
  id: 'g1',
  name: 'same id as the grant',
  prefix: 'tg_AbCd1234',
  hash: 'a'.repeat(64),
  roleIds: ['r2'],
  metadata: { x: 1 },
  expiresAt: null,
};
const snapshot = (keys: SnapshotKey[], grants: SnapshotGrant[]) => ({ keys, grants }) as unknown as PolicySnapshot;

describe('grants as keys', () => {
  it('a grant acts as a key with its roles, no metadata and the token’s expiry', () => {
    expect(grantAsKey(grant, '2030-01-01T00:00:00.000Z')).toMatchObject({
      id: 'g1',
      roleIds: ['r1'],
      metadata: {},
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
  });

  it('finds a held grant among the grants (keeping its token expiry) and a held key among the keys, never the other', () => {
    const held = grantAsKey(grant, '2030-01-01T00:00:00.000Z');
    const both = snapshot([key], [{ ...grant, roleIds: ['r3'] }]);
    expect(currentKey(both, held)).toMatchObject({ id: 'g1', roleIds: ['r3'], expiresAt: '2030-01-01T00:00:00.000Z' });
    expect(currentKey(both, key)).toBe(key);
    // Revoked: the grant left the snapshot; a key with the same id does not stand in for it.
    expect(currentKey(snapshot([key], []), held)).toBeUndefined();
    expect(currentKey(snapshot([], [grant]), key)).toBeUndefined();
  });
});
