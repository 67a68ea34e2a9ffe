import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisKeys } from '@toolgate/contracts';
import type { RateLimit } from '@toolgate/policy';
import Redis from 'ioredis';
import { hotConnection, RedisHealth } from '../redis/health';
import { RedisRateLimiter } from '../redis/rate-limiter';
import { InMemoryRateLimiter } from './ratelimit';
import { freePort, killRedis, startRedis } from '../../test/fixtures/redis-server';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('InMemoryRateLimiter', () => {
  it('allows a burst, then refuses with the time until the next token, and refills', () => {
    let now = 1_000;
    const limiter = new InMemoryRateLimiter(() => now);
    const limits: RateLimit[] = [{ bucket: 'key:k1', perMinute: 60, burst: 3 }];
    for (let i = 0; i < 3; i++) expect(limiter.take('o1', limits)).toEqual({ allowed: true });
    expect(limiter.take('o1', limits)).toEqual({ allowed: false, retryAfterMs: 1000, bucket: 'key:k1' });
    now += 400;
    expect(limiter.take('o1', limits)).toEqual({ allowed: false, retryAfterMs: 600, bucket: 'key:k1' });
    now += 600;
    expect(limiter.take('o1', limits)).toEqual({ allowed: true });
    // Another org has its own bucket of the same name.
    expect(limiter.take('o2', limits)).toEqual({ allowed: true });
  });

  it('shares a `shared` bucket between orgs, while org buckets stay apart', () => {
    const limiter = new InMemoryRateLimiter(() => 0);
    const ip: RateLimit = { bucket: 'ip:10.0.0.1', perMinute: 2, burst: 2, shared: true };
    const org: RateLimit = { bucket: 'org', perMinute: 5, burst: 5 };
    expect(limiter.take('o1', [org, ip])).toEqual({ allowed: true });
    expect(limiter.take('o2', [org, ip])).toEqual({ allowed: true });
    expect(limiter.take('o3', [org, ip])).toMatchObject({ allowed: false, bucket: 'ip:10.0.0.1' });
    expect(limiter.take('o3', [org])).toEqual({ allowed: true });
  });

  it('charges all buckets or none, reporting the first empty one', () => {
    const now = 0;
    const limiter = new InMemoryRateLimiter(() => now);
    const key: RateLimit = { bucket: 'key:k1', perMinute: 1, burst: 5 };
    const tool: RateLimit = { bucket: 'tool:k1:s__t', perMinute: 1, burst: 1 };
    expect(limiter.take('o', [key, tool])).toEqual({ allowed: true });
    expect(limiter.take('o', [key, tool])).toEqual({ allowed: false, retryAfterMs: 60_000, bucket: 'tool:k1:s__t' });
    expect(limiter.take('o', [key, tool])).toMatchObject({ allowed: false, bucket: 'tool:k1:s__t' });
    // The refusals took nothing from the key bucket: 4 tokens remain.
    for (let i = 0; i < 4; i++) expect(limiter.take('o', [key])).toEqual({ allowed: true });
    expect(limiter.take('o', [key])).toMatchObject({ allowed: false, bucket: 'key:k1' });
  });

  it('never exceeds the burst after a long idle time, and forgets refilled buckets', () => {
    let now = 0;
    const limiter = new InMemoryRateLimiter(() => now);
    const limits: RateLimit[] = [{ bucket: 'b', perMinute: 600, burst: 2 }];
    expect(limiter.take('o', limits).allowed).toBe(true);
    now += 3_600_000;
    expect(limiter.take('o', limits).allowed).toBe(true);
    expect(limiter.take('o', limits).allowed).toBe(true);
    expect(limiter.take('o', limits).allowed).toBe(false);
    expect(limiter.size).toBe(1);
    now += 60_000; // long past full; the next check sweeps
    expect(limiter.take('other', limits).allowed).toBe(true);
    expect(limiter.size).toBe(1);
  });

  it('allows calls with no limits', async () => {
    await expect(new InMemoryRateLimiter().check('o', [])).resolves.toEqual({ allowed: true });
  });
});

