import { channels, PolicySnapshot, redisKeys, sha256Hex, SnapshotNotice } from '@toolgate/contracts';
import Redis from 'ioredis';
import { type Team, team } from '../members/members.fixtures';
import { type Api, expectProblem, startApi, uniq } from '../../../test/harness';

/** One user of each role in an org the owner created through the API, plus a stranger with their own org. */

const DAY = 86_400_000;

describe('agent API keys', () => {
  let api: Api;
  let t: Team;

  beforeAll(async () => {
    api = await startApi();
    t = await team(api, 'keys');
  });
  afterAll(() => api.close());

  // ---------------------------------------------------------------- fixtures

  /** A role row (the roles module has its own tests; here a role only needs to exist). */
  const insertRole = (orgId: string, name = uniq('role')) =>
    api.prisma.db.role.create({
      data: { orgId, name, rules: { tools: [{ effect: 'allow', match: 'github__*' }] } },
      select: { id: true, name: true },
    });

  const keysUrl = (org = t.org.slug) => `/v1/orgs/${org}/keys`;
  const keyUrl = (id: string, org = t.org.slug) => `/v1/orgs/${org}/keys/${id}`;

  /** Creates a key through the API as `user` (owner by default) and returns the response body. */
  async function createKey(body: Record<string, unknown> = {}, user = t.owner, org = t.org.slug) {
    const res = await api
      .req()
      .post(keysUrl(org))
      .set(user.auth)
      .send({ name: uniq('key'), ...body });
    if (res.status !== 201) throw new Error(`creating a key failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as KeyBody & { key: string };
  }

  const activity = (orgId: string, action: string, targetId: string) =>
    api.prisma.db.activityLog.findMany({ where: { orgId, action, targetId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });

  /** The snapshot Redis holds for the org (what every gateway worker loads). */
  async function redisSnapshot(orgId: string) {
    const raw = await api.redis.client.get(redisKeys.snapshot(orgId));
    if (!raw) throw new Error(`no snapshot in Redis for ${orgId}`);
    return PolicySnapshot.parse(JSON.parse(raw));
  }

  const row = (id: string) => api.prisma.db.apiKey.findUniqueOrThrow({ where: { id }, include: { roles: true } });

  // ---------------------------------------------------------------- POST /keys

  describe('POST /v1/orgs/:org/keys', () => {
    it('creates a key: the secret once, only prefix and sha256 stored, roles and metadata attached', async () => {
      const [r1, r2] = await Promise.all([insertRole(t.org.id, uniq('b-role')), insertRole(t.org.id, uniq('a-role'))]);
      const started = Date.now();
      const res = await api
        .req()
        .post(keysUrl())
        .set(t.owner.auth)
        .send({
          name: '  CI deploy  ',
          roleIds: [r1!.id, r2!.id, r1!.id],
          metadata: { customer_id: 'c-42', tier: 3, beta: true },
          expiresInDays: 30,
        })
        .expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as KeyBody & { key: string };
      expect(body.key).toMatch(/^tg_[A-Za-z0-9]{40}$/);
      expect(body).toMatchObject({
        name: 'CI deploy',
        prefix: body.key.slice(0, 11),
        metadata: { customer_id: 'c-42', tier: 3, beta: true },
        revokedAt: null,
        lastUsedAt: null,
        rotatedToId: null,
        status: 'active',
      });
      // Roles come back as {id, name}, sorted by name, de-duplicated.
      expect(body.roles).toEqual([r2, r1]);
      const expires = Date.parse(body.expiresAt!);
      expect(expires).toBeGreaterThanOrEqual(started + 30 * DAY - 1000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 30 * DAY + 1000);
      expect(body).not.toHaveProperty('hash');

      const stored = await row(body.id);
      expect(stored.hash).toBe(sha256Hex(body.key));
      expect(stored.prefix).toBe(body.key.slice(0, 11));
      expect(stored.createdById).toBe(t.owner.id);
      expect(JSON.stringify(stored)).not.toContain(body.key);
      expect(stored.roles.map((r) => r.roleId).sort()).toEqual([r1!.id, r2!.id].sort());
      expect(stored.roles.every((r) => r.orgId === t.org.id)).toBe(true);

      // Listing and reading never show the secret or the hash again.
      const list = await api.req().get(keysUrl()).set(t.owner.auth).expect(200);
      const again = await api.req().get(keyUrl(body.id)).set(t.owner.auth).expect(200);
      for (const text of [JSON.stringify(list.body), JSON.stringify(again.body)]) {
        expect(text).not.toContain(body.key);
        expect(text).not.toContain(stored.hash);
        expect(text).not.toContain('"hash"');
      }
    });

    it('puts the new key (hash, roleIds, metadata, expiry) into the published snapshot', async () => {
      const role = await insertRole(t.org.id);
      const before = await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } });
      const key = await createKey({ roleIds: [role.id], metadata: { team: 'data' }, expiresInDays: 7 });

      const snap = await redisSnapshot(t.org.id);
      expect(snap.version).toBeGreaterThan(before.snapshotVersion);
      expect(snap.keys.find((k) => k.id === key.id)).toEqual({
        id: key.id,
        name: key.name,
        prefix: key.prefix,
        hash: sha256Hex(key.key),
        roleIds: [role.id],
        metadata: { team: 'data' },
        expiresAt: key.expiresAt,
      });
      const dbSnap = await api.prisma.db.policySnapshot.findUniqueOrThrow({
        where: { orgId_version: { orgId: t.org.id, version: snap.version } },
      });
      expect(dbSnap.publishedAt).not.toBeNull();
      // The plaintext secret is nowhere in the snapshot.
      expect(JSON.stringify(snap)).not.toContain(key.key);
    });

    it('records key.created in the activity log without the secret or the hash', async () => {
      const key = await createKey({ metadata: { env: 'prod' } });
      const [entry] = await activity(t.org.id, 'key.created', key.id);
      expect(entry).toMatchObject({ actorId: t.owner.id, targetType: 'key', before: null });
      expect(entry!.after).toMatchObject({ id: key.id, name: key.name, prefix: key.prefix, metadata: { env: 'prod' }, status: 'active' });
      const text = JSON.stringify(entry);
      expect(text).not.toContain(key.key);
      expect(text).not.toContain(sha256Hex(key.key));
      // Also through the activity API.
      const feed = await api.req().get(`/v1/orgs/${t.org.slug}/activity`).set(t.owner.auth).query({ action: 'key.created' }).expect(200);
      expect(feed.body.items.map((i: { targetId: string }) => i.targetId)).toContain(key.id);
    });

    it('accepts an explicit future expiresAt and keys without expiry', async () => {
      const at = new Date(Date.now() + 3 * DAY).toISOString();
      expect((await createKey({ expiresAt: at })).expiresAt).toBe(at);
      const never = await createKey();
      expect(never).toMatchObject({ expiresAt: null, roles: [], metadata: {}, status: 'active' });
    });

    it('lets owners and admins create; refuses members and billing (403) and non-members (404)', async () => {
      await createKey({}, t.owner);
      await createKey({}, t.admin);
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().post(keysUrl()).set(user.auth).send({ name: 'x' }), 403, 'forbidden');
      }
      expectProblem(await api.req().post(keysUrl()).set(t.stranger.auth).send({ name: 'x' }), 404, 'not_found');
      expectProblem(await api.req().post(keysUrl()).send({ name: 'x' }), 401, 'unauthenticated');
      expect(await api.prisma.db.apiKey.count({ where: { orgId: t.org.id, name: 'x' } })).toBe(0);
    });

    it('refuses unknown role ids and roles of another org with 400 naming the id', async () => {
      const mine = await insertRole(t.org.id);
      const foreign = await insertRole(t.strangerOrg.id);
      const unknown = '5b0c7a4e-1d1f-4c3a-9a57-0d1c2b3a4f5e';
      const res = await api
        .req()
        .post(keysUrl())
        .set(t.owner.auth)
        .send({ name: 'bad roles', roleIds: [mine.id, foreign.id, unknown] });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors).toEqual([
        { path: 'roleIds', message: `role ${foreign.id} does not exist in this organisation` },
        { path: 'roleIds', message: `role ${unknown} does not exist in this organisation` },
      ]);
      expect(await api.prisma.db.apiKey.count({ where: { orgId: t.org.id, name: 'bad roles' } })).toBe(0);
    });

    it.each([
      ['no body', undefined, 'name'],
      ['empty name', { name: '   ' }, 'name'],
      ['long name', { name: 'n'.repeat(121) }, 'name'],
      ['name not a string', { name: 42 }, 'name'],
      ['non-UUID role id', { name: 'k', roleIds: ['not-a-uuid'] }, 'roleIds.0'],
      ['roleIds not an array', { name: 'k', roleIds: 'abc' }, 'roleIds'],
      ['metadata not an object', { name: 'k', metadata: ['a'] }, 'metadata'],
      ['metadata key with a space', { name: 'k', metadata: { 'bad key': 'v' } }, 'metadata.bad key'],
      ['metadata key too long', { name: 'k', metadata: { ['k'.repeat(65)]: 'v' } }, `metadata.${'k'.repeat(65)}`],
      ['nested metadata value', { name: 'k', metadata: { nested: { a: 1 } } }, 'metadata.nested'],
      ['null metadata value', { name: 'k', metadata: { n: null } }, 'metadata.n'],
      [
        'too many metadata entries',
        { name: 'k', metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) },
        'metadata',
      ],
      ['expiresAt in the past', { name: 'k', expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt'],
      ['expiresAt not a date-time', { name: 'k', expiresAt: 'tomorrow' }, 'expiresAt'],
      ['expiresAt without a time', { name: 'k', expiresAt: '2099-01-01' }, 'expiresAt'],
      ['expiresInDays zero', { name: 'k', expiresInDays: 0 }, 'expiresInDays'],
      ['expiresInDays fractional', { name: 'k', expiresInDays: 1.5 }, 'expiresInDays'],
      ['expiresInDays too large', { name: 'k', expiresInDays: 3651 }, 'expiresInDays'],
      ['both expiry fields', { name: 'k', expiresInDays: 1, expiresAt: new Date(Date.now() + DAY).toISOString() }, 'expiresInDays'],
    ])('answers 400 with field errors for %s', async (_label, body, path) => {
      const res = await api
        .req()
        .post(keysUrl())
        .set(t.owner.auth)
        .send(body as object);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('accepts exactly 50 metadata entries and the full metadata key alphabet', async () => {
      const metadata = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, `v${i}`]));
      metadata['Az09_.-'] = 'ok';
      const key = await createKey({ metadata });
      expect(Object.keys(key.metadata)).toHaveLength(50);
    });

    it('answers 400 for unknown fields (never stores a client-chosen hash)', async () => {
      const res = await api
        .req()
        .post(keysUrl())
        .set(t.owner.auth)
        .send({ name: 'k', hash: 'a'.repeat(64) });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.detail).toContain('unknown field: hash');
    });
  });

  // ---------------------------------------------------------------- GET /keys

  describe('GET /v1/orgs/:org/keys', () => {
    let active: KeyBody;
    let revoked: KeyBody;
    let expired: KeyBody;
    let isolated: Team;

    beforeAll(async () => {
      isolated = await team(api, 'keylist');
      const role = await insertRole(isolated.org.id, 'reader');
      active = await createKey({ name: 'active', roleIds: [role.id], metadata: { a: 1 } }, isolated.owner, isolated.org.slug);
      revoked = await createKey({ name: 'revoked' }, isolated.owner, isolated.org.slug);
      expired = await createKey({ name: 'expired', expiresInDays: 1 }, isolated.owner, isolated.org.slug);
      await api.req().delete(keyUrl(revoked.id, isolated.org.slug)).set(isolated.owner.auth).expect(204);
      await api.prisma.db.apiKey.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      // Another org's keys never show up.
      await createKey({ name: 'foreign' }, isolated.stranger, isolated.strangerOrg.slug);
    });

    const names = (body: { items: KeyBody[] }) => body.items.map((k) => k.name).sort();

    it('lists every key of the org with its status, newest first, never the hash', async () => {
      const res = await api.req().get(keysUrl(isolated.org.slug)).set(isolated.owner.auth).expect(200);
      expect(res.body.items.map((k: KeyBody) => k.name)).toEqual(['expired', 'revoked', 'active']);
      const byName = Object.fromEntries(res.body.items.map((k: KeyBody) => [k.name, k]));
      expect(byName.active).toEqual({
        id: active.id,
        name: 'active',
        prefix: active.prefix,
        roles: [{ id: expect.any(String), name: 'reader' }],
        metadata: { a: 1 },
        kind: 'agent',
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: null,
        createdAt: active.createdAt,
        updatedAt: expect.any(String),
        rotatedToId: null,
        status: 'active',
      });
      expect(byName.revoked).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
      expect(byName.expired).toMatchObject({ status: 'expired', revokedAt: null });
      expect(JSON.stringify(res.body)).not.toContain('"hash"');
    });

    it.each([
      ['active', ['active']],
      ['revoked', ['revoked']],
      ['expired', ['expired']],
      ['all', ['active', 'expired', 'revoked']],
    ])('filters by ?status=%s', async (status, expected) => {
      const res = await api.req().get(keysUrl(isolated.org.slug)).query({ status }).set(isolated.owner.auth).expect(200);
      expect(names(res.body)).toEqual(expected);
    });

    it('answers 400 for a bad status filter or an unknown query parameter', async () => {
      const bad = await api.req().get(keysUrl(isolated.org.slug)).query({ status: 'deleted' }).set(isolated.owner.auth);
      expectProblem(bad, 400, 'validation_failed');
      expect(bad.body.errors[0].path).toBe('query.status');
      expectProblem(await api.req().get(keysUrl(isolated.org.slug)).query({ limit: 5 }).set(isolated.owner.auth), 400);
    });

    it('lets owner, admin and member read; refuses billing (403) and non-members (404)', async () => {
      for (const user of [isolated.owner, isolated.admin, isolated.member]) {
        const res = await api.req().get(keysUrl(isolated.org.slug)).set(user.auth).expect(200);
        expect(names(res.body)).toEqual(['active', 'expired', 'revoked']);
      }
      expectProblem(await api.req().get(keysUrl(isolated.org.slug)).set(isolated.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(keysUrl(isolated.org.slug)).set(isolated.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(keysUrl(isolated.org.slug)).set(t.owner.auth), 404, 'not_found');
    });
  });

  // ---------------------------------------------------------------- GET /keys/:id

  describe('GET /v1/orgs/:org/keys/:id', () => {
    it('returns one key to owner, admin and member; billing 403', async () => {
      const key = await createKey({ metadata: { x: 'y' } });
      for (const user of [t.owner, t.admin, t.member]) {
        const res = await api.req().get(keyUrl(key.id)).set(user.auth).expect(200);
        expect(res.body).toMatchObject({ id: key.id, name: key.name, metadata: { x: 'y' }, status: 'active' });
        expect(res.body.key).toBeUndefined();
        expect(res.body.hash).toBeUndefined();
      }
      expectProblem(await api.req().get(keyUrl(key.id)).set(t.billing.auth), 403, 'forbidden');
    });

    it('answers 404 for non-members, unknown ids, non-UUID ids and another org’s key', async () => {
      const key = await createKey();
      const foreign = await createKey({}, t.stranger, t.strangerOrg.slug);
      expectProblem(await api.req().get(keyUrl(key.id)).set(t.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(keyUrl('8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2910')).set(t.owner.auth), 404, 'not_found');
      expectProblem(await api.req().get(keyUrl('not-a-uuid')).set(t.owner.auth), 404, 'not_found');
      expectProblem(await api.req().get(keyUrl(foreign.id)).set(t.owner.auth), 404, 'not_found');
      // The stranger cannot reach our key through their own org either.
      expectProblem(await api.req().get(keyUrl(key.id, t.strangerOrg.slug)).set(t.stranger.auth), 404, 'not_found');
    });
  });

  // ---------------------------------------------------------------- PATCH /keys/:id

  describe('PATCH /v1/orgs/:org/keys/:id', () => {
    it('updates name, roles, metadata and expiry, logs key.updated and republishes', async () => {
      const [oldRole, newRole] = await Promise.all([insertRole(t.org.id), insertRole(t.org.id)]);
      const key = await createKey({ roleIds: [oldRole.id], metadata: { a: 1, b: 2 } });
      const expiresAt = new Date(Date.now() + 10 * DAY).toISOString();
      const res = await api
        .req()
        .patch(keyUrl(key.id))
        .set(t.owner.auth)
        .send({ name: 'renamed', roleIds: [newRole.id], metadata: { c: 'x' }, expiresAt })
        .expect(200);
      expect(res.body).toMatchObject({ id: key.id, name: 'renamed', roles: [newRole], metadata: { c: 'x' }, expiresAt, status: 'active' });
      expect(res.body.key).toBeUndefined();

      const [entry] = await activity(t.org.id, 'key.updated', key.id);
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'key',
        before: { name: key.name, roles: [oldRole], metadata: { a: 1, b: 2 }, expiresAt: null },
        after: { name: 'renamed', roles: [newRole], metadata: { c: 'x' }, expiresAt },
      });
      expect(JSON.stringify(entry)).not.toContain(sha256Hex(key.key));

      const inSnapshot = (await redisSnapshot(t.org.id)).keys.find((k) => k.id === key.id);
      expect(inSnapshot).toMatchObject({ name: 'renamed', roleIds: [newRole.id], metadata: { c: 'x' }, expiresAt });
    });

    it('keeps what is not given, clears the expiry with null and roles with []', async () => {
      const role = await insertRole(t.org.id);
      const key = await createKey({ roleIds: [role.id], metadata: { keep: true }, expiresInDays: 5 });
      const res = await api.req().patch(keyUrl(key.id)).set(t.admin.auth).send({ expiresAt: null }).expect(200);
      expect(res.body).toMatchObject({ name: key.name, roles: [role], metadata: { keep: true }, expiresAt: null });
      const cleared = await api.req().patch(keyUrl(key.id)).set(t.admin.auth).send({ roleIds: [] }).expect(200);
      expect(cleared.body.roles).toEqual([]);
      expect((await row(key.id)).roles).toEqual([]);
    });

    it('extends an expired key', async () => {
      const key = await createKey({ expiresInDays: 1 });
      await api.prisma.db.apiKey.update({ where: { id: key.id }, data: { expiresAt: new Date(Date.now() - DAY) } });
      expect((await api.req().get(keyUrl(key.id)).set(t.owner.auth).expect(200)).body.status).toBe('expired');
      const res = await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({ expiresInDays: 2 });
      expectProblem(res, 400); // PATCH takes expiresAt only
      const ok = await api
        .req()
        .patch(keyUrl(key.id))
        .set(t.owner.auth)
        .send({ expiresAt: new Date(Date.now() + DAY).toISOString() })
        .expect(200);
      expect(ok.body.status).toBe('active');
    });

    it('refuses to edit a revoked key (409)', async () => {
      const key = await createKey();
      await api.req().delete(keyUrl(key.id)).set(t.owner.auth).expect(204);
      expectProblem(await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({ name: 'zombie' }), 409, 'conflict');
      expect((await row(key.id)).name).toBe(key.name);
    });

    it('validates the body: empty, unknown fields, bad roles, past expiry', async () => {
      const key = await createKey();
      const empty = await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({});
      expectProblem(empty, 400, 'validation_failed');
      expect(empty.body.detail).toContain('nothing to update');
      const unknown = await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({ name: 'x', prefix: 'tg_hacked' });
      expectProblem(unknown, 400);
      expect(unknown.body.detail).toContain('unknown field: prefix');
      const foreign = await insertRole(t.strangerOrg.id);
      const badRole = await api
        .req()
        .patch(keyUrl(key.id))
        .set(t.owner.auth)
        .send({ roleIds: [foreign.id] });
      expectProblem(badRole, 400);
      expect(badRole.body.errors[0].message).toContain(foreign.id);
      const past = await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({ expiresAt: '2001-01-01T00:00:00.000Z' });
      expectProblem(past, 400);
      expect(past.body.errors[0]).toEqual({ path: 'expiresAt', message: 'must be in the future' });
      expect(await activity(t.org.id, 'key.updated', key.id)).toHaveLength(0);
    });

    it('lets owner and admin edit; member and billing 403; non-members and other orgs 404', async () => {
      const key = await createKey();
      await api.req().patch(keyUrl(key.id)).set(t.owner.auth).send({ name: 'by owner' }).expect(200);
      await api.req().patch(keyUrl(key.id)).set(t.admin.auth).send({ name: 'by admin' }).expect(200);
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(keyUrl(key.id)).set(user.auth).send({ name: 'nope' }), 403, 'forbidden');
      }
      expectProblem(await api.req().patch(keyUrl(key.id)).set(t.stranger.auth).send({ name: 'nope' }), 404);
      expectProblem(await api.req().patch(keyUrl(key.id, t.strangerOrg.slug)).set(t.stranger.auth).send({ name: 'nope' }), 404);
      expectProblem(await api.req().patch(keyUrl('nope')).set(t.owner.auth).send({ name: 'nope' }), 404);
      expect((await row(key.id)).name).toBe('by admin');
    });
  });

  // ---------------------------------------------------------------- POST /keys/:id/rotate

  describe('POST /v1/orgs/:org/keys/:id/rotate', () => {
    it('issues a new secret with the same name, roles, metadata and expiry and revokes the old key atomically', async () => {
      const role = await insertRole(t.org.id);
      const old = await createKey({ name: 'rotating', roleIds: [role.id], metadata: { customer_id: 'c-1' }, expiresInDays: 9 });
      const res = await api
        .req()
        .post(`${keyUrl(old.id)}/rotate`)
        .set(t.owner.auth)
        .expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const fresh = res.body as KeyBody & { key: string; rotatedFromId: string };
      expect(fresh.key).toMatch(/^tg_[A-Za-z0-9]{40}$/);
      expect(fresh.key).not.toBe(old.key);
      expect(fresh.id).not.toBe(old.id);
      expect(fresh).toMatchObject({
        name: 'rotating',
        roles: [role],
        metadata: { customer_id: 'c-1' },
        expiresAt: old.expiresAt,
        status: 'active',
        rotatedFromId: old.id,
        prefix: fresh.key.slice(0, 11),
      });

      const oldRow = await row(old.id);
      expect(oldRow.revokedAt).not.toBeNull();
      expect(oldRow.rotatedToId).toBe(fresh.id);
      expect((await row(fresh.id)).hash).toBe(sha256Hex(fresh.key));
      const oldView = await api.req().get(keyUrl(old.id)).set(t.owner.auth).expect(200);
      expect(oldView.body).toMatchObject({ status: 'revoked', rotatedToId: fresh.id });

      const snap = await redisSnapshot(t.org.id);
      expect(snap.keys.map((k) => k.id)).toContain(fresh.id);
      expect(snap.keys.map((k) => k.id)).not.toContain(old.id);
      expect(snap.keys.find((k) => k.id === fresh.id)).toMatchObject({ hash: sha256Hex(fresh.key), roleIds: [role.id] });

      const [entry] = await activity(t.org.id, 'key.rotated', old.id);
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'key',
        before: { id: old.id, status: 'active' },
        after: { id: fresh.id },
      });
      const text = JSON.stringify(entry);
      for (const secret of [old.key, fresh.key, sha256Hex(old.key), sha256Hex(fresh.key)]) expect(text).not.toContain(secret);
    });

    it('refuses to rotate a revoked key, including one already rotated (409)', async () => {
      const key = await createKey();
      await api
        .req()
        .post(`${keyUrl(key.id)}/rotate`)
        .set(t.owner.auth)
        .expect(201);
      expectProblem(
        await api
          .req()
          .post(`${keyUrl(key.id)}/rotate`)
          .set(t.owner.auth),
        409,
        'conflict',
      );
      const revoked = await createKey();
      await api.req().delete(keyUrl(revoked.id)).set(t.owner.auth).expect(204);
      expectProblem(
        await api
          .req()
          .post(`${keyUrl(revoked.id)}/rotate`)
          .set(t.owner.auth),
        409,
        'conflict',
      );
      expect(await api.prisma.db.apiKey.count({ where: { orgId: t.org.id, name: revoked.name } })).toBe(1);
    });

    it('lets one of two concurrent rotations win', async () => {
      const key = await createKey();
      const results = await Promise.all(
        [0, 1].map(() =>
          api
            .req()
            .post(`${keyUrl(key.id)}/rotate`)
            .set(t.owner.auth),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      expect(await api.prisma.db.apiKey.count({ where: { orgId: t.org.id, name: key.name } })).toBe(2);
    });

    it('rotates an expired key only with a new expiry', async () => {
      const key = await createKey({ expiresInDays: 1 });
      await api.prisma.db.apiKey.update({ where: { id: key.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const refused = await api
        .req()
        .post(`${keyUrl(key.id)}/rotate`)
        .set(t.owner.auth);
      expectProblem(refused, 409, 'conflict');
      expect(refused.body.detail).toContain('expired');
      const res = await api
        .req()
        .post(`${keyUrl(key.id)}/rotate`)
        .set(t.owner.auth)
        .send({ expiresInDays: 30 })
        .expect(201);
      expect(res.body.status).toBe('active');
      expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now() + 29 * DAY);
      const never = await createKey({ expiresInDays: 3 });
      const forever = await api
        .req()
        .post(`${keyUrl(never.id)}/rotate`)
        .set(t.owner.auth)
        .send({ expiresAt: null })
        .expect(201);
      expect(forever.body.expiresAt).toBeNull();
    });

    it('validates the body and the id', async () => {
      const key = await createKey();
      const unknown = await api
        .req()
        .post(`${keyUrl(key.id)}/rotate`)
        .set(t.owner.auth)
        .send({ name: 'other' });
      expectProblem(unknown, 400, 'validation_failed');
      expect(unknown.body.detail).toContain('unknown field: name');
      expectProblem(
        await api
          .req()
          .post(`${keyUrl(key.id)}/rotate`)
          .set(t.owner.auth)
          .send({ expiresInDays: -1 }),
        400,
      );
      expectProblem(
        await api
          .req()
          .post(`${keyUrl('123')}/rotate`)
          .set(t.owner.auth),
        404,
        'not_found',
      );
      expect((await row(key.id)).revokedAt).toBeNull();
    });

    it('lets owner and admin rotate; member and billing 403; non-members and other orgs 404', async () => {
      const key = await createKey();
      const byOwner = await api
        .req()
        .post(`${keyUrl(key.id)}/rotate`)
        .set(t.owner.auth)
        .expect(201);
      const byAdmin = await api
        .req()
        .post(`${keyUrl(byOwner.body.id)}/rotate`)
        .set(t.admin.auth)
        .expect(201);
      const current = byAdmin.body.id as string;
      for (const user of [t.member, t.billing]) {
        expectProblem(
          await api
            .req()
            .post(`${keyUrl(current)}/rotate`)
            .set(user.auth),
          403,
          'forbidden',
        );
      }
      expectProblem(
        await api
          .req()
          .post(`${keyUrl(current)}/rotate`)
          .set(t.stranger.auth),
        404,
      );
      expectProblem(
        await api
          .req()
          .post(`${keyUrl(current, t.strangerOrg.slug)}/rotate`)
          .set(t.stranger.auth),
        404,
      );
      expect((await row(current)).revokedAt).toBeNull();
    });
  });

  // ---------------------------------------------------------------- DELETE /keys/:id

  describe('DELETE /v1/orgs/:org/keys/:id', () => {
    it('revokes the key, keeps the row, logs key.revoked once and is idempotent', async () => {
      const key = await createKey();
      await api.req().delete(keyUrl(key.id)).set(t.owner.auth).expect(204);
      const stored = await row(key.id);
      expect(stored.revokedAt).not.toBeNull();
      const res = await api.req().get(keyUrl(key.id)).set(t.member.auth).expect(200);
      expect(res.body).toMatchObject({ status: 'revoked', revokedAt: stored.revokedAt!.toISOString() });

      const version = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } })).snapshotVersion;
      await api.req().delete(keyUrl(key.id)).set(t.owner.auth).expect(204);
      expect((await row(key.id)).revokedAt).toEqual(stored.revokedAt);
      // The repeat changes nothing: no new snapshot, no second entry.
      expect((await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } })).snapshotVersion).toBe(version);
      const entries = await activity(t.org.id, 'key.revoked', key.id);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actorId: t.owner.id, before: { status: 'active' }, after: { status: 'revoked' } });
      expect(JSON.stringify(entries)).not.toContain(sha256Hex(key.key));
    });

    it('reaches Redis within one second: notice with a newer version, snapshot without the key, row published', async () => {
      const key = await createKey({ name: 'to revoke' });
      const before = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } })).snapshotVersion;
      expect((await redisSnapshot(t.org.id)).keys.map((k) => k.id)).toContain(key.id);

      // A separate connection to the same Redis as the app, as a gateway worker would use.
      const sub = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
      const reader = new Redis(process.env.REDIS_URL!, { lazyConnect: true });
      try {
        await Promise.all([sub.connect(), reader.connect()]);
        const notice = new Promise<SnapshotNotice>((resolve) => {
          sub.on('message', (channel: string, message: string) => {
            if (channel !== channels.snapshots) return;
            // Other orgs (and other test runs: pub/sub ignores the DB index) publish here too.
            const parsed = SnapshotNotice.safeParse(JSON.parse(message));
            if (parsed.success && parsed.data.orgId === t.org.id && parsed.data.version > before) resolve(parsed.data);
          });
        });
        await sub.subscribe(channels.snapshots);

        const started = performance.now();
        const call = api
          .req()
          .delete(keyUrl(key.id))
          .set(t.owner.auth)
          .then((r) => r);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no snapshot notice within 1000 ms')), 1000);
        });
        const received = await Promise.race([notice, timeout]).finally(() => clearTimeout(timer));
        const elapsed = performance.now() - started;
        expect(elapsed).toBeLessThan(1000);
        expect(received).toEqual({ orgId: t.org.id, version: expect.any(Number) });
        expect(received.version).toBeGreaterThan(before);
        expect((await call).status).toBe(204);

        const raw = await reader.get(redisKeys.snapshot(t.org.id));
        const snap = PolicySnapshot.parse(JSON.parse(raw!));
        expect(snap.version).toBeGreaterThanOrEqual(received.version);
        expect(snap.keys.map((k) => k.id)).not.toContain(key.id);
        expect(snap.keys.map((k) => k.hash)).not.toContain(sha256Hex(key.key));
        expect(Number(await reader.hget(redisKeys.snapshotVersions, t.org.id))).toBeGreaterThanOrEqual(received.version);

        const dbSnap = await api.prisma.db.policySnapshot.findUniqueOrThrow({
          where: { orgId_version: { orgId: t.org.id, version: received.version } },
        });
        expect(dbSnap.publishedAt).not.toBeNull();
      } finally {
        sub.disconnect();
        reader.disconnect();
      }
    });

    it('lets owner and admin revoke; member and billing 403; non-members and other orgs 404', async () => {
      const [a, b] = [await createKey(), await createKey()];
      await api.req().delete(keyUrl(a.id)).set(t.owner.auth).expect(204);
      await api.req().delete(keyUrl(b.id)).set(t.admin.auth).expect(204);
      const c = await createKey();
      for (const user of [t.member, t.billing]) expectProblem(await api.req().delete(keyUrl(c.id)).set(user.auth), 403, 'forbidden');
      expectProblem(await api.req().delete(keyUrl(c.id)).set(t.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().delete(keyUrl(c.id, t.strangerOrg.slug)).set(t.stranger.auth), 404, 'not_found');
      expect((await row(c.id)).revokedAt).toBeNull();
    });

    it('answers 404 for unknown and non-UUID ids and for another org’s key (which stays active)', async () => {
      const foreign = await createKey({}, t.stranger, t.strangerOrg.slug);
      expectProblem(await api.req().delete(keyUrl(foreign.id)).set(t.owner.auth), 404, 'not_found');
      expect((await row(foreign.id)).revokedAt).toBeNull();
      expectProblem(await api.req().delete(keyUrl('0f0e0d0c-0b0a-4908-8706-050403020100')).set(t.owner.auth), 404);
      expectProblem(
        await api
          .req()
          .delete(keyUrl('x'.repeat(36)))
          .set(t.owner.auth),
        404,
      );
      expectProblem(await api.req().delete(keyUrl("1' OR '1'='1")).set(t.owner.auth), 404);
    });
  });

  it('never writes a secret or a hash into the activity log', async () => {
    const keys = await api.prisma.db.apiKey.findMany({ where: { orgId: t.org.id }, select: { hash: true, prefix: true } });
    expect(keys.length).toBeGreaterThan(10);
    const log = JSON.stringify(await api.prisma.db.activityLog.findMany({ where: { orgId: t.org.id } }));
    for (const k of keys) expect(log).not.toContain(k.hash);
    expect(log).not.toMatch(/tg_[A-Za-z0-9]{40}/);
    expect(log).not.toContain('"hash"');
  });
});

interface KeyBody {
  id: string;
  name: string;
  prefix: string;
  roles: { id: string; name: string }[];
  metadata: Record<string, unknown>;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  updatedAt: string;
  rotatedToId: string | null;
  status: 'active' | 'expired' | 'revoked';
}
