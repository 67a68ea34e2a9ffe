import type { Metadata } from 'next';
import Link from 'next/link';
import { FlashNotice } from '@/components/flash-notice';
import { forbidden } from 'next/navigation';
import { catalogueOf } from '@/components/roles/catalogue';
import { DeleteRole } from '@/components/roles/delete-role';
import { KeyForRole } from '@/components/roles/key-for-role';
import { readableRules } from '@/components/roles/paths';
import { RoleEditor } from '@/components/roles/role-editor';
import { RulesSummary } from '@/components/roles/rules-summary';
import { SimulatePanel } from '@/components/roles/simulate-panel';
import type { KeyView, RoleView, ServerView } from '@toolgate/contracts';
import { Card, formatDate, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Role' };

export default async function RolePage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string; id: string }>;
  searchParams: Promise<{ created?: string }>;
}) {
  const { org: slug, id } = await params;
  const { created } = await searchParams;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const o = encodeURIComponent(slug);
  const [role, roles, keys, servers, orgView] = await Promise.all([
    api<RoleView>(`/v1/orgs/${o}/roles/${encodeURIComponent(id)}`),
    api<{ items: RoleView[] }>(`/v1/orgs/${o}/roles`),
    api<{ items: KeyView[] }>(`/v1/orgs/${o}/keys?status=all`),
    api<{ items: ServerView[] }>(`/v1/orgs/${o}/servers`),
    api<{ endpoint: string }>(`/v1/orgs/${o}`),
  ]);
  const base = `/o/${membership.slug}`;
  const holders = keys.items.filter((k) => k.status !== 'revoked' && k.roles.some((r) => r.id === role.id));

  return (
    <>
      <PageHeader
        title={role.name}
        description={
          <>
            <Link href={`${base}/roles`}>Roles & policies</Link> › {role.name}
            {role.description ? ` — ${role.description}` : ''}
          </>
        }
        actions={manage ? <DeleteRole org={membership.slug} id={role.id} name={role.name} keyCount={holders.length} /> : undefined}
      />
      {created ? <FlashNotice param="created">Role created. Give it to a key, then try a call below.</FlashNotice> : null}
      {manage ? <KeyForRole org={membership.slug} role={role} endpoint={orgView.endpoint} /> : null}
      <p className="muted small" style={{ marginTop: 0 }}>
        Held by {holders.length} active key{holders.length === 1 ? '' : 's'}
        {holders.length ? ': ' : ''}
        {holders.map((k, i) => (
          <span key={k.id}>
            {i > 0 ? ', ' : ''}
            <Link href={`${base}/keys/${k.id}`}>{k.name}</Link>
          </span>
        ))}{' '}
        · updated {formatDate(role.updatedAt)}
      </p>
      {manage ? (
        <Card title="Policy">
          <RoleEditor org={membership.slug} role={role} servers={servers.items} />
        </Card>
      ) : (
        <Card title="Policy">
          <div className="stack">
            <RulesSummary rules={role.rules} catalogue={catalogueOf(servers.items)} />
            <details>
              <summary>Rules as JSON</summary>
              <pre style={{ marginTop: 8 }}>{JSON.stringify(readableRules(role.rules), null, 2)}</pre>
            </details>
          </div>
        </Card>
      )}
      <Card title="Test a call" id="test-a-call">
        <p className="muted" style={{ marginTop: 0 }}>
          Runs against the policy the gateway uses now (saved changes included). Keys holding this role are listed first.
        </p>
        <SimulatePanel org={membership.slug} keys={keys.items} servers={servers.items} roles={roles.items} preferRoleId={role.id} />
      </Card>
    </>
  );
}
