import { checkKey, findKeyByHash } from './keys';
import { fakeHash, key, snapshotWith } from './test-fixtures';

describe('findKeyByHash', () => {
  const snapshot = snapshotWith([], {
    keys: [
      key({ id: 'k1', hash: fakeHash(1) }),
      key({ id: 'k2', hash: fakeHash(2) }),
      key({ id: 'k3', hash: fakeHash(3), revokedAt: new Date() }),
    ],
  });

  it('finds active keys by their sha256 hex', () => {
    expect(findKeyByHash(snapshot, fakeHash(1))?.id).toBe('k1');
    expect(findKeyByHash(snapshot, fakeHash(2))?.id).toBe('k2');
    expect(findKeyByHash(snapshot, fakeHash(2))).toBe(snapshot.keys[1]);
  });

  it('accepts upper-case hex', () => {
    expect(findKeyByHash(snapshot, fakeHash(0xabc).toUpperCase())).toBeNull();
    const withHex = snapshotWith([], { keys: [key({ id: 'k', hash: fakeHash(0xabc) })] });
    expect(findKeyByHash(withHex, fakeHash(0xabc).toUpperCase())?.id).toBe('k');
  });

  it('does not find unknown or revoked keys', () => {
    expect(findKeyByHash(snapshot, fakeHash(3))).toBeNull();
    expect(findKeyByHash(snapshot, fakeHash(99))).toBeNull();
    expect(findKeyByHash(snapshot, '')).toBeNull();
  });
});

describe('checkKey', () => {
  const snapshot = snapshotWith([], {
    keys: [
      key({ id: 'forever', hash: fakeHash(1) }),
      key({ id: 'dated', hash: fakeHash(2), expiresAt: new Date('2030-01-01T00:00:00.000Z') }),
    ],
  });
  const byId = (id: string) => {
    const found = snapshot.keys.find((k) => k.id === id);
    if (!found) throw new Error(`no key ${id}`);
    return found;
  };
  const dated = byId('dated');
  const forever = byId('forever');

  it('is ok without an expiry', () => {
    expect(checkKey(forever)).toBe('ok');
    expect(checkKey(forever, new Date('2999-01-01'))).toBe('ok');
  });

  it('expires at the instant expiresAt is reached', () => {
    const expiry = Date.parse('2030-01-01T00:00:00.000Z');
    expect(checkKey(dated, expiry - 1)).toBe('ok');
    expect(checkKey(dated, expiry)).toBe('expired');
    expect(checkKey(dated, new Date(expiry + 1))).toBe('expired');
    expect(checkKey(dated, new Date('2025-06-01'))).toBe('ok');
  });
});
