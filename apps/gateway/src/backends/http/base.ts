import { isIP } from 'node:net';
import type { SnapshotServer } from '@toolgate/contracts';
import { Pool } from 'undici';
import type { JsonRpcMessage, JsonRpcNotification } from '../../core/jsonrpc';
import type { UpstreamGuard } from '../../net/upstream-guard';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from '../breaker';
import type { Backend, BackendError, BackendHealth, BackendSpec, CallContext, InitializeInfo } from '../types';
import type { PendingCall } from '../upstream/call-table';
import { type Attribution, type ServerRequestHandler, UpstreamPeer } from '../upstream/peer';
import { initializeParams, parseInitializeResult } from '../upstream/protocol';
import { CallCancelledError } from '../upstream/errors';
import { transportError, unavailableError } from './errors';
import type { HttpExchange } from './exchange';
import { upstreamHeaders } from './headers';
import { parseMessages } from './messages';
import type { SseEvent } from './sse-parser';

/** What an HTTP transport keeps per call. */
export interface HttpCallState {
  /** The serialized upstream request. */
  body: string;
  /** The HTTP exchange that currently carries this call's response. */
  exchange: HttpExchange | undefined;
  /** Session id the request was last sent with (a 404 then means the session expired). */
  sentSession: string | undefined;
  /** Already re-sent once after the upstream forgot its session. */
  retried: boolean;
  /** Resumption of an SSE response stream the upstream closed early. */
  lastEventId: string;
  emptyResumes: number;
}

export type HttpCall = PendingCall<HttpCallState>;

const newCallState = (): HttpCallState => ({
  body: '',
  exchange: undefined,
  sentSession: undefined,
  retried: false,
  lastEventId: '',
  emptyResumes: 0,
});

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
 * headers, the circuit breaker, initialize-once, and the UpstreamPeer that correlates every
 * message (the same engine stdio uses). Subclasses provide the transport: how a call is sent,
 * how a message is posted, how the connection is initialized and shut down.
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
  protected readonly peer: UpstreamPeer<HttpCallState>;
  protected readonly opts: ResolvedOptions;
  protected status: 'starting' | 'up' | 'down' = 'starting';
  protected closed = false;
  private initPromise: Promise<InitializeInfo> | undefined;
  private inFlightCount = 0;
  private lastUsed = Date.now();

  constructor(spec: BackendSpec, options: UpstreamOptions, attribution: Attribution) {
    this.key = spec.key;
    this.server = spec.server;
    this.opts = {
      maxMessageBytes: options.maxMessageBytes ?? 32 * 1024 * 1024,
      reconnectMinMs: options.reconnectMinMs ?? 500,
      reconnectMaxMs: options.reconnectMaxMs ?? 30_000,
      streamIdleMs: options.streamIdleMs ?? 300_000,
    };
    const target = resolveTarget(spec, options.guard);
    this.origin = target.origin;
    this.baseHeaders = target.headers;
    this.url = target.url;
    this.breaker = new CircuitBreaker(this.origin, options.breaker);
    this.configError = target.problem === undefined ? undefined : unavailableError(this.origin, `misconfigured: ${target.problem}`);
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
    this.peer = new UpstreamPeer<HttpCallState>({
      label: `Upstream ${this.origin}`,
      attribution,
      errorData: { upstream: this.origin },
      defaultTimeoutMs: spec.server.timeoutMs,
      maxCallMs: options.maxCallMs,
      resetTimeoutOnProgress: options.resetTimeoutOnProgress,
      newState: newCallState,
      send: (message) => this.sendMessage(message),
      transmit: (call, message) => {
        call.state.body = JSON.stringify(message);
        this.transmit(call);
      },
      onAbandon: (call) => call.state.exchange?.abort(unavailableError(this.origin, 'call abandoned')),
      onProtocolError: options.onProtocolError,
    });
  }

  get health(): BackendHealth {
    return this.breaker.state === 'open' ? 'circuit-open' : this.status;
  }

  get circuit(): CircuitState {
    return this.breaker.state;
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
      const result = await this.peer.request(method, params, ctx);
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
    return this.peer.onUnsolicited(listener);
  }

  onOutOfCallRequest(handler: ServerRequestHandler): void {
    this.peer.onOutOfCallRequest(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.status = 'down';
    const error = this.closedError();
    this.failAll(error);
    this.peer.close(error);
    try {
      await this.shutdown();
    } finally {
      await this.pool?.destroy().catch(() => undefined);
    }
  }

  /** Connect and run the initialize handshake; resolves with the upstream's answer. */
  protected abstract initialize(): Promise<InitializeInfo>;
  /** Send a registered call (call.state.body); the response settles it through the peer. */
  protected abstract transmit(call: HttpCall): void;
  /** Post a notification or a response upstream; resolves once the upstream accepted it. */
  protected abstract sendMessage(message: JsonRpcMessage): Promise<void>;
  /** Release the transport (streams, upstream session) on close(). */
  protected abstract shutdown(): Promise<void>;

  /** The gateway's initialize, as a call of its own (not an agent's: no breaker, no in-flight count). */
  protected async initializeCall(): Promise<InitializeInfo> {
    const result = await this.peer.request('initialize', initializeParams(), { sessionId: 'toolgate:initialize' });
    return parseInitializeResult(result, `Upstream ${this.origin}`, this.server.slug);
  }

  /** End a call with an error (no-op when it already ended) and stop its exchange. */
  protected fail(call: HttpCall, error: BackendError): void {
    if (this.peer.failCall(call, error)) call.state.exchange?.abort(error);
  }

  /** Fail every call in flight and stop their exchanges. */
  protected failAll(error: BackendError): void {
    for (const call of this.peer.pending()) this.fail(call, error);
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

  /** Parse one SSE event's data and route its messages (empty "priming" events are skipped). */
  protected handleEvent(event: SseEvent, streamCall: HttpCall | undefined): void {
    if (event.event !== 'message' || event.data.length === 0) return;
    const messages = parseMessages(event.data);
    if (messages) for (const message of messages) this.peer.handleMessage(message, streamCall);
  }

  protected closedError(): BackendError {
    return unavailableError(this.origin, 'backend closed');
  }
}

/** The configured URL and headers, checked once: a problem makes every call fail with it. */
function resolveTarget(
  spec: BackendSpec,
  guard: UpstreamGuard | undefined,
): { url: URL | null; origin: string; headers: Record<string, string>; problem: string | undefined } {
  let url: URL | null = null;
  let problem: string | undefined;
  let headers: Record<string, string> = {};
  try {
    url = new URL(spec.server.url ?? '');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problem = `unsupported URL scheme ${url.protocol}`;
  } catch {
    problem = 'the server has no valid URL';
  }
  try {
    headers = upstreamHeaders(spec.headers);
  } catch (error) {
    problem ??= (error as Error).message;
  }
  // An address literal is never looked up: check it here; names are checked on each connect.
  const literal = url && !problem ? url.hostname.replace(/^\[|\]$/g, '') : '';
  if (guard && isIP(literal)) {
    const refused = guard.refusal(literal);
    if (refused) problem = `refused: ${refused}`;
  }
  return { url: problem ? null : url, origin: url && !problem ? url.origin : spec.server.slug, headers, problem };
}
