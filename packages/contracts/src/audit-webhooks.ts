/**
 * Response shapes of the audit webhook API (`/v1/orgs/:org/audit/webhooks`, built in
 * apps/api/src/modules/audit/audit-webhooks.service.ts) as the dashboard reads them.
 */

/** A SIEM webhook; its signing secret is only in the create response (AuditWebhookCreated). */
export interface AuditWebhookView {
  id: string;
  url: string;
  enabled: boolean;
  /** Every audit event up to this sequence number has been delivered. */
  deliveredSeq: number;
  createdAt: string;
  updatedAt: string;
}

export interface AuditWebhookCreated extends AuditWebhookView {
  /** `whsec_…`: the HMAC-SHA256 key of `X-Toolgate-Signature`, shown this once only. */
  secret: string;
}

/** pending: first attempt due; retrying: failed, next attempt at nextAttemptAt; skipped: pruned before delivery. */
export type AuditDeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'skipped';

export interface AuditDeliveryView {
  id: string;
  fromSeq: number;
  toSeq: number;
  status: AuditDeliveryStatus;
  attempts: number;
  responseStatus: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

/** The header every audit webhook request carries: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export const AUDIT_SIGNATURE_HEADER = 'X-Toolgate-Signature';
