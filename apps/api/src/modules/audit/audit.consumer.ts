import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { type Job, Worker } from 'bullmq';
import Redis from 'ioredis';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { DeadLetterQueue, describeError } from '../usage/dead-letter';
import { storableJson } from './audit.canonical';
import { AuditChainWriter, type ChainEntry } from './audit.chain-writer';
import { StorableAuditEvent } from './audit.rules';

interface Pending {
  job: Job;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Valid {
  p: Pending;
  entry: ChainEntry;
}

export interface AuditConsumerStats {
  batches: number;
  /** Events appended to a chain. */
  appended: number;
  /** Redelivered events that changed nothing. */
  duplicates: number;
  deadLettered: number;
  failedBatches: number;
}

/** Org transactions of one batch that run at the same time (each holds one pooled connection). */
const ORG_PARALLELISM = 4;

/**
 * The `tg-audit` consumer: appends the gateway's audit events to each org's hash chain.
 *
 * BullMQ hands jobs over one at a time; the worker runs with concurrency 2 × AUDIT_BATCH_SIZE and
 * parks each job's promise in a batch that is written when it is full or has waited
 * AUDIT_BATCH_WAIT_MS (so one batch fills while the previous one is being written). A batch is
 * split per org, in arrival order, and each org's part is one transaction of AuditChainWriter (a
 * handful of statements whatever its size). Jobs are acknowledged only after their commit.
 *
 * - Exactly once in effect: the writer skips event ids already in the chain (under the org's
 *   chain lock, before numbering), so a redelivery (a worker killed between commit and
 *   acknowledgement, a stalled job, a gateway re-sending a batch) changes nothing and leaves no
 *   gap in the sequence.
 * - Order: events are chained in the order they were received. An event whose gateway timestamp
 *   (`at`) is older than its predecessors' is appended after them all the same; `at` is data,
 *   `seq` is the order of record.
 * - Poison messages (payload not a valid AuditEvent) go to the `tg-dead-letter` queue with their
 *   validation error, and their job completes: they never block or slow the queue.
 * - Transient failures (database down, lock timeout) fail the org's jobs, which BullMQ retries
 *   with the backoff from `queueCatalog`; a failing org batch is retried event by event so one
 *   event the database refuses cannot hold the others back. Jobs out of attempts are dead-lettered.
 * - Redis down: BullMQ keeps the jobs; the worker reconnects and resumes on its own.
 */
@Injectable()
export class AuditConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AuditConsumer');
  private connection: Redis | null = null;
  private worker: Worker | null = null;
  private dlq: DeadLetterQueue | null = null;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The running writer loop, if any (one batch at a time per process). */
  private writing: Promise<void> | null = null;
  readonly stats: AuditConsumerStats = { batches: 0, appended: 0, duplicates: 0, deadLettered: 0, failedBatches: 0 };

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
    private readonly writer: AuditChainWriter,
  ) {}

  onModuleInit(): void {
    // BullMQ needs maxRetriesPerRequest: null: its blocking commands wait out Redis outages.
    this.connection = new Redis(this.env.REDIS_URL, {
      maxRetriesPerRequest: null,
      connectionName: 'toolgate-audit-consumer',
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.connection.on('error', (e) => this.logger.warn(`redis: ${e.message}`));
    this.dlq = new DeadLetterQueue(this.connection, this.env.QUEUE_PREFIX);
    this.worker = new Worker(QueueName.Audit, (job) => this.enqueue(job), {
      connection: this.connection,
      prefix: this.env.QUEUE_PREFIX,
      concurrency: 2 * this.env.AUDIT_BATCH_SIZE,
      lockDuration: this.env.AUDIT_LOCK_MS,
      stalledInterval: Math.min(this.env.AUDIT_LOCK_MS, 30_000),
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
      if (this.pending.length >= this.env.AUDIT_BATCH_SIZE) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.env.AUDIT_BATCH_WAIT_MS);
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

  /**
   * The one writer loop: takes up to AUDIT_BATCH_SIZE parked jobs at a time. Whatever arrived
   * while a batch was being written has waited at least that long, so it is written next without
   * waiting again: under load, batches grow to what arrives during one write (up to the batch
   * size), and a quiet queue still gets each event written within AUDIT_BATCH_WAIT_MS.
   */
  private async pump(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.env.AUDIT_BATCH_SIZE);
      if (this.pending.length === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      try {
        await this.writeBatch(batch);
      } catch (e) {
        // Unexpected (writeBatch handles its own failures): fail what is still open, keep going.
        this.logger.error(`audit batch crashed: ${(e as Error).stack ?? e}`);
        for (const p of batch) p.reject(e as Error);
      }
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    // Validate and group per org, keeping arrival order inside each org.
    const byOrg = new Map<string, Valid[]>();
    for (const p of batch) {
      const entry = this.toEntry(p.job.data);
      if (typeof entry === 'string') {
        await this.deadLetter(p, entry);
        continue;
      }
      const orgId = String(entry.payload.orgId).toLowerCase();
      const list = byOrg.get(orgId);
      if (list) list.push({ p, entry });
      else byOrg.set(orgId, [{ p, entry }]);
    }
    const orgs = [...byOrg.entries()];
    let next = 0;
    const lane = async () => {
      while (next < orgs.length) {
        const [orgId, items] = orgs[next++]!;
        await this.writeOrg(orgId, items);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ORG_PARALLELISM, orgs.length) }, lane));
    this.stats.batches++;
  }

  /** A validated, storable chain entry, or the reason the message is poison. */
  private toEntry(data: unknown): ChainEntry | string {
    const parsed = StorableAuditEvent.safeParse(data);
    if (!parsed.success) return describeError(parsed.error);
    // A job's data went through JSON in Redis, so it holds nothing canonical JSON could refuse.
    return { id: parsed.data.id.toLowerCase(), payload: storableJson(parsed.data) as Record<string, unknown> };
  }

  private async writeOrg(orgId: string, items: Valid[]): Promise<void> {
    try {
      const res = await this.writer.append(
        orgId,
        items.map((v) => v.entry),
      );
      this.stats.appended += res.appended;
      this.stats.duplicates += res.duplicates;
      for (const v of items) v.p.resolve();
    } catch (e) {
      this.stats.failedBatches++;
      await this.isolate(orgId, items, e as Error);
    }
  }

  /**
   * An org's batch failed. With the database unreachable every event would fail the same way:
   * fail them all (BullMQ retries later). Otherwise append them one by one, so only an event the
   * database refuses fails (and is retried, then dead-lettered) and its neighbours are stored.
   */
  private async isolate(orgId: string, items: Valid[], error: Error): Promise<void> {
    const reachable =
      items.length > 1 &&
      (await this.prisma.db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ));
    if (!reachable) {
      this.logger.warn(`audit batch of ${items.length} for org ${orgId} failed, will retry: ${error.message}`);
      for (const v of items) v.p.reject(error);
      return;
    }
    for (const v of items) {
      try {
        const res = await this.writer.append(orgId, [v.entry]);
        this.stats.appended += res.appended;
        this.stats.duplicates += res.duplicates;
        v.p.resolve();
      } catch (e) {
        this.logger.warn(`audit event ${v.entry.id} failed, will retry: ${(e as Error).message}`);
        v.p.reject(e as Error);
      }
    }
  }

  private async deadLetter(p: Pending, error: string): Promise<void> {
    try {
      await this.dlq!.add({
        queue: QueueName.Audit,
        jobId: p.job.id ?? null,
        data: p.job.data,
        error,
        reason: 'invalid',
        attemptsMade: p.job.attemptsMade,
      });
      this.stats.deadLettered++;
      this.logger.warn(`audit job ${p.job.id} dead-lettered (invalid): ${error}`);
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
        queue: QueueName.Audit,
        jobId: job.id ?? null,
        data: job.data,
        error: err.message,
        reason: 'exhausted',
        attemptsMade: job.attemptsMade,
      });
      this.stats.deadLettered++;
    } catch (e) {
      this.logger.error(`audit job ${job.id} failed for good and could not be dead-lettered: ${(e as Error).message}`);
    }
  }
}
