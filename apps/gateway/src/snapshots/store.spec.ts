import { randomUUID } from 'node:crypto';
import { channels, type PolicySnapshot, redisKeys, SNAPSHOT_SCHEMA_VERSION, type SnapshotTombstone } from '@toolgate/contracts';
import Redis from 'ioredis';
import { SnapshotStore } from './store';

// Real Redis (this worker's DB index). The keys are written as the control plane writes them.
let redis: Redis;
let sub: Redis;
let store: SnapshotStore;
let changes: Array<{ orgId: string; next: number | null; prev: number | null }>;

const snapshot = (orgId: string, slug: string, version: number): PolicySnapshot => ({
  schemaVersion: SNAPSHOT_SCHEMA_VERSION,
  orgId,
  orgSlug: slug,
  version,
  compiledAt: new Date().toISOString(),
  plan: { name: 'free', monthlyCallQuota: null },
  keys: [],
  grants: [],
  servers: [],
  roles: [],
  secrets: {},
});

async function put(s: PolicySnapshot): Promise<void> {
  await redis
    .multi()
    .set(redisKeys.snapshot(s.orgId), JSON.stringify(s))
    .hset(redisKeys.snapshotVersions, s.orgId, String(s.version))
    .hset(redisKeys.orgSlugs, s.orgSlug, s.orgId)
    .exec();
}

async function tombstone(orgId: string, slug: string, version: number): Promise<void> {
  const t: SnapshotTombstone = { orgId, orgSlug: slug, version, deleted: true, deletedAt: new Date().toISOString() };
  await redis
    .multi()
    .set(redisKeys.snapshotTombstone(orgId), JSON.stringify(t))
    .del(redisKeys.snapshot(orgId))
    .hset(redisKeys.snapshotVersions, orgId, String(version))
    .exec();
}

/** What Redis holds of one org after a restart with no data: nothing at all. */
async function forget(orgId: string, slug: string): Promise<void> {
  await redis.multi().del(redisKeys.snapshot(orgId)).hdel(redisKeys.snapshotVersions, orgId).hdel(redisKeys.orgSlugs, slug).exec();
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  redis = new Redis(process.env.REDIS_URL!);
  sub = new Redis(process.env.REDIS_URL!);
  store = new SnapshotStore(redis, sub);
  changes = [];
  store.onChange((orgId, next, prev) => changes.push({ orgId, next: next?.version ?? null, prev: prev?.version ?? null }));
  await store.start();
});

afterEach(() => {
  redis.disconnect();
  sub.disconnect();
});

describe('SnapshotStore: a missing key is not a deletion', () => {
  it('keeps serving the last good snapshot when Redis forgot the org (restart with no data)', async () => {
    const orgId = randomUUID();
    const slug = `keep-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 3));
    expect((await store.bySlug(slug))?.version).toBe(3);

    await forget(orgId, slug);
    await store.recheckAll();
    expect(await store.reload(orgId)).toMatchObject({ version: 3 });
    expect((await store.bySlug(slug))?.version).toBe(3);
    expect(changes.filter((c) => c.next === null)).toEqual([]);
  });

  it('a worker that starts while Redis is empty serves the org once it is republished', async () => {
    const orgId = randomUUID();
    const slug = `late-${orgId.slice(0, 8)}`;
    expect(await store.bySlug(slug)).toBeNull();
    await put(snapshot(orgId, slug, 1));
    // The control plane's publish announces it; that notice ends the short memory of "unknown slug".
    const announced = new Promise((r) => sub.once('message', r));
    await redis.publish(channels.snapshots, JSON.stringify({ orgId, version: 1 }));
    await announced;
    expect((await store.bySlug(slug))?.version).toBe(1);
  });

  it('remembers an unknown slug for a second without asking Redis again (timing cannot tell it from a known org)', async () => {
    const orgId = randomUUID();
    const slug = `nobody-${orgId.slice(0, 8)}`;
    expect(await store.bySlug(slug)).toBeNull();
    await put(snapshot(orgId, slug, 1)); // no notice: only a lookup in Redis would find it
    expect(await store.bySlug(slug)).toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await store.bySlug(slug))?.version).toBe(1);
  });

  it('never replaces a newer snapshot with an older one republished later', async () => {
    const orgId = randomUUID();
    const slug = `old-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 5));
    expect((await store.bySlug(slug))?.version).toBe(5);
    await forget(orgId, slug);
    await put(snapshot(orgId, slug, 4));
    await store.recheckAll();
    expect(await store.reload(orgId)).toMatchObject({ version: 5 });
    expect(store.get(orgId)?.version).toBe(5);
  });
});

describe('SnapshotStore: a tombstone drops the org for good', () => {
  it('drops the org on the tombstone notice, even one with a version it already has', async () => {
    const orgId = randomUUID();
    const slug = `gone-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 2));
    await store.bySlug(slug);
    await tombstone(orgId, slug, 2);
    await redis.publish(channels.snapshots, JSON.stringify({ orgId, version: 2, deleted: true }));
    await until(() => store.get(orgId) === null);
    expect(changes).toContainEqual({ orgId, next: null, prev: 2 });
    expect(await store.bySlug(slug)).toBeNull();
  });

  it('finds the tombstone on the version re-check after a reconnect (notice missed)', async () => {
    const orgId = randomUUID();
    const slug = `missed-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 2));
    await store.bySlug(slug);
    await tombstone(orgId, slug, 3);
    await store.recheckAll();
    expect(store.get(orgId)).toBeNull();
    expect(changes).toContainEqual({ orgId, next: null, prev: 2 });
  });

  it('a tombstone written while a reload is under way is not lost to that reload', async () => {
    const orgId = randomUUID();
    const slug = `race-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 2));
    await store.bySlug(slug);
    // One connection, so Redis runs these in order: the first reload reads before the tombstone.
    const first = store.reload(orgId);
    const written = tombstone(orgId, slug, 3);
    const second = store.reload(orgId);
    expect(await first).toMatchObject({ version: 2 });
    await written;
    expect(await second).toBeNull();
    expect(store.get(orgId)).toBeNull();
  });

  it('never serves a tombstoned org again, even if a stale snapshot of it reappears', async () => {
    const orgId = randomUUID();
    const slug = `stale-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 2));
    await store.bySlug(slug);
    await tombstone(orgId, slug, 3);
    await store.reload(orgId);
    expect(store.get(orgId)).toBeNull();

    // A confused Redis: the tombstone lost, an old snapshot of the deleted org written back.
    await redis.del(redisKeys.snapshotTombstone(orgId));
    await put(snapshot(orgId, slug, 9));
    await redis.publish(channels.snapshots, JSON.stringify({ orgId, version: 9 }));
    expect(await store.bySlug(slug)).toBeNull();
    expect(await store.reload(orgId)).toBeNull();
  });

  it('treats a tombstone it cannot parse as deleted too', async () => {
    const orgId = randomUUID();
    const slug = `odd-${orgId.slice(0, 8)}`;
    await put(snapshot(orgId, slug, 1));
    await store.bySlug(slug);
    await redis.set(redisKeys.snapshotTombstone(orgId), '{"schema":"from the future"}');
    expect(await store.reload(orgId)).toBeNull();
    expect(store.get(orgId)).toBeNull();
  });
});
