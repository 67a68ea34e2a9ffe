import type { PolicySnapshot } from '@toolgate/contracts';
import { RpcCode, RpcError } from './jsonrpc';
import type { CallRecord } from './call-record';
import type { QuotaPort } from './ports';

/**
 * Monthly call quotas, the data-plane side.
 *
 * An org's plan may cap its calls per calendar month (UTC): `plan.monthlyCallQuota` in the
 * snapshot (null = unlimited). The calls counted are the ones the control plane bills — a
 * `tools/call`, `prompts/get` or `resources/read` that policy and rate limits allowed — so the
 * gateway counts exactly at that point, just before forwarding (see McpCore.call).
 *
 * The counter is a QuotaPort (`redis/quota.ts`: shared by every worker, fail open).
 */

/** The methods that count toward the quota (the usage roll-ups' `calls`, minus denied ones). */
export const QUOTA_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** `YYYY-MM` and the first instant of the next month (UTC). */
export function quotaPeriod(now = new Date()): { period: string; resetsAt: Date } {
  return {
    period: now.toISOString().slice(0, 7),
    resetsAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)),
  };
}

/**
 * The hook McpCore.call runs after authorization and rate limits, before forwarding. Counts the
 * call or throws -32007 (QuotaExceeded), recording decision `quota_exceeded` for the audit trail.
 */
export async function enforceQuota(
  quota: QuotaPort | undefined,
  snapshot: PolicySnapshot,
  method: string,
  record: CallRecord,
): Promise<void> {
  const cap = snapshot.plan.monthlyCallQuota;
  if (!quota || cap === null || !QUOTA_METHODS.has(method)) return;
  const decision = await quota.charge(snapshot.orgId, cap);
  if (decision.allowed) return;
  record.decision = 'quota_exceeded';
  record.outcome = 'denied';
  record.error = `monthly quota of ${decision.quota} calls reached for ${decision.period}`;
  throw new RpcError(
    RpcCode.QuotaExceeded,
    `Monthly call quota exceeded: ${decision.quota} calls in ${decision.period} are used up; it resets at ${decision.resetsAt}`,
    { quota: decision.quota, used: decision.used, period: decision.period, resetsAt: decision.resetsAt },
  );
}
