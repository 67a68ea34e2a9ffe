import { Badge, Empty, formatDate, formatMoney } from '@/components/ui';
import type { Invoice } from '@toolgate/contracts';

const STATUS: Record<string, { kind?: 'ok' | 'danger' | 'warn' | 'info'; label: string }> = {
  paid: { kind: 'ok', label: 'Paid' },
  open: { kind: 'info', label: 'Open' },
  draft: { label: 'Draft' },
  uncollectible: { kind: 'danger', label: 'Uncollectible' },
  void: { kind: 'warn', label: 'Void' },
};

export function InvoiceStatus({ status }: { status: string }) {
  const s = STATUS[status] ?? { label: status };
  return <Badge kind={s.kind}>{s.label}</Badge>;
}

const day = (iso: string | null) => (iso ? formatDate(iso).slice(0, 10) : '—');

/** The org's invoices, newest first, with Stripe's hosted page and PDF when it has them. */
export function InvoicesTable({ items, emptyText }: { items: Invoice[]; emptyText: string }) {
  if (items.length === 0) {
    return (
      <Empty title="No invoices yet">
        <span className="small">{emptyText}</span>
      </Empty>
    );
  }
  return (
    <div className="table-wrap">
      <table data-testid="invoices">
        <thead>
          <tr>
            <th scope="col">Invoice</th>
            <th scope="col">Status</th>
            <th scope="col" style={{ textAlign: 'right' }}>
              Amount due
            </th>
            <th scope="col" style={{ textAlign: 'right' }}>
              Paid
            </th>
            <th scope="col">Period</th>
            <th scope="col">Created</th>
            <th scope="col">Links</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i) => (
            <tr key={i.id}>
              <td className="mono">{i.number ?? <span className="muted">Not numbered yet</span>}</td>
              <td>
                <InvoiceStatus status={i.status} />
              </td>
              <td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>{formatMoney(i.amountDue, i.currency)}</td>
              <td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>{formatMoney(i.amountPaid, i.currency)}</td>
              <td style={{ whiteSpace: 'nowrap' }}>
                {day(i.periodStart)} – {day(i.periodEnd)}
              </td>
              <td style={{ whiteSpace: 'nowrap' }}>{day(i.createdAt)}</td>
              <td>
                <div className="row" style={{ flexWrap: 'nowrap' }}>
                  {i.hostedInvoiceUrl ? (
                    <a href={i.hostedInvoiceUrl} target="_blank" rel="noopener noreferrer">
                      View invoice<span className="sr-only"> {i.number ?? ''} (opens Stripe)</span>
                    </a>
                  ) : null}
                  {i.invoicePdf ? (
                    <a href={i.invoicePdf} target="_blank" rel="noopener noreferrer">
                      PDF<span className="sr-only"> of invoice {i.number ?? ''}</span>
                    </a>
                  ) : null}
                  {!i.hostedInvoiceUrl && !i.invoicePdf ? <span className="muted small">None yet</span> : null}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
