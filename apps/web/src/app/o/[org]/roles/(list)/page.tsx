import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { rulesCount } from '@/components/roles/rules-summary';
import { SimulatePanel } from '@/components/roles/simulate-panel';
import type { KeyView, RoleView, ServerView } from '@toolgate/contracts';
import { Card, Empty, formatDate, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Roles & policies' };

export default async function RolesPage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string }>;
  searchParams: Promise<{ key?: string }>;
}) {
  const { org: slug } = await params;
  const { key: keyParam } = await searchParams;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const o = encodeURIComponent(slug);
  const [roles, keys, servers] = await Promise.all([
    api<{ items: RoleView[] }>(`/v1/orgs/${o}/roles`),
    api<{ items: KeyView[] }>(`/v1/orgs/${o}/keys?status=all`),
    api<{ items: ServerView[] }>(`/v1/orgs/${o}/servers`),
  ]);
  const base = `/o/${membership.slug}/roles`;

  return (
    <>
      <PageHeader
        title="Roles & policies"
        description="A role is a set of allow and deny rules. Keys hold roles; every call an agent makes is checked against them."
        actions={
          manage ? (
            <Link className="btn primary" href={`${base}/new`}>
              New role
            </Link>
          ) : undefined
        }
      />
      {!manage ? <Notice kind="info">Your role can read policies and test calls, but not change them.</Notice> : null}
      <Card title="Roles" id="roles">
        {roles.items.length === 0 ? (
          <Empty title="No roles yet">
            <p className="muted" style={{ margin: 0 }}>
              Without a role, an agent key is denied every call.{' '}
              {manage ? <Link href={`${base}/new`}>Create the first role</Link> : 'An owner or admin can create one.'}
            </p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table data-testid="roles-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Description</th>
                  <th>Rules</th>
                  <th>Keys</th>
                  <th>Updated</th>
                </tr>
              </thead>
              <tbody>
                {roles.items.map((r) => (
                  <tr key={r.id} data-testid="role-row">
                    <td>
                      <Link href={`${base}/${r.id}`} className="mono">
                        {r.name}
                      </Link>
                    </td>
                    <td>{r.description ?? <span className="muted">—</span>}</td>
                    <td className="small">{rulesCount(r.rules)}</td>
                    <td>{r.keyCount}</td>
                    <td className="small" style={{ whiteSpace: 'nowrap' }}>
                      {formatDate(r.updatedAt)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Test a call" id="test-a-call">
        <p className="muted" style={{ marginTop: 0 }}>
          Check what the gateway would decide for a call, using the policy it runs right now. Nothing is called and nothing is logged.
        </p>
        <SimulatePanel org={membership.slug} keys={keys.items} servers={servers.items} roles={roles.items} defaultKeyId={keyParam} />
      </Card>
    </>
  );
}
