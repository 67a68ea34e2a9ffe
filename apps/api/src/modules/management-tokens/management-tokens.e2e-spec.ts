import { sha256Hex } from '@toolgate/contracts';
import { type Api, expectProblem, signup, startApi, uniq } from '../../../test/harness';
import { ActivityMirror } from '../audit/audit.activity-mirror';
import { queuePrefix, startAuditWorker } from '../audit/audit.test-fixtures';
import { type Team, team } from '../members/members.fixtures';

const DAY = 86_400_000;

describe('management tokens', () => {
  let api: Api;
  let t: Team;

  beforeAll(async () => {
    api = await startApi();
    t = await team(api, 'mgmt');
  });
  afterAll(() => api.close());

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const orgUrl = (path = '', org = t.org.slug) => `/v1/orgs/${org}${path}`;

  /** A service account of the team's org, created by `by` (owner unless told). */
  async function serviceAccount(scopes: string[], body: Record<string, unknown> = {}, by = t.owner) {
    const res = await api
      .req()
      .post(orgUrl('/tokens'))
      .set(by.auth)
      .send({ name: uniq('sa'), scopes, ...body });
    if (res.status !== 201) throw new Error(`creating a service account failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; token: string; prefix: string; name: string; expiresAt: string };
  }

  async function personal(user: { auth: { Authorization: string } }, scopes: string[], org = t.org.slug) {
    const res = await api
      .req()
      .post('/v1/me/tokens')
      .set(user.auth)
      .send({ name: uniq('pat'), org, scopes });
    if (res.status !== 201) throw new Error(`creating a personal token failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; token: string; prefix: string; name: string };
  }

  const newKey = (token: string) =>
    api
      .req()
      .post(orgUrl('/keys'))
      .set(bearer(token))
      .send({ name: uniq('key') });

  describe('creation', () => {
    it('shows the secret once; only the prefix and sha256 are stored; lists never show it', async () => {
      const started = Date.now();
      const res = await api
        .req()
        .post(orgUrl('/tokens'))
        .set(t.admin.auth)
        .send({ name: ' CI deploy ', scopes: ['manage', 'read', 'read'] })
        .expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body;
      expect(body.token).toMatch(/^tgm_[A-Za-z0-9]{40}$/);
      expect(body).toMatchObject({
        kind: 'service_account',
        name: 'CI deploy',
        prefix: body.token.slice(0, 12),
        scopes: ['read', 'manage'],
        org: { id: t.org.id, slug: t.org.slug },
        userId: null,
        createdById: t.admin.id,
        lastUsedAt: null,
        revokedAt: null,
        status: 'active',
      });
      // 90 days unless told.
      expect(Date.parse(body.expiresAt)).toBeGreaterThanOrEqual(started + 90 * DAY - 1000);
      expect(Date.parse(body.expiresAt)).toBeLessThanOrEqual(Date.now() + 90 * DAY + 1000);

      const row = await api.prisma.db.managementToken.findUniqueOrThrow({ where: { id: body.id } });
      expect(row.hash).toBe(sha256Hex(body.token));
      expect(JSON.stringify(row)).not.toContain(body.token);

      const list = await api.req().get(orgUrl('/tokens')).set(t.owner.auth).expect(200);
      expect(list.body.items.map((i: { id: string }) => i.id)).toContain(body.id);
      const text = JSON.stringify(list.body);
      expect(text).not.toContain(body.token);
      expect(text).not.toContain(row.hash);

      const [entry] = await api.prisma.db.activityLog.findMany({
        where: { orgId: t.org.id, action: 'management_token.created', targetId: body.id },
      });
      expect(entry).toMatchObject({ actorId: t.admin.id, targetType: 'management_token' });
      expect(JSON.stringify(entry)).not.toContain(body.token);
      expect(JSON.stringify(entry)).not.toContain(row.hash);
    });

    it('lets only owners and admins create service accounts, and only with scopes their role has', async () => {
      for (const user of [t.member, t.billing]) {
        expectProblem(
          await api
            .req()
            .post(orgUrl('/tokens'))
            .set(user.auth)
            .send({ name: 'x', scopes: ['read'] }),
          403,
          'forbidden',
        );
      }
      expectProblem(
        await api
          .req()
          .post(orgUrl('/tokens'))
          .set(t.stranger.auth)
          .send({ name: 'x', scopes: ['read'] }),
        404,
        'not_found',
      );
      // An admin may not hand out the billing access their own role lacks; an owner may.
      expectProblem(
        await api
          .req()
          .post(orgUrl('/tokens'))
          .set(t.admin.auth)
          .send({ name: 'x', scopes: ['billing'] }),
        403,
        'forbidden',
      );
      await serviceAccount(['billing'], {}, t.owner);
    });

    it.each([
      ['no scopes', { name: 'x', scopes: [] }, 'scopes'],
      ['unknown scope', { name: 'x', scopes: ['admin'] }, 'scopes.0'],
      ['lifetime over a year', { name: 'x', scopes: ['read'], expiresInDays: 366 }, 'expiresInDays'],
      ['zero lifetime', { name: 'x', scopes: ['read'], expiresInDays: 0 }, 'expiresInDays'],
      ['empty name', { name: ' ', scopes: ['read'] }, 'name'],
      ['unknown field', { name: 'x', scopes: ['read'], owner: true }, ''],
    ])('answers 400 for %s', async (_label, body, path) => {
      const res = await api.req().post(orgUrl('/tokens')).set(t.owner.auth).send(body);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('creates personal tokens only for an org the person belongs to, and only in a session', async () => {
      const pat = await personal(t.member, ['read']);
      expect(pat).toMatchObject({ kind: 'personal', userId: t.member.id, org: { id: t.org.id } });
      expectProblem(
        await api
          .req()
          .post('/v1/me/tokens')
          .set(t.member.auth)
          .send({ name: 'x', org: t.strangerOrg.slug, scopes: ['read'] }),
        404,
        'not_found',
      );
      // Tokens do not mint tokens, of either kind.
      const sa = await serviceAccount(['manage']);
      expectProblem(
        await api
          .req()
          .post('/v1/me/tokens')
          .set(bearer(pat.token))
          .send({ name: 'x', org: t.org.slug, scopes: ['read'] }),
        403,
        'session_required',
      );
      expectProblem(
        await api
          .req()
          .post(orgUrl('/tokens'))
          .set(bearer(sa.token))
          .send({ name: 'x', scopes: ['read'] }),
        403,
        'session_required',
      );
      // A person's list shows their own tokens only, never the secret.
      const mine = await api.req().get('/v1/me/tokens').set(t.member.auth).expect(200);
      expect(mine.body.items.map((i: { id: string }) => i.id)).toEqual([pat.id]);
      expect(JSON.stringify(mine.body)).not.toContain(pat.token);
    });
  });

  describe('scopes', () => {
    it('read: GETs servers, keys and audit; cannot create keys, read billing or the activity log', async () => {
      const { token } = await serviceAccount(['read']);
      for (const path of ['/servers', '/keys', '/audit', '/roles', '/members', '']) {
        await api.req().get(orgUrl(path)).set(bearer(token)).expect(200);
      }
      expectProblem(await newKey(token), 403, 'insufficient_scope');
      expectProblem(await api.req().get(orgUrl('/billing')).set(bearer(token)), 403, 'insufficient_scope');
      expectProblem(await api.req().get(orgUrl('/activity')).set(bearer(token)), 403, 'insufficient_scope');
    });

    it('manage: creates keys and servers-side admin actions, but not owner-only ones nor billing', async () => {
      const { token } = await serviceAccount(['manage']);
      await newKey(token).expect(201);
      await api.req().get(orgUrl('/keys')).set(bearer(token)).expect(200);
      await api.req().get(orgUrl('/activity')).set(bearer(token)).expect(200);
      expectProblem(await api.req().get(orgUrl('/billing')).set(bearer(token)), 403, 'insufficient_scope');
      // No scope acts as owner: deleting the org needs a person's session.
      expectProblem(await api.req().delete(orgUrl()).set(bearer(token)).send({ confirm: t.org.slug }), 403, 'insufficient_scope');
    });

    it('billing: sees billing, not keys or servers', async () => {
      const { token } = await serviceAccount(['billing']);
      await api.req().get(orgUrl('/billing')).set(bearer(token)).expect(200);
      await api.req().get(orgUrl('/usage')).set(bearer(token)).expect(200);
      expectProblem(await api.req().get(orgUrl('/keys')).set(bearer(token)), 403, 'insufficient_scope');
      expectProblem(await newKey(token), 403, 'insufficient_scope');
    });

    it('several scopes act as the union of their roles', async () => {
      const { token } = await serviceAccount(['read', 'billing']);
      await api.req().get(orgUrl('/keys')).set(bearer(token)).expect(200);
      await api.req().get(orgUrl('/billing')).set(bearer(token)).expect(200);
      expectProblem(await newKey(token), 403, 'insufficient_scope');
    });
  });

  describe('personal tokens follow their person', () => {
    it("a member's manage token still cannot manage", async () => {
      const { token } = await personal(t.member, ['read', 'manage']);
      await api.req().get(orgUrl('/keys')).set(bearer(token)).expect(200);
      expectProblem(await newKey(token), 403, 'forbidden');
    });

    it("an owner's manage token cannot act as owner (member roles), nor make its person leave", async () => {
      const { token } = await personal(t.owner, ['manage']);
      await newKey(token).expect(201);
      const res = await api
        .req()
        .patch(orgUrl(`/members/${t.member.id}`))
        .set(bearer(token))
        .send({ role: 'owner' });
      expectProblem(res, 403, 'forbidden');
      expectProblem(
        await api
          .req()
          .delete(orgUrl(`/members/${t.owner.id}`))
          .set(bearer(token)),
        403,
        'session_required',
      );
    });

    it('demoting the person reduces the token on the next request; removing them ends it', async () => {
      const person = await signup(api, 'mgmt-demoted');
      await api.prisma.db.membership.create({ data: { orgId: t.org.id, userId: person.id, role: 'admin' } });
      const { token } = await personal(person, ['read', 'manage']);
      await newKey(token).expect(201);

      await api
        .req()
        .patch(orgUrl(`/members/${person.id}`))
        .set(t.owner.auth)
        .send({ role: 'member' })
        .expect(200);
      expectProblem(await newKey(token), 403, 'forbidden');
      await api.req().get(orgUrl('/keys')).set(bearer(token)).expect(200);

      await api
        .req()
        .delete(orgUrl(`/members/${person.id}`))
        .set(t.owner.auth)
        .expect(204);
      expectProblem(await api.req().get(orgUrl('/keys')).set(bearer(token)), 401, 'token_revoked');
      expectProblem(await api.req().get('/v1/me').set(bearer(token)), 401, 'token_revoked');
    });

    it('/v1/me and /v1/orgs show the person but only the token’s org', async () => {
      const { token } = await personal(t.stranger, ['read'], t.strangerOrg.slug);
      // The stranger also belongs to the team's org: the token still sees only its own.
      await api.prisma.db.membership.create({ data: { orgId: t.org.id, userId: t.stranger.id, role: 'member' } });
      try {
        const me = await api.req().get('/v1/me').set(bearer(token)).expect(200);
        expect(me.body).toMatchObject({ id: t.stranger.id, orgs: [{ id: t.strangerOrg.id }] });
        expect(me.body.orgs).toHaveLength(1);
        const orgs = await api.req().get('/v1/orgs').set(bearer(token)).expect(200);
        expect(orgs.body.items.map((o: { id: string }) => o.id)).toEqual([t.strangerOrg.id]);
        // Org binding: another org answers as if it did not exist, even where the person is a member.
        expectProblem(await api.req().get(orgUrl('/servers')).set(bearer(token)), 404, 'not_found');
      } finally {
        await api.prisma.db.membership.deleteMany({ where: { orgId: t.org.id, userId: t.stranger.id } });
      }
    });
  });

  describe('service accounts', () => {
    it('act without a person: survive their creator leaving, refused on person and session routes', async () => {
      const creator = await signup(api, 'mgmt-creator');
      await api.prisma.db.membership.create({ data: { orgId: t.org.id, userId: creator.id, role: 'admin' } });
      const { token } = await serviceAccount(['manage'], {}, creator);
      await api
        .req()
        .delete(orgUrl(`/members/${creator.id}`))
        .set(t.owner.auth)
        .expect(204);
      await newKey(token).expect(201);
      // The members route sees an admin-like actor with no person (never a 500 for a missing membership).
      await api
        .req()
        .patch(orgUrl(`/members/${t.member.id}`))
        .set(bearer(token))
        .send({ role: 'member' })
        .expect(200);
      expectProblem(await api.req().get('/v1/me').set(bearer(token)), 403, 'person_required');
      expectProblem(await api.req().get('/v1/me/tokens').set(bearer(token)), 403, 'person_required');
      expectProblem(await api.req().get('/v1/orgs').set(bearer(token)), 403, 'person_required');
      expectProblem(
        await api
          .req()
          .post('/v1/orgs')
          .set(bearer(token))
          .send({ name: 'x', slug: uniq('x') }),
        403,
        'session_required',
      );
      expectProblem(
        await api
          .req()
          .post(`/v1/invitations/${'x'.repeat(40)}/accept`)
          .set(bearer(token))
          .send({}),
        403,
        'session_required',
      );
      expectProblem(await api.req().post(orgUrl('/audit/live-ticket')).set(bearer(token)), 403, 'session_required');
    });

    it('are bound to their org: another org answers 404', async () => {
      const { token } = await serviceAccount(['read', 'manage']);
      expectProblem(await api.req().get(orgUrl('/servers', t.strangerOrg.slug)).set(bearer(token)), 404, 'not_found');
      expectProblem(await api.req().get(orgUrl('/servers', t.strangerOrg.id)).set(bearer(token)), 404, 'not_found');
    });
  });

  describe('lifecycle', () => {
    it('revocation takes effect on the next request and is logged', async () => {
      const sa = await serviceAccount(['read']);
      await api.req().get(orgUrl('/servers')).set(bearer(sa.token)).expect(200);
      await api
        .req()
        .delete(orgUrl(`/tokens/${sa.id}`))
        .set(t.admin.auth)
        .expect(204);
      expectProblem(await api.req().get(orgUrl('/servers')).set(bearer(sa.token)), 401, 'token_revoked');
      // Idempotent, logged once.
      await api
        .req()
        .delete(orgUrl(`/tokens/${sa.id}`))
        .set(t.admin.auth)
        .expect(204);
      const entries = await api.prisma.db.activityLog.findMany({
        where: { orgId: t.org.id, action: 'management_token.revoked', targetId: sa.id },
      });
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ actorId: t.admin.id });

      const pat = await personal(t.member, ['read']);
      await api.req().delete(`/v1/me/tokens/${pat.id}`).set(t.admin.auth).expect(404);
      await api.req().delete(`/v1/me/tokens/${pat.id}`).set(t.member.auth).expect(204);
      expectProblem(await api.req().get('/v1/me').set(bearer(pat.token)), 401, 'token_revoked');
    });

    it('an expired token is refused with token_expired', async () => {
      const sa = await serviceAccount(['read'], { expiresInDays: 1 });
      await api.prisma.db.managementToken.update({ where: { id: sa.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const res = await api.req().get(orgUrl('/servers')).set(bearer(sa.token));
      expectProblem(res, 401, 'token_expired');
      expect(res.body.detail).toContain('management token expired');
      const list = await api.req().get(orgUrl('/tokens')).set(t.owner.auth).expect(200);
      expect(list.body.items.find((i: { id: string }) => i.id === sa.id).status).toBe('expired');
    });

    it('accepts the bearer scheme in any case', async () => {
      const sa = await serviceAccount(['read']);
      await api.req().get(orgUrl('/servers')).set('Authorization', `bearer ${sa.token}`).expect(200);
    });

    it('a wrong or garbled token is a 401 problem', async () => {
      for (const value of ['tgm_' + 'A'.repeat(40), 'tgm_', 'tgm_\u00e9\u00e9', 'tg_' + 'A'.repeat(40)]) {
        expectProblem(await api.req().get(orgUrl('/servers')).set('Authorization', `Bearer ${value}`), 401, 'unauthenticated');
      }
    });

    it('records lastUsedAt, at most once a minute', async () => {
      const sa = await serviceAccount(['read']);
      await api.req().get(orgUrl('/servers')).set(bearer(sa.token)).expect(200);
      await new Promise((r) => setTimeout(r, 200));
      const first = await api.prisma.db.managementToken.findUniqueOrThrow({ where: { id: sa.id } });
      expect(first.lastUsedAt).not.toBeNull();
      await api.req().get(orgUrl('/servers')).set(bearer(sa.token)).expect(200);
      await new Promise((r) => setTimeout(r, 200));
      const second = await api.prisma.db.managementToken.findUniqueOrThrow({ where: { id: sa.id } });
      expect(second.lastUsedAt).toEqual(first.lastUsedAt);
    });
  });

  describe('activity log', () => {
    it('attributes changes to the token: a service account has no person, a personal token names both', async () => {
      const sa = await serviceAccount(['manage']);
      const saKey = (await newKey(sa.token).expect(201)).body;
      const pat = await personal(t.admin, ['manage']);
      const patKey = (await newKey(pat.token).expect(201)).body;

      const feed = await api.req().get(orgUrl('/activity')).set(t.owner.auth).query({ action: 'key.created' }).expect(200);
      const byTarget = new Map(feed.body.items.map((i: { targetId: string }) => [i.targetId, i]));
      expect(byTarget.get(saKey.id)).toMatchObject({
        actorId: null,
        actorToken: { id: sa.id, kind: 'service_account', name: sa.name, prefix: sa.prefix },
      });
      expect(byTarget.get(patKey.id)).toMatchObject({
        actorId: t.admin.id,
        actorToken: { id: pat.id, kind: 'personal', name: pat.name, prefix: pat.prefix },
      });
      // The tamper-evident audit chain, which mirrors the activity log, names the token too.
      const worker = await startAuditWorker({ QUEUE_PREFIX: queuePrefix() });
      try {
        await worker.get(ActivityMirror).mirror(t.org.id, new Date(Date.now() + 60_000));
      } finally {
        await worker.close();
      }
      const [entry] = await api.prisma.db.activityLog.findMany({ where: { orgId: t.org.id, action: 'key.created', targetId: saKey.id } });
      const chain = await api
        .req()
        .get(orgUrl(`/audit/${entry!.id}`))
        .set(t.owner.auth)
        .expect(200);
      expect(chain.body).toMatchObject({
        method: 'admin.key.created',
        actorId: null,
        actorToken: { id: sa.id, kind: 'service_account', name: sa.name, prefix: sa.prefix },
        payload: { actorToken: { id: sa.id, kind: 'service_account', name: sa.name, prefix: sa.prefix } },
      });
      expect((await api.req().get(orgUrl('/audit/verify')).set(t.owner.auth).expect(200)).body.valid).toBe(true);

      // A session's changes carry no token.
      const own = (await newKey(t.owner.accessToken).expect(201)).body;
      const again = await api.req().get(orgUrl('/activity')).set(t.owner.auth).query({ action: 'key.created' }).expect(200);
      expect(again.body.items.find((i: { targetId: string }) => i.targetId === own.id)).toMatchObject({
        actorId: t.owner.id,
        actorToken: null,
      });
    });
  });

  describe('GET /v1/tokens/current', () => {
    it('names the calling token and its org, for either kind; never the secret or the hash', async () => {
      const sa = await serviceAccount(['read']);
      const own = await api.req().get('/v1/tokens/current').set(bearer(sa.token)).expect(200);
      expect(own.body).toMatchObject({
        id: sa.id,
        kind: 'service_account',
        prefix: sa.prefix,
        org: { slug: t.org.slug },
        status: 'active',
      });
      expect(JSON.stringify(own.body)).not.toContain(sa.token);
      expect(own.body).not.toHaveProperty('hash');

      const pat = await personal(t.stranger, ['read'], t.strangerOrg.slug);
      const mine = await api.req().get('/v1/tokens/current').set(bearer(pat.token)).expect(200);
      expect(mine.body).toMatchObject({ id: pat.id, kind: 'personal', org: { slug: t.strangerOrg.slug } });
    });

    it('answers a signed-in session 404 (no token), and a revoked or unknown token 401', async () => {
      expectProblem(await api.req().get('/v1/tokens/current').set(t.owner.auth), 404, 'not_found');
      const sa = await serviceAccount(['read']);
      await api
        .req()
        .delete(orgUrl(`/tokens/${sa.id}`))
        .set(t.owner.auth)
        .expect(204);
      expectProblem(await api.req().get('/v1/tokens/current').set(bearer(sa.token)), 401, 'token_revoked');
      expectProblem(
        await api
          .req()
          .get('/v1/tokens/current')
          .set(bearer(`tgm_${'A'.repeat(40)}`)),
        401,
        'unauthenticated',
      );
      await api.req().get('/v1/tokens/current').expect(401);
    });
  });
});
