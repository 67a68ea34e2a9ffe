import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { eventsOfJob, MAX_EVENTS_PER_JOB, type QueueName } from '@toolgate/contracts';
import { type Job, WaitingError, Worker } from 'bullmq';
import Redis from 'ioredis';
import { createJsonLogger, type JsonLogger, type LogLevel, traceFields } from '../../common/json-log';
import { describeFailure, isConnectionFailure } from '../../infra/failures';
import { Outage, type ProbeBackoff } from '../../infra/outage';
import type { PrismaService } from '../../infra/prisma.service';
import { DeadLetterQueue, describeError, lineageOf } from './dead-letter';

/** How a consumer reaches its queue and sizes its batches (from the app's env). */
export interface BatchedQueueSettings {
  queue: QueueName.Audit | QueueName.Usage;
  redisUrl: string;
  /** BullMQ key prefix (the gateway's QUEUE_PREFIX). */
  prefix: string;
  /** The most events written in one batch (whole jobs are taken until it is reached). */
  batchSize: number;
  /** How long a partial batch waits for more jobs before it is written. */
  waitMs: number;
  /** BullMQ job lock: a job held longer by a dead worker is redelivered (see `stalledIntervalOf`). */
  lockMs: number;
  /** How the database is probed while it is unreachable. */
  probe: ProbeBackoff;
  /** Redis CLIENT SETNAME of the consumer's connection (tests find and kill it by this name). */
  connectionName: string;
  /** Groups of one batch written at the same time (each holds one pooled database connection). */
  lanes?: number;
  /**
   * Batches' worth of events held at once: 2 lets the next batch fill while one is written; 1
   * stops fetching while a full batch is written. Default 2. BullMQ counts jobs, not events, so
   * the worker's concurrency follows the jobs' average size (see `fitConcurrency`).
   */
  batchesInFlight?: 1 | 2;
  /** The job log (one JSON line per job at info; json-log.ts). Default info. */
  logLevel?: LogLevel;
}

/**
 * A job taken from the queue: the events it carries (see `eventsOfJob`), settled once every one
 * of them is stored or dead-lettered (resolve) or one of them failed (reject: BullMQ retries the
 * job, and the events already stored are skipped as redeliveries).
 */
