import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { type Job, Worker } from 'bullmq';
import Redis from 'ioredis';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { DeadLetterQueue, describeError } from './dead-letter';
import { QuotaAlertService } from './quota-alerts.service';
import { UsageRollupWriter } from './usage.rollup';
import { StorableUsageEvent } from './usage.rules';

interface Pending {
  job: Job;
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface UsageConsumerStats {
  batches: number;
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
 * BullMQ delivers jobs one at a time; this consumer runs the worker with concurrency =
 * USAGE_BATCH_SIZE and parks each job's promise in a batch that is written when it is full or has
 * waited USAGE_BATCH_WAIT_MS, in one SQL statement (see UsageRollupWriter). Every job of the
 * batch is acknowledged only after that commit. Batches are written one at a time per process.
 *
 * - Exactly once: the writer skips event ids it has already counted, so redeliveries (a worker
 *   killed between commit and acknowledgement, a stalled job, a gateway re-sending a batch)
 *   change nothing. Ids are remembered USAGE_DEDUPE_DAYS days (pruned on a timer).
 * - Poison messages (payload not a valid UsageEvent) go to the `tg-dead-letter` queue with the
 *   validation error and their job completes: they never block or slow the queue.
 * - Transient failures (database down, deadlock) fail the jobs, which BullMQ retries with the
 *   backoff from `queueCatalog`; a failing batch is retried event by event so one event the
 *   database refuses cannot drag the others down with it. Jobs out of attempts are dead-lettered.
 * - Redis down: BullMQ keeps the jobs; the worker reconnects and resumes on its own.
 */
@Injectable()
export class UsageConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('UsageConsumer');
  private connection: Redis | null = null;
  private worker: Worker | null = null;
  private dlq: DeadLetterQueue | null = null;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** Tail of the chain of batch writes (one at a time). */
  private writing: Promise<void> = Promise.resolve();
  readonly stats: UsageConsumerStats = { batches: 0, counted: 0, duplicates: 0, deadLettered: 0, failedBatches: 0 };

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
    private readonly writer: UsageRollupWriter,
    private readonly quotas: QuotaAlertService,
  ) {}

  onModuleInit(): void {
    // BullMQ needs maxRetriesPerRequest: null: its blocking commands wait out Redis outages.
    this.connection = new Redis(this.env.REDIS_URL, {
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.connection.on('error', (e) => this.logger.warn(`redis: ${e.message}`));
    this.dlq = new DeadLetterQueue(this.connection, this.env.QUEUE_PREFIX);
    this.worker = new Worker(QueueName.Usage, (job) => this.enqueue(job), {
      connection: this.connection,
      prefix: this.env.QUEUE_PREFIX,
      concurrency: this.env.USAGE_BATCH_SIZE,
      lockDuration: this.env.USAGE_LOCK_MS,
      stalledInterval: Math.min(this.env.USAGE_LOCK_MS, 30_000),
      // A job can stall several times across worker restarts without being lost.
      maxStalledCount: 10,
      // Completed jobs are kept per queueCatalog (the gateway's dedupe window for re-sent jobs).
    });
    this.worker.on('error', (e) => this.logger.warn(`worker: ${e.message}`));
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));

    this.pruneTimer = setInterval(() => void this.prune(), Math.max(1000, this.env.USAGE_PRUNE_INTERVAL_MS));
    this.pruneTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    // Stop fetching, write what is parked (close() waits for the active jobs, i.e. for the flush).
    const closing = this.worker?.close();
    this.flush();
    await closing;
    await this.writing;
    await this.dlq?.close();
    this.connection?.disconnect();
  }

  /** Remove ids older than the dedupe window. Exposed for the timer and for tests. */
  async prune(now = new Date()): Promise<number> {
    try {
      return await this.writer.prune(new Date(now.getTime() - this.env.USAGE_DEDUPE_DAYS * 86_400_000));
    } catch (e) {
      this.logger.warn(`prune failed: ${(e as Error).message}`);
      return 0;
    }
  }

