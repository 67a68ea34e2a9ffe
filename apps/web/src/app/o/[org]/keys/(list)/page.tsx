import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { CreateKey } from '@/components/keys/create-key';
import { KeyTable } from '@/components/keys/key-table';
import { SecretDialogProvider } from '@/components/keys/secret-dialog';
import type { KeyView, RoleView } from '@toolgate/contracts';
import { Card, Empty, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Agent keys' };

const FILTERS = ['all', 'active', 'expired', 'revoked'] as const;
type Filter = (typeof FILTERS)[number];

export default async function KeysPage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string }>;
  searchParams: Promise<{ status?: string }>;
}) {
  const { org: slug } = await params;
  const { status: rawStatus } = await searchParams;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const status: Filter = FILTERS.includes(rawStatus as Filter) ? (rawStatus as Filter) : 'all';
  const o = encodeURIComponent(slug);
  const [keys, roles, org] = await Promise.all([
    api<{ items: KeyView[] }>(`/v1/orgs/${o}/keys?status=${status}`),
    api<{ items: RoleView[] }>(`/v1/orgs/${o}/roles`),
    api<{ endpoint: string }>(`/v1/orgs/${o}`),
  ]);
  const base = `/o/${membership.slug}/keys`;

  return (
    <SecretDialogProvider org={membership.slug} endpoint={org.endpoint}>
      <PageHeader
        title="Agent keys"
        description="Keys your agents use to call the gateway. Each key carries roles that decide which tools it may call."
      />
      {manage ? (
        <CreateKey
          org={membership.slug}
          roles={roles.items.map((r) => ({ id: r.id, name: r.name, description: r.description }))}
          endpoint={org.endpoint}
        />
      ) : (
        <Notice kind="info">Your role can see keys but not create, edit, rotate or revoke them.</Notice>
      )}
      <Card>
        <nav className="tabs" aria-label="Filter keys by status">
          {FILTERS.map((f) => (
            <Link
              key={f}
              href={f === 'all' ? base : `${base}?status=${f}`}
              aria-current={f === status ? 'page' : undefined}
              className="btn ghost"
              style={
                f === status
                  ? { borderBottom: '2px solid var(--accent)', borderRadius: 0, color: 'var(--text)' }
                  : { borderRadius: 0, color: 'var(--muted)' }
              }
            >
              {f[0]!.toUpperCase() + f.slice(1)}
            </Link>
          ))}
        </nav>
        {keys.items.length === 0 ? (
          <Empty title={status === 'all' ? 'No agent keys yet' : `No ${status} keys`}>
            {status === 'all' ? (
              <p className="muted" style={{ margin: 0 }}>
                {manage ? 'Create a key, give it a role, and paste it into your agent’s MCP client.' : 'An owner or admin can create one.'}
              </p>
            ) : null}
          </Empty>
        ) : (
          <KeyTable org={membership.slug} keys={keys.items} manage={manage} />
        )}
      </Card>
    </SecretDialogProvider>
  );
}
