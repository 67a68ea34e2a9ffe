import { type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse, RpcCode } from '../../core/jsonrpc';
import { BackendError, type CallContext } from '../types';
import { abortReason, CallCancelledError, isObject, normalizeError } from './errors';

/**
 * Upstream progress tokens are `tg-<request id>`: unique on the connection, and unlike bare
 * numbers they cannot be mistaken for tokens the upstream makes up for its own requests.
 */
const PROGRESS_TOKEN_PREFIX = 'tg-';
const DEFAULT_MAX_CALL_MS = 10 * 60_000;

type ProgressToken = string | number;

/** One call awaiting its upstream response. `state` is the transport's own (HTTP: its exchange). */
export class PendingCall<S = undefined> {
  settled = false;
  timer: NodeJS.Timeout | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  resolve!: (result: Record<string, unknown>) => void;
  reject!: (error: BackendError) => void;
  /** Progress restarted the timer at least once. */
  progressed = false;
  readonly startedAt = Date.now();

  constructor(
    /** The connection's own id for the call (the agent's id never goes upstream). */
    readonly id: number,
    readonly method: string,
    /** Params as sent upstream (the related-task hint compares params.taskId). */
    readonly params: Record<string, unknown> | undefined,
    readonly ctx: CallContext,
    /** The agent's progress token, when it asked for progress (upstream sees `tg-<id>`). */
    readonly agentProgressToken: ProgressToken | undefined,
    readonly timeoutMs: number,
    /** Date.now() past which progress no longer extends the call. */
    readonly deadline: number,
    readonly state: S,
  ) {}
}

export interface CallTableOptions<S> {
  /** Names the upstream at the start of error messages, e.g. `MCP server "github"`. */
  label: string;
  /** Extra `data` of timeout errors (HTTP names its origin). */
  errorData?: Record<string, unknown>;
  /** Hard ceiling on one call, however often progress restarts its timer. Default 10 min (or the call's timeout if longer). */
  maxCallMs?: number;
  /** Restart a call's timer on each of its progress notifications. Default true. */
  resetTimeoutOnProgress?: boolean;
  /** The transport's per-call state. */
  newState?: () => S;
  /** The call timed out or the agent cancelled it: it is already rejected; tell the upstream. */
  abandoned(call: PendingCall<S>, reason: string): void;
}

/**
 * The in-flight calls of one upstream connection, by the connection's own JSON-RPC ids (a
 * counter), so identical ids from different agents never collide. Each call has a timer
 * (restarted by its progress, never beyond the hard ceiling: the MCP spec's advice) and, when
 * the agent gave one, an abort hook.
 */
export class CallTable<S = undefined> {
  private seq = 0;
  private readonly calls = new Map<number, PendingCall<S>>();
  private readonly maxCallMs: number;
  private readonly resetOnProgress: boolean;
  private lastUsed = Date.now();

  constructor(private readonly options: CallTableOptions<S>) {
    this.maxCallMs = options.maxCallMs ?? DEFAULT_MAX_CALL_MS;
    this.resetOnProgress = options.resetTimeoutOnProgress ?? true;
  }

  get size(): number {
    return this.calls.size;
  }

  /** Last time a call started or ended. */
  get lastUsedAt(): number {
    return this.lastUsed;
  }

  get(id: JsonRpcId | null | undefined): PendingCall<S> | undefined {
    return typeof id === 'number' ? this.calls.get(id) : undefined;
  }

  /** In start order (Map insertion order). */
  values(): IterableIterator<PendingCall<S>> {
    return this.calls.values();
  }

  /** A snapshot of every pending call, for failing them all. */
  drain(): PendingCall<S>[] {
    return [...this.calls.values()];
  }

