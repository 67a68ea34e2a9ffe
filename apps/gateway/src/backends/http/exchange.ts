import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { BackendError } from '../types';
import { timeoutError, transportError, unavailableError } from './errors';

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
