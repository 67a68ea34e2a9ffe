import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PolicySnapshot, redisKeys, SnapshotTombstone } from '@toolgate/contracts';
import Redis from 'ioredis';
import { killRedis, startRedis } from '../../../../gateway/test/fixtures/redis-server';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser, uniq } from '../../../test/harness';
import { SnapshotEpoch } from './snapshot-epoch';
import { SnapshotReconciler } from './snapshot-reconciler.service';
import { SnapshotWrite } from './snapshot-scripts';
import { SnapshotService } from './snapshot.service';

/** A port nothing listens on yet. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(fn: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('snapshot publishing', () => {
  it('commits the change even when Redis is down, reports not-ready, and publishes once Redis is back', async () => {
    const port = await freePort();
    const api: Api = await startApi({ REDIS_URL: `redis://127.0.0.1:${port}`, SNAPSHOT_RETRY_MS: '200' });
    let redis: ChildProcess | undefined;
    try {
      const owner = await signup(api, 'offline');
      const slug = uniq('offline');
      const created = await api.req().post('/v1/orgs').set(owner.auth).send({ name: 'Offline', slug }).expect(201);
      const row = await api.prisma.db.policySnapshot.findFirstOrThrow({ where: { orgId: created.body.id } });
      expect(row.publishedAt).toBeNull();

      const notReady = await api.req().get('/readyz').expect(503);
      expect(notReady.body.checks.redis).toBe(false);

      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        const raw = await until(async () => {
          if (client.status !== 'ready') await client.connect().catch(() => undefined);
          return client.get(redisKeys.snapshot(created.body.id));
        }, 10_000);
        expect(PolicySnapshot.parse(JSON.parse(raw))).toMatchObject({ orgId: created.body.id, version: 1 });
        await until(
          async () => (await api.prisma.db.policySnapshot.findFirstOrThrow({ where: { orgId: created.body.id } })).publishedAt,
          5000,
        );
        await until(async () => (await api.req().get('/readyz')).status === 200, 5000);
      } finally {
        client.disconnect();
      }
    } finally {
      redis?.kill('SIGKILL');
      await api.close();
    }
  });

  it('never lets an older version overwrite a newer one in Redis', async () => {
    const api = await startApi();
    try {
      const owner = await signup(api, 'race');
      const org = (
        await api
          .req()
          .post('/v1/orgs')
          .set(owner.auth)
          .send({ name: 'R', slug: uniq('race') })
          .expect(201)
      ).body;
      await api.req().patch(`/v1/orgs/${org.slug}`).set(owner.auth).send({ name: 'R2' }).expect(200);
      const snapshots = api.app.get((await import('./snapshot.service')).SnapshotService);
      const v1 = await api.prisma.db.policySnapshot.findFirstOrThrow({ where: { orgId: org.id, version: 1 } });
      await snapshots.publish({ orgId: org.id, orgSlug: org.slug, version: 1, snapshot: v1.snapshot as never });
      const raw = await api.redis.client.get(redisKeys.snapshot(org.id));
      expect(JSON.parse(raw!).version).toBe(2);
    } finally {
      await api.close();
    }
  });

  it('GET /snapshot is for owners and admins only', async () => {
    const api = await startApi();
    try {
      const owner = await signup(api, 'snap');
      const member = await signup(api, 'snapm');
      const org = (
        await api
          .req()
          .post('/v1/orgs')
          .set(owner.auth)
          .send({ name: 'S', slug: uniq('snap') })
          .expect(201)
      ).body;
      await api.prisma.db.membership.create({ data: { orgId: org.id, userId: member.id, role: 'member' } });
      const res = await api.req().get(`/v1/orgs/${org.slug}/snapshot`).set(owner.auth).expect(200);
      expect(res.body).toMatchObject({ version: 1, snapshot: { orgId: org.id } });
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/snapshot`).set(member.auth), 403);
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/activity`).set(member.auth), 403);
    } finally {
      await api.close();
    }
  });
});

/**
 * A redis-server of the test's own with no persistence: killing and starting it again is a
 * Redis that came back empty. The machine's shared Redis is never touched.
 */
