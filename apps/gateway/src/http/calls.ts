import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { isNotification, isResponse, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, RpcCode } from '../core/jsonrpc';
import type { AgentChannel, Caller } from '../core/caller';
import { type McpCore, REQUEST_METHODS } from '../core/mcp';
import type { SessionState } from '../core/sessions';
import type { Logger } from '../log';
import { type GatewayMetrics, rpcErrorLabel } from '../metrics';
import type { Relay } from '../redis/relay';

/**
 * One agent message after the transport checks, whatever the transport: a request runs through
 * the core (which keeps its audit record) with cancellation and metrics; a notification or
 * response goes to the relay.
 */
export class CallRunner {
  constructor(
    private readonly core: McpCore,
    private readonly relay: Relay,
    private readonly metrics: GatewayMetrics,
    /** How long the gateway waits for an agent to answer a sampling/elicitation request. */
    private readonly agentRequestTimeoutMs: number,
    /** One `info` line per request (who, what, outcome, latency, trace id); never arguments or results. */
    private readonly requestLog: Logger,
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
      this.relay.agentResponse(session.id, msg);
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
   * Run one request through the core, which owns its record and events, with the relay's
   * cancellation and the metrics. Null when the agent cancelled it: a cancelled request gets no
   * response.
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
    this.metrics.inFlight.inc();
    const method = REQUEST_METHODS.has(msg.method) ? msg.method : 'unknown';
    const controller = this.relay.track(session.id, msg.id);
    const started = performance.now();
    let outcome = 'error';
    let code: number | undefined;
    try {
      const ran = await this.core.run(caller, session, msg, channel, controller.signal, { bytesIn, disconnected });
      outcome = ran.outcome;
      const error = ran.response && 'error' in ran.response ? ran.response.error : undefined;
      code = error?.code;
      const org = caller.snapshot.orgSlug;
      this.metrics.requests.inc({ org, method, outcome });
      if (code !== undefined) this.metrics.rpcErrors.inc({ code: rpcErrorLabel(code) });
      if (code === RpcCode.RateLimited) this.metrics.rateLimited.inc({ org, scope: rateLimitScope(error?.data) });
      return ran.response;
    } finally {
      this.relay.untrack(session.id, msg.id);
      const seconds = (performance.now() - started) / 1000;
      this.metrics.latency.observe({ method }, seconds);
      this.metrics.inFlight.dec();
      logRequest(this.requestLog, caller, session.id, method, outcome, code, seconds);
      if (--this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }
}

/**
 * The request log line (README "Logs"): ids, method, outcome and timing; never arguments, results
 * or keys. The trace id is the active OpenTelemetry span's when tracing is on, else a fresh request id.
 */
export function logRequest(
  log: Logger,
  caller: Caller,
  sessionId: string | null,
  method: string,
  outcome: string,
  code: number | undefined,
  seconds: number,
): void {
  if (!log.enabled('info')) return;
  const span = trace.getActiveSpan()?.spanContext();
  log.info('request', {
    org: caller.snapshot.orgSlug,
    orgId: caller.snapshot.orgId,
    keyId: caller.key.id,
    sessionId,
    server: caller.scope,
    method,
    outcome,
    ...(code === undefined ? {} : { code }),
    latencyMs: Math.round(seconds * 1e6) / 1e3,
    ...(span ? { traceId: span.traceId, spanId: span.spanId } : { requestId: randomUUID() }),
  });
}

/** The scope of the bucket a -32004 names (`key:…`, `tool:…`, `org`, `ip:…`): the label, never the bucket itself. */
export function rateLimitScope(data: unknown): 'key' | 'tool' | 'org' | 'ip' | 'other' {
  const bucket = (data as { bucket?: unknown } | undefined)?.bucket;
  if (typeof bucket !== 'string') return 'other';
  const scope = bucket.slice(0, Math.max(0, bucket.indexOf(':'))) || bucket;
  return scope === 'key' || scope === 'tool' || scope === 'org' || scope === 'ip' ? scope : 'other';
}
