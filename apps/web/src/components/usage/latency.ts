import type { UsageMetrics } from '@toolgate/contracts';

/** Average upstream latency in ms (total duration / calls), or null without calls. */
export const avgLatency = (m: Pick<UsageMetrics, 'calls' | 'durationMs'>): number | null => (m.calls > 0 ? m.durationMs / m.calls : null);

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms === 0) return '0 ms';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}
