import { redisKeys } from '@toolgate/contracts';
import Redis, { type RedisOptions } from 'ioredis';
import type { QuotaDecision, QuotaPort } from '../core/ports';
import { quotaPeriod } from '../core/quota';
import type { RedisAvailability } from './health';

/**
 * Monthly call quotas (core/quota.ts) counted in Redis.
 *
 * The count lives in Redis, `tg:quota:{orgId}:{YYYY-MM}`, shared by every gateway worker. One Lua
 * script per call reads it, refuses when it has reached the cap, and otherwise increments it:
 * one atomic round trip, so concurrent calls on any number of workers never overshoot. The usage
 * worker raises the counter to the rolled-up total after each batch (never lowers it), which
 * repairs a counter Redis lost or one that started after the month did.
 *
 * Fail open: when Redis is unreachable or slower than `timeoutMs`, the call is allowed (and not
 * counted). Refusing every call of every org because the counter is away would turn a Redis
 * outage into a full outage; the roll-ups still record every call, so billing is unaffected and
 * the counter catches up on the next batch. A call that timed out may still have been counted.
 */

/**
 * KEYS[1] the month's counter; ARGV[1] the cap; ARGV[2] TTL (s) when the key is created.
 * Returns {1, used} (counted) or {0, used} (refused, nothing written).
 */
export const QUOTA_LUA = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return { 0, used } end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
return { 1, used }
`;

/** The key lives a week into the next month (the usage worker may still reconcile late events). */
function ttlSeconds(resetsAt: Date, now: Date): number {
  return Math.max(60, Math.ceil((resetsAt.getTime() + 7 * 86_400_000 - now.getTime()) / 1000));
}

export interface RedisQuotaOptions {
  /** Redis URL or ioredis options; the quota opens its own connection (small, latency-critical). */
  connection: RedisOptions | string;
  /**
   * A charge Redis has not answered within this long is allowed. Default 250 ms: longer than the
   * rate limiter's wait, because a charge that gives up lets a call past the cap, while Redis
   * answers in well under a millisecond when healthy (an unreachable Redis fails open at once).
   */
  timeoutMs?: number;
  onError?: (err: Error) => void;
  /** The worker's shared view of Redis: while it says away (down or frozen), charges fail open without waiting. */
  health?: RedisAvailability;
}

type QuotaScript = (key: string, cap: number, ttl: number) => Promise<[number, number]>;

export class RedisQuota implements QuotaPort {
  private readonly redis: Redis & { tgQuota: QuotaScript };
  private readonly onError: (err: Error) => void;
  private readonly health: RedisAvailability | undefined;
  readonly stats = { charged: 0, refused: 0, failedOpen: 0 };

  constructor(options: RedisQuotaOptions) {
    const base: RedisOptions = typeof options.connection === 'string' ? {} : options.connection;
    const merged: RedisOptions = {
      connectionName: 'toolgate-quota',
      retryStrategy: (times) => Math.min(50 * times, 1000),
      ...base,
      // Never queue or resend a charge: while Redis is away calls are allowed instead.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs ?? 250,
    };
    const redis = typeof options.connection === 'string' ? new Redis(options.connection, merged) : new Redis(merged);
    redis.defineCommand('tgQuota', { numberOfKeys: 1, lua: QUOTA_LUA });
    this.redis = redis as Redis & { tgQuota: QuotaScript };
    this.onError = options.onError ?? (() => undefined);
    this.health = options.health;
    redis.on('error', (err: Error) => this.onError(err));
  }

  async charge(orgId: string, quota: number, now = new Date()): Promise<QuotaDecision> {
    if (this.redis.status !== 'ready' || this.health?.usable() === false) {
      this.stats.failedOpen++;
      return { allowed: true, used: null };
    }
    const { period, resetsAt } = quotaPeriod(now);
    try {
      const [ok, used] = await this.redis.tgQuota(redisKeys.quota(orgId, period), quota, ttlSeconds(resetsAt, now));
      if (ok === 1) {
        this.stats.charged++;
        return { allowed: true, used };
      }
      this.stats.refused++;
      return { allowed: false, used, quota, period, resetsAt: resetsAt.toISOString() };
    } catch (err) {
      this.stats.failedOpen++;
      this.health?.failed(err as Error);
      this.onError(err as Error);
      return { allowed: true, used: null };
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      if (this.redis.status === 'ready') {
        await this.redis.quit();
        return;
      }
    } catch {
      // Fall through to a hard disconnect.
    }
    this.redis.disconnect();
  }
}
