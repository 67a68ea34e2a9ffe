import type { PolicySnapshot, SnapshotKey } from '@toolgate/contracts';
import type { Principal } from '@toolgate/policy';
import type { JsonRpcNotification } from './jsonrpc';

/** Who is calling, resolved by the transport from the bearer key and the route. */
export interface Caller {
  snapshot: PolicySnapshot;
  key: SnapshotKey;
  principal: Principal;
  ip: string | null;
  /** `/mcp/{org}/{server}` → that server's slug; `/mcp/{org}` → null (aggregated, namespaced). */
  scope: string | null;
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
