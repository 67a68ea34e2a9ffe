import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcMessage } from '../../core/jsonrpc';
import type { BackendError, BackendSpec, InitializeInfo } from '../types';
import { type HttpCall, UpstreamBackend, type UpstreamOptions } from './base';
import { statusError, transportError, unavailableError } from './errors';
import { HttpExchange, httpRequest } from './exchange';
import { isEventStream } from './messages';
import { SseParser } from './sse-parser';

/**
 * An upstream MCP server over the legacy HTTP+SSE transport (MCP 2024-11-05), for servers that
 * have not moved to Streamable HTTP.
 *
 * The transport: GET the server's SSE URL and keep the stream open; its first event,
 * `endpoint`, names the URL to POST messages to (it must be on the same origin: configured
 * secret headers are never sent elsewhere). Every POST is just accepted (202); responses,
 * notifications and server-to-client requests all arrive as `message` events on the one
 * stream. The stream is the session: when it is lost, every call in flight fails
 * ('unavailable'), and the backend reconnects (with backoff) and initializes again.
 *
 * One stream carries everything, so messages are attributed to calls the way stdio's are
 * (`in-flight` attribution, upstream/peer.ts): by our progress token or a related task, else by
 * the calls in flight, and never across agent sessions on a guess.
 */
export class SseBackend extends UpstreamBackend {
  private stream: HttpExchange | undefined;
  /** Path (and query) of the endpoint to POST to, known once the stream sent it. */
  private endpointPath: string | undefined;
  private postHeaders: Record<string, string>;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;

  constructor(spec: BackendSpec, options: UpstreamOptions = {}) {
    super(spec, options, 'in-flight');
    this.postHeaders = { ...this.baseHeaders, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  }

  /** True while the event stream is open and its endpoint known. */
  get connected(): boolean {
    return this.stream !== undefined && this.endpointPath !== undefined;
  }

  protected async initialize(): Promise<InitializeInfo> {
    await this.connect();
    const info = await this.initializeCall();
    if (this.closed) throw this.closedError();
    await this.sendMessage({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.reconnectAttempts = 0;
    return info;
  }

  protected transmit(call: HttpCall): void {
    const path = this.endpointPath;
    if (path === undefined || !this.pool) {
      this.fail(call, unavailableError(this.origin, 'the event stream is not connected'));
      return;
    }
    httpRequest(this.pool, { path, method: 'POST', headers: this.postHeaders, body: call.state.body }, this.origin, call.timeoutMs).then(
      (res) => {
        // Accepted: the response arrives on the event stream.
        if (res.status < 200 || res.status >= 300) this.fail(call, statusError(this.origin, res.status, res.body));
      },
      (error: unknown) => this.fail(call, transportError(this.origin, error)),
    );
  }

  protected async sendMessage(message: JsonRpcMessage): Promise<void> {
    const path = this.endpointPath;
    if (path === undefined || !this.pool) throw unavailableError(this.origin, 'the event stream is not connected');
    const res = await httpRequest(
      this.pool,
      { path, method: 'POST', headers: this.postHeaders, body: JSON.stringify(message) },
      this.origin,
      this.server.timeoutMs,
    );
    if (res.status < 200 || res.status >= 300) throw statusError(this.origin, res.status, res.body);
  }

  protected async shutdown(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    this.endpointPath = undefined;
    stream?.abort(this.closedError());
  }

  /** Open the event stream; resolves once the `endpoint` event arrived. */
  private connect(): Promise<void> {
    const pool = this.pool;
    const url = this.url;
    if (!pool || !url) return Promise.reject(this.configError);
    // A stale stream from before (lost, replaced) must not deliver anything any more.
    this.stream?.abort(unavailableError(this.origin, 'stream replaced'));
    this.stream = undefined;
    this.endpointPath = undefined;
    return new Promise<void>((resolve, reject) => {
      let open = false;
      let known = false;
      let status = 0;
      const errorBody: Buffer[] = [];
      let errorSize = 0;
      const settleConnect = (error: BackendError | null): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const parser = new SseParser((event) => {
        if (event.event === 'endpoint') {
          if (known) return;
          let endpoint: URL;
          try {
            endpoint = new URL(event.data.trim(), url);
          } catch {
            exchange.abort(unavailableError(this.origin, 'invalid endpoint event'));
            return;
          }
          if (endpoint.origin !== url.origin) {
            // Configured credentials must not be posted to another host.
            exchange.abort(unavailableError(this.origin, `the endpoint event names another origin (${endpoint.origin})`));
            return;
          }
          known = true;
          this.endpointPath = endpoint.pathname + endpoint.search;
          settleConnect(null);
          return;
        }
        if (known) this.handleEvent(event, undefined);
      });
      const ended = (error: BackendError): void => {
        if (!known) {
          if (this.stream === exchange) this.stream = undefined;
          settleConnect(error);
          return;
        }
        this.streamLost(exchange);
      };
      const exchange: HttpExchange = HttpExchange.start(
        pool,
        {
          path: url.pathname + url.search,
          method: 'GET',
          headers: { ...this.baseHeaders, accept: 'text/event-stream' },
          headersTimeout: this.server.timeoutMs + 1000,
          bodyTimeout: this.opts.streamIdleMs,
        },
        {
          onStart: (s: number, headers: IncomingHttpHeaders) => {
            status = s;
            open = s === 200 && isEventStream(headers);
          },
          onData: (chunk) => {
            if (open) {
              parser.push(chunk);
              if (parser.buffered > this.opts.maxMessageBytes) exchange.abort(unavailableError(this.origin, 'stream event too large'));
            } else if (errorSize < 64 * 1024) {
              errorBody.push(chunk);
              errorSize += chunk.length;
            }
          },
          onEnd: () =>
            ended(
              open
                ? unavailableError(this.origin, 'the event stream ended before naming its endpoint')
                : status === 200
                  ? unavailableError(this.origin, 'the SSE URL did not answer with an event stream')
                  : statusError(this.origin, status, Buffer.concat(errorBody)),
            ),
          onError: (error) => ended(transportError(this.origin, error)),
        },
      );
      this.stream = exchange;
      const timer = setTimeout(() => {
        const error = unavailableError(this.origin, `no endpoint event within ${this.server.timeoutMs} ms`);
        exchange.abort(error);
        settleConnect(error);
      }, this.server.timeoutMs);
    });
  }

  /** The established stream is gone: its session with it. Fail what is in flight, reconnect. */
  private streamLost(exchange: HttpExchange): void {
    if (this.stream !== exchange) return; // replaced or shut down on purpose
    this.stream = undefined;
    this.endpointPath = undefined;
    if (this.closed) return;
    const error = unavailableError(this.origin, 'the event stream was lost');
    this.failAll(error);
    this.resetSession();
    this.status = 'down';
    this.scheduleReconnect();
  }

  /** Reconnect and re-initialize with exponential backoff (jittered), until closed. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const backoff = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** this.reconnectAttempts);
    this.reconnectAttempts = Math.min(this.reconnectAttempts + 1, 30);
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        if (this.closed || this.connected) return;
        this.ready().catch(() => this.scheduleReconnect());
      },
      backoff * (0.5 + Math.random() / 2),
    );
    this.reconnectTimer.unref();
  }
}
