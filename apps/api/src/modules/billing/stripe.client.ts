import type { Provider } from '@nestjs/common';
import Stripe from 'stripe';
import { ENV, type Env } from '../../config/env';
import { isConnectionFailure } from '../../infra/failures';

/**
 * The Stripe side of billing, or `client: null` when STRIPE_SECRET_KEY is unset: billing then
 * runs on the local usage ledger alone (usage and an estimate, `mode: 'local'`), nothing is sent
 * anywhere, and the Stripe-only routes answer a `billing_not_configured` problem.
 */
export interface StripeBilling {
  client: Stripe | null;
  /** Price attached to every subscription (a metered price on the meter below). */
  priceId: string | null;
  /** Signing secret of the webhook endpoint. */
  webhookSecret: string | null;
  meterEventName: string;
}

export const STRIPE = Symbol('STRIPE');

/** Refuses to start with a half-configured Stripe (a key but no price or webhook secret). */
export function createStripeBilling(env: Env): StripeBilling {
  const meterEventName = env.STRIPE_METER_EVENT_NAME;
  if (!env.STRIPE_SECRET_KEY) {
    return { client: null, priceId: null, webhookSecret: env.STRIPE_WEBHOOK_SECRET ?? null, meterEventName };
  }
  const missing = (['STRIPE_PRICE_ID', 'STRIPE_WEBHOOK_SECRET'] as const).filter((k) => !env[k]);
  if (missing.length > 0) {
    throw new Error(`Invalid configuration:\n${missing.map((k) => `  ${k}: required when STRIPE_SECRET_KEY is set`).join('\n')}`);
  }
  const client = new Stripe(env.STRIPE_SECRET_KEY, {
    // Tests (and a proxy, if one is used) point the SDK elsewhere; Stripe's API otherwise.
    ...(env.STRIPE_API_HOST ? { host: env.STRIPE_API_HOST } : {}),
    ...(env.STRIPE_API_PORT ? { port: env.STRIPE_API_PORT } : {}),
    ...(env.STRIPE_API_PROTOCOL ? { protocol: env.STRIPE_API_PROTOCOL } : {}),
    timeout: env.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: env.STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'Toolgate', version: '0.1.0' },
  });
  return { client, priceId: env.STRIPE_PRICE_ID ?? null, webhookSecret: env.STRIPE_WEBHOOK_SECRET ?? null, meterEventName };
}

export const StripeProvider: Provider = { provide: STRIPE, useFactory: createStripeBilling, inject: [ENV] };

/** Short description of a Stripe SDK error for logs, problem details and MeterReport.lastError. */
export function describeStripeError(e: unknown): string {
  if (e instanceof Stripe.errors.StripeError) {
    const status = e.statusCode ? ` (HTTP ${e.statusCode})` : '';
    return `${e.type}${status}: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Worth trying again later, as an attempt? Connection-class failures (unreachable, timeouts, rate
 * limits, Stripe's 5xx: see infra/failures.ts) are, without spending one; of the rest, a conflict
 * (409: the same idempotency key in flight) and anything that is not Stripe's answer are; a
 * request Stripe understood and refused (4xx) will be refused again.
 */
export function isRetriableStripeError(e: unknown): boolean {
  if (!(e instanceof Stripe.errors.StripeError) || isConnectionFailure(e)) return true;
  if (e instanceof Stripe.errors.StripeAPIError) return true;
  const status = e.statusCode ?? 0;
  return status === 0 || status === 409;
}
