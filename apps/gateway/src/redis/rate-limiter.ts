import type { RateLimit } from '@toolgate/policy';
import Redis, { type RedisOptions } from 'ioredis';
import type { Admission, RateDecision, RateLimiterPort } from '../core/ports';
import { ALLOWED, bucketKey, InMemoryRateLimiter } from '../core/ratelimit';
import { holdForTurn } from '../net/turn-writes';
import type { RedisAvailability } from './health';
import { QUOTA_FAILED_OPEN, quotaChargeLua, quotaCharge } from './quota';

/**
 * The token buckets' Lua: `count` buckets in KEYS[1..count], `then` runs once every bucket gave a
 * token.
 * KEYS[i]  bucket i (`tg:rl:{orgId}:{scope}`, or `tg:rl-shared:{scope}` for one every org shares)
 * ARGV     perMinute_1, burst_1, perMinute_2, burst_2, …
 * State    hash { t = tokens left (float), ts = time of that level, ms (float) }; a missing key is
 *          a full bucket, so keys expire once they would have refilled completely.
 * A bucket without a token answers {i, waitMs} for the first such bucket (nothing was written).
 * The clock is the Redis server's (TIME), so workers with skewed clocks agree. Scripts are
 * replicated by effects (Redis ≥ 5), which allows TIME before writes.
 */
const bucketsLua = (count: string, then: string) => `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local n = ${count}
local level = {}
for i = 1, n do
  local perMs = tonumber(ARGV[2 * i - 1]) / 60000
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tokens = burst
  if state[1] and state[2] then
    local elapsed = now - tonumber(state[2])
    if elapsed < 0 then elapsed = 0 end
    tokens = math.min(burst, tonumber(state[1]) + elapsed * perMs)
  end
  if tokens < 1 then
    return { i, math.ceil((1 - tokens) / perMs) }
  end
  level[i] = tokens
end
for i = 1, n do
  local perMs = tonumber(ARGV[2 * i - 1]) / 60000
  local left = level[i] - 1
  redis.call('HSET', KEYS[i], 't', left, 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil((tonumber(ARGV[2 * i]) - left) / perMs))
end
${then}
`;

/** Every bucket of KEYS. Returns {0, 0} when each had a token (one was taken from each), or {i, waitMs}. */
export const RATE_LIMIT_LUA = bucketsLua('#KEYS', 'return { 0, 0 }');

/**
 * The buckets of KEYS[1..n] and then, only when they all gave a token, the month's quota counter
 * KEYS[n+1] (redis/quota.ts's charge; ARGV after the buckets' are the cap and the counter's TTL).
 * Returns {i, waitMs} when a bucket refused (the quota untouched), else {0, 0, counted, used}.
 */
export const ADMIT_LUA = bucketsLua('#KEYS - 1', quotaChargeLua('KEYS[n + 1]', 'ARGV[2 * n + 1]', 'ARGV[2 * n + 2]', '0, 0, '));

export interface RedisRateLimiterOptions {
  /**
   * Redis URL or ioredis options. The limiter opens its own connection so its small, latency-
   * critical scripts never queue behind large writes (event batches) on a shared connection.
   * `enableOfflineQueue`, `commandTimeout`, `maxRetriesPerRequest` and
   * `autoResendUnfulfilledCommands` are set by the limiter.
   */
  connection: RedisOptions | string;
  /** A check that Redis has not answered within this long is decided in memory. Default 50 ms. */
  timeoutMs?: number;
  /** After a failed or slow check, stay in memory this long before trying Redis again. Default 1000 ms. */
  retryMs?: number;
  /** Called with Redis errors, for logging. Keep it cheap: a failed check calls it inline. */
  onError?: (err: Error) => void;
  /** The worker's shared view of Redis: while it says away, checks are decided in memory without trying. */
  health?: RedisAvailability;
}

export interface RateLimiterStats {
  /** Where the next check goes. */
  mode: 'redis' | 'memory';
  redisChecks: number;
  memoryChecks: number;
  /** Checks that failed or timed out in Redis (then decided in memory). */
  redisFailures: number;
}

