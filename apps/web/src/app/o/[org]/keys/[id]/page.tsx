import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import type { ReactNode } from 'react';
import { EffectivePolicy } from '@toolgate/contracts/src/effective-policy';
import { relativeTime } from '@/components/keys/format';
import { KeyActions } from '@/components/keys/key-actions';
import { MetadataList, StatusBadge } from '@/components/keys/key-table';
import { EditKey } from '@/components/keys/edit-key';
import { EffectivePolicyCard } from '@/components/keys/effective-policy';
import { SecretDialogProvider } from '@/components/keys/secret-dialog';
import type { KeyView, RoleView, ServerView } from '@toolgate/contracts';
import { TryIt, type TryTarget } from '@/components/try-it/try-it';
import { Card, formatDate, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Agent key' };

export default async function KeyPage({ params }: { params: Promise<{ org: string; id: string }> }) {
  const { org: slug, id } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const manage = can.manage(membership.role);
  const o = encodeURIComponent(slug);
  const [k, roles, org, effective] = await Promise.all([
    // `kind` is read here only: `try_it` keys are reached from the audit entry of their one call.
    api<KeyView & { kind?: 'agent' | 'try_it' }>(`/v1/orgs/${o}/keys/${encodeURIComponent(id)}`),
    api<{ items: RoleView[] }>(`/v1/orgs/${o}/roles`),
    api<{ endpoint: string }>(`/v1/orgs/${o}`),
    api<unknown>(`/v1/orgs/${o}/keys/${encodeURIComponent(id)}/effective`).then((body) => EffectivePolicy.parse(body)),
  ]);
  // Try it as this key: every tool of the enabled servers' catalogues (the gateway decides, as it would for the key).
  const targets: TryTarget[] =
    manage && k.status === 'active'
      ? (await api<{ items: ServerView[] }>(`/v1/orgs/${o}/servers?enabled=true`)).items.flatMap((srv) =>
          (srv.catalog?.tools ?? []).map((tool) => ({ serverId: srv.id, serverSlug: srv.slug, tool })),
        )
      : [];
  const base = `/o/${membership.slug}`;
  const details: [string, ReactNode][] = [
    ['Status', <StatusBadge key="s" status={k.status} />],
    ['Prefix', <code key="p">{k.prefix}…</code>],
    [
      'Roles',
      k.roles.length ? (
        <span key="r" className="row" style={{ gap: 4 }}>
          {k.roles.map((r) => (
            <Link key={r.id} href={`${base}/roles/${r.id}`} className="badge info">
              {r.name}
            </Link>
          ))}
        </span>
      ) : (
        <span key="r" className="muted">
          none — every call is denied
        </span>
      ),
    ],
    ['Metadata', <MetadataList key="m" metadata={k.metadata} />],
    ['Expires', k.expiresAt ? `${formatDate(k.expiresAt)} (${relativeTime(k.expiresAt)})` : 'never'],
    ['Last used', k.lastUsedAt ? `${formatDate(k.lastUsedAt)} (${relativeTime(k.lastUsedAt)})` : 'never'],
    ['Created', formatDate(k.createdAt)],
  ];
  if (k.revokedAt) details.push(['Revoked', formatDate(k.revokedAt)]);

  return (
    <SecretDialogProvider org={membership.slug} endpoint={org.endpoint}>
      <PageHeader
        title={k.name}
        description={
          <>
            <Link href={`${base}/keys`}>Agent keys</Link> › {k.name}
          </>
        }
        actions={manage ? <KeyActions org={membership.slug} k={k} showEdit={false} /> : undefined}
      />
      {k.kind === 'try_it' ? (
        <Notice kind="info">
          <span data-testid="try-it-key-notice">
            Made by Try it for a single call from the dashboard and revoked right after it; its secret was never shown. It is not listed
            with the agent keys.
          </span>
        </Notice>
      ) : null}
      {k.rotatedToId ? (
        <Notice kind="info">
          This key was rotated and is no longer valid. <Link href={`${base}/keys/${k.rotatedToId}`}>Open the key that replaced it</Link>.
        </Notice>
      ) : null}
      <Card title="Details">
        <dl className="stack" style={{ margin: 0, gap: 8 }}>
          {details.map(([label, value]) => (
            <div key={label} className="row" style={{ alignItems: 'baseline' }}>
              <dt className="muted" style={{ minWidth: 110 }}>
                {label}
              </dt>
              <dd style={{ margin: 0 }}>{value}</dd>
            </div>
          ))}
        </dl>
        {k.status !== 'revoked' ? (
          <p className="small" style={{ marginBottom: 0 }}>
            <Link href={`${base}/roles?key=${k.id}#test-a-call`}>Test a call with this key</Link>
          </p>
        ) : null}
      </Card>
      <EffectivePolicyCard policy={effective} />
      {targets.length ? (
        <Card title="Try it" id="try-it">
          <TryIt org={membership.slug} targets={targets} as={{ fixed: { keyId: k.id, name: k.name } }} />
        </Card>
      ) : null}
      {manage && k.status !== 'revoked' ? (
        <Card title="Edit">
          <EditKey org={membership.slug} k={k} roles={roles.items.map((r) => ({ id: r.id, name: r.name, description: r.description }))} />
        </Card>
      ) : null}
    </SecretDialogProvider>
  );
}
