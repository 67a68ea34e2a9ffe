import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { jsonText } from './util';

/**
 * A text/event-stream response: one JSON-RPC message per `message` event. Event ids are
 * `<streamId>:<seq>`, unique across all the streams of a session (a GET stream and every POST
 * answer), so a `Last-Event-ID` names one event of one stream.
 */
export class SseStream {
  /** Random, not a per-session counter: a session's streams may be held by different workers. */
  readonly streamId = randomBytes(9).toString('base64url');
  private nextSeq = 1;
  private keepAlive?: NodeJS.Timeout;
  closed = false;
  bytes = 0;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    keepAliveMs = 0,
  ) {
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
    if (this.closed) return;
    const data = typeof message === 'string' ? message : jsonText(message);
    const chunk = `id: ${this.streamId}:${this.nextSeq++}\nevent: ${event}\ndata: ${data}\n\n`;
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
