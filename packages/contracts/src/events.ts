import { createHash } from 'node:crypto';
import { z } from 'zod';
import { QueueName } from './names';
import { Decision, Outcome } from './outcomes';

/**
 * Events the gateway emits per call. Ids are UUIDv7, made at the gateway; consumers are
 * idempotent on them.
 */
export const EVENT_SCHEMA_VERSION = 1 as const;

// In their own file so the browser can import them without this file's node:crypto.
export { Decision, Outcome } from './outcomes';

export const AuditEvent = z.object({
  schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
  id: z.string().uuid(),
  orgId: z.string(),
  /** The agent key, or for an OAuth caller its grant id. */
  keyId: z.string().nullable(),
  /** Present when the caller used an OAuth access token: the client and the person who consented. */
  oauth: z.object({ clientId: z.string(), clientName: z.string(), userId: z.string(), userEmail: z.string() }).optional(),
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

/**
 * Events per queue job at most. The gateway sends a flush's events as jobs of up to this many
 * (one BullMQ job per event made the queue's per-job cost, not the database, the consumers'
 * limit); small enough that serialising one job is a short pause on the gateway's event loop.
 */
export const MAX_EVENTS_PER_JOB = 64;

/**
 * The data of a `tg-audit` / `tg-usage` job: a batch of events of that queue, each validated on
 * its own by the consumer (one bad event is dead-lettered alone, the rest are stored). A job whose
 * data is a bare event (what gateways sent before batching) is accepted as a batch of one.
 */
export const EventBatch = z.object({
  schemaVersion: z.literal(EVENT_SCHEMA_VERSION),
  events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_JOB),
});
export interface EventBatch<T = unknown> {
  schemaVersion: typeof EVENT_SCHEMA_VERSION;
  events: T[];
}

/**
 * The events a job carries, still to be validated one by one: `batch` is false for a bare event.
 * An object with an `events` field that is not a valid batch is refused whole.
 */
export function eventsOfJob(data: unknown): { ok: true; batch: boolean; events: unknown[] } | { ok: false; error: z.ZodError } {
  if (data === null || typeof data !== 'object' || !('events' in data)) return { ok: true, batch: false, events: [data] };
  const parsed = EventBatch.safeParse(data);
  return parsed.success ? { ok: true, batch: true, events: parsed.data.events } : { ok: false, error: parsed.error };
}

/** A job as the gateway hands it to BullMQ (`queue.add(name, data, opts)`). */
export interface EventBatchJob<T> {
  name: 'events';
  data: EventBatch<T>;
  opts: { jobId: string };
}

/**
 * The job for a run of events (at most MAX_EVENTS_PER_JOB). Its id is a digest of the events'
 * ids, so the same events sent again (a send whose answer was lost, a replayed spool file) make
 * the same job, which BullMQ drops while it holds the first; a job with other events gets another
 * id and is never dropped by mistake (the consumers skip events they already stored).
 */
export function eventBatchJob<T extends { id: string }>(events: readonly T[]): EventBatchJob<T> {
  const hash = createHash('sha256');
  for (const e of events) hash.update(e.id).update('\n'); // separated: ['ab','c'] ≠ ['a','bc']
  return {
    name: 'events',
    data: { schemaVersion: EVENT_SCHEMA_VERSION, events: events as T[] },
    opts: { jobId: `b${events.length}-${hash.digest('base64url')}` },
  };
}

/** Each queue's payload schema (of one event; jobs carry EventBatch) and retry settings, side by side. */
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
