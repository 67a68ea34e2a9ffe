import type { UsageMetrics } from '@toolgate/contracts';

/** Average upstream latency in ms (duration of forwarded calls / billable calls), or null without any. */
export const avgLatency = (m: Pick<UsageMetrics, 'billable' | 'durationMs'>): number | null =>
  m.billable > 0 ? m.durationMs / m.billable : null;

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms === 0) return '0 ms';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}
