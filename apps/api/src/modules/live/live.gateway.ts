import type { IncomingMessage } from 'node:http';
import { Inject, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import { AuditLiveNotice, channels, type LiveTicketGrant } from '@toolgate/contracts';
import Redis from 'ioredis';
import type { WebSocket } from 'ws';
import { Roles } from '../../common/auth';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { LIVE_PATH, LiveTickets } from './live.tickets';
import { describeFailure } from '../../infra/failures';

/**
 * Close codes of the live socket. 4401: bring a new ticket (missing, unknown, expired or used);
 * 4403: do not retry (origin not allowed, not a member, role may not read the audit log);
 * 1011: server trouble, retry later; 1001: the API is shutting down.
 */
export const LiveClose = {
  Ticket: 4401,
  Forbidden: 4403,
  ServerError: 1011,
  GoingAway: 1001,
} as const;

/** Ping interval; a socket that has not answered the previous ping by the next one is dropped. */
export const LIVE_HEARTBEAT_MS = 25_000;
/** A client this far behind (unsent bytes) is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** How long a new socket waits for its org's Redis subscription before giving up. */
const SUBSCRIBE_TIMEOUT_MS = 5000;

interface SocketState {
  userId: string;
  orgId: string;
  alive: boolean;
}

/**
 * Live audit events for the dashboard: `GET /v1/live?ticket=…` upgrades to a WebSocket (ws
 * adapter, on the API's own HTTP server). The handshake is checked in order: the Origin (when a
 * browser sends one) must be listed in CORS_ORIGINS; the ticket is consumed (single use, see
 * LiveTickets); the user must still be a member whose role reads the audit log. Then the socket
 * receives `{type:'ready', orgId}` and `{type:'audit', events, omitted}` frames for its org only.
 *
 * Events come from the worker's AuditChainWriter over Redis pub/sub (`channels.auditLive`): this
 * process holds one subscriber connection and subscribes to an org's channel while at least one
 * of its sockets is open. A heartbeat pings every socket, drops those that stopped answering and
 * re-checks memberships, so a removed member stops receiving within one interval.
 */
@WebSocketGateway({ path: LIVE_PATH, maxPayload: 4096 })
export class AuditLiveGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AuditLive');
  private readonly origins: Set<string>;
  private readonly state = new WeakMap<WebSocket, SocketState>();
  /** org id → its open, authorised sockets. */
  private readonly byOrg = new Map<string, Set<WebSocket>>();
  /** org id → its channel subscription (pending or done), while the org has sockets. */
  private readonly subscriptions = new Map<string, Promise<unknown>>();
  private subscriber: Redis | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly tickets: LiveTickets,
    private readonly prisma: PrismaService,
    @Inject(ENV) private readonly env: Env,
  ) {
    this.origins = new Set(
      env.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    );
  }

  onModuleInit(): void {
    this.heartbeat = setInterval(() => void this.beat(), LIVE_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const set of this.byOrg.values()) for (const ws of set) close(ws, LiveClose.GoingAway, 'server shutting down');
    this.byOrg.clear();
    this.subscriptions.clear();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  async handleConnection(ws: WebSocket, req: IncomingMessage): Promise<void> {
    try {
      const origin = req.headers.origin;
      // Browsers always send Origin; a client without one (a script) needed a bearer token for its ticket anyway.
      if (origin !== undefined && !this.origins.has(origin)) return close(ws, LiveClose.Forbidden, 'origin not allowed');
      const ticket = new URL(req.url ?? '/', 'ws://live').searchParams.get('ticket');
      if (!ticket) return close(ws, LiveClose.Ticket, 'ticket required');
      const grant = await this.tickets.consume(ticket);
      if (!grant) return close(ws, LiveClose.Ticket, 'ticket unknown, expired or already used');
      if (!(await this.mayRead(grant))) return close(ws, LiveClose.Forbidden, 'not allowed to read this audit log');
      if (ws.readyState !== ws.OPEN) return; // the client left while we checked

      ws.on('pong', () => {
        const s = this.state.get(ws);
        if (s) s.alive = true;
      });
      this.state.set(ws, { ...grant, alive: true });
      const set = this.byOrg.get(grant.orgId) ?? new Set<WebSocket>();
      this.byOrg.set(grant.orgId, set);
      set.add(ws);
      await withTimeout(this.subscribe(grant.orgId), SUBSCRIBE_TIMEOUT_MS);
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'ready', orgId: grant.orgId }));
    } catch (e) {
      this.logger.warn(`live socket refused: ${describeFailure(e)}`);
      close(ws, LiveClose.ServerError, 'try again later');
    }
  }

  handleDisconnect(ws: WebSocket): void {
    const s = this.state.get(ws);
    if (!s) return;
    this.state.delete(ws);
    const set = this.byOrg.get(s.orgId);
    if (!set) return;
    set.delete(ws);
    if (set.size === 0) {
      this.byOrg.delete(s.orgId);
      this.subscriptions.delete(s.orgId);
      // Commands run in order on the subscriber connection, so a later re-subscribe wins.
      this.subscriber?.unsubscribe(channels.auditLive(s.orgId)).catch(() => undefined);
    }
  }

  /** Open sockets of an org (for tests and metrics). */
  socketsOf(orgId: string): number {
    return this.byOrg.get(orgId)?.size ?? 0;
  }

  private subscribe(orgId: string): Promise<unknown> {
    let sub = this.subscriptions.get(orgId);
    if (!sub) {
      sub = this.connection().subscribe(channels.auditLive(orgId));
      this.subscriptions.set(orgId, sub);
      // A failed subscription is retried by the next socket of the org.
      sub.catch(() => this.subscriptions.get(orgId) === sub && this.subscriptions.delete(orgId));
    }
    return sub;
  }

  /** The one subscriber connection, made on first use; ioredis re-subscribes after reconnects. */
  private connection(): Redis {
    if (this.subscriber) return this.subscriber;
    const sub = new Redis(this.env.REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    sub.on('error', (e) => this.logger.warn(`redis subscriber: ${describeFailure(e)}`));
    sub.on('message', (channel: string, message: string) => this.fanOut(channel, message));
    this.subscriber = sub;
    return sub;
  }

  private fanOut(channel: string, message: string): void {
    let notice: AuditLiveNotice;
    try {
      const parsed = AuditLiveNotice.safeParse(JSON.parse(message));
      if (!parsed.success) throw new Error(parsed.error.message);
      notice = parsed.data;
    } catch (e) {
      this.logger.warn(`invalid live audit notice on ${channel}: ${(e as Error).message.slice(0, 200)}`);
      return;
    }
    // The channel names the org; a notice for another org on it is ignored.
    if (channel !== channels.auditLive(notice.orgId)) return;
    const set = this.byOrg.get(notice.orgId);
    if (!set || set.size === 0) return;
    const frame = JSON.stringify({ type: 'audit', events: notice.events, omitted: notice.omitted });
    for (const ws of set) {
      if (ws.readyState !== ws.OPEN) continue;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        ws.terminate();
        continue;
      }
      ws.send(frame);
    }
  }

  private async mayRead(g: LiveTicketGrant): Promise<boolean> {
    const m = await this.prisma.db.membership.findUnique({
      where: { orgId_userId: { orgId: g.orgId, userId: g.userId } },
      select: { role: true },
    });
    return !!m && (Roles.read as readonly string[]).includes(m.role);
  }

  /**
   * One heartbeat (every LIVE_HEARTBEAT_MS; public so tests can run one now): pings every socket,
   * drops those that did not answer the previous ping, and closes those whose member lost read access.
   */
  async beat(): Promise<void> {
    const open: Array<[WebSocket, SocketState]> = [];
    for (const set of this.byOrg.values()) {
      for (const ws of set) {
        const s = this.state.get(ws);
        if (!s) continue;
        if (!s.alive) {
          ws.terminate();
          continue;
        }
        s.alive = false;
        ws.ping();
        open.push([ws, s]);
      }
    }
    if (open.length === 0) return;
    try {
      const pairs = [...new Map(open.map(([, s]) => [`${s.orgId}:${s.userId}`, { orgId: s.orgId, userId: s.userId }])).values()];
      const rows = await this.prisma.db.membership.findMany({ where: { OR: pairs }, select: { orgId: true, userId: true, role: true } });
      const allowed = new Set(rows.filter((r) => (Roles.read as readonly string[]).includes(r.role)).map((r) => `${r.orgId}:${r.userId}`));
      for (const [ws, s] of open) {
        if (!allowed.has(`${s.orgId}:${s.userId}`)) close(ws, LiveClose.Forbidden, 'no longer allowed to read this audit log');
      }
    } catch (e) {
      this.logger.warn(`live membership re-check failed: ${describeFailure(e)}`);
    }
  }
}

function close(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis subscription timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