  /**
   * Register a call and build its upstream request, without touching the agent's objects: a
   * progress token the agent asked for becomes `tg-<id>` upstream. Starts the timeout and
   * listens to the agent's abort signal (the caller checks `signal.aborted` first).
   */
  open(
    method: string,
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
    timeoutMs: number,
  ): { call: PendingCall<S>; promise: Promise<Record<string, unknown>>; message: JsonRpcRequest } {
    const id = ++this.seq;
    let upstreamParams = params;
    let agentToken: ProgressToken | undefined;
    const meta = params?._meta;
    if (isObject(meta)) {
      const token = meta.progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        agentToken = token;
        upstreamParams = { ...params, _meta: { ...meta, progressToken: PROGRESS_TOKEN_PREFIX + id } };
      }
    }
    const now = Date.now();
    this.lastUsed = now;
    const state = this.options.newState ? this.options.newState() : (undefined as S);
    const call = new PendingCall<S>(
      id,
      method,
      upstreamParams,
      ctx,
      agentToken,
      timeoutMs,
      now + Math.max(this.maxCallMs, timeoutMs),
      state,
    );
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    this.calls.set(id, call);
    call.timer = setTimeout(() => this.expire(call), timeoutMs);
    if (ctx.signal) {
      call.onAbort = this.onAbortOf(id, ctx.signal);
      ctx.signal.addEventListener('abort', call.onAbort, { once: true });
    }
    const message: JsonRpcRequest =
      upstreamParams === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params: upstreamParams };
    return { call, promise, message };
  }

  /** End a call once, with a result or an error. Returns false when it had already ended. */
  settle(call: PendingCall<S>, result: Record<string, unknown> | undefined, error: BackendError | undefined): boolean {
    if (call.settled) return false;
    call.settled = true;
    this.calls.delete(call.id);
    this.lastUsed = Date.now();
    clearTimeout(call.timer);
    call.timer = undefined;
    if (call.onAbort) {
      call.ctx.signal?.removeEventListener('abort', call.onAbort);
      call.onAbort = undefined;
    }
    if (error) call.reject(error);
    else call.resolve(result ?? {});
    return true;
  }

  /** Settle the call a response answers. False when none is pending (late after a timeout, or never ours). */
  settleResponse(message: JsonRpcResponse): boolean {
    const call = this.get(message.id);
    if (!call) return false;
    if ('error' in message) {
      this.settle(call, undefined, new BackendError(normalizeError(message.error), 'upstream'));
      return true;
    }
    const result: unknown = (message as { result?: unknown }).result;
    if (isObject(result)) this.settle(call, result, undefined);
    else {
      const error = {
        code: RpcCode.InternalError,
        message: `${this.options.label} answered ${call.method} with a result that is not an object`,
      };
      this.settle(call, undefined, new BackendError(error, 'upstream'));
    }
    return true;
  }

  /** The in-flight call that asked for progress under this upstream token. */
  byProgressToken(token: unknown): PendingCall<S> | undefined {
    if (typeof token !== 'string' || !token.startsWith(PROGRESS_TOKEN_PREFIX)) return undefined;
    const call = this.calls.get(Number(token.slice(PROGRESS_TOKEN_PREFIX.length)));
    return call !== undefined && call.agentProgressToken !== undefined ? call : undefined;
  }

  /**
   * The in-flight task operation (tasks/result, tasks/get…) whose params name this upstream task.
   * Only task methods count: other methods' params are the agent's own, and an agent could put
   * another's task id in them.
   */
  byTaskId(taskId: unknown): PendingCall<S> | undefined {
    if (typeof taskId !== 'string') return undefined;
    for (const call of this.calls.values()) if (call.method.startsWith('tasks/') && call.params?.taskId === taskId) return call;
    return undefined;
  }

  /** A progress notification restarts the call's timer, within its hard deadline. */
  extend(call: PendingCall<S>): void {
    if (!this.resetOnProgress || call.settled) return;
    const left = call.deadline - Date.now();
    if (left <= 0) return;
    call.progressed = true;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.expire(call), Math.min(call.timeoutMs, left));
  }

  /**
   * The abort hook of call `id`. It holds the id, not the call, and is made in a method of its
   * own so that it shares no closure scope with the timer's hook, which does hold the call. On
   * Node 20 an AbortSignal that had a listener stays reachable from dead objects until the next
   * full GC: a hook holding the call kept the call's whole graph (context, agent response,
   * buffers) alive through every young-generation GC, ~1.5 MB each at 1,500 calls/s, and
   * tripled their pauses (1.7 → 4–5 ms; measured with `pnpm bench --gateway-node-options "--trace-gc-nvp"`).
   */
  private onAbortOf(id: number, signal: AbortSignal): () => void {
    return () => {
      const call = this.calls.get(id);
      if (call === undefined) return;
      const reason = abortReason(signal);
      if (this.settle(call, undefined, new CallCancelledError(`The call was cancelled: ${reason}`))) this.options.abandoned(call, reason);
    };
  }

  private expire(call: PendingCall<S>): void {
    if (call.settled) return;
    const now = Date.now();
    const elapsed = now - call.startedAt;
    const label = this.options.label;
    const message =
      now >= call.deadline
        ? `${label} did not finish ${call.method} within the ${call.deadline - call.startedAt} ms ceiling for one call`
        : call.progressed
          ? `${label} sent no progress for ${call.method} for ${call.timeoutMs} ms (${elapsed} ms in all)`
          : `${label} did not answer ${call.method} within ${call.timeoutMs} ms`;
    const error = new BackendError(
      { code: RpcCode.UpstreamTimeout, message, data: { ...this.options.errorData, timeoutMs: call.timeoutMs } },
      'timeout',
    );
    if (this.settle(call, undefined, error)) this.options.abandoned(call, `Timed out after ${elapsed} ms`);
  }
}
