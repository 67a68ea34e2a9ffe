import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RpcCode } from '../core/jsonrpc';
import { sendRpcError } from './util';

/**
 * Graceful shutdown of the HTTP front. Once draining: /readyz answers 503 (the load balancer
 * stops sending), a new agent request is refused with 503 + Retry-After + `Connection: close`
 * before its body is read (the call never runs, so the client may safely retry, and reconnects),
 * every answer still to come closes its connection, and idle connections are closed. The
 * listener stays open until the end so that health checks and stragglers get those clean
 * answers rather than a refused connection.
 *
 * Only requests other than GET are waited for: GETs are long-lived streams, which end once the
 * calls are done (their agents reconnect to another worker).
 */
export class HttpDrain {
  private draining = false;
  /** Non-GET requests whose answer has not gone out yet. */
  private readonly pending = new Set<ServerResponse>();
  private wake: (() => void) | null = null;

  constructor(private readonly server: Server) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'GET') return;
      this.pending.add(res);
      res.once('close', () => {
        this.pending.delete(res);
        if (this.pending.size === 0) this.wake?.();
      });
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Answers an agent request that arrived while draining (see the class comment). */
  refuse(res: ServerResponse): void {
    sendRpcError(
      res,
      503,
      null,
      { code: RpcCode.InternalError, message: 'This gateway worker is shutting down; retry (another worker will answer)' },
      { 'Retry-After': '1', Connection: 'close' },
    );
  }

  /** Starts draining: idle connections closed, answers to come close theirs, new requests refused. */
  start(): void {
    if (this.draining) return;
    this.draining = true;
    for (const res of this.pending) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.server.closeIdleConnections();
  }

  /** Resolves once every pending non-GET request was answered, or at `deadline` (performance.now()). */
  async settled(deadline: number): Promise<boolean> {
    while (this.pending.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    return true;
  }

  /** Closes the listener and ends whatever is still open (streams, requests past the grace period). */
  closeAll(): void {
    // close()'s callback would wait for every connection: they are ended right here.
    if (this.server.listening) this.server.close();
    this.server.closeAllConnections();
  }
}
