import { Badge } from '@/components/ui';

/** `2026-03-01 10:00:00` (UTC, the header says so). */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().replace('T', ' ').slice(0, 19);
}

export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const label = (s: string) => s.replace(/_/g, ' ');

export function DecisionBadge({ decision }: { decision: string }) {
  const kind = decision === 'allow' ? 'ok' : decision === 'rate_limited' || decision === 'quota_exceeded' ? 'warn' : 'danger';
  return <Badge kind={kind}>{label(decision)}</Badge>;
}

export function OutcomeBadge({ outcome }: { outcome: string }) {
  // A cancelled call is the agent's choice, not a failure.
  const kind = outcome === 'ok' ? 'ok' : outcome === 'cancelled' ? 'info' : outcome === 'timeout' ? 'warn' : 'danger';
  return <Badge kind={kind}>{label(outcome)}</Badge>;
}
