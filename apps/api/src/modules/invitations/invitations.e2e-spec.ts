import { randomUUID } from 'node:crypto';
import { sha256Hex } from '@toolgate/contracts';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser, uniq } from '../../../test/harness';
import { activity, addMember, team } from '../members/members.fixtures';

const WEB = 'https://dash.example.test';
const TTL_HOURS = 48;

describe('invitations', () => {
  let api: Api;
  beforeAll(async () => {
    // A trailing slash on PUBLIC_WEB_URL must not double up in the link.
    api = await startApi({ PUBLIC_WEB_URL: `${WEB}/`, INVITATION_TTL_HOURS: String(TTL_HOURS) });
  });
  afterAll(() => api.close());

  const invitations = (org: { slug: string }) => `/v1/orgs/${org.slug}/invitations`;
  const freshEmail = (name = 'invitee') => `${uniq(name)}@example.test`;
  const invite = async (org: { slug: string }, by: TestUser, email = freshEmail(), role = 'member') => {
    const res = await api.req().post(invitations(org)).set(by.auth).send({ email, role }).expect(201);
    return res.body as { id: string; email: string; role: string; token: string; acceptUrl: string; expiresAt: string };
  };
  /** Signs up a user with exactly this email (the harness makes up its own). */
  const signupAs = async (email: string, name = 'invitee'): Promise<TestUser> => {
    const password = 'correct horse battery staple';
    const res = await api.req().post('/v1/auth/signup').send({ email, password, name }).expect(201);
    return {
      id: res.body.user.id,
      email: res.body.user.email,
      password,
      accessToken: res.body.accessToken,
      refreshToken: res.body.refreshToken,
      auth: { Authorization: `Bearer ${res.body.accessToken}` },
    };
  };
  const accept = (token: string, user: TestUser) => api.req().post(`/v1/invitations/${token}/accept`).set(user.auth);

  describe('the full flow', () => {
    it('invite → accept → the member appears, with activity logged and only the token hash stored', async () => {
      const t = await team(api, 'flow');
      const email = freshEmail('newbie');
      const before = Date.now();
      const created = await invite(t.org, t.admin, email, 'admin');

      expect(created).toEqual({
        id: expect.any(String),
        email,
        role: 'admin',
        expiresAt: expect.any(String),
        createdAt: expect.any(String),
        invitedBy: { id: t.admin.id, email: t.admin.email, name: 'flow-admin' },
        token: expect.stringMatching(/^tgi_[A-Za-z0-9_-]{43}$/),
        acceptUrl: `${WEB}/invitations/${created.token}`,
      });
      const ttl = new Date(created.expiresAt).getTime() - before;
      expect(ttl).toBeGreaterThanOrEqual(TTL_HOURS * 3_600_000 - 1000);
      expect(ttl).toBeLessThanOrEqual(TTL_HOURS * 3_600_000 + 60_000);

      const row = await api.prisma.db.invitation.findUniqueOrThrow({ where: { id: created.id } });
      expect(row.tokenHash).toBe(sha256Hex(created.token));
      expect(JSON.stringify(row)).not.toContain(created.token);

      const [invited] = await activity(api, t.org.id, 'member.invited');
      expect(invited).toMatchObject({
        actorId: t.admin.id,
        targetType: 'invitation',
        targetId: created.id,
        after: { email, role: 'admin' },
      });
      expect(JSON.stringify(invited)).not.toContain(created.token);

      // The dashboard's accept page can show what the link is for, before anyone logs in.
      const preview = await api.req().get(`/v1/invitations/${created.token}`).expect(200);
      expect(preview.body).toEqual({
        org: { slug: t.org.slug, name: `Org ${t.org.slug}` },
        email,
        role: 'admin',
        expiresAt: created.expiresAt,
        invitedBy: { name: 'flow-admin' },
      });

      const invitee = await signupAs(email, 'newbie');
      const res = await accept(created.token, invitee).expect(200);
      expect(res.body).toEqual({ id: t.org.id, slug: t.org.slug, name: `Org ${t.org.slug}`, role: 'admin' });

      const list = await api.req().get(`/v1/orgs/${t.org.slug}/members`).set(t.owner.auth).expect(200);
      expect(list.body.items).toContainEqual({ userId: invitee.id, email, name: 'newbie', role: 'admin', joinedAt: expect.any(String) });
      const me = await api.req().get('/v1/me').set(invitee.auth).expect(200);
      expect(me.body.orgs).toEqual([{ id: t.org.id, slug: t.org.slug, name: `Org ${t.org.slug}`, role: 'admin' }]);
      // The new admin can act on the org right away.
      await api.req().get(invitations(t.org)).set(invitee.auth).expect(200);

      const accepted = await api.prisma.db.invitation.findUniqueOrThrow({ where: { id: created.id } });
      expect(accepted.acceptedById).toBe(invitee.id);
      expect(accepted.acceptedAt).toBeInstanceOf(Date);
      const pending = await api.req().get(invitations(t.org)).set(t.owner.auth).expect(200);
      expect(pending.body.items.map((i: { id: string }) => i.id)).not.toContain(created.id);

      const [acceptedEntry] = await activity(api, t.org.id, 'invitation.accepted');
      expect(acceptedEntry).toMatchObject({
        actorId: invitee.id,
        targetType: 'member',
        targetId: invitee.id,
        after: { invitationId: created.id, userId: invitee.id, email, role: 'admin' },
      });
    });

    it('matches the email case-insensitively and stores it lower-cased', async () => {
      const t = await team(api, 'case');
      const email = freshEmail('mixed');
      const created = await invite(t.org, t.owner, `  ${email.toUpperCase()} `);
      expect(created.email).toBe(email);
      const invitee = await signupAs(email.replace(/^./, (c) => c.toUpperCase()));
      await accept(created.token, invitee).expect(200);
    });

    it('lets an owner invite an owner', async () => {
      const t = await team(api, 'ownerinv');
      const email = freshEmail('coowner');
      const created = await invite(t.org, t.owner, email, 'owner');
      const invitee = await signupAs(email);
      expect((await accept(created.token, invitee).expect(200)).body.role).toBe('owner');
      // Two owners now: the original may leave.
      await api.req().delete(`/v1/orgs/${t.org.slug}/members/${t.owner.id}`).set(t.owner.auth).expect(204);
    });

    it('refuses a user whose email is not the invited one with a clear 403', async () => {
      const t = await team(api, 'wrong');
      const email = freshEmail('intended');
      const created = await invite(t.org, t.owner, email);
      const stranger = await signup(api, 'stranger');
      const res = await accept(created.token, stranger);
      expectProblem(res, 403, 'forbidden');
      expect(res.body.detail).toBe(
        `This invitation was sent to ${email}, but you are logged in as ${stranger.email}; log in with ${email} to accept it`,
      );
      expect(await api.prisma.db.membership.findFirst({ where: { orgId: t.org.id, userId: stranger.id } })).toBeNull();
      // The invitation is still there for the right person.
      const intended = await signupAs(email);
      await accept(created.token, intended).expect(200);
    });

    it('refuses an expired invitation with 410 invitation_invalid and no longer lists it', async () => {
      const t = await team(api, 'expired');
      const email = freshEmail('late');
      const created = await invite(t.org, t.owner, email);
      await api.prisma.db.invitation.update({ where: { id: created.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const invitee = await signupAs(email);
      const res = await accept(created.token, invitee);
      expectProblem(res, 410, 'invitation_invalid');
      expect(res.body).toMatchObject({ title: 'Gone', reason: 'expired' });
      expect(res.body.detail).toMatch(/expired/);
      expectProblem(await api.req().get(`/v1/invitations/${created.token}`), 410, 'invitation_invalid');
      expect(await api.prisma.db.membership.findFirst({ where: { orgId: t.org.id, userId: invitee.id } })).toBeNull();
      const list = await api.req().get(invitations(t.org)).set(t.owner.auth).expect(200);
      expect(list.body.items).toEqual([]);
    });

    it('refuses to reuse an accepted token with 410 invitation_invalid', async () => {
      const t = await team(api, 'reuse');
      const email = freshEmail('once');
      const created = await invite(t.org, t.owner, email);
      const invitee = await signupAs(email);
      await accept(created.token, invitee).expect(200);
      // Even after leaving the org, the link cannot be used to rejoin.
      await api.req().delete(`/v1/orgs/${t.org.slug}/members/${invitee.id}`).set(invitee.auth).expect(204);
      const res = await accept(created.token, invitee);
      expectProblem(res, 410, 'invitation_invalid');
      expect(res.body).toMatchObject({ reason: 'accepted', detail: 'This invitation has already been accepted' });
      expectProblem(await api.req().get(`/v1/invitations/${created.token}`), 410, 'invitation_invalid');
      expect(await activity(api, t.org.id, 'invitation.accepted')).toHaveLength(1);
    });

    it('answers 404 invitation_invalid to an unknown or malformed token', async () => {
      const user = await signup(api, 'guess');
      const unknown = `tgi_${'A'.repeat(43)}`;
      for (const token of [unknown, 'tgi_short', 'nonsense', `tgr_${'A'.repeat(43)}`]) {
        const res = await accept(token, user);
        expectProblem(res, 404, 'invitation_invalid');
        expectProblem(await api.req().get(`/v1/invitations/${token}`), 404, 'invitation_invalid');
      }
    });

    it('answers 409 when the user is already a member, and leaves the invitation pending', async () => {
      const t = await team(api, 'already');
      const email = freshEmail('dup');
      const created = await invite(t.org, t.owner, email);
      const invitee = await signupAs(email);
      await addMember(api, t.org.id, invitee, 'billing');
      const res = await accept(created.token, invitee);
      expectProblem(res, 409, 'conflict');
      expect(res.body.detail).toBe('You are already a member of this organisation');
      const row = await api.prisma.db.invitation.findUniqueOrThrow({ where: { id: created.id } });
      expect(row.acceptedAt).toBeNull();
      expect((await api.prisma.db.membership.findFirstOrThrow({ where: { orgId: t.org.id, userId: invitee.id } })).role).toBe('billing');
    });

    it('accepts exactly once when the same token is accepted concurrently', async () => {
      const t = await team(api, 'concurrent');
      const email = freshEmail('twice');
      const created = await invite(t.org, t.owner, email);
      const invitee = await signupAs(email);
      const results = await Promise.all([accept(created.token, invitee), accept(created.token, invitee), accept(created.token, invitee)]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 200)) expect([409, 410]).toContain(r.status);
      expect(await api.prisma.db.membership.count({ where: { orgId: t.org.id, userId: invitee.id } })).toBe(1);
      expect(await activity(api, t.org.id, 'invitation.accepted')).toHaveLength(1);
    });

    it('requires a login to accept, and takes no body fields', async () => {
      const t = await team(api, 'acceptauth');
      const email = freshEmail('body');
      const created = await invite(t.org, t.owner, email);
      expectProblem(await api.req().post(`/v1/invitations/${created.token}/accept`), 401, 'unauthenticated');
      const invitee = await signupAs(email);
      const res = await accept(created.token, invitee).send({ role: 'owner' });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.detail).toContain('unknown field: role');
      await accept(created.token, invitee).send({}).expect(200);
    });
  });

  describe('POST /v1/orgs/:org/invitations', () => {
    it('re-inviting a pending email replaces the previous invitation', async () => {
      const t = await team(api, 'reinvite');
      const email = freshEmail('again');
      const first = await invite(t.org, t.owner, email, 'member');
      const second = await invite(t.org, t.admin, email, 'billing');
      expect(second.token).not.toBe(first.token);

      const list = await api.req().get(invitations(t.org)).set(t.owner.auth).expect(200);
      expect(list.body.items).toEqual([
        {
          id: second.id,
          email,
          role: 'billing',
          expiresAt: second.expiresAt,
          createdAt: expect.any(String),
          invitedBy: { id: t.admin.id, email: t.admin.email, name: 'reinvite-admin' },
        },
      ]);
      const entries = await activity(api, t.org.id, 'member.invited');
      expect(entries).toHaveLength(2);
      expect(entries[1]?.before).toEqual({ replaced: [expect.objectContaining({ id: first.id, email, role: 'member' })] });

      const invitee = await signupAs(email);
      expectProblem(await accept(first.token, invitee), 404, 'invitation_invalid');
      expect((await accept(second.token, invitee).expect(200)).body.role).toBe('billing');
    });

    it('concurrent invitations of one email leave a single pending invitation', async () => {
      const t = await team(api, 'inviterace');
      const email = freshEmail('race');
      const results = await Promise.all(
        [1, 2, 3].map(() => api.req().post(invitations(t.org)).set(t.owner.auth).send({ email, role: 'member' })),
      );
      expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(await api.prisma.db.invitation.count({ where: { orgId: t.org.id, email } })).toBe(1);
    });

    it('answers 409 when inviting an existing member (including yourself)', async () => {
      const t = await team(api, 'existing');
      for (const email of [t.member.email, t.owner.email, t.admin.email.toUpperCase()]) {
        const res = await api.req().post(invitations(t.org)).set(t.admin.auth).send({ email, role: 'member' });
        expectProblem(res, 409, 'conflict');
        expect(res.body.detail).toBe(`${email.toLowerCase()} is already a member of this organisation`);
      }
      expect(await api.prisma.db.invitation.count({ where: { orgId: t.org.id } })).toBe(0);
    });

    it('may invite a user who is a member of another org only', async () => {
      const t = await team(api, 'elsewhere');
      const other = await team(api, 'elsewhere2');
      const created = await invite(t.org, t.owner, other.member.email);
      await accept(created.token, other.member).expect(200);
      const me = await api.req().get('/v1/me').set(other.member.auth).expect(200);
      expect(me.body.orgs.map((o: { id: string }) => o.id).sort()).toEqual([t.org.id, other.org.id].sort());
    });

    it('lets an admin invite non-owners but not owners', async () => {
      const t = await team(api, 'admininv');
      for (const role of ['admin', 'member', 'billing']) await invite(t.org, t.admin, freshEmail(role), role);
      const res = await api.req().post(invitations(t.org)).set(t.admin.auth).send({ email: freshEmail(), role: 'owner' });
      expectProblem(res, 403, 'forbidden');
      expect(res.body.detail).toBe('Only an owner can invite another owner');
      expect(await api.prisma.db.invitation.count({ where: { orgId: t.org.id, role: 'owner' } })).toBe(0);
    });

    it('refuses members and billing admins with 403, outsiders with 404', async () => {
      const t = await team(api, 'inv403');
      for (const user of [t.member, t.billing]) {
        expectProblem(
          await api.req().post(invitations(t.org)).set(user.auth).send({ email: freshEmail(), role: 'member' }),
          403,
          'forbidden',
        );
      }
      const outsider = await signup(api, 'outsider');
      await createOrg(api, outsider);
      expectProblem(
        await api.req().post(invitations(t.org)).set(outsider.auth).send({ email: freshEmail(), role: 'member' }),
        404,
        'not_found',
      );
      expectProblem(await api.req().post(invitations(t.org)).send({ email: freshEmail(), role: 'member' }), 401, 'unauthenticated');
      expect(await api.prisma.db.invitation.count({ where: { orgId: t.org.id } })).toBe(0);
    });

    it('validates the body with field errors', async () => {
      const t = await team(api, 'inv400');
      const bad = await api.req().post(invitations(t.org)).set(t.owner.auth).send({ email: 'not-an-email', role: 'god' });
      expectProblem(bad, 400, 'validation_failed');
      expect(bad.body.errors).toEqual([
        { path: 'email', message: 'must be a valid email address' },
        { path: 'role', message: 'must be one of owner, admin, member, billing' },
      ]);
      const missing = await api.req().post(invitations(t.org)).set(t.owner.auth).send({});
      expectProblem(missing, 400, 'validation_failed');
      expect(missing.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'role']);
      const unknown = await api
        .req()
        .post(invitations(t.org))
        .set(t.owner.auth)
        .send({ email: freshEmail(), role: 'member', token: 'mine' });
      expectProblem(unknown, 400, 'validation_failed');
      expect(unknown.body.detail).toContain('unknown field: token');
      const long = await api
        .req()
        .post(invitations(t.org))
        .set(t.owner.auth)
        .send({ email: `${'a'.repeat(250)}@example.test`, role: 'member' });
      expectProblem(long, 400, 'validation_failed');
      expect(await api.prisma.db.invitation.count({ where: { orgId: t.org.id } })).toBe(0);
    });
  });

  describe('GET /v1/orgs/:org/invitations', () => {
    it('lists pending invitations newest first, never with a token, to owners and admins', async () => {
      const t = await team(api, 'listing');
      const a = await invite(t.org, t.owner, freshEmail('a'));
      const b = await invite(t.org, t.owner, freshEmail('b'), 'admin');
      // An accepted one is not pending.
      const cEmail = freshEmail('c');
      const c = await invite(t.org, t.owner, cEmail);
      await accept(c.token, await signupAs(cEmail)).expect(200);
      for (const user of [t.owner, t.admin]) {
        const res = await api.req().get(invitations(t.org)).set(user.auth).expect(200);
        expect(res.body.items.map((i: { id: string }) => i.id)).toEqual([b.id, a.id]);
        for (const item of res.body.items) {
          expect(Object.keys(item).sort()).toEqual(['createdAt', 'email', 'expiresAt', 'id', 'invitedBy', 'role']);
        }
        expect(JSON.stringify(res.body)).not.toContain('tgi_');
      }
    });

    it('shows invitedBy as null when the inviter no longer exists', async () => {
      const t = await team(api, 'gone');
      const created = await invite(t.org, t.admin, freshEmail());
      await api.prisma.db.invitation.update({ where: { id: created.id }, data: { invitedById: randomUUID() } });
      const res = await api.req().get(invitations(t.org)).set(t.owner.auth).expect(200);
      expect(res.body.items[0].invitedBy).toBeNull();
    });

    it('refuses members and billing admins with 403, outsiders with 404', async () => {
      const t = await team(api, 'list403');
      await invite(t.org, t.owner, freshEmail());
      for (const user of [t.member, t.billing]) expectProblem(await api.req().get(invitations(t.org)).set(user.auth), 403, 'forbidden');
      const b = await team(api, 'list403b');
      expectProblem(await api.req().get(invitations(t.org)).set(b.owner.auth), 404, 'not_found');
    });
  });

  describe('DELETE /v1/orgs/:org/invitations/:id', () => {
    it('lets owners and admins revoke; the link stops working and the revocation is logged', async () => {
      const t = await team(api, 'revoke');
      for (const user of [t.owner, t.admin]) {
        const email = freshEmail('revoked');
        const created = await invite(t.org, t.owner, email);
        await api
          .req()
          .delete(`${invitations(t.org)}/${created.id}`)
          .set(user.auth)
          .expect(204);
        expect(await api.prisma.db.invitation.findUnique({ where: { id: created.id } })).toBeNull();
        expectProblem(await accept(created.token, await signupAs(email)), 404, 'invitation_invalid');
        const entries = await activity(api, t.org.id, 'invitation.revoked');
        expect(entries.at(-1)).toMatchObject({
          actorId: user.id,
          targetType: 'invitation',
          targetId: created.id,
          before: { id: created.id, email, role: 'member' },
        });
      }
    });

    it('revokes an expired invitation too', async () => {
      const t = await team(api, 'revokeexp');
      const created = await invite(t.org, t.owner, freshEmail());
      await api.prisma.db.invitation.update({ where: { id: created.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      await api
        .req()
        .delete(`${invitations(t.org)}/${created.id}`)
        .set(t.admin.auth)
        .expect(204);
    });

    it('lets only an owner revoke an owner invitation', async () => {
      const t = await team(api, 'revokeowner');
      const created = await invite(t.org, t.owner, freshEmail(), 'owner');
      const res = await api
        .req()
        .delete(`${invitations(t.org)}/${created.id}`)
        .set(t.admin.auth);
      expectProblem(res, 403, 'forbidden');
      await api
        .req()
        .delete(`${invitations(t.org)}/${created.id}`)
        .set(t.owner.auth)
        .expect(204);
    });

    it('refuses members and billing admins with 403', async () => {
      const t = await team(api, 'revoke403');
      const created = await invite(t.org, t.owner, freshEmail());
      for (const user of [t.member, t.billing]) {
        expectProblem(
          await api
            .req()
            .delete(`${invitations(t.org)}/${created.id}`)
            .set(user.auth),
          403,
          'forbidden',
        );
      }
      expect(await api.prisma.db.invitation.findUnique({ where: { id: created.id } })).not.toBeNull();
    });

    it('answers 404 for a bad UUID, an unknown id, an accepted invitation and another org', async () => {
      const t = await team(api, 'revoke404');
      const b = await team(api, 'revoke404b');
      const theirs = await invite(b.org, b.owner, freshEmail());
      const email = freshEmail('done');
      const done = await invite(t.org, t.owner, email);
      await accept(done.token, await signupAs(email)).expect(200);
      for (const id of ['not-a-uuid', '42', randomUUID(), theirs.id, done.id]) {
        expectProblem(
          await api
            .req()
            .delete(`${invitations(t.org)}/${id}`)
            .set(t.owner.auth),
          404,
          'not_found',
        );
      }
      // Org A's owner naming org B in the route.
      expectProblem(
        await api
          .req()
          .delete(`${invitations(b.org)}/${theirs.id}`)
          .set(t.owner.auth),
        404,
        'not_found',
      );
      expect(await api.prisma.db.invitation.findUnique({ where: { id: theirs.id } })).not.toBeNull();
      expect(await activity(api, t.org.id, 'invitation.revoked')).toHaveLength(0);
    });
  });
});
