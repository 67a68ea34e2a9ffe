import { randomBytes } from 'node:crypto';
import type { JsonRpcId, JsonRpcNotification, JsonRpcResponse } from '../core/jsonrpc';
import { RpcCode, RpcError } from '../core/jsonrpc';
import type { Audience } from '../core/caller';
import { AgentCancelled } from '../core/cancellation';
import type { RelayBus } from '../core/ports';

type RelayMessage =
  | { t: 'response'; id: string; sessionId: string; message: JsonRpcResponse }
  | { t: 'cancel'; sessionId: string; requestId: JsonRpcId; reason?: string }
  | { t: 'push'; sessionId: string; message: unknown }
  | { t: 'session'; sessionId: string; from: string }
  | { t: 'fanout'; orgId: string; server: string; message: JsonRpcNotification; audience: Audience; from: string };

type FanOutListener = (orgId: string, server: string, message: JsonRpcNotification, audience: Audience) => void;

interface Pending {
  sessionId: string;
  resolve: (r: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * What one worker holds for its connections (in-flight calls, server-to-client requests waiting
 * for the agent, open streams) and the Redis channel that lets any other worker reach them: the
 * agent's answer to a sampling request, a cancellation, or a legacy-SSE write may arrive on a
 * different worker than the one holding the call or the stream. The bus is Redis pub/sub between
 * workers (relay-bus.ts); a gateway alone in its process has none to reach (localRelayBus).
 */
export class Relay {
  readonly workerId = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly inflight = new Map<string, AbortController>();
  private readonly pushTargets = new Map<string, (message: unknown) => void>();
  private readonly sessionListeners = new Set<(sessionId: string) => void>();
  private readonly fanOutListeners = new Set<FanOutListener>();

  constructor(private readonly bus: RelayBus) {}

  async start(): Promise<void> {
    await this.bus.subscribe((raw) => {
      let msg: RelayMessage;
      try {
        msg = JSON.parse(raw) as RelayMessage;
      } catch {
        return;
      }
      this.deliver(msg);
    });
  }

  private deliver(msg: RelayMessage): boolean {
    switch (msg.t) {
      case 'response':
        return this.resolveLocal(msg.id, msg.sessionId, msg.message);
      case 'cancel': {
        const c = this.inflight.get(`${msg.sessionId}\u0000${String(msg.requestId)}`);
        c?.abort(new AgentCancelled(msg.reason ?? 'cancelled by the client'));
        return c !== undefined;
      }
      case 'push': {
        const target = this.pushTargets.get(msg.sessionId);
        target?.(msg.message);
        return target !== undefined;
      }
      case 'session':
        // Our own notice comes back through the subscription: this worker's cache is current.
        if (msg.from !== this.workerId) for (const l of this.sessionListeners) l(msg.sessionId);
        return true;
      case 'fanout':
        // A notice from before audiences existed has none: treat it as from a shared backend.
        if (msg.from !== this.workerId) for (const l of this.fanOutListeners) l(msg.orgId, msg.server, msg.message, msg.audience ?? null);
        return true;
    }
  }

  /** Deliver locally, or publish for the worker that can. */
  private route(msg: RelayMessage): void {
    if (!this.deliver(msg)) this.bus.publish(JSON.stringify(msg)).catch(() => undefined);
  }

  // ---- server-to-client requests (sampling, elicitation, roots) --------------------------------

  /** Allocate a gateway-wide unique id for a request the gateway sends to an agent. */
  newRequest(sessionId: string, timeoutMs: number): { id: string; result: Promise<Record<string, unknown>> } {
    const id = `tg-${this.workerId}-${++this.seq}`;
    const result = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(RpcCode.InternalError, `The agent did not answer ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { sessionId, resolve, reject, timer });
    });
    return { id, result };
  }

  cancelRequest(id: string, reason: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.reject(new RpcError(RpcCode.InternalError, reason));
  }

  /** An agent session answered a server-to-client request (on any worker). */
  agentResponse(sessionId: string, message: JsonRpcResponse): void {
    const id = String(message.id);
    if (!id.startsWith('tg-')) return;
    this.route({ t: 'response', id, sessionId, message });
  }

  private resolveLocal(id: string, sessionId: string, message: JsonRpcResponse): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    // Ids are guessable (worker prefix + counter): only the session asked may answer. Another
    // session's answer is dropped here, not passed on to other workers.
    if (p.sessionId !== sessionId) return true;
    clearTimeout(p.timer);
    this.pending.delete(id);
    if ('result' in message) p.resolve(message.result);
    else p.reject(new RpcError(message.error.code, message.error.message, message.error.data));
    return true;
  }

  // ---- in-flight calls and cancellation -------------------------------------------------------

  track(sessionId: string, requestId: JsonRpcId): AbortController {
    const c = new AbortController();
    this.inflight.set(`${sessionId}\u0000${String(requestId)}`, c);
    return c;
  }

  untrack(sessionId: string, requestId: JsonRpcId): void {
    this.inflight.delete(`${sessionId}\u0000${String(requestId)}`);
  }

  cancel(sessionId: string, requestId: JsonRpcId, reason?: string): void {
    this.route({ t: 'cancel', sessionId, requestId, reason });
  }

  // ---- streams owned by this worker (legacy SSE, GET streams) -------------------------------

  registerPush(sessionId: string, write: (message: unknown) => void): () => void {
    this.pushTargets.set(sessionId, write);
    return () => {
      if (this.pushTargets.get(sessionId) === write) this.pushTargets.delete(sessionId);
    };
  }

  hasPush(sessionId: string): boolean {
    return this.pushTargets.has(sessionId);
  }

  push(sessionId: string, message: unknown): void {
    this.route({ t: 'push', sessionId, message });
  }

  // ---- session state changes -------------------------------------------------------------------

  /**
   * Tell every other worker that a session's state changed or the session ended, so none keeps
   * serving it from a stale local cache (capabilities from a legacy `initialize`, the log level,
   * a deletion). Resolves once Redis has taken the notice, so an agent answered after this cannot
   * reach a worker that has not heard of it, short of a Redis failure (then the cache's own short
   * TTL bounds the staleness).
   */
  async sessionChanged(sessionId: string): Promise<void> {
    const msg: RelayMessage = { t: 'session', sessionId, from: this.workerId };
    await this.bus.publish(JSON.stringify(msg)).catch(() => undefined);
  }

  /** Listen for other workers' session changes. */
  onSessionChanged(listener: (sessionId: string) => void): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  // ---- upstream notifications for every worker's streams ------------------------------------------

  /**
   * An upstream's unsolicited notification (resources/updated, list_changed, …) concerns agent
   * streams on every worker, not only those held by the worker whose backend received it: hand it
   * to this worker's listeners now and to the other workers through Redis.
   */
  fanOut(orgId: string, server: string, message: JsonRpcNotification, audience: Audience): void {
    for (const l of this.fanOutListeners) l(orgId, server, message, audience);
    const msg: RelayMessage = { t: 'fanout', orgId, server, message, audience, from: this.workerId };
    this.bus.publish(JSON.stringify(msg)).catch(() => undefined);
  }

  onFanOut(listener: FanOutListener): () => void {
    this.fanOutListeners.add(listener);
    return () => this.fanOutListeners.delete(listener);
  }

  get stats() {
    return { pendingAgentRequests: this.pending.size, inflight: this.inflight.size, streams: this.pushTargets.size };
  }

  close(): void {
    for (const [id] of this.pending) this.cancelRequest(id, 'gateway shutting down');
    for (const c of this.inflight.values()) c.abort();
  }
}
