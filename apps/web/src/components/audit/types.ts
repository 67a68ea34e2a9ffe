/** Shapes of the audit API (apps/api/src/modules/audit/audit.view.ts) as the dashboard uses them. */

export const DECISIONS = ['allow', 'deny', 'rate_limited', 'quota_exceeded', 'unauthenticated'] as const;
/** `Outcome` in @toolgate/contracts (events.ts), which the dashboard does not import: keep the two in step. */
export const OUTCOMES = ['ok', 'error', 'denied', 'timeout', 'upstream_error', 'cancelled'] as const;
/** Suggestions for the method filter (any JSON-RPC method or `admin.<action>` works). */
export const METHODS = [
  'tools/call',
  'tools/list',
  'prompts/get',
  'prompts/list',
  'resources/read',
  'resources/list',
  'completion/complete',
  'initialize',
] as const;

/** What a table row needs: the fields the live socket sends (a subset of a list item). */
export interface AuditRow {
  id: string;
  seq: number;
  kind: 'call' | 'admin';
  at: string;
  method: string;
  target: string | null;
  keyId: string | null;
  serverId: string | null;
  serverSlug: string | null;
  decision: string;
  outcome: string;
  rule: string | null;
  latencyMs: number;
  clientName: string | null;
  /** List items only (the live socket leaves it out): the OAuth client and consenting person. */
  oauth?: { clientId: string; clientName: string; userId: string; userEmail: string } | null;
}

/** GET /v1/orgs/:org/audit items. */
export interface AuditListItem extends AuditRow {
  receivedAt: string;
  error: string | null;
  bytesIn: number;
  bytesOut: number;
  clientVersion: string | null;
  sessionId: string | null;
  ip: string | null;
  actorId: string | null;
  /** The management token that made an admin change. */
  actorToken?: { id: string; kind: string; name: string; prefix: string } | null;
}

/** GET /v1/orgs/:org/audit/:id */
export interface AuditRecord extends AuditListItem {
  prevHash: string;
  hash: string;
  payload: Record<string, unknown>;
}

export interface AuditPage {
  items: AuditListItem[];
  nextCursor: string | null;
}

/** GET /v1/orgs/:org/audit/verify */
export interface VerifyResult {
  valid: boolean;
  checked: number;
  firstBrokenSeq: number | null;
  reason: string | null;
  fromSeq: number;
  headSeq: number;
  headHash: string;
  checkpoint: { seq: number; hash: string; pruned: number; createdAt: string; signatureValid: boolean } | null;
}

/** The filters of the log, as URL search params (and API query params). */
export interface AuditFilters {
  from?: string;
  to?: string;
  keyId?: string;
  serverId?: string;
  target?: string;
  method?: string;
  decision?: string;
  outcome?: string;
}

export const FILTER_NAMES = ['from', 'to', 'keyId', 'serverId', 'target', 'method', 'decision', 'outcome'] as const;