describe('RedisRateLimiter (real Redis)', () => {
  let admin: Redis;
  let org: string;
  const limiters: RedisRateLimiter[] = [];
  // Functional tests allow Redis a full second: on a loaded machine the 50 ms default would
  // (correctly) divert some checks to the per-worker fallback and blur what is being tested.
  const make = (opts: Partial<ConstructorParameters<typeof RedisRateLimiter>[0]> = {}) => {
    // A generous timeout: on a loaded CI machine a slow check would otherwise be decided by the
    // in-memory fallback (fresh buckets) and make the Redis-semantics tests flaky. The fallback
    // has its own tests with a short timeout.
    const limiter = new RedisRateLimiter({ connection: REDIS_URL, timeoutMs: 10_000, ...opts });
    limiters.push(limiter);
    return limiter;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  beforeEach(() => {
    org = `tgtest-${randomBytes(6).toString('hex')}`;
  });
  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.close()));
    const keys = await admin.keys(`tg:rl:${org}:*`);
    if (keys.length) await admin.del(...keys);
  });
  afterAll(async () => {
    await admin.quit();
  });
  /** A redis-server of the test's own (fresh, or to be stopped with SIGSTOP), gone afterwards with the test's limiters. */
  const withOwnRedis = async (run: (port: number, server: ChildProcess) => Promise<void>): Promise<void> => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tg-rl-'));
    const server = await startRedis(port, dir);
    try {
      await run(port, server);
    } finally {
      server.kill('SIGCONT');
      await Promise.all(limiters.splice(0).map((l) => l.close()));
      await killRedis(server);
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('allows the burst, then refuses with a sensible retryAfterMs', async () => {
    const limiter = make();
    expect(await limiter.ready()).toBe(true);
    const limits: RateLimit[] = [{ bucket: 'key:k1', perMinute: 6, burst: 3 }];
    for (let i = 0; i < 3; i++) expect(await limiter.check(org, limits)).toEqual({ allowed: true });
    const refused = await limiter.check(org, limits);
    expect(refused).toMatchObject({ allowed: false, bucket: 'key:k1' });
    if (refused.allowed) throw new Error('unreachable');
    // One token per 10 s: the next one is at most 10 s away, and not immediately.
    expect(refused.retryAfterMs).toBeGreaterThan(8000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(limiter.stats()).toMatchObject({ mode: 'redis', memoryChecks: 0, redisFailures: 0 });
  });

  it('refills over time (5 tokens/s)', async () => {
    const limiter = make();
    await limiter.ready();
    const limits: RateLimit[] = [{ bucket: 'key:k2', perMinute: 300, burst: 2 }];
    expect((await limiter.check(org, limits)).allowed).toBe(true);
    expect((await limiter.check(org, limits)).allowed).toBe(true);
    const refused = await limiter.check(org, limits);
    const refusedAt = performance.now();
    if (refused.allowed) throw new Error('expected a refusal');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
    // Takes every token available; bounds are from the elapsed time, so a slow machine cannot
    // make this flaky: a token per 200 ms, plus the fraction that was already there.
    const drain = async () => {
      let granted = 0;
      while ((await limiter.check(org, limits)).allowed) granted++;
      return granted;
    };
    await sleep(refused.retryAfterMs + 5);
    const granted = await drain();
    expect(granted).toBeGreaterThanOrEqual(1);
    expect(granted).toBeLessThanOrEqual(Math.floor((performance.now() - refusedAt) / 200) + 1);
    await sleep(1000); // five tokens' worth, but never more than the burst
    const started = performance.now();
    const afterIdle = await drain();
    expect(afterIdle).toBeGreaterThanOrEqual(2);
    expect(afterIdle).toBeLessThanOrEqual(2 + Math.floor((performance.now() - started) / 200));
  });

  it('is all-or-nothing across buckets: a refusal by one bucket does not consume the others', async () => {
    const limiter = make();
    await limiter.ready();
    const key: RateLimit = { bucket: 'key:k3', perMinute: 1, burst: 5 };
    const tool: RateLimit = { bucket: 'tool:k3:srv__t', perMinute: 1, burst: 1 };
    expect(await limiter.check(org, [key, tool])).toEqual({ allowed: true });
    for (let i = 0; i < 3; i++) {
      const refused = await limiter.check(org, [key, tool]);
      expect(refused).toMatchObject({ allowed: false, bucket: 'tool:k3:srv__t' });
      if (!refused.allowed) expect(refused.retryAfterMs).toBeGreaterThan(59_000);
    }
    // The key bucket lost exactly one token (to the allowed call), none to the refusals.
    const tokens = Number(await admin.hget(redisKeys.bucket(org, key.bucket), 't'));
    expect(tokens).toBeGreaterThanOrEqual(4);
    expect(tokens).toBeLessThan(4.01);
    for (let i = 0; i < 4; i++) expect((await limiter.check(org, [key])).allowed).toBe(true);
    expect(await limiter.check(org, [key])).toMatchObject({ allowed: false, bucket: 'key:k3' });
    expect(limiter.stats().memoryChecks).toBe(0);
  });

  it('shares buckets between workers (two limiter instances)', async () => {
    const a = make();
    const b = make();
    await Promise.all([a.ready(), b.ready()]);
    const limits: RateLimit[] = [{ bucket: 'key:k4', perMinute: 1, burst: 4 }];
    expect((await a.check(org, limits)).allowed).toBe(true);
    expect((await b.check(org, limits)).allowed).toBe(true);
    expect((await a.check(org, limits)).allowed).toBe(true);
    expect((await b.check(org, limits)).allowed).toBe(true);
    expect(await a.check(org, limits)).toMatchObject({ allowed: false, bucket: 'key:k4' });
    expect(await b.check(org, limits)).toMatchObject({ allowed: false, bucket: 'key:k4' });
    // Concurrent checks from both workers never over-grant.
    const other: RateLimit[] = [{ bucket: 'key:k5', perMinute: 1, burst: 10 }];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).check(org, other)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
  });

  it('lets keys expire once the bucket would be full again', async () => {
    const limiter = make();
    await limiter.ready();
    const limits: RateLimit[] = [{ bucket: 'key:k6', perMinute: 120, burst: 2 }];
    const key = redisKeys.bucket(org, 'key:k6');
    await limiter.check(org, limits);
    const ttl1 = await admin.pttl(key);
    expect(ttl1).toBeGreaterThan(0);
    expect(ttl1).toBeLessThanOrEqual(500); // one token to refill at 2/s
    await limiter.check(org, limits);
    const ttl2 = await admin.pttl(key);
    expect(ttl2).toBeGreaterThan(500); // nearly two tokens to refill
    expect(ttl2).toBeLessThanOrEqual(1000);
    await sleep(1050);
    expect(await admin.exists(key)).toBe(0);
    // A vanished bucket is a full one.
    expect((await limiter.check(org, limits)).allowed).toBe(true);
    expect((await limiter.check(org, limits)).allowed).toBe(true);
    expect((await limiter.check(org, limits)).allowed).toBe(false);
  });

  it('falls back to memory at once while Redis is unreachable, then returns to Redis when it answers', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tg-rl-'));
    const limiter = make({ connection: { host: '127.0.0.1', port } });
    const limits: RateLimit[] = [{ bucket: 'key:k7', perMinute: 6, burst: 2 }];
    const started = performance.now();
    const first = await limiter.check(org, limits);
    const elapsed = performance.now() - started;
    expect(first).toEqual({ allowed: true });
    expect(elapsed).toBeLessThan(100);
    // Limits still hold (per worker) while degraded.
    expect((await limiter.check(org, limits)).allowed).toBe(true);
    expect(await limiter.check(org, limits)).toMatchObject({ allowed: false, bucket: 'key:k7' });
    expect(limiter.stats()).toMatchObject({ mode: 'memory', memoryChecks: 3, redisChecks: 0 });

    const server = await startRedis(port, dir);
    try {
      expect(await limiter.ready(5000)).toBe(true);
      const fresh: RateLimit[] = [{ bucket: 'key:k8', perMinute: 6, burst: 1 }];
      expect((await limiter.check(org, fresh)).allowed).toBe(true);
      expect(limiter.stats()).toMatchObject({ mode: 'redis', redisChecks: 1 });
      const probe = new Redis({ host: '127.0.0.1', port });
      try {
        expect(await probe.exists(redisKeys.bucket(org, 'key:k8'))).toBe(1);
      } finally {
        probe.disconnect();
      }
    } finally {
      await limiter.close();
      await killRedis(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('decides in memory when Redis is too slow, then probes and switches back', async () => {
    await withOwnRedis(async (port, server) => {
      const errors: Error[] = [];
      const limiter = make({ connection: { host: '127.0.0.1', port }, timeoutMs: 50, retryMs: 200, onError: (e) => errors.push(e) });
      await limiter.ready();
      const limits: RateLimit[] = [{ bucket: 'key:k9', perMinute: 600, burst: 100 }];
      expect((await limiter.check(org, limits)).allowed).toBe(true);
      server.kill('SIGSTOP'); // connected but silent
      let started = performance.now();
      expect((await limiter.check(org, limits)).allowed).toBe(true);
      const slow = performance.now() - started;
      expect(slow).toBeGreaterThanOrEqual(45);
      expect(slow).toBeLessThan(400);
      expect(errors.some((e) => /timed out/i.test(e.message))).toBe(true);
      expect(limiter.stats()).toMatchObject({ mode: 'memory', redisFailures: 1 });
      // Degraded: the next checks are decided in memory without asking Redis (no new timeout).
      const { memoryChecks } = limiter.stats();
      started = performance.now();
      for (let i = 0; i < 10; i++) await limiter.check(org, limits);
      expect(performance.now() - started).toBeLessThan(250); // ten timeouts would take ≥ 500 ms
      expect(limiter.stats()).toMatchObject({ mode: 'memory', redisFailures: 1, memoryChecks: memoryChecks + 10 });
      server.kill('SIGCONT');
      await sleep(250); // past retryMs: the next check probes Redis
      await until(async () => {
        await limiter.check(org, limits);
        return limiter.stats().mode === 'redis';
      });
      expect(limiter.stats().redisFailures).toBeGreaterThanOrEqual(1);
    });
  });

  it("checks asked together are sent together and each gets its own bucket's answer, also on a Redis that never saw the script", async () => {
    // A fresh server: EVALSHA answers NOSCRIPT until the script is loaded.
    await withOwnRedis(async (port) => {
      const limiter = make({ connection: { host: '127.0.0.1', port } });
      await limiter.ready();
      const a: RateLimit[] = [{ bucket: 'key:a', perMinute: 1, burst: 5 }];
      const b: RateLimit[] = [{ bucket: 'key:b', perMinute: 1, burst: 8 }];
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.check(org, i % 2 ? b : a)));
      const of = (limits: RateLimit[]) => decisions.filter((_, i) => (i % 2 ? b : a) === limits);
      expect(of(a).filter((d) => d.allowed)).toHaveLength(5);
      expect(of(a).filter((d) => !d.allowed && d.bucket === 'key:a')).toHaveLength(5);
      expect(of(b).filter((d) => d.allowed)).toHaveLength(8);
      expect(of(b).filter((d) => !d.allowed && d.bucket === 'key:b')).toHaveLength(2);
      expect(limiter.stats()).toMatchObject({ mode: 'redis', redisChecks: 20, memoryChecks: 0, redisFailures: 0 });
    });
  });

  it("an answer slower than the limiter's budget degrades the limiter alone, not the worker's view of Redis", async () => {
    await withOwnRedis(async (port, server) => {
      const hot = hotConnection(`redis://127.0.0.1:${port}`, 150);
      const health = new RedisHealth(hot);
      await health.start();
      try {
        const limiter = make({ connection: { host: '127.0.0.1', port }, timeoutMs: 50, retryMs: 200, health });
        await limiter.ready();
        const limits: RateLimit[] = [{ bucket: 'key:k12', perMinute: 60, burst: 10 }];
        expect((await limiter.check(org, limits)).allowed).toBe(true);
        server.kill('SIGSTOP');
        expect((await limiter.check(org, limits)).allowed).toBe(true); // after its 50 ms, in memory
        expect(limiter.stats()).toMatchObject({ mode: 'memory', redisFailures: 1 });
        expect(health.report().state).toBe('up'); // sessions and quota still use Redis (150 ms budget)
        server.kill('SIGCONT');
      } finally {
        health.stop();
        hot.disconnect();
      }
    });
  });

  it('decides checks in memory when Redis dies with their pipeline on its way; none rejects', async () => {
    await withOwnRedis(async (port, server) => {
      const limiter = make({ connection: { host: '127.0.0.1', port }, timeoutMs: 50, retryMs: 200 });
      await limiter.ready();
      const limits: RateLimit[] = [{ bucket: 'key:k11', perMinute: 60, burst: 10 }];
      const asked = [limiter.check(org, limits), limiter.check(org, limits), limiter.check(org, limits)];
      server.kill('SIGKILL');
      expect((await Promise.all(asked)).map((d) => d.allowed)).toEqual([true, true, true]);
      expect(limiter.stats()).toMatchObject({ mode: 'memory', redisChecks: 0, memoryChecks: 3 });
    });
  });

  it("keeps this worker's count through a slow Redis: calls decided in memory still count once Redis answers again", async () => {
    await withOwnRedis(async (port, server) => {
      const limiter = make({ connection: { host: '127.0.0.1', port }, timeoutMs: 50, retryMs: 200 });
      await limiter.ready();
      const limits: RateLimit[] = [{ bucket: 'key:k10', perMinute: 1, burst: 5 }];
      expect((await limiter.check(org, limits)).allowed).toBe(true);
      expect((await limiter.check(org, limits)).allowed).toBe(true);
      server.kill('SIGSTOP');
      // Asked together while Redis is silent: each times out and is decided here, none rejects.
      const slow = await Promise.all([limiter.check(org, limits), limiter.check(org, limits), limiter.check(org, limits)]);
      expect(slow.map((d) => d.allowed)).toEqual([true, true, true]);
      expect(limiter.stats()).toMatchObject({ mode: 'memory', redisChecks: 2 });
      // In memory, the two calls Redis decided count too: the burst of 5 is used up.
      expect(await limiter.check(org, limits)).toMatchObject({ allowed: false, bucket: 'key:k10' });
      server.kill('SIGCONT');
      await sleep(250); // past retryMs: the next check asks Redis, which counted only 2 of the 5
      const afterwards = await limiter.check(org, limits);
      expect(limiter.stats()).toMatchObject({ mode: 'redis', redisChecks: 3 });
      expect(afterwards).toMatchObject({ allowed: false, bucket: 'key:k10' });
      expect((afterwards as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(1000);
    });
  });

  it('measures check() latency against local Redis (10k sequential calls)', async () => {
    const limiter = make();
    await limiter.ready();
    const limits: RateLimit[] = [
      { bucket: 'key:bench', perMinute: 1_000_000, burst: 1_000_000 },
      { bucket: 'tool:bench:srv__t', perMinute: 1_000_000, burst: 1_000_000 },
    ];
    for (let i = 0; i < 500; i++) await limiter.check(org, limits); // warm-up (script load, JIT)
    const samples = new Float64Array(10_000);
    for (let i = 0; i < samples.length; i++) {
      const t0 = performance.now();
      const decision = await limiter.check(org, limits);
      samples[i] = performance.now() - t0;
      if (!decision.allowed) throw new Error('unexpected refusal');
    }
    samples.sort();
    const median = samples[samples.length >> 1]!;
    const p99 = samples[Math.floor(samples.length * 0.99)]!;
    console.log(`RedisRateLimiter.check (2 buckets): median ${(median * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs`);
    expect(median).toBeLessThan(5);
    expect(limiter.stats()).toMatchObject({ mode: 'redis', memoryChecks: 0 });
  }, 60_000);
});
