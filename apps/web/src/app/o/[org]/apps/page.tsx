import type { OAuthGrantView } from '@toolgate/contracts';
import type { Metadata } from 'next';
import { forbidden } from 'next/navigation';
import { GrantTable } from '@/components/oauth/grant-table';
import { Card, Empty, Notice, PageHeader } from '@/components/ui';
import { can } from '@/lib/access';
import { api } from '@/lib/api';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Connected apps' };

/** Every OAuth grant of the org: who connected which app to which endpoint with which roles. */
export default async function ConnectedAppsPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const o = encodeURIComponent(slug);
  const [grants, org] = await Promise.all([
    api<OAuthGrantView[]>(`/v1/orgs/${o}/oauth/grants`),
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
        {grants.length === 0 ? (
          <Empty title="No connected apps yet">
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
