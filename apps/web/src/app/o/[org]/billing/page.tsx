import type { Metadata } from 'next';
import { forbidden } from 'next/navigation';
import { EnableBillingButton } from '@/components/billing/enable-billing';
import { InvoicesTable } from '@/components/billing/invoices';
import { type BillingView, ENDED_STATUSES, type InvoiceList } from '@toolgate/contracts/src/api/billing';
import { Badge, Card, formatDate, formatMoney, formatNumber, Notice, PageHeader } from '@/components/ui';
import { api, apiResult } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';
import { humanize } from '@/lib/problem';

export const metadata: Metadata = { title: 'Billing' };

const dateFmt = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
/** `[start, end)` as "Nov 1, 2026 – Nov 30, 2026" (the end is exclusive). */
const periodText = (start: string, end: string) =>
  `${dateFmt.format(new Date(start))} – ${dateFmt.format(new Date(new Date(end).getTime() - 1))}`;

const SUB_STATUS: Record<string, 'ok' | 'warn' | 'danger' | 'info'> = {
  active: 'ok',
  trialing: 'info',
  past_due: 'warn',
  unpaid: 'danger',
  incomplete: 'warn',
  canceled: 'danger',
  incomplete_expired: 'danger',
};

export default async function BillingPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.billing(membership.role)) forbidden();
  const base = `/v1/orgs/${encodeURIComponent(slug)}/billing`;
  const [billing, invoices] = await Promise.all([api<BillingView>(base), apiResult<InvoiceList>(`${base}/invoices`)]);
  const stripe = billing.mode === 'stripe';
  const subscribed = stripe && !!billing.stripeSubscriptionId && !ENDED_STATUSES.has(billing.status);
  const { estimate, usage, period } = billing;
  const rate = `${formatMoney(estimate.centsPer1k, estimate.currency)} per 1,000 billable calls`;

  return (
    <>
      <PageHeader
        title="Billing"
        description="Plan, this period's usage and what it costs, and invoices. Only owners and billing members see this page."
      />

      <Card title="How this organisation is billed" id="mode">
        <div data-testid="billing-mode">
          {!stripe ? (
            <Notice kind="info">
              <strong>Local ledger.</strong> Stripe is not configured on this server, so no card is charged and no invoices are issued.
              Usage below comes from Toolgate&apos;s own usage ledger, and the amount is an estimate.
            </Notice>
          ) : subscribed ? (
            <div className="stack" style={{ gap: 6 }}>
              <div className="row">
                <span>
                  <strong>Billed through Stripe.</strong> Subscription status:
                </span>
                <Badge kind={SUB_STATUS[billing.status]}>{billing.status.replace(/_/g, ' ')}</Badge>
              </div>
              <p className="muted small" style={{ margin: 0 }}>
                Usage is reported to Stripe every hour as metered calls; Stripe issues the invoices below. Customer{' '}
                <span className="mono">{billing.stripeCustomerId}</span>
                {billing.meteringStartedAt ? `, metered since ${formatDate(billing.meteringStartedAt)}` : ''}.
              </p>
              {billing.status === 'past_due' || billing.status === 'unpaid' ? (
                <Notice kind="warn">Stripe could not collect the last payment. Update the payment method from the latest invoice.</Notice>
              ) : null}
            </div>
          ) : (
            <div className="stack" style={{ gap: 8 }}>
              <p style={{ margin: 0 }}>
                <strong>Stripe is configured, but billing is not enabled for this organisation yet.</strong>{' '}
                {billing.status !== 'none' ? `The last subscription ended (${billing.status.replace(/_/g, ' ')}). ` : ''}
                Until it is, usage is tracked in the local ledger and the amount below is an estimate.
              </p>
              <EnableBillingButton org={slug} label={billing.status !== 'none' ? 'Start a new subscription' : 'Enable billing'} />
            </div>
          )}
        </div>
      </Card>

      <div className="grid" style={{ marginBottom: 16 }}>
        <div className="card" style={{ marginBottom: 0 }}>
          <div className="muted">Plan</div>
          <div className="stat" data-testid="billing-plan">
            {billing.plan.name}
          </div>
          <div className="small muted">
            {billing.plan.monthlyCallQuota ? `${formatNumber(billing.plan.monthlyCallQuota)} calls per month` : 'No monthly quota'}
          </div>
        </div>
        <div className="card" style={{ marginBottom: 0 }}>
          <div className="muted">Current period</div>
          <div className="stat" style={{ fontSize: 18 }} data-testid="billing-period">
            {periodText(period.start, period.end)}
          </div>
          <div className="small muted">{period.source === 'subscription' ? 'Stripe subscription period' : 'Calendar month (UTC)'}</div>
        </div>
        <div className="card" style={{ marginBottom: 0 }}>
          <div className="muted">Billable calls this period</div>
          <div className="stat" data-testid="billing-billable">
            {formatNumber(usage.billable)}
          </div>
          <div className="small muted">
            {formatNumber(usage.calls)} calls, {formatNumber(usage.denied)} denied (not billed)
          </div>
        </div>
        <div className="card" style={{ marginBottom: 0 }}>
          <div className="muted">{stripe && subscribed ? 'Estimated amount (local count)' : 'Estimated amount'}</div>
          <div className="stat" data-testid="billing-estimate">
            {formatMoney(estimate.amountCents, estimate.currency)}
          </div>
          <div className="small muted">
            {formatNumber(estimate.billableCalls)} billable {estimate.billableCalls === 1 ? 'call' : 'calls'} × {rate}
            {billing.estimatedCentsPer1k === null ? ' (server default)' : ''}
          </div>
        </div>
      </div>

      <Card title="Upcoming invoice" id="upcoming">
        {!stripe ? (
          <p className="muted" style={{ margin: 0 }}>
            The local ledger does not issue invoices. At {rate}, this period so far comes to{' '}
            <strong>{formatMoney(estimate.amountCents, estimate.currency)}</strong>.
          </p>
        ) : billing.upcomingInvoice ? (
          <UpcomingInvoice inv={billing.upcomingInvoice} />
        ) : billing.upcomingInvoiceError ? (
          <Notice kind="warn">
            Stripe did not answer with the upcoming invoice just now, so it cannot be shown. Reload in a moment. (
            {billing.upcomingInvoiceError})
          </Notice>
        ) : (
          <p className="muted" style={{ margin: 0 }}>
            There is no upcoming invoice: billing is not enabled for this organisation.
          </p>
        )}
        {subscribed ? <MeterReports r={billing.meterReports} /> : null}
      </Card>

      <Card title="Invoices" id="invoices">
        {!invoices.ok ? (
          <Notice kind="error">The invoices could not be loaded. {humanize(invoices.problem)}</Notice>
        ) : (
          <>
            {invoices.data.refreshError ? (
              <Notice kind="warn">
                Stripe did not answer, so these are the invoices Toolgate stored earlier and may be out of date. (
                {invoices.data.refreshError})
              </Notice>
            ) : null}
            <InvoicesTable
              items={invoices.data.items}
              emptyText={
                !stripe
                  ? 'Stripe is not configured on this server, so there are no invoices: the local ledger only estimates.'
                  : subscribed
                    ? 'Stripe issues the first invoice at the end of the billing period.'
                    : 'Enable billing to start receiving invoices from Stripe.'
              }
            />
          </>
        )}
      </Card>
    </>
  );
}

