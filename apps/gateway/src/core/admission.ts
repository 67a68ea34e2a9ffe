import type { PolicySnapshot } from '@toolgate/contracts';
import type { RateLimit } from '@toolgate/policy';
import type { CallRecord } from './call-record';
import { RpcCode, RpcError } from './jsonrpc';
import type { QuotaPort, RateDecision, RateLimiterPort } from './ports';
import { quotaCap, refuseOverQuota } from './quota';

/**
 * A call's rate limits, then its monthly quota charge (only once every bucket gave a token), after
 * authorization and before forwarding. A limiter that can do both in one step (Redis: one script,
 * one round trip) does; otherwise the quota is charged after the buckets. Throws the refusal
 * (-32004 or -32007) with the record filled in for the audit trail.
 */
export async function admit(
  limiter: RateLimiterPort,
  quota: QuotaPort | undefined,
  snapshot: PolicySnapshot,
  method: string,
  limits: readonly RateLimit[],
  record: CallRecord,
): Promise<void> {
  const cap = quotaCap(quota, snapshot, method);
  if (cap !== null && limiter.checkAndCharge) {
    const both = await limiter.checkAndCharge(snapshot.orgId, limits, cap);
    refuseRateLimited(both.rate, record);
    if (both.quota) refuseOverQuota(both.quota, record);
    return;
  }
  if (limits.length > 0) refuseRateLimited(await limiter.check(snapshot.orgId, limits), record);
  if (cap !== null) refuseOverQuota(await quota!.charge(snapshot.orgId, cap), record);
}

function refuseRateLimited(rate: RateDecision, record: CallRecord): void {
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