export interface Ticket {
  job: Job;
  /** The worker's lock token, to hand the job back without an attempt. */
  token: string | undefined;
  unwrapped: ReturnType<typeof eventsOfJob>;
  /** Events in the job (1 for a job refused whole). */
  size: number;
  /** Events not yet settled. */
  open: number;
  error: Error | null;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One event of the current batch, its payload parsed, with the job it came in. */
export interface Parked<T> {
  ticket: Ticket;
  /** Where the event sits in its job (for dead letters). */
  index: number;
  item: T;
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
  /** Jobs taken from the queue (each carries one or more events). */
  jobs: number;
  stored: number;
  duplicates: number;
  /** Events (or jobs refused whole) parked in the dead-letter queue. */
  deadLettered: number;
  failedBatches: number;
}

/** The worker's concurrency (jobs held at once) stays within these, whatever the jobs' sizes. */
const MIN_JOBS_IN_FLIGHT = 2;

/**
 * How often BullMQ looks for jobs whose worker died: a fifth of the lock, at least a second. A
 * killed worker's job is redelivered within lockMs + this (about 6 s with the default 5 s lock):
 * its lock must lapse first, and the lock is renewed every lockMs / 2, so the lock (not this)
 * is what guards against false stalls when a busy event loop renews late.
 */
const stalledIntervalOf = (lockMs: number): number => Math.max(1000, Math.round(lockMs / 5));

/**
 * The skeleton shared by the event-queue consumers (`tg-audit`, `tg-usage`): jobs in, batches
 * out, each job acknowledged only after the commit that stored its events.
 *
 * A job carries a batch of events (`EventBatch`; a bare event is a batch of one). BullMQ hands
 * jobs over one at a time; the worker parks each job's promise. One writer loop per process takes
 * whole parked jobs until it holds batchSize events: whatever arrived while a batch was being
 * written is written next without waiting again, so under load batches grow to what arrives
 * during one write (up to batchSize events), and a quiet queue still gets each job written within
 * waitMs. With 2 batches in flight (the default) one batch fills while the previous one is
 * written. The worker's concurrency (jobs held at once) follows the jobs' average size so that
 * about batchesInFlight × batchSize events are held, whether the gateways send big jobs (busy) or
 * jobs of one event.
 *
 * Per batch: each event is parsed (`parse`, the contracts schema); a poison event goes to the
 * `tg-dead-letter` queue with its error (alone: the rest of its job is stored), and a job whose
 * envelope is malformed goes there whole; neither blocks or slows the queue. The valid events are
 * split into groups (`groupsOf`, e.g. per org, arrival order kept) that are written (`write`) up
 * to `lanes` at a time, one transaction each.
 *
 * Failures are split by `classifyFailure` (infra/failures.ts):
 * - Connection-class (the database unreachable, timing out, restarting): nobody's fault, so no
 *   attempt is spent. The worker pauses (takes no new jobs), keeps the jobs it holds (their locks
 *   are still renewed, so nobody else takes them), probes the database with backoff (`Outage`)
 *   and, once it answers, resumes and writes the held groups again. However long the outage, no
 *   job is retried or dead-lettered for it. On shutdown during an outage the held jobs go back to
 *   `wait` without an attempt.
 * - Anything else is the events' own fault: the group is retried event by event, so one event
 *   the database refuses cannot hold the others back. A job with a failed event is retried by
 *   BullMQ with the backoff from `queueCatalog` (its stored events are skipped as redeliveries);
 *   on the job's last attempt the event that still fails is dead-lettered alone.
 * Redis down: BullMQ keeps the jobs; the worker reconnects and resumes.
 *
 * Exactly once in effect is the writer's part: `write` must skip events it has already stored
 * (a worker killed between commit and acknowledgement, a stalled job, a re-sent job).
 */
export abstract class BatchedQueueConsumer<T> implements OnModuleInit, OnModuleDestroy {
  protected readonly logger: Logger;
  private readonly jobLog: JsonLogger;
  protected readonly counters: BatchCounters = { batches: 0, jobs: 0, stored: 0, duplicates: 0, deadLettered: 0, failedBatches: 0 };
  private connection: Redis | null = null;
  private worker: Worker | null = null;
  private dlq: DeadLetterQueue | null = null;
  private pending: Ticket[] = [];
  /** Events in `pending`. */
  private pendingEvents = 0;
  /**
   * Average events per job lately (exponentially weighted), for the worker's concurrency. It
   * starts at the largest job the gateway sends, so a worker started on a backlog of full jobs
   * does not take a batch's worth of them per event first; small jobs raise the concurrency
   * within a few dozen jobs.
   */
  private eventsPerJob: number = MAX_EVENTS_PER_JOB;
  private timer: NodeJS.Timeout | null = null;
  /** The running writer loop, if any (one batch at a time per process). */
  private writing: Promise<void> | null = null;
  private database: Outage;
  /** Aborted on shutdown: stops waiting for an unreachable database. */
  private readonly stopping = new AbortController();

  protected constructor(
    private readonly settings: BatchedQueueSettings,
    private readonly prismaService: PrismaService,
    loggerName: string,
  ) {
    this.logger = new Logger(loggerName);
    this.jobLog = createJsonLogger('worker', settings.logLevel ?? 'info');
    this.database = new Outage(`${settings.queue}: database`, settings.probe, this.logger);
  }

