import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { Gauge } from 'prom-client';
import { ENV, type Env } from '../../config/env';
import { type ApiMetrics, METRICS } from '../health/metrics';
import { type DeadLetter, DeadLetterQueue, type Memory, type RedriveResult, redriveIsSafe } from './dead-letter';
import { memoryOf } from './dead-letter.redriver';
import type { RedriveDto } from './dead-letters.dto';

/**
 * The API's side of the dead-letter queue: the backlog as a Prometheus gauge (read from Redis at
 * each scrape) and the operator's "re-drive now".
 */
@Injectable()
export class DeadLettersService implements OnModuleDestroy {
  private readonly connection: Redis;
  private readonly dlq: DeadLetterQueue;
  private readonly memory: Memory;

  constructor(@Inject(ENV) env: Env, @Inject(METRICS) metrics: ApiMetrics) {
    // Its own connection: BullMQ queues share it with nothing else, and a scrape or an operator
    // call fails fast while Redis is down instead of queueing.
    this.connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false });
    this.connection.on('error', () => undefined);
    this.dlq = new DeadLetterQueue(this.connection, env.QUEUE_PREFIX);
    this.memory = memoryOf(env);
    const dlq = this.dlq;
    new Gauge({
      name: 'toolgate_dead_letter_backlog',
      help: 'Messages parked in the tg-dead-letter queue, waiting for a re-drive',
      registers: [metrics.registry],
      async collect() {
        // Redis unreachable: no sample rather than a stale or invented one.
        const n = await dlq.backlog().catch(() => null);
        if (n === null) this.reset();
        else this.set(n);
      },
    });
  }

  /**
   * Re-drives every matching letter at once, whatever its backoff or automatic re-drive count;
   * letters older than their consumer's memory of stored ids stay (see redriveIsSafe).
   */
  redriveNow(dto: RedriveDto): Promise<RedriveResult> {
    const now = Date.now();
    return this.dlq.redrive(
      (l: DeadLetter) =>
        (dto.queue === undefined || l.queue === dto.queue) &&
        (dto.includeInvalid || l.reason === 'exhausted') &&
        redriveIsSafe(l, now, this.memory),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.dlq.close().catch(() => undefined);
    this.connection.disconnect();
  }
}
