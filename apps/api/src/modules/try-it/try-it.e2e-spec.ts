import { createServer } from 'node:net';
import { PolicySnapshot, redisKeys } from '@toolgate/contracts';
import { type Team, team } from '../members/members.fixtures';
import { type Api, expectProblem, startApi, uniq } from '../../../test/harness';

/**
 * What the API does on its own: who may try, bad input, the temporary key's life. The call
 * through a real gateway and server-everything (result, denial, audit entry) is tested with the
 * whole stack in apps/web/test/try-it.e2e-spec.ts.
 */

/** A TCP port on 127.0.0.1 that nothing listens on: the "gateway" of this suite is down. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const CATALOG = {
  protocolVersion: '2025-06-18',
  serverInfo: { name: 'everything', version: '1' },
  capabilities: {},
  instructions: null,
  tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } }],
  prompts: [],
  resources: [],
  resourceTemplates: [],
};

describe('Try it: POST /v1/orgs/:org/servers/:id/try', () => {
  let api: Api;
  let t: Team;
  let serverId: string;
  let roleId: string;

  const tryUrl = (id = serverId, org = t.org.slug) => `/v1/orgs/${org}/servers/${id}/try`;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const tryIt = (body: Record<string, unknown>, auth = t.owner.auth, url = tryUrl()) => api.req().post(url).set(auth).send(body);
  const asRole = () => ({ kind: 'role', roleId });

  async function redisSnapshot(orgId: string) {
    const raw = await api.redis.client.get(redisKeys.snapshot(orgId));
    if (!raw) throw new Error(`no snapshot in Redis for ${orgId}`);
    return PolicySnapshot.parse(JSON.parse(raw));
  }

  const tryItKeys = () => api.prisma.db.apiKey.findMany({ where: { orgId: t.org.id, kind: 'try_it' }, include: { roles: true } });

  beforeAll(async () => {
    api = await startApi({ PUBLIC_GATEWAY_URL: `http://127.0.0.1:${await closedPort()}` });
    t = await team(api, 'tryit');
    const created = await api
      .req()
      .post(`/v1/orgs/${t.org.slug}/servers`)
      .set(t.owner.auth)
      .send({ slug: 'everything', name: 'Everything', transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' })
      .expect(201);
    serverId = created.body.id;
    // No gateway runs here, so no probe can fill the catalogue: write what a probe would store.
    await api.prisma.db.mcpServer.update({ where: { id: serverId }, data: { catalog: CATALOG, catalogFetchedAt: new Date() } });
    const role = await api.prisma.db.role.create({
      data: { orgId: t.org.id, name: uniq('echoer'), rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] } },
    });
    roleId = role.id;
  });
  afterAll(() => api?.close());

  afterEach(async () => {
    // Whatever a test did, no try-it key is left able to call.
    for (const k of await tryItKeys()) expect(k.revokedAt).not.toBeNull();
  });

  describe('who may try', () => {
    it('refuses members and billing (403), strangers and unknown servers (404)', async () => {
      const body = { tool: 'echo', arguments: { message: 'hi' }, as: asRole() };
      for (const user of [t.member, t.billing]) expectProblem(await tryIt(body, user.auth), 403, 'forbidden');
      expectProblem(await tryIt(body, t.stranger.auth), 404, 'not_found');
      expectProblem(await tryIt(body, t.stranger.auth, tryUrl(serverId, t.strangerOrg.slug)), 404, 'not_found');
      expectProblem(await tryIt(body, t.owner.auth, tryUrl('00000000-0000-4000-8000-000000000000')), 404, 'not_found');
      expect(await tryItKeys()).toHaveLength(0);
    });

    it('refuses a management token without the manage scope (403 insufficient_scope)', async () => {
      const res = await api
        .req()
        .post(`/v1/orgs/${t.org.slug}/tokens`)
        .set(t.owner.auth)
        .send({ name: uniq('sa'), scopes: ['read'] })
        .expect(201);
      const refused = await tryIt({ tool: 'echo', arguments: { message: 'hi' }, as: asRole() }, bearer(res.body.token));
      expectProblem(refused, 403, 'insufficient_scope');
      expect(await tryItKeys()).toHaveLength(0);
    });
  });

  describe('bad input', () => {
    it('names the field: unknown tool, unparsable or non-object raw arguments, unknown role or key', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ tool: 'nope', as: asRole() }, 'tool', /"nope" is not a tool of this server/],
        [{ tool: 'echo', arguments: '{"message": ', as: asRole() }, 'arguments', /is not valid JSON/],
        [{ tool: 'echo', arguments: '[1, 2]', as: asRole() }, 'arguments', /must be a JSON object/],
        [{ tool: 'echo', arguments: 42, as: asRole() }, 'arguments', /object or the text of a JSON object/],
        [{ tool: 'echo', as: { kind: 'role', roleId: '00000000-0000-4000-8000-000000000000' } }, 'as.roleId', /no such role/],
        [{ tool: 'echo', as: { kind: 'key', keyId: '00000000-0000-4000-8000-000000000000' } }, 'as.keyId', /no active agent key/],
        [{ tool: 'echo', as: { kind: 'person' } }, 'as', /must be/],
        [{ tool: 'echo', as: asRole(), extra: 1 }, '', /unknown field/],
      ];
      for (const [body, path, message] of cases) {
        const res = await tryIt(body);
        expectProblem(res, 400, 'validation_failed');
        expect(res.body.errors).toEqual(
          expect.arrayContaining([{ path: expect.stringMatching(new RegExp(`^${path}`)), message: expect.stringMatching(message) }]),
        );
      }
      expect(await tryItKeys()).toHaveLength(0);
    });

    it('a server without a catalogue asks for a probe; a disabled one to be enabled (409)', async () => {
      const bare = await api
        .req()
        .post(`/v1/orgs/${t.org.slug}/servers`)
        .set(t.owner.auth)
        .send({ slug: uniq('bare'), name: 'Bare', transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' })
        .expect(201);
      const noCatalog = await tryIt({ tool: 'echo', as: asRole() }, t.owner.auth, tryUrl(bare.body.id));
      expectProblem(noCatalog, 409, 'conflict');
      expect(noCatalog.body.detail).toMatch(/probe it first/);

      await api.prisma.db.mcpServer.update({ where: { id: bare.body.id }, data: { catalog: CATALOG, enabled: false } });
      const disabled = await tryIt({ tool: 'echo', as: asRole() }, t.owner.auth, tryUrl(bare.body.id));
      expectProblem(disabled, 409, 'conflict');
      expect(disabled.body.detail).toMatch(/disabled/);
      expect(await tryItKeys()).toHaveLength(0);
    });

    it('a key that is revoked cannot be tried as (400 on as.keyId)', async () => {
      const k = await api
        .req()
        .post(`/v1/orgs/${t.org.slug}/keys`)
        .set(t.owner.auth)
        .send({ name: uniq('gone') })
        .expect(201);
      await api.req().delete(`/v1/orgs/${t.org.slug}/keys/${k.body.id}`).set(t.owner.auth).expect(204);
      const res = await tryIt({ tool: 'echo', as: { kind: 'key', keyId: k.body.id } });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors[0].path).toBe('as.keyId');
    });
  });

  describe('the temporary key', () => {
    it('gateway down: 503 gateway_unavailable; the key had the role, is revoked and gone from the snapshot, attributed to the admin', async () => {
      const res = await tryIt({ tool: 'echo', arguments: '{"message":"hi"}', as: asRole() }, t.admin.auth);
      expectProblem(res, 503, 'gateway_unavailable');
      expect(res.body.detail).toMatch(/unreachable/);

      const [key] = await tryItKeys();
      expect(key).toBeDefined();
      expect(key!.roles.map((r) => r.roleId)).toEqual([roleId]);
      expect(key!.name).toContain(t.admin.email);
      expect(key!.createdById).toBe(t.admin.id);
      expect(key!.revokedAt).not.toBeNull();
      // Minted for minutes, not for ever, in case the revocation is lost.
      expect(key!.expiresAt!.getTime() - key!.createdAt.getTime()).toBeLessThanOrEqual(5 * 60_000);
      // The gateway learns keys only from the snapshot: a revoked key is not in it, so it is refused.
      expect((await redisSnapshot(t.org.id)).keys.map((k) => k.id)).not.toContain(key!.id);

      const tried = await api.prisma.db.activityLog.findMany({ where: { orgId: t.org.id, action: 'server.tried' } });
      expect(tried).toHaveLength(1);
      expect(tried[0]).toMatchObject({ actorId: t.admin.id, targetId: serverId });
      expect(tried[0]!.after).toMatchObject({ tool: 'echo', keyId: key!.id });
    });

    it('as an existing key: carries that key’s roles and metadata', async () => {
      const source = await api
        .req()
        .post(`/v1/orgs/${t.org.slug}/keys`)
        .set(t.owner.auth)
        .send({ name: uniq('support'), roleIds: [roleId], metadata: { customer_id: 'c-42' } })
        .expect(201);
      const before = new Set((await tryItKeys()).map((k) => k.id));
      expectProblem(await tryIt({ tool: 'echo', arguments: { message: 'hi' }, as: { kind: 'key', keyId: source.body.id } }), 503);
      const minted = (await tryItKeys()).filter((k) => !before.has(k.id));
      expect(minted).toHaveLength(1);
      expect(minted[0]!.roles.map((r) => r.roleId)).toEqual([roleId]);
      expect(minted[0]!.metadata).toEqual({ customer_id: 'c-42' });
      expect(minted[0]!.name).toContain(source.body.name);
    });

    it('is not listed with the agent keys and can be neither edited nor rotated', async () => {
      const [key] = await tryItKeys();
      const list = await api.req().get(`/v1/orgs/${t.org.slug}/keys?status=all`).set(t.owner.auth).expect(200);
      expect(list.body.items.every((k: { kind: string }) => k.kind === 'agent')).toBe(true);
      expect(list.body.items.map((k: { id: string }) => k.id)).not.toContain(key!.id);
      // Still readable by id, so the audit entry it made can name it.
      const one = await api.req().get(`/v1/orgs/${t.org.slug}/keys/${key!.id}`).set(t.owner.auth).expect(200);
      expect(one.body).toMatchObject({ kind: 'try_it', status: 'revoked' });

      // Even while it is live (made so here by hand), it cannot be turned into a key someone holds.
      await api.prisma.db.apiKey.update({ where: { id: key!.id }, data: { revokedAt: null } });
      try {
        const patch = await api.req().patch(`/v1/orgs/${t.org.slug}/keys/${key!.id}`).set(t.owner.auth).send({ name: 'mine now' });
        expectProblem(patch, 409, 'conflict');
        const rotate = await api.req().post(`/v1/orgs/${t.org.slug}/keys/${key!.id}/rotate`).set(t.owner.auth).send({});
        expectProblem(rotate, 409, 'conflict');
        expect(rotate.body.detail).toMatch(/Try it/);
      } finally {
        await api.prisma.db.apiKey.update({ where: { id: key!.id }, data: { revokedAt: new Date() } });
      }
    });
  });
});
