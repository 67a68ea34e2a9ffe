import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Recorder } from './event-log';
import { jsonText } from '../core/jsonrpc';

/** A comment line this often keeps idle GET and legacy SSE streams open through proxies. */
export const KEEPALIVE_MS = 25_000;

export interface SseStreamOptions {
  keepAliveMs?: number;
  /** Records every message for resumption (event-log.ts), also after the agent's connection dropped. */
  record?: (streamId: string) => Recorder;
  /** Continue a resumed stream: its id, and the seq its next event gets. */
  resume?: { streamId: string; nextSeq: number };
}

/**
 * A text/event-stream response: one JSON-RPC message per `message` event. Event ids are
 * `<streamId>:<seq>`, unique across all the streams of a session (a GET stream and every POST
 * answer), so a `Last-Event-ID` names one event of one stream.
 */
export class SseStream {
  /** Random, not a per-session counter: a session's streams may be held by different workers. */
  readonly streamId: string;
  private nextSeq: number;
  private readonly record?: Recorder;
  private keepAlive?: NodeJS.Timeout;
  closed = false;
  bytes = 0;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    { keepAliveMs = 0, record, resume }: SseStreamOptions = {},
  ) {
    this.streamId = resume?.streamId ?? randomBytes(9).toString('base64url');
    this.nextSeq = resume?.nextSeq ?? 1;
    this.record = record?.(this.streamId);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    res.on('close', () => this.close());
    if (keepAliveMs > 0) {
      this.keepAlive = setInterval(() => this.comment('keep-alive'), keepAliveMs);
      this.keepAlive.unref();
    }
  }

  send(message: unknown, event = 'message'): void {
    this.emit(message, event, false);
  }

  /** Send a call's response and end the stream (recorded as the stream's last event). */
  sendLast(message: unknown): void {
    this.emit(message, 'message', true);
    this.end();
  }

  /**
   * End a call's stream that will carry no response (the agent cancelled the call): the record
   * gets an empty last event, so a resumed stream ends at once instead of waiting for one.
   */
  endUnanswered(): void {
    if (this.record) this.record(this.nextSeq++, '', true);
    this.end();
  }

  /** Write an event recorded earlier, under its own id (resumption). */
  replay(seq: number, data: string): void {
    this.write(seq, 'message', data);
  }

  private emit(message: unknown, event: string, final: boolean): void {
    // A recorded stream keeps counting and recording after a disconnect: the agent may resume it.
    if (this.closed && !this.record) return;
    const data = typeof message === 'string' ? message : jsonText(message);
    const seq = this.nextSeq++;
    this.record?.(seq, data, final);
    this.write(seq, event, data);
  }

  private write(seq: number, event: string, data: string): void {
    if (this.closed) return;
    const chunk = `id: ${this.streamId}:${seq}\nevent: ${event}\ndata: ${data}\n\n`;
    this.bytes += chunk.length;
    this.res.write(chunk);
  }

  comment(text: string): void {
    if (!this.closed) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.closed) return;
    this.close();
    this.res.end();
  }

  onClose(fn: () => void): void {
    this.res.on('close', fn);
  }

  private close(): void {
    this.closed = true;
    clearInterval(this.keepAlive);
  }
}
