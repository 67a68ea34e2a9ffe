import { channels, PolicySnapshot, redisKeys, SnapshotNotice, SnapshotTombstone } from '@toolgate/contracts';
import Redis from 'ioredis';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser, uniq } from '../../../test/harness';

describe('orgs', () => {
  let api: Api;
  let owner: TestUser;
  beforeAll(async () => {
    api = await startApi();
    owner = await signup(api, 'owner');
  });
  afterAll(() => api.close());

  /** Adds `user` to `orgId` with `role` (fixture; the invitations flow has its own tests). */
  const addMember = (orgId: string, user: TestUser, role: 'owner' | 'admin' | 'member' | 'billing') =>
    api.prisma.db.membership.create({ data: { orgId, userId: user.id, role } });

  it('creates an org with the creator as owner and publishes snapshot version 1', async () => {
    const slug = uniq('acme');
    const res = await api.req().post('/v1/orgs').set(owner.auth).send({ name: 'Acme', slug }).expect(201);
    expect(res.body).toMatchObject({ slug, name: 'Acme', role: 'owner', snapshotVersion: 1, plan: 'free' });
    const raw = await api.redis.client.get(redisKeys.snapshot(res.body.id));
    const snap = PolicySnapshot.parse(JSON.parse(raw!));
    expect(snap).toMatchObject({ orgId: res.body.id, orgSlug: slug, version: 1, keys: [], servers: [] });
    const activity = await api.req().get(`/v1/orgs/${slug}/activity`).set(owner.auth).expect(200);
    expect(activity.body.items[0]).toMatchObject({ action: 'org.created', actorId: owner.id });
  });

  it('lists only the orgs the user belongs to, and resolves :org by id or slug', async () => {
    const mine = await createOrg(api, owner);
    const stranger = await signup(api, 'stranger');
    const theirs = await createOrg(api, stranger);
    const list = await api.req().get('/v1/orgs').set(owner.auth).expect(200);
    const slugs = list.body.items.map((o: { slug: string }) => o.slug);
    expect(slugs).toContain(mine.slug);
    expect(slugs).not.toContain(theirs.slug);
    await api.req().get(`/v1/orgs/${mine.id}`).set(owner.auth).expect(200);
    const bySlug = await api.req().get(`/v1/orgs/${mine.slug}`).set(owner.auth).expect(200);
    expect(bySlug.body.counts).toEqual({ memberships: 1, servers: 0, apiKeys: 0, roles: 0 });
  });

  it('answers 404, not 403, for another org (by id and by slug)', async () => {
    const stranger = await signup(api, 'other');
    const theirs = await createOrg(api, stranger);
    expectProblem(await api.req().get(`/v1/orgs/${theirs.id}`).set(owner.auth), 404, 'not_found');
    expectProblem(await api.req().get(`/v1/orgs/${theirs.slug}`).set(owner.auth), 404, 'not_found');
    expectProblem(await api.req().patch(`/v1/orgs/${theirs.slug}`).set(owner.auth).send({ name: 'pwned' }), 404);
    expectProblem(await api.req().delete(`/v1/orgs/${theirs.slug}`).set(owner.auth).send({ confirm: theirs.slug }), 404);
    expectProblem(await api.req().get(`/v1/orgs/no-such-org`).set(owner.auth), 404);
  });

  it('validates slugs and refuses duplicates', async () => {
    for (const slug of ['A', 'has space', 'UPPER', '-lead', 'trail-', 'a--b', 'x', 'mcp', 'a_b', 'a'.repeat(41)]) {
      const res = await api.req().post('/v1/orgs').set(owner.auth).send({ name: 'n', slug });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors[0].path).toBe('slug');
    }
    const org = await createOrg(api, owner);
    const dup = await api.req().post('/v1/orgs').set(owner.auth).send({ name: 'n', slug: org.slug });
    expectProblem(dup, 409, 'conflict');
    // The form marks the field that holds the taken value.
    expect(dup.body.errors).toEqual([{ path: 'slug', message: 'is already taken' }]);
    expectProblem(
      await api
        .req()
        .post('/v1/orgs')
        .set(owner.auth)
        .send({ name: 'n', slug: uniq('ok'), extra: 1 }),
      400,
    );
    expectProblem(
      await api
        .req()
        .post('/v1/orgs')
        .send({ name: 'n', slug: uniq('ok') }),
      401,
    );
  });

  it('lets owners and admins rename, members and billing not; plan only by owners', async () => {
    const org = await createOrg(api, owner);
    const [admin, member, billing] = await Promise.all([signup(api, 'adm'), signup(api, 'mem'), signup(api, 'bil')]);
    await addMember(org.id, admin, 'admin');
    await addMember(org.id, member, 'member');
    await addMember(org.id, billing, 'billing');

    await api.req().patch(`/v1/orgs/${org.slug}`).set(owner.auth).send({ name: 'By owner' }).expect(200);
    const byAdmin = await api.req().patch(`/v1/orgs/${org.slug}`).set(admin.auth).send({ name: 'By admin' }).expect(200);
    expect(byAdmin.body.name).toBe('By admin');
    expectProblem(await api.req().patch(`/v1/orgs/${org.slug}`).set(member.auth).send({ name: 'x' }), 403, 'forbidden');
    expectProblem(await api.req().patch(`/v1/orgs/${org.slug}`).set(billing.auth).send({ name: 'x' }), 403, 'forbidden');
    expectProblem(await api.req().patch(`/v1/orgs/${org.slug}`).set(admin.auth).send({ monthlyCallQuota: 10 }), 403);
    const quota = await api.req().patch(`/v1/orgs/${org.slug}`).set(owner.auth).send({ monthlyCallQuota: 1000 }).expect(200);
    expect(quota.body.monthlyCallQuota).toBe(1000);
    const snap = PolicySnapshot.parse(JSON.parse((await api.redis.client.get(redisKeys.snapshot(org.id)))!));
    expect(snap.plan.monthlyCallQuota).toBe(1000);

    // Every role can read the org.
    for (const u of [admin, member, billing]) await api.req().get(`/v1/orgs/${org.slug}`).set(u.auth).expect(200);
    expectProblem(await api.req().patch(`/v1/orgs/${org.slug}`).set(owner.auth).send({}), 400);
  });

  it('deletes only with the slug confirmed, only by an owner, and tombstones the org in Redis', async () => {
    const org = await createOrg(api, owner);
    const admin = await signup(api, 'adm2');
    await addMember(org.id, admin, 'admin');
    expectProblem(await api.req().delete(`/v1/orgs/${org.slug}`).set(admin.auth).send({ confirm: org.slug }), 403);
    expectProblem(await api.req().delete(`/v1/orgs/${org.slug}`).set(owner.auth).send({ confirm: 'wrong' }), 400);

    const sub = new Redis(process.env.REDIS_URL!);
    const notices: string[] = [];
    await sub.subscribe(channels.snapshots);
    sub.on('message', (_c, m) => notices.push(m));
    try {
      await api.req().delete(`/v1/orgs/${org.slug}`).set(owner.auth).send({ confirm: org.slug }).expect(204);
      await waitFor(() => notices.some((n) => JSON.parse(n).orgId === org.id));
      const notice = SnapshotNotice.parse(JSON.parse(notices.find((n) => JSON.parse(n).orgId === org.id)!));
      expect(await api.redis.client.get(redisKeys.snapshot(org.id))).toBeNull();
      expect(await api.redis.client.hget(redisKeys.orgSlugs, org.slug)).toBeNull();
      // The tombstone, not the missing key, is what tells gateways the org is gone.
      const tombstone = SnapshotTombstone.parse(JSON.parse((await api.redis.client.get(redisKeys.snapshotTombstone(org.id)))!));
      expect(tombstone).toMatchObject({ orgId: org.id, orgSlug: org.slug, version: 2, deleted: true });
      expect(notice).toEqual({ orgId: org.id, version: 2, deleted: true });
      expect(Number(await api.redis.client.hget(redisKeys.snapshotVersions, org.id))).toBe(2);
      await expect(api.prisma.db.orgTombstone.findUniqueOrThrow({ where: { orgId: org.id } })).resolves.toMatchObject({
        slug: org.slug,
        version: 2,
        publishedAt: expect.any(Date),
      });
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}`).set(owner.auth), 404);
    } finally {
      sub.disconnect();
    }
  });

  it('serves the OpenAPI document, health and metrics', async () => {
    const doc = await api.req().get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/orgs', '/v1/auth/signup']));
    await api.req().get('/healthz').expect(200, { status: 'ok' });
    const ready = await api.req().get('/readyz').expect(200);
    expect(ready.body.checks).toEqual({ database: true, redis: true, snapshotPublishing: true });
    const metrics = await api.req().get('/metrics').expect(200);
    expect(metrics.text).toContain('toolgate_api_requests_total');
    expectProblem(await api.req().get('/v1/nope'), 404, 'not_found');
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
