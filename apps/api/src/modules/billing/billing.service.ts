import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BillingAccount, Invoice, Tx } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { OrgChangeService } from '../snapshots/org-change.service';
import { UsageRepository } from '../usage/usage.repository';
import { hourStart, monthBounds, monthOf } from '../usage/usage.rules';
import type { InvoicesQuery, UpdateBillingDto } from './billing.dto';
import { describeStripeError, STRIPE, type StripeBilling } from './stripe.client';
import { ENDED_STATUSES, subscriptionFields, upsertInvoice } from './stripe-sync';

const HOUR_MS = 3_600_000;

export const invoiceView = (i: Invoice) => ({
  id: i.id,
  number: i.number,
  status: i.status,
  currency: i.currency,
  amountDue: i.amountDue,
  amountPaid: i.amountPaid,
  hostedInvoiceUrl: i.hostedInvoiceUrl,
  invoicePdf: i.invoicePdf,
  periodStart: i.periodStart,
  periodEnd: i.periodEnd,
  createdAt: i.createdAt,
});

const accountView = (a: BillingAccount | null) => ({
  status: a?.status ?? 'none',
  stripeCustomerId: a?.stripeCustomerId ?? null,
  stripeSubscriptionId: a?.stripeSubscriptionId ?? null,
  meteringStartedAt: a?.meteringStartedAt ?? null,
  alertWebhookUrl: a?.alertWebhookUrl ?? null,
  estimatedCentsPer1k: a?.estimatedCentsPer1k ?? null,
});

/**
 * Billing as owners and billing members see it.
 *
 * `mode: 'stripe'` (STRIPE_SECRET_KEY set): one Stripe customer per org and a subscription on the
 * metered price, created by `enable`; usage reaches Stripe as meter events (MeterReporter, in the
 * worker); invoices come back through webhooks and list calls; the upcoming invoice is Stripe's
 * preview. `mode: 'local'`: no Stripe at all — usage and an estimate from the local ledger.
 * Both modes show the current period's usage and the local estimate.
 */
