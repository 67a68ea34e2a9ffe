import type { Metadata } from 'next';
import Link from 'next/link';
import { redirect } from 'next/navigation';
import { ClientSnippets, EndpointLine } from '@/components/client-snippets';
import { Card, formatNumber, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can, landingPath } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Overview' };

interface OrgView {
  slug: string;
  name: string;
  plan: string;
  monthlyCallQuota: number | null;
  endpoint: string;
  counts: { memberships: number; servers: number; apiKeys: number; roles: number };
}

export default async function Overview({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  const landing = membership ? landingPath(membership.role) : '';
  if (landing) redirect(`/o/${membership!.slug}${landing}`);
  const org = await api<OrgView>(`/v1/orgs/${encodeURIComponent(slug)}`);
  const role = membership!.role;
  const base = `/o/${org.slug}`;
  const stats = [
    { label: 'MCP servers', value: org.counts.servers, href: `${base}/servers`, show: can.read(role) },
    { label: 'Active agent keys', value: org.counts.apiKeys, href: `${base}/keys`, show: can.read(role) },
    { label: 'Roles', value: org.counts.roles, href: `${base}/roles`, show: can.read(role) },
    { label: 'Members', value: org.counts.memberships, href: `${base}/members`, show: true },
  ];
  return (
    <>
      <PageHeader
        title={org.name}
        description={`Plan: ${org.plan}${org.monthlyCallQuota ? ` · ${formatNumber(org.monthlyCallQuota)} calls per month` : ''}`}
      />
      <div className="grid" style={{ marginBottom: 16 }}>
        {stats
          .filter((s) => s.show)
          .map((s) => (
            <Link key={s.label} href={s.href} className="card" style={{ marginBottom: 0, color: 'inherit' }}>
              <div className="muted">{s.label}</div>
              <div className="stat">{formatNumber(s.value)}</div>
            </Link>
          ))}
      </div>
      <Card title="Connect your agents" id="connect">
        <div className="stack">
          <p className="muted" style={{ margin: 0 }}>
            One endpoint for every server your agent&apos;s key may use; tool names are prefixed with the server&apos;s name.
          </p>
          <EndpointLine label="Endpoint" url={org.endpoint} />
          <ClientSnippets endpoint={org.endpoint} name={`toolgate-${org.slug}`} />
        </div>
      </Card>
      {can.read(role) && org.counts.servers === 0 ? (
        <Card title="Get started">
          <ol style={{ margin: 0, paddingLeft: 20 }}>
            <li>
              <Link href={can.manage(role) ? `${base}/servers/new` : `${base}/servers`}>Register an MCP server</Link>; its tools show as
              soon as it answers, and ticking some gives them to an agent.
            </li>
            <li>
              <Link href={`${base}/roles`}>Create a role</Link> that says which tools agents may call.
            </li>
            <li>
              <Link href={`${base}/keys`}>Create an agent key</Link> with that role and paste it into your client.
            </li>
          </ol>
        </Card>
      ) : null}
    </>
  );
}
