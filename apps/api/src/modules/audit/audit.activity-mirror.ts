import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { storableJson } from './audit.canonical';
import { AuditChainWriter, fromPgTimestamp, pgTimestamp } from './audit.chain-writer';
import { type ActivityRow, adminPayload } from './audit.rules';
import { describeFailure } from '../../infra/failures';

/** Activity rows mirrored per org per transaction. */
const MIRROR_BATCH = 500;

/**
 * Admin actions join the audit chain: the worker copies new ActivityLog rows (written by the API
 * in the same transaction as each change, see OrgChangeService) into the org's chain as events
 * with method `admin.<action>`, so they are hash-chained, verified, exported and delivered to
 * SIEM webhooks exactly like gateway calls.
 *
 * Why pull rather than have the API append: the API's change transactions would otherwise take
 * the org's chain lock and queue behind the gateway's event stream, and the chain would have two
 * writers to keep in step. Pulling keeps AuditChainWriter the only writer.
 *
 * How rows are found exactly once: AuditHead keeps a keyset cursor (createdAt, id) of the newest
 * row mirrored, moved in the same transaction as the append. Rows are taken once they are older
 * than AUDIT_ACTIVITY_SETTLE_MS, longer than any API transaction may run (15 s), so a row that
 * commits late (its createdAt is its transaction's start) is never behind the cursor unseen. The
 * row's id becomes the event id, so two workers mirroring at once store it once.
 */
@Injectable()
export class ActivityMirror implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AuditActivityMirror');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
    private readonly writer: AuditChainWriter,
  ) {}

  onModuleInit(): void {
    if (this.env.AUDIT_ACTIVITY_INTERVAL_MS > 0) {
      this.timer = setInterval(() => void this.tick(), this.env.AUDIT_ACTIVITY_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    try {
      await this.mirror();
    } catch (e) {
      this.logger.warn(`activity mirror failed, will retry: ${describeFailure(e)}`);
    }
  }

  /**
   * Mirrors every settled activity row not yet in the chain (of one org, or of all). Returns how
   * many events were appended. One run at a time per process.
   */
  mirror(orgId?: string, now = new Date()): Promise<number> {
    this.running ??= this.mirrorAll(orgId, now).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async mirrorAll(orgId: string | undefined, now: Date): Promise<number> {
    const settledBefore = new Date(now.getTime() - this.env.AUDIT_ACTIVITY_SETTLE_MS);
    let total = 0;
    for (;;) {
      // Per org (index ActivityLog(orgId, createdAt)), the next rows after its cursor.
      const rows = await this.prisma.db.$queryRaw<Array<Omit<ActivityRow, 'createdAt'> & { createdAt: string }>>`
        SELECT a.id::text AS id, a."orgId"::text AS "orgId", a."actorId"::text AS "actorId", a.action, a."targetType",
               a."targetId", a.before, a.after, a."createdAt"::text AS "createdAt",
               CASE WHEN t."activityId" IS NULL THEN NULL
                    ELSE json_build_object('id', t."tokenId"::text, 'kind', t.kind::text, 'name', t.name, 'prefix', t.prefix) END AS "actorToken"
        FROM "Organization" o
        LEFT JOIN "AuditHead" h ON h."orgId" = o.id
        CROSS JOIN LATERAL (
          SELECT * FROM "ActivityLog" a
          WHERE a."orgId" = o.id
            AND a."createdAt" < ${pgTimestamp(settledBefore)}::timestamp(3)
            AND (h."activityAt" IS NULL OR (a."createdAt", a.id) > (h."activityAt", h."activityId"))
          ORDER BY a."createdAt", a.id
          LIMIT ${MIRROR_BATCH}
        ) a
        LEFT JOIN "ActivityTokenActor" t ON t."activityId" = a.id
        WHERE (${orgId ?? null}::uuid IS NULL OR o.id = ${orgId ?? null}::uuid)
        ORDER BY a."orgId", a."createdAt", a.id`;
      if (rows.length === 0) return total;
      const byOrg = new Map<string, ActivityRow[]>();
      for (const r of rows) {
        const row: ActivityRow = { ...r, createdAt: fromPgTimestamp(r.createdAt) };
        const list = byOrg.get(row.orgId);
        if (list) list.push(row);
        else byOrg.set(row.orgId, [row]);
      }
      let full = false;
      for (const [org, list] of byOrg) {
        const last = list.at(-1)!;
        const res = await this.writer.append(
          org,
          list.map((row) => ({ id: row.id, payload: storableJson(adminPayload(row)) as unknown as Record<string, unknown> })),
          { at: last.createdAt, id: last.id },
        );
        total += res.appended;
        if (list.length === MIRROR_BATCH) full = true;
      }
      if (!full) return total;
    }
  }
}
