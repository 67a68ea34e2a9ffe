import { redisKeys } from '@toolgate/contracts';
import { type EdgeRateLimits, edgeRateLimits, type RateLimit, type RequestKind, rateLimitsFor } from '@toolgate/policy';
import type { CallRecord } from './call-record';
import type { Caller } from './caller';
import { RpcCode, RpcError } from './jsonrpc';
import type { RateDecision, RateLimiterPort } from './ports';

/**
 * Token-bucket rate limiting.
 *
 * A bucket holds at most `burst` tokens and refills continuously at `perMinute / 60000` tokens
 * per millisecond. A call needs one token from every bucket that applies to it (key, per-tool…):
 * either every bucket has a token and one is taken from each, or nothing is taken and the caller
 * learns which bucket refused and how long until it holds a token again (Retry-After).
 *
 * `InMemoryRateLimiter` runs the algorithm inside one process; `redis/rate-limiter.ts` runs the
 * same one in Redis (shared by every gateway worker, one atomic Lua call per check) and falls back
 * to this one while Redis is unreachable or slow.
 *
 * Precondition (guaranteed by `rateLimitsFor` and the snapshot schema): perMinute ≥ 1, burst ≥ 1,
 * and bucket names are unique within one check.
 */

export const ALLOWED: RateDecision = Object.freeze({ allowed: true as const });

/** The Redis key (and in-memory map key) of a bucket: the org's own, or one shared by every org. */
export function bucketKey(orgId: string, limit: RateLimit): string {
  return limit.shared ? redisKeys.sharedBucket(limit.bucket) : redisKeys.bucket(orgId, limit.bucket);
}

interface MemoryBucket {
  tokens: number;
  /** Time of `tokens`, ms on this limiter's clock. */
  at: number;
  /** When the bucket will be full again: past that, the entry is redundant and may be dropped. */
  fullAt: number;
}

/** Drop redundant (refilled) in-memory buckets at most this often. */
const SWEEP_EVERY_MS = 10_000;

/**
 * The token-bucket algorithm in process memory. Limits are then per process: with N workers an
 * org gets up to N times its limit. Used as `RedisRateLimiter`'s fallback and on its own in tests.
 */
export class InMemoryRateLimiter implements RateLimiterPort {
  private readonly buckets = new Map<string, MemoryBucket>();
  /** Reused between calls (check is synchronous inside) to avoid per-call allocation. */
  private readonly scratch: (MemoryBucket | undefined)[] = [];
  private readonly levels: number[] = [];
  private lastSweep: number;

  /** @param now monotonic milliseconds; injectable for tests. */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.lastSweep = now();
  }

  check(orgId: string, limits: readonly RateLimit[]): Promise<RateDecision> {
    return Promise.resolve(this.take(orgId, limits));
  }

  /** Number of buckets held (drops as refilled buckets are swept). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Synchronous check-and-take: every bucket gives one token, or none does. `takenAt` (≤ now)
   * dates the take earlier than the decision, which only makes later checks more lenient.
   */
  take(orgId: string, limits: readonly RateLimit[], takenAt?: number): RateDecision {
    const n = limits.length;
    if (n === 0) return ALLOWED;
    const now = this.now();
    const at = takenAt ?? now;
    if (now - this.lastSweep > SWEEP_EVERY_MS) this.sweep(now);
    for (let i = 0; i < n; i++) {
      const limit = limits[i]!;
      const perMs = limit.perMinute / 60_000;
      const bucket = this.buckets.get(bucketKey(orgId, limit));
      let tokens = limit.burst;
      if (bucket !== undefined) tokens = Math.min(limit.burst, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
      if (tokens < 1) {
        this.scratch.length = 0;
        return { allowed: false, retryAfterMs: Math.ceil((1 - tokens) / perMs), bucket: limit.bucket };
      }
      this.scratch[i] = bucket;
      this.levels[i] = tokens;
    }
    for (let i = 0; i < n; i++) {
      const limit = limits[i]!;
      const left = this.levels[i]! - 1;
      const fullAt = at + (limit.burst - left) / (limit.perMinute / 60_000);
      const bucket = this.scratch[i];
      if (bucket === undefined) {
        this.buckets.set(bucketKey(orgId, limit), { tokens: left, at, fullAt });
      } else {
        bucket.tokens = left;
        bucket.at = at;
        bucket.fullAt = fullAt;
      }
    }
    this.scratch.length = 0;
    return ALLOWED;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
  }
}

/**
 * Every bucket a call is charged to: the roles' per-key and per-tool limits (tool calls only, as
 * `rateLimitsFor` defines them), then the operator's per-org and per-client-address limits (every
 * call: tools, prompts, resources).
 */
export function callRateLimits(
  caller: Caller,
  kind: RequestKind,
  server: string,
  name: string,
  edge: EdgeRateLimits | undefined,
): RateLimit[] {
  const roles = kind === 'tool' ? rateLimitsFor(caller.snapshot, caller.principal, server, name) : [];
  return edge ? roles.concat(edgeRateLimits(edge, caller.ip)) : roles;
}

/**
 * The hook McpCore.call runs after authorization, before the quota: takes a token from every
 * bucket or throws -32004 (RateLimited) naming the bucket, recording decision `rate_limited`.
 */
export async function enforceRateLimits(
  limiter: RateLimiterPort,
  orgId: string,
  limits: readonly RateLimit[],
  record: CallRecord,
): Promise<void> {
  if (limits.length === 0) return;
  const rate = await limiter.check(orgId, limits);
  if (rate.allowed) return;
  const retryAfterSeconds = Math.max(1, Math.ceil(rate.retryAfterMs / 1000));
  record.decision = 'rate_limited';
  record.outcome = 'denied';
  record.error = `rate limit ${rate.bucket}`;
  throw new RpcError(RpcCode.RateLimited, `Rate limit exceeded; retry in ${retryAfterSeconds}s`, {
    retryAfterSeconds,
    bucket: rate.bucket,
  });
}
