import Redis, { type RedisOptions } from 'ioredis';
import { settled } from './queues';

export interface EventsConnectionHandlers {
  /** Redis answers (again): the sink sends what waits and replays its spool. */
  ready: () => void;
  /** Connection errors, one per reconnect attempt while Redis is away. */
  error: (err: Error) => void;
}

/**
 * The events sink's own Redis connection, shared by both queues. A send while Redis is away
 * fails at once instead of queueing (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`),
 * so the sink spools it; it tells a connection that is still coming up from one that failed.
 */
export class EventsConnection {
  readonly redis: Redis;
  /** A connection attempt failed since Redis last answered (as opposed to still connecting). */
  private unreachable = false;

  constructor(connection: RedisOptions | string, on: EventsConnectionHandlers) {
    const base = typeof connection === 'string' ? {} : connection;
    const options: RedisOptions = {
      connectionName: 'toolgate-events',
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      ...base,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Commands caught in flight by a disconnect are re-sent after the reconnect (or failed by
      // maxRetriesPerRequest): with `false`, ioredis 6 drops them unsettled when the first
      // reconnect succeeds, which would leave a queue setup hanging for good. A batch re-sent
      // after its send timed out and was spooled is deduplicated by job id.
      autoResendUnfulfilledCommands: true,
    };
    const redis = typeof connection === 'string' ? new Redis(connection, options) : new Redis(options);
    // Expected while Redis is away; without a listener ioredis would log every retry itself.
    redis.on('error', (err: Error) => {
      if (redis.status !== 'ready') this.unreachable = true;
      on.error(err);
    });
    redis.on('ready', () => {
      this.unreachable = false;
      on.ready();
    });
    this.redis = redis;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Resolves once the connection is up or has failed; at once when it is up or known to be unreachable. */
  settled(): Promise<void> {
    const redis = this.redis;
    if (redis.status === 'ready' || this.unreachable) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        redis.off('ready', done);
        redis.off('error', done);
        redis.off('end', done);
        resolve();
      };
      redis.on('ready', done);
      redis.on('error', done);
      redis.on('end', done);
    });
  }

  /** QUIT when Redis is up and answers within a second, else drop the connection. */
  async close(): Promise<void> {
    if (!(this.redis.status === 'ready' && (await settled(this.redis.quit())))) this.redis.disconnect();
  }
}
