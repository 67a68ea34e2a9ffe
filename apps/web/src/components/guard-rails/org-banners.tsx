import Link from 'next/link';
import type { AlertsView, ServerView } from '@toolgate/contracts';
import { formatDate, formatNumber } from '@/components/ui';
import { can, type MemberRole } from '@/lib/access';
import { apiResult } from '@/lib/api';
import { type FailingServer, failingServers, type QuotaSignal, quotaSignal } from './signals';

/**
 * Warnings shown above every org page: the monthly quota nearly or fully used, and enabled servers
 * whose last probe failed. Each is read with the signed-in person's own token, so a role sees only
 * what the API lets it read (billing members get no server list); a failed read shows nothing
 * rather than breaking the page.
 */
export async function OrgBanners({ org, role }: { org: string; role: MemberRole }) {
  const path = `/v1/orgs/${encodeURIComponent(org)}`;
  const [alerts, servers] = await Promise.all([
    apiResult<AlertsView>(`${path}/usage/alerts?limit=1`),
    can.read(role) ? apiResult<{ items: ServerView[] }>(`${path}/servers`) : null,
  ]);
  const quota = alerts.ok ? quotaSignal(alerts.data.current) : null;
  const failing = servers?.ok ? failingServers(servers.data.items) : [];
  if (!quota && failing.length === 0) return null;
  return (
    <section aria-label="Warnings" data-testid="org-banners" className="stack" style={{ gap: 8, marginBottom: 16 }}>
      {quota ? <QuotaBanner org={org} role={role} signal={quota} /> : null}
      {failing.length > 0 ? <ServersBanner org={org} servers={failing} /> : null}
    </section>
  );
}

function QuotaBanner({ org, role, signal }: { org: string; role: MemberRole; signal: QuotaSignal }) {
  const base = `/o/${org}`;
  const used = `${formatNumber(signal.used)} of ${formatNumber(signal.quota)} calls (${signal.percent}%)`;
  return (
    <div className={`notice ${signal.level === 'over' ? 'error' : 'warn'}`} data-testid="quota-banner" style={{ margin: 0 }}>
      <strong>{signal.level === 'over' ? 'Monthly quota used up.' : 'Monthly quota nearly used up.'}</strong>{' '}
      {signal.level === 'over'
        ? `The gateway refuses agents' calls until ${formatDate(signal.resetsAt)}: ${used} this month.`
        : `${used} this month; past the quota the gateway refuses agents' calls.`}{' '}
      {can.owner(role) ? (
        <Link href={`${base}/settings#plan`}>Raise the quota</Link>
      ) : can.billing(role) ? (
        <Link href={`${base}/billing`}>See billing</Link>
      ) : (
        <Link href={`${base}/usage`}>See usage</Link>
      )}
    </div>
  );
}

function ServersBanner({ org, servers }: { org: string; servers: FailingServer[] }) {
  const one = servers.length === 1;
  return (
    <div className="notice error" data-testid="servers-banner" style={{ margin: 0 }}>
      <strong>{one ? 'A server failed its last probe:' : `${servers.length} servers failed their last probe:`}</strong>{' '}
      {servers.map((s, i) => (
        <span key={s.id}>
          {i > 0 ? ', ' : null}
          <Link href={`/o/${org}/servers/${s.id}`} title={s.lastProbeError ?? undefined}>
            {s.name}
          </Link>
        </span>
      ))}
      . Agents&apos; calls to {one ? 'its' : 'their'} tools will likely fail until {one ? 'it answers' : 'they answer'} a probe again.
    </div>
  );
}
