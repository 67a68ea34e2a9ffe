import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionCapsOptions {
  /** Connections held at once by this worker (0 = no cap). */
  max: number;
  /** Connections held at once per socket address (0 = no cap). */
  perIp: number;
  /** Peers exempt from the per-address cap: trusted proxies carry many clients on their address. */
  exempt: (address: string) => boolean;
}

/** Node's server destroys a socket whose timeout fires with no request under way. */
const REFUSED_GRACE_MS = 5_000;

/** Why a connection was refused; set on the socket, answered on its first request. */
const REFUSED = Symbol('toolgate.connectionRefused');
type CappedSocket = Socket & { [REFUSED]?: 'total' | 'ip' };

/**
 * Caps open connections per worker and per socket address. A connection over a cap is accepted
 * and its first request answered with an HTTP error and `Connection: close` (503 for the worker's
 * cap, 429 for the address's, both with Retry-After), rather than reset at once: clients and
 * SDKs surface an HTTP status and honour Retry-After, while a reset before any response reads as
 * a network failure and is retried at once. The socket address, not the forwarded one, is what
 * counts: a connection exists before its first request's headers.
 */
export class ConnectionCaps {
  private readonly perAddress = new Map<string, number>();
  private total = 0;

  constructor(private readonly opts: ConnectionCapsOptions) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket as CappedSocket));
  }

  /** Answers a refused connection's request (and closes it); false when the connection is within its caps. */
  refuse(socket: Socket, res: ServerResponse): boolean {
    const reason = (socket as CappedSocket)[REFUSED];
    if (reason === undefined) return false;
    const status = reason === 'total' ? 503 : 429;
    const message = reason === 'total' ? 'The gateway is at its connection limit; retry shortly' : 'Too many connections from your address';
    const body = JSON.stringify({ error: 'too_many_connections', message });
    res.shouldKeepAlive = false;
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Retry-After': '1',
      Connection: 'close',
    });
    res.end(body);
    return true;
  }

  /** A refused connection gets a few seconds to send its request, not the full headers timeout. */
  private mark(socket: CappedSocket, reason: 'total' | 'ip'): void {
    socket[REFUSED] = reason;
    socket.setTimeout(REFUSED_GRACE_MS);
  }

  private admit(socket: CappedSocket): void {
    const address = socket.remoteAddress ?? '';
    const counted = this.opts.perIp > 0 && !this.opts.exempt(address);
    const held = counted ? (this.perAddress.get(address) ?? 0) : 0;
    if (this.opts.max > 0 && this.total >= this.opts.max) this.mark(socket, 'total');
    else if (counted && held >= this.opts.perIp) this.mark(socket, 'ip');
    else this.count(socket, address, counted, held);
  }

  private count(socket: Socket, address: string, counted: boolean, held: number): void {
    this.total++;
    if (counted) this.perAddress.set(address, held + 1);
    socket.once('close', () => {
      this.total--;
      if (!counted) return;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }
}