@Injectable()
export class BillingService {
  private readonly logger = new Logger('Billing');

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(STRIPE) private readonly stripe: StripeBilling,
    private readonly prisma: PrismaService,
    private readonly usage: UsageRepository,
    private readonly changes: OrgChangeService,
  ) {}

  get mode(): 'stripe' | 'local' {
    return this.stripe.client ? 'stripe' : 'local';
  }

  async view(org: OrgContext) {
    const [row, account] = await Promise.all([
      this.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id }, select: { plan: true, monthlyCallQuota: true } }),
      this.prisma.db.billingAccount.findUnique({ where: { orgId: org.id } }),
    ]);
    const subscribed = this.mode === 'stripe' && !!account?.stripeSubscriptionId && !ENDED_STATUSES.has(account.status);
    const period =
      subscribed && account?.currentPeriodStart && account.currentPeriodEnd
        ? { start: account.currentPeriodStart, end: account.currentPeriodEnd, source: 'subscription' as const }
        : { ...monthBounds(monthOf(new Date())), source: 'calendar_month' as const };
    // Roll-ups are hourly: the hours that overlap the period.
    const usage = await this.usage.totals(org.id, hourStart(period.start), new Date(Math.ceil(period.end.getTime() / HOUR_MS) * HOUR_MS));
    const centsPer1k = account?.estimatedCentsPer1k ?? this.env.BILLING_ESTIMATE_CENTS_PER_1K;
    const [upcoming, reports] = await Promise.all([subscribed ? this.upcoming(account!) : null, this.reportSummary(org.id)]);
    return {
      mode: this.mode,
      ...(this.mode === 'local'
        ? { notice: 'Stripe is not configured on this server: usage and amounts come from the local usage ledger and are estimates.' }
        : {}),
      plan: { name: row.plan, monthlyCallQuota: row.monthlyCallQuota },
      ...accountView(account),
      period: { start: period.start, end: period.end, source: period.source },
      usage,
      estimate: {
        billableCalls: usage.billable,
        centsPer1k,
        amountCents: Math.round((usage.billable * centsPer1k) / 1000),
        currency: this.env.BILLING_CURRENCY,
      },
      upcomingInvoice: upcoming?.invoice ?? null,
      ...(upcoming?.error ? { upcomingInvoiceError: upcoming.error } : {}),
      meterReports: reports,
    };
  }

  /** Stripe's preview of the next invoice; a Stripe failure is reported, never fatal. */
  private async upcoming(account: BillingAccount) {
    try {
      const inv = await this.stripe.client!.invoices.createPreview({
        customer: account.stripeCustomerId!,
        subscription: account.stripeSubscriptionId!,
      });
      return {
        invoice: {
          amountDue: inv.amount_due,
          total: inv.total,
          currency: inv.currency,
          periodStart: inv.period_start ? new Date(inv.period_start * 1000) : null,
          periodEnd: inv.period_end ? new Date(inv.period_end * 1000) : null,
          lines: (inv.lines?.data ?? []).map((l) => ({ description: l.description, amount: l.amount, quantity: l.quantity })),
        },
        error: null,
      };
    } catch (e) {
      this.logger.warn(`upcoming invoice of ${account.orgId}: ${describeStripeError(e)}`);
      return { invoice: null, error: `Stripe did not answer the upcoming invoice: ${describeStripeError(e)}` };
    }
  }

  private async reportSummary(orgId: string) {
    const [pending, failed, last] = await Promise.all([
      this.prisma.db.meterReport.count({ where: { orgId, status: 'pending' } }),
      this.prisma.db.meterReport.count({ where: { orgId, status: 'failed' } }),
      this.prisma.db.meterReport.findFirst({
        where: { orgId, status: 'reported' },
        orderBy: { hour: 'desc' },
        select: { hour: true, reportedAt: true },
      }),
    ]);
    return { pending, failed, lastReportedHour: last?.hour ?? null, lastReportedAt: last?.reportedAt ?? null };
  }

  /**
   * Creates the org's Stripe customer and metered subscription (idempotent: calling it again, or
   * concurrently, returns the same customer and subscription — the idempotency keys derive from
   * the org id and the subscription being replaced). An org whose subscription ended gets a new one.
   */
  async enable(user: AuthUser, org: OrgContext) {
    const { client, priceId } = this.stripe;
    if (!client || !priceId) {
      throw new Problem(
        409,
        ErrorCode.BillingNotConfigured,
        'Stripe is not configured on this server (STRIPE_SECRET_KEY is unset): billing runs on the local usage ledger only',
      );
    }
    const orgRow = await this.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id }, select: { name: true } });
    const before = await this.ensureAccount(org.id);
    if (before.stripeSubscriptionId && !ENDED_STATUSES.has(before.status)) return this.view(org);

    const metadata = { toolgate_org_id: org.id };
    let customerId = before.stripeCustomerId;
    if (!customerId) {
      const customer = await this.callStripe(org, () =>
        client.customers.create({ name: orgRow.name, metadata }, { idempotencyKey: `tg-customer-${org.id}` }),
      );
      customerId = customer.id;
      // Stored at once: a failure below must not leave the customer unknown to us.
      await this.prisma.db.billingAccount.update({ where: { orgId: org.id }, data: { stripeCustomerId: customerId } });
    }
    const sub = await this.callStripe(org, () =>
      client.subscriptions.create(
        { customer: customerId, items: [{ price: priceId }], metadata },
        { idempotencyKey: `tg-subscription-${org.id}-${before.stripeSubscriptionId ?? 'first'}` },
      ),
    );
    await this.changes.run(org.id, user.id, { affectsDataPlane: false }, async (tx, log) => {
      const after = await tx.billingAccount.update({
        where: { orgId: org.id },
        // Metering starts with the first subscription and never moves (reported hours stay reported).
        data: { ...subscriptionFields(sub), meteringStartedAt: before.meteringStartedAt ?? new Date() },
      });
      await log({
        action: 'billing.enabled',
        targetType: 'billing',
        targetId: org.id,
        before: accountView(before),
        after: accountView(after),
      });
    });
    return this.view(org);
  }

  /** The org's BillingAccount, created if missing (concurrent callers both get the one row). */
  private async ensureAccount(orgId: string, tx: Tx = this.prisma.db): Promise<BillingAccount> {
    await tx.$executeRaw`INSERT INTO "BillingAccount" ("orgId", "updatedAt") VALUES (${orgId}::uuid, now() AT TIME ZONE 'UTC') ON CONFLICT ("orgId") DO NOTHING`;
    return tx.billingAccount.findUniqueOrThrow({ where: { orgId } });
  }

  /** A Stripe call on behalf of a request: a failure becomes a 502 problem naming Stripe's reason. */
  private async callStripe<T>(org: OrgContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.logger.warn(`enable billing for ${org.id}: ${describeStripeError(e)}`);
      throw new Problem(502, ErrorCode.PaymentProviderError, `Stripe could not set up billing: ${describeStripeError(e)}`);
    }
  }

  async update(user: AuthUser, org: OrgContext, dto: UpdateBillingDto) {
    await this.changes.run(org.id, user.id, { affectsDataPlane: false }, async (tx, log) => {
      const before = await tx.billingAccount.findUnique({ where: { orgId: org.id } });
      await this.ensureAccount(org.id, tx);
      const after = await tx.billingAccount.update({ where: { orgId: org.id }, data: dto });
      await log({
        action: 'billing.updated',
        targetType: 'billing',
        targetId: org.id,
        before: accountView(before),
        after: accountView(after),
      });
    });
    return this.view(org);
  }

  /**
   * Invoices from our table (kept current by webhooks), refreshed from Stripe's list first when
   * Stripe is configured. If Stripe does not answer, the stored invoices are returned with
   * `source: 'database'` and the reason.
   */
  async invoices(org: OrgContext, q: InvoicesQuery) {
    const account = await this.prisma.db.billingAccount.findUnique({ where: { orgId: org.id } });
    let source: 'stripe' | 'database' = 'database';
    let refreshError: string | undefined;
    const { client } = this.stripe;
    if (client && account?.stripeCustomerId) {
      try {
        const list = await client.invoices.list({ customer: account.stripeCustomerId, limit: q.limit });
        await this.prisma.db.$transaction(async (tx) => {
          for (const inv of list.data) await upsertInvoice(tx, org.id, inv);
        });
        source = 'stripe';
      } catch (e) {
        refreshError = `Stripe did not answer; showing stored invoices: ${describeStripeError(e)}`;
        this.logger.warn(`invoice refresh of ${org.id}: ${describeStripeError(e)}`);
      }
    }
    const rows = await this.prisma.db.invoice.findMany({
      where: { orgId: org.id },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
    });
    return { mode: this.mode, source, ...(refreshError ? { refreshError } : {}), items: rows.map(invoiceView) };
  }
}
