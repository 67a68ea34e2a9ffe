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
 * `?from&to&groupBy&limit`. Roll-ups are hourly, so `from` is rounded down and `to` up to a whole
 * hour; `to` is exclusive. Defaults: the current UTC month up to now, grouped by day.
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
export type UsageQuery = z.output<typeof UsageQuery>;

export const AlertsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();
export type AlertsQuery = z.output<typeof AlertsQuery>;
