import {
  type AuditEvent,
  type EventBatch,
  type EventBatchJob,
  eventBatchJob,
  MAX_EVENTS_PER_JOB,
  QueueName,
  queueCatalog,
  type UsageEvent,
} from '@toolgate/contracts';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';

interface Queues {
  audit: Queue<EventBatch<AuditEvent>>;
  usage: Queue<EventBatch<UsageEvent>>;
}

/**
 * The BullMQ queues `tg-audit` and `tg-usage` on the sink's connection, created once Redis first
 * answers (and again after a setup that failed). Events go in as jobs of up to
 * MAX_EVENTS_PER_JOB (`eventBatchJob` in @toolgate/contracts: job id = a digest of the events'
 * ids, so a re-sent job is deduplicated; options from `queueCatalog`).
 */
export class EventQueues {
  private queues: Promise<Queues> | null = null;
  private created: Queues[] = [];

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * Both queues in parallel, each in jobs (see addInJobs): one settled result per queue.
   * Rejects when the queues could not be set up, or either part had no answer within `timeoutMs`.
   */
  async add(
    audit: readonly AuditEvent[],
    usage: readonly UsageEvent[],
    timeoutMs: number,
  ): Promise<[PromiseSettledResult<unknown>, PromiseSettledResult<unknown>]> {
    const queues = await withTimeout(this.ready(), timeoutMs, 'queue setup');
    return withTimeout(
      Promise.allSettled([
        audit.length > 0 ? addInJobs(audit, (job) => queues.audit.add(job.name, job.data, job.opts)) : null,
        usage.length > 0 ? addInJobs(usage, (job) => queues.usage.add(job.name, job.data, job.opts)) : null,
      ]),
      timeoutMs,
      'adding jobs',
    );
  }

  /** Closes every queue created, waiting at most a second for each pair. */
  async close(): Promise<void> {
    for (const q of this.created) await settled(Promise.all([q.audit.close(), q.usage.close()]));
    this.created = [];
    this.queues = null;
  }

  private ready(): Promise<Queues> {
    if (this.queues === null) {
      const connection = this.connection;
      const queues: Queues = {
        audit: new Queue<EventBatch<AuditEvent>>(QueueName.Audit, {
          connection,
          prefix: this.prefix,
          defaultJobOptions: queueCatalog[QueueName.Audit].jobOptions,
        }),
        usage: new Queue<EventBatch<UsageEvent>>(QueueName.Usage, {
          connection,
          prefix: this.prefix,
          defaultJobOptions: queueCatalog[QueueName.Usage].jobOptions,
        }),
      };
      // Connection errors reach onError through the sink's own listener; failed commands
      // reject their add. The queues' copies of those errors are not needed.
      queues.audit.on('error', () => undefined);
      queues.usage.on('error', () => undefined);
      this.created.push(queues);
      const ready = Promise.all([queues.audit.waitUntilReady(), queues.usage.waitUntilReady()]).then(
        () => queues,
        (err: unknown) => {
          // Setup failed (connection lost during it): start over with new queues next time.
          if (this.queues === ready) this.queues = null;
          this.created = this.created.filter((q) => q !== queues);
          void Promise.all([queues.audit.close(), queues.usage.close()]).catch(() => undefined);
          throw err;
        },
      );
      this.queues = ready;
    }
    return this.queues;
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Sends events as jobs of up to MAX_EVENTS_PER_JOB, one job per event-loop turn: BullMQ builds
 * and serialises a job synchronously, so one call with a whole batch would hold the event loop
 * (and every agent request waiting on it) for milliseconds. The jobs travel pipelined on the
 * queue's connection. Resolves once every job was accepted; rejects with the first failure,
 * after which no further job is sent.
 */
async function addInJobs<T extends { id: string }>(events: readonly T[], add: (job: EventBatchJob<T>) => Promise<unknown>): Promise<void> {
  if (events.length <= MAX_EVENTS_PER_JOB) {
    await add(eventBatchJob(events));
    return;
  }
  const sent: Promise<unknown>[] = [];
  let failed = false;
  for (let i = 0; i < events.length && !failed; i += MAX_EVENTS_PER_JOB) {
    if (i > 0) await nextTurn();
    const job = add(eventBatchJob(events.slice(i, i + MAX_EVENTS_PER_JOB)));
    job.catch(() => {
      failed = true;
    });
    sent.push(job);
  }
  await Promise.all(sent);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** True once `p` resolved within a second; false when it failed or took longer (closing what may not answer). */
export function settled(p: Promise<unknown>): Promise<boolean> {
  return withTimeout(p, 1000, 'close').then(
    () => true,
    () => false,
  );
}
