import type { JsonRpcError, JsonRpcId, JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '../../core/jsonrpc';
import { RpcCode } from '../../core/jsonrpc';
import { BackendError, type CallContext } from '../types';
import { CallTable, type PendingCall } from './call-table';
import { CallCancelledError, isObject, toJsonRpcError } from './errors';

/**
 * How a transport relates what the upstream sends to the calls in flight.
 * - `stream`: every call has a response stream of its own (Streamable HTTP); what arrives on it
 *   belongs to that call, and what arrives elsewhere belongs to none.
 * - `in-flight`: one channel carries everything (stdio, legacy SSE); only an explicit hint (our
 *   progress token, a related task) names a call, else the calls in flight are all there is to go by.
 */
export type Attribution = 'stream' | 'in-flight';

export type ServerRequestHandler = (r: JsonRpcRequest) => Promise<Record<string, unknown>>;

export interface UpstreamPeerOptions<S> {
  /** Names the upstream at the start of error messages, e.g. `MCP server "github"`. */
  label: string;
  attribution: Attribution;
  /** Writes a notification or a response (and, without `transmit`, a request) to the upstream. */
  send: (message: JsonRpcMessage) => void | Promise<void>;
  /** Sends a registered call's request; default `send`. A throw or rejection fails the call ('unavailable'). */
  transmit?: (call: PendingCall<S>, message: JsonRpcRequest) => void | Promise<void>;
  /** Timeout of a call whose ctx has no timeoutMs (the server's configured timeout). */
  defaultTimeoutMs: number;
  maxCallMs?: number;
  resetTimeoutOnProgress?: boolean;
  /** Extra `data` of timeout errors. */
  errorData?: Record<string, unknown>;
  newState?: () => S;
  /** A call ended by timeout or cancellation: stop whatever still carries it (before notifications/cancelled goes out). */
  onAbandon?: (call: PendingCall<S>) => void;
  /** Something the upstream sent that could not be used, or was refused (operator log; never throws back). */
  onProtocolError?: (message: string) => void;
}

/** Notifications about the upstream as a whole: never attributed to a call. */
const UNSOLICITED_METHODS = new Set([
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
]);
const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';
/** attribute(): calls of several sessions could have made the request. */
const AMBIGUOUS = Symbol('ambiguous');

/** An upstream request an agent is answering; `call` is null for an out-of-call request. */
interface ServerRequest<S> {
  readonly call: PendingCall<S> | null;
  cancelled: boolean;
}

/**
 * The gateway's client side of one upstream connection, for every transport: the one place
 * that correlates requests and responses, progress, cancellation both ways, and the upstream's
 * own requests (sampling, elicitation, roots). The transport feeds it what arrives
 * (`handleMessage`) and gives it a way to write (`send`, `transmit`).
 *
 * - Ids and progress tokens are the connection's own (call-table.ts): agents' ids never go
 *   upstream, so two agents that both use id 1 cannot be confused.
 * - Timeouts and agent cancellation send `notifications/cancelled` upstream (never for
 *   initialize); a cancelled call rejects with CallCancelledError (no response to the agent).
 * - Notifications: progress by token; the upstream's withdrawal of one of its requests to the
 *   call answering it; anything else to the call it belongs to (its stream; on an `in-flight`
 *   channel, a log line while exactly one call is in flight), or else to the unsolicited listeners.
 * - Upstream requests: `ping` is answered here. Anything else goes to the agent of the call it
 *   belongs to: its stream's call; else a hint in `_meta` (a progress token we issued, a related
 *   task); on an `in-flight` channel, the latest call with a handler, but only when every such
 *   call belongs to ONE agent session; else the out-of-call handler (set only for a backend
 *   owned by one agent session). Otherwise it is refused with -32603 and logged: never guessed,
 *   so it cannot reach another agent.
 */
export class UpstreamPeer<S = undefined> {
  private readonly table: CallTable<S>;
  private readonly serverRequests = new Map<JsonRpcId, ServerRequest<S>>();
  private readonly listeners = new Set<(n: JsonRpcNotification) => void>();
  private readonly protocolError: (message: string) => void;
  private outOfCall: ServerRequestHandler | null = null;
  private failure: BackendError | undefined;

  constructor(private readonly options: UpstreamPeerOptions<S>) {
    this.protocolError = options.onProtocolError ?? (() => undefined);
    this.table = new CallTable<S>({
      label: options.label,
      errorData: options.errorData,
      maxCallMs: options.maxCallMs,
      resetTimeoutOnProgress: options.resetTimeoutOnProgress,
      newState: options.newState,
      abandoned: (call, reason) => this.abandon(call, reason),
    });
  }

  /** Calls awaiting their response. */
  get inFlight(): number {
    return this.table.size;
  }

  /** Last time a call started or ended. */
  get lastUsedAt(): number {
    return this.table.lastUsedAt;
  }

  /** The error the connection was closed with, if it was. */
  get failed(): BackendError | undefined {
    return this.failure;
  }

  /** Send a request upstream on behalf of one agent call; resolves with its result, rejects with BackendError. */
  request(
    method: string,
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
    timeoutMs = ctx.timeoutMs ?? this.options.defaultTimeoutMs,
  ): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    if (ctx.signal?.aborted) return Promise.reject(new CallCancelledError('The call was cancelled before it was sent'));
    const { call, promise, message } = this.table.open(method, params, ctx, timeoutMs);
    const transmit = this.options.transmit;
    try {
      const sent = transmit ? transmit(call, message) : this.options.send(message);
      if (sent !== undefined) sent.then(undefined, (e: unknown) => this.failCall(call, this.sendError(method, e)));
    } catch (e) {
      this.failCall(call, this.sendError(method, e));
    }
    return promise;
  }

  /** Send a notification upstream; rejects with BackendError kind 'unavailable' if it cannot. */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      await this.options.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
    } catch (e) {
      throw this.sendError(method, e);
    }
  }

  /** Listen to notifications that belong to no call. Returns an unsubscribe function. */
  onUnsolicited(listener: (n: JsonRpcNotification) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Who answers upstream requests that belong to no call (the owner of a per-session backend). */
  onOutOfCallRequest(handler: ServerRequestHandler | null): void {
    this.outOfCall = handler;
  }

  /** End one call with an error. False when it had already ended. */
  failCall(call: PendingCall<S>, error: BackendError): boolean {
    return this.table.settle(call, undefined, error);
  }

  /** Every call in flight, in start order (a transport that carries them may need to stop each). */
  pending(): PendingCall<S>[] {
    return this.table.drain();
  }

  /** The channel is gone but the connection may come back (legacy SSE reconnects): fail what is in flight. */
  failAll(error: BackendError): void {
    this.serverRequests.clear();
    for (const call of this.table.drain()) this.table.settle(call, undefined, error);
  }

  /** Close for good: pending calls reject with `error`, and so do later ones. */
  close(error: BackendError): void {
    if (this.failure) return;
    this.failure = error;
    this.failAll(error);
  }

  /** The connection died: every pending call, and every later one, rejects with kind 'crashed'. */
  connectionLost(message: string, data?: unknown): void {
    const error: JsonRpcError = { code: RpcCode.UpstreamUnavailable, message };
    if (data !== undefined) error.data = data;
    this.close(new BackendError(error, 'crashed'));
  }

  /**
   * Feed one parsed message from the upstream. `streamCall` is the call whose response stream
   * carried it (`stream` attribution), undefined for a stream that belongs to no call. Never throws.
   */
  handleMessage(message: JsonRpcMessage, streamCall?: PendingCall<S>): void {
    const m = message as unknown as Record<string, unknown>;
    if (!isObject(m)) {
      this.protocolError(`${this.options.label} sent a JSON value that is not a JSON-RPC message`);
      return;
    }
    if (typeof m.method === 'string') {
      if (m.id === undefined || m.id === null) this.onNotification(message as JsonRpcNotification, streamCall);
      else if (typeof m.id === 'string' || typeof m.id === 'number') this.onRequest(message as JsonRpcRequest, streamCall);
      else this.protocolError(`${this.options.label} sent a request with an invalid id`);
      return;
    }
    if ('result' in m || 'error' in m) {
      if (!this.table.settleResponse(message as JsonRpcResponse) && (m.id === null || m.id === undefined)) {
        // Late answers (after a timeout or cancel) are normal; an uncorrelated error is the upstream's bug.
        const e = m.error;
        this.protocolError(`${this.options.label} sent an uncorrelated error: ${isObject(e) ? String(e.message) : 'no message'}`);
      }
      return;
    }
    this.protocolError(`${this.options.label} sent a message that is neither a request, a notification nor a response`);
  }

  private onNotification(n: JsonRpcNotification, streamCall: PendingCall<S> | undefined): void {
    if (n.method === 'notifications/progress') {
      // Progress for a token we did not issue, or for a finished call, is dropped.
      const call = this.table.byProgressToken(n.params?.progressToken);
      if (!call) return;
      this.table.extend(call);
      this.deliverTo(call, { jsonrpc: '2.0', method: n.method, params: { ...n.params, progressToken: call.agentProgressToken } });
      return;
    }
    if (n.method === 'notifications/cancelled' && this.upstreamCancelled(n)) return;
    const call = this.callOfNotification(n, streamCall);
    if (call) this.deliverTo(call, n);
    else for (const listener of this.listeners) this.deliver(listener, n);
  }

  private callOfNotification(n: JsonRpcNotification, streamCall: PendingCall<S> | undefined): PendingCall<S> | undefined {
    if (UNSOLICITED_METHODS.has(n.method)) return undefined;
    if (streamCall) return streamCall.settled ? undefined : streamCall;
    // On a shared channel a log line has no other clue; with one call in flight it is unambiguous.
    if (this.options.attribution === 'in-flight' && n.method === 'notifications/message' && this.table.size === 1) {
      return this.table.values().next().value;
    }
    return undefined;
  }

  /** The upstream withdrew one of its own requests: tell the agent answering it, drop its answer. */
  private upstreamCancelled(n: JsonRpcNotification): boolean {
    const id = n.params?.requestId;
    const entry = typeof id === 'string' || typeof id === 'number' ? this.serverRequests.get(id) : undefined;
    if (!entry) return false;
    entry.cancelled = true;
    this.serverRequests.delete(id as JsonRpcId);
    // An out-of-call request's agent is asked over its session stream: the answer is just dropped.
    if (entry.call) this.deliverTo(entry.call, n);
    return true;
  }

  private onRequest(r: JsonRpcRequest, streamCall: PendingCall<S> | undefined): void {
    if (r.method === 'ping') {
      this.reply({ jsonrpc: '2.0', id: r.id, result: {} });
      return;
    }
    const call = this.attribute(r, streamCall);
    if (call === AMBIGUOUS) {
      this.refuse(
        r,
        'this request cannot be attributed to one agent session: calls of several agent sessions are in flight on a shared connection',
      );
      return;
    }
    const handler = call ? (call.settled ? undefined : call.ctx.onServerRequest) : this.outOfCall;
    if (!handler) {
      this.refuse(r, 'no agent session is waiting for this request');
      return;
    }
    const entry: ServerRequest<S> = { call: call ?? null, cancelled: false };
    this.serverRequests.set(r.id, entry);
    let answer: Promise<Record<string, unknown>>;
    try {
      answer = handler(r);
    } catch (e) {
      answer = Promise.reject(e);
    }
    answer.then(
      (result) => {
        if (this.takeServerRequest(r.id, entry)) this.reply({ jsonrpc: '2.0', id: r.id, result: isObject(result) ? result : {} });
      },
      (e: unknown) => {
        if (this.takeServerRequest(r.id, entry)) this.reply({ jsonrpc: '2.0', id: r.id, error: toJsonRpcError(e) });
      },
    );
  }

  /** Which in-flight call an upstream request belongs to (see the class comment); undefined = none. */
  private attribute(r: JsonRpcRequest, streamCall: PendingCall<S> | undefined): PendingCall<S> | typeof AMBIGUOUS | undefined {
    if (streamCall) return streamCall;
    const meta = r.params?._meta;
    if (isObject(meta)) {
      const byToken = this.table.byProgressToken(meta.progressToken);
      if (byToken?.ctx.onServerRequest) return byToken;
      const related = meta[RELATED_TASK_META_KEY];
      if (isObject(related) && typeof related.taskId === 'string') {
        // A task's request is for whoever waits on that task (tasks/result), never for another call.
        const byTask = this.table.byTaskId(related.taskId);
        return byTask?.ctx.onServerRequest ? byTask : undefined;
      }
    }
    if (this.options.attribution === 'stream') return undefined;
    // Map iteration follows insertion order, which is start order: keep the last match.
    let latest: PendingCall<S> | undefined;
    for (const call of this.table.values()) {
      if (!call.ctx.onServerRequest) continue;
      if (latest !== undefined && latest.ctx.sessionId !== call.ctx.sessionId) return AMBIGUOUS;
      latest = call;
    }
    return latest;
  }

  private refuse(r: JsonRpcRequest, why: string): void {
    this.protocolError(`${this.options.label}: refused ${r.method} (id ${String(r.id)}): ${why}`);
    this.reply({ jsonrpc: '2.0', id: r.id, error: { code: RpcCode.InternalError, message: why } });
  }

  /** True if the answer to this upstream request should still be sent (not cancelled, same connection). */
  private takeServerRequest(id: JsonRpcId, entry: ServerRequest<S>): boolean {
    if (entry.cancelled || this.serverRequests.get(id) !== entry) return false;
    this.serverRequests.delete(id);
    return true;
  }

  /** A call ended by timeout or cancellation (already rejected): stop its transport, tell the upstream. */
  private abandon(call: PendingCall<S>, reason: string): void {
    this.options.onAbandon?.(call);
    // MCP: the initialize request must never be cancelled.
    if (call.method === 'initialize' || this.failure) return;
    this.write({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.id, reason } }, () => undefined);
  }

  /** Answer an upstream request; a closed connection just drops it. */
  private reply(message: JsonRpcResponse): void {
    if (this.failure) return;
    this.write(message, (e) => this.protocolError(`could not answer ${this.options.label}: ${e instanceof Error ? e.message : String(e)}`));
  }

  private write(message: JsonRpcMessage, onError: (e: unknown) => void): void {
    try {
      const sent = this.options.send(message);
      if (sent !== undefined) sent.then(undefined, onError);
    } catch (e) {
      onError(e);
    }
  }

  private deliverTo(call: PendingCall<S>, n: JsonRpcNotification): void {
    const hook = call.ctx.onNotification;
    if (hook) this.deliver(hook, n);
  }

  /** Call a hook without letting its exception break the read loop other calls share. */
  private deliver(hook: (n: JsonRpcNotification) => void, n: JsonRpcNotification): void {
    try {
      hook(n);
    } catch (e) {
      this.protocolError(`a notification listener threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private sendError(method: string, e: unknown): BackendError {
    if (e instanceof BackendError) return e;
    const detail = e instanceof Error ? e.message : String(e);
    return new BackendError(
      { code: RpcCode.UpstreamUnavailable, message: `Could not send ${method} to ${this.options.label}: ${detail}` },
      'unavailable',
    );
  }
}
