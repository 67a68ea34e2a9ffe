import type { Invoice as InvoiceRow, Tx } from '@toolgate/db';
import type Stripe from 'stripe';

/**
 * Mapping Stripe objects (from webhooks or from list calls) into our tables. Webhooks arrive out
 * of order and a list may be older than a webhook processed meanwhile, so an invoice never moves
 * back in its lifecycle: draft → open → paid | void | uncollectible.
 */
const STATUS_RANK: Record<string, number> = { draft: 0, open: 1, paid: 2, void: 2, uncollectible: 2 };
const rank = (status: string) => STATUS_RANK[status] ?? 0;

const fromUnix = (s: number | null | undefined) => (typeof s === 'number' && s > 0 ? new Date(s * 1000) : null);

export const customerIdOf = (c: string | { id: string } | null | undefined) => (typeof c === 'string' ? c : (c?.id ?? null));

/** Upsert one invoice of `orgId`; returns the row as stored. */
export async function upsertInvoice(tx: Tx, orgId: string, inv: Stripe.Invoice): Promise<InvoiceRow> {
  const data = {
    orgId,
    number: inv.number ?? null,
    status: inv.status ?? 'draft',
    currency: inv.currency,
    amountDue: inv.amount_due,
    amountPaid: inv.amount_paid,
    hostedInvoiceUrl: inv.hosted_invoice_url ?? null,
    invoicePdf: inv.invoice_pdf ?? null,
    periodStart: fromUnix(inv.period_start),
    periodEnd: fromUnix(inv.period_end),
    createdAt: fromUnix(inv.created) ?? new Date(),
  };
  const existing = await tx.invoice.findUnique({ where: { id: inv.id } });
  if (!existing) {
    // Two deliveries of the same invoice racing: the loser updates instead (see below).
    const created = await tx.invoice.createManyAndReturn({ data: [{ id: inv.id, ...data }], skipDuplicates: true });
    if (created[0]) return created[0];
  }
  const current = existing ?? (await tx.invoice.findUniqueOrThrow({ where: { id: inv.id } }));
  if (rank(data.status) < rank(current.status)) return current;
  return tx.invoice.update({ where: { id: inv.id }, data });
}

/** The fields of a BillingAccount a subscription determines. */
export function subscriptionFields(sub: Stripe.Subscription) {
  // Since API version 2025-03-31 the billing period lives on the subscription items.
  const item = sub.items?.data?.[0];
  return {
    stripeSubscriptionId: sub.id,
    status: sub.status,
    currentPeriodStart: fromUnix(item?.current_period_start),
    currentPeriodEnd: fromUnix(item?.current_period_end),
  };
}

/** Subscription statuses after which a subscription bills nothing more. */
export { ENDED_STATUSES } from '@toolgate/contracts';
