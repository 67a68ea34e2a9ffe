import { z } from 'zod';

/**
 * Live audit notifications: after the audit chain writer (worker) commits an append, it publishes
 * a summary of the new events on `channels.auditLive(orgId)`; the API's WebSocket gateway fans
 * them out to that org's dashboards. Summaries only (the table's columns): arguments, hashes and
 * errors stay behind the authenticated REST API.
 */
export const AUDIT_LIVE_SCHEMA_VERSION = 1 as const;

/** At most this many events per notice (the newest); the rest are counted in `omitted`. */
export const AUDIT_LIVE_MAX_EVENTS = 100;

export const AuditLiveEvent = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  /** `call` (a gateway call) or `admin` (an admin action mirrored from the activity log). */
  kind: z.enum(['call', 'admin']),
  /** Gateway time of the call (ISO 8601). */
  at: z.string(),
  method: z.string(),
  target: z.string().nullable(),
  keyId: z.string().nullable(),
  serverId: z.string().nullable(),
  serverSlug: z.string().nullable(),
  decision: z.string(),
  outcome: z.string(),
  rule: z.string().nullable(),
  latencyMs: z.number(),
  clientName: z.string().nullable(),
});
export type AuditLiveEvent = z.infer<typeof AuditLiveEvent>;

export const AuditLiveNotice = z.object({
  schemaVersion: z.literal(AUDIT_LIVE_SCHEMA_VERSION),
  orgId: z.string(),
  /** Oldest first (seq order), at most AUDIT_LIVE_MAX_EVENTS. */
  events: z.array(AuditLiveEvent).max(AUDIT_LIVE_MAX_EVENTS),
  /** Events of the same append left out of `events` (older than those sent). */
  omitted: z.number().int().nonnegative(),
});
export type AuditLiveNotice = z.infer<typeof AuditLiveNotice>;

/** What a live ticket is bound to (stored under `redisKeys.liveTicket`, single use). */
export const LiveTicketGrant = z.object({ userId: z.string(), orgId: z.string() });
export type LiveTicketGrant = z.infer<typeof LiveTicketGrant>;
