import type { OAuthGrantView } from '@toolgate/contracts';
import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { GrantTable } from '@/components/oauth/grant-table';
import { Card, Empty, Notice, PageHeader } from '@/components/ui';
import { can } from '@/lib/access';
import { api } from '@/lib/api';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Connected apps' };

/** Every OAuth grant of the org: who connected which app to which endpoint with which roles. */
export default async function ConnectedAppsPage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string }>;
  searchParams: Promise<{ status?: string }>;
}) {
  const { org: slug } = await params;
  // Live grants by default; `all` adds revoked ones, kept for the record of who connected what.
  const status = (await searchParams).status === 'all' ? 'all' : 'active';
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const o = encodeURIComponent(slug);
  const base = `/o/${membership.slug}/apps`;
  const [grants, org] = await Promise.all([
    api<OAuthGrantView[]>(`/v1/orgs/${o}/oauth/grants?status=${status}`),
    api<{ endpoint: string }>(`/v1/orgs/${o}`),
  ]);

  return (
    <>
      <PageHeader
        title="Connected apps"
        description="MCP clients that signed in with OAuth instead of an agent key. Each was approved by a person, with the roles it may use."
      />
      {manage ? null : <Notice kind="info">Your role can see connected apps but not revoke them.</Notice>}
      <Card>
        <nav className="tabs" aria-label="Filter connected apps">
          {(['active', 'all'] as const).map((f) => (
            <Link
              key={f}
              href={f === 'active' ? base : `${base}?status=all`}
              aria-current={f === status ? 'page' : undefined}
              className="btn ghost"
              style={
                f === status
                  ? { borderBottom: '2px solid var(--accent)', borderRadius: 0, color: 'var(--text)' }
                  : { borderRadius: 0, color: 'var(--muted)' }
              }
            >
              {f === 'active' ? 'Connected' : 'All, with revoked'}
            </Link>
          ))}
        </nav>
        {grants.length === 0 ? (
          <Empty title={status === 'all' ? 'No app was ever connected' : 'No connected apps'}>
            <p className="muted" style={{ margin: 0 }}>
              Point an MCP client (a desktop or hosted assistant, an IDE) at <code>{org.endpoint}</code> without a key: it starts an OAuth
              sign-in, an owner or admin of this organisation approves it in the dashboard and picks its roles, and the app shows up here.
            </p>
          </Empty>
        ) : (
          <GrantTable org={membership.slug} grants={grants} manage={manage} />
        )}
      </Card>
    </>
  );
}
