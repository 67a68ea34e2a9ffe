import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { EndpointLine } from '@/components/client-snippets';
import { EnabledBadge, HealthBadge } from '@/components/servers/badges';
import { loadSandbox } from '@/components/servers/sandbox';
import { SandboxNotice } from '@/components/servers/sandbox-notice';
import css from '@/components/servers/servers.module.css';
import type { ServerView } from '@toolgate/contracts';
import { TRANSPORT_LABEL } from '@/components/servers/labels';
import { Card, Empty, formatDate, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'MCP servers' };

export default async function ServersPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const base = `/o/${membership.slug}/servers`;
  const [{ items }, org, sandbox] = await Promise.all([
    api<{ items: ServerView[] }>(`/v1/orgs/${encodeURIComponent(membership.slug)}/servers`),
    api<{ endpoint: string }>(`/v1/orgs/${encodeURIComponent(membership.slug)}`),
    loadSandbox(membership.slug),
  ]);
  const servers = [...items].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <PageHeader
        title="MCP servers"
        description="The servers your agents reach through Toolgate. Probe a server to read its tools."
        actions={
          manage ? (
            <>
              <Link className="btn" href={`${base}/import`}>
                Import from a client config
              </Link>
              <Link className="btn primary" href={`${base}/new`}>
                Register server
              </Link>
            </>
          ) : null
        }
      />
      <SandboxNotice sandbox={sandbox} />
      <Card>
        <EndpointLine label="Org endpoint" url={org.endpoint} />
      </Card>
      <Card>
        {servers.length === 0 ? (
          <Empty title="No MCP servers yet">
            {manage ? (
              <p>
                <Link href={`${base}/new`}>Register a server</Link> — a local command (stdio) or a remote URL — or{' '}
                <Link href={`${base}/import`}>import the ones your desktop client already uses</Link>.
              </p>
            ) : (
              <p>An owner or admin can register one.</p>
            )}
          </Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="MCP servers" className={css.listTable}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Transport</th>
                  <th scope="col">Status</th>
                  <th scope="col">Health</th>
                  <th scope="col">Tools</th>
                  <th scope="col">Last probe</th>
                </tr>
              </thead>
              <tbody>
                {servers.map((s) => (
                  <tr key={s.id} data-testid={`server-row-${s.slug}`}>
                    <td>
                      <Link href={`${base}/${s.id}`}>{s.name}</Link>
                      <div className="muted small mono">{s.slug}</div>
                    </td>
                    <td data-label="Transport">{TRANSPORT_LABEL[s.transport]}</td>
                    <td data-label="Status">
                      <EnabledBadge enabled={s.enabled} />
                    </td>
                    <td data-label="Health">
                      <HealthBadge health={s.health} />
                    </td>
                    <td data-testid="tool-count" data-label="Tools">
                      {s.catalog ? s.catalog.tools.length : '—'}
                    </td>
                    <td className="muted small" data-label="Last probe">
                      {s.lastProbeAt ? formatDate(s.lastProbeAt) : 'never'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
