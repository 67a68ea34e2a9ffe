import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { BillingController } from './billing.controller';
import { BillingService } from './billing.service';
import { StripeProvider } from './stripe.client';
import { StripeWebhookController } from './stripe-webhook.controller';
import { StripeWebhookService } from './stripe-webhook.service';

/** Billing API and Stripe webhooks (control plane). Meter reporting runs in BillingWorkerModule. */
@Module({
  imports: [UsageModule],
  controllers: [BillingController, StripeWebhookController],
  providers: [StripeProvider, BillingService, StripeWebhookService],
})
export class BillingModule {}
