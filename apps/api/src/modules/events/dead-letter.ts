import { eventsOfJob, QueueName, queueCatalog } from '@toolgate/contracts';
import { type Job, Queue } from 'bullmq';
import type Redis from 'ioredis';

/** The queues whose consumers dead-letter (and to which letters are re-driven). */
export type EventQueue = QueueName.Audit | QueueName.Usage;

/** What a dead-lettered message carries: where it came from, what it was, and why it was refused. */
export interface DeadLetter {
  queue: EventQueue;
  /** The id of the job it came from (for an event of a batch, `<job id>.<index>`); kept across re-drives. */
  jobId: string | null;
  /** The message exactly as received. */
  data: unknown;
  error: string;
  /** `invalid` (payload failed validation) or `exhausted` (retries used up). */
  reason: 'invalid' | 'exhausted';
  attemptsMade: number;
  /** Times it has been re-driven already (absent on letters parked before re-drives existed). */
  redrives?: number;
  failedAt: string;
}

export interface RedriveResult {
  redriven: number;
  /** Letters left parked (not picked). */
  kept: number;
}

/**
 * How long each consumer remembers the ids it stored (usage: USAGE_DEDUPE_DAYS; audit: the chain
 * keeps ids until AUDIT_RETENTION_DAYS prunes them, forever when unset).
 */
export interface Memory {
  [QueueName.Usage]: number;
  [QueueName.Audit]: number | undefined;
}

/** Margin for the gateways' clocks (an event's `at`) against the database's (when it was stored). */
const CLOCK_MARGIN_MS = 3_600_000;

/**
 * Re-driving a letter can count nothing twice only while its consumer still remembers the events
 * it may have stored: while every event of the letter is younger than that memory. An event
 * cannot have been stored before its gateway made it (`at`); one without a readable `at` is
 * invalid and will be refused again. Older letters stay parked for an operator to judge.
 */
export function redriveIsSafe(letter: DeadLetter, now: number, memory: Memory): boolean {
  const days = memory[letter.queue];
  if (days === undefined) return true;
  const unwrapped = eventsOfJob(letter.data);
  const events = unwrapped.ok ? unwrapped.events : [letter.data];
  const oldest = now - days * 86_400_000 + CLOCK_MARGIN_MS;
  return events.every((e) => {
    const at = Date.parse(String((e as { at?: unknown } | null)?.at));
    return Number.isNaN(at) || at >= oldest;
  });
}

/** A re-driven job's name: `redrive:<n>:<original job id>`, so a letter it becomes again keeps its lineage. */
const REDRIVEN = /^redrive:(\d+):(.+)$/s;
/** Letters read from Redis per page while re-driving. */
const PAGE = 200;

/** Where a job comes from: its own id, or for a re-driven job the original one and how often it was re-driven. */
export function lineageOf(job: Pick<Job, 'name' | 'id'>): { jobId: string | null; redrives: number } {
  const m = REDRIVEN.exec(job.name);
  return m ? { jobId: m[2]!, redrives: Number(m[1]) } : { jobId: job.id ?? null, redrives: 0 };
}

/**
 * The `tg-dead-letter` queue: messages a consumer cannot use are parked here with their error, so
 * they never block (or endlessly retry on) the queue they came from. Nothing consumes it; letters
 * wait (`backlog`) until they are re-driven (`redrive`: by DeadLetterRedriver with backoff, or by
 * an operator through the API) or removed with BullMQ tooling. Jobs are kept until removed.
 *
 * Re-driving puts the message back on its queue as a new job (`redrive:<n>:<original id>`, with
 * the catalog's full retry budget) and then removes the letter. It is safe to repeat: the
 * consumers skip event ids they have already stored, and the new job's id is derived from the
 * letter's, so two re-drivers racing enqueue it once. Both re-drivers leave alone letters older
 * than their consumer's memory of stored ids (`redriveIsSafe`).
 */
export class DeadLetterQueue {
  private readonly queue: Queue<DeadLetter>;
  private readonly sources = new Map<EventQueue, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    this.queue = new Queue<DeadLetter>(QueueName.DeadLetter, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: false, removeOnFail: false },
    });
    // Connection errors surface on the calls; the queue's own copy is not needed.
    this.queue.on('error', () => undefined);
  }

  /**
   * Park one message. The dead-letter job id is derived from the source job id, so parking the
   * same message twice (a redelivery) keeps one copy.
   */
  async add(letter: Omit<DeadLetter, 'failedAt'>): Promise<void> {
    const jobId = letter.jobId ? letterIdOf(letter.queue, letter.jobId) : undefined;
    await this.queue.add(letter.queue, { ...letter, failedAt: new Date().toISOString() }, jobId ? { jobId } : {});
  }

  /** Letters parked now. */
  backlog(): Promise<number> {
    return this.queue.getWaitingCount();
  }

  /** Re-drives every parked letter `pick` accepts (see the class comment). */
  async redrive(pick: (letter: DeadLetter) => boolean): Promise<RedriveResult> {
    const result: RedriveResult = { redriven: 0, kept: 0 };
    for (let start = 0; ; ) {
      const page = await this.queue.getWaiting(start, start + PAGE - 1);
      if (page.length === 0) return result;
      for (const letter of page) {
        if (letter?.data && pick(letter.data)) {
          await this.send(letter);
          result.redriven++;
        } else {
          result.kept++;
          start++;
        }
      }
    }
  }

  private async send(letter: Job<DeadLetter>): Promise<void> {
    const { queue, jobId, data, redrives = 0 } = letter.data;
    const n = redrives + 1;
    const origin = jobId ?? letter.id!;
    await this.source(queue).add(`redrive:${n}:${origin}`, data, {
      ...queueCatalog[queue].jobOptions,
      jobId: `${letter.id}-r${n}`,
    });
    await letter.remove();
  }

  private source(name: EventQueue): Queue {
    let q = this.sources.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      q.on('error', () => undefined);
      this.sources.set(name, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), ...[...this.sources.values()].map((q) => q.close())]);
  }
}

/** BullMQ refuses `:` in custom job ids. */
const letterIdOf = (queue: string, jobId: string) => `${queue}-${jobId}`.replace(/:/g, '-');

/** Short, readable summary of a zod (or any) error for the dead letter. */
export function describeError(e: unknown): string {
  const issues = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> } | null)?.issues;
  if (Array.isArray(issues)) {
    return issues
      .slice(0, 10)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
      .join('; ');
  }
  return e instanceof Error ? e.message : String(e);
}
