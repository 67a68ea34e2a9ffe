import { AuditEvent as AuditEventSchema } from '@toolgate/contracts';
import { z } from 'zod';

/**
 * What goes into an org's audit chain, and how the table's columns follow from it.
 *
 * Two kinds of payload share one chain:
 * - gateway calls: the contract's AuditEvent exactly as the gateway emitted it (unknown fields
 *   of a newer gateway are kept, so nothing it said is lost), and
 * - admin actions: the ActivityLog rows the API writes (see ActivityMirror), as
 *   `{ kind: 'admin', method: 'admin.<action>', ... }`.
 *
 * The payload is what is hashed; the other columns (method, decision, …) are copies for
 * filtering, derived by `columnsOf()`. verify() re-derives them, so a tampered column is caught
 * just like a tampered payload.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT4_MAX = 2_147_483_647;

/**
 * The contract's AuditEvent plus what the table needs (org id a UUID: it keys the chain; byte
 * counts that fit the columns; bounded strings). Anything else is a poison message.
 */
export const StorableAuditEvent = AuditEventSchema.extend({
  orgId: z.string().regex(UUID, 'orgId must be a UUID'),
  keyId: z.string().max(200).nullable(),
  serverId: z.string().max(200).nullable(),
  serverSlug: z.string().max(200).nullable(),
  method: z.string().min(1).max(200),
  target: z.string().max(2000).nullable(),
  rule: z.string().max(2000).nullable(),
  bytesIn: z.number().int().nonnegative().max(INT4_MAX),
  bytesOut: z.number().int().nonnegative().max(INT4_MAX),
  clientName: z.string().max(500).nullable(),
  clientVersion: z.string().max(200).nullable(),
}).loose();
export type StorableAuditEvent = z.output<typeof StorableAuditEvent>;

/** An admin action (ActivityLog row) as it is stored in the chain. */
export interface AdminAuditPayload {
  schemaVersion: 1;
  kind: 'admin';
  /** The ActivityLog row's id (so mirroring twice stores it once). */
  id: string;
  orgId: string;
  method: string;
  actorId: string | null;
  /** The management token the change was made with; absent for changes made in a session. */
  actorToken?: { id: string; kind: string; name: string; prefix: string };
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  at: string;
}

export const ADMIN_METHOD_PREFIX = 'admin.';

export interface ActivityRow {
  id: string;
  orgId: string;
  actorId: string | null;
  actorToken?: { id: string; kind: string; name: string; prefix: string } | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  createdAt: Date;
}

export function adminPayload(row: ActivityRow): AdminAuditPayload {
  return {
    schemaVersion: 1,
    kind: 'admin',
    id: row.id,
    orgId: row.orgId,
    method: `${ADMIN_METHOD_PREFIX}${row.action}`,
    actorId: row.actorId,
    // Only when present: payloads of changes made in a session stay exactly as before.
    ...(row.actorToken ? { actorToken: row.actorToken } : {}),
    targetType: row.targetType,
    targetId: row.targetId,
    before: row.before ?? null,
    after: row.after ?? null,
    at: row.createdAt.toISOString(),
  };
}

/** The filterable columns of a chain row, as derived from its payload. */
export interface AuditColumns {
  id: string;
  orgId: string;
  at: Date;
  keyId: string | null;
  serverId: string | null;
  serverSlug: string | null;
  method: string;
  target: string | null;
  decision: string;
  outcome: string;
  rule: string | null;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  clientName: string | null;
  clientVersion: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
/** The key and server columns are UUID-typed: an id of another shape stays in the payload only. */
const uuidOrNull = (v: unknown): string | null => (typeof v === 'string' && UUID.test(v) ? v.toLowerCase() : null);

/**
 * Columns of a payload (a gateway call or an admin action). Pure and total: verify() calls it on
 * stored payloads to check the copies, so it must give the same answer as at write time.
 */
export function columnsOf(payload: Record<string, unknown>): AuditColumns {
  const admin = payload.kind === 'admin';
  return {
    id: String(payload.id).toLowerCase(),
    orgId: String(payload.orgId).toLowerCase(),
    at: new Date(String(payload.at)),
    keyId: admin ? null : uuidOrNull(payload.keyId),
    serverId: admin ? null : uuidOrNull(payload.serverId),
    serverSlug: admin ? null : str(payload.serverSlug),
    method: String(payload.method),
    // Admin actions: the target is `<targetType>:<targetId>` (or the type alone), e.g. `key:…`.
    target: admin
      ? payload.targetId
        ? `${String(payload.targetType)}:${String(payload.targetId)}`
        : String(payload.targetType)
      : str(payload.target),
    decision: admin ? 'allow' : String(payload.decision),
    outcome: admin ? 'ok' : String(payload.outcome),
    rule: admin ? null : str(payload.rule),
    latencyMs: admin ? 0 : num(payload.latencyMs),
    bytesIn: admin ? 0 : num(payload.bytesIn),
    bytesOut: admin ? 0 : num(payload.bytesOut),
    clientName: admin ? null : str(payload.clientName),
    clientVersion: admin ? null : str(payload.clientVersion),
  };
}
