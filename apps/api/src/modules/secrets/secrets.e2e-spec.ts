import { randomBytes } from 'node:crypto';
import { openSecret, PolicySnapshot, redisKeys } from '@toolgate/contracts';
import type { Prisma } from '@toolgate/db';
import type { Response } from 'supertest';
import { type Team, team } from '../members/members.fixtures';
import { type Api, expectProblem, startApi, uniq } from '../../../test/harness';

/** One user of each role in an org the owner created through the API, plus a stranger with their own org. */

interface SecretBody {
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
  usedBy: { serverId: string; slug: string }[];
}

describe('secrets', () => {
  let api: Api;
  let t: Team;
  /** Every plaintext this spec sends; none may ever come back or reach the activity log. */
  const values: string[] = [];

  beforeAll(async () => {
    api = await startApi();
    t = await team(api, 'secrets');
  });
  afterAll(() => api.close());

  // ---------------------------------------------------------------- fixtures

  /** A fresh, recognisable plaintext (recorded so the final test can grep for it). */
  const newValue = (label = 'v') => {
    const v = `sv-${label}-${randomBytes(12).toString('hex')}`;
    values.push(v);
    return v;
  };

  const secretUrl = (name: string, org = t.org.slug) => `/v1/orgs/${org}/secrets/${name}`;
  const listUrl = (org = t.org.slug) => `/v1/orgs/${org}/secrets`;
  const name = (base = 'API_TOKEN') => `${base}_${randomBytes(3).toString('hex').toUpperCase()}`;

  function putSecret(secretName: string, body: Record<string, unknown>, user = t.owner, org = t.org.slug) {
    return api.req().put(secretUrl(secretName, org)).set(user.auth).send(body);
  }

  /** Creates a secret as the owner and returns its name and plaintext. */
  async function createSecret(org = t.org, user = t.owner, description?: string) {
    const secretName = name();
    const value = newValue();
    const res = await putSecret(secretName, { value, ...(description ? { description } : {}) }, user, org.slug);
    if (res.status !== 201) throw new Error(`creating a secret failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { name: secretName, value, body: res.body as SecretBody };
  }

  /**
   * Inserts an MCP server row directly (the servers module has its own tests); headers/env
   * reference secrets with `{secret: NAME}` exactly as the servers API stores them.
   */
  const insertServer = (
    orgId: string,
    refs: { headers?: Record<string, unknown>; env?: Record<string, unknown>; enabled?: boolean },
    slug = uniq('srv'),
  ) =>
    api.prisma.db.mcpServer.create({
      data: {
        orgId,
        slug,
        name: slug,
        transport: 'streamable_http',
        url: 'https://mcp.example.test/mcp',
        headers: (refs.headers ?? {}) as Prisma.InputJsonValue,
        env: (refs.env ?? {}) as Prisma.InputJsonValue,
        enabled: refs.enabled ?? true,
      },
    });

  const sealedOf = async (orgId: string, secretName: string) =>
    (await api.prisma.db.secret.findUniqueOrThrow({ where: { orgId_name: { orgId, name: secretName } } })).sealed;

  const activity = (orgId: string, action: string, targetId: string) =>
    api.prisma.db.activityLog.findMany({ where: { orgId, action, targetId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });

  /** The response carries none of the plaintexts this spec has sent. */
  const expectNoValues = (res: Response) => {
    const text = JSON.stringify(res.body) + (res.text ?? '');
    for (const v of values) expect(text).not.toContain(v);
    expect(text).not.toMatch(/v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\./);
  };

  // ---------------------------------------------------------------- PUT

  describe('PUT /v1/orgs/:org/secrets/:name', () => {
    it('creates a secret (201): sealed with the org as AAD, metadata returned, secret.set logged', async () => {
      const secretName = name('GITHUB_TOKEN');
      const value = newValue('create');
      const res = await putSecret(secretName, { value, description: '  GitHub PAT for CI  ' }).expect(201);
      expect(res.body).toEqual({
        name: secretName,
        description: 'GitHub PAT for CI',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        usedBy: [],
      });
      expectNoValues(res);

      const row = await api.prisma.db.secret.findUniqueOrThrow({ where: { orgId_name: { orgId: t.org.id, name: secretName } } });
      expect(row.sealed).toMatch(/^v1\./);
      expect(row.sealed).not.toContain(value);
      expect(row.createdById).toBe(t.owner.id);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, row.sealed)).toBe(value);
      // The org id is authenticated data: the sealed value does not open for another org.
      expect(() => openSecret(api.env.TOOLGATE_SECRET_KEY, t.strangerOrg.id, row.sealed)).toThrow();

      const [entry] = await activity(t.org.id, 'secret.set', row.id);
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'secret',
        before: null,
        after: { name: secretName, description: 'GitHub PAT for CI', replaced: false },
      });
      expect(JSON.stringify(entry)).not.toContain(value);
      expect(JSON.stringify(entry)).not.toContain(row.sealed);
    });

    it('replaces a secret (200) with a fresh IV each time, keeping or clearing the description', async () => {
      const { name: secretName, value } = await createSecret(t.org, t.owner, 'first');
      const sealed1 = await sealedOf(t.org.id, secretName);

      // The same value again: a new IV, so a new ciphertext that opens to the same plaintext.
      const same = await putSecret(secretName, { value }).expect(200);
      expect(same.body.description).toBe('first');
      const sealed2 = await sealedOf(t.org.id, secretName);
      expect(sealed2).not.toBe(sealed1);
      expect(sealed2.split('.')[1]).not.toBe(sealed1.split('.')[1]);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, sealed2)).toBe(value);

      const next = newValue('replaced');
      const replaced = await putSecret(secretName, { value: next, description: null }, t.admin).expect(200);
      expect(replaced.body).toMatchObject({ name: secretName, description: null });
      expectNoValues(replaced);
      const sealed3 = await sealedOf(t.org.id, secretName);
      expect(new Set([sealed1, sealed2, sealed3]).size).toBe(3);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, sealed3)).toBe(next);

      const row = await api.prisma.db.secret.findUniqueOrThrow({ where: { orgId_name: { orgId: t.org.id, name: secretName } } });
      const entries = await activity(t.org.id, 'secret.set', row.id);
      expect(entries.map((e) => (e.after as { replaced: boolean }).replaced)).toEqual([false, true, true]);
      expect(entries[2]).toMatchObject({
        actorId: t.admin.id,
        before: { name: secretName, description: 'first' },
        after: { name: secretName, description: null, replaced: true },
      });
      expect(await api.prisma.db.secret.count({ where: { orgId: t.org.id, name: secretName } })).toBe(1);
    });

    it('takes the value byte for byte, up to 64 KiB of UTF-8', async () => {
      const padded = `  ${newValue('padded')}\n`;
      const secretName = name();
      await putSecret(secretName, { value: padded }).expect(201);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, await sealedOf(t.org.id, secretName))).toBe(padded);

      const max = 'x'.repeat(64 * 1024);
      const big = name('BIG');
      await putSecret(big, { value: max }).expect(201);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, await sealedOf(t.org.id, big))).toBe(max);
    });

    it('lets owner and admin write; member and billing 403; non-members 404; anonymous 401', async () => {
      await putSecret(name(), { value: newValue() }, t.owner).expect(201);
      await putSecret(name(), { value: newValue() }, t.admin).expect(201);
      const secretName = name('DENIED');
      for (const user of [t.member, t.billing]) {
        const res = await putSecret(secretName, { value: newValue() }, user);
        expectProblem(res, 403, 'forbidden');
        expectNoValues(res);
      }
      expectProblem(await putSecret(secretName, { value: newValue() }, t.stranger), 404, 'not_found');
      expectProblem(await api.req().put(secretUrl(secretName)).send({ value: newValue() }), 401);
      expect(await api.prisma.db.secret.count({ where: { name: secretName } })).toBe(0);
    });

    it('keeps orgs apart: the same name in two orgs is two secrets', async () => {
      const secretName = name('SHARED');
      const mine = newValue('mine');
      const theirs = newValue('theirs');
      await putSecret(secretName, { value: mine }).expect(201);
      await putSecret(secretName, { value: theirs }, t.stranger, t.strangerOrg.slug).expect(201);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, await sealedOf(t.org.id, secretName))).toBe(mine);
      expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.strangerOrg.id, await sealedOf(t.strangerOrg.id, secretName))).toBe(theirs);
    });

    it.each([
      ['a leading digit', '1TOKEN'],
      ['a hyphen', 'MY-TOKEN'],
      ['a dot', 'my.token'],
      ['129 characters', `A${'b'.repeat(128)}`],
      ['a non-ASCII letter', 'TOKEN_É'],
    ])('refuses a name with %s (400 on name)', async (_label, bad) => {
      const res = await putSecret(encodeURIComponent(bad), { value: newValue() });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors).toEqual([{ path: 'name', message: expect.stringContaining('must start with a letter') }]);
      expectNoValues(res);
    });

    it('accepts names at the edges of the pattern', async () => {
      for (const ok of ['_', 'a', `A${'b'.repeat(127)}`, '_under_score_9']) {
        await putSecret(ok, { value: newValue() }).expect(201);
      }
    });

    it.each([
      ['a missing value', {}, 'value'],
      ['an empty value', { value: '' }, 'value'],
      ['a non-string value', { value: 12345 }, 'value'],
      ['a value over 64 KiB', { value: 'x'.repeat(64 * 1024 + 1) }, 'value'],
      ['a value over 64 KiB of UTF-8 (fewer characters)', { value: 'é'.repeat(32 * 1024 + 1) }, 'value'],
      ['a long description', { value: 'v', description: 'd'.repeat(501) }, 'description'],
      ['a non-string description', { value: 'v', description: 5 }, 'description'],
    ])('refuses %s (400 with a field error)', async (_label, body, path) => {
      const res = await putSecret(name(), body);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
      // The error never echoes what was sent.
      if (typeof (body as { value?: unknown }).value === 'string' && (body as { value: string }).value.length > 10) {
        expect(JSON.stringify(res.body)).not.toContain((body as { value: string }).value.slice(0, 100));
      }
    });

    it('refuses unknown fields without echoing the value', async () => {
      const value = newValue('unknown-field');
      const res = await putSecret(name(), { value, sealed: 'v1.a.b.c' });
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.detail).toContain('unknown field: sealed');
      expectNoValues(res);
    });

    it('publishes the new sealed value to the snapshot of servers that use it', async () => {
      const { name: secretName } = await createSecret();
      const server = await insertServer(t.org.id, { headers: { Authorization: { secret: secretName } } });
      const next = newValue('published');
      await putSecret(secretName, { value: next }).expect(200);
      const sealed = await sealedOf(t.org.id, secretName);
      const raw = await api.redis.client.get(redisKeys.snapshot(t.org.id));
      const snap = PolicySnapshot.parse(JSON.parse(raw!));
      expect(snap.secrets[secretName]).toBe(sealed);
      expect(snap.servers.find((s) => s.id === server.id)?.headers).toEqual({ Authorization: { secret: secretName } });
      expect(raw).not.toContain(next);
      // Tidy up so later deletes in this org are not blocked by this server.
      await api.prisma.db.mcpServer.delete({ where: { id: server.id } });
    });
  });

  // ---------------------------------------------------------------- GET list and one

  describe('GET /v1/orgs/:org/secrets[/:name]', () => {
    let isolated: Team;
    let alpha: string;
    let beta: string;
    let unused: string;
    let enabledServer: { id: string; slug: string };
    let disabledServer: { id: string; slug: string };

    beforeAll(async () => {
      isolated = await team(api, 'secretlist');
      alpha = `ALPHA_${randomBytes(2).toString('hex')}`;
      beta = `BETA_${randomBytes(2).toString('hex')}`;
      unused = `UNUSED_${randomBytes(2).toString('hex')}`;
      for (const [n, d] of [
        [alpha, 'first'],
        [beta, undefined],
        [unused, 'nobody uses me'],
      ] as const) {
        await putSecret(n, { value: newValue(n), ...(d ? { description: d } : {}) }, isolated.owner, isolated.org.slug).expect(201);
      }
      enabledServer = await insertServer(
        isolated.org.id,
        {
          headers: { Authorization: { secret: alpha }, 'X-Static': { value: 'plain' } },
          env: { BETA: { secret: beta } },
        },
        'a-enabled',
      );
      disabledServer = await insertServer(isolated.org.id, { env: { TOKEN: { secret: alpha } }, enabled: false }, 'b-disabled');
      // A same-named secret and a server referencing it in another org must not leak in.
      await putSecret(alpha, { value: newValue() }, isolated.stranger, isolated.strangerOrg.slug).expect(201);
      await insertServer(isolated.strangerOrg.id, { env: { X: { secret: alpha } } }, 'foreign');
    });

    it('lists metadata sorted by name with usedBy from headers and env of enabled and disabled servers', async () => {
      const res = await api.req().get(listUrl(isolated.org.slug)).set(isolated.owner.auth).expect(200);
      expect(res.body.items).toEqual([
        {
          name: alpha,
          description: 'first',
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          usedBy: [
            { serverId: enabledServer.id, slug: 'a-enabled' },
            { serverId: disabledServer.id, slug: 'b-disabled' },
          ],
        },
        {
          name: beta,
          description: null,
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
          usedBy: [{ serverId: enabledServer.id, slug: 'a-enabled' }],
        },
        { name: unused, description: 'nobody uses me', createdAt: expect.any(String), updatedAt: expect.any(String), usedBy: [] },
      ]);
      expectNoValues(res);
    });

    it('returns one secret’s metadata', async () => {
      const res = await api.req().get(secretUrl(beta, isolated.org.slug)).set(isolated.member.auth).expect(200);
      expect(res.body).toEqual({
        name: beta,
        description: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        usedBy: [{ serverId: enabledServer.id, slug: 'a-enabled' }],
      });
      expectNoValues(res);
    });

    it('lets owner, admin and member read; refuses billing (403) and non-members (404)', async () => {
      for (const user of [isolated.owner, isolated.admin, isolated.member]) {
        const list = await api.req().get(listUrl(isolated.org.slug)).set(user.auth).expect(200);
        expect(list.body.items).toHaveLength(3);
        await api.req().get(secretUrl(alpha, isolated.org.slug)).set(user.auth).expect(200);
      }
      expectProblem(await api.req().get(listUrl(isolated.org.slug)).set(isolated.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(secretUrl(alpha, isolated.org.slug)).set(isolated.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(listUrl(isolated.org.slug)).set(isolated.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(secretUrl(alpha, isolated.org.slug)).set(isolated.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(listUrl(isolated.org.slug)), 401);
    });

    it('answers 404 for unknown names, impossible names, and secrets of another org', async () => {
      const foreignOnly = `FOREIGN_${randomBytes(2).toString('hex')}`;
      await putSecret(foreignOnly, { value: newValue() }, isolated.stranger, isolated.strangerOrg.slug).expect(201);
      for (const n of ['NOPE', foreignOnly, '1bad', 'bad-name']) {
        expectProblem(await api.req().get(secretUrl(n, isolated.org.slug)).set(isolated.owner.auth), 404, 'not_found');
      }
      // The stranger's list holds only their own secrets.
      const theirs = await api.req().get(listUrl(isolated.strangerOrg.slug)).set(isolated.stranger.auth).expect(200);
      expect(theirs.body.items.map((s: SecretBody) => s.name).sort()).toEqual([alpha, foreignOnly].sort());
      expect(theirs.body.items.find((s: SecretBody) => s.name === alpha).usedBy).toEqual([
        { serverId: expect.any(String), slug: 'foreign' },
      ]);
    });
  });

  // ---------------------------------------------------------------- DELETE

  describe('DELETE /v1/orgs/:org/secrets/:name', () => {
    it('deletes an unused secret (204), logs secret.deleted and answers 404 afterwards', async () => {
      const { name: secretName, value } = await createSecret(t.org, t.owner, 'temp');
      const row = await api.prisma.db.secret.findUniqueOrThrow({ where: { orgId_name: { orgId: t.org.id, name: secretName } } });
      await api.req().delete(secretUrl(secretName)).set(t.owner.auth).expect(204);
      expectProblem(await api.req().get(secretUrl(secretName)).set(t.owner.auth), 404, 'not_found');
      expectProblem(await api.req().delete(secretUrl(secretName)).set(t.owner.auth), 404, 'not_found');
      const [entry] = await activity(t.org.id, 'secret.deleted', row.id);
      expect(entry).toMatchObject({
        actorId: t.owner.id,
        targetType: 'secret',
        before: { name: secretName, description: 'temp' },
        after: null,
      });
      expect(JSON.stringify(entry)).not.toContain(value);
      expect(JSON.stringify(entry)).not.toContain(row.sealed);
    });

    it('refuses (409, listing the servers) while an enabled or a disabled server references it', async () => {
      const { name: secretName } = await createSecret();
      const enabled = await insertServer(t.org.id, { headers: { Authorization: { secret: secretName } } });
      const disabled = await insertServer(t.org.id, { env: { TOKEN: { secret: secretName } }, enabled: false });

      const both = await api.req().delete(secretUrl(secretName)).set(t.owner.auth);
      expectProblem(both, 409, 'conflict');
      expect(both.body.usedBy).toEqual(
        expect.arrayContaining([
          { serverId: enabled.id, slug: enabled.slug },
          { serverId: disabled.id, slug: disabled.slug },
        ]),
      );
      expect(both.body.detail).toContain(enabled.slug);
      expect(both.body.detail).toContain(disabled.slug);

      await api.prisma.db.mcpServer.update({ where: { id: enabled.id }, data: { headers: {} } });
      const one = await api.req().delete(secretUrl(secretName)).set(t.owner.auth);
      expectProblem(one, 409, 'conflict');
      expect(one.body.usedBy).toEqual([{ serverId: disabled.id, slug: disabled.slug }]);
      expect(await api.prisma.db.secret.count({ where: { orgId: t.org.id, name: secretName } })).toBe(1);

      await api.prisma.db.mcpServer.update({ where: { id: disabled.id }, data: { env: { TOKEN: { value: 'inline' } } } });
      await api.req().delete(secretUrl(secretName)).set(t.owner.auth).expect(204);
    });

    it('lets owner and admin delete; member and billing 403; non-members 404', async () => {
      const a = await createSecret();
      const b = await createSecret();
      await api.req().delete(secretUrl(a.name)).set(t.owner.auth).expect(204);
      await api.req().delete(secretUrl(b.name)).set(t.admin.auth).expect(204);
      const c = await createSecret();
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().delete(secretUrl(c.name)).set(user.auth), 403, 'forbidden');
      }
      expectProblem(await api.req().delete(secretUrl(c.name)).set(t.stranger.auth), 404, 'not_found');
      expect(await api.prisma.db.secret.count({ where: { orgId: t.org.id, name: c.name } })).toBe(1);
    });

    it('answers 404 for impossible names and never reaches another org’s secret', async () => {
      const theirs = await createSecret(t.strangerOrg, t.stranger);
      expectProblem(await api.req().delete(secretUrl(theirs.name)).set(t.owner.auth), 404, 'not_found');
      expectProblem(await api.req().delete(secretUrl(theirs.name, t.strangerOrg.slug)).set(t.owner.auth), 404, 'not_found');
      expect(await api.prisma.db.secret.count({ where: { orgId: t.strangerOrg.id, name: theirs.name } })).toBe(1);
      expectProblem(await api.req().delete(secretUrl('9lives')).set(t.owner.auth), 404, 'not_found');
    });
  });

  it('never lets a value into any response or the activity log', async () => {
    expect(values.length).toBeGreaterThan(20);
    for (const org of [t.org, t.strangerOrg]) {
      const owner = org === t.org ? t.owner : t.stranger;
      const feed = await api.req().get(`/v1/orgs/${org.slug}/activity`).query({ limit: 200 }).set(owner.auth).expect(200);
      expectNoValues(feed);
      expect(feed.body.items.some((i: { action: string }) => i.action === 'secret.set')).toBe(true);
      expectNoValues(await api.req().get(listUrl(org.slug)).set(owner.auth).expect(200));
    }
    const all = JSON.stringify(await api.prisma.db.activityLog.findMany({ where: { action: { startsWith: 'secret.' } } }));
    for (const v of values) expect(all).not.toContain(v);
    expect(all).not.toMatch(/v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\./);
  });
});