  /**
   * The counters, with `stored` under the name the consumer gives it (`appended`, `counted`), and
   * the worker's current concurrency (jobs it holds at most).
   */
  protected statsAs<K extends string>(storedAs: K): Omit<BatchCounters, 'stored'> & { concurrency: number } & Record<K, number> {
    const { stored, ...rest } = this.counters;
    return { ...rest, concurrency: this.worker?.concurrency ?? 0, [storedAs]: stored } as Omit<BatchCounters, 'stored'> & {
      concurrency: number;
    } & Record<K, number>;
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

  /** Jobs the worker holds at once for the current average job size. */
  private fitConcurrency(): number {
    const events = (this.settings.batchesInFlight ?? 2) * this.settings.batchSize;
    return Math.max(MIN_JOBS_IN_FLIGHT, Math.min(events, Math.ceil(events / this.eventsPerJob)));
  }

  onModuleInit(): void {
    const s = this.settings;
    // BullMQ needs maxRetriesPerRequest: null: its blocking commands wait out Redis outages.
    this.connection = new Redis(s.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: s.connectionName,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.connection.on('error', (e) => this.logger.warn(`redis: ${describeFailure(e)}`));
    this.dlq = new DeadLetterQueue(this.connection, s.prefix);
    this.worker = new Worker(s.queue, (job, token) => this.enqueue(job, token), {
      connection: this.connection,
      prefix: s.prefix,
      concurrency: this.fitConcurrency(),
      lockDuration: s.lockMs,
      stalledInterval: stalledIntervalOf(s.lockMs),
      // A job can stall several times across worker restarts without being lost.
      maxStalledCount: 10,
      // Completed jobs are kept per queueCatalog (the gateway's dedupe window for re-sent jobs).
    });
    this.worker.on('error', (e) => this.logger.warn(`worker: ${describeFailure(e)}`));
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));
  }

  async onModuleDestroy(): Promise<void> {
    // Stop fetching, write what is parked (close() waits for the active jobs, i.e. for the flush);
    // jobs held for an unreachable database are handed back instead.
    this.stopping.abort();
    const closing = this.worker?.close();
    this.flush();
    await closing;
    await this.writing;
    await this.dlq?.close();
    this.connection?.disconnect();
  }

  private enqueue(job: Job, token: string | undefined): Promise<void> {
    const unwrapped = eventsOfJob(job.data);
    const parked = this.park(job, token, unwrapped);
    if (!this.jobLog.enabled('info')) return parked;
    const started = performance.now();
    const done = (outcome: 'ok' | 'failed') => {
      // The org when the job carries one org's events (a gateway batches per org); ids and counts only.
      const orgs = new Set(unwrapped.ok ? unwrapped.events.map((e) => (e as { orgId?: unknown }).orgId) : []);
      const orgId = orgs.size === 1 ? [...orgs][0] : undefined;
      this.jobLog.log('info', 'job', {
        queue: this.settings.queue,
        jobId: job.id,
        ...(typeof orgId === 'string' ? { orgId } : {}),
        events: unwrapped.ok ? unwrapped.events.length : 1,
        attempt: job.attemptsMade + 1,
        outcome,
        latencyMs: Math.round((performance.now() - started) * 1e3) / 1e3,
        ...traceFields(undefined),
      });
    };
    return parked.then(
      () => done('ok'),
      (e: unknown) => {
        done('failed');
        throw e;
      },
    );
  }

