import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden, notFound } from 'next/navigation';
import type { MemberView } from '@toolgate/contracts';
import { ActivityDiff } from '@/components/settings/activity-diff';
import { ACTIONS, type ActivityRow, actionWords, fieldChanges, formerActor, targetLabel } from '@/components/settings/activity-format';
import { resolveTarget, type TargetNames } from '@/components/targets';
import { Card, Empty, formatDate, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Activity' };

const PAGE = 50;

/** The admin activity log: who changed what in the organisation (owners and admins). */
export default async function ActivityPage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string }>;
  searchParams: Promise<{ action?: string; before?: string }>;
}) {
  const { org: slug } = await params;
  const sp = await searchParams;
  const { me, org } = await getMembership(slug);
  if (!org) notFound();
  if (!can.manage(org.role)) forbidden();
  const action = ACTIONS.includes(sp.action as (typeof ACTIONS)[number]) ? sp.action : undefined;
  const before = sp.before && !Number.isNaN(Date.parse(sp.before)) ? sp.before : undefined;
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (action) q.set('action', action);
  if (before) q.set('before', before);
  const o = encodeURIComponent(org.slug);
  const [log, members, servers, keys, roles] = await Promise.all([
    api<{ items: ActivityRow[]; nextBefore: string | null }>(`/v1/orgs/${o}/activity?${q}`),
    api<{ items: MemberView[] }>(`/v1/orgs/${o}/members`),
    api<{ items: { id: string; name: string }[] }>(`/v1/orgs/${o}/servers`),
    api<{ items: { id: string; name: string }[] }>(`/v1/orgs/${o}/keys?status=all`),
    api<{ items: { id: string; name: string }[] }>(`/v1/orgs/${o}/roles`),
  ]);
  const people = new Map(members.items.map((m) => [m.userId, { name: m.name, email: m.email }]));
  people.set(me.id, { name: me.name, email: me.email });
  const byId = (items: { id: string; name: string }[]) => Object.fromEntries(items.map((i) => [i.id, i.name]));
  const names: TargetNames = {
    servers: byId(servers.items),
    keys: byId(keys.items),
    roles: byId(roles.items),
    members: Object.fromEntries([...people].map(([id, p]) => [id, p.email])),
  };
  const base = `/o/${org.slug}/activity`;
  const link = (p: Record<string, string | undefined>) => {
    const s = new URLSearchParams(Object.entries(p).filter((e): e is [string, string] => !!e[1]));
    return s.size ? `${base}?${s}` : base;
  };

  return (
    <>
      <PageHeader
        title="Activity"
        description="Changes people made to this organisation: members, settings, servers, secrets, roles and keys. Tool calls by agents are in the audit log."
      />
      <Card>
        <form className="row" method="get" action={base} aria-label="Filter activity" style={{ marginBottom: 12 }}>
          <label className="row small" style={{ gap: 6 }}>
            <span>Action</span>
            <select name="action" defaultValue={action ?? ''}>
              <option value="">All actions</option>
              {ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
          <button className="btn small" type="submit">
            Filter
          </button>
          {action || before ? (
            <Link className="btn small ghost" href={base}>
              Clear
            </Link>
          ) : null}
        </form>
        {log.items.length === 0 ? (
          <Empty title={before ? 'No older activity' : 'No activity yet'}>
            {action ? `Nothing recorded for ${action}.` : 'Changes people make appear here.'}
          </Empty>
        ) : (
          <div className="table-wrap">
            <table data-testid="activity-table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {log.items.map((row) => {
                  const actor = row.actorId ? people.get(row.actorId) : undefined;
                  const changes = fieldChanges(row.before, row.after);
                  const target = resolveTarget(org.slug, row.targetType, row.targetId, names);
                  // The current name for things that still exist; else what the entry recorded.
                  const label = target.name ?? targetLabel(row, people);
                  return (
                    <tr key={row.id} data-testid="activity-row" data-action={row.action} style={{ verticalAlign: 'top' }}>
                      <td className="small muted" style={{ whiteSpace: 'nowrap' }}>
                        {formatDate(row.createdAt)}
                      </td>
                      <td className="small">
                        {actor ? (
                          <>
                            {actor.name}
                            <div className="muted mono">{actor.email}</div>
                          </>
                        ) : row.actorId ? (
                          <>
                            <span className="muted">Former member</span>
                            {formerActor(row) ? <div className="muted mono">{formerActor(row)}</div> : null}
                          </>
                        ) : row.actorToken ? null : (
                          <span className="muted">System</span>
                        )}
                        {row.actorToken ? (
                          <div className="muted" data-testid="activity-token">
                            {row.actorToken.kind === 'service_account' ? 'Service account' : 'via token'} “{row.actorToken.name}”{' '}
                            <span className="mono">{row.actorToken.prefix}…</span>
                          </div>
                        ) : null}
                      </td>
                      <td>
                        <span className="badge mono">{row.action}</span>
                        <div className="small muted">{actionWords(row)}</div>
                      </td>
                      <td className="small" style={{ minWidth: 180, overflowWrap: 'anywhere' }}>
                        {target.href ? (
                          <Link href={target.href} data-testid="activity-target">
                            {label}
                          </Link>
                        ) : (
                          <span data-testid="activity-target">{label}</span>
                        )}
                        <div className="muted">{row.targetType.replace(/_/g, ' ')}</div>
                      </td>
                      <td className="small" style={{ minWidth: 140 }}>
                        {changes.length === 0 ? (
                          <span className="muted">—</span>
                        ) : (
                          <details>
                            <summary>
                              {row.before != null && row.after != null
                                ? `Changed ${changes.map((c) => c.field).join(', ')}`
                                : row.after != null
                                  ? 'Values set'
                                  : 'Values before'}
                            </summary>
                            <ActivityDiff changes={changes} />
                          </details>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {before || log.nextBefore ? (
          <nav className="row" aria-label="Pages" style={{ marginTop: 12 }}>
            {before ? (
              <Link className="btn small" href={link({ action })}>
                Newest
              </Link>
            ) : null}
            <span className="spacer" />
            {log.nextBefore ? (
              <Link className="btn small" href={link({ action, before: log.nextBefore })}>
                Older
              </Link>
            ) : null}
          </nav>
        ) : null}
      </Card>
    </>
  );
}
