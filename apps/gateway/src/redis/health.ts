import Redis from 'ioredis';

/** `slow`: connected, but a command (or the probe) did not answer within the command timeout (a frozen Redis). */
export type RedisState = 'up' | 'down' | 'slow';

/** What the hot-path adapters ask before they wait on Redis, and tell when Redis failed them. */
export interface RedisAvailability {
  usable(): boolean;
  failed(err: Error): void;
}

export interface RedisHealthReport {
  state: RedisState;
  /** ISO time of the last change of state. */
  since: string;
  lastError: string | null;
}

/**
 * The hot path's own connection: a command is refused at once while disconnected (no offline
 * queue) and abandoned after `timeoutMs` (a frozen Redis), never re-sent after a reconnect.
 */
export function hotConnection(url: string, timeoutMs: number): Redis {
  const redis = new Redis(url, {
    connectionName: 'toolgate-hot',
    connectTimeout: 2000,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    retryStrategy: (n) => Math.min(n * 50, 1000),
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * This worker's view of Redis, shared by sessions, rate limits and quota: one failed or timed-out
 * command marks Redis away for all of them, so a frozen Redis costs one timeout, not one per call
 * and adapter. Only the probe (a PING every `probeMs`, bounded by the connection's command
 * timeout) or a reconnect marks it up again; listeners then write back what waited.
 */
export class RedisHealth implements RedisAvailability {
  private state: RedisState = 'down';
  private since = Date.now();
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly upListeners = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly probeMs = 500,
  ) {
    redis.on('ready', () => this.set('up', null));
    redis.on('close', () => this.set('down', this.lastError ?? 'connection closed'));
  }

  /** Resolves once the connection is up, or after `timeoutMs` (a worker may start while Redis is away). */
  async start(timeoutMs = 2000): Promise<void> {
    this.timer = setInterval(() => void this.probe(), this.probeMs);
    this.timer.unref();
    if (this.redis.status === 'ready') return this.set('up', null);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.redis.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  usable(): boolean {
    return this.state === 'up' && this.redis.status === 'ready';
  }

  failed(err: Error): void {
    this.set(this.redis.status === 'ready' ? 'slow' : 'down', err.message);
  }

  /** Called each time Redis becomes usable again (after start). */
  onUp(listener: () => void): () => void {
    this.upListeners.add(listener);
    return () => this.upListeners.delete(listener);
  }

  report(): RedisHealthReport {
    return { state: this.state, since: new Date(this.since).toISOString(), lastError: this.lastError };
  }

  private async probe(): Promise<void> {
    if (this.probing || this.redis.status !== 'ready') return;
    this.probing = true;
    try {
      await this.redis.ping();
      this.set('up', null);
    } catch (e) {
      this.failed(e as Error);
    } finally {
      this.probing = false;
    }
  }

  private set(state: RedisState, error: string | null): void {
    if (error !== null) this.lastError = error;
    if (state === this.state) return;
    this.state = state;
    this.since = Date.now();
    if (state === 'up') for (const l of this.upListeners) l();
  }
}
