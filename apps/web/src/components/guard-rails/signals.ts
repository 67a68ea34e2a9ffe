import type { AlertsView, ServerView } from '@toolgate/contracts';

/** From this share of the monthly quota on, every page warns (the first quota alert fires here too). */
export const QUOTA_WARN_PERCENT = 80;

export type QuotaSignal = { level: 'warn' | 'over'; used: number; quota: number; percent: number; resetsAt: string };

/** The month's usage as a warning, or null when there is no quota or it is far from reached. */
export function quotaSignal(current: AlertsView['current']): QuotaSignal | null {
  const { quota, used, resetsAt } = current;
  if (!quota) return null;
  const percent = current.percent ?? Math.round((used / quota) * 1000) / 10;
  if (percent < QUOTA_WARN_PERCENT) return null;
  return { level: used >= quota ? 'over' : 'warn', used, quota, percent, resetsAt };
}

export type FailingServer = Pick<ServerView, 'id' | 'name' | 'slug' | 'lastProbeError'>;

/**
 * Enabled servers whose last probe failed, by name. Disabled ones are left out: agents cannot
 * reach them anyway, so their health is not a reason to warn on every page.
 */
export function failingServers(
  items: ReadonlyArray<Pick<ServerView, 'id' | 'name' | 'slug' | 'enabled' | 'health' | 'lastProbeError'>>,
): FailingServer[] {
  return items
    .filter((s) => s.enabled && s.health === 'error')
    .map(({ id, name, slug, lastProbeError }) => ({ id, name, slug, lastProbeError }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
