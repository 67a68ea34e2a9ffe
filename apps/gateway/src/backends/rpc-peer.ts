import type { JsonRpcError, JsonRpcId, JsonRpcMessage, JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc';
import { RpcCode, RpcError } from '../core/jsonrpc';
import { BackendError, type CallContext } from './types';

/**
 * The client side of ONE JSON-RPC connection to an upstream MCP server, shared by every agent
 * call that goes to that upstream. Transport-agnostic: the transport hands it a `send` function
 * and feeds it every parsed incoming message through `handleMessage`; when the connection dies
 * the transport calls `fail` (or `connectionLost`).
 *
 * What it does for its callers:
 * - Ids. Every upstream request gets the peer's own id (1, 2, 3, … per connection). Agents' ids
 *   never go upstream, so two agents that both use id 1 cannot be confused with each other
 *   (the "reused id gets misrouted" pitfall of shared SDK connections).
 * - Timeouts. Each call has a timer (ctx.timeoutMs, else `defaultTimeoutMs`). A progress
 *   notification for the call restarts it, but never beyond `maxCallMs` from the start (the MCP
 *   spec's advice: reset on progress, always keep a hard ceiling). On expiry the call rejects
 *   with BackendError kind 'timeout' (RpcCode.UpstreamTimeout) and `notifications/cancelled` goes
 *   upstream.
 * - Cancellation. When ctx.signal aborts, `notifications/cancelled` goes upstream and the call
 *   rejects with CallCancelledError (no response should be sent to the agent for it).
 * - Progress. If the agent's params._meta.progressToken is set, the upstream sees the peer's own
 *   token instead (`tg-<upstream request id>`, unique on this connection); progress notifications
 *   are mapped back to the agent's token and handed to ctx.onNotification.
 * - Upstream notifications. `notifications/progress` is routed by token (unknown tokens, e.g.
 *   late progress for a finished call, are dropped). `notifications/message` (logging) goes to
 *   the call's ctx.onNotification when EXACTLY ONE call is in flight and it has that hook: on
 *   stdio there is no other way to relate a log line to a call, and with one call in flight the
 *   attribution is unambiguous; otherwise it goes to the unsolicited listeners, like every other
 *   notification (list_changed, resources/updated, …).
 * - Upstream requests. `ping` is answered locally. Sampling, elicitation, roots/list and any other
 *   request go to the ctx.onServerRequest of an in-flight call, chosen as follows:
 *     1. a hint in params._meta: a progressToken equal to one the peer issued names that call
 *        (a server may pass the token of the call it is serving along);
 *        an `io.modelcontextprotocol/related-task` taskId names the in-flight call whose params
 *        carry that taskId (tasks/result, tasks/get); with no such call it is refused;
 *     2. otherwise the most recently started in-flight call that has an onServerRequest hook,
 *        but only when every such call belongs to ONE agent session (ctx.sessionId). With calls
 *        of several sessions in flight the request cannot be attributed (stdio and SSE do not
 *        say which request it belongs to): it is refused, never guessed, so it cannot reach
 *        another agent; `onProtocolError` logs it. Isolated backends (per key or session, see
 *        core/backend-spec.ts) rarely meet this; shared ones do under concurrency.
 *   With no candidate the upstream gets JSON-RPC error -32603 "no agent session is waiting for
 *   this request"; when ambiguous, -32603 saying so. The agent's answer (or its RpcError) is sent back with the upstream's id.
 *   The JsonRpcRequest handed to onServerRequest carries the UPSTREAM's id: the session layer
 *   must give it an id of its own towards the agent. If the upstream cancels such a request
 *   (`notifications/cancelled` with its id), the peer passes that notification to the same
 *   call's ctx.onNotification and drops the agent's later answer.
 * - Connection loss. `connectionLost(message)` rejects every pending call with BackendError kind
 *   'crashed' (RpcCode.UpstreamUnavailable); answers to upstream requests still in progress are
 *   dropped. A failed peer rejects new calls at once: make a new peer for a new connection.
 *
 * Hot path cost per call: one Map entry, one timer, one abort listener when a signal is given.
 */

/** A JSON-RPC code for calls the agent cancelled. Never sent to the agent (a cancelled request gets no response). */
export const REQUEST_CANCELLED_CODE = -32800;

/** The call was cancelled by ctx.signal; nothing should be answered to the agent for it. */
export class CallCancelledError extends BackendError {
  constructor(message: string) {
    super({ code: REQUEST_CANCELLED_CODE, message }, 'unavailable');
  }
}

export interface RpcPeerOptions {
  /**
   * Writes one message to the upstream. May throw or return a rejected promise when the
   * transport cannot take it: a request then rejects with BackendError kind 'unavailable'.
   */
  send: (message: JsonRpcMessage) => void | Promise<void>;
  /** Timeout of a call whose ctx has no timeoutMs (the server's configured timeout). */
  defaultTimeoutMs: number;
  /**
   * Hard ceiling on a call's total duration, however often progress restarts its timer.
   * Default: 10 minutes, or the call's own timeout if that is longer.
   */
  maxCallMs?: number;
  /** Restart a call's timer on each of its progress notifications (default true). */
  resetTimeoutOnProgress?: boolean;
  /** Names the upstream in error messages, e.g. `"github" (stdio)`. */
  label?: string;
  /** Something the upstream sent that could not be used (for logs; never throws back). */
  onProtocolError?: (message: string) => void;
}

interface PendingCall {
  /** Upstream request id (`tg-<id>` is the upstream progress token when the agent asked for progress). */
  readonly id: number;
  readonly method: string;
  /** Params as sent upstream (the related-task hint compares params.taskId). */
  readonly params: Record<string, unknown> | undefined;
  readonly ctx: CallContext;
  readonly resolve: (result: Record<string, unknown>) => void;
  readonly reject: (error: BackendError) => void;
  readonly timeoutMs: number;
  readonly startedAt: number;
  /** Date.now() past which progress no longer extends the call. */
  readonly deadline: number;
  /** Progress restarted the timer at least once. */
  progressed: boolean;
  /** The running timer ends at the deadline, not a full timeoutMs later. */
  atCeiling: boolean;
  /** The agent's own progress token, when it asked for progress. */
  readonly agentProgressToken: string | number | undefined;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
}

/** An upstream request being answered by an agent; the identity check drops stale answers. */
interface ServerRequest {
  readonly call: PendingCall;
  cancelled: boolean;
}

const DEFAULT_MAX_CALL_MS = 10 * 60_000;
/**
 * Upstream progress tokens are `tg-<request id>`: unique on the connection, and unlike bare
 * numbers they cannot be mistaken for tokens the upstream makes up for its own requests.
 */
const PROGRESS_TOKEN_PREFIX = 'tg-';
const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';

/** routeServerRequest: calls of several sessions could have made the request. */
const AMBIGUOUS = Symbol('ambiguous');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class RpcPeer {
  private readonly pending = new Map<number, PendingCall>();
  private readonly serverRequests = new Map<JsonRpcId, ServerRequest>();
  private readonly listeners = new Set<(n: JsonRpcNotification) => void>();
  private readonly send: RpcPeerOptions['send'];
  private readonly defaultTimeoutMs: number;
  private readonly maxCallMs: number;
  private readonly resetTimeoutOnProgress: boolean;
  private readonly label: string;
  private readonly onProtocolError: (message: string) => void;
  private nextId = 1;
  private failure: BackendError | undefined;
  private _lastUsedAt = Date.now();

  constructor(options: RpcPeerOptions) {
    this.send = options.send;
    this.defaultTimeoutMs = options.defaultTimeoutMs;
    this.maxCallMs = options.maxCallMs ?? DEFAULT_MAX_CALL_MS;
    this.resetTimeoutOnProgress = options.resetTimeoutOnProgress ?? true;
    this.label = options.label ?? 'upstream';
    this.onProtocolError = options.onProtocolError ?? (() => undefined);
  }

  /** Calls awaiting their response. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Last time a call started or finished. */
  get lastUsedAt(): number {
    return this._lastUsedAt;
  }

  /** The error the connection failed with, if it did. */
  get failed(): BackendError | undefined {
    return this.failure;
  }

  /** Send a request upstream on behalf of one agent call; resolves with its result. */
  request(method: string, params: Record<string, unknown> | undefined, ctx: CallContext): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    const signal = ctx.signal;
    if (signal?.aborted) return Promise.reject(new CallCancelledError(`The call was cancelled before it was sent: ${abortReason(signal)}`));

    const id = this.nextId++;
    // Rewrite the progress token without touching the agent's objects.
    let agentProgressToken: string | number | undefined;
    let upstreamParams = params;
    const meta = params?._meta;
    if (isObject(meta)) {
      const token = meta.progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        agentProgressToken = token;
        upstreamParams = { ...params, _meta: { ...meta, progressToken: PROGRESS_TOKEN_PREFIX + id } };
      }
    }

    const timeoutMs = ctx.timeoutMs ?? this.defaultTimeoutMs;
    const now = Date.now();
    this._lastUsedAt = now;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const call: PendingCall = {
        id,
        method,
        params: upstreamParams,
        ctx,
        resolve,
        reject,
        timeoutMs,
        startedAt: now,
        deadline: now + Math.max(this.maxCallMs, timeoutMs),
        progressed: false,
        atCeiling: false,
        agentProgressToken,
        timer: undefined,
        onAbort: undefined,
      };
      call.timer = setTimeout(() => this.onTimeout(call), timeoutMs);
      if (signal) {
        // The hook names the call by id, not by reference: see onAbortOf.
        call.onAbort = this.onAbortOf(id);
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.pending.set(id, call);
      const message: JsonRpcRequest =
        upstreamParams === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params: upstreamParams };
      let sent: void | Promise<void>;
      try {
        sent = this.send(message);
      } catch (e) {
        this.settleWithError(call, this.sendError(method, e));
        return;
      }
      if (sent !== undefined) sent.then(undefined, (e: unknown) => this.settleWithError(call, this.sendError(method, e)));
    });
  }

  /** Send a notification upstream; rejects with BackendError kind 'unavailable' if it cannot. */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.failure) throw this.failure;
    const message: JsonRpcNotification = params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params };
    try {
      await this.send(message);
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

  /** Feed one parsed message from the upstream. Never throws. */
  handleMessage(message: JsonRpcMessage): void {
    const m = message as unknown as Record<string, unknown>;
    if (!isObject(m)) {
      this.onProtocolError(`${this.label} sent a JSON value that is not a JSON-RPC message`);
      return;
    }
    if (typeof m.method === 'string') {
      if (m.id === undefined || m.id === null) this.onNotification(message as JsonRpcNotification);
      else if (typeof m.id === 'string' || typeof m.id === 'number') this.onRequest(message as JsonRpcRequest);
      else this.onProtocolError(`${this.label} sent a request with an invalid id`);
      return;
    }
    if ('result' in m || 'error' in m) {
      this.onResponse(m);
      return;
    }
    this.onProtocolError(`${this.label} sent a message that is neither a request, a notification nor a response`);
  }

  /** The connection is gone: every pending call rejects with kind 'crashed' (UpstreamUnavailable). */
  connectionLost(message: string, data?: unknown): void {
    const error: JsonRpcError = { code: RpcCode.UpstreamUnavailable, message };
    if (data !== undefined) error.data = data;
    this.fail(new BackendError(error, 'crashed'));
  }

  /** Fail the connection with a given error: pending calls reject with it, and so do later ones. */
  fail(error: BackendError): void {
    if (this.failure) return;
    this.failure = error;
    const calls = [...this.pending.values()];
    this.pending.clear();
    this.serverRequests.clear();
    for (const call of calls) {
      this.cleanup(call);
      call.reject(error);
    }
    if (calls.length > 0) this._lastUsedAt = Date.now();
  }

  // ---- incoming ---------------------------------------------------------------------------

  private onResponse(m: Record<string, unknown>): void {
    const call = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
    if (!call) {
      // Late answers (after a timeout or cancel) are normal; anything else is the upstream's bug.
      if (m.id === null || (typeof m.id !== 'number' && typeof m.id !== 'string')) {
        const e = m.error;
        this.onProtocolError(`${this.label} sent an uncorrelated error: ${isObject(e) ? String(e.message) : 'no message'}`);
      }
      return;
    }
    this.pending.delete(call.id);
    this.cleanup(call);
    this._lastUsedAt = Date.now();
    if ('error' in m) {
      call.reject(new BackendError(normalizeError(m.error), 'upstream'));
      return;
    }
    const result = m.result;
    if (isObject(result)) call.resolve(result);
    else
      call.reject(
        new BackendError(
          { code: RpcCode.InternalError, message: `${this.label} answered ${call.method} with a result that is not an object` },
          'upstream',
        ),
      );
  }

  private onNotification(n: JsonRpcNotification): void {
    const method = n.method;
    if (method === 'notifications/progress') {
      const call = this.callForProgressToken(n.params?.progressToken);
      if (!call) return;
      this.extendOnProgress(call);
      const hook = call.ctx.onNotification;
      if (hook) this.deliver(hook, { jsonrpc: '2.0', method, params: { ...n.params, progressToken: call.agentProgressToken } });
      return;
    }
    if (method === 'notifications/cancelled') {
      // The upstream withdraws one of its own requests that an agent is answering.
      const requestId = n.params?.requestId;
      const sr = typeof requestId === 'string' || typeof requestId === 'number' ? this.serverRequests.get(requestId) : undefined;
      if (!sr) return;
      sr.cancelled = true;
      this.serverRequests.delete(requestId as JsonRpcId);
      const hook = sr.call.ctx.onNotification;
      if (hook) this.deliver(hook, n);
      return;
    }
    if (method === 'notifications/message' && this.pending.size === 1) {
      const only = this.pending.values().next().value as PendingCall;
      const hook = only.ctx.onNotification;
      if (hook) {
        this.deliver(hook, n);
        return;
      }
    }
    for (const listener of this.listeners) this.deliver(listener, n);
  }

  private onRequest(r: JsonRpcRequest): void {
    if (r.method === 'ping') {
      this.reply({ jsonrpc: '2.0', id: r.id, result: {} });
      return;
    }
    const call = this.routeServerRequest(r.params);
    if (call === AMBIGUOUS) {
      this.onProtocolError(`refused ${r.method} from ${this.label}: calls of several agent sessions are in flight and nothing names one`);
      this.reply({
        jsonrpc: '2.0',
        id: r.id,
        error: {
          code: RpcCode.InternalError,
          message: 'this request cannot be attributed to one agent session (several are in flight on a shared connection)',
        },
      });
      return;
    }
    if (!call) {
      this.reply({
        jsonrpc: '2.0',
        id: r.id,
        error: { code: RpcCode.InternalError, message: 'no agent session is waiting for this request' },
      });
      return;
    }
    const sr: ServerRequest = { call, cancelled: false };
    this.serverRequests.set(r.id, sr);
    let answer: Promise<Record<string, unknown>>;
    try {
      answer = call.ctx.onServerRequest!(r);
    } catch (e) {
      answer = Promise.reject(e);
    }
    answer.then(
      (result) => {
        if (this.takeServerRequest(r.id, sr)) this.reply({ jsonrpc: '2.0', id: r.id, result: isObject(result) ? result : {} });
      },
      (e: unknown) => {
        if (this.takeServerRequest(r.id, sr)) this.reply({ jsonrpc: '2.0', id: r.id, error: toJsonRpcError(e) });
      },
    );
  }

  /** Which in-flight call answers an upstream request (see the class comment). */
  private routeServerRequest(params: Record<string, unknown> | undefined): PendingCall | typeof AMBIGUOUS | undefined {
    const meta = params?._meta;
    if (isObject(meta)) {
      const call = this.callForProgressToken(meta.progressToken);
      if (call?.ctx.onServerRequest) return call;
      const related = meta[RELATED_TASK_META_KEY];
      const taskId = isObject(related) ? related.taskId : undefined;
      if (typeof taskId === 'string') {
        for (const call of this.pending.values()) if (call.params?.taskId === taskId && call.ctx.onServerRequest) return call;
        // A task's request is for whoever waits on that task (tasks/result), never for another call.
        return undefined;
      }
    }
    // Map iteration follows insertion order, which is start order: keep the last match.
    let latest: PendingCall | undefined;
    for (const call of this.pending.values()) {
      if (!call.ctx.onServerRequest) continue;
      if (latest !== undefined && latest.ctx.sessionId !== call.ctx.sessionId) return AMBIGUOUS;
      latest = call;
    }
    return latest;
  }

  /** The in-flight call that asked for progress under this upstream token. */
  private callForProgressToken(token: unknown): PendingCall | undefined {
    if (typeof token !== 'string' || !token.startsWith(PROGRESS_TOKEN_PREFIX)) return undefined;
    const call = this.pending.get(Number(token.slice(PROGRESS_TOKEN_PREFIX.length)));
    return call !== undefined && call.agentProgressToken !== undefined ? call : undefined;
  }

  /** True if the answer to this upstream request should still be sent (not cancelled, same connection). */
  private takeServerRequest(id: JsonRpcId, sr: ServerRequest): boolean {
    if (sr.cancelled || this.serverRequests.get(id) !== sr) return false;
    this.serverRequests.delete(id);
    return true;
  }

  // ---- call lifecycle ---------------------------------------------------------------------

  private onTimeout(call: PendingCall): void {
    if (this.pending.get(call.id) !== call) return;
    const elapsed = Date.now() - call.startedAt;
    const message = call.atCeiling
      ? `${this.label} did not finish ${call.method} within the ${call.deadline - call.startedAt} ms ceiling for one call`
      : call.progressed
        ? `${this.label} sent no progress for ${call.method} for ${call.timeoutMs} ms (${elapsed} ms in all)`
        : `${this.label} did not answer ${call.method} within ${call.timeoutMs} ms`;
    this.cancelUpstream(call, `Timed out after ${elapsed} ms`);
    this.settleWithError(
      call,
      new BackendError({ code: RpcCode.UpstreamTimeout, message, data: { timeoutMs: call.timeoutMs } }, 'timeout'),
    );
  }

  /**
   * The abort hook of call `id`. It holds the id, not the call, and is made in a method of its
   * own so that it shares no closure scope with the timer's hook, which does hold the call. On
   * Node 20 an AbortSignal that had a listener stays reachable from dead objects until the next
   * full GC (measured with `pnpm bench --gateway-node-options "--trace-gc-nvp"`): a hook holding
   * the call kept the call's whole graph (context, agent response, buffers) alive through every
   * young-generation GC, ~1.5 MB each at 1,500 calls/s, and tripled their pauses (1.7 → 4–5 ms).
   */
  private onAbortOf(id: number): () => void {
    return () => {
      const call = this.pending.get(id);
      if (call !== undefined) this.onAbort(call);
    };
  }

  private onAbort(call: PendingCall): void {
    if (this.pending.get(call.id) !== call) return;
    const reason = abortReason(call.ctx.signal!);
    this.cancelUpstream(call, reason);
    this.settleWithError(call, new CallCancelledError(`The call was cancelled: ${reason}`));
  }

  /** A progress notification restarts the call's timer, within its hard deadline. */
  private extendOnProgress(call: PendingCall): void {
    if (!this.resetTimeoutOnProgress || call.timer === undefined) return;
    const left = call.deadline - Date.now();
    if (left <= 0) return;
    call.progressed = true;
    call.atCeiling = left <= call.timeoutMs;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.onTimeout(call), call.atCeiling ? left : call.timeoutMs);
  }

  private cancelUpstream(call: PendingCall, reason: string): void {
    // MCP: initialize must never be cancelled.
    if (call.method === 'initialize' || this.failure) return;
    const message: JsonRpcNotification = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.id, reason } };
    try {
      const sent = this.send(message);
      if (sent !== undefined) sent.then(undefined, () => undefined);
    } catch {
      // The connection is going away; the upstream will not run the call to completion anyway.
    }
  }

  private settleWithError(call: PendingCall, error: BackendError): void {
    if (this.pending.get(call.id) !== call) return;
    this.pending.delete(call.id);
    this.cleanup(call);
    this._lastUsedAt = Date.now();
    call.reject(error);
  }

  private cleanup(call: PendingCall): void {
    if (call.timer !== undefined) {
      clearTimeout(call.timer);
      call.timer = undefined;
    }
    if (call.onAbort) {
      call.ctx.signal!.removeEventListener('abort', call.onAbort);
      call.onAbort = undefined;
    }
  }

  private sendError(method: string, e: unknown): BackendError {
    const detail = e instanceof Error ? e.message : String(e);
    return new BackendError(
      { code: RpcCode.UpstreamUnavailable, message: `Could not send ${method} to ${this.label}: ${detail}` },
      'unavailable',
    );
  }

  /** Answer an upstream request; a dead connection just drops it. */
  private reply(message: JsonRpcMessage): void {
    if (this.failure) return;
    try {
      const sent = this.send(message);
      if (sent !== undefined) sent.then(undefined, (e: unknown) => this.onProtocolError(`could not answer ${this.label}: ${String(e)}`));
    } catch (e) {
      this.onProtocolError(`could not answer ${this.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Call a hook without letting its exception break the read loop. */
  private deliver(hook: (n: JsonRpcNotification) => void, n: JsonRpcNotification): void {
    try {
      hook(n);
    } catch (e) {
      this.onProtocolError(`a notification listener threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string' && r.length > 0) return r;
  if (r instanceof Error && r.message && r.name !== 'AbortError') return r.message;
  return 'cancelled by the agent';
}

/** An upstream's error object, made safe to relay (numeric code, string message). */
function normalizeError(raw: unknown): JsonRpcError {
  if (!isObject(raw)) return { code: RpcCode.InternalError, message: 'The upstream answered with a malformed error' };
  const code = typeof raw.code === 'number' && Number.isInteger(raw.code) ? raw.code : RpcCode.InternalError;
  const message = typeof raw.message === 'string' ? raw.message : 'The upstream answered with an error';
  return raw.data === undefined ? { code, message } : { code, message, data: raw.data };
}

/** What an agent-side failure becomes on the wire towards the upstream. */
function toJsonRpcError(e: unknown): JsonRpcError {
  if (e instanceof RpcError) return e.toJSON();
  if (e instanceof BackendError) return e.error;
  return { code: RpcCode.InternalError, message: e instanceof Error ? e.message : 'The agent could not answer the request' };
}
