import type { SandboxStatus } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { EventSinkStats } from './events/emitter';
import type { RedisHealth, RedisHealthReport } from './redis/health';
import type { RateLimiterStats } from './redis/rate-limiter';

export interface HealthSources {
  workerId: string;
  redis: RedisHealth;
  /** The subscriber connection: while it is down, snapshot changes are not heard. */
  sub: Redis;
  snapshots: { readonly size: number };
  sessions: { readonly pending: number };
  events: { stats(): EventSinkStats; readonly accepting: boolean };
  limiter: { stats(): RateLimiterStats };
  sandbox: () => SandboxStatus;
}

export interface Readiness {
  ok: boolean;
  checks: Record<string, boolean>;
  detail: Record<string, unknown>;
}

/**
 * What this worker can do right now, for the load balancer (`/readyz`) and for operators
 * (`/health`). A worker with snapshots serves its agents from them while Redis is away
 * (`degraded`), so Redis alone never makes it unready: otherwise a Redis outage would take every
 * worker out of the load balancer at once, turning a degraded service into none.
 */
export class HealthReporter {
  /** When the snapshot subscription was lost (null while it is live). */
  private staleSince: number | null = null;

  constructor(private readonly s: HealthSources) {
    s.sub.on('close', () => {
      this.staleSince ??= Date.now();
    });
    s.sub.on('ready', () => {
      this.staleSince = null;
    });
  }

  /** Ready when Redis answers or there are snapshots to serve from; Redis and sandbox are reported, not required. */
  ready(): Readiness {
    const redisUp = this.s.redis.usable();
    const sandbox = this.s.sandbox();
    // A disk that cannot record calls refuses them all: the load balancer should send them elsewhere.
    const eventLog = this.s.events.accepting;
    return {
      ok: (redisUp || this.s.snapshots.size > 0) && eventLog,
      checks: { redis: redisUp, snapshotsSubscribed: this.s.sub.status === 'ready', sandbox: sandbox.ok, eventLog },
      detail: { mode: this.mode(), workerId: this.s.workerId, sandbox },
    };
  }

  report(): Record<string, unknown> {
    const e = this.s.events.stats();
    const redis: RedisHealthReport = this.s.redis.report();
    return {
      mode: this.mode(),
      ready: this.ready().ok,
      workerId: this.s.workerId,
      redis,
      snapshots: {
        orgs: this.s.snapshots.size,
        live: this.s.sub.status === 'ready',
        staleSince: this.staleSince === null ? null : new Date(this.staleSince).toISOString(),
      },
      sessions: { pendingWriteBack: this.s.sessions.pending },
      rateLimits: this.s.limiter.stats().mode,
      events: { spooled: e.spooledEvents, spoolBytes: e.spoolBytes, buffered: e.buffered + e.sending, dropped: e.droppedEvents },
      sandbox: this.s.sandbox(),
    };
  }

  /** `degraded`: serving, but from local state (Redis away, snapshots not live, sessions or events waiting to be written). */
  private mode(): 'normal' | 'degraded' {
    const e = this.s.events.stats();
    const local = !this.s.redis.usable() || this.s.sub.status !== 'ready' || this.s.sessions.pending > 0 || e.spooledEvents > 0;
    return local ? 'degraded' : 'normal';
  }
}
