import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { EndpointLine } from '@/components/client-snippets';
import { DeleteOrg } from '@/components/settings/delete-org';
import { OrgForm } from '@/components/settings/org-form';
import { QuotaForm } from '@/components/settings/quota-form';
import { Card, formatDate, formatNumber, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Settings' };

interface OrgView {
  id: string;
  slug: string;
  name: string;
  plan: string;
  monthlyCallQuota: number | null;
  createdAt: string;
  endpoint: string;
}

export default async function SettingsPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership) notFound();
  const org = await api<OrgView>(`/v1/orgs/${encodeURIComponent(membership.slug)}`);
  const role = membership.role;
  const manage = can.manage(role);
  const owner = can.owner(role);

  return (
    <>
      <PageHeader title="Settings" description={`Organisation settings for ${org.name}.`} />
      {manage ? null : <Notice kind="info">Only owners and admins change these settings.</Notice>}
      <Card title="General" id="general">
        {manage ? (
          <OrgForm key={org.slug} org={org.slug} name={org.name} />
        ) : (
          <dl className="stack" style={{ margin: 0 }}>
            <div>
              <dt className="muted small">Organisation name</dt>
              <dd style={{ margin: 0 }} data-testid="org-name">
                {org.name}
              </dd>
            </div>
            <div>
              <dt className="muted small">URL name</dt>
              <dd style={{ margin: 0 }} className="mono">
                {org.slug}
              </dd>
            </div>
          </dl>
        )}
        <div style={{ marginTop: 16 }}>
          <EndpointLine label="MCP endpoint" url={org.endpoint} />
        </div>
        <p className="small muted" style={{ marginBottom: 0 }}>
          Created {formatDate(org.createdAt)} · id <span className="mono">{org.id}</span>
        </p>
      </Card>
      <Card title="Plan and quota" id="plan">
        <dl className="stack" style={{ margin: '0 0 12px' }}>
          <div>
            <dt className="muted small">Plan</dt>
            <dd style={{ margin: 0 }} data-testid="org-plan">
              {org.plan}
              {can.billing(role) ? (
                <>
                  {' · '}
                  <Link href={`/o/${org.slug}/billing`}>Billing</Link>
                </>
              ) : null}
            </dd>
          </div>
          {owner ? null : (
            <div>
              <dt className="muted small">Monthly call quota</dt>
              <dd style={{ margin: 0 }} data-testid="org-quota">
                {org.monthlyCallQuota === null ? 'No quota' : `${formatNumber(org.monthlyCallQuota)} calls`}
              </dd>
            </div>
          )}
        </dl>
        {owner ? (
          <QuotaForm org={org.slug} quota={org.monthlyCallQuota} />
        ) : (
          <p className="small muted" style={{ margin: 0 }}>
            Only an owner changes the quota.
          </p>
        )}
      </Card>
      {owner ? (
        <Card title="Danger zone" id="danger">
          <div className="stack">
            <p style={{ margin: 0 }}>
              Deleting the organisation removes everything in it for every member. You will be asked to type <code>{org.slug}</code> to
              confirm.
            </p>
            <div>
              <DeleteOrg org={org.slug} name={org.name} />
            </div>
          </div>
        </Card>
      ) : null}
    </>
  );
}
