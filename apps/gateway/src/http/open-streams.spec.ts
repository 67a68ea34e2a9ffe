import type { PolicySnapshot, SnapshotKey } from '@toolgate/contracts';
import { OpenStreams } from './open-streams';

const key = (id: string, extra: Partial<SnapshotKey> = {}): SnapshotKey => ({
  id,
  name: id,
  prefix: `tg_${id}`,
  hash: '0'.repeat(64),
  roleIds: ['r1'],
  metadata: {},
  expiresAt: null,
  ...extra,
});

const snapshot = (keys: SnapshotKey[]) => ({ keys }) as unknown as PolicySnapshot;

describe('OpenStreams', () => {
  afterEach(() => jest.useRealTimers());

  it('lists streams by org with their scope and forgets them once (idempotent)', () => {
    const s = new OpenStreams();
    const forgetA = s.add('o1', 'a', null, key('k1'), null, () => undefined);
    s.add('o1', 'b', 'srv', key('k1'), '203.0.113.9', () => undefined);
    s.add('o2', 'c', null, key('k2'), null, () => undefined);
    const scopes = (org: string) => [...s.of(org)].map(([id, o]) => [id, o.scope, o.key.id, o.ip]);
    expect(scopes('o1')).toEqual([
      ['a', null, 'k1', null],
      ['b', 'srv', 'k1', '203.0.113.9'],
    ]);
    expect(s.size).toBe(3);
    forgetA();
    forgetA();
    expect(scopes('o1')).toEqual([['b', 'srv', 'k1', '203.0.113.9']]);
    expect(scopes('nobody')).toEqual([]);
  });

  it('ends the streams of a revoked key or one with other roles, and only those', () => {
    const s = new OpenStreams();
    const ended: string[] = [];
    s.add('o1', 'revoked', null, key('k1'), null, () => ended.push('revoked'));
    s.add('o1', 'regranted', null, key('k2'), null, () => ended.push('regranted'));
    s.add('o1', 'same', null, key('k3'), null, () => ended.push('same'));
    s.add('o2', 'other-org', null, key('k1'), null, () => ended.push('other-org'));
    s.snapshotChanged('o1', snapshot([key('k2', { roleIds: ['r1', 'r2'] }), key('k3')]));
    expect(ended).toEqual(['revoked', 'regranted']);
    expect([...s.of('o1')].map(([id]) => id)).toEqual(['same']);
    expect(s.size).toBe(2);
  });

  it('ends every stream of a deleted org', () => {
    const s = new OpenStreams();
    const ended: string[] = [];
    s.add('o1', 'a', null, key('k1'), null, () => ended.push('a'));
    s.snapshotChanged('o1', null);
    expect(ended).toEqual(['a']);
    expect(s.size).toBe(0);
  });

  it('ends a stream when its key expires, and follows an expiry moved by a snapshot', () => {
    jest.useFakeTimers({ now: 0 });
    const s = new OpenStreams();
    const ended: string[] = [];
    s.add('o1', 'a', null, key('k1', { expiresAt: new Date(1000).toISOString() }), null, () => ended.push('a'));
    s.add('o1', 'b', null, key('k2', { expiresAt: new Date(1000).toISOString() }), null, () => ended.push('b'));
    s.snapshotChanged(
      'o1',
      snapshot([key('k1', { expiresAt: new Date(1000).toISOString() }), key('k2', { expiresAt: new Date(5000).toISOString() })]),
    );
    jest.advanceTimersByTime(1000);
    expect(ended).toEqual(['a']);
    jest.advanceTimersByTime(4000);
    expect(ended).toEqual(['a', 'b']);
    expect(s.size).toBe(0);
  });

  it('ends at once a stream whose key has already expired, and re-arms past the longest timer', () => {
    jest.useFakeTimers({ now: 10_000 });
    const s = new OpenStreams();
    const ended: string[] = [];
    s.add('o1', 'late', null, key('k1', { expiresAt: new Date(5_000).toISOString() }), null, () => ended.push('late'));
    expect(ended).toEqual(['late']);
    const far = 10_000 + 2 ** 31 + 5_000;
    s.add('o1', 'far', null, key('k2', { expiresAt: new Date(far).toISOString() }), null, () => ended.push('far'));
    jest.advanceTimersByTime(2 ** 31 - 1);
    expect(ended).toEqual(['late']);
    jest.advanceTimersByTime(far - Date.now());
    expect(ended).toEqual(['late', 'far']);
  });

  it('a second stream for a session ends the first, so none stays open untracked', () => {
    const s = new OpenStreams();
    const ended: string[] = [];
    const forgetFirst = s.add('o1', 'a', null, key('k1'), null, () => ended.push('first'));
    s.add('o1', 'a', null, key('k1'), null, () => ended.push('second'));
    expect(ended).toEqual(['first']);
    forgetFirst(); // the first stream's close handler must not forget the second
    s.snapshotChanged('o1', snapshot([]));
    expect(ended).toEqual(['first', 'second']);
  });
});
