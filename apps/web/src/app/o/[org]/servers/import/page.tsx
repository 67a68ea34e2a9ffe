import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { ImportServers } from '@/components/import/import-servers';
import { Card, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Import MCP servers' };

export default async function ImportServersPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org } = await getMembership(slug);
  if (!org || !can.manage(org.role)) forbidden();
  // The org's secret names: new secrets from the file never replace one, and placeholders may use one.
  const secrets = await api<{ items: { name: string }[] }>(`/v1/orgs/${encodeURIComponent(org.slug)}/secrets`);
  return (
    <>
      <PageHeader
        title="Import MCP servers"
        description={
          <>
            <Link href={`/o/${org.slug}/servers`}>MCP servers</Link> / import from the config of Claude Desktop, Cursor, Claude Code or VS
            Code
          </>
        }
      />
      <Card>
        <ImportServers org={org.slug} secretNames={secrets.items.map((s) => s.name)} />
      </Card>
    </>
  );
}
