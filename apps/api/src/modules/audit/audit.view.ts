import { AuditEvent, type AuditListItem, type AuditRecord } from '@toolgate/contracts';
import type { AuditEvent as AuditEventRow } from '@toolgate/db';

/**
 * How chain rows leave the API: list items (no hashes, no arguments), the full record, and the
 * NDJSON lines of exports and SIEM webhook deliveries (what a third party verifies).
 */

type Row = Pick<
  AuditEventRow,
  | 'id'
  | 'seq'
  | 'at'
  | 'receivedAt'
  | 'keyId'
  | 'serverId'
  | 'serverSlug'
  | 'method'
  | 'target'
  | 'decision'
  | 'outcome'
  | 'rule'
  | 'latencyMs'
  | 'bytesIn'
  | 'bytesOut'
  | 'clientName'
  | 'clientVersion'
  | 'payload'
>;

const field = (payload: unknown, name: string): unknown =>
  payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>)[name] : undefined;
const strOrNull = (v: unknown) => (typeof v === 'string' ? v : null);
const OAuthParty = AuditEvent.shape.oauth.unwrap();

export function listItem(row: Row): AuditListItem {
  const admin = field(row.payload, 'kind') === 'admin';
  return {
    id: row.id,
    seq: Number(row.seq),
    /** `call` (a gateway event) or `admin` (an admin action from the activity log). */
    kind: admin ? ('admin' as const) : ('call' as const),
    at: row.at.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    method: row.method,
    target: row.target,
    keyId: row.keyId,
    serverId: row.serverId,
    serverSlug: row.serverSlug,
    decision: row.decision,
    outcome: row.outcome,
    rule: row.rule,
    error: strOrNull(field(row.payload, 'error')),
    latencyMs: row.latencyMs,
    bytesIn: row.bytesIn,
    bytesOut: row.bytesOut,
    clientName: row.clientName,
    clientVersion: row.clientVersion,
    /** An OAuth caller's client and the person who consented (keyId is then the grant id); null for agent keys. */
    oauth: OAuthParty.safeParse(field(row.payload, 'oauth')).data ?? null,
    sessionId: strOrNull(field(row.payload, 'sessionId')),
    ip: strOrNull(field(row.payload, 'ip')),
    actorId: admin ? strOrNull(field(row.payload, 'actorId')) : null,
    actorToken: admin ? ((field(row.payload, 'actorToken') as AuditListItem['actorToken'] | undefined) ?? null) : null,
  };
}

export function fullRecord(row: Row & Pick<AuditEventRow, 'prevHash' | 'hash'>): AuditRecord {
  // Every chain row's payload is an event object (AuditEvent, or an admin action).
  return { ...listItem(row), prevHash: row.prevHash, hash: row.hash, payload: row.payload as AuditRecord['payload'] };
}

/** One chain event as an NDJSON line (without the newline). */
export function eventLine(row: Pick<AuditEventRow, 'id' | 'seq' | 'prevHash' | 'hash' | 'receivedAt' | 'payload'>): string {
  return JSON.stringify({
    type: 'event',
    seq: Number(row.seq),
    id: row.id,
    prevHash: row.prevHash,
    hash: row.hash,
    receivedAt: row.receivedAt.toISOString(),
    payload: row.payload,
  });
}
