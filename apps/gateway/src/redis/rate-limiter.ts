import type { RateLimit } from '@toolgate/policy';
import Redis, { type RedisOptions } from 'ioredis';
import type { RateDecision, RateLimiterPort } from '../core/ports';
import { ALLOWED, bucketKey, InMemoryRateLimiter } from '../core/ratelimit';
import type { RedisAvailability } from './health';

/**
 * KEYS[i]  bucket i (`tg:rl:{orgId}:{scope}`, or `tg:rl-shared:{scope}` for one every org shares)
 * ARGV     perMinute_1, burst_1, perMinute_2, burst_2, …
 * State    hash { t = tokens left (float), ts = time of that level, ms (float) }; a missing key is
 *          a full bucket, so keys expire once they would have refilled completely.
 * Returns  {0, 0} when every bucket had a token (one was taken from each), or {i, waitMs} for the
 *          first bucket that had none (nothing was written).
 * The clock is the Redis server's (TIME), so workers with skewed clocks agree. Scripts are
 * replicated by effects (Redis ≥ 5), which allows TIME before writes.
 */
export const RATE_LIMIT_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local n = #KEYS
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
return { 0, 0 }
`;

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
  /**
   * The worker's shared view of Redis: while it says away, checks are decided in memory without
   * trying. Told of Redis errors and lost connections, not of answers slower than `timeoutMs`.
   */
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

/** ioredis's rejection of a command that outlived `commandTimeout`. */
const isOwnTimeout = (err: unknown): boolean => err instanceof Error && err.message === 'Command timed out';

interface WaitingCheck {
  n: number;
  args: (string | number)[];
  resolve: (reply: [number, number]) => void;
  reject: (err: Error) => void;
}

type RateScript = (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<[number, number]>;
type ScriptedRedis = Redis & { tgRateLimit: RateScript };

/**
 * Token buckets in Redis: one EVALSHA per check covering every bucket of the request (the checks
 * of one event-loop turn pipelined together). Every worker also counts its own calls in an
 * `InMemoryRateLimiter`, and a call needs both to allow it.
 *
 * While Redis is unreachable (connection not ready), fails or is slower than `timeoutMs`, checks
 * are decided by that local count alone: limits then hold per worker, not across workers. After
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
  /** Checks asked this event-loop turn, sent together. */
  private waiting: WaitingCheck[] = [];

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
    if (this.redis.status !== 'ready' || this.health?.usable() === false) return this.inMemory(orgId, limits);
    let probe = false;
    if (this.degraded) {
      if (this.probing || performance.now() < this.retryAt) return this.inMemory(orgId, limits);
      this.probing = probe = true;
    }
    const askedAt = performance.now();
    try {
      const [index, waitMs] = await this.ask(orgId, limits);
      this.counters.redisChecks++;
      if (probe) this.degraded = false;
      if (index !== 0) return { allowed: false, retryAfterMs: waitMs, bucket: limits[index - 1]!.bucket };
      // Redis makes a limit hold across workers; this worker's own count makes it hold here also
      // for calls Redis never saw (decided in memory while it was slow or away). Dated at the ask,
      // before Redis's clock read, so the local count is never stricter than Redis's.
      return this.memory.take(orgId, limits, askedAt);
    } catch (err) {
      // Timeout, lost connection, or Redis refusing (OOM, read-only replica…): decide here.
      this.counters.redisFailures++;
      this.degraded = true;
      this.retryAt = performance.now() + this.retryMs;
      // The limiter's budget (timeoutMs) is stricter than the worker's command timeout: an answer
      // slower than it degrades the limiter alone, not sessions and quota (whose write-back it
      // would keep stopping on a busy box). Errors and lost connections are everyone's news.
      if (!isOwnTimeout(err)) this.health?.failed(err as Error);
      this.onError(err as Error);
      return this.inMemory(orgId, limits);
    } finally {
      if (probe) this.probing = false;
    }
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

  /**
   * Checks asked within one event-loop turn (the requests that arrived together) go to Redis as
   * one pipeline: one write and one read for all of them instead of one each, on both sides.
   */
  private ask(orgId: string, limits: readonly RateLimit[]): Promise<[number, number]> {
    const n = limits.length;
    const args: (string | number)[] = new Array(3 * n);
    for (let i = 0; i < n; i++) {
      const limit = limits[i]!;
      args[i] = bucketKey(orgId, limit);
      args[n + 2 * i] = limit.perMinute;
      args[n + 2 * i + 1] = limit.burst;
    }
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(this.sendWaiting);
      this.waiting.push({ n, args, resolve, reject });
    });
  }

  private readonly sendWaiting = (): void => {
    const batch = this.waiting;
    this.waiting = [];
    try {
      this.send(batch);
    } catch (err) {
      // Not expected of ioredis (it rejects instead), but a throw here would escape setImmediate.
      for (const ask of batch) ask.reject(err as Error);
    }
  };

  private send(batch: WaitingCheck[]): void {
    if (batch.length === 1) {
      const only = batch[0]!;
      this.redis.tgRateLimit(only.n, ...only.args).then(only.resolve, only.reject);
      return;
    }
    const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & { tgRateLimit: (...a: unknown[]) => unknown };
    for (const ask of batch) pipeline.tgRateLimit(ask.n, ...ask.args);
    pipeline.exec().then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) {
          const [err, reply] = replies?.[i] ?? [new Error('rate limit pipeline: no reply'), null];
          if (err) batch[i]!.reject(err);
          else batch[i]!.resolve(reply as [number, number]);
        }
      },
      (err: Error) => {
        for (const ask of batch) ask.reject(err);
      },
    );
  }

  private inMemory(orgId: string, limits: readonly RateLimit[]): RateDecision {
    this.counters.memoryChecks++;
    return this.memory.take(orgId, limits);
  }
}
