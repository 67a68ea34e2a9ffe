import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { QueueName } from '@toolgate/contracts';
import { type Job, Worker } from 'bullmq';
import Redis from 'ioredis';
import type { PrismaService } from '../../infra/prisma.service';
import { DeadLetterQueue } from './dead-letter';

/** How a consumer reaches its queue and sizes its batches (from the app's env). */
export interface BatchedQueueSettings {
  queue: QueueName.Audit | QueueName.Usage;
  redisUrl: string;
  /** BullMQ key prefix (the gateway's QUEUE_PREFIX). */
  prefix: string;
  /** The most jobs written in one batch. */
  batchSize: number;
  /** How long a partial batch waits for more jobs before it is written. */
  waitMs: number;
  /** BullMQ job lock: a job held longer by a dead worker is redelivered. */
  lockMs: number;
  /** Redis CLIENT SETNAME of the consumer's connection (tests find and kill it by this name). */
  connectionName: string;
  /** Groups of one batch written at the same time (each holds one pooled database connection). */
  lanes?: number;
  /**
   * Batches' worth of jobs held at once (BullMQ concurrency = batchSize × this): 2 lets the next
   * batch fill while one is written; 1 stops fetching while a full batch is written. Default 2.
   */
  batchesInFlight?: 1 | 2;
}

/** A job parked in the current batch, its payload parsed; settled once its fate is known. */
export interface Parked<T> {
  job: Job;
  item: T;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A payload parsed with its contracts schema, or the reason it is poison. */
export type Parsed<T> = { ok: true; item: T } | { ok: false; error: string };

/** What writing a group did: items stored now, and redeliveries that changed nothing. */
export interface WriteResult {
  stored: number;
  duplicates: number;
}

export interface BatchCounters {
  batches: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  failedBatches: number;
}

interface Pending {
  job: Job;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The skeleton shared by the event-queue consumers (`tg-audit`, `tg-usage`): jobs in, batches
 * out, each job acknowledged only after the commit that stored it.
 *
 * BullMQ hands jobs over one at a time; the worker runs with concurrency batchesInFlight ×
 * batchSize and parks each job's promise. One writer loop per process takes up to batchSize parked jobs at a time:
 * whatever arrived while a batch was being written is written next without waiting again, so
 * under load batches grow to what arrives during one write (up to batchSize), and a quiet queue
 * still gets each job written within waitMs. With 2 batches in flight (the default) one batch fills
 * while the previous one is written.
 *
 * Per batch: each payload is parsed (`parse`, the contracts schema); poison goes to the
 * `tg-dead-letter` queue with its error and its job completes, so it never blocks or slows the
 * queue. The valid ones are split into groups (`groupsOf`, e.g. per org, arrival order kept) that
 * are written (`write`) up to `lanes` at a time, one transaction each.
 *
 * Failures: a failing group is retried item by item, so one item the database refuses cannot
 * hold the others back; with the database unreachable the whole group fails at once. Failed jobs
 * are retried by BullMQ with the backoff from `queueCatalog`, and jobs out of attempts are
 * dead-lettered too. Redis down: BullMQ keeps the jobs; the worker reconnects and resumes.
 *
 * Exactly once in effect is the writer's part: `write` must skip items it has already stored
 * (a worker killed between commit and acknowledgement, a stalled job, a re-sent batch).
 */
export abstract class BatchedQueueConsumer<T> implements OnModuleInit, OnModuleDestroy {
  protected readonly logger: Logger;
  protected readonly counters: BatchCounters = { batches: 0, stored: 0, duplicates: 0, deadLettered: 0, failedBatches: 0 };
  private connection: Redis | null = null;
  private worker: Worker | null = null;
  private dlq: DeadLetterQueue | null = null;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The running writer loop, if any (one batch at a time per process). */
  private writing: Promise<void> | null = null;

  protected constructor(
    private readonly settings: BatchedQueueSettings,
    private readonly prismaService: PrismaService,
    loggerName: string,
  ) {
    this.logger = new Logger(loggerName);
  }

  /** The counters, with `stored` under the name the consumer gives it (`appended`, `counted`). */
  protected statsAs<K extends string>(storedAs: K): Omit<BatchCounters, 'stored'> & Record<K, number> {
    const { stored, ...rest } = this.counters;
    return { ...rest, [storedAs]: stored } as Omit<BatchCounters, 'stored'> & Record<K, number>;
  }

  /** The payload parsed with the queue's contracts schema (never throws). */
  protected abstract parse(data: unknown): Parsed<T>;

  /** Stores one group in one transaction; throws to fail the whole group. */
  protected abstract write(items: readonly T[]): Promise<WriteResult>;

  /** Splits a batch's valid items into groups written independently. Default: one group. */
  protected groupsOf(items: Array<Parked<T>>): Array<Array<Parked<T>>> {
    return items.length > 0 ? [items] : [];
  }

  /** After a group's commit and acknowledgements (never throws; e.g. usage's quota alerts). */
  protected async afterStored(_items: readonly T[]): Promise<void> {}

