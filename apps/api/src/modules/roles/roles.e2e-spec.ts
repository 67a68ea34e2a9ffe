// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${key.metadata.*}` references are literal rule values here.
import { randomUUID } from 'node:crypto';
import { PolicySnapshot, redisKeys } from '@toolgate/contracts';
import { type Api, createOrg, expectProblem, signup, startApi, type TestUser } from '../../../test/harness';
import { addMember, createRole, insertKey, recompile } from './roles.test-fixtures';

/** The RoleRules defaults every stored role carries. */
const EMPTY_RULES = { tools: [], prompts: [], resources: [], rateLimits: [], redact: [], ipAllow: [] };

const SUPPORT_RULES = {
  tools: [
    { effect: 'allow', match: 'crm__*', constraints: { customer_id: { equals: '${key.metadata.customer_id}' } } },
    { effect: 'deny', match: 'crm__delete_*' },
  ],
  ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
};

type FieldError = { path: string; message: string };
const errorsOf = (body: { errors?: FieldError[] }) => body.errors ?? [];

describe('roles', () => {
  let api: Api;
  let owner: TestUser;
  beforeAll(async () => {
    api = await startApi();
    owner = await signup(api, 'owner');
  });
  afterAll(() => api.close());

  const post = (org: string, user: TestUser, body: unknown) =>
    api
      .req()
      .post(`/v1/orgs/${org}/roles`)
      .set(user.auth)
      .send(body as object);
  const activity = async (org: string, action: string) =>
    (await api.req().get(`/v1/orgs/${org}/activity`).query({ action }).set(owner.auth).expect(200)).body.items;
  const redisSnapshot = async (orgId: string) => PolicySnapshot.parse(JSON.parse((await api.redis.client.get(redisKeys.snapshot(orgId)))!));

  describe('CRUD', () => {
    it('creates a role, stores the normalised rules, logs it and recompiles the snapshot', async () => {
      const org = await createOrg(api, owner);
      const res = await post(org.slug, owner, { name: 'support', description: 'Support agents', rules: SUPPORT_RULES }).expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        name: 'support',
        description: 'Support agents',
        rules: { ...EMPTY_RULES, ...SUPPORT_RULES },
        keyCount: 0,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });

      const [entry] = await activity(org.slug, 'role.created');
      expect(entry).toMatchObject({
        actorId: owner.id,
        targetType: 'role',
        targetId: res.body.id,
        before: null,
        after: { name: 'support', description: 'Support agents', rules: { ...EMPTY_RULES, ...SUPPORT_RULES } },
      });

      const snapshot = await redisSnapshot(org.id);
      expect(snapshot.version).toBe(2);
      expect(snapshot.roles).toEqual([{ id: res.body.id, name: 'support', rules: { ...EMPTY_RULES, ...SUPPORT_RULES } }]);
    });

    it('lists roles by name and reads one by id', async () => {
      const org = await createOrg(api, owner);
      const b = await createRole(api, org.slug, owner, 'billing-bot', {});
      const a = await createRole(api, org.slug, owner, 'analyst', { tools: [{ effect: 'allow', match: '*__read_*' }] });
      const list = await api.req().get(`/v1/orgs/${org.slug}/roles`).set(owner.auth).expect(200);
      expect(list.body.items.map((r: { id: string }) => r.id)).toEqual([a.id, b.id]);
      const one = await api.req().get(`/v1/orgs/${org.id}/roles/${a.id}`).set(owner.auth).expect(200);
      expect(one.body).toMatchObject({ id: a.id, name: 'analyst', description: null, keyCount: 0 });
      expect(one.body.rules.tools).toEqual([{ effect: 'allow', match: '*__read_*' }]);
    });

    it('replaces a role in full with PUT, logs before/after and recompiles', async () => {
      const org = await createOrg(api, owner);
      const role = await createRole(api, org.slug, owner, 'ops', { tools: [{ effect: 'allow', match: 'k8s__*' }] }, 'Operators');
      const rules = { prompts: [{ effect: 'allow', match: 'k8s__runbook' }] };
      const res = await api
        .req()
        .put(`/v1/orgs/${org.slug}/roles/${role.id}`)
        .set(owner.auth)
        .send({ name: 'operators', rules })
        .expect(200);
      // Full replace: the omitted description is cleared and the old tool rules are gone.
      expect(res.body).toMatchObject({ id: role.id, name: 'operators', description: null, rules: { ...EMPTY_RULES, ...rules } });

      const [entry] = await activity(org.slug, 'role.updated');
      expect(entry).toMatchObject({
        targetId: role.id,
        before: { name: 'ops', description: 'Operators', rules: { ...EMPTY_RULES, tools: [{ effect: 'allow', match: 'k8s__*' }] } },
        after: { name: 'operators', description: null, rules: { ...EMPTY_RULES, ...rules } },
      });
      const snapshot = await redisSnapshot(org.id);
      expect(snapshot.roles).toEqual([{ id: role.id, name: 'operators', rules: { ...EMPTY_RULES, ...rules } }]);

      // Keeping its own name is not a conflict.
      await api.req().put(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth).send({ name: 'operators', rules: {} }).expect(200);
    });

    it('deletes a role, logs it and removes it from the snapshot', async () => {
      const org = await createOrg(api, owner);
      const role = await createRole(api, org.slug, owner, 'temp', { tools: [{ effect: 'allow', match: '*' }] });
      await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth).expect(204);
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth), 404, 'not_found');
      expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth), 404, 'not_found');
      const [entry] = await activity(org.slug, 'role.deleted');
      expect(entry).toMatchObject({
        targetId: role.id,
        before: { name: 'temp', rules: { ...EMPTY_RULES, tools: [{ effect: 'allow', match: '*' }] }, keys: [] },
        after: null,
      });
      expect((await redisSnapshot(org.id)).roles).toEqual([]);
    });

    it('refuses a duplicate name with 409, on create and on rename', async () => {
      const org = await createOrg(api, owner);
      await createRole(api, org.slug, owner, 'taken', {});
      const other = await createRole(api, org.slug, owner, 'other', {});
      const dup = await post(org.slug, owner, { name: 'taken', rules: {} });
      expectProblem(dup, 409, 'conflict');
      expect(dup.body.detail).toContain('"taken"');
      expect(dup.body.errors).toEqual([{ path: 'name', message: expect.stringContaining('"taken"') }]);
      expectProblem(await api.req().put(`/v1/orgs/${org.slug}/roles/${other.id}`).set(owner.auth).send({ name: 'taken', rules: {} }), 409);
      // Names are unique per org only.
      const elsewhere = await createOrg(api, owner);
      await post(elsewhere.slug, owner, { name: 'taken', rules: {} }).expect(201);
    });
  });

  describe('validation', () => {
    let org: { id: string; slug: string };
    beforeAll(async () => {
      org = await createOrg(api, owner);
    });

    /** Posts the rules and returns the field errors of the 400. */
    const invalid = async (rules: unknown, name = 'r') => {
      const res = await post(org.slug, owner, { name, rules });
      expectProblem(res, 400, 'validation_failed');
      return errorsOf(res.body);
    };

    it('refuses bad globs', async () => {
      expect(await invalid({ tools: [{ effect: 'allow', match: 'github tools' }] })).toEqual([
        { path: 'rules.tools.0.match', message: 'may only contain letters, digits, _ - . / : @ and the wildcards * and ?' },
      ]);
      // (The contract's GlobPattern also reports its character rule for an empty string.)
      const empty = await invalid({ prompts: [{ effect: 'allow', match: '' }] });
      expect(empty).toContainEqual({ path: 'rules.prompts.0.match', message: 'must not be empty' });
      expect(new Set(empty.map((e) => e.path))).toEqual(new Set(['rules.prompts.0.match']));
      expect(await invalid({ resources: [{ effect: 'deny', server: 'a b', uri: 'file:///*' }] })).toEqual([
        { path: 'rules.resources.0.server', message: expect.stringContaining('may only contain') },
      ]);
      expect(await invalid({ tools: [{ effect: 'maybe', match: '*' }] })).toEqual([
        { path: 'rules.tools.0.effect', message: expect.any(String) },
      ]);
    });

    it('refuses a bad regex with the precise path and message', async () => {
      const tools = [
        { effect: 'allow', match: 'a__*' },
        { effect: 'allow', match: 'b__*' },
        { effect: 'allow', match: 'crm__*', constraints: { customer_id: { pattern: '^(c_[0-9]+$' } } },
      ];
      expect(await invalid({ tools })).toEqual([
        { path: 'rules.tools.2.constraints.customer_id.pattern', message: 'is not a valid regular expression' },
      ]);
      expect(await invalid({ redact: [{ name: 'ssn', pattern: '[0-9' }] })).toEqual([
        { path: 'rules.redact.0.pattern', message: 'is not a valid regular expression' },
      ]);
    });

    it('refuses min > max and empty constraints', async () => {
      expect(await invalid({ tools: [{ effect: 'allow', match: 'db__query', constraints: { limit: { min: 10, max: 5 } } }] })).toEqual([
        { path: 'rules.tools.0.constraints.limit', message: 'min must not exceed max' },
      ]);
      expect(await invalid({ tools: [{ effect: 'allow', match: 'db__query', constraints: { limit: {} } }] })).toEqual([
        { path: 'rules.tools.0.constraints.limit', message: 'a constraint needs at least one condition' },
      ]);
    });

    it('refuses unknown fields at every level', async () => {
      expect(await invalid({ tools: [{ effect: 'allow', match: '*', note: 'x' }] })).toEqual([
        { path: 'rules.tools.0', message: 'unknown field: note' },
      ]);
      expect(await invalid({ tools: [{ effect: 'allow', match: '*', constraints: { q: { equals: 'x', regex: '.*' } } }] })).toEqual([
        { path: 'rules.tools.0.constraints.q', message: 'unknown field: regex' },
      ]);
      expect(await invalid({ tools: [], policies: [] })).toEqual([{ path: 'rules', message: 'unknown field: policies' }]);
      const top = await post(org.slug, owner, { name: 'r', rules: {}, owner: 'me' });
      expectProblem(top, 400, 'validation_failed');
      expect(errorsOf(top.body)).toEqual([{ path: '', message: 'unknown field: owner' }]);
    });

    it('refuses bad CIDRs, including ones that only look like IPv6', async () => {
      expect(await invalid({ ipAllow: ['10.0.0.0/8', '10.0.0.0/33', '300.1.1.1', '1:::2', 'localhost'] })).toEqual([
        { path: 'rules.ipAllow.1', message: 'must be an IPv4 or IPv6 address or CIDR block' },
        { path: 'rules.ipAllow.2', message: 'must be an IPv4 or IPv6 address or CIDR block' },
        { path: 'rules.ipAllow.4', message: 'must be an IPv4 or IPv6 address or CIDR block' },
        { path: 'rules.ipAllow.3', message: 'must be an IPv4 or IPv6 address or CIDR block' },
      ]);
      await post(org.slug, owner, { name: 'ip-ok', rules: { ipAllow: ['192.168.1.7', '10.0.0.0/8', '::1', 'fd00::/8'] } }).expect(201);
    });

    it('refuses metadata references other than ${key.metadata.<name>}, naming the path', async () => {
      const errors = await invalid({
        tools: [
          {
            effect: 'allow',
            match: 'crm__*',
            constraints: {
              customer_id: { equals: '${key.meta.customer_id}' },
              region: { oneOf: ['eu', '${env.HOME}', '${key.metadata.region}'] },
              account: { equals: 'acct-${key.metadata.account' },
              tenant: { equals: '${ key.metadata.tenant }' },
            },
          },
        ],
      });
      expect(errors).toEqual([
        {
          path: 'rules.tools.0.constraints.customer_id.equals',
          message: '"${key.meta.customer_id}" is not a supported reference; use ${key.metadata.<name>}',
        },
        {
          path: 'rules.tools.0.constraints.region.oneOf.1',
          message: '"${env.HOME}" is not a supported reference; use ${key.metadata.<name>}',
        },
        { path: 'rules.tools.0.constraints.account.equals', message: expect.stringContaining('does not close') },
        { path: 'rules.tools.0.constraints.tenant.equals', message: expect.stringContaining('is not a supported reference') },
      ]);
      // Whole-value, embedded and nested references are fine.
      await post(org.slug, owner, {
        name: 'refs-ok',
        rules: {
          tools: [
            {
              effect: 'allow',
              match: 'crm__*',
              constraints: {
                customer_id: { equals: '${key.metadata.customer_id}' },
                account: { oneOf: ['acct-${key.metadata.billing.account}', 'shared'] },
              },
            },
          ],
        },
      }).expect(201);
    });

    it('refuses constraints on deny rules, which would deny more than they read', async () => {
      expect(await invalid({ tools: [{ effect: 'deny', match: 'db__drop', constraints: { table: { equals: 'users' } } }] })).toEqual([
        { path: 'rules.tools.0.constraints', message: expect.stringContaining('only apply to allow rules') },
      ]);
    });

    it('lists every issue of one request at once', async () => {
      const res = await post(org.slug, owner, {
        name: 'Not Valid',
        description: 'x'.repeat(501),
        rules: {
          tools: [
            { effect: 'allow', match: 'bad glob' },
            { effect: 'allow', match: 'crm__*', constraints: { id: { pattern: '(', equals: '${nope}' }, n: { min: 2, max: 1 } } },
          ],
          ipAllow: ['999.0.0.0'],
          rateLimits: [{ scope: 'key', perMinute: 0 }],
        },
      });
      expectProblem(res, 400, 'validation_failed');
      expect(
        errorsOf(res.body)
          .map((e) => e.path)
          .sort(),
      ).toEqual(
        [
          'name',
          'description',
          'rules.tools.0.match',
          'rules.tools.1.constraints.id.pattern',
          'rules.tools.1.constraints.n',
          'rules.tools.1.constraints.id.equals',
          'rules.ipAllow.0',
          'rules.rateLimits.0.perMinute',
        ].sort(),
      );
      expect(res.body.detail).toMatch(/\(and 7 more\)$/);
    });

    it('validates names and requires rules', async () => {
      for (const name of ['', 'Upper', '-lead', '_lead', 'has space', 'dot.ted', 'a'.repeat(64)]) {
        const res = await post(org.slug, owner, { name, rules: {} });
        expectProblem(res, 400, 'validation_failed');
        expect(errorsOf(res.body)).toEqual([{ path: 'name', message: expect.stringContaining('lowercase letters') }]);
      }
      await post(org.slug, owner, { name: 'a'.repeat(63), rules: {} }).expect(201);
      await post(org.slug, owner, { name: '0_ok-name', rules: {} }).expect(201);
      const missing = await post(org.slug, owner, { name: 'norules' });
      expectProblem(missing, 400);
      expect(errorsOf(missing.body).map((e) => e.path)).toEqual(['rules']);
      const wrongType = await post(org.slug, owner, { name: 'arr', rules: [] });
      expect(errorsOf(wrongType.body).map((e) => e.path)).toEqual(['rules']);
    });

    it('validates PUT bodies the same way', async () => {
      const role = await createRole(api, org.slug, owner, 'put-target', {});
      const res = await api
        .req()
        .put(`/v1/orgs/${org.slug}/roles/${role.id}`)
        .set(owner.auth)
        .send({ name: 'put-target', rules: { tools: [{ effect: 'allow', match: '*', constraints: { x: { equals: '${key.id}' } } }] } });
      expectProblem(res, 400, 'validation_failed');
      expect(errorsOf(res.body)).toEqual([{ path: 'rules.tools.0.constraints.x.equals', message: expect.stringContaining('"${key.id}"') }]);
      // PUT is a full replace: rules cannot be left out.
      const partial = await api.req().put(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth).send({ name: 'put-target' });
      expect(errorsOf(partial.body).map((e) => e.path)).toEqual(['rules']);
    });
  });

  describe('keys holding a role', () => {
    it('counts non-revoked keys and refuses to delete a role in use unless forced', async () => {
      const org = await createOrg(api, owner);
      const role = await createRole(api, org.slug, owner, 'agents', { tools: [{ effect: 'allow', match: '*' }] });
      const spare = await createRole(api, org.slug, owner, 'spare', {});
      await insertKey(api, org.id, { name: 'ci-bot', roleIds: [role.id, spare.id] });
      await insertKey(api, org.id, { name: 'support-bot', roleIds: [role.id] });
      await insertKey(api, org.id, { name: 'old-bot', roleIds: [role.id], revokedAt: new Date() });
      await recompile(api, org.id);

      const one = await api.req().get(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth).expect(200);
      expect(one.body.keyCount).toBe(2);
      const list = await api.req().get(`/v1/orgs/${org.slug}/roles`).set(owner.auth).expect(200);
      expect(list.body.items.map((r: { name: string; keyCount: number }) => [r.name, r.keyCount])).toEqual([
        ['agents', 2],
        ['spare', 1],
      ]);

      const refused = await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth);
      expectProblem(refused, 409, 'conflict');
      expect(refused.body.detail).toContain('"ci-bot", "support-bot"');
      expect(refused.body.detail).toContain('?force=true');
      expect(refused.body.keys.map((k: { name: string }) => k.name)).toEqual(['ci-bot', 'support-bot']);
      await api.req().get(`/v1/orgs/${org.slug}/roles/${role.id}`).set(owner.auth).expect(200);

      expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}?force=yes`).set(owner.auth), 400);
      expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}?force=false`).set(owner.auth), 409);

      await api.req().delete(`/v1/orgs/${org.slug}/roles/${role.id}?force=true`).set(owner.auth).expect(204);
      expect(await api.prisma.db.apiKeyRole.count({ where: { roleId: role.id } })).toBe(0);
      const [entry] = await activity(org.slug, 'role.deleted');
      expect(entry.before.keys.map((k: { name: string }) => k.name)).toEqual(['ci-bot', 'support-bot']);
      const snapshot = await redisSnapshot(org.id);
      expect(snapshot.roles.map((r) => r.name)).toEqual(['spare']);
      expect(snapshot.keys.find((k) => k.name === 'ci-bot')?.roleIds).toEqual([spare.id]);
      expect(snapshot.keys.find((k) => k.name === 'support-bot')?.roleIds).toEqual([]);

      // A role only revoked keys hold is deleted without force.
      const lonely = await createRole(api, org.slug, owner, 'lonely', {});
      await insertKey(api, org.id, { name: 'gone', roleIds: [lonely.id], revokedAt: new Date() });
      await api.req().delete(`/v1/orgs/${org.slug}/roles/${lonely.id}`).set(owner.auth).expect(204);
    });
  });

  describe('access', () => {
    let org: { id: string; slug: string };
    let users: Record<'admin' | 'member' | 'billing' | 'stranger', TestUser>;
    let roleId: string;
    beforeAll(async () => {
      org = await createOrg(api, owner);
      const [admin, member, billing, stranger] = await Promise.all(['admin', 'member', 'billing', 'stranger'].map((n) => signup(api, n)));
      users = { admin: admin!, member: member!, billing: billing!, stranger: stranger! };
      await addMember(api, org.id, users.admin, 'admin');
      await addMember(api, org.id, users.member, 'member');
      await addMember(api, org.id, users.billing, 'billing');
      roleId = (await createRole(api, org.slug, owner, 'base', {})).id;
    });

    it('lets owners, admins and members read; billing gets 403; non-members 404', async () => {
      for (const u of [owner, users.admin, users.member]) {
        await api.req().get(`/v1/orgs/${org.slug}/roles`).set(u.auth).expect(200);
        await api.req().get(`/v1/orgs/${org.slug}/roles/${roleId}`).set(u.auth).expect(200);
      }
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles`).set(users.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles/${roleId}`).set(users.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles`).set(users.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles/${roleId}`).set(users.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles`), 401, 'unauthenticated');
    });

    it('lets owners and admins write; members and billing get 403; non-members 404', async () => {
      const adminRole = await post(org.slug, users.admin, { name: 'by-admin', rules: {} }).expect(201);
      await api
        .req()
        .put(`/v1/orgs/${org.slug}/roles/${adminRole.body.id}`)
        .set(users.admin.auth)
        .send({ name: 'by-admin', rules: {} })
        .expect(200);
      await api.req().delete(`/v1/orgs/${org.slug}/roles/${adminRole.body.id}`).set(users.admin.auth).expect(204);
      const [entry] = await activity(org.slug, 'role.deleted');
      expect(entry).toMatchObject({ actorId: users.admin.id, targetId: adminRole.body.id });

      for (const [u, status] of [
        [users.member, 403],
        [users.billing, 403],
        [users.stranger, 404],
      ] as const) {
        expectProblem(await post(org.slug, u, { name: 'nope', rules: {} }), status);
        expectProblem(await api.req().put(`/v1/orgs/${org.slug}/roles/${roleId}`).set(u.auth).send({ name: 'base', rules: {} }), status);
        expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${roleId}`).set(u.auth), status);
      }
      await api.req().get(`/v1/orgs/${org.slug}/roles/${roleId}`).set(owner.auth).expect(200);
      expect(await api.prisma.db.role.count({ where: { orgId: org.id, name: 'nope' } })).toBe(0);
    });

    it("answers 404 for another org's role, an unknown id and a non-UUID id", async () => {
      const stranger = users.stranger;
      const theirs = await createOrg(api, stranger);
      const theirRole = await createRole(api, theirs.slug, stranger, 'secret-role', { tools: [{ effect: 'allow', match: '*' }] });
      // Through my org's route, their role id does not exist.
      expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles/${theirRole.id}`).set(owner.auth), 404, 'not_found');
      expectProblem(
        await api.req().put(`/v1/orgs/${org.slug}/roles/${theirRole.id}`).set(owner.auth).send({ name: 'pwned', rules: {} }),
        404,
        'not_found',
      );
      expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${theirRole.id}?force=true`).set(owner.auth), 404, 'not_found');
      // Through their org's route, I am not a member.
      expectProblem(await api.req().get(`/v1/orgs/${theirs.slug}/roles/${theirRole.id}`).set(owner.auth), 404, 'not_found');
      expectProblem(await api.req().get(`/v1/orgs/${theirs.slug}/roles`).set(owner.auth), 404, 'not_found');
      expectProblem(await post(theirs.slug, owner, { name: 'intruder', rules: {} }), 404, 'not_found');
      const untouched = await api.prisma.db.role.findUniqueOrThrow({ where: { id: theirRole.id } });
      expect(untouched.name).toBe('secret-role');

      for (const id of [randomUUID(), 'not-a-uuid', '123']) {
        expectProblem(await api.req().get(`/v1/orgs/${org.slug}/roles/${id}`).set(owner.auth), 404, 'not_found');
        expectProblem(await api.req().put(`/v1/orgs/${org.slug}/roles/${id}`).set(owner.auth).send({ name: 'x', rules: {} }), 404);
        expectProblem(await api.req().delete(`/v1/orgs/${org.slug}/roles/${id}`).set(owner.auth), 404);
      }
    });

    it('documents the roles and simulator routes in OpenAPI', async () => {
      const doc = await api.req().get('/docs/openapi.json').expect(200);
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining(['/v1/orgs/{org}/roles', '/v1/orgs/{org}/roles/{id}', '/v1/orgs/{org}/policy/simulate']),
      );
    });
  });
});
