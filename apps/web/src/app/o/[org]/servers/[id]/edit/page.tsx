import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { loadSandbox } from '@/components/servers/sandbox';
import { ServerForm } from '@/components/servers/server-form';
import type { SecretView, ServerView } from '@toolgate/contracts';
import { Card, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Edit MCP server' };

export default async function EditServerPage({ params }: { params: Promise<{ org: string; id: string }> }) {
  const { org: slug, id } = await params;
  const { org } = await getMembership(slug);
  if (!org || !can.manage(org.role)) forbidden();
  const o = encodeURIComponent(org.slug);
  const [server, secrets, sandbox] = await Promise.all([
    api<ServerView>(`/v1/orgs/${o}/servers/${encodeURIComponent(id)}`),
    api<{ items: SecretView[] }>(`/v1/orgs/${o}/secrets`),
    loadSandbox(org.slug),
  ]);
  return (
    <>
      <PageHeader
        title={`Edit ${server.name}`}
        description={
          <>
            <Link href={`/o/${org.slug}/servers`}>MCP servers</Link> /{' '}
            <Link href={`/o/${org.slug}/servers/${server.id}`}>{server.slug}</Link> / edit
          </>
        }
      />
      <Card>
        <ServerForm org={org.slug} secrets={secrets.items.map((s) => s.name)} initial={server} allowedCommands={sandbox?.allowedCommands} />
      </Card>
    </>
  );
}
