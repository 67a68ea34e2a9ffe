/** Response shapes of GET /v1/orgs/:org/billing and /billing/invoices (apps/api/src/modules/billing). */
import type { UsageMetrics } from './usage';

export interface BillingView {
  mode: 'stripe' | 'local';
  /** Present in local mode. */
  notice?: string;
  plan: { name: string; monthlyCallQuota: number | null };
  /** none (never enabled) or Stripe's subscription status (active, past_due, canceled, …). */
  status: string;
  stripeCustomerId: string | null;
  stripeSubscriptionId: string | null;
  meteringStartedAt: string | null;
  alertWebhookUrl: string | null;
  estimatedCentsPer1k: number | null;
  period: { start: string; end: string; source: 'subscription' | 'calendar_month' };
  usage: UsageMetrics;
  estimate: { billableCalls: number; centsPer1k: number; amountCents: number; currency: string };
  upcomingInvoice: {
    amountDue: number;
    total: number;
    currency: string;
    periodStart: string | null;
    periodEnd: string | null;
    lines: { description: string | null; amount: number; quantity: number | null }[];
  } | null;
  upcomingInvoiceError?: string;
  meterReports: { pending: number; failed: number; lastReportedHour: string | null; lastReportedAt: string | null };
}

export interface Invoice {
  id: string;
  number: string | null;
  status: string;
  currency: string;
  amountDue: number;
  amountPaid: number;
  hostedInvoiceUrl: string | null;
  invoicePdf: string | null;
  periodStart: string | null;
  periodEnd: string | null;
  createdAt: string;
}

export interface InvoiceList {
  mode: 'stripe' | 'local';
  source: 'stripe' | 'database';
  refreshError?: string;
  items: Invoice[];
}

/** Subscription statuses after which nothing more is billed. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);
