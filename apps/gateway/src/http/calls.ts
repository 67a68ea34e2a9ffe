import {
  failure,
  isNotification,
  isResponse,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RpcCode,
  success,
} from '../core/jsonrpc';
import { type AgentChannel, type Caller, type McpCore, newRecord, REQUEST_METHODS, toRpcError } from '../core/mcp';
import { AgentCancelled } from '../core/cancellation';
import type { Relay } from '../redis/relay';
import type { SessionState } from '../core/sessions';
import type { SessionStore } from '../redis/sessions';
import type { EventSink } from '../core/ports';
import type { GatewayMetrics } from '../metrics';
import { serializeOnce } from './util';

/** The call's record could not be written: its answer (if it ran) is withheld, as the agent must not see a success nobody recorded. */
export function unrecorded(ran: boolean) {
  return {
    code: RpcCode.Unrecorded,
    message: ran
      ? 'The call ran, but its audit record could not be written, so its result is withheld'
      : 'This gateway worker cannot record calls right now (event log not writable); the call was not run. Retry',
    data: { ran, retryAfterSeconds: 1 },
  };
}

/**
 * One agent message after the transport checks, whatever the transport: a request runs through
 * the core with cancellation, metrics and its audit record; a notification or response goes to
 * the relay.
 */
export class CallRunner {
  constructor(
    private readonly core: McpCore,
    private readonly sessions: SessionStore,
    private readonly relay: Relay,
    private readonly metrics: GatewayMetrics,
    /** How long the gateway waits for an agent to answer a sampling/elicitation request. */
    private readonly agentRequestTimeoutMs: number,
    private readonly events: EventSink,
  ) {}

  /** Requests being executed (graceful shutdown waits for them). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  get inFlight(): number {
    return this.running;
  }

  /** Resolves once no request is being executed. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * The way back to the agent during a call: `send` writes to the call's stream (Streamable
   * HTTP) or the session's stream (legacy SSE); a server-to-client request waits for the agent's
   * answer through the relay and is withdrawn when the call is cancelled.
   */
  channel(sessionId: string, send: (m: unknown) => void): AgentChannel {
    return {
      notify: send,
      request: (method, params, signal) => {
        const { id, result } = this.relay.newRequest(sessionId, this.agentRequestTimeoutMs);
        signal?.addEventListener('abort', () => this.relay.cancelRequest(id, 'the call was cancelled'), { once: true });
        send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
        return result;
      },
    };
  }

  /** Notifications and responses from the agent. */
  accept(session: SessionState, msg: JsonRpcNotification | JsonRpcResponse): void {
    if (isResponse(msg)) {
      this.relay.agentResponse(msg);
      return;
    }
    if (isNotification(msg) && msg.method === 'notifications/cancelled') {
      const requestId = msg.params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') {
        this.relay.cancel(session.id, requestId, typeof msg.params?.reason === 'string' ? msg.params.reason : undefined);
      }
    }
    // notifications/initialized, roots/list_changed, progress: nothing to do for a shared backend.
  }

  /**
   * Run one request through the core, with cancellation, metrics and the audit record. Null when
   * the agent cancelled it: per MCP, a cancelled request gets no response.
   */
  async execute(
    caller: Caller,
    session: SessionState,
    msg: JsonRpcRequest,
    channel: AgentChannel,
    bytesIn: number,
    disconnected: () => boolean = () => false,
  ): Promise<JsonRpcResponse | null> {
    this.running++;
    try {
      return await this.run(caller, session, msg, channel, bytesIn, disconnected);
    } finally {
      if (--this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async run(
    caller: Caller,
    session: SessionState,
    msg: JsonRpcRequest,
    channel: AgentChannel,
    bytesIn: number,
    disconnected: () => boolean,
  ): Promise<JsonRpcResponse | null> {
    const rec = newRecord(msg.method);
    if (!REQUEST_METHODS.has(msg.method)) {
      this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: 'unknown', outcome: 'error' });
      return failure(msg.id, { code: RpcCode.MethodNotFound, message: `Method not found: ${msg.method}` });
    }
    if (msg.method === 'initialize') {
      return failure(msg.id, { code: RpcCode.InvalidRequest, message: 'The session is already initialized' });
    }
    if (msg.method !== 'ping' && !this.events.accepting) {
      // Not run at all: a call that could not be recorded must not reach the upstream either.
      this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: msg.method, outcome: 'error' });
      return failure(msg.id, unrecorded(false));
    }
    const controller = this.relay.track(session.id, msg.id);
    const end = this.metrics.latency.startTimer({ method: msg.method });
    let response: JsonRpcResponse;
    try {
      const { logLevel, subscriptions } = session;
      const result = await this.core.handle(caller, session, msg, channel, controller.signal, rec);
      if (session.logLevel !== logLevel || session.subscriptions !== subscriptions) {
        await this.sessions.update(session).catch(() => undefined);
      }
      response = success(msg.id, result);
    } catch (e) {
      const err = toRpcError(e);
      if (rec.outcome === 'ok') {
        rec.outcome = 'error';
        rec.error = err.message;
      }
      response = failure(msg.id, err.toJSON());
    } finally {
      this.relay.untrack(session.id, msg.id);
      end();
    }
    const cancelled = AgentCancelled.of(controller.signal);
    if (cancelled) {
      // The agent gets nothing for it, whether it finished before the cancellation took hold
      // (ok) or the cancellation cut it short (the core records that as an error, with the
      // backend's "cancelled" message). Other outcomes (denied, timeout, …) came first and stay.
      if (rec.outcome === 'ok') rec.error = `The call was cancelled: ${(controller.signal.reason as AgentCancelled).message}`;
      if (rec.outcome === 'ok' || rec.outcome === 'error') rec.outcome = 'cancelled';
    } else if (disconnected() && rec.outcome === 'ok') {
      rec.outcome = 'cancelled';
      rec.error = 'The agent disconnected before the response';
    }
    this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: msg.method, outcome: rec.outcome });
    if (msg.method !== 'ping') {
      // Serialised once: sendJson / SseStream reuse this text when the response goes out.
      const bytesOut = cancelled ? 0 : serializeOnce(response).length;
      this.core.emit(caller, caller.snapshot.orgId, session, rec, bytesIn, bytesOut);
      if (!cancelled) {
        try {
          await this.events.durable();
        } catch {
          return failure(msg.id, unrecorded(true));
        }
      }
    }
    return cancelled ? null : response;
  }
}
