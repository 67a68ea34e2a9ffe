import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openSecret, PolicySnapshot, ProbeRequest, type ProbeReply, redisKeys, sealSecret } from '@toolgate/contracts';
import type request from 'supertest';
import { type Team, team } from '../members/members.fixtures';
import { type Api, createOrg, expectProblem, signup, startApi, uniq } from '../../../test/harness';

/** The real reference server, run over stdio with this very Node binary. */
const EVERYTHING = (() => {
  const pkgPath = require.resolve('@modelcontextprotocol/server-everything/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(pkgPath), pkg.bin['mcp-server-everything']!);
})();

const GATEWAY = 'https://gw.example.test';
const MASK = '••••';
const FIXTURE_KEY = 'fixture-api-key-6f1c2d9e';
/** HTTP servers are only registered here, never contacted (probes run on a gateway worker). */
const HTTP_URL = 'http://127.0.0.1:9/mcp';
const SSE_URL = 'http://127.0.0.1:9/sse';
/** No gateway runs in this suite, so no probe is ever taken: keep the wait short. */
const PICKUP_MS = 700;

/** A server view as the API returns it (the fields the tests look at). */
interface ServerBody {
  id: string;
  slug: string;
  transport: string;
  command: string | null;
  args: string[];
  network: 'none' | 'egress';
  isolation: 'per-session' | 'per-key' | 'shared';
  url: string | null;
  headers: Record<string, { value: string } | { secret: string }>;
  env: Record<string, { value: string } | { secret: string }>;
  enabled: boolean;
  tags: string[];
  timeoutMs: number;
  catalog: null | {
    protocolVersion: string | null;
    serverInfo: { name: string; version: string } | null;
    tools: Array<{ name: string; inputSchema: { type: string; properties?: Record<string, unknown>; required?: string[] } }>;
    prompts: Array<{ name: string }>;
    resources: Array<{ uri: string }>;
    resourceTemplates: Array<{ uriTemplate: string }>;
  };
  catalogFetchedAt: string | null;
  lastProbeAt: string | null;
  lastProbeError: string | null;
  health: 'unknown' | 'ok' | 'error';
  endpoints: { aggregated: string; server: string };
  updatedAt: string;
}

/** Processes whose parent is this Jest worker (ps itself excluded). */
function childProcesses(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^\d+\s+ps\s/.test(l));
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('MCP server registry', () => {
  let api: Api;
  let t: Team;
  const tmp = mkdtempSync(join(tmpdir(), 'tg-servers-'));

  beforeAll(async () => {
    // A trailing slash on purpose: endpoints must not get a double slash.
    api = await startApi({ PUBLIC_GATEWAY_URL: `${GATEWAY}/`, PROBE_PICKUP_TIMEOUT_MS: String(PICKUP_MS) });
    t = await team(api, 'srv');
  });
  afterAll(async () => {
    await api.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  // ---------------------------------------------------------------- fixtures

  /** A sealed org secret, inserted directly (the secrets module has its own tests). */
  const addSecret = (orgId: string, name: string, value: string) =>
    api.prisma.db.secret.create({ data: { orgId, name, sealed: sealSecret(api.env.TOOLGATE_SECRET_KEY, orgId, value) } });

  const serversUrl = (org = t.org.slug) => `/v1/orgs/${org}/servers`;
  const serverUrl = (id: string, org = t.org.slug) => `/v1/orgs/${org}/servers/${id}`;
  const probeUrl = (id: string, org = t.org.slug) => `/v1/orgs/${org}/servers/${id}/probe`;

  const everything = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    slug: uniq('everything'),
    name: 'Everything',
    transport: 'stdio',
    command: process.execPath,
    args: [EVERYTHING, 'stdio'],
    ...extra,
  });
  const httpServer = (extra: Record<string, unknown> = {}) => ({
    slug: uniq('http'),
    name: 'HTTP fixture',
    transport: 'streamable-http',
    url: HTTP_URL,
    ...extra,
  });
  /** A stdio "server" that is a Node one-liner (registered only: this suite never runs it). */
  const script = (code: string, extra: Record<string, unknown> = {}) => ({
    slug: uniq('script'),
    name: 'Script',
    transport: 'stdio',
    command: process.execPath,
    args: ['-e', code],
    ...extra,
  });

  async function create(body: Record<string, unknown>, user = t.owner, org = t.org.slug): Promise<ServerBody> {
    const res = await api.req().post(serversUrl(org)).set(user.auth).send(body);
    if (res.status !== 201) throw new Error(`creating a server failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as ServerBody;
  }

  const probe = (id: string, user = t.owner, org = t.org.slug, on: Api = api) => on.req().post(probeUrl(id, org)).set(user.auth);

  const activity = (orgId: string, action: string, targetId: string) =>
    api.prisma.db.activityLog.findMany({ where: { orgId, action, targetId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });

  const snapshotVersion = async (orgId: string) =>
    (await api.prisma.db.organization.findUniqueOrThrow({ where: { id: orgId } })).snapshotVersion;

  /** The snapshot Redis holds for the org (what every gateway worker loads). */
  async function redisSnapshot(orgId: string) {
    const raw = await api.redis.client.get(redisKeys.snapshot(orgId));
    if (!raw) throw new Error(`no snapshot in Redis for ${orgId}`);
    return PolicySnapshot.parse(JSON.parse(raw));
  }

  /** Paths of the field errors of a 400 problem. */
  const paths = (res: request.Response) => (res.body.errors as Array<{ path: string }>).map((e) => e.path);

  // ---------------------------------------------------------------- POST /servers

  describe('POST /v1/orgs/:org/servers', () => {
    it('creates a stdio server: defaults, masked credential literals, endpoints, activity and a new snapshot', async () => {
      await addSecret(t.org.id, 'GITHUB_TOKEN', 'ghp_live_value_1234');
      const before = await snapshotVersion(t.org.id);
      const body = everything({
        description: '  The reference server  ',
        env: { GITHUB_TOKEN: { secret: 'GITHUB_TOKEN' }, API_KEY: { value: 'literal-key-value' }, MODE: { value: 'test' } },
        tags: ['reference', 'dev'],
      });
      const res = await api.req().post(serversUrl()).set(t.owner.auth).send(body).expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        slug: body.slug,
        name: 'Everything',
        description: 'The reference server',
        transport: 'stdio',
        command: process.execPath,
        args: [EVERYTHING, 'stdio'],
        network: 'none',
        isolation: 'per-key',
        url: null,
        headers: {},
        // A literal under a credential-like name is masked; a secret reference and other values are not.
        env: { GITHUB_TOKEN: { secret: 'GITHUB_TOKEN' }, API_KEY: { value: MASK }, MODE: { value: 'test' } },
        enabled: true,
        tags: ['reference', 'dev'],
        timeoutMs: 30_000,
        catalog: null,
        catalogFetchedAt: null,
        lastProbeAt: null,
        lastProbeError: null,
        health: 'unknown',
        endpoints: { aggregated: `${GATEWAY}/mcp/${t.org.slug}`, server: `${GATEWAY}/mcp/${t.org.slug}/${body.slug}` },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      // The stored value is the real one.
      const row = await api.prisma.db.mcpServer.findUniqueOrThrow({ where: { id: res.body.id } });
      expect(row.env).toEqual(body.env);

      const [entry] = await activity(t.org.id, 'server.created', res.body.id);
      expect(entry).toMatchObject({ actorId: t.owner.id, targetType: 'server', before: null });
      expect(entry!.after).toMatchObject({ slug: body.slug, env: { API_KEY: { value: MASK } } });
      expect(JSON.stringify(entry)).not.toContain('literal-key-value');

      expect(await snapshotVersion(t.org.id)).toBe(before + 1);
      const snap = await redisSnapshot(t.org.id);
      expect(snap.version).toBe(before + 1);
      expect(snap.servers.find((s) => s.slug === body.slug)).toMatchObject({ transport: 'stdio', command: process.execPath });
      expect(Object.keys(snap.secrets)).toContain('GITHUB_TOKEN');
    });

    it('creates a streamable-http server (admin): speaks streamable-http, stores streamable_http, masks auth headers', async () => {
      await addSecret(t.org.id, 'FIXTURE_KEY', FIXTURE_KEY);
      const body = httpServer({
        headers: {
          Authorization: { value: 'Bearer literal-token' },
          'X-Api-Key': { secret: 'FIXTURE_KEY' },
          'X-Trace': { value: 'visible' },
          Cookie: { value: 'session=abc' },
        },
        timeoutMs: 1000,
        enabled: false,
      });
      const created = await create(body, t.admin);
      expect(created).toMatchObject({
        transport: 'streamable-http',
        url: HTTP_URL,
        command: null,
        args: [],
        network: 'none',
        env: {},
        enabled: false,
        timeoutMs: 1000,
        headers: {
          Authorization: { value: MASK },
          'X-Api-Key': { secret: 'FIXTURE_KEY' },
          'X-Trace': { value: 'visible' },
          Cookie: { value: MASK },
        },
      });
      const row = await api.prisma.db.mcpServer.findUniqueOrThrow({ where: { id: created.id } });
      expect(row.transport).toBe('streamable_http');
      // …which Postgres stores as 'streamable-http'.
      const [raw] = await api.prisma.db.$queryRaw<
        Array<{ t: string }>
      >`SELECT "transport"::text AS t FROM "McpServer" WHERE "id" = ${created.id}::uuid`;
      expect(raw!.t).toBe('streamable-http');
      const [entry] = await activity(t.org.id, 'server.created', created.id);
      expect(entry!.actorId).toBe(t.admin.id);
      expect(JSON.stringify(entry)).not.toMatch(/literal-token|session=abc/);
      // Disabled servers stay out of the snapshot.
      expect((await redisSnapshot(t.org.id)).servers.map((s) => s.slug)).not.toContain(body.slug);
    });

    it('creates an sse server', async () => {
      const created = await create({ slug: uniq('sse'), name: 'Legacy', transport: 'sse', url: SSE_URL });
      expect(created).toMatchObject({ transport: 'sse', url: SSE_URL, health: 'unknown' });
    });

    it('answers 409 for a slug the org already uses, but the same slug is fine in another org', async () => {
      const body = everything();
      await create(body);
      const dup = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send({ ...body, name: 'Other' });
      expectProblem(dup, 409, 'conflict');
      expect(dup.body.detail).toContain(`"${body.slug}"`);
      expect(dup.body.errors).toEqual([{ path: 'slug', message: expect.stringContaining(String(body.slug)) }]);
      await create(body, t.stranger, t.strangerOrg.slug);
    });

    it('refuses a {secret} that does not exist in the org, naming it (a secret of another org does not count)', async () => {
      await addSecret(t.strangerOrg.id, 'ONLY_IN_OTHER_ORG', 'x-value');
      const res = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send(httpServer({ headers: { 'X-Api-Key': { secret: 'ONLY_IN_OTHER_ORG' } } }));
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.detail).toContain('ONLY_IN_OTHER_ORG');
      expect(res.body.errors).toEqual([
        { path: 'headers.X-Api-Key.secret', message: 'secret "ONLY_IN_OTHER_ORG" does not exist in this organisation' },
      ]);
      const env = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send(everything({ env: { TOKEN: { secret: 'NOPE_MISSING' } } }));
      expectProblem(env, 400, 'validation_failed');
      expect(paths(env)).toEqual(['env.TOKEN.secret']);
    });

    it('refuses the masked placeholder as a literal value', async () => {
      const res = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send(httpServer({ headers: { Authorization: { value: MASK } } }));
      expectProblem(res, 400, 'validation_failed');
      expect(paths(res)).toEqual(['headers.Authorization.value']);
    });

    // Each case: a body, and the field errors (path → message fragment) it must produce.
    const matrix: Array<[string, () => Record<string, unknown>, Record<string, string>]> = [
      [
        'stdio without command',
        () => ({ slug: uniq('v'), name: 'n', transport: 'stdio' }),
        { command: 'is required for the stdio transport' },
      ],
      ['stdio with a url', () => everything({ url: 'https://x.example/mcp' }), { url: 'is not allowed for the stdio transport' }],
      [
        'stdio with headers',
        () => everything({ headers: { 'X-A': { value: 'b' } } }),
        { headers: 'are not allowed for the stdio transport' },
      ],
      [
        'http without url',
        () => ({ slug: uniq('v'), name: 'n', transport: 'streamable-http' }),
        { url: 'is required for the streamable-http transport' },
      ],
      ['http with command', () => httpServer({ command: 'node' }), { command: 'is not allowed for the streamable-http transport' }],
      ['http with args', () => httpServer({ args: ['x'] }), { args: 'are not allowed for the streamable-http transport' }],
      ['http with network egress', () => httpServer({ network: 'egress' }), { network: 'must be none for the streamable-http transport' }],
      [
        'sse with network egress',
        () => httpServer({ transport: 'sse', network: 'egress' }),
        { network: 'must be none for the sse transport' },
      ],
      ['an unknown network policy', () => everything({ network: 'host' }), { network: '' }],
      ['sse with env', () => httpServer({ transport: 'sse', env: { A: { value: 'b' } } }), { env: 'is not allowed for the sse transport' }],
      ['a non-http url', () => httpServer({ url: 'ftp://files.example/mcp' }), { url: 'must be an http(s) URL, not ftp' }],
      ['a relative url', () => httpServer({ url: '/mcp' }), { url: 'must be an absolute http(s) URL' }],
      ['credentials in the url', () => httpServer({ url: 'https://user:pw@x.example/mcp' }), { url: 'must not contain credentials' }],
      [
        'a bad env name',
        () => everything({ env: { '1BAD': { value: 'x' }, 'A-B': { value: 'y' } } }),
        {
          'env.1BAD': 'is not a valid environment variable name',
          'env.A-B': 'is not a valid environment variable name',
        },
      ],
      ['a NUL in an env value', () => everything({ env: { A: { value: 'x\u0000y' } } }), { 'env.A.value': 'must not contain NUL' }],
      [
        'a bad header name',
        () => httpServer({ headers: { 'Bad Header': { value: 'x' } } }),
        { 'headers.Bad Header': 'is not a valid HTTP header name' },
      ],
      [
        'gateway-owned headers',
        () =>
          httpServer({
            headers: {
              host: { value: 'x' },
              'Content-Length': { value: '1' },
              Connection: { value: 'close' },
              'Transfer-Encoding': { value: 'chunked' },
              'MCP-Session-Id': { value: 's' },
            },
          }),
        {
          'headers.host': 'cannot be set',
          'headers.Content-Length': 'cannot be set',
          'headers.Connection': 'cannot be set',
          'headers.Transfer-Encoding': 'cannot be set',
          'headers.MCP-Session-Id': 'cannot be set',
        },
      ],
      [
        'a header twice in different case',
        () => httpServer({ headers: { 'X-Key': { value: 'a' }, 'x-key': { value: 'b' } } }),
        {
          'headers.x-key': 'duplicates header X-Key',
        },
      ],
      [
        'a line break in a header value',
        () => httpServer({ headers: { 'X-A': { value: 'a\r\nX-Injected: 1' } } }),
        {
          'headers.X-A.value': 'must not contain control characters',
        },
      ],
      [
        'a value source with both value and secret',
        () => httpServer({ headers: { 'X-A': { value: 'a', secret: 'B' } } }),
        { 'headers.X-A': '' },
      ],
      ['a timeout below 1 s', () => everything({ timeoutMs: 999 }), { timeoutMs: 'at least 1000' }],
      ['a timeout above 5 min', () => everything({ timeoutMs: 300_001 }), { timeoutMs: 'at most 300000' }],
      ['a fractional timeout', () => everything({ timeoutMs: 1500.5 }), { timeoutMs: 'must be an integer' }],
      ['a bad slug', () => everything({ slug: 'Bad_Slug' }), { slug: 'lowercase' }],
      ['a slug with --', () => everything({ slug: 'a--b' }), { slug: 'consecutive hyphens' }],
      ['an unknown transport', () => everything({ transport: 'websocket' }), { transport: '' }],
      ['an empty name', () => everything({ name: '   ' }), { name: 'must not be empty' }],
      ['duplicate tags', () => everything({ tags: ['a', 'a'] }), { tags: 'must not contain duplicates' }],
      ['args that are not strings', () => everything({ args: [1] }), { 'args.0': '' }],
      ['an unknown field', () => everything({ owner: 'me' }), { '': 'unknown field: owner' }],
    ];
    it.each(matrix)('answers 400 with field errors for %s', async (_name, body, expected) => {
      const res = await api.req().post(serversUrl()).set(t.owner.auth).send(body());
      expectProblem(res, 400, 'validation_failed');
      const errors = res.body.errors as Array<{ path: string; message: string }>;
      expect(errors.map((e) => e.path).sort()).toEqual(Object.keys(expected).sort());
      for (const [path, fragment] of Object.entries(expected)) {
        expect(errors.find((e) => e.path === path)!.message).toContain(fragment);
      }
    });

    it('answers 400 for a body that is not an object', async () => {
      const res = await api.req().post(serversUrl()).set(t.owner.auth).send([1, 2]);
      expectProblem(res, 400, 'validation_failed');
    });

    it('lets owner and admin create; refuses member and billing (403), strangers (404) and anonymous callers (401)', async () => {
      await create(everything(), t.owner);
      await create(everything(), t.admin);
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().post(serversUrl()).set(user.auth).send(everything()), 403, 'forbidden');
      }
      expectProblem(await api.req().post(serversUrl()).set(t.stranger.auth).send(everything()), 404, 'not_found');
      expectProblem(await api.req().post(serversUrl('no-such-org-anywhere')).set(t.owner.auth).send(everything()), 404, 'not_found');
      expectProblem(await api.req().post(serversUrl()).send(everything()), 401, 'unauthenticated');
    });
  });

  // ---------------------------------------------------------------- GET

  describe('GET /v1/orgs/:org/servers[/:id]', () => {
    let a: ServerBody;
    let b: ServerBody;
    beforeAll(async () => {
      a = await create(everything({ slug: uniq('aaa'), tags: ['alpha'] }));
      b = await create(
        httpServer({ slug: uniq('bbb'), tags: ['beta'], enabled: false, headers: { 'X-Token': { value: 'hidden-literal' } } }),
      );
    });

    it('lists the org servers for owner, admin and member, sorted by slug, with masked literals', async () => {
      for (const user of [t.owner, t.admin, t.member]) {
        const res = await api.req().get(serversUrl()).set(user.auth).expect(200);
        const items = res.body.items as ServerBody[];
        const slugs = items.map((s) => s.slug);
        expect(slugs).toEqual([...slugs].sort());
        expect(slugs).toEqual(expect.arrayContaining([a.slug, b.slug]));
        expect(items.find((s) => s.id === b.id)!.headers).toEqual({ 'X-Token': { value: MASK } });
        expect(JSON.stringify(res.body)).not.toContain('hidden-literal');
      }
    });

    it('filters by tag and by enabled', async () => {
      const alpha = await api.req().get(serversUrl()).query({ tag: 'alpha' }).set(t.member.auth).expect(200);
      expect(alpha.body.items.map((s: ServerBody) => s.id)).toContain(a.id);
      expect(alpha.body.items.every((s: ServerBody) => s.tags.includes('alpha'))).toBe(true);
      const disabled = await api.req().get(serversUrl()).query({ enabled: 'false' }).set(t.member.auth).expect(200);
      expect(disabled.body.items.map((s: ServerBody) => s.id)).toContain(b.id);
      expect(disabled.body.items.every((s: ServerBody) => !s.enabled)).toBe(true);
    });

    it('answers 400 for a bad or unknown query parameter', async () => {
      const bad = await api.req().get(serversUrl()).query({ enabled: 'maybe' }).set(t.owner.auth);
      expectProblem(bad, 400, 'validation_failed');
      expect(paths(bad)).toEqual(['query.enabled']);
      expectProblem(await api.req().get(serversUrl()).query({ sort: 'slug' }).set(t.owner.auth), 400, 'validation_failed');
    });

    it('gets one server for owner, admin and member', async () => {
      for (const user of [t.owner, t.admin, t.member]) {
        const res = await api.req().get(serverUrl(a.id)).set(user.auth).expect(200);
        expect(res.body).toMatchObject({ id: a.id, slug: a.slug, health: 'unknown', endpoints: a.endpoints });
      }
      // Ids are case-insensitive UUIDs.
      await api.req().get(serverUrl(a.id.toUpperCase())).set(t.member.auth).expect(200);
    });

    it('refuses billing (403) and strangers (404), and never leaks another org’s servers', async () => {
      expectProblem(await api.req().get(serversUrl()).set(t.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(serverUrl(a.id)).set(t.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().get(serversUrl()).set(t.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().get(serverUrl(a.id)).set(t.stranger.auth), 404, 'not_found');
      // The stranger asks for our server through their own org: 404, not 403.
      const cross = await api.req().get(serverUrl(a.id, t.strangerOrg.slug)).set(t.stranger.auth);
      expectProblem(cross, 404, 'not_found');
      const theirs = await api.req().get(serversUrl(t.strangerOrg.slug)).set(t.stranger.auth).expect(200);
      expect(theirs.body.items.map((s: ServerBody) => s.id)).not.toContain(a.id);
      expectProblem(await api.req().get(serversUrl()), 401, 'unauthenticated');
    });

    it('answers 404 for a bad UUID and for an unknown id', async () => {
      const bad = await api.req().get(serverUrl('not-a-uuid')).set(t.owner.auth);
      expectProblem(bad, 404, 'not_found');
      expect(bad.body.detail).toBe('Server not found');
      expectProblem(await api.req().get(serverUrl('00000000-0000-4000-8000-000000000000')).set(t.owner.auth), 404, 'not_found');
    });
  });

  // ---------------------------------------------------------------- PATCH

  describe('PATCH /v1/orgs/:org/servers/:id', () => {
    it('updates fields (admin), logs before/after and recompiles the snapshot', async () => {
      const s = await create(everything({ tags: ['x'] }));
      const before = await snapshotVersion(t.org.id);
      const res = await api
        .req()
        .patch(serverUrl(s.id))
        .set(t.admin.auth)
        .send({ name: 'Renamed', description: 'now described', tags: ['y', 'z'], timeoutMs: 60_000, enabled: false })
        .expect(200);
      expect(res.body).toMatchObject({
        id: s.id,
        name: 'Renamed',
        description: 'now described',
        tags: ['y', 'z'],
        timeoutMs: 60_000,
        enabled: false,
      });
      const [entry] = await activity(t.org.id, 'server.updated', s.id);
      expect(entry).toMatchObject({
        actorId: t.admin.id,
        before: { name: 'Everything', tags: ['x'], enabled: true },
        after: { name: 'Renamed', tags: ['y', 'z'], enabled: false },
      });
      expect(await snapshotVersion(t.org.id)).toBe(before + 1);
      expect((await redisSnapshot(t.org.id)).servers.map((x) => x.id)).not.toContain(s.id);
      // description: null clears it.
      const cleared = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ description: null }).expect(200);
      expect(cleared.body.description).toBeNull();
    });

    it('keeps a masked literal when the masked value is sent back, and refuses the mask for a new name', async () => {
      const s = await create(httpServer({ headers: { Authorization: { value: 'Bearer keep-me' }, 'X-Plain': { value: 'p' } } }));
      expect(s.headers.Authorization).toEqual({ value: MASK });
      // A dashboard sends the whole map back with one change.
      const res = await api
        .req()
        .patch(serverUrl(s.id))
        .set(t.owner.auth)
        .send({ headers: { ...s.headers, 'X-Plain': { value: 'changed' } } })
        .expect(200);
      expect(res.body.headers).toEqual({ Authorization: { value: MASK }, 'X-Plain': { value: 'changed' } });
      const row = await api.prisma.db.mcpServer.findUniqueOrThrow({ where: { id: s.id } });
      expect(row.headers).toEqual({ Authorization: { value: 'Bearer keep-me' }, 'X-Plain': { value: 'changed' } });

      const bad = await api
        .req()
        .patch(serverUrl(s.id))
        .set(t.owner.auth)
        .send({ headers: { 'X-Api-Key': { value: MASK } } });
      expectProblem(bad, 400, 'validation_failed');
      expect(paths(bad)).toEqual(['headers.X-Api-Key.value']);
    });

    it('switches transport: the old transport’s fields are cleared unless the patch sets them', async () => {
      const s = await create(everything({ env: { MODE: { value: 'x' } } }));
      const res = await api
        .req()
        .patch(serverUrl(s.id))
        .set(t.owner.auth)
        .send({ transport: 'streamable-http', url: HTTP_URL })
        .expect(200);
      expect(res.body).toMatchObject({ transport: 'streamable-http', url: HTTP_URL, command: null, args: [], env: {} });
      const back = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ transport: 'stdio' });
      expectProblem(back, 400, 'validation_failed');
      expect(back.body.errors).toEqual([{ path: 'command', message: 'is required for the stdio transport' }]);
      const ok = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ transport: 'stdio', command: 'node' }).expect(200);
      expect(ok.body).toMatchObject({ transport: 'stdio', command: 'node', url: null, headers: {} });
    });

    it('validates the merged config', async () => {
      const s = await create(everything());
      const url = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ url: 'https://x.example/mcp' });
      expectProblem(url, 400, 'validation_failed');
      expect(paths(url)).toEqual(['url']);
      const cmd = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ command: null });
      expectProblem(cmd, 400, 'validation_failed');
      expect(paths(cmd)).toEqual(['command']);
      const missing = await api
        .req()
        .patch(serverUrl(s.id))
        .set(t.owner.auth)
        .send({ env: { T: { secret: 'PATCH_MISSING' } } });
      expectProblem(missing, 400, 'validation_failed');
      expect(missing.body.detail).toContain('PATCH_MISSING');
      const empty = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({});
      expectProblem(empty, 400, 'validation_failed');
      expect(empty.body.detail).toContain('nothing to update');
      const unknown = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ catalog: {} });
      expectProblem(unknown, 400, 'validation_failed');
      expect(unknown.body.detail).toContain('unknown field: catalog');
      expectProblem(await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ timeoutMs: 10 }), 400, 'validation_failed');
    });

    it('answers 409 when renaming onto a slug in use', async () => {
      const [one, two] = [await create(everything()), await create(everything())];
      const res = await api.req().patch(serverUrl(two.id)).set(t.owner.auth).send({ slug: one.slug });
      expectProblem(res, 409, 'conflict');
      // Keeping its own slug is not a conflict.
      await api.req().patch(serverUrl(two.id)).set(t.owner.auth).send({ slug: two.slug, name: 'same' }).expect(200);
    });

    it('refuses member, billing (403), strangers and other orgs’ servers (404), bad ids (404)', async () => {
      const s = await create(everything());
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(serverUrl(s.id)).set(user.auth).send({ name: 'x' }), 403, 'forbidden');
      }
      expectProblem(await api.req().patch(serverUrl(s.id)).set(t.stranger.auth).send({ name: 'x' }), 404, 'not_found');
      const cross = await api.req().patch(serverUrl(s.id, t.strangerOrg.slug)).set(t.stranger.auth).send({ name: 'hijack' });
      expectProblem(cross, 404, 'not_found');
      expectProblem(await api.req().patch(serverUrl('123')).set(t.owner.auth).send({ name: 'x' }), 404, 'not_found');
      const row = await api.prisma.db.mcpServer.findUniqueOrThrow({ where: { id: s.id } });
      expect(row.name).toBe('Everything');
    });
  });

  // ---------------------------------------------------------------- network policy

  describe('network policy (stdio sandbox)', () => {
    it('round-trips egress: view, activity log, compiled snapshot in Redis; back to none', async () => {
      const s = await create(everything({ network: 'egress' }), t.admin);
      expect(s.network).toBe('egress');
      expect((await api.req().get(serverUrl(s.id)).set(t.member.auth).expect(200)).body.network).toBe('egress');
      const [created] = await activity(t.org.id, 'server.created', s.id);
      expect(created!.after).toMatchObject({ network: 'egress' });
      expect((await redisSnapshot(t.org.id)).servers.find((x) => x.id === s.id)).toMatchObject({ network: 'egress' });

      const res = await api.req().patch(serverUrl(s.id)).set(t.admin.auth).send({ network: 'none' }).expect(200);
      expect(res.body.network).toBe('none');
      const [updated] = await activity(t.org.id, 'server.updated', s.id);
      expect(updated).toMatchObject({ before: { network: 'egress' }, after: { network: 'none' } });
      expect((await redisSnapshot(t.org.id)).servers.find((x) => x.id === s.id)).toMatchObject({ network: 'none' });
    });

    it('defaults to none, for stdio and HTTP servers alike, and compiles it so', async () => {
      const stdio = await create(everything());
      const http = await create(httpServer());
      expect([stdio.network, http.network]).toEqual(['none', 'none']);
      const snap = await redisSnapshot(t.org.id);
      expect(snap.servers.filter((x) => [stdio.id, http.id].includes(x.id)).map((x) => x.network)).toEqual(['none', 'none']);
      // An HTTP server may say none explicitly.
      expect((await create(httpServer({ network: 'none' }))).network).toBe('none');
    });

    it('refuses egress on an HTTP server in a patch too, and resets it when a stdio server turns HTTP', async () => {
      const http = await create(httpServer());
      const bad = await api.req().patch(serverUrl(http.id)).set(t.owner.auth).send({ network: 'egress' });
      expectProblem(bad, 400, 'validation_failed');
      expect(paths(bad)).toEqual(['network']);
      // Switching to HTTP while asking for egress is refused as well.
      const s = await create(everything({ network: 'egress' }));
      const both = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ transport: 'sse', url: SSE_URL, network: 'egress' });
      expectProblem(both, 400, 'validation_failed');
      expect(paths(both)).toEqual(['network']);
      const switched = await api.req().patch(serverUrl(s.id)).set(t.owner.auth).send({ transport: 'sse', url: SSE_URL }).expect(200);
      expect(switched.body).toMatchObject({ transport: 'sse', network: 'none', command: null });
    });

    it('lets only owner and admin change it (403 for member and billing, 404 for strangers)', async () => {
      const s = await create(everything());
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(serverUrl(s.id)).set(user.auth).send({ network: 'egress' }), 403, 'forbidden');
      }
      expectProblem(await api.req().patch(serverUrl(s.id)).set(t.stranger.auth).send({ network: 'egress' }), 404, 'not_found');
      expect((await api.req().get(serverUrl(s.id)).set(t.owner.auth).expect(200)).body.network).toBe('none');
    });
  });

  // ---------------------------------------------------------------- isolation

  describe('isolation (who shares the upstream)', () => {
    it('round-trips shared: view, activity log, compiled snapshot in Redis; null goes back to the default', async () => {
      const s = await create(everything({ isolation: 'shared' }), t.admin);
      expect(s.isolation).toBe('shared');
      expect((await api.req().get(serverUrl(s.id)).set(t.member.auth).expect(200)).body.isolation).toBe('shared');
      const [created] = await activity(t.org.id, 'server.created', s.id);
      expect(created!.after).toMatchObject({ isolation: 'shared' });
      expect((await redisSnapshot(t.org.id)).servers.find((x) => x.id === s.id)).toMatchObject({ isolation: 'shared' });

      const res = await api.req().patch(serverUrl(s.id)).set(t.admin.auth).send({ isolation: 'per-session' }).expect(200);
      expect(res.body.isolation).toBe('per-session');
      const [updated] = await activity(t.org.id, 'server.updated', s.id);
      expect(updated).toMatchObject({ before: { isolation: 'shared' }, after: { isolation: 'per-session' } });
      expect((await redisSnapshot(t.org.id)).servers.find((x) => x.id === s.id)).toMatchObject({ isolation: 'per-session' });

      const reset = await api.req().patch(serverUrl(s.id)).set(t.admin.auth).send({ isolation: null }).expect(200);
      expect(reset.body.isolation).toBe('per-key');
      expect((await redisSnapshot(t.org.id)).servers.find((x) => x.id === s.id)).toMatchObject({ isolation: 'per-key' });
    });

    it('defaults per transport (per-key stdio, per-session HTTP/SSE), compiles it so and follows a transport switch', async () => {
      const stdio = await create(everything());
      const http = await create(httpServer());
      const sse = await create(httpServer({ transport: 'sse', url: SSE_URL }));
      expect([stdio.isolation, http.isolation, sse.isolation]).toEqual(['per-key', 'per-session', 'per-session']);
      const snap = await redisSnapshot(t.org.id);
      const ids = [stdio.id, http.id, sse.id];
      expect(ids.map((id) => snap.servers.find((x) => x.id === id)?.isolation)).toEqual(['per-key', 'per-session', 'per-session']);
      // The default is the transport's, not a stored copy: switching transport switches it.
      const switched = await api.req().patch(serverUrl(stdio.id)).set(t.owner.auth).send({ transport: 'sse', url: SSE_URL }).expect(200);
      expect(switched.body.isolation).toBe('per-session');
      // A chosen mode stays across a switch.
      const chosen = await create(httpServer({ isolation: 'per-key' }));
      const back = await api
        .req()
        .patch(serverUrl(chosen.id))
        .set(t.owner.auth)
        .send({ transport: 'stdio', url: null, headers: {}, command: process.execPath, args: [EVERYTHING, 'stdio'] })
        .expect(200);
      expect(back.body.isolation).toBe('per-key');
    });

    it('refuses an unknown mode, and lets only owner and admin change it (403 member/billing, 404 strangers)', async () => {
      const bad = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send(everything({ isolation: 'per-org' }));
      expectProblem(bad, 400, 'validation_failed');
      expect(paths(bad)).toEqual(['isolation']);
      const s = await create(everything());
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(serverUrl(s.id)).set(user.auth).send({ isolation: 'shared' }), 403, 'forbidden');
      }
      expectProblem(await api.req().patch(serverUrl(s.id)).set(t.stranger.auth).send({ isolation: 'shared' }), 404, 'not_found');
      expect((await api.req().get(serverUrl(s.id)).set(t.owner.auth).expect(200)).body.isolation).toBe('per-key');
    });
  });

  // ---------------------------------------------------------------- allowed launchers

  describe('stdio launchers (STDIO_ALLOWED_COMMANDS, default npx,uvx,node,python3,deno)', () => {
    const DEFAULT_LAUNCHERS = ['npx', 'uvx', 'node', 'python3', 'deno'];

    /** The 422 every refusal answers, naming the command and the launchers. */
    function expectNotAllowed(res: request.Response, command: string, allowed = DEFAULT_LAUNCHERS) {
      expectProblem(res, 422, 'command_not_allowed');
      expect(res.body.detail).toContain(`"${command}"`);
      for (const launcher of allowed) expect(res.body.detail).toContain(launcher);
      expect(res.body).toMatchObject({ command, allowedCommands: allowed });
    }

    it('accepts a launcher by name and by its path in a system bin dir (owner and admin)', async () => {
      expect(process.execPath).toMatch(/^\/(usr\/(local\/)?)?bin\/node$/);
      for (const user of [t.owner, t.admin]) {
        expect((await create(everything(), user)).command).toBe(process.execPath);
        expect((await create(script('1', { command: 'npx' }), user)).command).toBe('npx');
        expect((await create(script('1', { command: '/usr/local/bin/uvx' }), user)).command).toBe('/usr/local/bin/uvx');
      }
    });

    it.each([
      ['a shell', 'bash'],
      ['a shell by path', '/bin/sh'],
      ['a launcher outside the system bin dirs', '/tmp/node'],
      ['a launcher by relative path', './node'],
      ['a look-alike name', 'nodejs'],
    ])('refuses %s on create with 422 command_not_allowed, for owner and admin alike', async (_name, command) => {
      const before = await api.prisma.db.mcpServer.count({ where: { orgId: t.org.id } });
      for (const user of [t.owner, t.admin]) {
        expectNotAllowed(await api.req().post(serversUrl()).set(user.auth).send(script('1', { command })), command);
      }
      expect(await api.prisma.db.mcpServer.count({ where: { orgId: t.org.id } })).toBe(before);
    });

    it('answers 403 to member and billing before looking at the command', async () => {
      for (const user of [t.member, t.billing]) {
        expectProblem(
          await api
            .req()
            .post(serversUrl())
            .set(user.auth)
            .send(script('1', { command: 'bash' })),
          403,
          'forbidden',
        );
      }
    });

    it('reports field errors (400) before the launcher (422)', async () => {
      const res = await api
        .req()
        .post(serversUrl())
        .set(t.owner.auth)
        .send(script('1', { command: 'bash', timeoutMs: 1 }));
      expectProblem(res, 400, 'validation_failed');
    });

    it('refuses a patch that sets a disallowed command, or switches to stdio with one', async () => {
      const s = await create(everything());
      expectNotAllowed(await api.req().patch(serverUrl(s.id)).set(t.admin.auth).send({ command: 'sh' }), 'sh');
      const http = await create(httpServer());
      const toStdio = await api.req().patch(serverUrl(http.id)).set(t.owner.auth).send({ transport: 'stdio', command: '/usr/bin/perl' });
      expectNotAllowed(toStdio, '/usr/bin/perl');
      const row = await api.prisma.db.mcpServer.findUniqueOrThrow({ where: { id: http.id } });
      expect(row).toMatchObject({ transport: 'streamable_http', command: null });
      for (const user of [t.member, t.billing]) {
        expectProblem(await api.req().patch(serverUrl(s.id)).set(user.auth).send({ command: 'sh' }), 403, 'forbidden');
      }
      // An allowed one is fine both ways.
      await api.req().patch(serverUrl(http.id)).set(t.owner.auth).send({ transport: 'stdio', command: 'python3' }).expect(200);
      await api.req().patch(serverUrl(s.id)).set(t.admin.auth).send({ command: '/bin/node' }).expect(200);
    });

    it('still lets a server whose launcher was withdrawn be renamed or disabled, but not given it again', async () => {
      // Stored before the operator narrowed the list (inserted directly: the API would refuse it).
      const row = await api.prisma.db.mcpServer.create({
        data: { orgId: t.org.id, slug: uniq('legacy'), name: 'Legacy', transport: 'stdio', command: 'ruby', args: ['server.rb'] },
      });
      const res = await api.req().patch(serverUrl(row.id)).set(t.owner.auth).send({ name: 'Legacy (retired)', enabled: false }).expect(200);
      expect(res.body).toMatchObject({ command: 'ruby', enabled: false });
      expectNotAllowed(await api.req().patch(serverUrl(row.id)).set(t.owner.auth).send({ command: 'ruby' }), 'ruby');
    });

    describe('with STDIO_ALLOWED_COMMANDS=node,/opt/mcp/run', () => {
      let narrow: Api;
      beforeAll(async () => {
        narrow = await startApi({ STDIO_ALLOWED_COMMANDS: 'node,/opt/mcp/run' });
      });
      afterAll(() => narrow.close());

      it('allows exactly the operator’s launchers and lists them in the refusal', async () => {
        const post = (command: string) => narrow.req().post(serversUrl()).set(t.owner.auth).send(script('1', { command }));
        await post('/opt/mcp/run').expect(201);
        await post('/usr/bin/node').expect(201);
        expectNotAllowed(await post('npx'), 'npx', ['node', '/opt/mcp/run']);
        // An absolute-path entry does not extend to other directories.
        expectNotAllowed(await post('/usr/bin/run'), '/usr/bin/run', ['node', '/opt/mcp/run']);
      });
    });

    describe('with STDIO_ALLOWED_COMMANDS empty', () => {
      let none: Api;
      beforeAll(async () => {
        none = await startApi({ STDIO_ALLOWED_COMMANDS: '' });
      });
      afterAll(() => none.close());

      it('refuses every stdio command but still takes HTTP servers', async () => {
        const res = await none.req().post(serversUrl()).set(t.owner.auth).send(everything());
        expectProblem(res, 422, 'command_not_allowed');
        expect(res.body.allowedCommands).toEqual([]);
        expect(res.body.detail).toContain('this gateway runs no stdio servers');
        await none.req().post(serversUrl()).set(t.owner.auth).send(httpServer()).expect(201);
      });
    });
  });

  // ---------------------------------------------------------------- DELETE

  describe('DELETE /v1/orgs/:org/servers/:id', () => {
    it('deletes (owner and admin), logs the config it had, and drops it from the snapshot', async () => {
      for (const user of [t.owner, t.admin]) {
        const s = await create(everything({ env: { API_TOKEN: { value: 'delete-me-literal' } } }));
        expect((await redisSnapshot(t.org.id)).servers.map((x) => x.id)).toContain(s.id);
        await api.req().delete(serverUrl(s.id)).set(user.auth).expect(204);
        expectProblem(await api.req().get(serverUrl(s.id)).set(t.owner.auth), 404, 'not_found');
        const [entry] = await activity(t.org.id, 'server.deleted', s.id);
        expect(entry).toMatchObject({ actorId: user.id, before: { slug: s.slug, env: { API_TOKEN: { value: MASK } } }, after: null });
        expect(JSON.stringify(entry)).not.toContain('delete-me-literal');
        expect((await redisSnapshot(t.org.id)).servers.map((x) => x.id)).not.toContain(s.id);
        expectProblem(await api.req().delete(serverUrl(s.id)).set(user.auth), 404, 'not_found');
      }
    });

    it('refuses member, billing (403), strangers and cross-tenant ids (404), bad ids (404)', async () => {
      const s = await create(everything());
      for (const user of [t.member, t.billing]) expectProblem(await api.req().delete(serverUrl(s.id)).set(user.auth), 403, 'forbidden');
      expectProblem(await api.req().delete(serverUrl(s.id)).set(t.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().delete(serverUrl(s.id, t.strangerOrg.slug)).set(t.stranger.auth), 404, 'not_found');
      expectProblem(await api.req().delete(serverUrl('zzz')).set(t.owner.auth), 404, 'not_found');
      await api.req().get(serverUrl(s.id)).set(t.owner.auth).expect(200);
    });
  });

  // ---------------------------------------------------------------- probe

  describe('POST /v1/orgs/:org/servers/:id/probe', () => {
    // What a probe finds (catalogues, failures, timeouts, disabled servers) is tested where a
    // gateway runs: apps/gateway/test/probe.e2e-spec.ts. Here: what the API does on its own.

    it('answers 503 probe_unavailable within the pickup timeout when no gateway runs, and takes the request back', async () => {
      const s = await create(everything());
      const started = Date.now();
      const res = await probe(s.id);
      const took = Date.now() - started;
      expectProblem(res, 503, 'probe_unavailable');
      expect(res.body.detail).toBe('no gateway worker took the probe within 0.7 s; is a gateway running?');
      expect(took).toBeGreaterThanOrEqual(PICKUP_MS);
      expect(took).toBeLessThan(PICKUP_MS + 2000);
      // No worker started later may pick it up, and no outcome is recorded.
      expect(await api.redis.client.llen(redisKeys.probeRequests)).toBe(0);
      const got = await api.req().get(serverUrl(s.id)).set(t.owner.auth).expect(200);
      expect(got.body).toMatchObject({ health: 'unknown', lastProbeAt: null, lastProbeError: null });
      expect(await activity(t.org.id, 'server.probed', s.id)).toHaveLength(0);
    });

    it('never runs the command on the API host', async () => {
      const marker = join(tmp, 'ran-on-the-api');
      // An allowed launcher (node): /bin/sh is refused at registration now (STDIO_ALLOWED_COMMANDS).
      const s = await create(script(`require("node:fs").writeFileSync(${JSON.stringify(marker)}, "")`));
      expectProblem(await probe(s.id), 503, 'probe_unavailable');
      await new Promise((r) => setTimeout(r, 500));
      expect(existsSync(marker)).toBe(false);
    });

    it('allows one probe of a server at a time (409)', async () => {
      const s = await create(everything());
      const first = probe(s.id).then((r) => r);
      await new Promise((r) => setTimeout(r, 200));
      expectProblem(await probe(s.id), 409, 'conflict');
      expectProblem(await first, 503, 'probe_unavailable');
    });

    it('reports a secret that disappeared since the server was saved, without asking a gateway', async () => {
      // Its own org: an enabled server referencing a missing secret makes the snapshot uncompilable.
      const owner = await signup(api, 'srv-gone');
      const org = await createOrg(api, owner);
      await addSecret(org.id, 'GONE', 'v');
      const s = await create(everything({ env: { GONE_TOKEN: { secret: 'GONE' } } }), owner, org.slug);
      await api.prisma.db.secret.deleteMany({ where: { orgId: org.id, name: 'GONE' } });
      const res = await probe(s.id, owner, org.slug);
      expectProblem(res, 502, 'probe_failed');
      expect(res.body.detail).toBe('secret "GONE" referenced by env.GONE_TOKEN does not exist in this organisation');
      const got = await api.req().get(serverUrl(s.id, org.slug)).set(owner.auth).expect(200);
      expect(got.body).toMatchObject({ health: 'error', lastProbeError: res.body.detail });
    });

    it('refuses member and billing (403), strangers and cross-tenant ids (404), bad ids (404)', async () => {
      const s = await create(everything());
      for (const user of [t.member, t.billing]) expectProblem(await probe(s.id, user), 403, 'forbidden');
      expectProblem(await probe(s.id, t.stranger), 404, 'not_found');
      expectProblem(await probe(s.id, t.stranger, t.strangerOrg.slug), 404, 'not_found');
      expectProblem(await api.req().post(probeUrl('nope')).set(t.owner.auth), 404, 'not_found');
      expectProblem(await api.req().post(probeUrl('00000000-0000-4000-8000-000000000000')).set(t.owner.auth), 404, 'not_found');
      expect(await activity(t.org.id, 'server.probed', s.id)).toHaveLength(0);
      expect(await api.redis.client.llen(redisKeys.probeRequests)).toBe(0);
    });

    describe('against a stand-in gateway worker (the wire format, through the real Redis)', () => {
      /** Takes the next probe request off the list, as a worker would. */
      async function takeRequest(): Promise<ProbeRequest> {
        const worker = api.redis.client.duplicate({ enableOfflineQueue: true });
        try {
          const popped = await worker.blpop(redisKeys.probeRequests, 5);
          if (!popped) throw new Error('no probe request arrived');
          return ProbeRequest.parse(JSON.parse(popped[1]));
        } finally {
          worker.disconnect();
        }
      }
      const answer = (id: string, ...replies: Array<ProbeReply | string>) =>
        api.redis.client.rpush(redisKeys.probeReply(id), ...replies.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))));
      const CATALOG = {
        protocolVersion: '2025-06-18',
        serverInfo: { name: 'stand-in', version: '1.0.0' },
        capabilities: { tools: {} },
        instructions: null,
        tools: [{ name: 'echo', inputSchema: { type: 'object' } }],
        prompts: [],
        resources: [],
        resourceTemplates: [],
      };

      it('sends the stored config of a disabled server with only its own secrets, still sealed, and ignores malformed replies', async () => {
        await addSecret(t.org.id, 'PROBE_USED', 'used-secret-value-1');
        await addSecret(t.org.id, 'PROBE_UNUSED', 'unused-secret-value-2');
        const s = await create(everything({ enabled: false, env: { TOKEN: { secret: 'PROBE_USED' }, MODE: { value: 'x' } } }));
        const taken = takeRequest();
        const pending = probe(s.id).then((r) => r);
        const req = await taken;
        expect(req).toMatchObject({
          schemaVersion: 1,
          orgId: t.org.id,
          server: { id: s.id, slug: s.slug, transport: 'stdio', args: [EVERYTHING, 'stdio'], network: 'none' },
        });
        expect(req.server.env).toEqual({ MODE: { value: 'x' }, TOKEN: { secret: 'PROBE_USED' } });
        expect(Object.keys(req.secrets)).toEqual(['PROBE_USED']);
        expect(JSON.stringify(req)).not.toContain('used-secret-value-1');
        expect(openSecret(api.env.TOOLGATE_SECRET_KEY, t.org.id, req.secrets.PROBE_USED!)).toBe('used-secret-value-1');
        expect(req.deadline - Date.now()).toBeLessThanOrEqual(api.env.PROBE_TIMEOUT_MS);
        expect(req.deadline - Date.now()).toBeGreaterThan(api.env.PROBE_TIMEOUT_MS - 5000);

        const other = '00000000-0000-4000-8000-000000000000';
        await answer(req.id, 'not json', { kind: 'accepted', id: other, workerId: 'w' }, { kind: 'accepted', id: req.id, workerId: 'w' });
        await answer(req.id, { kind: 'result', id: req.id, catalog: CATALOG });
        const res = await pending;
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ enabled: false, health: 'ok', catalog: CATALOG });
        // The reply list is cleaned up once read.
        expect(await api.redis.client.exists(redisKeys.probeReply(req.id))).toBe(0);
      });

      it('stores and answers 502 with the worker’s error message', async () => {
        const s = await create(everything());
        const taken = takeRequest();
        const pending = probe(s.id).then((r) => r);
        const req = await taken;
        await answer(req.id, { kind: 'accepted', id: req.id, workerId: 'w' }, { kind: 'error', id: req.id, message: 'it broke' });
        const res = await pending;
        expectProblem(res, 502, 'probe_failed');
        expect(res.body).toMatchObject({ detail: 'it broke', serverId: s.id });
        const [entry] = await activity(t.org.id, 'server.probed', s.id);
        expect(entry).toMatchObject({ actorId: t.owner.id, after: { ok: false, error: 'it broke' } });
      });

      it('gives up on a worker that took the probe but sends no outcome (502, stored as timed out)', async () => {
        const quick = await startApi({ PROBE_TIMEOUT_MS: '500', PROBE_PICKUP_TIMEOUT_MS: String(PICKUP_MS) });
        try {
          const s = await create(everything());
          const taken = takeRequest();
          const pending = probe(s.id, t.owner, t.org.slug, quick).then((r) => r);
          const req = await taken;
          await answer(req.id, { kind: 'accepted', id: req.id, workerId: 'w' });
          const res = await pending;
          expectProblem(res, 502, 'probe_failed');
          expect(res.body.detail).toBe('timed out after 0.5 s: the gateway worker took the probe but sent no outcome');
        } finally {
          await quick.close();
        }
      });
    });

    it('answers 503 probe_unavailable when Redis is unreachable', async () => {
      const s = await create(everything());
      const offline = await startApi({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
      try {
        const res = await probe(s.id, t.owner, t.org.slug, offline);
        expectProblem(res, 503, 'probe_unavailable');
        expect(res.body.detail).toContain('Redis is unreachable');
      } finally {
        await offline.close();
      }
    });
  });

  it('leaves no child processes behind', () => {
    expect(childProcesses()).toEqual([]);
  });
});
