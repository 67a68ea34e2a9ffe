import Link from 'next/link';
import { Badge, Card, Empty, formatDate, formatNumber } from '@/components/ui';
import type { AlertsView, QuotaAlertView as QuotaAlert } from '@toolgate/contracts';
import styles from './usage.module.css';

const monthFmt = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
/** `2026-11` → "November 2026". */
export const monthName = (period: string) => monthFmt.format(new Date(`${period}-01T00:00:00Z`));

/** The month's billable calls against the org's monthly quota (what the gateway enforces). */
export function QuotaCard({ alerts, billingHref }: { alerts: AlertsView; billingHref?: string }) {
  const { quota, used, percent, resetsAt, period } = alerts.current;
  const pct = percent ?? 0;
  const level = pct >= 100 ? styles.over : pct >= 80 ? styles.warn : '';
  const text = quota
    ? `${formatNumber(used)} of ${formatNumber(quota)} calls used in ${monthName(period)} (${pct}%)`
    : `${formatNumber(used)} billable calls in ${monthName(period)}. This organisation has no monthly quota.`;
  return (
    <Card title="Monthly quota" id="quota">
      <p style={{ margin: 0 }} data-testid="quota-text">
        {text}
      </p>
      {quota ? (
        <div
          className={`progress ${styles.quotaBar} ${level}`}
          role="progressbar"
          aria-label="Monthly quota used"
          aria-valuemin={0}
          aria-valuemax={quota}
          aria-valuenow={Math.min(used, quota)}
          aria-valuetext={`${pct}%`}
        >
          <span style={{ width: `${Math.min(100, pct)}%` }} />
        </div>
      ) : null}
      <p className="muted small" style={{ margin: 0 }}>
        Billable calls are calls minus denials. {quota ? 'Past the quota the gateway refuses calls. ' : ''}The count starts again on{' '}
        {formatDate(resetsAt)}.{billingHref ? ' ' : ''}
        {billingHref ? <Link href={billingHref}>See billing</Link> : null}
      </p>
      <h3 style={{ marginTop: 16 }}>Quota alerts</h3>
      {alerts.items.length === 0 ? (
        <Empty title="No alerts raised">
          <span className="small">An alert is recorded when the month&apos;s calls reach 80% and 100% of the quota.</span>
        </Empty>
      ) : (
        <div className="table-wrap">
          <table data-testid="quota-alerts">
            <thead>
              <tr>
                <th scope="col">Threshold</th>
                <th scope="col">Month</th>
                <th scope="col" className={styles.num}>
                  Calls then
                </th>
                <th scope="col">Raised</th>
                <th scope="col">Webhook</th>
              </tr>
            </thead>
            <tbody>
              {alerts.items.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Badge kind={a.threshold >= 100 ? 'danger' : 'warn'}>{a.threshold}% reached</Badge>
                  </td>
                  <td>{monthName(a.period)}</td>
                  <td className={styles.num}>{formatNumber(a.calls)}</td>
                  <td className="small">{formatDate(a.createdAt)}</td>
                  <td className="small">{delivery(a)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function delivery(a: QuotaAlert): string {
  const d = a.delivery;
  switch (d.status) {
    case 'none':
      return 'No webhook configured';
    case 'delivered':
      return `Delivered ${formatDate(d.deliveredAt)}`;
    case 'pending':
      return `Retrying (${d.attempts} attempt${d.attempts === 1 ? '' : 's'} so far)${d.lastError ? `: ${d.lastError}` : ''}`;
    case 'failed':
      return `Not delivered after ${d.attempts} attempts${d.lastError ? `: ${d.lastError}` : ''}`;
    default:
      return d.status;
  }
}
