import { type UsageEvent, UsageEvent as UsageEventSchema } from '@toolgate/contracts';
import { z } from 'zod';

/**
 * How usage events are counted. One definition, used by the roll-up writer, the usage API, the
 * quota alerts and the Stripe meter reports (the gateway's quota counter follows the same rule,
 * see apps/gateway/src/core/quota.ts):
 *
 * - `calls`: events whose method is a call an agent pays for: `tools/call`, `prompts/get`,
 *   `resources/read`. Listing, initialize, ping, completion and subscriptions are not calls.
 * - `errors`: calls whose outcome is `error`, `timeout` or `upstream_error`.
 * - `denied`: calls whose decision is not `allow` (policy, rate limit, quota, authentication).
 * - `billable` = calls − denied: every call the gateway forwarded, failed ones included.
 *   A call the agent cancelled (`cancelled`) is billable and not an error: it was forwarded, the
 *   upstream may have done the work, the gateway's quota counted it before forwarding, and a
 *   cancellation is the agent's choice, not a failure (otherwise cancelling just before the
 *   answer would make any call free).
 * - bytes in/out are summed over every event (all traffic, not only calls).
 * - duration is summed over forwarded calls only (see `forwardedDuration`), so duration ÷ billable
 *   is the average upstream latency of a call. Summing every event mixed in initialize (which may
 *   start a stdio server), listings and long-lived streams, and divided by calls that included
 *   denials answered in microseconds: the dashboard showed 57 ms while each server averaged 5–9 ms.
 */
export const CALL_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);
const ERROR_OUTCOMES: ReadonlySet<string> = new Set(['error', 'timeout', 'upstream_error']);

export interface Tally {
  calls: number;
  errors: number;
  denied: number;
}

export function tally(e: Pick<UsageEvent, 'method' | 'decision' | 'outcome'>): Tally {
  if (!CALL_METHODS.has(e.method)) return { calls: 0, errors: 0, denied: 0 };
  return { calls: 1, errors: ERROR_OUTCOMES.has(e.outcome) ? 1 : 0, denied: e.decision === 'allow' ? 0 : 1 };
}

/** The event's duration if it was a call forwarded upstream (billable), else 0. */
export function forwardedDuration(e: Pick<UsageEvent, 'method' | 'decision' | 'outcome' | 'durationMs'>): number {
  const t = tally(e);
  return t.calls - t.denied > 0 ? e.durationMs : 0;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What the consumer accepts: the contract's UsageEvent, plus what the tables need (org id a UUID,
 * ids of bounded length). Anything else is a poison message for the dead-letter queue.
 */
export const StorableUsageEvent = UsageEventSchema.extend({
  orgId: z.string().regex(UUID, 'orgId must be a UUID'),
  keyId: z.string().max(200).nullable(),
  serverId: z.string().max(200).nullable(),
  target: z.string().max(2000).nullable(),
  method: z.string().max(200),
});
export type StorableUsageEvent = z.output<typeof StorableUsageEvent>;

const HOUR_MS = 3_600_000;

/** Start of the UTC hour containing `d`. */
export function hourStart(d: Date): Date {
  return new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
}

/** `YYYY-MM` of the UTC month containing `d` (the quota period). */
export function monthOf(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** First instant of a `YYYY-MM` period and of the next one. */
export function monthBounds(period: string): { start: Date; end: Date } {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return { start: new Date(Date.UTC(y, m - 1, 1)), end: new Date(Date.UTC(y, m, 1)) };
}

/**
 * Expiry of a month's quota counter in Redis: a week into the next month, so late events can still
 * be reconciled and the key then disappears. The gateway uses the same rule.
 */
export function quotaKeyTtlSeconds(period: string, now = new Date()): number {
  const { end } = monthBounds(period);
  return Math.max(60, Math.ceil((end.getTime() + 7 * 86_400_000 - now.getTime()) / 1000));
}
