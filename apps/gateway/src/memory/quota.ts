import type { QuotaDecision, QuotaPort } from '../core/ports';
import { quotaPeriod } from '../core/quota';

/** Monthly call quotas counted in process memory (the platform counts in Redis, redis/quota.ts). */
export class MemoryQuota implements QuotaPort {
  private readonly used = new Map<string, number>();

  async charge(orgId: string, quota: number, now = new Date()): Promise<QuotaDecision> {
    const { period, resetsAt } = quotaPeriod(now);
    const key = `${orgId} ${period}`;
    const used = this.used.get(key) ?? 0;
    if (used >= quota) return { allowed: false, used, quota, period, resetsAt: resetsAt.toISOString() };
    // Counters of past months are of no further use.
    if (used === 0) for (const k of this.used.keys()) if (k.startsWith(`${orgId} `)) this.used.delete(k);
    this.used.set(key, used + 1);
    return { allowed: true, used: used + 1 };
  }
}
