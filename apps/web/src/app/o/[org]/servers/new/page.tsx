import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { loadSandbox } from '@/components/servers/sandbox';
import { ServerForm } from '@/components/servers/server-form';
import type { SecretView } from '@toolgate/contracts';
import { Card, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Register an MCP server' };

export default async function NewServerPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org } = await getMembership(slug);
  if (!org || !can.manage(org.role)) forbidden();
  const [{ items }, sandbox] = await Promise.all([
    api<{ items: SecretView[] }>(`/v1/orgs/${encodeURIComponent(org.slug)}/secrets`),
    loadSandbox(org.slug),
  ]);
  return (
    <>
      <PageHeader
        title="Register an MCP server"
        description={
          <>
            <Link href={`/o/${org.slug}/servers`}>MCP servers</Link> / new
          </>
        }
      />
      <Card>
        <ServerForm org={org.slug} secrets={items.map((s) => s.name)} allowedCommands={sandbox?.allowedCommands} />
      </Card>
    </>
  );
}
