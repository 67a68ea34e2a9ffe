import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { type AuditEvent, QueueName, queueCatalog } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { type Env, loadEnv } from '../../config/env';
import { startWorker } from '../../worker';
import { type AddOptions, addBatches, addEach } from '../events/event-jobs.test-fixtures';

/**
 * Test helpers for the audit specs: events shaped exactly as the gateway emits them, a producer
 * that enqueues them exactly as the gateway's QueueEventSink does (batch jobs, see
 * event-jobs.test-fixtures.ts; job options from `queueCatalog`), the real worker started in-process on
 * a private BullMQ prefix, and an independent verifier of exported chains.
 */

export function auditEvent(overrides: Partial<AuditEvent> & { orgId: string }): AuditEvent {
  return {
    schemaVersion: 1,
    id: randomUUID(),
    keyId: null,
    serverId: null,
    serverSlug: 'files',
    method: 'tools/call',
    target: 'read_file',
    arguments: { path: '/tmp/a.txt' },
    decision: 'allow',
    rule: 'role:reader/tools[0]',
    outcome: 'ok',
    error: null,
    latencyMs: 12.5,
    bytesIn: 120,
    bytesOut: 480,
    clientName: 'claude-code',
    clientVersion: '1.0.0',
    sessionId: randomUUID(),
    ip: '127.0.0.1',
    at: new Date().toISOString(),
    ...overrides,
  };
}

export const queuePrefix = () => `tgaudit-${randomBytes(4).toString('hex')}`;

/** Puts events on `tg-audit` the way the gateway does. */
export class AuditProducer {
  readonly connection: Redis;
  readonly queue: Queue;
  readonly dlq: Queue;

  constructor(
    readonly prefix: string,
    redisUrl = process.env.REDIS_URL!,
  ) {
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(QueueName.Audit, {
      connection: this.connection,
      prefix,
      defaultJobOptions: queueCatalog[QueueName.Audit].jobOptions,
    });
    this.queue.on('error', () => undefined);
    this.dlq = new Queue(QueueName.DeadLetter, { connection: this.connection, prefix });
    this.dlq.on('error', () => undefined);
  }

  /** Enqueues as the gateway does (see addBatches); `opts.jobOptions` as the gateway never sets. Returns the job ids. */
  add(events: ReadonlyArray<AuditEvent | Record<string, unknown>>, opts: AddOptions = {}): Promise<string[]> {
    return addBatches(this.queue, events, opts);
  }

  /** Enqueues bare events, one job each, as gateways did before batching (see addEach). */
  addEach(events: ReadonlyArray<AuditEvent | Record<string, unknown>>, opts: Pick<AddOptions, 'jobOptions'> = {}): Promise<string[]> {
    return addEach(this.queue, events, opts);
  }

  async counts() {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  }

  /** Resolves when nothing is waiting, active or delayed. */
  async drained(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const c = await this.counts();
        return c.waiting + c.active + c.delayed + (c.prioritized ?? 0) === 0;
      },
      timeoutMs,
      'audit queue to drain',
    );
  }

  /** Removes every key under the prefix (and the `<prefix>-…` prefixes of extra workers), then disconnects. */
  async close(): Promise<void> {
    await this.queue.close();
    await this.dlq.close();
    let cursor = '0';
    do {
      const [next, keys] = await this.connection.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await this.connection.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
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

/** Timers off unless a test turns them on: each test drives what it checks. */
export const QUIET_TIMERS = {
  AUDIT_ACTIVITY_INTERVAL_MS: '0',
  AUDIT_WEBHOOK_INTERVAL_MS: '0',
  AUDIT_RETENTION_INTERVAL_MS: '0',
} as const;

/** The real worker (WorkerModule) in this process, on the test's database and a private prefix. */
export function startAuditWorker(overrides: Partial<Record<keyof Env, string>>): Promise<INestApplicationContext> {
  return startWorker(loadEnv({ ...process.env, ...QUIET_TIMERS, ...overrides }), { logger: false });
}

// ---- An independent verifier (what a customer would write from the export header) -------------

/** RFC 8785 canonical JSON, written from the RFC independently of the production code. */
export function jcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${jcs(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface ExportLine {
  type: 'header' | 'event' | 'end';
  [k: string]: unknown;
}

/**
 * Verifies NDJSON export text: header first, trailer last, seq +1 each line, each prevHash the
 * previous hash (the first one equal to `anchor` when given), each hash recomputed.
 */
export function verifyExport(text: string, anchor?: string): { ok: boolean; events: number; error?: string; lines: ExportLine[] } {
  const lines = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as ExportLine);
  const fail = (error: string) => ({ ok: false, events: 0, error, lines });
  if (lines[0]?.type !== 'header') return fail('no header');
  const end = lines.at(-1);
  if (end?.type !== 'end' || end.complete !== true) return fail('no trailer');
  const events = lines.slice(1, -1);
  if (events.length !== end.count) return fail('count mismatch');
  let prev: string | undefined = anchor;
  let seq: number | undefined;
  for (const e of events) {
    if (e.type !== 'event') return fail(`unexpected line ${e.type}`);
    if (seq !== undefined && e.seq !== seq + 1) return fail(`seq gap at ${e.seq}`);
    if (prev !== undefined && e.prevHash !== prev) return fail(`broken link at ${e.seq}`);
    const h = createHash('sha256')
      .update(`${e.prevHash as string}${jcs(e.payload)}`, 'utf8')
      .digest('hex');
    if (h !== e.hash) return fail(`hash mismatch at ${e.seq}`);
    prev = e.hash as string;
    seq = e.seq as number;
  }
  if (events.length > 0 && end.lastHash !== prev) return fail('trailer hash mismatch');
  return { ok: true, events: events.length, lines };
}
