import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { RoleEditor } from '@/components/roles/role-editor';
import type { ServerSummary } from '@/components/roles/catalogue';
import { Card, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'New role' };

export default async function NewRolePage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.manage(membership.role)) forbidden();
  const servers = await api<{ items: ServerSummary[] }>(`/v1/orgs/${encodeURIComponent(slug)}/servers`);
  return (
    <>
      <PageHeader
        title="New role"
        description={
          <>
            <Link href={`/o/${membership.slug}/roles`}>Roles & policies</Link> › New role
          </>
        }
      />
      <Card>
        <RoleEditor org={membership.slug} servers={servers.items} />
      </Card>
    </>
  );
}
