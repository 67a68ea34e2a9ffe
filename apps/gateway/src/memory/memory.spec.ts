import type { GatewayTaskRecord, PolicySnapshot } from '@toolgate/contracts';
import type { SessionState } from '../core/sessions';
import { MemoryEventLog } from './event-log';
import { MemoryQuota } from './quota';
import { MemorySessionStore } from './sessions';
import { StaticSnapshots } from './snapshots';
import { MemoryTaskStore } from './task-store';

const session = (id: string): SessionState => ({
  id,
  orgId: 'o',
  keyId: 'k',
  server: null,
  protocolVersion: '2025-11-25',
  clientInfo: null,
  clientCapabilities: {},
  logLevel: null,
  createdAt: Date.now(),
});

describe('in-memory adapters', () => {
  afterEach(() => jest.useRealTimers());

  it('sessions expire after their idle TTL, are copies, and an update never brings back an ended one', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const store = new MemorySessionStore(10);
    const s = session('a');
    await store.create(s);
    s.logLevel = 'debug';
    expect((await store.get('a'))?.logLevel).toBeNull();
    jest.setSystemTime(1_000_000 + 9_000);
    expect(await store.get('a')).not.toBeNull(); // a request renews the TTL
    jest.setSystemTime(1_000_000 + 18_000);
    expect(await store.get('a')).not.toBeNull();
    jest.setSystemTime(1_000_000 + 29_000);
    expect(await store.get('a')).toBeNull();
    await store.update(session('a'));
    expect(await store.get('a')).toBeNull();
    await store.create(session('b'));
    await store.delete('b');
    expect(await store.openSessions()).toBe(0);
  });

  it('snapshots: a newer version replaces and is announced, an older one is ignored', async () => {
    const snaps = new StaticSnapshots();
    const seen: number[] = [];
    snaps.onChange((_org, next) => seen.push(next!.version));
    const snap = (version: number) => ({ orgId: 'o', orgSlug: 'local', version }) as PolicySnapshot;
    snaps.publish(snap(1));
    snaps.publish(snap(2));
    snaps.publish(snap(1));
    expect(seen).toEqual([1, 2]);
    expect((await snaps.bySlug('local'))?.version).toBe(2);
    expect(await snaps.bySlug('other')).toBeNull();
  });

  it('quota: counts per month and refuses at the cap', async () => {
    const quota = new MemoryQuota();
    const jan = new Date('2026-01-31T23:59:59Z');
    expect(await quota.charge('o', 2, jan)).toEqual({ allowed: true, used: 1 });
    expect(await quota.charge('o', 2, jan)).toEqual({ allowed: true, used: 2 });
    expect(await quota.charge('o', 2, jan)).toMatchObject({ allowed: false, used: 2, quota: 2, period: '2026-01' });
    expect(await quota.charge('o', 2, new Date('2026-02-01T00:00:00Z'))).toEqual({ allowed: true, used: 1 });
  });

  it('event log keeps the last events of a stream, for its session only', async () => {
    const log = new MemoryEventLog({ maxEvents: 2, ttlMs: 60_000 });
    const rec = log.recorder('s1', 'st', 'call');
    rec(1, 'a', false);
    rec(2, 'b', false);
    rec(3, 'c', true);
    expect(await log.read('s1', 'st')).toEqual([
      { seq: 2, kind: 'call', data: 'b' },
      { seq: 3, kind: 'final', data: 'c' },
    ]);
    expect(await log.read('s2', 'st')).toEqual([]);
  });

  it('tasks: pages in creation order, expire, and refuse a cursor they did not make', async () => {
    const store = new MemoryTaskStore();
    const rec = (i: number, ttl = 60_000): GatewayTaskRecord =>
      ({
        id: `tgt_${i}`,
        orgId: 'o',
        sessionId: 's',
        backendKey: 'b',
        upstreamTaskId: `u${i}`,
        createdAt: Date.now(),
        expiresAt: Date.now() + ttl,
      }) as GatewayTaskRecord;
    for (let i = 1; i <= 3; i++) await store.save(rec(i));
    await store.save(rec(4, -1));
    const first = await store.page('o', 's', undefined, 2);
    expect(first!.records.map((r) => r.id)).toEqual(['tgt_1', 'tgt_2']);
    const second = await store.page('o', 's', first!.nextCursor, 2);
    expect(second!.records.map((r) => r.id)).toEqual(['tgt_3']);
    expect(await store.page('o', 's', Buffer.from('nope').toString('base64url'), 2)).toBeNull();
    expect((await store.byUpstream('b', 'u2'))?.id).toBe('tgt_2');
    expect(await store.get('o', 'tgt_4')).toBeNull();
    expect(await store.prune('o', 's')).toBe(3);
    await store.update({ ...rec(2), expiresAt: Date.now() + 999_999 });
    expect((await store.get('o', 'tgt_2'))!.expiresAt).toBeLessThan(Date.now() + 100_000);
  });
});