  private enqueue(job: Job): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length >= this.env.USAGE_BATCH_SIZE) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.env.USAGE_BATCH_WAIT_MS);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing
      .then(() => this.writeBatch(batch))
      .catch((e: unknown) => {
        // Unexpected (writeBatch handles its own failures): fail what is still open, keep the chain alive.
        this.logger.error(`usage batch crashed: ${(e as Error).stack ?? e}`);
        for (const p of batch) p.reject(e as Error);
      });
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const valid: Array<{ p: Pending; event: StorableUsageEvent }> = [];
    for (const p of batch) {
      const parsed = StorableUsageEvent.safeParse(p.job.data);
      if (parsed.success) valid.push({ p, event: parsed.data });
      else await this.deadLetter(p, 'invalid', describeError(parsed.error));
    }
    if (valid.length === 0) return;
    try {
      const res = await this.writer.write(valid.map((v) => v.event));
      this.stats.batches++;
      this.stats.counted += res.counted;
      this.stats.duplicates += res.duplicates;
      for (const v of valid) v.p.resolve();
      if (res.duplicates > 0) this.logger.debug(`batch of ${valid.length}: ${res.duplicates} already counted`);
    } catch (e) {
      this.stats.failedBatches++;
      await this.isolate(valid, e as Error);
      return;
    }
    // After the commit and the acknowledgements: alerts and the gateway counter (never throws).
    await this.quotas.afterBatch(valid.map((v) => v.event));
  }

  /**
   * A batch failed. With the database unreachable every event would fail the same way: fail them
   * all (BullMQ retries later). Otherwise write them one by one, so only an event the database
   * refuses fails (and is retried, then dead-lettered) and its neighbours are counted.
   */
  private async isolate(valid: Array<{ p: Pending; event: StorableUsageEvent }>, error: Error): Promise<void> {
    const reachable =
      valid.length > 1 &&
      (await this.prisma.db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ));
    if (!reachable) {
      this.logger.warn(`usage batch of ${valid.length} failed, will retry: ${error.message}`);
      for (const v of valid) v.p.reject(error);
      return;
    }
    const counted: StorableUsageEvent[] = [];
    for (const v of valid) {
      try {
        const res = await this.writer.write([v.event]);
        this.stats.counted += res.counted;
        this.stats.duplicates += res.duplicates;
        counted.push(v.event);
        v.p.resolve();
      } catch (e) {
        this.logger.warn(`usage event ${v.event.id} failed, will retry: ${(e as Error).message}`);
        v.p.reject(e as Error);
      }
    }
    if (counted.length > 0) await this.quotas.afterBatch(counted);
  }

  private async deadLetter(p: Pending, reason: 'invalid' | 'exhausted', error: string): Promise<void> {
    try {
      await this.dlq!.add({
        queue: QueueName.Usage,
        jobId: p.job.id ?? null,
        data: p.job.data,
        error,
        reason,
        attemptsMade: p.job.attemptsMade,
      });
      this.stats.deadLettered++;
      this.logger.warn(`usage job ${p.job.id} dead-lettered (${reason}): ${error}`);
      p.resolve();
    } catch (e) {
      // Redis refused the dead letter: leave the job to BullMQ's retries.
      p.reject(e as Error);
    }
  }

  /** A job out of attempts goes to the dead-letter queue too (it stays in `failed` as well). */
  private async onFailed(job: Job | undefined, err: Error): Promise<void> {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    try {
      await this.dlq!.add({
        queue: QueueName.Usage,
        jobId: job.id ?? null,
        data: job.data,
        error: err.message,
        reason: 'exhausted',
        attemptsMade: job.attemptsMade,
      });
      this.stats.deadLettered++;
    } catch (e) {
      this.logger.error(`usage job ${job.id} failed for good and could not be dead-lettered: ${(e as Error).message}`);
    }
  }
}
