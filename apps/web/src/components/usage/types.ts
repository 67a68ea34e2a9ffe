/** Response shapes of GET /v1/orgs/:org/usage and /usage/alerts (apps/api/src/modules/usage). */

export interface Metrics {
  calls: number;
  errors: number;
  denied: number;
  /** calls − denied: billed and counted against the quota. */
  billable: number;
  bytesIn: number;
  bytesOut: number;
  /** Total upstream duration of the forwarded (billable) calls, in milliseconds. */
  durationMs: number;
}

interface UsageBase<G extends string, S> {
  from: string;
  to: string;
  groupBy: G;
  totals: Metrics;
  series: S[];
  truncated: boolean;
  limit: number;
}

export type TimePoint = Metrics & { start: string };
export type KeyRow = Metrics & { keyId: string | null; keyName: string | null; keyPrefix: string | null };
export type ServerRow = Metrics & { serverId: string | null; serverSlug: string | null; serverName: string | null };
export type ToolRow = Metrics & { serverId: string | null; serverSlug: string | null; tool: string | null };

export type TimeUsage = UsageBase<'day' | 'hour', TimePoint>;
export type KeyUsage = UsageBase<'key', KeyRow>;
export type ServerUsage = UsageBase<'server', ServerRow>;
export type ToolUsage = UsageBase<'tool', ToolRow>;

export interface QuotaAlert {
  id: string;
  period: string;
  threshold: number;
  calls: number;
  createdAt: string;
  delivery: {
    status: string;
    attempts: number;
    lastError: string | null;
    deliveredAt: string | null;
    nextAttemptAt: string | null;
  };
}

export interface AlertsView {
  current: { period: string; quota: number | null; used: number; percent: number | null; resetsAt: string };
  items: QuotaAlert[];
}

/** Average upstream latency in ms (duration of forwarded calls / billable calls), or null without any. */
export const avgLatency = (m: Pick<Metrics, 'billable' | 'durationMs'>): number | null =>
  m.billable > 0 ? m.durationMs / m.billable : null;

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms === 0) return '0 ms';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}
