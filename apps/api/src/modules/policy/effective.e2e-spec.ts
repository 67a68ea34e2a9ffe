import { EffectivePolicy } from '@toolgate/contracts';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser } from '../../../test/harness';
import { addMember, createRole, insertKey, insertServer, recompile } from '../roles/roles.test-fixtures';

/** What a probe stores on the server row (see servers.repository recordProbe). */
const catalog = (tools: string[]) => ({
  protocolVersion: '2025-06-18',
  serverInfo: { name: 'stand-in', version: '1.0.0' },
  capabilities: { tools: {} },
  instructions: null,
  tools: tools.map((name) => ({ name, description: `does ${name}`, inputSchema: { type: 'object' } })),
  prompts: [{ name: 'greet' }],
  resources: [],
  resourceTemplates: [],
});

describe('GET /v1/orgs/:org/keys/:id/effective', () => {
  let api: Api;
  let owner: TestUser;
  let member: TestUser;
  let org: { id: string; slug: string };
  let roleId: string;
  beforeAll(async () => {
    api = await startApi();
    owner = await signup(api, 'eff-owner');
    member = await signup(api, 'eff-member');
    org = await createOrg(api, owner);
    await addMember(api, org.id, member, 'member');
    const srv = await insertServer(api, org.id, 'srv');
    await api.prisma.db.mcpServer.update({
      where: { id: srv.id },
      data: { catalog: catalog(['a1', 'ab', 'b', 'c']) as never, catalogFetchedAt: new Date(), lastProbeAt: new Date() },
    });
    await insertServer(api, org.id, 'unprobed');
    const off = await insertServer(api, org.id, 'off');
    await api.prisma.db.mcpServer.update({ where: { id: off.id }, data: { enabled: false, catalog: catalog(['a1']) as never } });
    const role = await createRole(api, org.slug, owner, 'dev', {
      tools: [
        { effect: 'allow', match: 'srv__b', constraints: { path: { pattern: '^/tmp/' } } },
        { effect: 'allow', match: 'srv__a*' },
        { effect: 'deny', match: 'srv__ab' },
      ],
    });
    roleId = role.id;
  });
  afterAll(() => api.close());

  const get = (keyId: string, user: TestUser = member, slug = org.slug) =>
    api.req().get(`/v1/orgs/${slug}/keys/${keyId}/effective`).set(user.auth);

  it('lists each enabled server’s catalogue with the decision and the deciding rule', async () => {
    const key = await insertKey(api, org.id, { roleIds: [roleId] });
    await recompile(api, org.id);
    const res = await get(key.id).expect(200);
    const body = EffectivePolicy.parse(res.body);
    expect(body).toMatchObject({ keyId: key.id, status: 'active' });
    expect(body.servers.map((s) => s.slug)).toEqual(['srv', 'unprobed']);
    const [srv, unprobed] = body.servers;
    expect(unprobed).toMatchObject({ catalogFetchedAt: null, tools: [], prompts: [], resources: [] });
    expect(srv?.catalogFetchedAt).toEqual(expect.any(String));
    expect(srv?.tools).toEqual([
      {
        name: 'a1',
        description: 'does a1',
        access: 'allowed',
        reason: 'allowed by role:dev/tools[1]',
        rule: 'role:dev/tools[1]',
        constraints: null,
      },
      {
        name: 'ab',
        description: 'does ab',
        access: 'denied',
        reason: 'tool "srv__ab" is denied by role:dev/tools[2]',
        rule: 'role:dev/tools[2]',
        constraints: null,
      },
      // Called without arguments the constraint fails; with a matching `path` it would pass.
      expect.objectContaining({
        name: 'b',
        access: 'constrained',
        rule: 'role:dev/tools[0]',
        constraints: { path: { pattern: '^/tmp/' } },
      }),
      { name: 'c', description: 'does c', access: 'denied', reason: 'no rule allows tool "srv__c"', rule: null, constraints: null },
    ]);
    expect(srv?.prompts).toEqual([expect.objectContaining({ name: 'greet', access: 'denied', rule: null })]);
  });

  it('denies everything to a key without roles', async () => {
    const key = await insertKey(api, org.id, { roleIds: [] });
    await recompile(api, org.id);
    const body = EffectivePolicy.parse((await get(key.id).expect(200)).body);
    const tools = body.servers.flatMap((s) => s.tools);
    expect(tools).toHaveLength(4);
    for (const t of tools) expect(t).toMatchObject({ access: 'denied', reason: 'the key has no roles', rule: null });
  });

  it('answers a revoked or expired key with its status and nothing to call', async () => {
    const revoked = await insertKey(api, org.id, { roleIds: [roleId], revokedAt: new Date() });
    const expired = await insertKey(api, org.id, { roleIds: [roleId], expiresAt: new Date(Date.now() - 1000) });
    await recompile(api, org.id);
    expect((await get(revoked.id).expect(200)).body).toMatchObject({ status: 'revoked', servers: [] });
    expect((await get(expired.id).expect(200)).body).toMatchObject({ status: 'expired', servers: [] });
  });

  it('404s another org’s key, unknown ids and strangers', async () => {
    const other = await createOrg(api, owner);
    const foreign = await insertKey(api, other.id, { roleIds: [] });
    expectProblem(await get(foreign.id), 404, 'not_found');
    expectProblem(await get('00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectProblem(await get('nope'), 404, 'not_found');
    const stranger = await signup(api, 'eff-stranger');
    const mine = await insertKey(api, org.id, { roleIds: [] });
    expectProblem(await get(mine.id, stranger), 404, 'not_found');
  });
});
