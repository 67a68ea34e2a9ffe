/** A row of `GET /v1/orgs/:org/activity` (the admin activity log). */
export interface ActivityRow {
  id: string;
  actorId: string | null;
  /** The management token the change was made with; null when made in a session. */
  actorToken?: { id: string; kind: 'personal' | 'service_account'; name: string; prefix: string } | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  createdAt: string;
}

/** Actions the API records (apps/api: every `log({ action })`), for the filter. */
export const ACTIONS = [
  'org.created',
  'org.updated',
  'member.invited',
  'invitation.accepted',
  'invitation.revoked',
  'member.role_changed',
  'member.removed',
  'server.created',
  'server.updated',
  'server.probed',
  'server.tried',
  'server.deleted',
  'secret.set',
  'secret.deleted',
  'role.created',
  'role.updated',
  'role.deleted',
  'key.created',
  'key.updated',
  'key.rotated',
  'key.revoked',
  'audit_webhook.created',
  'audit_webhook.deleted',
  'billing.enabled',
  'billing.updated',
  'management_token.created',
  'management_token.revoked',
  'oauth_grant.created',
  'oauth_grant.revoked',
] as const;

const ACTION_WORDS: Record<string, string> = {
  'org.created': 'created the organisation',
  'org.updated': 'changed organisation settings',
  'member.invited': 'invited a member',
  'invitation.accepted': 'accepted an invitation',
  'invitation.revoked': 'revoked an invitation',
  'member.role_changed': 'changed a role',
  'member.removed': 'removed a member',
  'management_token.created': 'created an API token',
  'management_token.revoked': 'revoked an API token',
  'oauth_grant.created': 'connected an app (OAuth)',
  'oauth_grant.revoked': 'disconnected an app (OAuth)',
  'server.tried': 'tried a tool (Try it)',
};

export function actionWords(row: Pick<ActivityRow, 'action' | 'after'>): string {
  if (row.action === 'member.removed' && row.after && typeof row.after === 'object' && (row.after as { left?: unknown }).left === true) {
    return 'left the organisation';
  }
  return ACTION_WORDS[row.action] ?? row.action.replace(/[._]/g, ' ');
}

const str = (o: unknown, k: string): string | undefined => {
  if (!o || typeof o !== 'object') return undefined;
  const v = (o as Record<string, unknown>)[k];
  return typeof v === 'string' ? v : undefined;
};

/** A readable name for what an entry changed: an email, a name or slug, else the type and short id. */
export function targetLabel(row: ActivityRow, people: Map<string, { name: string; email: string }>): string {
  const person = row.targetType === 'member' && row.targetId ? people.get(row.targetId) : undefined;
  if (person) return `${person.name} <${person.email}>`;
  for (const src of [row.after, row.before]) {
    const client = src && typeof src === 'object' ? (src as { client?: unknown }).client : undefined;
    const app = str(client, 'name');
    if (app) return app;
    const named = str(src, 'email') ?? str(src, 'name') ?? str(src, 'slug');
    if (named) return named;
  }
  const replaced = row.before && typeof row.before === 'object' ? (row.before as { replaced?: unknown[] }).replaced : undefined;
  if (Array.isArray(replaced) && replaced[0]) return str(replaced[0], 'email') ?? row.targetType;
  return row.targetId ? `${row.targetType} ${row.targetId.slice(0, 8)}` : row.targetType;
}

/** Who did it, when they are no longer a member: a change to oneself (joining, leaving) names them. */
export function formerActor(row: ActivityRow): string | undefined {
  if (!row.actorId || row.actorId !== row.targetId) return undefined;
  for (const src of [row.after, row.before]) {
    const email = str(src, 'email');
    if (email) return email;
  }
  return undefined;
}

export interface FieldChange {
  field: string;
  /** Absent: the field was added (or the thing created). */
  before?: unknown;
  /** Absent: the field was removed (or the thing deleted). */
  after?: unknown;
}

/**
 * Field by field, what an entry changed: a changed value carries both sides, a created thing only
 * `after`, a deleted one only `before`. Unchanged fields and timestamps are left out.
 */
export function fieldChanges(before: unknown, after: unknown): FieldChange[] {
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const b = obj(before);
  const a = obj(after);
  if (!b && !a) {
    if (before == null && after == null) return [];
    return [{ field: '', ...(before != null ? { before } : {}), ...(after != null ? { after } : {}) }];
  }
  const keys = [...new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})])].filter((k) => k !== 'updatedAt' && k !== 'createdAt');
  return keys.flatMap((field) => {
    const inB = !!b && field in b;
    const inA = !!a && field in a;
    if (inB && inA && JSON.stringify(b[field]) === JSON.stringify(a[field])) return [];
    return [{ field, ...(inB ? { before: b[field] } : {}), ...(inA ? { after: a[field] } : {}) }];
  });
}
