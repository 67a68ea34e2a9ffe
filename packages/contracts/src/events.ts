import { z } from 'zod';
import { QueueName } from './names';

/**
 * Events the gateway emits per call. Ids are UUIDv7, made at the gateway; consumers are
 * idempotent on them.
 */
export const EVENT_SCHEMA_VERSION = 1 as const;

export const Decision = z.enum(['allow', 'deny', 'rate_limited', 'quota_exceeded', 'unauthenticated']);
export type Decision = z.infer<typeof Decision>;

export const Outcome = z.enum(['ok', 'error', 'denied', 'timeout', 'upstream_error']);
export type Outcome = z.infer<typeof Outcome>;

export const AuditEvent = z.object({
  schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
  id: z.string().uuid(),
  orgId: z.string(),
  keyId: z.string().nullable(),
  serverId: z.string().nullable(),
  serverSlug: z.string().nullable(),
  method: z.string(),
  /** tool, prompt or resource URI the call named, unprefixed. */
  target: z.string().nullable(),
  /** Arguments after redaction. */
  arguments: z.unknown().optional(),
  decision: Decision,
  /** The rule that made the decision, e.g. `role:support/tools[2]`. */
  rule: z.string().nullable(),
  outcome: Outcome,
  error: z.string().nullable(),
  latencyMs: z.number().nonnegative(),
  bytesIn: z.number().int().nonnegative(),
  bytesOut: z.number().int().nonnegative(),
  clientName: z.string().nullable(),
  clientVersion: z.string().nullable(),
  sessionId: z.string().nullable(),
  ip: z.string().nullable(),
  at: z.string().datetime(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

export const UsageEvent = z.object({
  schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
  id: z.string().uuid(),
  orgId: z.string(),
  keyId: z.string().nullable(),
  serverId: z.string().nullable(),
  target: z.string().nullable(),
  method: z.string(),
  decision: Decision,
  outcome: Outcome,
  durationMs: z.number().nonnegative(),
  bytesIn: z.number().int().nonnegative(),
  bytesOut: z.number().int().nonnegative(),
  at: z.string().datetime(),
});
export type UsageEvent = z.infer<typeof UsageEvent>;

/** Each queue's payload schema and retry settings, side by side. */
export const queueCatalog = {
  [QueueName.Audit]: {
    schema: AuditEvent,
    jobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000, removeOnFail: false },
  },
  [QueueName.Usage]: {
    schema: UsageEvent,
    jobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 1000, removeOnFail: false },
  },
} as const;
