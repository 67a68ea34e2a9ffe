import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import Redis from 'ioredis';
import { ENV, type Env } from '../../config/env';
import { describeFailure } from '../../infra/failures';
import { type DeadLetter, DeadLetterQueue, type Memory, type RedriveResult, redriveIsSafe } from './dead-letter';

/** The longest wait between two automatic re-drives of a letter. */
const MAX_REDRIVE_DELAY_MS = 6 * 3_600_000;

/**
 * Is this letter due for an automatic re-drive? Only letters whose retries ran out (an `invalid`
 * one would be refused again the same way), at most DEAD_LETTER_REDRIVE_MAX times each, the n-th
 * DEAD_LETTER_REDRIVE_BASE_MS × 2ⁿ after it was parked (capped at 6 h).
 */
export function dueForRedrive(
  letter: DeadLetter,
  now: number,
  env: Pick<Env, 'DEAD_LETTER_REDRIVE_BASE_MS' | 'DEAD_LETTER_REDRIVE_MAX'>,
): boolean {
  const redrives = letter.redrives ?? 0;
  if (letter.reason !== 'exhausted' || redrives >= env.DEAD_LETTER_REDRIVE_MAX) return false;
  const delay = Math.min(env.DEAD_LETTER_REDRIVE_BASE_MS * 2 ** redrives, MAX_REDRIVE_DELAY_MS);
  return Date.parse(letter.failedAt) + delay <= now;
}

/** What the consumers remember of the ids they stored (see redriveIsSafe). */
export const memoryOf = (env: Pick<Env, 'USAGE_DEDUPE_DAYS' | 'AUDIT_RETENTION_DAYS'>): Memory => ({
  [QueueName.Usage]: env.USAGE_DEDUPE_DAYS,
  [QueueName.Audit]: env.AUDIT_RETENTION_DAYS,
});

/**
 * Re-drives dead letters automatically (worker process), every DEAD_LETTER_REDRIVE_INTERVAL_MS:
 * whatever made a job run out of retries may have passed (see dueForRedrive). Letters past the
 * automatic budget wait for an operator (POST /v1/ops/dead-letters/redrive).
 */
@Injectable()
export class DeadLetterRedriver implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DeadLetterRedriver');
  private connection: Redis | null = null;
  private dlq: DeadLetterQueue | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RedriveResult> | null = null;

  constructor(@Inject(ENV) private readonly env: Env) {}

  onModuleInit(): void {
    this.connection = new Redis(this.env.REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 200, 2000) });
    this.connection.on('error', () => undefined);
    this.dlq = new DeadLetterQueue(this.connection, this.env.QUEUE_PREFIX);
    if (this.env.DEAD_LETTER_REDRIVE_INTERVAL_MS === 0) return;
    this.timer = setInterval(() => void this.pass(), this.env.DEAD_LETTER_REDRIVE_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.dlq?.close().catch(() => undefined);
    this.connection?.disconnect();
  }

  /** One pass over the parked letters; concurrent calls share it. Never throws. */
  pass(now = Date.now()): Promise<RedriveResult> {
    const memory = memoryOf(this.env);
    this.running ??= this.dlq!.redrive((l) => dueForRedrive(l, now, this.env) && redriveIsSafe(l, now, memory))
      .then((r) => {
        if (r.redriven > 0) this.logger.log(`re-drove ${r.redriven} dead letter(s), ${r.kept} left parked`);
        return r;
      })
      .catch((e: unknown) => {
        this.logger.warn(`dead-letter re-drive failed: ${describeFailure(e)}`);
        return { redriven: 0, kept: 0 };
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