type Script<R> = (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<R>;
type ScriptedRedis = Redis & { tgRateLimit: Script<[number, number]>; tgAdmit: Script<[number, number, number?, number?]> };

/**
 * Token buckets in Redis: one EVALSHA per check covering every bucket of the request.
 *
 * While Redis is unreachable (connection not ready), fails or is slower than `timeoutMs`, checks
 * are decided by an `InMemoryRateLimiter`: limits then hold per worker, not across workers. After
 * a failure the limiter stays in memory for `retryMs`, then lets a single check probe Redis (the
 * others keep deciding in memory meanwhile); when Redis answers it is used again. A reconnect
 * (`ready`) also switches back at once. `check` never rejects.
 */
export class RedisRateLimiter implements RateLimiterPort {
  private readonly redis: ScriptedRedis;
  private readonly memory: InMemoryRateLimiter;
  private readonly retryMs: number;
  private readonly onError: (err: Error) => void;
  private readonly health: RedisAvailability | undefined;
  /** Redis failed recently: decide in memory until `retryAt`, then probe. */
  private degraded = false;
  private retryAt = 0;
  private probing = false;
  private readonly counters = { redisChecks: 0, memoryChecks: 0, redisFailures: 0 };

  constructor(options: RedisRateLimiterOptions) {
    const base: RedisOptions = typeof options.connection === 'string' ? {} : options.connection;
    const merged: RedisOptions = {
      connectionName: 'toolgate-ratelimit',
      // Reconnect quickly: every check made meanwhile is only per-worker accurate.
      retryStrategy: (times) => Math.min(50 * times, 1000),
      ...base,
      // Never queue a check while disconnected or resend it after a reconnect: it is decided in
      // memory instead, and a slow answer is abandoned after timeoutMs.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs ?? 50,
    };
    const redis = typeof options.connection === 'string' ? new Redis(options.connection, merged) : new Redis(merged);
    redis.defineCommand('tgRateLimit', { lua: RATE_LIMIT_LUA });
    redis.defineCommand('tgAdmit', { lua: ADMIT_LUA });
    this.redis = redis as ScriptedRedis;
    this.memory = new InMemoryRateLimiter();
    this.retryMs = options.retryMs ?? 1000;
    this.onError = options.onError ?? (() => undefined);
    this.health = options.health;
    // ioredis logs unhandled 'error' events to the console; connection errors are expected here.
    redis.on('error', (err: Error) => this.onError(err));
    redis.on('ready', () => {
      this.degraded = false;
    });
  }

  /** Resolves true once connected to Redis, false if that takes longer than `timeoutMs`. */
  ready(timeoutMs = 5000): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.on('ready', onReady);
    });
  }

  async check(orgId: string, limits: readonly RateLimit[]): Promise<RateDecision> {
    if (limits.length === 0) return ALLOWED;
    const answer = await this.run(orgId, limits, null);
    return answer === null ? this.inMemory(orgId, limits) : this.rateOf(limits, answer);
  }

  /**
   * The buckets and the quota in one script (ADMIT_LUA). Redis unusable, failing or slow: the
   * buckets are decided in memory like check(), and the quota fails open like RedisQuota (within
   * this limiter's timeout rather than the quota's: the shared health then spares the next calls
   * any wait).
   */
  async checkAndCharge(orgId: string, limits: readonly RateLimit[], quota: number): Promise<Admission> {
    const charge = quotaCharge(orgId, quota);
    const answer = await this.run(orgId, limits, { key: charge.key, cap: quota, ttl: charge.ttl });
    if (answer === null) {
      const rate = this.inMemory(orgId, limits);
      return rate.allowed ? { rate, quota: QUOTA_FAILED_OPEN } : { rate, quota: null };
    }
    const rate = this.rateOf(limits, answer);
    return rate.allowed ? { rate, quota: charge.decision(answer[2]!, answer[3]!) } : { rate, quota: null };
  }

  /** One script in Redis, or null when the check is to be decided in memory (Redis away, failing, slow). */
  private async run(
    orgId: string,
    limits: readonly RateLimit[],
    quota: { key: string; cap: number; ttl: number } | null,
  ): Promise<[number, number, number?, number?] | null> {
    if (this.redis.status !== 'ready' || this.health?.usable() === false) return null;
    let probe = false;
    if (this.degraded) {
      if (this.probing || performance.now() < this.retryAt) return null;
      this.probing = probe = true;
    }
    const n = limits.length;
    const keys = quota === null ? n : n + 1;
    const args: (string | number)[] = new Array(keys + 2 * n + (quota === null ? 0 : 2));
    for (let i = 0; i < n; i++) {
      const limit = limits[i]!;
      args[i] = bucketKey(orgId, limit);
      args[keys + 2 * i] = limit.perMinute;
      args[keys + 2 * i + 1] = limit.burst;
    }
    if (quota !== null) {
      args[n] = quota.key;
      args[keys + 2 * n] = quota.cap;
      args[keys + 2 * n + 1] = quota.ttl;
    }
    try {
      holdForTurn(this.redis.stream);
      const answer = quota === null ? await this.redis.tgRateLimit(n, ...args) : await this.redis.tgAdmit(keys, ...args);
      this.counters.redisChecks++;
      if (probe) this.degraded = false;
      return answer;
    } catch (err) {
      // Timeout, lost connection, or Redis refusing (OOM, read-only replica…): decide here.
      this.counters.redisFailures++;
      this.degraded = true;
      this.retryAt = performance.now() + this.retryMs;
      this.health?.failed(err as Error);
      this.onError(err as Error);
      return null;
    } finally {
      if (probe) this.probing = false;
    }
  }

  private rateOf(limits: readonly RateLimit[], [index, waitMs]: readonly [number, number, ...unknown[]]): RateDecision {
    return index === 0 ? ALLOWED : { allowed: false, retryAfterMs: waitMs, bucket: limits[index - 1]!.bucket };
  }

  stats(): RateLimiterStats {
    const mode = this.redis.status === 'ready' && !this.degraded ? 'redis' : 'memory';
    return { mode, ...this.counters };
  }

  /** Closes the Redis connection. Checks made afterwards are decided in memory. */
  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch {
        // Fall through to a hard disconnect.
      }
    }
    this.redis.disconnect();
  }

  private inMemory(orgId: string, limits: readonly RateLimit[]): RateDecision {
    this.counters.memoryChecks++;
    return this.memory.take(orgId, limits);
  }
}
