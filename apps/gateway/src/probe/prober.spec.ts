import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBE_SCHEMA_VERSION, type ProbeReply, type ProbeRequest, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { freePort, killRedis, startRedis } from '../../test/fixtures/redis-server';
import { UnconfinedLauncher } from '../backends/sandbox/launcher';
import { StdioBackend } from '../backends/stdio';

// The probe's own logic is under test here; test/probe.e2e-spec.ts probes through the real sandbox.
const launcher = new UnconfinedLauncher();
import { Prober, type ProbeCount } from './prober';

const FIXTURE = join(__dirname, '../../test/fixtures/probe-server.mjs');
const KEY = Buffer.alloc(32, 3);

function request(env: Record<string, string>, ms = 10_000): ProbeRequest {
  return {
    schemaVersion: PROBE_SCHEMA_VERSION,
    id: randomUUID(),
    orgId: 'org-1',
    server: {
      id: randomUUID(),
      slug: 'fixture',
      name: 'Fixture',
      transport: 'stdio',
      command: process.execPath,
      args: [FIXTURE],
      url: null,
      headers: {},
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, { value: v }])),
      timeoutMs: 10_000,
      tags: [],
      network: 'none',
    },
    secrets: {},
    deadline: Date.now() + ms,
  };
}

/** The Prober against a private redis-server the tests may kill and restart. */
describe('Prober', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-prober-'));
  let port: number;
  let server: ChildProcess;
  let redis: Redis;
  let prober: Prober | undefined;
  const warnings: string[] = [];
  const counts: ProbeCount[] = [];

  const start = (concurrency = 2) => {
    prober = new Prober({
      redisUrl: `redis://127.0.0.1:${port}`,
      redis,
      workerId: 'w-test',
      concurrency,
      secretKey: KEY,
      factories: { stdio: (spec) => new StdioBackend(spec, { launcher }) },
      count: (c) => counts.push(c),
      warn: (m) => warnings.push(m),
    });
    prober.start();
    return prober;
  };
  const replies = async (id: string, n: number): Promise<ProbeReply[]> => {
    const out: ProbeReply[] = [];
    const reader = redis.duplicate();
    try {
      while (out.length < n) {
        const popped = await reader.blpop(redisKeys.probeReply(id), 10);
        if (!popped) break;
        out.push(JSON.parse(popped[1]) as ProbeReply);
      }
    } finally {
      reader.disconnect();
    }
    return out;
  };

  beforeAll(async () => {
    port = await freePort();
    server = await startRedis(port, dir);
    redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 100 });
    redis.on('error', () => undefined);
  });
  afterEach(async () => {
    await prober?.close();
    prober = undefined;
    warnings.length = 0;
    counts.length = 0;
  });
  afterAll(async () => {
    redis.disconnect();
    await killRedis(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers accepted, then the outcome, on an expiring reply list', async () => {
    start();
    const req = request({ PROBE_TOOLS: '1' });
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(req));
    const [accepted, result] = await replies(req.id, 2);
    expect(accepted).toEqual({ kind: 'accepted', id: req.id, workerId: 'w-test' });
    expect(result).toMatchObject({ kind: 'result', id: req.id, catalog: { tools: [{ name: 'tool_1' }] } });
    // A list nobody reads expires about a minute after the deadline.
    const late = request({ PROBE_HANG: 'initialize' }, 5000);
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(late));
    for (let i = 0; i < 100 && !(await redis.exists(redisKeys.probeReply(late.id))); i++) await new Promise((r) => setTimeout(r, 20));
    const ttl = await redis.pttl(redisKeys.probeReply(late.id));
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(65_000);
    expect(counts).toEqual(['result']);
    await redis.del(redisKeys.probeReply(late.id));
  });

  it('takes no more than its concurrency, leaving the rest for other workers; close() ends running probes with an error', async () => {
    start(1);
    const [a, b] = [request({ PROBE_HANG: 'initialize' }), request({ PROBE_HANG: 'initialize' })];
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(a), JSON.stringify(b));
    expect(await replies(a.id, 1)).toEqual([{ kind: 'accepted', id: a.id, workerId: 'w-test' }]);
    await new Promise((r) => setTimeout(r, 700));
    expect(await redis.lrange(redisKeys.probeRequests, 0, -1)).toEqual([JSON.stringify(b)]);
    const started = Date.now();
    await prober!.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await replies(a.id, 1)).toEqual([
      { kind: 'error', id: a.id, message: 'the gateway worker shut down waiting for the server to initialize; probe again' },
    ]);
    // Still there for another worker.
    expect(await redis.lpop(redisKeys.probeRequests)).toBe(JSON.stringify(b));
  });

  it('closes promptly when idle', async () => {
    start();
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await prober!.close();
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('keeps taking requests after Redis went away and came back', async () => {
    start();
    await killRedis(server);
    await new Promise((r) => setTimeout(r, 800));
    server = await startRedis(port, dir);
    const req = request({ PROBE_TOOLS: '2' });
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(req));
    const got = await replies(req.id, 2);
    expect(got.map((r) => r.kind)).toEqual(['accepted', 'result']);
  });

  it('closes promptly while Redis is away', async () => {
    start();
    await killRedis(server);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await prober!.close();
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      server = await startRedis(port, dir);
    }
  });

  it('keeps going when the request key is not a list, and says so', async () => {
    start();
    await redis.set(redisKeys.probeRequests, 'clobbered');
    // A pop already blocked on the key returns empty at its timeout; the next one fails.
    const failed = () => warnings.some((w) => w.startsWith('probe: taking a request failed: WRONGTYPE'));
    for (let i = 0; i < 60 && !failed(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(failed()).toBe(true);
    await redis.del(redisKeys.probeRequests);
    const req = request({});
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(req));
    expect((await replies(req.id, 2)).map((r) => r.kind)).toEqual(['accepted', 'result']);
  });
});
