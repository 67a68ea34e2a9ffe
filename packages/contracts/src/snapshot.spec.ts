import { effectiveIsolation, SnapshotNotice, SnapshotServer, SnapshotTombstone } from './snapshot';

describe('server isolation', () => {
  const stdio = {
    id: 's1',
    slug: 'mem',
    name: 'mem',
    transport: 'stdio',
    command: 'node',
    args: [],
    url: null,
    headers: {},
    env: {},
    timeoutMs: 1000,
    tags: [],
  };

  it('parses a server from a snapshot compiled before isolation modes, with the transport default', () => {
    const parsed = SnapshotServer.parse(stdio);
    expect(parsed.isolation).toBeUndefined();
    expect(effectiveIsolation(parsed)).toBe('per-key');
    expect(effectiveIsolation(SnapshotServer.parse({ ...stdio, transport: 'streamable-http', command: null, url: 'https://x' }))).toBe(
      'per-session',
    );
    expect(effectiveIsolation({ transport: 'sse', isolation: null })).toBe('per-session');
  });

  it("keeps the admin's choice whatever the transport, and refuses unknown modes", () => {
    expect(effectiveIsolation(SnapshotServer.parse({ ...stdio, isolation: 'shared' }))).toBe('shared');
    expect(effectiveIsolation({ transport: 'streamable-http', isolation: 'per-key' })).toBe('per-key');
    expect(SnapshotServer.safeParse({ ...stdio, isolation: 'per-org' }).success).toBe(false);
  });
});

describe('tombstones and notices', () => {
  const orgId = '0b0e7a52-6f0c-4d35-9a55-0d7c3f1e2a11';

  it('a tombstone must say deleted', () => {
    const t = { orgId, orgSlug: 'acme', version: 4, deleted: true, deletedAt: '2026-12-07T05:00:00.000Z' };
    expect(SnapshotTombstone.parse(t)).toEqual(t);
    expect(SnapshotTombstone.safeParse({ ...t, deleted: false }).success).toBe(false);
    expect(SnapshotTombstone.safeParse({ orgId, orgSlug: 'acme', version: 4, deletedAt: t.deletedAt }).success).toBe(false);
  });

  it('notices from before tombstones still parse; a deletion notice says so', () => {
    expect(SnapshotNotice.parse({ orgId, version: 3 })).toEqual({ orgId, version: 3 });
    expect(SnapshotNotice.parse({ orgId, version: 4, deleted: true }).deleted).toBe(true);
  });
});
