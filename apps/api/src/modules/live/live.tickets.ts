import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LiveTicketGrant, redisKeys } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { RedisService } from '../../infra/redis.service';

/** How long a ticket may wait before its WebSocket connects. */
export const LIVE_TICKET_TTL_SECONDS = 30;
/** The API's WebSocket path for live audit events. */
export const LIVE_PATH = '/v1/live';

const hashOf = (ticket: string) => createHash('sha256').update(ticket, 'utf8').digest('hex');

/**
 * Single-use tickets for the live WebSocket. The dashboard's browser holds no bearer token (its
 * session lives in httpOnly cookies on the web origin), so it asks for a ticket through the BFF
 * and presents it once, in the WebSocket URL. Redis stores only the ticket's hash, bound to the
 * user and org, for LIVE_TICKET_TTL_SECONDS; GETDEL consumes it atomically.
 */
@Injectable()
export class LiveTickets {
  constructor(
    private readonly redis: RedisService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async issue(grant: LiveTicketGrant): Promise<{ ticket: string; url: string; expiresIn: number }> {
    const ticket = randomBytes(32).toString('base64url');
    await this.redis.client.set(redisKeys.liveTicket(hashOf(ticket)), JSON.stringify(grant), 'EX', LIVE_TICKET_TTL_SECONDS);
    return { ticket, url: this.url(), expiresIn: LIVE_TICKET_TTL_SECONDS };
  }

  /** The grant of a valid ticket, which is then gone; null when unknown, expired or used. */
  async consume(ticket: string): Promise<LiveTicketGrant | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) return null;
    const raw = await this.redis.client.getdel(redisKeys.liveTicket(hashOf(ticket)));
    if (raw === null) return null;
    const parsed = LiveTicketGrant.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  /** `ws(s)://<public API host>/v1/live`, from PUBLIC_API_URL (keeping any path prefix). */
  private url(): string {
    const u = new URL(this.env.PUBLIC_API_URL);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.pathname = `${u.pathname.replace(/\/+$/, '')}${LIVE_PATH}`;
    u.search = '';
    u.hash = '';
    return u.toString();
  }
}
