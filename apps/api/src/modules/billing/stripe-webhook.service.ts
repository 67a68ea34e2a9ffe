import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Tx } from '@toolgate/db';
import Stripe from 'stripe';
import { ErrorCode, Problem } from '../../common/problem';
import { PrismaService } from '../../infra/prisma.service';
import { STRIPE, type StripeBilling } from './stripe.client';
import { customerIdOf, subscriptionFields, upsertInvoice } from './stripe-sync';

/** Event types we act on; every other type is acknowledged and recorded, nothing more. */
const INVOICE_EVENTS: ReadonlySet<string> = new Set([
  'invoice.created',
  'invoice.finalized',
  'invoice.updated',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
]);
const SUBSCRIPTION_EVENTS: ReadonlySet<string> = new Set([
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
]);

export interface WebhookResult {
  received: true;
  /** The event id was processed before (Stripe retries and replays): nothing was changed. */
  duplicate: boolean;
  /** The event changed our records (false for types we do not use, or customers we do not know). */
  handled: boolean;
}

/**
 * Stripe webhooks (`POST /v1/billing/stripe/webhook`).
 *
 * - The signature is checked on the raw request body with the endpoint's signing secret
 *   (`Stripe.webhooks.constructEvent`, which also refuses timestamps older than 5 minutes, so a
 *   captured request cannot be replayed later).
 * - Exactly once per event id: the id is inserted into StripeEvent in the same transaction as the
 *   changes it causes; a redelivery finds it and changes nothing. If handling fails the
 *   transaction rolls back and the 500 makes Stripe deliver the event again.
 * - invoice.* upserts the Invoice row; customer.subscription.* updates the BillingAccount's
 *   status and period.
 */
@Injectable()
export class StripeWebhookService {
  private readonly logger = new Logger('StripeWebhook');

  constructor(
    @Inject(STRIPE) private readonly stripe: StripeBilling,
    private readonly prisma: PrismaService,
  ) {}

  async receive(rawBody: unknown, signature: string | undefined): Promise<WebhookResult> {
    const secret = this.stripe.webhookSecret;
    if (!secret) {
      throw new Problem(503, ErrorCode.BillingNotConfigured, 'Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET)');
    }
    if (!Buffer.isBuffer(rawBody) || rawBody.length === 0) {
      throw new Problem(400, ErrorCode.ValidationFailed, 'The webhook body is empty');
    }
    if (!signature) throw new Problem(400, ErrorCode.InvalidSignature, 'The Stripe-Signature header is missing');
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signature, secret);
    } catch (e) {
      const detail = e instanceof Stripe.errors.StripeSignatureVerificationError ? e.message : 'The webhook payload is not a Stripe event';
      throw new Problem(400, ErrorCode.InvalidSignature, `Signature verification failed: ${detail}`);
    }
    if (typeof event?.id !== 'string' || typeof event.type !== 'string') {
      throw new Problem(400, ErrorCode.ValidationFailed, 'The webhook payload is not a Stripe event');
    }

    return this.prisma.db.$transaction(async (tx) => {
      const inserted =
        await tx.$executeRaw`INSERT INTO "StripeEvent" (id, type) VALUES (${event.id}, ${event.type}) ON CONFLICT (id) DO NOTHING`;
      if (inserted === 0) return { received: true as const, duplicate: true, handled: false };
      const handled = await this.apply(tx, event);
      this.logger.log(`${event.type} ${event.id}${handled ? '' : ' (ignored)'}`);
      return { received: true as const, duplicate: false, handled };
    });
  }

  private async apply(tx: Tx, event: Stripe.Event): Promise<boolean> {
    if (INVOICE_EVENTS.has(event.type)) {
      const inv = event.data.object as Stripe.Invoice;
      const orgId = await this.orgOf(tx, customerIdOf(inv.customer));
      if (!orgId) return false;
      await upsertInvoice(tx, orgId, inv);
      return true;
    }
    if (SUBSCRIPTION_EVENTS.has(event.type)) {
      const sub = event.data.object as Stripe.Subscription;
      const customer = customerIdOf(sub.customer);
      const account = await tx.billingAccount.findFirst({
        where: { OR: [{ stripeSubscriptionId: sub.id }, ...(customer ? [{ stripeCustomerId: customer }] : [])] },
      });
      if (!account) return false;
      // An account follows its current subscription; events of one it replaced change nothing.
      if (account.stripeSubscriptionId && account.stripeSubscriptionId !== sub.id) return false;
      const fields = subscriptionFields(sub);
      await tx.billingAccount.update({
        where: { orgId: account.orgId },
        data: { ...fields, status: event.type === 'customer.subscription.deleted' ? 'canceled' : fields.status },
      });
      return true;
    }
    return false;
  }

  private async orgOf(tx: Tx, customerId: string | null): Promise<string | null> {
    if (!customerId) return null;
    const account = await tx.billingAccount.findUnique({ where: { stripeCustomerId: customerId }, select: { orgId: true } });
    return account?.orgId ?? null;
  }
}
