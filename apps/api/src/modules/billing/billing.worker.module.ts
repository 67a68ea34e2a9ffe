import { Module } from '@nestjs/common';
import { MeterReporter } from './meter-reporter';
import { StripeProvider } from './stripe.client';

/** Stripe meter reporting (worker entry point). Idle when Stripe is not configured. */
@Module({ providers: [StripeProvider, MeterReporter], exports: [MeterReporter] })
export class BillingWorkerModule {}
