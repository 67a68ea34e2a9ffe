import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { checkpointKey, signCheckpoint } from './audit.canonical';
import { pgTimestamp } from './audit.chain-writer';
import { describeFailure } from '../../infra/failures';

/** Events deleted per transaction (the org's chain lock is held meanwhile). */
const PRUNE_CHUNK = 5000;

export interface PruneResult {
  /** Events deleted. */
  pruned: number;
  /** Checkpoints written (one per chunk). */
  checkpoints: number;
}

/**
 * Retention: deletes the start of each org's chain, up to the last event received before the
 * cutoff (AUDIT_RETENTION_DAYS; unset keeps everything), and records a signed checkpoint so the
 * rest still verifies.
 *
 * Per org and chunk, one transaction: take the chain lock (the head row, FOR UPDATE: appends
 * wait), read the oldest events in seq order, keep the prefix received before the cutoff (the
 * chain is only ever cut at its start, so it stays contiguous; receivedAt never decreases along
 * a chain, so the prefix is exactly "everything older than the cutoff"), `SET LOCAL
 * toolgate.audit_prune = 'on'` (the only way past the append-only trigger), delete it, and write
 * an AuditCheckpoint with the last pruned seq and hash, signed with HMAC-SHA256 over
 * `orgId|seq|hash` (key: AUDIT_SIGNING_KEY, or HKDF of TOOLGATE_SECRET_KEY). Verification starts
 * from the newest checkpoint: the next event's prevHash must equal its hash.
 */
@Injectable()
export class AuditRetention implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AuditRetention');
  private readonly key: Buffer;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PruneResult> | null = null;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
  ) {
    this.key = checkpointKey(env.TOOLGATE_SECRET_KEY, env.AUDIT_SIGNING_KEY);
  }

  onModuleInit(): void {
    if (this.env.AUDIT_RETENTION_DAYS !== undefined && this.env.AUDIT_RETENTION_INTERVAL_MS > 0) {
      this.timer = setInterval(() => void this.tick(), this.env.AUDIT_RETENTION_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async tick(): Promise<void> {
    try {
      const res = await this.applyRetention();
      if (res.pruned > 0) this.logger.log(`pruned ${res.pruned} audit events (${res.checkpoints} checkpoints)`);
    } catch (e) {
      this.logger.warn(`retention pruning failed, will retry: ${describeFailure(e)}`);
    }
  }

  /** Prunes every org by AUDIT_RETENTION_DAYS; nothing when it is unset. */
  applyRetention(now = new Date()): Promise<PruneResult> {
    const days = this.env.AUDIT_RETENTION_DAYS;
    if (days === undefined) return Promise.resolve({ pruned: 0, checkpoints: 0 });
    return this.pruneBefore(new Date(now.getTime() - days * 86_400_000));
  }

  /** Prunes events received before `cutoff`, of one org or of all. One run at a time per process. */
  pruneBefore(cutoff: Date, orgId?: string): Promise<PruneResult> {
    this.running ??= this.pruneAll(cutoff, orgId).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pruneAll(cutoff: Date, orgId?: string): Promise<PruneResult> {
    const orgs = orgId
      ? [orgId.toLowerCase()]
      : (await this.prisma.db.auditHead.findMany({ select: { orgId: true }, orderBy: { orgId: 'asc' } })).map((h) => h.orgId);
    const total: PruneResult = { pruned: 0, checkpoints: 0 };
    for (const org of orgs) {
      for (;;) {
        const n = await this.pruneChunk(org, cutoff);
        if (n === 0) break;
        total.pruned += n;
        total.checkpoints++;
        if (n < PRUNE_CHUNK) break;
      }
    }
    return total;
  }

  private pruneChunk(orgId: string, cutoff: Date): Promise<number> {
    return this.prisma.db.$transaction(
      async (tx) => {
        const [head] = await tx.$queryRaw<Array<{ seq: bigint }>>`SELECT seq FROM "AuditHead" WHERE "orgId" = ${orgId}::uuid FOR UPDATE`;
        if (!head) return 0;
        const [last] = await tx.$queryRaw<Array<{ seq: bigint; hash: string; n: number; first: bigint }>>`
          WITH oldest AS (
            SELECT seq, hash, "receivedAt" FROM "AuditEvent" WHERE "orgId" = ${orgId}::uuid ORDER BY seq LIMIT ${PRUNE_CHUNK}
          ),
          expired AS (
            -- The prefix received before the cutoff: rows before the first one that is not.
            SELECT * FROM oldest
            WHERE seq < COALESCE((SELECT min(seq) FROM oldest WHERE "receivedAt" >= ${pgTimestamp(cutoff)}::timestamp(3)), 9223372036854775807)
          )
          SELECT seq, hash, (SELECT count(*) FROM expired)::int AS n, (SELECT min(seq) FROM expired) AS first
          FROM expired ORDER BY seq DESC LIMIT 1`;
        if (!last) return 0;
        if (last.seq - last.first + 1n !== BigInt(last.n))
          throw new Error(`audit chain of org ${orgId} has a gap before seq ${last.seq}; not pruning`);
        await tx.$executeRaw`SET LOCAL toolgate.audit_prune = 'on'`;
        const deleted = await tx.$executeRaw`DELETE FROM "AuditEvent" WHERE "orgId" = ${orgId}::uuid AND seq <= ${last.seq}`;
        if (deleted !== last.n) throw new Error(`audit prune of org ${orgId} deleted ${deleted} rows, expected ${last.n}`);
        await tx.auditCheckpoint.create({
          data: { orgId, seq: last.seq, hash: last.hash, pruned: deleted, signature: signCheckpoint(this.key, orgId, last.seq, last.hash) },
        });
        return deleted;
      },
      { maxWait: 10_000, timeout: 120_000 },
    );
  }
}
