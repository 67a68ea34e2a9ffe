import { effectiveIsolation, SnapshotServer } from './snapshot';

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
