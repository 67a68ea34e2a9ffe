import type { SnapshotServer } from '@toolgate/contracts';
import type { CircuitState } from './breaker';
import type { JsonRpcError, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc';

/**
 * A connection from the gateway (acting as an MCP client) to one upstream MCP server.
 * Backends are pooled and shared by many agent sessions of the same org; everything that is
 * specific to one agent call travels in CallContext.
 */

/** What the gateway tells upstream servers about itself in `initialize`. */
export const GATEWAY_CLIENT_INFO = { name: 'toolgate-gateway', version: '0.1.0' } as const;
/** The gateway relays these to agents, so it declares them to upstreams. */
export const GATEWAY_CLIENT_CAPABILITIES = {
  roots: { listChanged: true },
  sampling: {},
  elicitation: { form: {}, url: {} },
} as const;

export interface InitializeInfo {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string; [k: string]: unknown };
  instructions?: string;
}

/** Per-call hooks. The backend calls them for messages the upstream relates to this call. */
export interface CallContext {
  /** Agent session the call belongs to (routing of server-to-client traffic, logs). */
  sessionId: string;
  /** Progress, logging and other notifications the upstream sends while serving this call. */
  onNotification?: (n: JsonRpcNotification) => void;
  /**
   * A server-to-client request (sampling/createMessage, elicitation/create, roots/list) made
   * while serving this call. Resolve with the agent's result, or reject with an RpcError.
   */
  onServerRequest?: (r: JsonRpcRequest) => Promise<Record<string, unknown>>;
  /** Aborted when the agent cancels or disconnects: the backend sends notifications/cancelled. */
  signal?: AbortSignal;
  /** Per-call timeout; the server's timeoutMs when not given. */
  timeoutMs?: number;
}

/** An upstream's JSON-RPC error, or a transport failure, as a JSON-RPC error to relay. */
export class BackendError extends Error {
  constructor(
    readonly error: JsonRpcError,
    /** 'upstream' = the server answered with an error; the rest are failures of reaching it. */
    readonly kind: 'upstream' | 'unavailable' | 'timeout' | 'crashed',
    /** For operators and admins only (logs, probe errors), never for agents; secrets already masked. */
    readonly operator: { stderrTail?: string } = {},
  ) {
    super(error.message);
  }
}

export type BackendHealth = 'starting' | 'up' | 'down' | 'circuit-open';

export interface Backend {
  /** Pool key: org + server id + hash of the server's config (a config change makes a new backend). */
  readonly key: string;
  readonly server: SnapshotServer;
  readonly health: BackendHealth;
  /** The circuit breaker's state, for backends that have one (HTTP upstreams; see breaker.ts). */
  readonly circuit?: CircuitState;
  /** Connect and initialize (once; concurrent callers share the attempt). */
  ready(): Promise<InitializeInfo>;
  /** Send a request and resolve with its result; rejects with BackendError. */
  request(method: string, params: Record<string, unknown> | undefined, ctx: CallContext): Promise<Record<string, unknown>>;
  /** Fire-and-forget notification to the upstream (e.g. notifications/roots/list_changed). */
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
  /**
   * Notifications the upstream sends outside any call (list_changed, resources/updated,
   * logging without a related request). Returns an unsubscribe function.
   */
  onUnsolicited(listener: (n: JsonRpcNotification) => void): () => void;
  /**
   * Who answers a server-to-client request the upstream makes outside any call (Streamable HTTP's
   * standalone stream). Only a backend owned by one agent session can name its agent; without a
   * handler such requests are refused. Absent where requests always travel with a call.
   */
  onOutOfCallRequest?(handler: (r: JsonRpcRequest) => Promise<Record<string, unknown>>): void;
  /** Number of calls in flight (the pool does not reap busy backends). */
  readonly inFlight: number;
  /** Last time a call started or finished (idle reaping). */
  readonly lastUsedAt: number;
  close(): Promise<void>;
}

/** Everything a backend needs to start, with secrets already opened. */
export interface BackendSpec {
  orgId: string;
  server: SnapshotServer;
  /** Resolved env for stdio (secret references opened). */
  env: Record<string, string>;
  /** Resolved headers for HTTP upstreams (secret references opened). */
  headers: Record<string, string>;
  /** The opened secret values among env/headers: masked wherever the backend reports what it saw. */
  secrets: string[];
  /** Pool key; names the owning agent key or session when the server is isolated (see ownedSpec). */
  key: string;
  /** The key of the configuration alone, which a snapshot change retires by; absent = key. */
  configKey?: string;
}
