import type { IncomingHttpHeaders } from 'node:http';
import type { SnapshotServer } from '@toolgate/contracts';
import { isIP } from 'node:net';
import { type Dispatcher, Pool } from 'undici';
import type { UpstreamGuard } from '../net/upstream-guard';
import {
  failure,
  type JsonRpcError,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RpcCode,
  RpcError,
  success,
} from '../core/jsonrpc';
import { CircuitBreaker, type CircuitBreakerOptions } from './breaker';
import { CallCancelledError } from './rpc-peer';
import { type SseEvent, SseParser } from './sse-parser';
import {
  type Backend,
  BackendError,
  type BackendHealth,
  type BackendSpec,
  type CallContext,
  GATEWAY_CLIENT_CAPABILITIES,
  GATEWAY_CLIENT_INFO,
  type InitializeInfo,
} from './types';

/**
 * HTTP upstreams: the Streamable HTTP transport (MCP 2025-03-26 … 2025-11-25), and the shared
 * machinery the legacy HTTP+SSE backend (./sse.ts) builds on.
 *
 * The file has four parts:
 *   1. undici plumbing: one Pool per upstream origin, requests through the low-level
 *      `dispatch()` API (no Readable streams or fetch objects per call) and failure mapping.
 *   2. CallTable: client-side JSON-RPC correlation. Agents' ids never go upstream: every call
 *      gets an id of this backend's own; a progress token the agent asked for is replaced by
 *      that id upstream and mapped back on the way in.
 *   3. UpstreamBackend: what both HTTP transports share (initialize once, circuit breaker,
 *      timeouts that send notifications/cancelled, routing of upstream messages).
 *   4. StreamableHttpBackend.
 */

// ───────────────────────────── 1. undici plumbing ─────────────────────────────

/** Receives one HTTP exchange's response as it arrives. Exactly one of onEnd / onError ends it. */
export interface ExchangeSink {
  onStart(status: number, headers: IncomingHttpHeaders): void;
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(error: Error): void;
}

/**
 * One request on an undici dispatcher through the low-level handler API. Unlike
 * `pool.request()` it allocates no Readable body stream: chunks go straight to the sink, which
 * is what an SSE parser or a JSON collector wants. `abort()` may be called at any time, also
 * while the request still waits in the pool's queue.
 */
export class HttpExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private abortReason: Error | null = null;
  private finished = false;

  private constructor(private readonly sink: ExchangeSink) {}

  static start(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, sink: ExchangeSink): HttpExchange {
    const exchange = new HttpExchange(sink);
    try {
      dispatcher.dispatch(options, exchange);
    } catch (error) {
      exchange.onResponseError(null, error as Error);
    }
    return exchange;
  }

  get done(): boolean {
    return this.finished;
  }

  /** Stop the exchange; the sink's onError sees `reason` unless the response already ended. */
  abort(reason: Error): void {
    if (this.finished || this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (!this.finished) this.sink.onStart(status, headers);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.finished) this.sink.onData(chunk);
  }

  onResponseEnd(): void {
    if (this.finished) return;
    this.finished = true;
    this.sink.onEnd();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.sink.onError(error);
  }
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A one-shot request whose response body is small (202s, error bodies, DELETE). Rejects with a
 * BackendError: 'unavailable' for transport failures and bodies over maxBytes, 'timeout' after
 * timeoutMs.
 */
export function httpRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  label: string,
  timeoutMs: number,
  maxBytes = 1024 * 1024,
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: BackendError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve({ status, headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    };
    const exchange = HttpExchange.start(
      dispatcher,
      { ...options, headersTimeout: timeoutMs + 1000, bodyTimeout: timeoutMs + 1000 },
      {
        onStart(s, h) {
          status = s;
          headers = h;
        },
        onData(chunk) {
          size += chunk.length;
          if (size > maxBytes) {
            const error = unavailableError(label, `response body over ${maxBytes} bytes`);
            exchange.abort(error);
            finish(error);
          } else chunks.push(chunk);
        },
        onEnd: () => finish(null),
        onError: (error) => finish(transportError(label, error)),
      },
    );
    const timer = setTimeout(() => {
      const error = timeoutError(label, timeoutMs);
      exchange.abort(error);
      finish(error);
    }, timeoutMs);
  });
}

/** Socket / undici error codes → words for the agent-facing message. */
const TRANSPORT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection aborted',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_DESTROYED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'truncated response',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted TLS certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
  EUPSTREAMBLOCKED:
    'its address is private, loopback, link-local or this host’s own (an operator may allow the range with HTTP_UPSTREAM_ALLOW)',
};

export function unavailableError(label: string, what: string, data?: Record<string, unknown>): BackendError {
  return new BackendError(
    { code: RpcCode.UpstreamUnavailable, message: `Upstream ${label} is unavailable: ${what}`, data: { upstream: label, ...data } },
    'unavailable',
  );
}

function timeoutError(label: string, timeoutMs: number): BackendError {
  return new BackendError(
    {
      code: RpcCode.UpstreamTimeout,
      message: `Upstream ${label} did not answer within ${timeoutMs} ms`,
      data: { upstream: label, timeoutMs },
    },
    'timeout',
  );
}

/** A failure to reach the upstream, as the BackendError to relay. Only the error code is told. */
export function transportError(label: string, error: unknown): BackendError {
  if (error instanceof BackendError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new BackendError(
      { code: RpcCode.UpstreamTimeout, message: `Upstream ${label} stopped answering`, data: { upstream: label, cause: code } },
      'timeout',
    );
  }
  if (typeof code === 'string') return unavailableError(label, TRANSPORT_FAILURES[code] ?? code, { cause: code });
  return unavailableError(label, 'request failed');
}

