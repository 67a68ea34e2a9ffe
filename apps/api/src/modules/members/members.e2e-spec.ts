import { randomUUID } from 'node:crypto';
import { type Api, createOrg, expectProblem, signup, startApi } from '../../../test/harness';
import { activity, addMember, team } from './members.fixtures';

describe('members', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  const members = (org: { slug: string }) => `/v1/orgs/${org.slug}/members`;
  const memberUrl = (org: { slug: string }, userId: string) => `/v1/orgs/${org.slug}/members/${userId}`;
  const roleOf = async (orgId: string, userId: string) =>
    (await api.prisma.db.membership.findUnique({ where: { orgId_userId: { orgId, userId } } }))?.role ?? null;

  describe('GET /v1/orgs/:org/members', () => {
    it('lists every member with user id, email, name, role and joinedAt, for every role', async () => {
      const t = await team(api, 'list');
      for (const user of [t.owner, t.admin, t.member, t.billing]) {
        const res = await api.req().get(members(t.org)).set(user.auth).expect(200);
        expect(res.body.items).toHaveLength(4);
        expect(res.body.items[0]).toEqual({
          userId: t.owner.id,
          email: t.owner.email,
          name: 'list-owner',
          role: 'owner',
          joinedAt: expect.any(String),
        });
        expect(res.body.items.map((m: { userId: string; role: string }) => [m.userId, m.role]).sort()).toEqual(
          [
            [t.owner.id, 'owner'],
            [t.admin.id, 'admin'],
            [t.member.id, 'member'],
            [t.billing.id, 'billing'],
          ].sort(),
        );
      }
    });

    it('does not list pending invitations', async () => {
      const t = await team(api, 'listinv');
      await api
        .req()
        .post(`/v1/orgs/${t.org.slug}/invitations`)
        .set(t.owner.auth)
        .send({ email: 'pending@example.test', role: 'member' })
        .expect(201);
      const res = await api.req().get(members(t.org)).set(t.owner.auth).expect(200);
      expect(res.body.items.map((m: { email: string }) => m.email)).not.toContain('pending@example.test');
      expect(res.body.items).toHaveLength(4);
    });

    it('accepts the org id as well as its slug', async () => {
      const t = await team(api, 'byid');
      const res = await api.req().get(`/v1/orgs/${t.org.id}/members`).set(t.member.auth).expect(200);
      expect(res.body.items).toHaveLength(4);
    });

    it('answers 404 to a user of another org and 401 without a token', async () => {
      const t = await team(api, 'listx');
      const outsider = await signup(api, 'outsider');
      await createOrg(api, outsider);
      expectProblem(await api.req().get(members(t.org)).set(outsider.auth), 404, 'not_found');
      expectProblem(await api.req().get(members(t.org)), 401, 'unauthenticated');
      expectProblem(await api.req().get('/v1/orgs/no-such-org-here/members').set(t.owner.auth), 404, 'not_found');
    });
  });

  describe('PATCH /v1/orgs/:org/members/:userId', () => {
    it('lets an owner change a role, logs it, and leaves the data plane alone', async () => {
      const t = await team(api, 'patch');
      const versionBefore = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } })).snapshotVersion;
      const res = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.owner.auth).send({ role: 'admin' }).expect(200);
      expect(res.body).toEqual({
        userId: t.member.id,
        email: t.member.email,
        name: 'patch-member',
        role: 'admin',
        joinedAt: expect.any(String),
      });
      expect(await roleOf(t.org.id, t.member.id)).toBe('admin');

      const [entry] = await activity(api, t.org.id, 'member.role_changed');
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'member',
        targetId: t.member.id,
        before: { userId: t.member.id, email: t.member.email, role: 'member' },
        after: { userId: t.member.id, email: t.member.email, role: 'admin' },
      });
      // Visible through the activity API too.
      const log = await api.req().get(`/v1/orgs/${t.org.slug}/activity?action=member.role_changed`).set(t.owner.auth).expect(200);
      expect(log.body.items).toHaveLength(1);

      const versionAfter = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: t.org.id } })).snapshotVersion;
      expect(versionAfter).toBe(versionBefore);
    });

    it('lets an owner grant and (with another owner left) remove the owner role', async () => {
      const t = await team(api, 'grant');
      await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.owner.auth).send({ role: 'owner' }).expect(200);
      expect(await roleOf(t.org.id, t.admin.id)).toBe('owner');
      await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.owner.auth).send({ role: 'member' }).expect(200);
      expect(await roleOf(t.org.id, t.admin.id)).toBe('member');
    });

    it('lets an admin change non-owner roles', async () => {
      const t = await team(api, 'adminpatch');
      await api.req().patch(memberUrl(t.org, t.member.id)).set(t.admin.auth).send({ role: 'billing' }).expect(200);
      await api.req().patch(memberUrl(t.org, t.billing.id)).set(t.admin.auth).send({ role: 'admin' }).expect(200);
      expect(await roleOf(t.org.id, t.member.id)).toBe('billing');
      expect(await roleOf(t.org.id, t.billing.id)).toBe('admin');
      // An admin may step down themselves.
      await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.admin.auth).send({ role: 'member' }).expect(200);
      expect(await roleOf(t.org.id, t.admin.id)).toBe('member');
    });

    it('refuses an admin granting the owner role or changing an owner', async () => {
      const t = await team(api, 'adminowner');
      const grant = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.admin.auth).send({ role: 'owner' });
      expectProblem(grant, 403, 'forbidden');
      expect(grant.body.detail).toBe('Only an owner can grant the owner role');
      const self = await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.admin.auth).send({ role: 'owner' });
      expectProblem(self, 403, 'forbidden');
      const demote = await api.req().patch(memberUrl(t.org, t.owner.id)).set(t.admin.auth).send({ role: 'member' });
      expectProblem(demote, 403, 'forbidden');
      expect(demote.body.detail).toBe("Only an owner can change an owner's role");
      expect(await roleOf(t.org.id, t.member.id)).toBe('member');
      expect(await roleOf(t.org.id, t.owner.id)).toBe('owner');
      expect(await activity(api, t.org.id, 'member.role_changed')).toHaveLength(0);
    });

    it('refuses members and billing admins with 403', async () => {
      const t = await team(api, 'patch403');
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(memberUrl(t.org, t.admin.id)).set(user.auth).send({ role: 'member' }), 403, 'forbidden');
        expectProblem(await api.req().patch(memberUrl(t.org, user.id)).set(user.auth).send({ role: 'admin' }), 403, 'forbidden');
      }
      expect(await roleOf(t.org.id, t.admin.id)).toBe('admin');
    });

    it('setting the current role changes and logs nothing', async () => {
      const t = await team(api, 'noop');
      const res = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.owner.auth).send({ role: 'member' }).expect(200);
      expect(res.body.role).toBe('member');
      expect(await activity(api, t.org.id, 'member.role_changed')).toHaveLength(0);
    });

    it('validates the body', async () => {
      const t = await team(api, 'patch400');
      const bad = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.owner.auth).send({ role: 'superuser' });
      expectProblem(bad, 400, 'validation_failed');
      expect(bad.body.errors).toEqual([{ path: 'role', message: 'must be one of owner, admin, member, billing' }]);
      const missing = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.owner.auth).send({});
      expectProblem(missing, 400, 'validation_failed');
      expect(missing.body.errors[0].path).toBe('role');
      const unknown = await api.req().patch(memberUrl(t.org, t.member.id)).set(t.owner.auth).send({ role: 'admin', userId: t.owner.id });
      expectProblem(unknown, 400, 'validation_failed');
      expect(unknown.body.detail).toContain('unknown field: userId');
      expect(await roleOf(t.org.id, t.member.id)).toBe('member');
    });

    it('answers 404 for a bad UUID, an unknown user and a user of another org', async () => {
      const t = await team(api, 'patch404');
      const other = await team(api, 'patch404b');
      for (const id of ['not-a-uuid', '1234', randomUUID(), other.member.id]) {
        expectProblem(await api.req().patch(memberUrl(t.org, id)).set(t.owner.auth).send({ role: 'admin' }), 404, 'not_found');
      }
      expect(await roleOf(other.org.id, other.member.id)).toBe('member');
    });

    it("answers 404 to a user of org A managing org B's members", async () => {
      const a = await team(api, 'crossa');
      const b = await team(api, 'crossb');
      const res = await api.req().patch(memberUrl(b.org, b.member.id)).set(a.owner.auth).send({ role: 'owner' });
      expectProblem(res, 404, 'not_found');
      // Naming org A in the route but a member of B as the target is just as unknown.
      expectProblem(await api.req().patch(memberUrl(a.org, b.member.id)).set(a.owner.auth).send({ role: 'admin' }), 404, 'not_found');
      expect(await roleOf(b.org.id, b.member.id)).toBe('member');
    });
  });

  describe('DELETE /v1/orgs/:org/members/:userId', () => {
    it('lets an owner remove a member, logs it, and the removed user loses access', async () => {
      const t = await team(api, 'del');
      await api.req().delete(memberUrl(t.org, t.member.id)).set(t.owner.auth).expect(204);
      expect(await roleOf(t.org.id, t.member.id)).toBeNull();
      const [entry] = await activity(api, t.org.id, 'member.removed');
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'member',
        targetId: t.member.id,
        before: { userId: t.member.id, email: t.member.email, role: 'member' },
        after: { left: false },
      });
      expectProblem(await api.req().get(members(t.org)).set(t.member.auth), 404, 'not_found');
      const list = await api.req().get(members(t.org)).set(t.owner.auth).expect(200);
      expect(list.body.items).toHaveLength(3);
    });

    it('lets an owner remove an admin and another owner', async () => {
      const t = await team(api, 'delowner');
      const second = await signup(api, 'second-owner');
      await addMember(api, t.org.id, second, 'owner');
      await api.req().delete(memberUrl(t.org, t.admin.id)).set(t.owner.auth).expect(204);
      await api.req().delete(memberUrl(t.org, second.id)).set(t.owner.auth).expect(204);
      expect(await roleOf(t.org.id, second.id)).toBeNull();
    });

    it('lets an admin remove members, billing admins and admins, but not owners', async () => {
      const t = await team(api, 'deladmin');
      const other = await signup(api, 'other-admin');
      await addMember(api, t.org.id, other, 'admin');
      await api.req().delete(memberUrl(t.org, t.member.id)).set(t.admin.auth).expect(204);
      await api.req().delete(memberUrl(t.org, t.billing.id)).set(t.admin.auth).expect(204);
      await api.req().delete(memberUrl(t.org, other.id)).set(t.admin.auth).expect(204);
      const res = await api.req().delete(memberUrl(t.org, t.owner.id)).set(t.admin.auth);
      expectProblem(res, 403, 'forbidden');
      expect(res.body.detail).toBe('Only an owner can remove an owner');
      expect(await roleOf(t.org.id, t.owner.id)).toBe('owner');
    });

    it('refuses members and billing admins removing others with 403', async () => {
      const t = await team(api, 'del403');
      for (const user of [t.member, t.billing]) {
        for (const target of [t.owner, t.admin, user === t.member ? t.billing : t.member]) {
          const res = await api.req().delete(memberUrl(t.org, target.id)).set(user.auth);
          expectProblem(res, 403, 'forbidden');
        }
      }
      expect(await api.prisma.db.membership.count({ where: { orgId: t.org.id } })).toBe(4);
      expect(await activity(api, t.org.id, 'member.removed')).toHaveLength(0);
    });

    it('lets any member leave (remove themselves)', async () => {
      const t = await team(api, 'leave');
      for (const user of [t.member, t.billing, t.admin]) {
        await api.req().delete(memberUrl(t.org, user.id)).set(user.auth).expect(204);
        expect(await roleOf(t.org.id, user.id)).toBeNull();
      }
      const entries = await activity(api, t.org.id, 'member.removed');
      expect(entries).toHaveLength(3);
      expect(entries.every((e) => e.actorId === e.targetId && (e.after as { left: boolean }).left === true)).toBe(true);
    });

    it('answers 404 for a bad UUID, an unknown user and a user of another org', async () => {
      const t = await team(api, 'del404');
      const other = await team(api, 'del404b');
      for (const id of ['not-a-uuid', `${randomUUID()}x`, randomUUID(), other.member.id]) {
        expectProblem(await api.req().delete(memberUrl(t.org, id)).set(t.owner.auth), 404, 'not_found');
      }
      expect(await roleOf(other.org.id, other.member.id)).toBe('member');
    });

    it("answers 404 to a user of org A removing org B's members", async () => {
      const a = await team(api, 'delxa');
      const b = await team(api, 'delxb');
      expectProblem(await api.req().delete(memberUrl(b.org, b.member.id)).set(a.owner.auth), 404, 'not_found');
      expectProblem(await api.req().delete(memberUrl(b.org, b.owner.id)).set(a.admin.auth), 404, 'not_found');
      expect(await api.prisma.db.membership.count({ where: { orgId: b.org.id } })).toBe(4);
    });
  });

  describe('the last owner', () => {
    it('cannot be demoted', async () => {
      const t = await team(api, 'last-demote');
      const res = await api.req().patch(memberUrl(t.org, t.owner.id)).set(t.owner.auth).send({ role: 'admin' });
      expectProblem(res, 409, 'last_owner');
      expect(res.body.detail).toMatch(/last owner.*make another member an owner first/);
      expect(await roleOf(t.org.id, t.owner.id)).toBe('owner');
    });

    it('cannot be removed or leave', async () => {
      const t = await team(api, 'last-leave');
      const res = await api.req().delete(memberUrl(t.org, t.owner.id)).set(t.owner.auth);
      expectProblem(res, 409, 'last_owner');
      expect(res.body.detail).toMatch(/You are the last owner of this organisation and cannot leave it/);
      expect(await roleOf(t.org.id, t.owner.id)).toBe('owner');
      expect(await activity(api, t.org.id, 'member.removed')).toHaveLength(0);
    });

    it('with two owners, one may leave and then the other is the last', async () => {
      const t = await team(api, 'two-owners');
      await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.owner.auth).send({ role: 'owner' }).expect(200);
      await api.req().delete(memberUrl(t.org, t.owner.id)).set(t.owner.auth).expect(204);
      expectProblem(await api.req().delete(memberUrl(t.org, t.admin.id)).set(t.admin.auth), 409, 'last_owner');
      expectProblem(await api.req().patch(memberUrl(t.org, t.admin.id)).set(t.admin.auth).send({ role: 'member' }), 409, 'last_owner');
    });

    it('with two owners, one may demote the other, but not then themselves', async () => {
      const t = await team(api, 'two-demote');
      const second = await signup(api, 'second');
      await addMember(api, t.org.id, second, 'owner');
      await api.req().patch(memberUrl(t.org, second.id)).set(t.owner.auth).send({ role: 'admin' }).expect(200);
      const res = await api.req().patch(memberUrl(t.org, t.owner.id)).set(t.owner.auth).send({ role: 'admin' });
      expectProblem(res, 409, 'last_owner');
      expect(res.body.detail).toMatch(/cannot give up the owner role/);
    });

    it('survives concurrent attempts: of two owners leaving at once, exactly one succeeds', async () => {
      for (let round = 0; round < 5; round++) {
        const t = await team(api, `race${round}`);
        await api.prisma.db.membership.update({
          where: { orgId_userId: { orgId: t.org.id, userId: t.admin.id } },
          data: { role: 'owner' },
        });
        const [a, b] = await Promise.all([
          api.req().delete(memberUrl(t.org, t.owner.id)).set(t.owner.auth),
          api.req().delete(memberUrl(t.org, t.admin.id)).set(t.admin.auth),
        ]);
        expect([a.status, b.status].sort()).toEqual([204, 409]);
        expect(await api.prisma.db.membership.count({ where: { orgId: t.org.id, role: 'owner' } })).toBe(1);
      }
    });

    it('survives concurrent attempts: two owners demoting each other at once', async () => {
      for (let round = 0; round < 5; round++) {
        const t = await team(api, `xdemote${round}`);
        await api.prisma.db.membership.update({
          where: { orgId_userId: { orgId: t.org.id, userId: t.admin.id } },
          data: { role: 'owner' },
        });
        const [a, b] = await Promise.all([
          api.req().patch(memberUrl(t.org, t.admin.id)).set(t.owner.auth).send({ role: 'member' }),
          api.req().patch(memberUrl(t.org, t.owner.id)).set(t.admin.auth).send({ role: 'member' }),
        ]);
        // The second to run either finds itself demoted (403) or the other already demoted (409 last owner).
        expect([a.status, b.status]).toContain(200);
        expect(await api.prisma.db.membership.count({ where: { orgId: t.org.id, role: 'owner' } })).toBe(1);
      }
    });
  });
});
