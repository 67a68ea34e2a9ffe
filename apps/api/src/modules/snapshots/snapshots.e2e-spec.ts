import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { PolicySnapshot, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { type Api, expectProblem, signup, startApi, uniq } from '../../../test/harness';

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
