// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${key.metadata.*}` references are literal rule values here.
import { randomUUID } from 'node:crypto';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser } from '../../../test/harness';
import { addMember, createRole, insertKey, insertServer, recompile } from '../roles/roles.test-fixtures';

type Org = { id: string; slug: string };

describe('policy simulator', () => {
  let api: Api;
  let owner: TestUser;
  beforeAll(async () => {
    api = await startApi();
    owner = await signup(api, 'owner');
  });
  afterAll(() => api.close());

  const simulate = (org: string, body: Record<string, unknown>, user: TestUser = owner) =>
    api.req().post(`/v1/orgs/${org}/policy/simulate`).set(user.auth).send(body);

  /** A fresh org with servers `github`, `crm` and `files`. */
  async function orgWithServers(): Promise<Org> {
    const org = await createOrg(api, owner);
    for (const slug of ['github', 'crm', 'files']) await insertServer(api, org.id, slug);
    return org;
  }

  /** A key holding `roleIds`, already compiled into the org's snapshot. */
  async function keyWith(org: Org, roleIds: string[], extra: Parameters<typeof insertKey>[2] = {}) {
    const key = await insertKey(api, org.id, { roleIds, ...extra });
    await recompile(api, org.id);
    return key;
  }

  it('denies by default, naming no rule', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'reader', { tools: [{ effect: 'allow', match: 'github__read_*' }] });
    const key = await keyWith(org, [role.id], { name: 'ci' });
    const res = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__delete_repo' }).expect(200);
    const version = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id } })).snapshotVersion;
    expect(res.body).toEqual({
      allowed: false,
      effect: 'deny',
      reason: 'no rule allows tool "github__delete_repo"',
      rule: null,
      snapshotVersion: version,
      key: { id: key.id, name: 'ci', roles: [{ id: role.id, name: 'reader' }] },
      request: { kind: 'tool', server: 'github', name: 'delete_repo' },
      warnings: [],
    });

    const roleless = await keyWith(org, []);
    const none = await simulate(org.slug, { keyId: roleless.id, method: 'tools/call', name: 'github__read_file' }).expect(200);
    expect(none.body).toMatchObject({ allowed: false, reason: 'the key has no roles', rule: null, key: { roles: [] } });
  });

  it('allows via a glob and names the rule, for namespaced and separate server names alike', async () => {
    const org = await orgWithServers();
    const filler = await createRole(api, org.slug, owner, 'filler', { prompts: [{ effect: 'allow', match: 'x__y' }] });
    const role = await createRole(api, org.slug, owner, 'reader', {
      tools: [
        { effect: 'allow', match: 'crm__*' },
        { effect: 'allow', match: 'github__read_*' },
      ],
    });
    const key = await keyWith(org, [filler.id, role.id]);
    const rule = { roleId: role.id, roleName: 'reader', path: 'tools[1]', label: 'role:reader/tools[1]' };

    const namespaced = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__read_file' }).expect(200);
    expect(namespaced.body).toMatchObject({ allowed: true, effect: 'allow', reason: 'allowed by role:reader/tools[1]', rule });

    const separate = await simulate(org.slug, { keyId: key.id, method: 'tools/call', server: 'github', name: 'read_file' }).expect(200);
    expect(separate.body).toMatchObject({ allowed: true, rule, request: { kind: 'tool', server: 'github', name: 'read_file' } });

    // The first `__` splits: tool names may contain `__` themselves.
    const dunder = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__read__raw' }).expect(200);
    expect(dunder.body).toMatchObject({ allowed: true, request: { server: 'github', name: 'read__raw' } });

    // A doubled prefix is taken literally (and pointed out).
    const doubled = await simulate(org.slug, { keyId: key.id, method: 'tools/call', server: 'github', name: 'github__read_file' }).expect(
      200,
    );
    expect(doubled.body.allowed).toBe(false);
    expect(doubled.body.warnings).toEqual([expect.stringContaining('repeats the server prefix')]);
  });

  it('lets a deny in one role beat an allow in another', async () => {
    const org = await orgWithServers();
    const broad = await createRole(api, org.slug, owner, 'broad', { tools: [{ effect: 'allow', match: 'github__*' }] });
    const guard = await createRole(api, org.slug, owner, 'guard', {
      tools: [
        { effect: 'allow', match: 'crm__*' },
        { effect: 'deny', match: 'github__delete_*' },
      ],
    });
    const key = await keyWith(org, [broad.id, guard.id]);
    const denied = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__delete_repo' }).expect(200);
    expect(denied.body).toMatchObject({
      allowed: false,
      effect: 'deny',
      reason: 'tool "github__delete_repo" is denied by role:guard/tools[1]',
      rule: { roleId: guard.id, roleName: 'guard', path: 'tools[1]', label: 'role:guard/tools[1]' },
    });
    const allowed = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__create_issue' }).expect(200);
    expect(allowed.body).toMatchObject({ allowed: true, rule: { roleName: 'broad', path: 'tools[0]' } });
  });

  it('checks parameter constraints against the key metadata, naming the rule and the argument', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'support', {
      tools: [{ effect: 'allow', match: 'crm__get_*', constraints: { customer_id: { equals: '${key.metadata.customer_id}' } } }],
    });
    const key = await keyWith(org, [role.id], { metadata: { customer_id: 'c_42' } });
    const call = (args?: Record<string, unknown>) =>
      simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'crm__get_orders', ...(args ? { arguments: args } : {}) }).expect(
        200,
      );

    expect((await call({ customer_id: 'c_42', limit: 5 })).body).toMatchObject({
      allowed: true,
      rule: { roleName: 'support', path: 'tools[0]', label: 'role:support/tools[0]' },
    });
    const other = (await call({ customer_id: 'c_7' })).body;
    expect(other).toMatchObject({
      allowed: false,
      effect: 'deny',
      reason: 'argument "customer_id" must equal "c_42"',
      rule: { roleId: role.id, roleName: 'support', path: 'tools[0]', label: 'role:support/tools[0]' },
    });
    expect((await call()).body).toMatchObject({ allowed: false, reason: 'argument "customer_id" is required', rule: { path: 'tools[0]' } });

    // A key without that metadata matches nothing.
    const bare = await keyWith(org, [role.id]);
    const unset = await simulate(org.slug, {
      keyId: bare.id,
      method: 'tools/call',
      name: 'crm__get_orders',
      arguments: { customer_id: '${key.metadata.customer_id}' },
    }).expect(200);
    expect(unset.body).toMatchObject({ allowed: false, reason: expect.stringContaining('not set on this key') });
  });

  it('enforces ip allow-lists with the given client ip', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'office', {
      tools: [{ effect: 'allow', match: '*' }],
      ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
    });
    const key = await keyWith(org, [role.id]);
    const call = (ip?: string) =>
      simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__read_file', ...(ip ? { ip } : {}) }).expect(200);

    expect((await call('10.20.30.40')).body).toMatchObject({ allowed: true, rule: { path: 'tools[0]' } });
    expect((await call('2001:db8::7')).body).toMatchObject({ allowed: true });
    expect((await call('192.168.1.1')).body).toMatchObject({
      allowed: false,
      reason: 'client ip 192.168.1.1 is not in an allowed range (role:office/ipAllow)',
      rule: { roleId: role.id, roleName: 'office', path: 'ipAllow', label: 'role:office/ipAllow' },
    });
    expect((await call()).body).toMatchObject({ allowed: false, reason: expect.stringContaining('client ip is unknown') });
  });

  it('answers a decision, not an error, for revoked and expired keys', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'all', { tools: [{ effect: 'allow', match: '*' }] });
    const key = await keyWith(org, [role.id], { name: 'soon-revoked' });
    expect((await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__x' }).expect(200)).body.allowed).toBe(true);

    await api.prisma.db.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
    await recompile(api, org.id);
    const revoked = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'github__x' }).expect(200);
    expect(revoked.body).toMatchObject({
      allowed: false,
      effect: 'deny',
      reason: 'the key is revoked or unknown',
      rule: null,
      key: { id: key.id, name: 'soon-revoked', roles: [{ id: role.id, name: 'all' }] },
    });

    const expired = await keyWith(org, [role.id], { expiresAt: new Date(Date.now() - 60_000) });
    const res = await simulate(org.slug, { keyId: expired.id, method: 'tools/call', name: 'github__x' }).expect(200);
    expect(res.body).toMatchObject({ allowed: false, effect: 'deny', reason: 'the key has expired', rule: null });

    const later = await keyWith(org, [role.id], { expiresAt: new Date(Date.now() + 3_600_000) });
    expect((await simulate(org.slug, { keyId: later.id, method: 'tools/call', name: 'github__x' }).expect(200)).body.allowed).toBe(true);
  });

  it('reflects a role edit immediately (the snapshot is recompiled)', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'evolving', { tools: [{ effect: 'allow', match: 'github__read_*' }] });
    const key = await keyWith(org, [role.id]);
    const body = { keyId: key.id, method: 'tools/call', name: 'github__merge_pr' };
    const before = await simulate(org.slug, body).expect(200);
    expect(before.body.allowed).toBe(false);

    await api
      .req()
      .put(`/v1/orgs/${org.slug}/roles/${role.id}`)
      .set(owner.auth)
      .send({ name: 'evolving', rules: { tools: [{ effect: 'allow', match: 'github__*' }] } })
      .expect(200);
    const after = await simulate(org.slug, body).expect(200);
    expect(after.body).toMatchObject({ allowed: true, rule: { path: 'tools[0]' } });
    expect(after.body.snapshotVersion).toBe(before.body.snapshotVersion + 1);

    // Deleting the role (forced) leaves the key with no roles.
    await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}?force=true`).set(owner.auth).expect(204);
    const gone = await simulate(org.slug, body).expect(200);
    expect(gone.body).toMatchObject({ allowed: false, reason: 'the key has no roles', key: { roles: [] } });
  });

  it('simulates prompts and resources', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'docs', {
      prompts: [{ effect: 'allow', match: 'github__summarize_*' }],
      resources: [
        { effect: 'deny', server: 'files', uri: 'file:///repo/.env*' },
        { effect: 'allow', server: 'files', uri: 'file:///repo/*' },
      ],
    });
    const key = await keyWith(org, [role.id]);

    const prompt = await simulate(org.slug, { keyId: key.id, method: 'prompts/get', name: 'github__summarize_pr' }).expect(200);
    expect(prompt.body).toMatchObject({
      allowed: true,
      rule: { path: 'prompts[0]' },
      request: { kind: 'prompt', server: 'github', name: 'summarize_pr' },
    });

    const read = (server: string, name: string) =>
      simulate(org.slug, { keyId: key.id, method: 'resources/read', server, name }).expect(200);
    expect((await read('files', 'file:///repo/README.md')).body).toMatchObject({
      allowed: true,
      rule: { label: 'role:docs/resources[1]' },
      request: { kind: 'resource', server: 'files', name: 'file:///repo/README.md' },
      warnings: [],
    });
    expect((await read('files', 'file:///repo/.env.local')).body).toMatchObject({ allowed: false, rule: { path: 'resources[0]' } });
    // A URI with `__` is not split: resources are addressed by server + URI.
    expect((await read('github', 'file:///repo/a__b')).body).toMatchObject({
      allowed: false,
      rule: null,
      request: { server: 'github', name: 'file:///repo/a__b' },
    });
  });

  it('still decides for an unknown server slug, with a warning', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'wild', { tools: [{ effect: 'allow', match: '*__search' }] });
    const key = await keyWith(org, [role.id]);
    const res = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'jira__search' }).expect(200);
    expect(res.body).toMatchObject({ allowed: true, warnings: [expect.stringMatching(/^no server with slug "jira"/)] });
    const denied = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'jira__create' }).expect(200);
    expect(denied.body).toMatchObject({ allowed: false, rule: null, warnings: [expect.stringMatching(/^no server with slug "jira"/)] });

    // A disabled server is not in the snapshot either.
    await api.prisma.db.mcpServer.updateMany({ where: { orgId: org.id, slug: 'crm' }, data: { enabled: false } });
    await recompile(api, org.id);
    const disabled = await simulate(org.slug, { keyId: key.id, method: 'tools/call', name: 'crm__search' }).expect(200);
    expect(disabled.body.warnings).toEqual([expect.stringMatching(/^no server with slug "crm"/)]);
  });

  it('validates the request', async () => {
    const org = await orgWithServers();
    const key = await keyWith(org, []);
    const paths = async (body: Record<string, unknown>) => {
      const res = await simulate(org.slug, body);
      expectProblem(res, 400, 'validation_failed');
      return res.body.errors.map((e: { path: string }) => e.path);
    };
    expect(await paths({ keyId: 'nope', method: 'tools/call', name: 'github__x' })).toEqual(['keyId']);
    expect(await paths({ keyId: key.id, method: 'tools/list', name: 'github__x' })).toEqual(['method']);
    expect(await paths({ keyId: key.id, method: 'tools/call', name: '' })).toEqual(['name']);
    for (const name of ['read_file', '__read_file', 'github__']) {
      expect(await paths({ keyId: key.id, method: 'tools/call', name })).toEqual(['name']);
    }
    expect(await paths({ keyId: key.id, method: 'prompts/get', name: 'summarize' })).toEqual(['name']);
    expect(await paths({ keyId: key.id, method: 'resources/read', name: 'file:///x' })).toEqual(['server']);
    expect(await paths({ keyId: key.id, method: 'tools/call', name: 'github__x', ip: '10.0.0.300' })).toEqual(['ip']);
    expect(await paths({ keyId: key.id, method: 'tools/call', name: 'github__x', arguments: [1] })).toEqual(['arguments']);
    expect(await paths({ keyId: key.id, method: 'tools/call', name: 'github__x', extra: true })).toEqual(['']);
    expect((await paths({})).sort()).toEqual(['keyId', 'method', 'name']);
  });

  it('answers 404 for an unknown key or a key of another org', async () => {
    const org = await orgWithServers();
    const stranger = await signup(api, 'stranger');
    const theirs = await createOrg(api, stranger);
    const theirRole = await createRole(api, theirs.slug, stranger, 'all', { tools: [{ effect: 'allow', match: '*' }] });
    const theirKey = await keyWith(theirs, [theirRole.id]);

    expectProblem(await simulate(org.slug, { keyId: theirKey.id, method: 'tools/call', name: 'github__x' }), 404, 'not_found');
    expectProblem(await simulate(org.slug, { keyId: randomUUID(), method: 'tools/call', name: 'github__x' }), 404, 'not_found');
    // Nor can a non-member simulate against their org.
    expectProblem(await simulate(theirs.slug, { keyId: theirKey.id, method: 'tools/call', name: 'github__x' }), 404, 'not_found');
  });

  it('is open to owners, admins and members; billing gets 403, non-members 404', async () => {
    const org = await orgWithServers();
    const role = await createRole(api, org.slug, owner, 'all', { tools: [{ effect: 'allow', match: '*' }] });
    const key = await keyWith(org, [role.id]);
    const [admin, member, billing, stranger] = await Promise.all(['admin', 'member', 'billing', 'stranger'].map((n) => signup(api, n)));
    await addMember(api, org.id, admin!, 'admin');
    await addMember(api, org.id, member!, 'member');
    await addMember(api, org.id, billing!, 'billing');
    const body = { keyId: key.id, method: 'tools/call', name: 'github__x' };
    for (const u of [owner, admin!, member!]) {
      expect((await simulate(org.slug, body, u).expect(200)).body.allowed).toBe(true);
    }
    expectProblem(await simulate(org.slug, body, billing!), 403, 'forbidden');
    expectProblem(await simulate(org.slug, body, stranger!), 404, 'not_found');
    expectProblem(await api.req().post(`/v1/orgs/${org.slug}/policy/simulate`).send(body), 401, 'unauthenticated');

    // A simulation is a read: no activity entry, no new snapshot.
    const version = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id } })).snapshotVersion;
    const logged = await api.prisma.db.activityLog.count({ where: { orgId: org.id } });
    await simulate(org.slug, body).expect(200);
    expect((await api.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id } })).snapshotVersion).toBe(version);
    expect(await api.prisma.db.activityLog.count({ where: { orgId: org.id } })).toBe(logged);
  });

  describe('a draft role (unsaved rules, no key)', () => {
    const draftCall = (org: string, draft: Record<string, unknown>, call: Record<string, unknown>, user: TestUser = owner) =>
      simulate(org, { draft, method: 'tools/call', ...call }, user);

    it('decides with the draft’s rules alone, labelled with its name, and stores nothing', async () => {
      const org = await orgWithServers();
      // A saved role that allows everything must not leak into the draft's decision.
      await createRole(api, org.slug, owner, 'everything', { tools: [{ effect: 'allow', match: '*' }] });
      const draft = {
        name: 'support',
        rules: {
          tools: [
            { effect: 'allow', match: 'crm__get_*', constraints: { customer_id: { equals: '${key.metadata.customer_id}' } } },
            { effect: 'deny', match: 'crm__get_secrets' },
          ],
        },
        metadata: { customer_id: 'c_42' },
      };
      const version = (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id } })).snapshotVersion;
      const roles = await api.prisma.db.role.count({ where: { orgId: org.id } });

      const ok = await draftCall(org.slug, draft, { name: 'crm__get_orders', arguments: { customer_id: 'c_42' } }).expect(200);
      expect(ok.body).toEqual({
        allowed: true,
        effect: 'allow',
        reason: 'allowed by role:support/tools[0]',
        rule: { roleId: null, roleName: 'support', path: 'tools[0]', label: 'role:support/tools[0]' },
        snapshotVersion: version,
        key: null,
        draft: true,
        request: { kind: 'tool', server: 'crm', name: 'get_orders' },
        warnings: [],
      });
      const other = await draftCall(org.slug, draft, { name: 'crm__get_orders', arguments: { customer_id: 'c_7' } }).expect(200);
      expect(other.body).toMatchObject({ allowed: false, reason: 'argument "customer_id" must equal "c_42"', rule: { path: 'tools[0]' } });
      const denied = await draftCall(org.slug, draft, { name: 'crm__get_secrets', arguments: { customer_id: 'c_42' } }).expect(200);
      expect(denied.body).toMatchObject({ allowed: false, rule: { label: 'role:support/tools[1]' } });
      const none = await draftCall(org.slug, draft, { name: 'github__read_file' }).expect(200);
      expect(none.body).toMatchObject({ allowed: false, reason: 'no rule allows tool "github__read_file"', rule: null });
      // Without a name the rules are labelled as the draft's; an unknown server is pointed out.
      const unnamed = await draftCall(
        org.slug,
        { rules: { tools: [{ effect: 'allow', match: '*__search' }] } },
        { name: 'jira__search' },
      ).expect(200);
      expect(unnamed.body).toMatchObject({
        allowed: true,
        rule: { label: 'role:draft/tools[0]' },
        warnings: [expect.stringMatching(/^no server/)],
      });

      expect((await api.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id } })).snapshotVersion).toBe(version);
      expect(await api.prisma.db.role.count({ where: { orgId: org.id } })).toBe(roles);
    });

    it('refuses invalid draft rules with the same messages as saving a role, and needs exactly one of keyId and draft', async () => {
      const org = await orgWithServers();
      const key = await keyWith(org, []);
      const rules = { tools: [{ effect: 'permit', match: 'crm__x' }], rateLimits: [{ scope: 'key', perMinute: -5 }] };
      const sim = await draftCall(org.slug, { rules }, { name: 'crm__x' });
      expectProblem(sim, 400, 'validation_failed');
      const saved = await api.req().post(`/v1/orgs/${org.slug}/roles`).set(owner.auth).send({ name: 'x', rules });
      expectProblem(saved, 400, 'validation_failed');
      const strip = (errors: { path: string; message: string }[], prefix: string) =>
        errors.map((e) => ({ path: e.path.slice(prefix.length), message: e.message }));
      expect(strip(sim.body.errors, 'draft.')).toEqual(strip(saved.body.errors, ''));
      expect(sim.body.errors.map((e: { path: string }) => e.path)).toEqual([
        'draft.rules.tools.0.effect',
        'draft.rules.rateLimits.0.perMinute',
      ]);

      const deny = await draftCall(
        org.slug,
        { rules: { tools: [{ effect: 'deny', match: 'a__b', constraints: { x: { equals: 1 } } }] } },
        { name: 'a__b' },
      );
      expect(deny.body.errors).toEqual([
        { path: 'draft.rules.tools.0.constraints', message: expect.stringContaining('only apply to allow rules') },
      ]);
      const meta = await draftCall(org.slug, { rules: {}, metadata: { 'bad key!': 1 } }, { name: 'a__b' });
      expectProblem(meta, 400, 'validation_failed');
      expect(meta.body.errors[0].path).toMatch(/^draft\.metadata/);

      const both = await simulate(org.slug, { keyId: key.id, draft: { rules: {} }, method: 'tools/call', name: 'a__b' });
      expect(both.body.errors).toEqual([{ path: 'draft', message: expect.stringContaining('not both') }]);
      const neither = await simulate(org.slug, { method: 'tools/call', name: 'a__b' });
      expect(neither.body.errors).toEqual([{ path: 'keyId', message: 'is required unless a draft role is given' }]);
    });

    it('is a read like any simulation: members may, billing gets 403, strangers 404', async () => {
      const org = await orgWithServers();
      const [member, billing, stranger] = await Promise.all(['member', 'billing', 'stranger'].map((n) => signup(api, n)));
      await addMember(api, org.id, member!, 'member');
      await addMember(api, org.id, billing!, 'billing');
      const draft = { rules: { tools: [{ effect: 'allow', match: 'github__*' }] } };
      expect((await draftCall(org.slug, draft, { name: 'github__x' }, member!).expect(200)).body.allowed).toBe(true);
      expectProblem(await draftCall(org.slug, draft, { name: 'github__x' }, billing!), 403, 'forbidden');
      expectProblem(await draftCall(org.slug, draft, { name: 'github__x' }, stranger!), 404, 'not_found');
    });
  });
});
