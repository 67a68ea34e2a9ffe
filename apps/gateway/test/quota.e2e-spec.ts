import { type ChildProcess, spawn } from 'node:child_process';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { type AuditEvent, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { loadEnv } from '../../api/src/config/env';
import { startWorker } from '../../api/src/worker';
import { RpcCode } from '../src/core/jsonrpc';
import { quotaPeriod } from '../src/core/quota';
import { QUOTA_LUA, RedisQuota } from '../src/redis/quota';
import { auditEvents } from './fixtures/gw-helpers';
import { connect, setupOrg, type Stack, startStack } from './harness';
import { freePort } from './fixtures/redis-server';

jest.setTimeout(90_000);

type Org = Awaited<ReturnType<typeof setupOrg>>;

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('monthly call quota at the gateway', () => {
  let stack: Stack;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let redis: Redis;

  beforeAll(async () => {
    // Counting is what these tests check, not the fail-open on a slow Redis (degraded.e2e-spec.ts
    // does): a loaded machine must not turn a slow charge into an allowed one here.
    stack = await startStack({ gateways: 2, gatewayEnv: { REDIS_COMMAND_TIMEOUT_MS: '5000' } });
    // The real worker (usage roll-ups, quota alerts) consuming this stack's queues.
    worker = await startWorker(loadEnv({ ...process.env, QUEUE_PREFIX: stack.queuePrefix, USAGE_BATCH_WAIT_MS: '10' }), { logger: false });
    redis = new Redis(process.env.REDIS_URL!);
  });
  afterAll(async () => {
    redis.disconnect();
    await worker.close();
    await stack.close();
  });

  /** The owner sets the quota through the API; waits until no gateway worker holds an older snapshot. */
  async function setQuota(o: Org, quota: number | null) {
    await o.api.call('PATCH', `/v1/orgs/${o.org.slug}`, { monthlyCallQuota: quota });
    await waitFor(
      // A gateway that has not loaded the org yet will load the new snapshot on its first call.
      () =>
        stack.gateways.every((g) => {
          const snap = g.snapshots.get(o.org.id);
          return snap === null || snap.plan.monthlyCallQuota === quota;
        }),
      10_000,
      'the new snapshot on every gateway',
    );
  }

  const echo = (client: Awaited<ReturnType<typeof connect>>, message = 'hi') =>
    client.callTool({ name: 'everything__echo', arguments: { message } });

  async function refusal(p: Promise<unknown>): Promise<McpError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    return err as McpError;
  }

  it('refuses calls past the cap with -32007 and records quota_exceeded; listing still works', async () => {
    const o = await setupOrg(stack);
    await setQuota(o, 3);
    const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
    try {
      for (let i = 0; i < 3; i++) await echo(client, `call ${i}`);
      const err = await refusal(echo(client, 'one too many'));
      const { period, resetsAt } = quotaPeriod();
      expect(err.code).toBe(RpcCode.QuotaExceeded);
      expect(err.message).toContain(`Monthly call quota exceeded: 3 calls in ${period}`);
      expect(err.data).toEqual({ quota: 3, used: 3, period, resetsAt: resetsAt.toISOString() });
      // Prompts and resource reads count too; listing and ping do not.
      const prompts = await client.listPrompts();
      await refusal(client.getPrompt({ name: prompts.prompts[0]!.name }));
      const resources = await client.listResources();
      await refusal(client.readResource({ uri: resources.resources[0]!.uri }));
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
      await client.ping();
    } finally {
      await client.close();
    }
    expect(Number(await redis.get(redisKeys.quota(o.org.id, quotaPeriod().period)))).toBe(3);

    // The audit trail says why.
    const isRefused = (e: AuditEvent) => e.decision === 'quota_exceeded';
    const refused = (await auditEvents(stack, o.org.id, (all) => all.filter(isRefused).length === 3, 10_000)).filter(isRefused);
    expect(refused.map((e) => [e.method, e.outcome]).sort()).toEqual([
      ['prompts/get', 'denied'],
      ['resources/read', 'denied'],
      ['tools/call', 'denied'],
    ]);
    expect(refused.find((e) => e.method === 'tools/call')).toMatchObject({
      target: 'echo',
      error: expect.stringContaining('monthly quota of 3'),
    });
  });

  it('applies a raised or removed quota at once', async () => {
    const o = await setupOrg(stack);
    await setQuota(o, 1);
    const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
    try {
      await echo(client);
      await refusal(echo(client));
      await setQuota(o, 2);
      await echo(client);
      await refusal(echo(client));
      await setQuota(o, null);
      for (let i = 0; i < 5; i++) await echo(client);
    } finally {
      await client.close();
    }
  });

  it('holds exactly across gateway workers under concurrency', async () => {
    const o = await setupOrg(stack);
    await setQuota(o, 10);
    const clients = await Promise.all(
      stack.gateways.flatMap((g) => {
        const { port } = g.server.address() as { port: number };
        return [0, 1].map(() => connect(`http://127.0.0.1:${port}/mcp/${o.org.slug}`, o.key));
      }),
    );
    try {
      const results = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => echo(clients[i % clients.length]!, `c${i}`)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(14);
      for (const r of rejected) expect((r.reason as McpError).code).toBe(RpcCode.QuotaExceeded);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('raises alerts at 80% and 100% (worker), shown at /usage/alerts', async () => {
    const o = await setupOrg(stack);
    await setQuota(o, 5);
    const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
    try {
      for (let i = 0; i < 4; i++) await echo(client);
      await waitFor(
        async () => {
          const r = await o.api.call('GET', `/v1/orgs/${o.org.slug}/usage/alerts`);
          return r.items.length === 1;
        },
        15_000,
        'the 80% alert',
      );
      await echo(client);
      await refusal(echo(client));
      await waitFor(
        async () => {
          const r = await o.api.call('GET', `/v1/orgs/${o.org.slug}/usage/alerts`);
          return r.items.length === 2;
        },
        15_000,
        'the 100% alert',
      );
    } finally {
      await client.close();
    }
    const res = await o.api.call('GET', `/v1/orgs/${o.org.slug}/usage/alerts`);
    expect(res.current).toMatchObject({ quota: 5, used: 5, percent: 100 });
    expect(res.items.map((a: { threshold: number; calls: number }) => [a.threshold, a.calls])).toEqual([
      [100, 5],
      [80, 4],
    ]);
    // The refused call is in the roll-ups as denied, not billable.
    await waitFor(
      async () => {
        const u = await o.api.call('GET', `/v1/orgs/${o.org.slug}/usage?groupBy=key`);
        return u.totals.calls === 6;
      },
      10_000,
      'the refused call in the roll-ups',
    );
    const usage = await o.api.call('GET', `/v1/orgs/${o.org.slug}/usage?groupBy=key`);
    expect(usage.totals).toMatchObject({ calls: 6, denied: 1, billable: 5 });
    expect(usage.series[0]).toMatchObject({ keyId: o.keyId, keyName: 'agent', calls: 6 });
  });
});

describe('RedisQuota', () => {
  it('counts atomically in one script and sets the key to expire a week after the month', async () => {
    const quota = new RedisQuota({ connection: process.env.REDIS_URL!, timeoutMs: 1000 });
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      await waitFor(() => redis.status === 'ready' && (quota as unknown as { redis: Redis }).redis.status === 'ready');
      const org = `org-${Date.now()}`;
      const now = new Date(Date.UTC(2026, 10, 30, 23, 0));
      const decisions = await Promise.all(Array.from({ length: 50 }, () => quota.charge(org, 20, now)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
      const key = redisKeys.quota(org, '2026-11');
      expect(Number(await redis.get(key))).toBe(20);
      expect(decisions.find((d) => !d.allowed)).toEqual({
        allowed: false,
        used: 20,
        quota: 20,
        period: '2026-11',
        resetsAt: '2026-12-01T00:00:00.000Z',
      });
      // TTL: from `now` to Dec 1 + 7 days = 1 h + 7 d.
      expect(await redis.ttl(key)).toBeGreaterThan(7 * 86_400);
      expect(await redis.ttl(key)).toBeLessThanOrEqual(7 * 86_400 + 3600);
      // A refused charge writes nothing; the script is the same one the docs describe.
      expect(QUOTA_LUA).toContain("redis.call('INCR'");
      await redis.del(key);
    } finally {
      redis.disconnect();
      await quota.close();
    }
  });

  it('fails open while Redis is unreachable, and counts again once it is back', async () => {
    const port = await freePort();
    const start = (): ChildProcess =>
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const errors: string[] = [];
    const quota = new RedisQuota({ connection: `redis://127.0.0.1:${port}`, onError: (e) => errors.push(e.message) });
    let server: ChildProcess | null = null;
    try {
      // Nothing listens yet: allowed, not counted.
      expect(await quota.charge('org-a', 1)).toEqual({ allowed: true, used: null });
      expect(await quota.charge('org-a', 1)).toEqual({ allowed: true, used: null });
      server = start();
      await waitFor(async () => (await quota.charge('org-a', 1)).used === 1, 10_000, 'the quota to count again');
      expect(await quota.charge('org-a', 1)).toMatchObject({ allowed: false, used: 1 });
      server.kill('SIGKILL');
      await new Promise((r) => server!.once('exit', r));
      expect(await quota.charge('org-a', 1)).toEqual({ allowed: true, used: null });
      expect(quota.stats.failedOpen).toBeGreaterThanOrEqual(3);
      // The refused reconnects are reported (the first connect may have found the server already
      // up on a loaded machine, and a killed server is a plain close, so wait for a reconnect).
      await waitFor(async () => errors.length > 0, 10_000, 'a connection error reported');
    } finally {
      server?.kill('SIGKILL');
      await quota.close();
    }
  });
});
