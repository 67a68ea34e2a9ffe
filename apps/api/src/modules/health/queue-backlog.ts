import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { ENV, type Env } from '../../config/env';
import { DeadLetterQueue } from '../events/dead-letter';

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface Backlog {
  [QueueName.Audit]: QueueCounts;
  [QueueName.Usage]: QueueCounts;
  /** Letters parked in tg-dead-letter, waiting for a re-drive. */
  deadLetter: number;
}

/**
 * Resolves once the connection is ready: a fresh or reconnecting client has no offline queue, so a
 * command sent now would fail though Redis may answer a moment later. Rejects after `ms` (the
 * listener removed, so checks during a long outage leave nothing behind).
 */
export function whenReady(client: Redis, ms = 2000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const ready = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', ready);
      reject(new Error(`Redis not connected (${client.status})`));
    }, ms);
    client.once('ready', ready);
  });
}

/**
 * The event queues' backlog as /health reports it, read from Redis on demand over a connection of
 * its own that fails fast while Redis is down (no offline queue, one retry).
 */
@Injectable()
export class QueueBacklog implements OnModuleDestroy {
  private readonly connection: Redis;
  private readonly queues: Array<[QueueName.Audit | QueueName.Usage, Queue]>;
  private readonly dlq: DeadLetterQueue;

  constructor(@Inject(ENV) env: Env) {
    this.connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false });
    this.connection.on('error', () => undefined);
    this.queues = [QueueName.Audit, QueueName.Usage].map((name) => {
      const q = new Queue(name, { connection: this.connection, prefix: env.QUEUE_PREFIX });
      q.on('error', () => undefined);
      return [name, q] as [QueueName.Audit | QueueName.Usage, Queue];
    });
    this.dlq = new DeadLetterQueue(this.connection, env.QUEUE_PREFIX);
  }

  async read(): Promise<Backlog> {
    await whenReady(this.connection);
    const [audit, usage, deadLetter] = await Promise.all([
      ...this.queues.map(([, q]) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')),
      this.dlq.backlog(),
    ]);
    const counts = (c: Record<string, number>): QueueCounts => ({
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
    });
    return {
      [QueueName.Audit]: counts(audit as Record<string, number>),
      [QueueName.Usage]: counts(usage as Record<string, number>),
      deadLetter: deadLetter as number,
    };
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.queues.map(([, q]) => q.close().catch(() => undefined)));
    await this.dlq.close().catch(() => undefined);
    this.connection.disconnect();
  }
}
