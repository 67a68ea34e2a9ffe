import { AUDIT_LIVE_MAX_EVENTS, AUDIT_LIVE_SCHEMA_VERSION, type AuditLiveEvent, type AuditLiveNotice, channels } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { AuditColumns } from '../audit/audit.rules';

/**
 * The publishing side of live audit updates, used by AuditChainWriter (worker process) after an
 * append commits. The API's AuditLiveGateway subscribes and fans out to dashboards.
 */

/** The table's columns of one appended event, as the dashboard shows them. */
export function liveEvent(seq: bigint, c: AuditColumns, payload: Record<string, unknown>): AuditLiveEvent {
  return {
    id: c.id,
    seq: Number(seq),
    kind: payload.kind === 'admin' ? 'admin' : 'call',
    at: c.at.toISOString(),
    method: c.method,
    target: c.target,
    keyId: c.keyId,
    serverId: c.serverId,
    serverSlug: c.serverSlug,
    decision: c.decision,
    outcome: c.outcome,
    rule: c.rule,
    latencyMs: c.latencyMs,
    clientName: c.clientName,
  };
}

/**
 * Publishes one notice for a committed append (oldest first; a large batch sends its newest
 * AUDIT_LIVE_MAX_EVENTS and counts the rest). Never throws: live updates are best effort and
 * must not fail or retry an append that is already committed.
 */
export async function publishAuditLive(
  redis: Redis,
  orgId: string,
  events: readonly AuditLiveEvent[],
  onError: (e: Error) => void,
): Promise<void> {
  if (events.length === 0) return;
  const sent = events.slice(-AUDIT_LIVE_MAX_EVENTS);
  const notice: AuditLiveNotice = {
    schemaVersion: AUDIT_LIVE_SCHEMA_VERSION,
    orgId,
    events: sent,
    omitted: events.length - sent.length,
  };
  try {
    await redis.publish(channels.auditLive(orgId), JSON.stringify(notice));
  } catch (e) {
    onError(e as Error);
  }
}