/** The JSON-RPC error object in `error`, or null when it is not a well-formed one. */
function asRpcError(error: unknown): JsonRpcError | null {
  const e = error as Partial<JsonRpcError> | null;
  if (!e || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') return null;
  return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
}

/** An upstream's JSON-RPC error object, relayed as it is (kind 'upstream'). */
function upstreamError(error: unknown): BackendError {
  return new BackendError(
    asRpcError(error) ?? { code: RpcCode.InternalError, message: 'The upstream answered with a malformed error' },
    'upstream',
  );
}

/**
 * A non-2xx answer: a JSON-RPC error in the body is relayed as the upstream's answer; anything
 * else (HTML error pages, empty bodies, proxies in between) reads as the upstream being
 * unavailable, with the status.
 */
export function statusError(label: string, status: number, body: Buffer): BackendError {
  if (body.length > 0 && body.length <= 1024 * 1024) {
    for (const message of parseMessages(body.toString('utf8')) ?? []) {
      const error = asRpcError((message as { error?: unknown }).error);
      if (error) return new BackendError(error, 'upstream');
    }
  }
  return unavailableError(label, `HTTP ${status}`, { status });
}

/** Parse a body or an SSE event's data into JSON-RPC messages (a batch array is flattened). */
function parseMessages(text: string): JsonRpcMessage[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (Array.isArray(value)) return value.filter((m) => typeof m === 'object' && m !== null) as JsonRpcMessage[];
  return typeof value === 'object' && value !== null ? [value as JsonRpcMessage] : null;
}

export const isEventStream = (headers: IncomingHttpHeaders): boolean => {
  const type = headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream');
};
const isJson = (headers: IncomingHttpHeaders): boolean => {
  const type = headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().includes('json');
};

/** Never sent from configuration: hop-by-hop headers (RFC 9110 §7.6.1) and framing. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);
/** Set by the transport itself on every request. */
const TRANSPORT_OWNED = new Set(['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const BAD_HEADER_VALUE = /[\r\n\0]/;

/**
 * The configured headers to send upstream (secret values already opened by the caller), names
 * lower-cased. Hop-by-hop and transport-owned headers are dropped (also any a configured
 * `Connection` header names). A configured `Authorization` is the upstream's own credential and
 * is kept; the agent's credential never reaches this point. Throws on a malformed name or a
 * value with a line break (header injection).
 */
export function upstreamHeaders(configured: Record<string, string>): Record<string, string> {
  const listedByConnection = new Set<string>();
  for (const [name, value] of Object.entries(configured)) {
    if (name.toLowerCase() === 'connection') for (const token of value.split(',')) listedByConnection.add(token.trim().toLowerCase());
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configured)) {
    const lower = name.trim().toLowerCase();
    if (!HEADER_NAME.test(lower)) throw new Error(`invalid header name "${name}"`);
    if (typeof value !== 'string' || BAD_HEADER_VALUE.test(value)) throw new Error(`header "${name}" has an invalid value`);
    if (HOP_BY_HOP.has(lower) || TRANSPORT_OWNED.has(lower) || listedByConnection.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}

// ───────────────────────────── 2. call correlation ─────────────────────────────
//
// Same behaviour as RpcPeer (./rpc-peer.ts, the stdio side), so agents see no difference
// between transports: own ids, `tg-<id>` progress tokens, a timer that progress restarts
// within a hard ceiling, notifications/cancelled on timeout and on agent cancellation,
// CallCancelledError for the latter, `ping` answered locally.

type ProgressToken = string | number;

/**
 * Upstream progress tokens are `tg-<request id>`: unique per backend, and unlike bare numbers
 * they cannot be mistaken for tokens the upstream makes up for its own requests.
 */
const PROGRESS_TOKEN_PREFIX = 'tg-';
const DEFAULT_MAX_CALL_MS = 10 * 60_000;

/** Notifications about the upstream as a whole: never attributed to a call. */
const UNSOLICITED_METHODS = new Set([
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
]);

/** One call awaiting its upstream response. Transport fields are used by the HTTP backends. */
export class PendingCall {
  settled = false;
  timer: NodeJS.Timeout | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  resolve!: (result: Record<string, unknown>) => void;
  reject!: (error: BackendError) => void;
  /** Progress restarted the timer at least once. */
  progressed = false;
  readonly startedAt = Date.now();
  /** The serialized upstream request. */
  body = '';
  /** The HTTP exchange that currently carries this call's response. */
  exchange: HttpExchange | undefined = undefined;
  /** Session id the request was last sent with (a 404 then means the session expired). */
  sentSession: string | undefined = undefined;
  /** Already re-sent once after the upstream forgot its session. */
  retried = false;
  /** Resumption of an SSE response stream the upstream closed early. */
  lastEventId = '';
  emptyResumes = 0;

  constructor(
    /** This backend's own id for the call (the agent's id never goes upstream). */
    readonly id: number,
    readonly method: string,
    readonly ctx: CallContext,
    /** The agent's progress token, when it asked for progress (upstream sees `tg-<id>`). */
    readonly agentProgressToken: ProgressToken | undefined,
    readonly timeoutMs: number,
    /** Date.now() past which progress no longer extends the call. */
    readonly deadline: number,
  ) {}
}

interface CallTableOptions {
  /** Names the upstream in error messages. */
  label: string;
  /** Hard ceiling on one call, however often progress restarts its timer. Default 10 min (or the call's timeout if longer). */
  maxCallMs?: number;
  /** Restart a call's timer on each of its progress notifications. Default true. */
  resetTimeoutOnProgress?: boolean;
  /** The call timed out or the agent cancelled it: it is already rejected; tell the upstream. */
  abandoned(call: PendingCall, reason: string): void;
}

/**
 * In-flight calls of one upstream connection, by this backend's own JSON-RPC ids.
 * Ids are unique per backend (a counter), so identical ids from different agents never collide.
 */
class CallTable {
  private seq = 0;
  private readonly calls = new Map<number, PendingCall>();
  private readonly maxCallMs: number;
  private readonly resetOnProgress: boolean;

  constructor(private readonly options: CallTableOptions) {
    this.maxCallMs = options.maxCallMs ?? DEFAULT_MAX_CALL_MS;
    this.resetOnProgress = options.resetTimeoutOnProgress ?? true;
  }

  get size(): number {
    return this.calls.size;
  }

  get(id: JsonRpcId | null | undefined): PendingCall | undefined {
    return typeof id === 'number' ? this.calls.get(id) : undefined;
  }

  /** In start order (Map insertion order). */
  values(): IterableIterator<PendingCall> {
    return this.calls.values();
  }

  /**
   * Register a call and build its upstream request. Starts the timeout and listens to the
   * agent's abort signal (the caller checks `signal.aborted` first).
   */
  open(
    method: string,
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
    timeoutMs: number,
  ): { call: PendingCall; promise: Promise<Record<string, unknown>>; message: JsonRpcRequest } {
    const id = ++this.seq;
    let upstreamParams = params;
    let agentToken: ProgressToken | undefined;
    const meta = params?._meta as Record<string, unknown> | undefined;
    if (meta !== undefined && meta !== null && typeof meta === 'object') {
      const token = meta.progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        agentToken = token;
        upstreamParams = { ...params, _meta: { ...meta, progressToken: PROGRESS_TOKEN_PREFIX + id } };
      }
    }
    const call = new PendingCall(id, method, ctx, agentToken, timeoutMs, Date.now() + Math.max(this.maxCallMs, timeoutMs));
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

  /**
   * The abort hook of call `id`: it finds the call by id instead of holding it (a method of its
   * own, so it shares no closure scope with anything that holds the call). The agent's
   * AbortSignal keeps its listeners reachable from dead objects until a full GC, and a hook
   * holding the call would keep the call's whole graph with it (see RpcPeer.onAbortOf).
   */
  private onAbortOf(id: number, signal: AbortSignal): () => void {
    return () => {
      const call = this.calls.get(id);
      if (call === undefined) return;
      const reason = abortReason(signal);
      if (this.settle(call, undefined, new CallCancelledError(`The call was cancelled: ${reason}`))) this.options.abandoned(call, reason);
    };
  }

  /** End a call once, with a result or an error. Returns false when it had already ended. */
  settle(call: PendingCall, result: Record<string, unknown> | undefined, error: BackendError | undefined): boolean {
    if (call.settled) return false;
    call.settled = true;
    this.calls.delete(call.id);
    clearTimeout(call.timer);
    if (call.onAbort) call.ctx.signal?.removeEventListener('abort', call.onAbort);
    if (error) call.reject(error);
    else call.resolve(result ?? {});
    return true;
  }

  /** Settle the call a response answers. False when none is pending (e.g. it timed out). */
  resolveResponse(message: JsonRpcResponse): boolean {
    const call = this.get(message.id);
    if (!call) return false;
    if ('error' in message && message.error !== undefined) this.settle(call, undefined, upstreamError(message.error));
    else {
      const result = (message as { result?: unknown }).result;
      if (typeof result === 'object' && result !== null && !Array.isArray(result))
        this.settle(call, result as Record<string, unknown>, undefined);
      else
        this.settle(
          call,
          undefined,
          new BackendError(
            { code: RpcCode.InternalError, message: `${this.options.label} answered ${call.method} with a result that is not an object` },
            'upstream',
          ),
        );
    }
    return true;
  }

  /** The in-flight call that asked for progress under this upstream token. */
  byProgressToken(token: unknown): PendingCall | undefined {
    if (typeof token !== 'string' || !token.startsWith(PROGRESS_TOKEN_PREFIX)) return undefined;
    const call = this.calls.get(Number(token.slice(PROGRESS_TOKEN_PREFIX.length)));
    return call !== undefined && call.agentProgressToken !== undefined ? call : undefined;
  }

  /**
   * Deliver a notification to the call it belongs to: progress by token (mapped back to the
   * agent's token, restarting the call's timer; progress for a token we did not issue, or for
   * a finished call, is dropped), anything else to the call whose response stream carried it.
   * Returns false when it belongs to no call.
   */
  route(n: JsonRpcNotification, streamCall: PendingCall | undefined): boolean {
    if (n.method === 'notifications/progress') {
      const call = this.byProgressToken(n.params?.progressToken);
      if (call) {
        this.extend(call);
        deliver(call, { jsonrpc: '2.0', method: n.method, params: { ...n.params, progressToken: call.agentProgressToken } });
      }
      return true;
    }
    if (streamCall && !streamCall.settled && !UNSOLICITED_METHODS.has(n.method)) {
      deliver(streamCall, n);
      return true;
    }
    return false;
  }

  /** Every pending call, for failing them all (connection lost, close). */
  drain(): PendingCall[] {
    return [...this.calls.values()];
  }

  private expire(call: PendingCall): void {
    if (call.settled) return;
    const now = Date.now();
    const elapsed = now - call.startedAt;
    const label = this.options.label;
    const message =
      now >= call.deadline
        ? `Upstream ${label} did not finish ${call.method} within the ${call.deadline - call.startedAt} ms ceiling for one call`
        : call.progressed
          ? `Upstream ${label} sent no progress for ${call.method} for ${call.timeoutMs} ms (${elapsed} ms in all)`
          : `Upstream ${label} did not answer ${call.method} within ${call.timeoutMs} ms`;
    const error = new BackendError(
      { code: RpcCode.UpstreamTimeout, message, data: { upstream: label, timeoutMs: call.timeoutMs } },
      'timeout',
    );
    if (this.settle(call, undefined, error)) this.options.abandoned(call, `Timed out after ${elapsed} ms`);
  }

  /** A progress notification restarts the call's timer, within its hard deadline. */
  private extend(call: PendingCall): void {
    if (!this.resetOnProgress) return;
    const left = call.deadline - Date.now();
    if (left <= 0) return;
    call.progressed = true;
    clearTimeout(call.timer);
    call.timer = setTimeout(() => this.expire(call), Math.min(call.timeoutMs, left));
  }
}

function deliver(call: PendingCall, n: JsonRpcNotification): void {
  try {
    call.ctx.onNotification?.(n);
  } catch {
    // A failing relay hook must not break the upstream stream that other calls share.
  }
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === 'string' && reason.length > 0) return reason;
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.message) return reason.message;
  return 'cancelled by the agent';
}

/** The agent's answer (or its error) to an upstream request, as the response to send back. */
async function answerServerRequest(
  request: JsonRpcRequest,
  answer: (r: JsonRpcRequest) => Promise<Record<string, unknown>>,
): Promise<JsonRpcResponse> {
  try {
    const result = await answer(request);
    return success(request.id, typeof result === 'object' && result !== null ? result : {});
  } catch (error) {
    if (error instanceof RpcError) return failure(request.id, error.toJSON());
    if (error instanceof BackendError) return failure(request.id, error.error);
    return failure(request.id, { code: RpcCode.InternalError, message: `The client failed to answer ${request.method}` });
  }
}

// ───────────────────────────── 3. shared backend base ─────────────────────────────

/** The version the gateway asks upstreams for; they may answer with an older one. */
const UPSTREAM_PROTOCOL_VERSION = '2025-11-25';
const SUPPORTED_VERSIONS = new Set(['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);

export interface UpstreamOptions {
  /** Circuit breaker settings (see breaker.ts). */
  breaker?: CircuitBreakerOptions;
  /** Max connections to the upstream origin. Default 32. */
  connections?: number;
  /** Idle keep-alive time of a pooled connection, ms. Default 30 000 (an upstream's own hint wins when shorter). */
  keepAliveTimeoutMs?: number;
  /** TCP + TLS connect timeout, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Hard ceiling on one call, however often progress restarts its timer. Default 10 min (or the call's timeout if longer). */
  maxCallMs?: number;
  /** Restart a call's timer on each of its progress notifications. Default true. */
  resetTimeoutOnProgress?: boolean;
  /** Largest response (JSON body, or one SSE event) accepted from the upstream. Default 32 MiB. */
  maxMessageBytes?: number;
  /** First delay before re-opening a lost server stream, ms (doubles up to reconnectMaxMs). Default 500. */
  reconnectMinMs?: number;
  /** Default 30 000. */
  reconnectMaxMs?: number;
  /** A server stream silent for this long is reconnected (dead-connection detection), ms. Default 300 000. */
  streamIdleMs?: number;
  /** Which addresses the upstream may be reached at (the gateway's one guard); none = any. */
  guard?: UpstreamGuard;
  /** Something the upstream sent that the gateway refused or could not use (for the operator log). */
  onProtocolError?: (message: string) => void;
}

interface ResolvedOptions {
  maxMessageBytes: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  streamIdleMs: number;
}

/**
 * What the Streamable HTTP and legacy SSE backends share: a pool to one origin, configured
 * headers, the call table, the circuit breaker, initialize-once, per-call timeouts and agent
 * cancellation (both send notifications/cancelled upstream), and routing of what the upstream
 * sends. Subclasses provide the transport: how a call is sent, how a message is posted, how
 * the connection is initialized and shut down.
 */
export abstract class UpstreamBackend implements Backend {
  readonly key: string;
  readonly server: SnapshotServer;
  readonly breaker: CircuitBreaker;
  /** The upstream's origin: named in errors and logs (never the path or query, which may hold tokens). */
  readonly origin: string;
  protected readonly url: URL | null;
  protected readonly pool: Pool | null;
  protected readonly baseHeaders: Record<string, string>;
  protected readonly configError: BackendError | undefined;
  protected readonly calls: CallTable;
  protected readonly opts: ResolvedOptions;
  protected status: 'starting' | 'up' | 'down' = 'starting';
  protected closed = false;
  private initPromise: Promise<InitializeInfo> | undefined;
  private inFlightCount = 0;
  private lastUsed = Date.now();
  private readonly listeners = new Set<(n: JsonRpcNotification) => void>();
  /** Upstream requests an agent is answering, by the upstream's id (its cancellation drops the answer). */
  private readonly serverRequests = new Map<JsonRpcId, { call: PendingCall | null; cancelled: boolean }>();
  private outOfCall: ((r: JsonRpcRequest) => Promise<Record<string, unknown>>) | null = null;
  private readonly onProtocolError: (message: string) => void;

  constructor(spec: BackendSpec, options: UpstreamOptions) {
    this.onProtocolError = options.onProtocolError ?? (() => undefined);
    this.key = spec.key;
    this.server = spec.server;
    this.opts = {
      maxMessageBytes: options.maxMessageBytes ?? 32 * 1024 * 1024,
      reconnectMinMs: options.reconnectMinMs ?? 500,
      reconnectMaxMs: options.reconnectMaxMs ?? 30_000,
      streamIdleMs: options.streamIdleMs ?? 300_000,
    };
    let url: URL | null = null;
    let configError: string | undefined;
    let headers: Record<string, string> = {};
    try {
      url = new URL(spec.server.url ?? '');
      if (url.protocol !== 'http:' && url.protocol !== 'https:') configError = `unsupported URL scheme ${url.protocol}`;
    } catch {
      configError = 'the server has no valid URL';
    }
    try {
      headers = upstreamHeaders(spec.headers);
    } catch (error) {
      configError ??= (error as Error).message;
    }
    // An address literal is never looked up: check it here; names are checked on each connect.
    const literal = url && !configError ? url.hostname.replace(/^\[|\]$/g, '') : '';
    if (options.guard && isIP(literal)) {
      const refused = options.guard.refusal(literal);
      if (refused) configError = `refused: ${refused}`;
    }
    this.origin = url && !configError ? url.origin : spec.server.slug;
    this.baseHeaders = headers;
    this.breaker = new CircuitBreaker(this.origin, options.breaker);
    this.configError = configError === undefined ? undefined : unavailableError(this.origin, `misconfigured: ${configError}`);
    this.url = configError ? null : url;
    this.pool =
      this.url === null
        ? null
        : new Pool(this.url.origin, {
            connections: options.connections ?? 32,
            pipelining: 1,
            keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
            connectTimeout: options.connectTimeoutMs ?? 10_000,
            ...(options.guard ? { connect: { lookup: options.guard.lookup } } : {}),
            // Backstops only: every exchange sets its own from the call's timeout.
            headersTimeout: 300_000,
            bodyTimeout: 300_000,
          });
    this.calls = new CallTable({
      label: this.origin,
      maxCallMs: options.maxCallMs,
      resetTimeoutOnProgress: options.resetTimeoutOnProgress,
      abandoned: (call, reason) => this.abandon(call, reason),
    });
  }

  get health(): BackendHealth {
    return this.breaker.state === 'open' ? 'circuit-open' : this.status;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get lastUsedAt(): number {
    return this.lastUsed;
  }

  ready(): Promise<InitializeInfo> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.configError) return Promise.reject(this.configError);
    if (this.initPromise) return this.initPromise;
    if (this.breaker.state === 'open') return Promise.reject(this.breaker.openError());
    const attempt: Promise<InitializeInfo> = this.initialize().then(
      (info) => {
        this.status = 'up';
        return info;
      },
      (error: unknown) => {
        if (this.initPromise === attempt) this.initPromise = undefined;
        if (!this.closed) this.status = 'down';
        throw this.closed ? this.closedError() : transportError(this.origin, error);
      },
    );
    this.initPromise = attempt;
    return attempt;
  }

  async request(method: string, params: Record<string, unknown> | undefined, ctx: CallContext): Promise<Record<string, unknown>> {
    if (this.closed) throw this.closedError();
    if (this.configError) throw this.configError;
    if (ctx.signal?.aborted) throw new CallCancelledError('The call was cancelled before it was sent');
    const trial = this.breaker.acquire();
    this.inFlightCount++;
    this.lastUsed = Date.now();
    try {
      await (this.initPromise ?? this.ready());
      const result = await this.call(method, params, ctx, ctx.timeoutMs ?? this.server.timeoutMs);
      this.breaker.success(trial);
      this.status = 'up';
      return result;
    } catch (error) {
      const e = transportError(this.origin, error);
      if (ctx.signal?.aborted || this.closed) this.breaker.neutral(trial);
      else if (e.kind === 'upstream') this.breaker.success(trial);
      else {
        this.breaker.failure(trial);
        this.status = 'down';
      }
      throw e;
    } finally {
      this.inFlightCount--;
      this.lastUsed = Date.now();
    }
  }

  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.breaker.state === 'open') throw this.breaker.openError();
    await this.ready();
    await this.sendMessage(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  onUnsolicited(listener: (n: JsonRpcNotification) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onOutOfCallRequest(handler: (r: JsonRpcRequest) => Promise<Record<string, unknown>>): void {
    this.outOfCall = handler;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.status = 'down';
    const error = this.closedError();
    for (const call of this.calls.drain()) {
      this.calls.settle(call, undefined, error);
      call.exchange?.abort(error);
    }
    try {
      await this.shutdown();
    } finally {
      await this.pool?.destroy().catch(() => undefined);
    }
  }

  /** Connect and run the initialize handshake; resolves with the upstream's answer. */
  protected abstract initialize(): Promise<InitializeInfo>;
  /** Send a registered call (call.body); the response settles it through the call table. */
  protected abstract transmit(call: PendingCall): void;
  /** Post a notification or a response upstream; resolves once the upstream accepted it. */
  protected abstract sendMessage(message: JsonRpcMessage): Promise<void>;
  /** Release the transport (streams, upstream session) on close(). */
  protected abstract shutdown(): Promise<void>;

  /** Make a call upstream with the backend's own id; resolves with its result. */
  protected call(
    method: string,
    params: Record<string, unknown> | undefined,
    ctx: CallContext,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const { call, promise, message } = this.calls.open(method, params, ctx, timeoutMs);
    call.body = JSON.stringify(message);
    this.transmit(call);
    return promise;
  }

  /** End a call with an error (no-op when it already ended) and stop its exchange. */
  protected fail(call: PendingCall, error: BackendError): void {
    if (this.calls.settle(call, undefined, error)) call.exchange?.abort(error);
  }

  /** Forget the upstream session: the next ready() initializes again. */
  protected resetSession(): void {
    this.initPromise = undefined;
    if (!this.closed) this.status = 'starting';
  }

  /** The current initialize attempt, if any (pending or done). */
  protected get initializing(): Promise<InitializeInfo> | undefined {
    return this.initPromise;
  }

  /** The initialize request's params. */
  protected initializeParams(): Record<string, unknown> {
    return { protocolVersion: UPSTREAM_PROTOCOL_VERSION, capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO };
  }

  /** Check an initialize result's shape and protocol version. */
  protected parseInitializeResult(result: Record<string, unknown>): InitializeInfo {
    const { protocolVersion, capabilities, serverInfo, instructions } = result;
    if (
      typeof protocolVersion !== 'string' ||
      typeof capabilities !== 'object' ||
      capabilities === null ||
      typeof serverInfo !== 'object' ||
      serverInfo === null
    ) {
      throw unavailableError(this.origin, 'malformed initialize result');
    }
    if (!SUPPORTED_VERSIONS.has(protocolVersion)) throw unavailableError(this.origin, `unsupported protocol version ${protocolVersion}`);
    const info: InitializeInfo = {
      protocolVersion,
      capabilities: capabilities as Record<string, unknown>,
      serverInfo: serverInfo as InitializeInfo['serverInfo'],
    };
    if (typeof instructions === 'string') info.instructions = instructions;
    return info;
  }

  /**
   * Route one message from the upstream. `streamCall` is the call whose response stream carried
   * it (undefined for a stream that belongs to no call): requests and notifications on it
   * belong to that call.
   */
  protected handleMessage(message: JsonRpcMessage, streamCall: PendingCall | undefined): void {
    const m = message as Partial<JsonRpcRequest> & { result?: unknown; error?: unknown };
    if (typeof m.method === 'string') {
      if (m.id !== undefined && m.id !== null) this.serverRequest(message as JsonRpcRequest, streamCall);
      else if (m.method === 'notifications/cancelled' && this.upstreamCancelled(message as JsonRpcNotification)) return;
      else if (!this.calls.route(message as JsonRpcNotification, streamCall)) this.emitUnsolicited(message as JsonRpcNotification);
    } else if ('result' in m || 'error' in m) this.calls.resolveResponse(message as JsonRpcResponse);
  }

  /** Parse one SSE event's data and route its messages (empty "priming" events are skipped). */
  protected handleEvent(event: SseEvent, streamCall: PendingCall | undefined): void {
    if (event.event !== 'message' || event.data.length === 0) return;
    const messages = parseMessages(event.data);
    if (messages) for (const message of messages) this.handleMessage(message, streamCall);
  }

  /** Which call a server-to-client request belongs to. Over Streamable HTTP: its stream's call. */
  protected attributeServerRequest(_request: JsonRpcRequest, streamCall: PendingCall | undefined): PendingCall | undefined {
    return streamCall;
  }

  protected emitUnsolicited(n: JsonRpcNotification): void {
    for (const listener of this.listeners) {
      try {
        listener(n);
      } catch {
        // One failing listener must not starve the others or break the stream.
      }
    }
  }

  protected closedError(): BackendError {
    return unavailableError(this.origin, 'backend closed');
  }

  /**
   * A server-to-client request: `ping` is answered here; anything else goes to the agent of the
   * call it belongs to, and the answer is posted back upstream with the upstream's id.
   */
  private serverRequest(request: JsonRpcRequest, streamCall: PendingCall | undefined): void {
    if (request.method === 'ping') {
      this.reply(success(request.id, {}));
      return;
    }
    const call = this.attributeServerRequest(request, streamCall);
    const answering = call && !call.settled && call.ctx.onServerRequest;
    // Outside any call only the owner of a per-session backend can answer; else refuse, never guess.
    const answer = answering
      ? answerServerRequest(request, call.ctx.onServerRequest!)
      : !call && this.outOfCall
        ? answerServerRequest(request, this.outOfCall)
        : null;
    if (!answer) {
      this.onProtocolError(`${this.origin}: refused ${request.method} (id ${String(request.id)}): no agent session is waiting for it`);
      this.reply(failure(request.id, { code: RpcCode.InternalError, message: 'no agent session is waiting for this request' }));
      return;
    }
    const entry = { call: answering ? call : null, cancelled: false };
    this.serverRequests.set(request.id, entry);
    void answer.then((reply) => {
      if (entry.cancelled || this.serverRequests.get(request.id) !== entry) return;
      this.serverRequests.delete(request.id);
      this.reply(reply);
    });
  }

  /** The upstream withdrew one of its own requests: tell that call's agent, drop its answer. */
  private upstreamCancelled(n: JsonRpcNotification): boolean {
    const id = n.params?.requestId;
    const entry = typeof id === 'string' || typeof id === 'number' ? this.serverRequests.get(id) : undefined;
    if (!entry) return false;
    entry.cancelled = true;
    this.serverRequests.delete(id as JsonRpcId);
    // An out-of-call request's agent is asked over its session stream: the answer is just dropped.
    if (entry.call) deliver(entry.call, n);
    return true;
  }

  private reply(response: JsonRpcResponse): void {
    if (this.closed) return;
    // If posting the answer fails there is nobody to tell: the upstream's own request times out
    // on its side, and the call it served fails or times out here.
    this.sendMessage(response).catch(() => undefined);
  }

  /** A call ended by timeout or cancellation (already rejected): stop its exchange, tell the upstream. */
  private abandon(call: PendingCall, reason: string): void {
    call.exchange?.abort(unavailableError(this.origin, 'call abandoned'));
    // MCP: the initialize request must never be cancelled.
    if (call.method === 'initialize' || this.closed) return;
    this.sendMessage({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.id, reason } }).catch(() => undefined);
  }
}

// ───────────────────────────── 4. Streamable HTTP ─────────────────────────────

const POST_ACCEPT = 'application/json, text/event-stream';
/** How a call's HTTP response is being read. */
const MODE_OTHER = 0; // a status to report (202 to a request, 4xx, 5xx): body collected
const MODE_JSON = 1;
const MODE_STREAM = 2;
const MODE_EXPIRED = 3; // 404 for our session: body ignored, re-initialize and re-send
/** Consecutive resumptions of a call's stream that bring no new event before the call fails. */
const MAX_EMPTY_RESUMES = 3;
/** How long a call's SSE stream may stay open after its response arrived, ms. */
const STREAM_LINGER_MS = 1000;

export interface StreamableHttpOptions extends UpstreamOptions {
  /** Open the GET stream for unsolicited notifications when the upstream offers one. Default true. */
  eventStream?: boolean;
}

/**
 * An upstream MCP server over Streamable HTTP. One instance per (org, server, config); shared by
 * all agent sessions of the org.
 *
 * - initialize once (protocolVersion 2025-11-25), keep `Mcp-Session-Id` and the negotiated
 *   version, send `notifications/initialized`, then `MCP-Protocol-Version` on every request.
 * - each call is a POST answered with JSON or an SSE stream; messages on a call's stream belong
 *   to that call: progress and logging go to ctx.onNotification, server-to-client requests to
 *   ctx.onServerRequest, whose answer is POSTed back.
 * - a 404 to a request that carried the session id means the upstream forgot the session:
 *   initialize again once and re-send the call, invisibly to the agent.
 * - a call's stream closed before its response (2025-11-25 servers may do that) is resumed with
 *   GET + Last-Event-ID.
 * - the GET stream (when offered; 405 = not) carries unsolicited notifications to
 *   onUnsolicited listeners; it reconnects with backoff and Last-Event-ID.
 * - close() DELETEs the upstream session.
 */
export class StreamableHttpBackend extends UpstreamBackend {
  private readonly eventStreamWanted: boolean;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  /** Headers of every POST in the current session (rebuilt when the session changes). */
  private postHeaders: Record<string, string>;
  /** Session id the initialize response carried (one initialize runs at a time). */
  private offeredSessionId: string | undefined;
  private eventStream: HttpExchange | undefined;
  private eventStreamSupported = true;
  private eventStreamLastId = '';
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;

  constructor(spec: BackendSpec, options: StreamableHttpOptions = {}) {
    super(spec, options);
    this.eventStreamWanted = options.eventStream ?? true;
    this.postHeaders = this.sessionHeaders(POST_ACCEPT, true);
  }

  /** The upstream's session id (undefined before initialize or for a stateless upstream). */
  get upstreamSessionId(): string | undefined {
    return this.sessionId;
  }

  protected async initialize(): Promise<InitializeInfo> {
    this.offeredSessionId = undefined;
    const result = await this.call('initialize', this.initializeParams(), { sessionId: 'toolgate:initialize' }, this.server.timeoutMs);
    const info = this.parseInitializeResult(result);
    if (this.closed) throw this.closedError();
    this.sessionId = this.offeredSessionId;
    this.protocolVersion = info.protocolVersion;
    this.postHeaders = this.sessionHeaders(POST_ACCEPT, true);
    // No re-initialize on 404 here: that would wait for this very initialize.
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, false);
    this.reconnectAttempts = 0;
    this.openEventStream();
    return info;
  }

  protected transmit(call: PendingCall): void {
    const initialize = call.method === 'initialize';
    call.sentSession = initialize ? undefined : this.sessionId;
    const headers = initialize ? this.baseRequestHeaders() : this.postHeaders;
    this.startCallExchange(
      call,
      {
        path: this.requestPath(),
        method: 'POST',
        headers,
        body: call.body,
        headersTimeout: call.timeoutMs + 1000,
        bodyTimeout: call.timeoutMs + 1000,
      },
      initialize,
    );
  }

  protected async sendMessage(message: JsonRpcMessage): Promise<void> {
    await this.post(message, true);
  }

  protected async shutdown(): Promise<void> {
    this.stopEventStream();
    const session = this.sessionId;
    this.sessionId = undefined;
    if (session === undefined || !this.pool) return;
    // Tell the upstream the session is over (405 = it does not let clients end sessions).
    await httpRequest(
      this.pool,
      { path: this.requestPath(), method: 'DELETE', headers: this.sessionHeaders('application/json, text/event-stream', false, session) },
      this.origin,
      2000,
    ).catch(() => undefined);
  }

  private requestPath(): string {
    return this.url!.pathname + this.url!.search;
  }

  private baseRequestHeaders(): Record<string, string> {
    return { ...this.baseHeaders, accept: POST_ACCEPT, 'content-type': 'application/json' };
  }

  private sessionHeaders(accept: string, withContentType: boolean, session = this.sessionId): Record<string, string> {
    const headers: Record<string, string> = { ...this.baseHeaders, accept };
    if (withContentType) headers['content-type'] = 'application/json';
    if (session !== undefined) headers['mcp-session-id'] = session;
    if (this.protocolVersion !== undefined) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  /** POST a notification or response; expects 202 (any 2xx is taken). One re-init on 404. */
  private async post(message: JsonRpcMessage, mayReinitialize: boolean): Promise<void> {
    if (!this.pool) throw this.configError!;
    const session = this.sessionId;
    const res = await httpRequest(
      this.pool,
      { path: this.requestPath(), method: 'POST', headers: this.postHeaders, body: JSON.stringify(message) },
      this.origin,
      this.server.timeoutMs,
    );
    if (res.status >= 200 && res.status < 300) return;
    // Answers to the upstream's requests and cancellations belong to the session that died.
    const sessionBound = !('method' in message) || message.method === 'notifications/cancelled';
    if (res.status === 404 && session !== undefined && mayReinitialize && !sessionBound) {
      await this.sessionExpired(session);
      return this.post(message, false);
    }
    throw statusError(this.origin, res.status, res.body);
  }

  /** The upstream forgot session `stale`: initialize again (once, shared by all who noticed). */
  private sessionExpired(stale: string): Promise<InitializeInfo> {
    if (this.sessionId === stale) {
      this.sessionId = undefined;
      this.protocolVersion = undefined;
      this.postHeaders = this.sessionHeaders(POST_ACCEPT, true);
      this.stopEventStream();
      this.eventStreamLastId = '';
      this.resetSession();
    }
    return this.initializing ?? this.ready();
  }

  /** Send a call's POST (or the GET that resumes its stream) and read the response. */
  private startCallExchange(call: PendingCall, options: Dispatcher.DispatchOptions, initialize: boolean): void {
    let exchange: HttpExchange | undefined;
    /** Set once the response arrived on the stream while the stream stays open. */
    let linger: NodeJS.Timeout | undefined;
    let mode = MODE_OTHER;
    let status = 0;
    let chunks: Buffer[] = [];
    let size = 0;
    let parser: SseParser | undefined;
    const max = this.opts.maxMessageBytes;
    const tooLarge = (): void => this.fail(call, unavailableError(this.origin, `response over ${max} bytes`));
    const sink: ExchangeSink = {
      onStart: (s, headers) => {
        status = s;
        if (s >= 200 && s < 300) {
          if (initialize) {
            const sid = headers['mcp-session-id'];
            this.offeredSessionId = typeof sid === 'string' && sid.length > 0 ? sid : undefined;
          }
          if (s === 200 && isEventStream(headers)) {
            mode = MODE_STREAM;
            parser = new SseParser((event) => this.handleEvent(event, call));
            parser.lastEventId = call.lastEventId;
          } else if (s === 200 && isJson(headers)) mode = MODE_JSON;
        } else if (s === 404 && call.sentSession !== undefined && !call.retried && !call.lastEventId) mode = MODE_EXPIRED;
      },
      onData: (chunk) => {
        if (mode === MODE_STREAM) {
          parser!.push(chunk);
          if (parser!.buffered > max) tooLarge();
          else if (call.settled && linger === undefined) {
            // The response is in; servers close the stream right after it. One that keeps it
            // open would hold a pooled connection until bodyTimeout: cut it after a grace time.
            linger = setTimeout(
              () => exchange?.abort(unavailableError(this.origin, 'stream left open after the response')),
              STREAM_LINGER_MS,
            );
            linger.unref();
          }
          return;
        }
        if (mode === MODE_EXPIRED) return;
        size += chunk.length;
        if (size > max) tooLarge();
        else chunks.push(chunk);
      },
      onEnd: () => {
        clearTimeout(linger);
        if (mode === MODE_STREAM) {
          const before = call.lastEventId;
          call.lastEventId = parser!.lastEventId;
          parser!.end();
          if (!call.settled) this.streamEndedEarly(call, before !== call.lastEventId, parser!.retryMs);
          return;
        }
        if (call.settled) return;
        if (mode === MODE_EXPIRED) {
          this.resendAfterExpiry(call);
          return;
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        chunks = [];
        if (mode === MODE_JSON) {
          for (const message of parseMessages(body.toString('utf8')) ?? []) this.handleMessage(message, call);
          if (!call.settled) this.fail(call, unavailableError(this.origin, 'the response did not answer the request'));
          return;
        }
        if (status >= 200 && status < 300)
          this.fail(call, unavailableError(this.origin, `HTTP ${status} without a JSON or event-stream response`, { status }));
        else this.fail(call, statusError(this.origin, status, body));
      },
      onError: (error) => {
        clearTimeout(linger);
        if (!call.settled) this.fail(call, transportError(this.origin, error));
      },
    };
    exchange = HttpExchange.start(this.pool!, options, sink);
    call.exchange = exchange;
  }

  private resendAfterExpiry(call: PendingCall): void {
    call.retried = true;
    this.sessionExpired(call.sentSession!).then(
      () => {
        if (!call.settled) this.transmit(call);
      },
      (error: unknown) => this.fail(call, transportError(this.origin, error)),
    );
  }

  /**
   * A call's SSE stream ended before its response. With an event id to resume from, GET the
   * stream again with Last-Event-ID (after the server's `retry:` delay); otherwise the call fails.
   */
  private streamEndedEarly(call: PendingCall, progressed: boolean, retryMs: number | undefined): void {
    call.emptyResumes = progressed ? 0 : call.emptyResumes + 1;
    if (!call.lastEventId || call.emptyResumes >= MAX_EMPTY_RESUMES) {
      this.fail(call, unavailableError(this.origin, 'the response stream closed before the response'));
      return;
    }
    const resume = (): void => {
      if (call.settled || this.closed) return;
      const headers = this.sessionHeaders('text/event-stream', false);
      headers['last-event-id'] = call.lastEventId;
      this.startCallExchange(
        call,
        { path: this.requestPath(), method: 'GET', headers, headersTimeout: call.timeoutMs + 1000, bodyTimeout: call.timeoutMs + 1000 },
        false,
      );
    };
    const delay = Math.min(retryMs ?? 0, call.timeoutMs);
    if (delay <= 0) resume();
    else setTimeout(resume, delay).unref();
  }

  /** Open the GET stream for unsolicited messages (once per session; 405 → never again). */
  private openEventStream(): void {
    if (!this.eventStreamWanted || !this.eventStreamSupported || this.closed || this.eventStream || !this.pool) return;
    const session = this.sessionId;
    const headers = this.sessionHeaders('text/event-stream', false);
    if (this.eventStreamLastId) headers['last-event-id'] = this.eventStreamLastId;
    let open = false;
    let expired = false;
    const parser = new SseParser((event) => {
      this.reconnectAttempts = 0;
      this.eventStreamLastId = parser.lastEventId;
      this.handleEvent(event, undefined);
    });
    parser.lastEventId = this.eventStreamLastId;
    const exchange: HttpExchange = HttpExchange.start(
      this.pool,
      {
        path: this.requestPath(),
        method: 'GET',
        headers,
        headersTimeout: this.server.timeoutMs + 1000,
        bodyTimeout: this.opts.streamIdleMs,
      },
      {
        onStart: (status, h) => {
          if (status === 200 && isEventStream(h)) open = true;
          else if (status === 404 && session !== undefined) expired = true;
          // 405 is the spec's "no stream here"; other client errors mean the same in practice.
          else if (status >= 400 && status < 500 && status !== 408 && status !== 429) this.eventStreamSupported = false;
        },
        onData: (chunk) => {
          if (!open) return;
          parser.push(chunk);
          if (parser.buffered > this.opts.maxMessageBytes) exchange.abort(unavailableError(this.origin, 'stream event too large'));
        },
        onEnd: () => this.eventStreamEnded(exchange, session, expired, parser.retryMs),
        onError: () => this.eventStreamEnded(exchange, session, false, parser.retryMs),
      },
    );
    this.eventStream = exchange;
  }

  private eventStreamEnded(exchange: HttpExchange, session: string | undefined, expired: boolean, retryMs: number | undefined): void {
    if (this.eventStream !== exchange) return; // stopped on purpose
    this.eventStream = undefined;
    if (this.closed || !this.eventStreamSupported) return;
    if (expired) {
      // Re-initializing opens a new stream; if the upstream is down the next call retries.
      this.sessionExpired(session!).catch(() => undefined);
      return;
    }
    if (this.sessionId !== session) return;
    const backoff = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** this.reconnectAttempts);
    const delay = retryMs ?? backoff * (0.5 + Math.random() / 2);
    this.reconnectAttempts = Math.min(this.reconnectAttempts + 1, 30);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.sessionId === session) this.openEventStream();
    }, delay);
    this.reconnectTimer.unref();
  }

  private stopEventStream(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const exchange = this.eventStream;
    this.eventStream = undefined;
    exchange?.abort(unavailableError(this.origin, 'stream stopped'));
  }
}
