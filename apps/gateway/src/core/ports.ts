import type { AuditEvent, UsageEvent } from '@toolgate/contracts';
import type { RateLimit } from '@toolgate/policy';

/** Where per-call events go (BullMQ, batched, spooled to disk while Redis is away). */
export interface EventSink {
  /** Never blocks and never throws: the hot path hands the events over and moves on. */
  emit(audit: AuditEvent, usage: UsageEvent): void;
  /**
   * Resolves once the events of the latest emit() are on disk (one commit shared by the calls
   * that finished together); rejects when they could not be recorded. A call's answer waits for it.
   */
  durable(): Promise<void>;
  /** False while events cannot be recorded (disk refusing or too slow): calls are refused before they run. */
  readonly accepting: boolean;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number; bucket: string };

/** Token buckets: every applicable bucket is checked and charged in one atomic step. */
export interface RateLimiterPort {
  check(orgId: string, limits: readonly RateLimit[]): Promise<RateDecision>;
}

export type QuotaDecision =
  | { allowed: true; used: number | null }
  | { allowed: false; used: number; quota: number; period: string; resetsAt: string };

export interface QuotaPort {
  /** Count one call of `orgId` against `quota` for the current month, or refuse it. Never rejects. */
  charge(orgId: string, quota: number): Promise<QuotaDecision>;
}
