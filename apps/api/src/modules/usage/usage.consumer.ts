import { Inject, Injectable } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { BatchedQueueConsumer, type Parsed, type WriteResult } from '../events/batched-queue-consumer';
import { describeError } from '../events/dead-letter';
import { QuotaAlertService } from './quota-alerts.service';
import { UsageRollupWriter } from './usage.rollup';
import { StorableUsageEvent } from './usage.rules';
import { describeFailure } from '../../infra/failures';

export interface UsageConsumerStats {
  batches: number;
  /** Jobs taken from the queue (each a batch of events). */
  jobs: number;
  /** Jobs the worker holds at most now (follows the jobs' average size). */
  concurrency: number;
  /** Events counted into the roll-ups. */
  counted: number;
  /** Redelivered events that changed nothing. */
  duplicates: number;
  deadLettered: number;
  failedBatches: number;
}

/**
 * The `tg-usage` consumer: rolls usage events up per org / key / server / tool / hour.
 *
 * Batching, acknowledgement after commit, dead-lettering and retries are BatchedQueueConsumer's
 * (batches of USAGE_BATCH_SIZE, or what arrived within USAGE_BATCH_WAIT_MS); each batch is one SQL
 * statement (see UsageRollupWriter), followed by the quota alerts.
 *
 * - Exactly once: the writer skips event ids it has already counted, so redeliveries (a worker
 *   killed between commit and acknowledgement, a stalled job, a gateway re-sending a batch)
 *   change nothing. Ids are remembered USAGE_DEDUPE_DAYS days (pruned on a timer).
 */
@Injectable()
export class UsageConsumer extends BatchedQueueConsumer<StorableUsageEvent> {
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(ENV) private readonly env: Env,
    prisma: PrismaService,
    private readonly writer: UsageRollupWriter,
    private readonly quotas: QuotaAlertService,
  ) {
    super(
      {
        queue: QueueName.Usage,
        redisUrl: env.REDIS_URL,
        prefix: env.QUEUE_PREFIX,
        batchSize: env.USAGE_BATCH_SIZE,
        waitMs: env.USAGE_BATCH_WAIT_MS,
        lockMs: env.USAGE_LOCK_MS,
        probe: { baseMs: env.OUTAGE_PROBE_BASE_MS, maxMs: env.OUTAGE_PROBE_MAX_MS },
        logLevel: env.LOG_LEVEL,
        connectionName: 'toolgate-usage-consumer',
        // One batch in flight, as before the shared base: at most USAGE_BATCH_SIZE jobs locked.
        batchesInFlight: 1,
      },
      prisma,
      'UsageConsumer',
    );
  }

  get stats(): UsageConsumerStats {
    return this.statsAs('counted');
  }

  override onModuleInit(): void {
    super.onModuleInit();
    this.pruneTimer = setInterval(() => void this.prune(), Math.max(1000, this.env.USAGE_PRUNE_INTERVAL_MS));
    this.pruneTimer.unref();
  }

  override async onModuleDestroy(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await super.onModuleDestroy();
  }

  /** Remove ids older than the dedupe window. Exposed for the timer and for tests. */
  async prune(now = new Date()): Promise<number> {
    try {
      return await this.writer.prune(new Date(now.getTime() - this.env.USAGE_DEDUPE_DAYS * 86_400_000));
    } catch (e) {
      this.logger.warn(`prune failed: ${describeFailure(e)}`);
      return 0;
    }
  }

  protected override parse(data: unknown): Parsed<StorableUsageEvent> {
    const parsed = StorableUsageEvent.safeParse(data);
    return parsed.success ? { ok: true, item: parsed.data } : { ok: false, error: describeError(parsed.error) };
  }

  protected override async write(events: readonly StorableUsageEvent[]): Promise<WriteResult> {
    const res = await this.writer.write(events);
    return { stored: res.counted, duplicates: res.duplicates };
  }

  /**
   * After the commit and the acknowledgements: the keys' last-used times, then alerts and the
   * gateway counter. Never throws: a failed stamp is caught up by the key's next batch.
   */
  protected override async afterStored(events: readonly StorableUsageEvent[]): Promise<void> {
    try {
      await this.writer.touchKeys(events);
    } catch (e) {
      this.logger.warn(`lastUsedAt not updated: ${describeFailure(e)}`);
    }
    await this.quotas.afterBatch(events);
  }
}
