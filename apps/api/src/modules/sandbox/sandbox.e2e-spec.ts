import { GATEWAY_STATUS_STALE_MS, type GatewayStatus, redisKeys } from '@toolgate/contracts';
import { type Api, expectProblem, startApi } from '../../../test/harness';
import { type PrivateRedis, startPrivateRedis } from '../../../test/private-redis';
import { type Team, team } from '../members/members.fixtures';

/** A gateway's report as the gateway writes it (field = workerId, value = JSON). */
function report(workerId: string, sandbox: Partial<GatewayStatus['sandbox']> = {}, ageMs = 1000): GatewayStatus {
  return {
    schemaVersion: 1,
    workerId,
    sandbox: {
      mode: 'bwrap',
      ok: true,
      detail: 'bwrap 0.8.0, user namespaces',
      egress: { ok: true, detail: 'slirp4netns 1.2.0' },
      limits: 'rlimit',
      ...sandbox,
    },
    at: new Date(Date.now() - ageMs).toISOString(),
  };
}

describe('GET /v1/orgs/:org/sandbox', () => {
  // A Redis of its own: the status hash is global, and other suites' gateways may write theirs.
  let redis: PrivateRedis;
  let api: Api;
  let t: Team;
  const url = () => `/v1/orgs/${t.org.slug}/sandbox`;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    api = await startApi({ REDIS_URL: redis.url });
    t = await team(api, 'sandbox');
  });
  afterAll(async () => {
    await api.close();
    await redis.close();
  });
  beforeEach(() => api.redis.client.del(redisKeys.gatewayStatus));

  const write = (entries: Record<string, string | GatewayStatus>) =>
    api.redis.client.hset(
      redisKeys.gatewayStatus,
      Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    );
  const get = async (user = t.member) => (await api.req().get(url()).set(user.auth).expect(200)).body;

  it('answers no-gateway with the allowed launchers when no gateway has reported', async () => {
    expect(await get()).toEqual({ allowedCommands: ['npx', 'uvx', 'node', 'python3', 'deno'], gateways: [], summary: 'no-gateway' });
  });

  it('lists fresh gateways by workerId, dropping stale, invalid and garbage entries', async () => {
    const b = report('gw-b');
    const a = report('gw-a', { limits: 'cgroup-v2' });
    await write({
      'gw-b': b,
      'gw-a': a,
      'gw-old': report('gw-old', { mode: 'off' }, GATEWAY_STATUS_STALE_MS + 5000),
      'gw-garbage': '{not json',
      'gw-wrong-shape': JSON.stringify({ ...report('gw-wrong-shape'), schemaVersion: 2 }),
      'gw-no-sandbox': JSON.stringify({ schemaVersion: 1, workerId: 'gw-no-sandbox', at: new Date().toISOString() }),
    });
    const body = await get();
    expect(body).toEqual({ allowedCommands: expect.any(Array), gateways: [a, b], summary: 'confined' });
    // Reading never removes what the gateways own.
    expect(await api.redis.client.hlen(redisKeys.gatewayStatus)).toBe(6);
  });

  it('answers no-gateway when every entry is stale or garbage', async () => {
    await write({ old: report('old', {}, GATEWAY_STATUS_STALE_MS + 1), junk: 'null' });
    expect(await get()).toMatchObject({ gateways: [], summary: 'no-gateway' });
  });

  it('answers unconfined when any fresh gateway runs with the sandbox off, even if another is failing', async () => {
    await write({ on: report('on'), off: report('off', { mode: 'off', detail: 'TOOLGATE_SANDBOX=off' }) });
    expect((await get()).summary).toBe('unconfined');
    await write({ broken: report('broken', { ok: false, detail: 'bwrap: setting up uid map: Permission denied' }) });
    expect((await get()).summary).toBe('unconfined');
  });

  it('answers failing when any fresh gateway cannot start the sandbox', async () => {
    await write({ on: report('on'), broken: report('broken', { ok: false, detail: 'bwrap not found' }) });
    const body = await get();
    expect(body.summary).toBe('failing');
    expect(body.gateways.map((g: GatewayStatus) => [g.workerId, g.sandbox.ok])).toEqual([
      ['broken', false],
      ['on', true],
    ]);
  });

  it('shows the operator’s allow-list', async () => {
    const narrow = await startApi({ REDIS_URL: redis.url, STDIO_ALLOWED_COMMANDS: 'node,/opt/mcp/run' });
    try {
      const res = await narrow.req().get(url()).set(t.owner.auth).expect(200);
      expect(res.body.allowedCommands).toEqual(['node', '/opt/mcp/run']);
    } finally {
      await narrow.close();
    }
  });

  it('answers owner, admin and member; refuses billing (403), strangers and unknown orgs (404), anonymous callers (401)', async () => {
    for (const user of [t.owner, t.admin, t.member]) expect((await get(user)).summary).toBe('no-gateway');
    expectProblem(await api.req().get(url()).set(t.billing.auth), 403, 'forbidden');
    expectProblem(await api.req().get(url()).set(t.stranger.auth), 404, 'not_found');
    expectProblem(await api.req().get('/v1/orgs/no-such-org-anywhere/sandbox').set(t.owner.auth), 404, 'not_found');
    expectProblem(await api.req().get(url()), 401, 'unauthenticated');
  });

  it('is documented in OpenAPI with its response shape', async () => {
    const doc = await api.req().get('/docs/openapi.json').expect(200);
    const op = doc.body.paths['/v1/orgs/{org}/sandbox'].get;
    const schema = op.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties).sort()).toEqual(['allowedCommands', 'gateways', 'summary']);
    expect(schema.properties.summary.enum).toEqual(['confined', 'unconfined', 'failing', 'no-gateway']);
  });

  it('answers 503 gateway_status_unavailable while Redis is down', async () => {
    await redis.stop();
    try {
      expectProblem(await api.req().get(url()).set(t.member.auth), 503, 'gateway_status_unavailable');
    } finally {
      await redis.restart();
    }
    // Back once Redis is.
    for (let i = 0; ; i++) {
      const res = await api.req().get(url()).set(t.member.auth);
      if (res.status === 200) break;
      if (i > 50) throw new Error(`still ${res.status} after Redis came back`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
