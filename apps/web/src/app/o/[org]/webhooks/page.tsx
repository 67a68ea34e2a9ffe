import type { AuditDeliveryView, AuditWebhookView } from '@toolgate/contracts';
import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import type { BillingView } from '@toolgate/contracts';
import { Badge, Card, Empty, formatDate, Notice, PageHeader } from '@/components/ui';
import { CreateAuditWebhook } from '@/components/webhooks/create-audit-webhook';
import { DeleteAuditWebhook } from '@/components/webhooks/delete-audit-webhook';
import { QuotaWebhookForm } from '@/components/webhooks/quota-webhook-form';
import { VerifySignature } from '@/components/webhooks/verify-signature';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Webhooks' };

/** Deliveries shown per webhook: the recent ones say whether the receiver keeps up. */
const RECENT = 10;

/**
 * Both kinds of outgoing webhook in one place: audit webhooks (owner/admin manage, members read)
 * and the quota alert URL (owner and billing, who own the quota's cost). Each section is only
 * loaded for the roles the API lets read it.
 */
export default async function WebhooksPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org } = await getMembership(slug);
  if (!org) notFound();
  const base = `/v1/orgs/${encodeURIComponent(org.slug)}`;
  const read = can.read(org.role);
  const manage = can.manage(org.role);
  const billing = can.billing(org.role);
  const [hooks, account] = await Promise.all([
    read ? api<{ items: AuditWebhookView[] }>(`${base}/audit/webhooks`) : null,
    billing ? api<BillingView>(`${base}/billing`) : null,
  ]);
  const deliveries = hooks
    ? await Promise.all(
        hooks.items.map((w) =>
          api<{ items: AuditDeliveryView[] }>(`${base}/audit/webhooks/${encodeURIComponent(w.id)}/deliveries?limit=${RECENT}`),
        ),
      )
    : [];

  return (
    <>
      <PageHeader title="Webhooks" description="Where Toolgate sends your audit log and quota alerts." />
      {hooks ? (
        <Card title="Audit log webhooks" id="audit">
          <div className="stack">
            <p className="muted" style={{ margin: 0 }}>
              Stream every audit event to your SIEM or log store as it is recorded. See the events themselves in the{' '}
              <Link href={`/o/${org.slug}/audit`}>audit log</Link>.
            </p>
            {hooks.items.length === 0 ? (
              <Empty title="No audit webhooks yet">{manage ? null : <span className="small">An owner or admin can add one.</span>}</Empty>
            ) : (
              hooks.items.map((w, i) => (
                <AuditWebhookRow key={w.id} org={org.slug} hook={w} deliveries={deliveries[i]?.items ?? []} manage={manage} />
              ))
            )}
            {manage ? (
              <>
                <h3 style={{ margin: '8px 0 0' }}>Add a webhook</h3>
                <CreateAuditWebhook org={org.slug} />
              </>
            ) : null}
            <VerifySignature />
          </div>
        </Card>
      ) : null}
      {account ? (
        <Card title="Quota alert webhook" id="quota-alerts">
          <div className="stack">
            <p className="muted" style={{ margin: 0 }}>
              Alerts are always listed on the <Link href={`/o/${org.slug}/usage#quota`}>usage page</Link>; with a URL they are also POSTed
              to you.
            </p>
            <QuotaWebhookForm org={org.slug} url={account.alertWebhookUrl} />
          </div>
        </Card>
      ) : (
        <Notice kind="info">The quota alert webhook is set by owners and billing members.</Notice>
      )}
    </>
  );
}

function AuditWebhookRow({
  org,
  hook,
  deliveries,
  manage,
}: {
  org: string;
  hook: AuditWebhookView;
  deliveries: AuditDeliveryView[];
  manage: boolean;
}) {
  return (
    <section className="stack" style={{ gap: 8 }} aria-label={`Webhook ${hook.url}`} data-testid="audit-webhook">
      <div className="row" style={{ justifyContent: 'space-between', flexWrap: 'wrap', gap: 8 }}>
        <div style={{ minWidth: 0 }}>
          <code style={{ overflowWrap: 'anywhere' }}>{hook.url}</code>{' '}
          {hook.enabled ? <Badge kind="ok">Enabled</Badge> : <Badge kind="warn">Paused</Badge>}
          <div className="muted small">
            Added {formatDate(hook.createdAt)} · delivered up to event #{hook.deliveredSeq}
          </div>
        </div>
        {manage ? <DeleteAuditWebhook org={org} id={hook.id} url={hook.url} /> : null}
      </div>
      {deliveries.length === 0 ? (
        <p className="muted small" style={{ margin: 0 }}>
          No deliveries yet: the first is sent once new audit events are recorded.
        </p>
      ) : (
        <div className="table-wrap">
          <table aria-label={`Recent deliveries to ${hook.url}`} data-testid="deliveries">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Answer</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td>
                    <DeliveryBadge status={d.status} />
                    <div className="mono small muted">
                      {d.fromSeq === d.toSeq ? `event #${d.fromSeq}` : `events #${d.fromSeq}–${d.toSeq}`}
                    </div>
                  </td>
                  <td className="small" style={{ overflowWrap: 'anywhere' }}>
                    {[d.responseStatus ? `HTTP ${d.responseStatus}` : null, d.lastError].filter(Boolean).join(' · ') || '—'}
                    <div className="muted">
                      {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
                    </div>
                  </td>
                  <td className="small">
                    {d.deliveredAt
                      ? formatDate(d.deliveredAt)
                      : d.nextAttemptAt
                        ? `Next try ${formatDate(d.nextAttemptAt)}`
                        : formatDate(d.createdAt)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function DeliveryBadge({ status }: { status: AuditDeliveryView['status'] }) {
  if (status === 'delivered') return <Badge kind="ok">Delivered</Badge>;
  if (status === 'retrying') return <Badge kind="danger">Retrying</Badge>;
  if (status === 'skipped') return <Badge kind="warn">Skipped</Badge>;
  return <Badge>Pending</Badge>;
}
