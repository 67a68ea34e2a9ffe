import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { QueueName, queueCatalog, type UsageEvent } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { type Api } from '../../../test/harness';
import { type Env, loadEnv } from '../../config/env';
import { startWorker } from '../../worker';
import { type AddOptions, addBatches } from '../events/event-jobs.test-fixtures';

/**
 * Test helpers for the usage consumer and billing specs: events shaped exactly as the gateway
 * emits them, a producer queue standing in for the gateway, and the real worker started
 * in-process on a private BullMQ prefix.
 */

export const HOUR = 3_600_000;

export function usageEvent(overrides: Partial<UsageEvent> & { orgId: string }): UsageEvent {
  return {
    schemaVersion: 1,
    id: randomUUID(),
    keyId: null,
    serverId: null,
    target: 'echo',
    method: 'tools/call',
    decision: 'allow',
    outcome: 'ok',
    durationMs: 10,
    bytesIn: 100,
    bytesOut: 200,
    at: new Date().toISOString(),
    ...overrides,
  };
}

export const queuePrefix = () => `tgtest-${randomBytes(4).toString('hex')}`;

/** Test job options: the catalog's, with retries fast enough for a test. */
export const FAST_RETRY = { ...queueCatalog[QueueName.Usage].jobOptions, attempts: 3, backoff: { type: 'fixed', delay: 100 } };

/** Puts events on `tg-usage` as the gateway does (batch jobs, see event-jobs.test-fixtures.ts). */
export class UsageProducer {
  readonly connection: Redis;
  readonly queue: Queue;

  constructor(
    readonly prefix: string,
    redisUrl = process.env.REDIS_URL!,
  ) {
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(QueueName.Usage, { connection: this.connection, prefix });
    this.queue.on('error', () => undefined);
  }

  /** Enqueues as the gateway does (see addBatches), with FAST_RETRY job options. Returns the job ids. */
  add(events: Array<UsageEvent | Record<string, unknown>>, opts: Omit<AddOptions, 'jobOptions'> = {}): Promise<string[]> {
    return addBatches(this.queue, events, { ...opts, jobOptions: FAST_RETRY });
  }

  async counts() {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  }

  /** Resolves when nothing is waiting, active or delayed (every job completed or failed). */
  async drained(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const c = await this.counts();
        return c.waiting + c.active + c.delayed + (c.prioritized ?? 0) === 0;
      },
      timeoutMs,
      'usage queue to drain',
    );
  }

  async close(): Promise<void> {
    await this.queue.obliterate({ force: true }).catch(() => undefined);
    await this.queue.close();
    this.connection.disconnect();
  }
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The real worker (WorkerModule) in this process, on the test's database and prefix. */
export async function startTestWorker(overrides: Partial<Record<keyof Env, string>>): Promise<INestApplicationContext> {
  return startWorker(loadEnv({ ...process.env, ...overrides }), { logger: false });
}

const API_DIR = path.resolve(__dirname, '../../..');

/** The worker entry point as production runs it (`pnpm --filter @toolgate/api start:worker`), as a child process. */
export function spawnWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/worker.ts'], {
    cwd: API_DIR,
    // Readiness is its `info` line "Worker consuming queues" (the test env's LOG_LEVEL is warn).
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Worker consuming queues')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${out}`)));
  });
  return { child, ready, output: () => out };
}

export interface HourlyRow {
  hour: Date;
  keyId?: string;
  serverId?: string;
  target?: string;
  calls?: number;
  errors?: number;
  denied?: number;
  bytesIn?: number;
  bytesOut?: number;
  durationMs?: number;
}

/** Roll-up rows written directly (as the consumer would have), for API and billing specs. */
export async function seedHourly(api: Api, orgId: string, rows: HourlyRow[]): Promise<void> {
  await api.prisma.db.usageHourly.createMany({
    data: rows.map((r) => ({
      orgId,
      hour: r.hour,
      keyId: r.keyId ?? '',
      serverId: r.serverId ?? '',
      target: r.target ?? '',
      calls: r.calls ?? 0,
      errors: r.errors ?? 0,
      denied: r.denied ?? 0,
      bytesIn: BigInt(r.bytesIn ?? 0),
      bytesOut: BigInt(r.bytesOut ?? 0),
      durationMs: r.durationMs ?? 0,
    })),
  });
}
