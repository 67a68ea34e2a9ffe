import { z } from 'zod';

/** Longest range one usage query may cover. */
export const MAX_RANGE_DAYS = 366;
const HOUR_MS = 3_600_000;

/** `2026-11-01` (midnight UTC) or a full ISO 8601 date-time with an offset. */
const Instant = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s) || z.iso.datetime({ offset: true }).safeParse(s).success, {
    message: 'must be a date (2026-11-01) or an ISO 8601 date-time with an offset',
  })
  .transform((s) => new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), { message: 'is not a valid date' });

export const UsageGroupBy = z.enum(['key', 'server', 'tool', 'day', 'hour'], {
  error: 'must be one of key, server, tool, day, hour',
});
export type UsageGroupBy = z.output<typeof UsageGroupBy>;

/**
 * `GET /v1/orgs/:org/usage?from&to&groupBy&limit`. Roll-ups are hourly, so `from` is rounded down
 * and `to` up to a whole hour; `to` is exclusive. Defaults: the current UTC month up to now, grouped by day.
 */
export const UsageQuery = z
  .object({
    from: Instant.optional(),
    to: Instant.optional(),
    groupBy: UsageGroupBy.default('day'),
    /** Most groups returned for key/server/tool (largest first). */
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict()
  .transform((q, ctx) => {
    const now = new Date();
    const to = new Date(Math.ceil((q.to ?? now).getTime() / HOUR_MS) * HOUR_MS);
    const from = new Date(
      Math.floor((q.from ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))).getTime() / HOUR_MS) * HOUR_MS,
    );
    if (from.getTime() >= to.getTime()) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
      return z.NEVER;
    }
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `the range may cover at most ${MAX_RANGE_DAYS} days` });
      return z.NEVER;
    }
    return { from, to, groupBy: q.groupBy, limit: q.limit };
  });

/** `GET /v1/orgs/:org/usage/alerts?limit`. */
export const AlertsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();

export const UsageMetrics = z.object({
  calls: z.number(),
  errors: z.number(),
  denied: z.number(),
  /** calls − denied: billed and counted against the quota. */
  billable: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Total upstream duration of the forwarded (billable) calls, in milliseconds. */
  durationMs: z.number(),
});
export type UsageMetrics = z.output<typeof UsageMetrics>;

export const UsageTimePoint = UsageMetrics.extend({ start: z.string() });
export const UsageKeyRow = UsageMetrics.extend({
  keyId: z.string().nullable(),
  keyName: z.string().nullable(),
  keyPrefix: z.string().nullable(),
});
export const UsageServerRow = UsageMetrics.extend({
  serverId: z.string().nullable(),
  serverSlug: z.string().nullable(),
  serverName: z.string().nullable(),
});
export const UsageToolRow = UsageMetrics.extend({
  serverId: z.string().nullable(),
  serverSlug: z.string().nullable(),
  tool: z.string().nullable(),
});

const usageBase = { from: z.string(), to: z.string(), totals: UsageMetrics, truncated: z.boolean(), limit: z.number() };
export const TimeUsage = z.object({ ...usageBase, groupBy: z.enum(['day', 'hour']), series: z.array(UsageTimePoint) });
export const KeyUsage = z.object({ ...usageBase, groupBy: z.literal('key'), series: z.array(UsageKeyRow) });
export const ServerUsage = z.object({ ...usageBase, groupBy: z.literal('server'), series: z.array(UsageServerRow) });
export const ToolUsage = z.object({ ...usageBase, groupBy: z.literal('tool'), series: z.array(UsageToolRow) });
export type TimeUsage = z.output<typeof TimeUsage>;
export type KeyUsage = z.output<typeof KeyUsage>;
export type ServerUsage = z.output<typeof ServerUsage>;
export type ToolUsage = z.output<typeof ToolUsage>;

/** `GET /v1/orgs/:org/usage`: totals and one series, its rows by `groupBy`. */
export const UsageView = z.discriminatedUnion('groupBy', [TimeUsage, KeyUsage, ServerUsage, ToolUsage]);
export type UsageView = z.output<typeof UsageView>;

export const QuotaAlertView = z.object({
  id: z.string(),
  /** The month, `2026-11`. */
  period: z.string(),
  /** Percent of the quota crossed. */
  threshold: z.number(),
  calls: z.number(),
  createdAt: z.string(),
  delivery: z.object({
    status: z.string(),
    attempts: z.number(),
    lastError: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
  }),
});
export type QuotaAlertView = z.output<typeof QuotaAlertView>;

/** `GET /v1/orgs/:org/usage/alerts`: this month against the quota, and the alerts raised (newest first). */
export const AlertsView = z.object({
  current: z.object({
    period: z.string(),
    quota: z.number().nullable(),
    used: z.number(),
    percent: z.number().nullable(),
    resetsAt: z.string(),
  }),
  items: z.array(QuotaAlertView),
});
export type AlertsView = z.output<typeof AlertsView>;
