import { QueueName } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';

/** What a dead-lettered message carries: where it came from, what it was, and why it was refused. */
export interface DeadLetter {
  queue: string;
  jobId: string | null;
  /** The message exactly as received. */
  data: unknown;
  error: string;
  /** `invalid` (payload failed validation) or `exhausted` (retries used up). */
  reason: 'invalid' | 'exhausted';
  attemptsMade: number;
  failedAt: string;
}

/**
 * The `tg-dead-letter` queue: messages a consumer cannot use are parked here with their error, so
 * they never block (or endlessly retry on) the queue they came from. Nothing consumes it
 * automatically; an operator inspects it (e.g. with BullMQ tooling) and re-queues or discards.
 * Jobs are kept until removed.
 */
export class DeadLetterQueue {
  private readonly queue: Queue<DeadLetter>;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<DeadLetter>(QueueName.DeadLetter, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: false, removeOnFail: false },
    });
    // Connection errors surface on the add() calls; the queue's own copy is not needed.
    this.queue.on('error', () => undefined);
  }

  /**
   * Park one message. The dead-letter job id is derived from the source job id, so parking the
   * same message twice (a redelivery) keeps one copy.
   */
  async add(letter: Omit<DeadLetter, 'failedAt'>): Promise<void> {
    const jobId = letter.jobId ? `${letter.queue}-${letter.jobId}`.replace(/:/g, '-') : undefined;
    await this.queue.add(letter.queue, { ...letter, failedAt: new Date().toISOString() }, jobId ? { jobId } : {});
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

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