class ThrowawayRedis {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'tg-snap-redis-'));
  readonly reader: Redis;
  constructor(readonly port: number) {
    this.reader = new Redis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    this.reader.on('error', () => undefined);
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = await startRedis(this.port, this.dir);
  }
  async restartEmpty(): Promise<void> {
    if (this.child) await killRedis(this.child);
    await this.start();
  }
  async close(): Promise<void> {
    this.reader.disconnect();
    if (this.child) await killRedis(this.child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The org's snapshot as Redis holds it now, or null. */
async function redisSnapshot(redis: Redis, orgId: string): Promise<PolicySnapshot | null> {
  const raw = await redis.get(redisKeys.snapshot(orgId));
  return raw === null ? null : PolicySnapshot.parse(JSON.parse(raw));
}

/** Everything a gateway needs of a live org is back: snapshot at `version`, version, slug route. */
async function served(redis: Redis, org: { id: string; slug: string }, version: number): Promise<boolean> {
  const [snap, v, owner] = await Promise.all([
    redisSnapshot(redis, org.id),
    redis.hget(redisKeys.snapshotVersions, org.id),
    redis.hget(redisKeys.orgSlugs, org.slug),
  ]);
  return snap?.version === version && Number(v) === version && owner === org.id;
}

/** The deleted org's tombstone is there, and no snapshot or slug route of it. */
async function gone(redis: Redis, org: { id: string; slug: string }): Promise<boolean> {
  const [tomb, snap, owner] = await Promise.all([
    redis.get(redisKeys.snapshotTombstone(org.id)),
    redis.get(redisKeys.snapshot(org.id)),
    redis.hget(redisKeys.orgSlugs, org.slug),
  ]);
  return tomb !== null && SnapshotTombstone.parse(JSON.parse(tomb)).orgId === org.id && snap === null && owner !== org.id;
}

/** A counter of the API's /metrics (0 while it has no sample). */
async function metric(api: Api, name: string): Promise<number> {
  const text = (await api.req().get('/metrics').expect(200)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}
const REPUBLISHED = 'toolgate_api_snapshot_republish_total{outcome="done"}';

describe('a Redis that lost its data', () => {
  let redis: ThrowawayRedis;
  let api: Api | undefined;
  let owner: TestUser;

  beforeEach(async () => {
    redis = new ThrowawayRedis(await freePort());
    await redis.start();
  });
  afterEach(async () => {
    await api?.close();
    api = undefined;
    await redis.close();
  });

  /** One live org at version 2 and one deleted org (with its last snapshot, kept for replays). */
  async function orgs(a: Api) {
    owner = await signup(a, 'lost');
    const live = await createOrg(a, owner);
    await a.req().patch(`/v1/orgs/${live.slug}`).set(owner.auth).send({ name: 'Renamed' }).expect(200);
    const deleted = await createOrg(a, owner);
    const lastOfDeleted = await a.prisma.db.policySnapshot.findFirstOrThrow({ where: { orgId: deleted.id } });
    await a.req().delete(`/v1/orgs/${deleted.slug}`).set(owner.auth).send({ confirm: deleted.slug }).expect(204);
    expect(await served(redis.reader, live, 2)).toBe(true);
    expect(await gone(redis.reader, deleted)).toBe(true);
    const stale = {
      orgId: deleted.id,
      orgSlug: deleted.slug,
      version: lastOfDeleted.version,
      snapshot: lastOfDeleted.snapshot as unknown as PolicySnapshot,
    };
    return { live, deleted, stale };
  }

  it('restarted empty: the reconnect alone brings every snapshot and tombstone back, no admin action', async () => {
    // The periodic look and reconcile are out of the way: only the reconnect can notice.
    api = await startApi({ REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '600000', SNAPSHOT_RECONCILE_MS: '600000' });
    const { live, deleted } = await orgs(api);
    const before = await redis.reader.get(redisKeys.snapshotEpoch);
    expect(before).not.toBeNull();

    await redis.restartEmpty();
    const restarted = Date.now();
    expect(await redis.reader.get(redisKeys.snapshot(live.id))).toBeNull();
    await until(async () => (await served(redis.reader, live, 2)) && gone(redis.reader, deleted), 10_000);
    expect(Date.now() - restarted).toBeLessThan(5000);
    const after = await redis.reader.get(redisKeys.snapshotEpoch);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(api.app.get(SnapshotEpoch).current).toBe(after);
  });

  it('flushed without a reconnect: the periodic look notices and republishes', async () => {
    api = await startApi({ REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '200', SNAPSHOT_RECONCILE_MS: '600000' });
    const { live, deleted } = await orgs(api);
    const sweeps = await metric(api, REPUBLISHED);
    await redis.reader.flushall();
    await until(async () => (await served(redis.reader, live, 2)) && gone(redis.reader, deleted), 5000);
    await until(async () => (await metric(api!, REPUBLISHED)) > sweeps, 5000);
  });

  it('a write prepared before the loss is fenced, and a deleted org is never resurrected', async () => {
    api = await startApi({ REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '600000', SNAPSHOT_RECONCILE_MS: '600000' });
    const { live, deleted, stale } = await orgs(api);
    const snapshots = api.app.get(SnapshotService);
    const liveV1 = await api.prisma.db.policySnapshot.findFirstOrThrow({ where: { orgId: live.id, version: 1 } });

    // Redis loses everything under a publisher still holding the old epoch: nothing lands, and
    // the refusal itself makes the API look at the epoch and republish (tombstones first).
    await redis.reader.flushall();
    expect(await snapshots.publish(stale)).toBe(SnapshotWrite.Fenced);
    expect(await redis.reader.get(redisKeys.snapshot(deleted.id))).toBeNull();
    await until(async () => (await served(redis.reader, live, 2)) && gone(redis.reader, deleted), 5000);

    // With the new epoch: the tombstone still wins, and an older version never replaces a newer one.
    expect(await snapshots.publish(stale)).toBe(SnapshotWrite.Deleted);
    expect(await gone(redis.reader, deleted)).toBe(true);
    const old = { orgId: live.id, orgSlug: live.slug, version: 1, snapshot: liveV1.snapshot as unknown as PolicySnapshot };
    expect(await snapshots.publish(old)).toBe(SnapshotWrite.Current);
    expect(await served(redis.reader, live, 2)).toBe(true);
  });

  it('a slug reused after a deletion routes to the new org, also after a reset (the tombstone never unroutes it)', async () => {
    api = await startApi({ REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '200', SNAPSHOT_RECONCILE_MS: '600000' });
    const { deleted } = await orgs(api);
    const reused = await createOrg(api, owner, deleted.slug);
    expect(await served(redis.reader, reused, 1)).toBe(true);
    await redis.restartEmpty();
    await until(async () => (await served(redis.reader, reused, 1)) && gone(redis.reader, deleted), 10_000);
    // The reconcile step writes a lost tombstone back after the live orgs: still routed to the new org.
    await redis.reader.del(redisKeys.snapshotTombstone(deleted.id));
    await until(async () => {
      await api!.app.get(SnapshotReconciler).step();
      return redis.reader.exists(redisKeys.snapshotTombstone(deleted.id));
    }, 5000);
    expect(await redis.reader.hget(redisKeys.orgSlugs, deleted.slug)).toBe(reused.id);
  });

  it('a republish Redis refuses (out of memory) is retried until it completes', async () => {
    api = await startApi({ REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '200', SNAPSHOT_RECONCILE_MS: '600000' });
    const { live, deleted } = await orgs(api);
    // Redis loses its data and refuses every write (maxmemory with noeviction): reads still work.
    await redis.reader.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.reader.multi().config('SET', 'maxmemory', '1').flushall().exec();
    await expect(redis.reader.set('probe', '1')).rejects.toThrow(/OOM/);
    await new Promise((r) => setTimeout(r, 1500)); // several looks and failed sweeps
    expect(await redis.reader.dbsize()).toBe(0);

    expect(await metric(api, 'toolgate_api_snapshot_republish_total{outcome="failed"}')).toBeGreaterThanOrEqual(1);
    await redis.reader.config('SET', 'maxmemory', '0');
    await until(async () => (await served(redis.reader, live, 2)) && gone(redis.reader, deleted), 5000);
    expect(await redis.reader.get(redisKeys.snapshotEpoch)).toBe(api.app.get(SnapshotEpoch).current);
  });

  it('a deletion Redis refuses is committed, and its tombstone is retried until Redis takes it', async () => {
    api = await startApi({
      REDIS_URL: redis.url,
      SNAPSHOT_RETRY_MS: '200',
      SNAPSHOT_EPOCH_CHECK_MS: '600000',
      SNAPSHOT_RECONCILE_MS: '600000',
    });
    owner = await signup(api, 'refused');
    const doomed = await createOrg(api, owner);
    expect(await served(redis.reader, doomed, 1)).toBe(true);
    // Redis keeps its data (and epoch) but refuses writes: only the retry timer can help.
    await redis.reader.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.reader.config('SET', 'maxmemory', '1');
    await api.req().delete(`/v1/orgs/${doomed.slug}`).set(owner.auth).send({ confirm: doomed.slug }).expect(204);
    expect(await api.prisma.db.orgTombstone.findUniqueOrThrow({ where: { orgId: doomed.id } })).toMatchObject({ publishedAt: null });
    expect(await redis.reader.exists(redisKeys.snapshotTombstone(doomed.id))).toBe(0);

    await redis.reader.config('SET', 'maxmemory', '0');
    await until(() => gone(redis.reader, doomed), 5000);
    await until(async () => (await api!.prisma.db.orgTombstone.findUniqueOrThrow({ where: { orgId: doomed.id } })).publishedAt, 5000);
  });

  it('reconciles drift with the epoch intact (old dump, evicted keys), one bounded batch per step', async () => {
    api = await startApi({
      REDIS_URL: redis.url,
      SNAPSHOT_EPOCH_CHECK_MS: '600000',
      SNAPSHOT_RECONCILE_MS: '600000',
      SNAPSHOT_RECONCILE_BATCH: '1',
    });
    const reconciler = api.app.get(SnapshotReconciler);
    await until(async () => (await metric(api!, REPUBLISHED)) >= 1, 5000); // the boot sweep of this fresh Redis
    const { live, deleted } = await orgs(api);
    const other = await createOrg(api, owner);

    // A Redis restored from an older dump, and keys evicted: the epoch itself survived.
    await redis.reader.hset(redisKeys.snapshotVersions, live.id, '1');
    await redis.reader.del(redisKeys.snapshot(other.id), redisKeys.snapshotTombstone(deleted.id));
    await redis.reader.hdel(redisKeys.orgSlugs, live.slug);
    const damaged = async () =>
      [!(await served(redis.reader, live, 2)), !(await served(redis.reader, other, 1)), !(await gone(redis.reader, deleted))].filter(
        Boolean,
      ).length;
    expect(await damaged()).toBe(3);

    const repairs = (kind: string) => metric(api!, `toolgate_api_snapshot_repairs_total{kind="${kind}"}`);
    const [snapshotsBefore, tombstonesBefore] = [await repairs('snapshot'), await repairs('tombstone')];
    // Each step looks at one org and one tombstone: it can repair at most two of the three.
    await reconciler.step();
    expect(await damaged()).toBeGreaterThanOrEqual(1);
    const orgCount = await api.prisma.db.organization.count();
    const tombCount = await api.prisma.db.orgTombstone.count();
    for (let i = 0; i <= Math.max(orgCount, tombCount) && (await damaged()) > 0; i++) await reconciler.step();
    expect(await damaged()).toBe(0);
    expect((await repairs('snapshot')) - snapshotsBefore).toBe(2);
    expect((await repairs('tombstone')) - tombstonesBefore).toBe(1);
  });

  it('two API instances on one Redis agree on one epoch and republish without fighting', async () => {
    const opts = { REDIS_URL: redis.url, SNAPSHOT_EPOCH_CHECK_MS: '200', SNAPSHOT_RECONCILE_MS: '600000' };
    api = await startApi(opts);
    const second = await startApi(opts);
    try {
      const { live, deleted } = await orgs(api);
      await redis.restartEmpty();
      await until(async () => (await served(redis.reader, live, 2)) && gone(redis.reader, deleted), 10_000);
      const epoch = await redis.reader.get(redisKeys.snapshotEpoch);
      await until(async () => api!.app.get(SnapshotEpoch).current === epoch && second.app.get(SnapshotEpoch).current === epoch, 5000);
      // A change on either instance publishes under the shared epoch.
      await second.req().patch(`/v1/orgs/${live.slug}`).set(owner.auth).send({ name: 'Third' }).expect(200);
      expect(await served(redis.reader, live, 3)).toBe(true);
      expect(await redis.reader.get(redisKeys.snapshotEpoch)).toBe(epoch);
    } finally {
      await second.close();
    }
  });
});