  onModuleInit(): void {
    const s = this.settings;
    // BullMQ needs maxRetriesPerRequest: null: its blocking commands wait out Redis outages.
    this.connection = new Redis(s.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: s.connectionName,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.connection.on('error', (e) => this.logger.warn(`redis: ${e.message}`));
    this.dlq = new DeadLetterQueue(this.connection, s.prefix);
    this.worker = new Worker(s.queue, (job) => this.enqueue(job), {
      connection: this.connection,
      prefix: s.prefix,
      concurrency: (s.batchesInFlight ?? 2) * s.batchSize,
      lockDuration: s.lockMs,
      stalledInterval: Math.min(s.lockMs, 30_000),
      // A job can stall several times across worker restarts without being lost.
      maxStalledCount: 10,
      // Completed jobs are kept per queueCatalog (the gateway's dedupe window for re-sent jobs).
    });
    this.worker.on('error', (e) => this.logger.warn(`worker: ${e.message}`));
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));
  }

  async onModuleDestroy(): Promise<void> {
    // Stop fetching, write what is parked (close() waits for the active jobs, i.e. for the flush).
    const closing = this.worker?.close();
    this.flush();
    await closing;
    await this.writing;
    await this.dlq?.close();
    this.connection?.disconnect();
  }

  private enqueue(job: Job): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length >= this.settings.batchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.settings.waitMs);
    });
  }

  /** Something is due: a full batch, a partial one that has waited long enough, or shutdown. */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.writing ??= this.pump().finally(() => {
      this.writing = null;
      // Jobs parked between the loop's last check and now: not left waiting for another trigger.
      if (this.pending.length > 0) this.flush();
    });
  }

  /** The one writer loop: batches of up to batchSize parked jobs until none is left. */
  private async pump(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.settings.batchSize);
      if (this.pending.length === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      try {
        await this.writeBatch(batch);
      } catch (e) {
        // Unexpected (writeBatch handles its own failures): fail what is still open, keep going.
        this.logger.error(`${this.settings.queue} batch crashed: ${(e as Error).stack ?? e}`);
        for (const p of batch) p.reject(e as Error);
      }
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const valid: Array<Parked<T>> = [];
    for (const p of batch) {
      const parsed = this.parse(p.job.data);
      if (parsed.ok) valid.push({ ...p, item: parsed.item });
      else await this.deadLetterInvalid(p, parsed.error);
    }
    const groups = this.groupsOf(valid);
    let next = 0;
    const lane = async () => {
      while (next < groups.length) await this.writeGroup(groups[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.lanes ?? 1, groups.length) }, lane));
    if (groups.length > 0) this.counters.batches++;
  }

  private async writeGroup(group: Array<Parked<T>>): Promise<void> {
    try {
      this.count(await this.write(group.map((p) => p.item)));
      for (const p of group) p.resolve();
    } catch (e) {
      this.counters.failedBatches++;
      await this.isolate(group, e as Error);
      return;
    }
    await this.afterStored(group.map((p) => p.item));
  }

  /**
   * A group failed. With the database unreachable every item would fail the same way: fail them
   * all (BullMQ retries later). Otherwise write them one by one, so only an item the database
   * refuses fails (and is retried, then dead-lettered) and its neighbours are stored.
   */
  private async isolate(group: Array<Parked<T>>, error: Error): Promise<void> {
    const reachable =
      group.length > 1 &&
      (await this.prismaService.db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ));
    if (!reachable) {
      this.logger.warn(`${this.settings.queue} batch of ${group.length} failed, will retry: ${error.message}`);
      for (const p of group) p.reject(error);
      return;
    }
    const stored: T[] = [];
    for (const p of group) {
      try {
        this.count(await this.write([p.item]));
        stored.push(p.item);
        p.resolve();
      } catch (e) {
        this.logger.warn(`${this.settings.queue} job ${p.job.id} failed, will retry: ${(e as Error).message}`);
        p.reject(e as Error);
      }
    }
    if (stored.length > 0) await this.afterStored(stored);
  }

  private count(res: WriteResult): void {
    this.counters.stored += res.stored;
    this.counters.duplicates += res.duplicates;
  }

  private async deadLetterInvalid(p: Pending, error: string): Promise<void> {
    try {
      await this.dlq!.add({
        queue: this.settings.queue,
        jobId: p.job.id ?? null,
        data: p.job.data,
        error,
        reason: 'invalid',
        attemptsMade: p.job.attemptsMade,
      });
      this.counters.deadLettered++;
      this.logger.warn(`${this.settings.queue} job ${p.job.id} dead-lettered (invalid): ${error}`);
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
        queue: this.settings.queue,
        jobId: job.id ?? null,
        data: job.data,
        error: err.message,
        reason: 'exhausted',
        attemptsMade: job.attemptsMade,
      });
      this.counters.deadLettered++;
    } catch (e) {
      this.logger.error(`${this.settings.queue} job ${job.id} failed for good and could not be dead-lettered: ${(e as Error).message}`);
    }
  }
}
