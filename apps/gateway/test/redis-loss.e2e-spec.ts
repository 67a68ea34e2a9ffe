/**
 * Redis restarts with no data under a running platform (issue 15). Agents must serve again
 * within seconds with no admin action: gateways keep their last good snapshots, the control
 * plane notices the lost epoch and republishes. A deleted org stays deleted throughout.
 * Each test runs on a redis-server of its own that it kills; the shared Redis is never touched.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { createOrg, type Org, post, sleep } from './fixtures/gw-helpers';
import { freePort, killRedis, startRedis } from './fixtures/redis-server';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(90_000);

/** How long agents may wait for service after Redis came back empty. */
const RECOVERY_LIMIT_MS = 10_000;

let port: number;
let dir: string;
let redis: ChildProcess;
let reader: Redis;
let stack: Stack;

beforeEach(async () => {
  port = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'tg-redis-loss-'));
  redis = await startRedis(port, dir);
  reader = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  reader.on('error', () => undefined);
  stack = await startStack({ redisUrl: `redis://127.0.0.1:${port}` });
});

afterEach(async () => {
  await stack.close();
  reader.disconnect();
  await killRedis(redis);
  rmSync(dir, { recursive: true, force: true });
});

const mcpUrl = (base: string, o: Org) => `${base}/mcp/${o.org.slug}`;
const baseOf = (i: number) => `http://127.0.0.1:${(stack.gateways[i]!.server.address() as { port: number }).port}`;

/** initialize, then one tools/call: the whole path an agent needs. Throws if either fails. */
async function echo(base: string, o: Org, message: string): Promise<void> {
  let client: Client | undefined;
  try {
    client = await connect(mcpUrl(base, o), o.key);
    const res = (await client.callTool({ name: 'everything__echo', arguments: { message } })) as { content: Array<{ text?: string }> };
    if (!res.content.some((c) => c.text?.includes(message))) throw new Error(`echo answered ${JSON.stringify(res)}`);
  } finally {
    await client?.close();
  }
}

/** Raw initialize status (401 = the gateway does not know the org, answered as a wrong key is). */
async function initializeStatus(base: string, o: Org): Promise<number> {
  const res = await post(
    mcpUrl(base, o),
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'redis-loss', version: '1' } },
    },
    { key: o.key },
  );
  return res.status;
}

/** Milliseconds until `fn` first succeeds; throws past `limit`. */
async function timeUntil(fn: () => Promise<unknown>, limit: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await fn();
      return Date.now() - start;
    } catch (e) {
      if (Date.now() - start > limit) throw new Error(`not within ${limit} ms: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}

async function restartRedisEmpty(): Promise<void> {
  await killRedis(redis);
  redis = await startRedis(port, dir);
  expect(await reader.dbsize()).toBe(0);
}

/** An org the gateway served, then deleted through the API; resolves once the gateway refuses it. */
async function deletedOrg(): Promise<Org> {
  const doomed = await createOrg(stack);
  expect(await initializeStatus(stack.gatewayUrl, doomed)).toBe(200);
  await doomed.api.call('DELETE', `/v1/orgs/${doomed.org.slug}`, { confirm: doomed.org.slug });
  await timeUntil(async () => {
    if ((await initializeStatus(stack.gatewayUrl, doomed)) !== 401) throw new Error('still served');
  }, 5000);
  return doomed;
}

describe('Redis restarts with no data', () => {
  it('agents serve again within seconds without admin action; a deleted org stays gone', async () => {
    const o = await createOrg(stack);
    await echo(stack.gatewayUrl, o, 'before');
    const doomed = await deletedOrg();

    await restartRedisEmpty();
    // The running worker keeps its last good snapshot: no outage at all for its agents.
    const running = await timeUntil(() => echo(stack.gatewayUrl, o, 'running worker'), RECOVERY_LIMIT_MS);
    // A worker with nothing in memory (a new pod, a restart) needs the republish.
    const fresh = await stack.addGateway();
    const freshBase = baseOf(stack.gateways.indexOf(fresh));
    const recovered = await timeUntil(() => echo(freshBase, o, 'fresh worker'), RECOVERY_LIMIT_MS);
    expect(running + recovered).toBeLessThan(RECOVERY_LIMIT_MS);

    // The deleted org: its tombstone is back, and no worker serves it, before or after.
    await timeUntil(async () => {
      if ((await reader.exists(redisKeys.snapshotTombstone(doomed.org.id))) !== 1) throw new Error('no tombstone yet');
    }, RECOVERY_LIMIT_MS);
    expect(await reader.get(redisKeys.snapshot(doomed.org.id))).toBeNull();
    expect(await initializeStatus(stack.gatewayUrl, doomed)).toBe(401);
    expect(await initializeStatus(freshBase, doomed)).toBe(401);
  });

  it('a worker that starts while Redis is empty serves once the control plane republishes; the others never stop', async () => {
    const o = await createOrg(stack);
    await echo(stack.gatewayUrl, o, 'before');
    const doomed = await deletedOrg();

    // Redis empty and the control plane away: nothing can republish yet.
    await stack.stopApi();
    await restartRedisEmpty();
    const fresh = await stack.addGateway();
    const freshBase = baseOf(stack.gateways.indexOf(fresh));
    expect(await initializeStatus(freshBase, o)).toBe(401);
    await echo(stack.gatewayUrl, o, 'last good snapshot');
    expect(await initializeStatus(stack.gatewayUrl, doomed)).toBe(401);

    await stack.restartApi();
    const recovered = await timeUntil(() => echo(freshBase, o, 'after republish'), RECOVERY_LIMIT_MS);
    expect(recovered).toBeLessThan(RECOVERY_LIMIT_MS);
    await echo(stack.gatewayUrl, o, 'still');
    expect(await initializeStatus(freshBase, doomed)).toBe(401);
    expect(await initializeStatus(stack.gatewayUrl, doomed)).toBe(401);
  });
});
