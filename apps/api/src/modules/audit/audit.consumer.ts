import { Inject, Injectable } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { BatchedQueueConsumer, type Parked, type Parsed, type WriteResult } from '../events/batched-queue-consumer';
import { describeError } from '../events/dead-letter';
import { storableJson } from './audit.canonical';
import { AuditChainWriter, type ChainEntry } from './audit.chain-writer';
import { StorableAuditEvent } from './audit.rules';

export interface AuditConsumerStats {
  batches: number;
  /** Jobs taken from the queue (each a batch of events). */
  jobs: number;
  /** Jobs the worker holds at most now (follows the jobs' average size). */
  concurrency: number;
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
 * Batching, acknowledgement after commit, dead-lettering and retries are BatchedQueueConsumer's
 * (batches of AUDIT_BATCH_SIZE, or what arrived within AUDIT_BATCH_WAIT_MS). A batch is split per
 * org, in arrival order, and each org's part is one transaction of AuditChainWriter (a handful of
 * statements whatever its size); up to ORG_PARALLELISM orgs are written at the same time.
 *
 * - Exactly once in effect: the writer skips event ids already in the chain (under the org's
 *   chain lock, before numbering), so a redelivery (a worker killed between commit and
 *   acknowledgement, a stalled job, a gateway re-sending a batch) changes nothing and leaves no
 *   gap in the sequence.
 * - Order: events are chained in the order they were received. An event whose gateway timestamp
 *   (`at`) is older than its predecessors' is appended after them all the same; `at` is data,
 *   `seq` is the order of record.
 * - Replicas: any number of worker processes may consume `tg-audit`; the chain lock serialises
 *   the writers of one org.
 */
@Injectable()
export class AuditConsumer extends BatchedQueueConsumer<ChainEntry> {
  constructor(
    @Inject(ENV) env: Env,
    prisma: PrismaService,
    private readonly writer: AuditChainWriter,
  ) {
    super(
      {
        queue: QueueName.Audit,
        redisUrl: env.REDIS_URL,
        prefix: env.QUEUE_PREFIX,
        batchSize: env.AUDIT_BATCH_SIZE,
        waitMs: env.AUDIT_BATCH_WAIT_MS,
        lockMs: env.AUDIT_LOCK_MS,
        probe: { baseMs: env.OUTAGE_PROBE_BASE_MS, maxMs: env.OUTAGE_PROBE_MAX_MS },
        logLevel: env.LOG_LEVEL,
        connectionName: 'toolgate-audit-consumer',
        lanes: ORG_PARALLELISM,
      },
      prisma,
      'AuditConsumer',
    );
  }

  get stats(): AuditConsumerStats {
    return this.statsAs('appended');
  }

  /** A validated, storable chain entry, or the reason the message is poison. */
  protected override parse(data: unknown): Parsed<ChainEntry> {
    const parsed = StorableAuditEvent.safeParse(data);
    if (!parsed.success) return { ok: false, error: describeError(parsed.error) };
    // A job's data went through JSON in Redis, so it holds nothing canonical JSON could refuse.
    const item = { id: parsed.data.id.toLowerCase(), payload: storableJson(parsed.data) as Record<string, unknown> };
    return { ok: true, item };
  }

  /** One group per org, arrival order kept inside each. */
  protected override groupsOf(items: Array<Parked<ChainEntry>>): Array<Array<Parked<ChainEntry>>> {
    const byOrg = new Map<string, Array<Parked<ChainEntry>>>();
    for (const p of items) {
      const orgId = String(p.item.payload.orgId).toLowerCase();
      const list = byOrg.get(orgId);
      if (list) list.push(p);
      else byOrg.set(orgId, [p]);
    }
    return [...byOrg.values()];
  }

  protected override async write(entries: readonly ChainEntry[]): Promise<WriteResult> {
    const res = await this.writer.append(String(entries[0]!.payload.orgId), entries);
    return { stored: res.appended, duplicates: res.duplicates };
  }
}