  private park(job: Job, token: string | undefined, unwrapped: ReturnType<typeof eventsOfJob>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const size = unwrapped.ok ? unwrapped.events.length : 1;
      this.counters.jobs++;
      this.eventsPerJob += (size - this.eventsPerJob) / 8;
      const fit = this.fitConcurrency();
      if (this.worker !== null && this.worker.concurrency !== fit) this.worker.concurrency = fit;
      this.pending.push({ job, token, unwrapped, size, open: size, error: null, resolve, reject });
      this.pendingEvents += size;
      if (this.pendingEvents >= this.settings.batchSize) this.flush();
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

  /** The one writer loop: batches of whole parked jobs, up to batchSize events, until none is left. */
  private async pump(): Promise<void> {
    while (this.pending.length > 0) {
      let n = 0;
      let events = 0;
      while (n < this.pending.length && (n === 0 || events + this.pending[n]!.size <= this.settings.batchSize))
        events += this.pending[n++]!.size;
      const batch = this.pending.splice(0, n);
      this.pendingEvents -= events;
      if (this.pending.length === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      try {
        await this.writeBatch(batch);
      } catch (e) {
        // Unexpected (writeBatch handles its own failures): fail what is still open, keep going.
        this.logger.error(`${this.settings.queue} batch crashed: ${(e as Error).stack ?? describeFailure(e)}`);
        for (const t of batch) if (t.open > 0) t.reject(e as Error);
      }
    }
  }

  private async writeBatch(batch: Ticket[]): Promise<void> {
    const valid: Array<Parked<T>> = [];
    const letters: Array<Promise<void>> = [];
    for (const ticket of batch) {
      const { unwrapped, job } = ticket;
      if (!unwrapped.ok) {
        letters.push(
          this.deadLetter(ticket, {
            jobId: lineageOf(job).jobId,
            data: job.data,
            error: describeError(unwrapped.error),
            reason: 'invalid',
          }),
        );
        continue;
      }
      for (let i = 0; i < unwrapped.events.length; i++) {
        const parsed = this.parse(unwrapped.events[i]);
        if (parsed.ok) valid.push({ ticket, index: i, item: parsed.item });
        else letters.push(this.deadLetter(ticket, { ...this.letterId(ticket, i), error: parsed.error, reason: 'invalid' }));
      }
    }
    await Promise.all(letters);
    const groups = this.groupsOf(valid);
    let next = 0;
    const lane = async () => {
      while (next < groups.length) await this.writeGroup(groups[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.lanes ?? 1, groups.length) }, lane));
    if (groups.length > 0) this.counters.batches++;
  }

  private async writeGroup(group: Array<Parked<T>>): Promise<void> {
    let result: WriteResult;
    try {
      result = await this.write(group.map((p) => p.item));
    } catch (e) {
      this.counters.failedBatches++;
      if (!(await this.outage(e))) return this.isolate(group);
      if (await this.databaseBack(e)) return this.writeGroup(group);
      return handBack(group);
    }
    this.count(result);
    for (const p of group) settle(p.ticket);
    await this.afterStored(group.map((p) => p.item));
  }

  /**
   * A group failed for its data: write its events one by one, so only an event the database
   * refuses fails its job (retried; on the job's last attempt the event is dead-lettered alone)
   * and its neighbours are stored.
   */
  private async isolate(group: Array<Parked<T>>): Promise<void> {
    const stored: T[] = [];
    for (let i = 0; i < group.length; i++) {
      const p = group[i]!;
      try {
        this.count(await this.write([p.item]));
        stored.push(p.item);
        settle(p.ticket);
      } catch (e) {
        if (!isConnectionFailure(e)) {
          await this.refused(p, e);
        } else if (await this.databaseBack(e)) {
          i--;
        } else {
          handBack(group.slice(i));
          break;
        }
      }
    }
    if (stored.length > 0) await this.afterStored(stored);
  }

  /**
   * Is this failure the database's rather than the group's? Connection-class by `classifyFailure`,
   * or (for an error shape it does not know) a database that does not answer `SELECT 1` either.
   */
  private async outage(e: unknown): Promise<boolean> {
    if (isConnectionFailure(e)) return true;
    return this.prismaService.db.$queryRaw`SELECT 1`.then(
      () => false,
      () => true,
    );
  }

  /** The database refused one event: its job is retried, or on its last attempt the event is dead-lettered. */
  private async refused(p: Parked<T>, e: unknown): Promise<void> {
    const { job } = p.ticket;
    const reason = describeFailure(e);
    if (job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
      this.logger.warn(`${this.settings.queue} job ${job.id} event ${p.index} failed, will retry: ${reason}`);
      settle(p.ticket, e instanceof Error ? e : new Error(reason));
    } else {
      await this.deadLetter(p.ticket, { ...this.letterId(p.ticket, p.index), error: reason, reason: 'exhausted' });
    }
  }

  /**
   * The database is unreachable: take no new jobs (the held ones keep their locks), probe it with
   * backoff, and resume once it answers. False if the consumer is shutting down instead.
   */
  private async databaseBack(cause: unknown): Promise<boolean> {
    const { signal } = this.stopping;
    if (signal.aborted || !this.worker) return false;
    await this.worker.pause(true);
    const up = await this.database.waitUntilUp(cause, () => this.prismaService.db.$queryRaw`SELECT 1`, signal);
    if (up && !signal.aborted) await this.worker.resume();
    return up;
  }

  private count(res: WriteResult): void {
    this.counters.stored += res.stored;
    this.counters.duplicates += res.duplicates;
  }

  /**
   * The dead letter's id and data for event `index` of a job: a bare event keeps the job's id, an
   * event of a batch gets `<job id>.<index>` (stable across redeliveries, so parked once).
   */
  private letterId(ticket: Ticket, index: number): { jobId: string | null; data: unknown } {
    const { job, unwrapped } = ticket;
    const { jobId } = lineageOf(job);
    if (!unwrapped.ok || !unwrapped.batch) return { jobId, data: job.data };
    return { jobId: jobId ? `${jobId}.${index}` : null, data: unwrapped.events[index] };
  }

  /** Parks one event (or a job refused whole) and settles it; if Redis refuses, the job is retried. */
  private async deadLetter(
    ticket: Ticket,
    letter: { jobId: string | null; data: unknown; error: string; reason: 'invalid' | 'exhausted' },
  ): Promise<void> {
    const { job } = ticket;
    try {
      await this.dlq!.add({
        queue: this.settings.queue,
        ...letter,
        attemptsMade: job.attemptsMade + (letter.reason === 'exhausted' ? 1 : 0),
        redrives: lineageOf(job).redrives,
      });
      this.counters.deadLettered++;
      this.logger.warn(`${this.settings.queue} job ${letter.jobId} dead-lettered (${letter.reason}): ${letter.error}`);
      settle(ticket);
    } catch (e) {
      settle(ticket, e as Error);
    }
  }

  /**
   * A job out of attempts that failed whole (its batch crashed, or Redis refused its letters)
   * goes to the dead-letter queue whole (it stays in `failed` as well). Re-driving it is safe: its
   * events already stored are skipped.
   */
  private async onFailed(job: Job | undefined, err: Error): Promise<void> {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    try {
      const { jobId, redrives } = lineageOf(job);
      await this.dlq!.add({
        queue: this.settings.queue,
        jobId,
        data: job.data,
        error: describeFailure(err),
        reason: 'exhausted',
        attemptsMade: job.attemptsMade,
        redrives,
      });
      this.counters.deadLettered++;
    } catch (e) {
      this.logger.error(`${this.settings.queue} job ${job.id} failed for good and could not be dead-lettered: ${describeFailure(e)}`);
    }
  }
}

/** Marks events handed back to the queue on shutdown (see `handBack`). */
const HANDED_BACK = new WaitingError('handed back: the database was unreachable at shutdown');

/** One event of a ticket is done (stored, dead-lettered, handed back, or failed with `error`). */
function settle(ticket: Ticket, error?: Error): void {
  if (error) ticket.error ??= error;
  if (--ticket.open > 0) return;
  if (ticket.error === HANDED_BACK) void returnToWait(ticket);
  else if (ticket.error) ticket.reject(ticket.error);
  else ticket.resolve();
}

/** Shutdown during an outage: the group's jobs go back to `wait` without an attempt (their stored events are skipped when they return). */
function handBack(group: ReadonlyArray<Parked<unknown>>): void {
  for (const p of group) settle(p.ticket, HANDED_BACK);
}

/** BullMQ ignores a processor's WaitingError once the job has been moved back itself. */
async function returnToWait(ticket: Ticket): Promise<void> {
  try {
    await ticket.job.moveToWait(ticket.token);
    ticket.reject(HANDED_BACK);
  } catch (e) {
    ticket.reject(e as Error);
  }
}