function UpcomingInvoice({ inv }: { inv: NonNullable<BillingView['upcomingInvoice']> }) {
  return (
    <div className="stack" data-testid="upcoming-invoice">
      <div className="row">
        <span className="stat">{formatMoney(inv.amountDue, inv.currency)}</span>
        <span className="muted">
          due for {inv.periodStart && inv.periodEnd ? periodText(inv.periodStart, inv.periodEnd) : 'the current period'} (Stripe&apos;s
          preview; it grows as usage is reported)
        </span>
      </div>
      {inv.lines.length ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Line</th>
                <th scope="col" style={{ textAlign: 'right' }}>
                  Quantity
                </th>
                <th scope="col" style={{ textAlign: 'right' }}>
                  Amount
                </th>
              </tr>
            </thead>
            <tbody>
              {inv.lines.map((l, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: Stripe's lines have no id in this view; order is stable
                <tr key={i}>
                  <td>{l.description ?? '—'}</td>
                  <td style={{ textAlign: 'right' }}>{formatNumber(l.quantity)}</td>
                  <td style={{ textAlign: 'right' }}>{formatMoney(l.amount, inv.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function MeterReports({ r }: { r: BillingView['meterReports'] }) {
  return (
    <p className="muted small" style={{ margin: '12px 0 0' }}>
      {r.lastReportedHour
        ? `Usage reported to Stripe up to the hour of ${formatDate(r.lastReportedHour)}.`
        : 'No usage reported to Stripe yet.'}{' '}
      {r.pending ? `${formatNumber(r.pending)} hour(s) waiting to be reported. ` : ''}
      {r.failed ? (
        <span style={{ color: 'var(--danger)' }}>
          {formatNumber(r.failed)} hour(s) could not be reported to Stripe and need attention.{' '}
        </span>
      ) : null}
      Hours are reported once they have closed.
    </p>
  );
}
