import type { AuditEvent, PolicySnapshot, SnapshotGrant, SnapshotKey } from '@toolgate/contracts';
import type { Principal } from '@toolgate/policy';
import type { JsonRpcNotification } from './jsonrpc';

/** The OAuth client and the person who consented, as audit events name them. */
export type OAuthParty = NonNullable<AuditEvent['oauth']>;

/** Who is calling, resolved by the transport from the bearer key (or access token) and the route. */
export interface Caller {
  snapshot: PolicySnapshot;
  /** The agent key, or for an OAuth caller its grant as a key (grantAsKey): one identity for sessions, limits, usage and streams. */
  key: SnapshotKey;
  principal: Principal;
  ip: string | null;
  /** `/mcp/{org}/{server}` → that server's slug; `/mcp/{org}` → null (aggregated, namespaced). */
  scope: string | null;
  /** Set when the caller presented an OAuth access token: every audit event names the client and the consenting person. */
  oauth?: OAuthParty;
}

/** Prefix of the grant-keys made by grantAsKey (never a real key's prefix, which starts `tg_`). */
const GRANT_KEY_PREFIX = 'oauth';

/**
 * An OAuth grant in the shape of an agent key, so everything keyed by the caller's key (sessions,
 * per-key rate limits and backends, usage, open streams) treats it as one. `expiresAt` is the
 * presented token's expiry: a stream opened with it ends when it does, as an expiring key's does.
 * Metadata is empty: key metadata is what an admin set on a key, and a grant has none, so a
 * `${key.metadata.…}` constraint stays unresolved and denies rather than match a value nobody set.
 */
export function grantAsKey(grant: SnapshotGrant, expiresAt: string | null): SnapshotKey {
  return {
    id: grant.id,
    name: grant.clientName,
    prefix: GRANT_KEY_PREFIX,
    hash: '',
    roleIds: grant.roleIds,
    metadata: {},
    expiresAt,
  };
}

/**
 * The key (or grant) `held` as `snapshot` has it now; undefined once revoked. A grant keeps the
 * expiry of the token it was presented with (the snapshot does not know tokens).
 */
export function currentKey(snapshot: PolicySnapshot, held: SnapshotKey): SnapshotKey | undefined {
  if (held.prefix !== GRANT_KEY_PREFIX) return snapshot.keys.find((k) => k.id === held.id);
  const grant = snapshot.grants.find((g) => g.id === held.id);
  return grant ? grantAsKey(grant, held.expiresAt) : undefined;
}

/** The way back to the agent for the request being served (SSE stream or session stream). */
export interface AgentChannel {
  notify(n: JsonRpcNotification): void;
  /** A server-to-client request relayed to the agent; resolves with the agent's result. */
  request(method: string, params: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<Record<string, unknown>>;
}

/**
 * Who may hear what a backend says outside any call: the key or the session that owns an
 * isolated backend; null for a shared one (the org's sessions whose roles can see the server).
 */
export type Audience = { keyId: string } | { sessionId: string } | null;
