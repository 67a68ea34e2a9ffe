import type { Dispatcher } from 'undici';
import type { JsonRpcMessage } from '../../core/jsonrpc';
import type { BackendSpec, InitializeInfo } from '../types';
import { type HttpCall, UpstreamBackend, type UpstreamOptions } from './base';
import { statusError, transportError, unavailableError } from './errors';
import { type ExchangeSink, HttpExchange, httpRequest } from './exchange';
import { isEventStream, isJson, parseMessages } from './messages';
import { SseParser } from './sse-parser';

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
    super(spec, options, 'stream');
    this.eventStreamWanted = options.eventStream ?? true;
    this.postHeaders = this.sessionHeaders(POST_ACCEPT, true);
  }

  /** The upstream's session id (undefined before initialize or for a stateless upstream). */
  get upstreamSessionId(): string | undefined {
    return this.sessionId;
  }

  protected async initialize(): Promise<InitializeInfo> {
    this.offeredSessionId = undefined;
    const info = await this.initializeCall();
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

  protected transmit(call: HttpCall): void {
    const initialize = call.method === 'initialize';
    call.state.sentSession = initialize ? undefined : this.sessionId;
    const headers = initialize ? this.baseRequestHeaders() : this.postHeaders;
    this.startCallExchange(
      call,
      {
        path: this.requestPath(),
        method: 'POST',
        headers,
        body: call.state.body,
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
  private startCallExchange(call: HttpCall, options: Dispatcher.DispatchOptions, initialize: boolean): void {
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
            parser.lastEventId = call.state.lastEventId;
          } else if (s === 200 && isJson(headers)) mode = MODE_JSON;
        } else if (s === 404 && call.state.sentSession !== undefined && !call.state.retried && !call.state.lastEventId) mode = MODE_EXPIRED;
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
          const before = call.state.lastEventId;
          call.state.lastEventId = parser!.lastEventId;
          parser!.end();
          if (!call.settled) this.streamEndedEarly(call, before !== call.state.lastEventId, parser!.retryMs);
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
          for (const message of parseMessages(body.toString('utf8')) ?? []) this.peer.handleMessage(message, call);
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
    call.state.exchange = exchange;
  }

  private resendAfterExpiry(call: HttpCall): void {
    call.state.retried = true;
    this.sessionExpired(call.state.sentSession!).then(
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
  private streamEndedEarly(call: HttpCall, progressed: boolean, retryMs: number | undefined): void {
    call.state.emptyResumes = progressed ? 0 : call.state.emptyResumes + 1;
    if (!call.state.lastEventId || call.state.emptyResumes >= MAX_EMPTY_RESUMES) {
      this.fail(call, unavailableError(this.origin, 'the response stream closed before the response'));
      return;
    }
    const resume = (): void => {
      if (call.settled || this.closed) return;
      const headers = this.sessionHeaders('text/event-stream', false);
      headers['last-event-id'] = call.state.lastEventId;
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
