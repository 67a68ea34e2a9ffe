import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { openSecret } from '@toolgate/contracts';
import type { AuditDelivery } from '@toolgate/db';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { webhookSignature } from './audit.canonical';
import { pgTimestamp } from './audit.chain-writer';
import { eventLine } from './audit.view';
import { describeFailure } from '../../infra/failures';

/** Deliveries claimed per round; rounds repeat within a tick while there is work. */
const CLAIM_BATCH = 10;
const MAX_ROUNDS_PER_TICK = 50;
/** A claimed delivery is left alone by other workers for the request timeout plus this margin. */
const LEASE_MARGIN_MS = 30_000;

/** Math.min for sequence numbers (bigint). */
const minSeq = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export interface DeliveryRoundResult {
  scheduled: number;
  delivered: number;
  failed: number;
  skipped: number;
}

/**
 * Delivers each org's chain to its SIEM webhooks, in order, at least once.
 *
 * A webhook has at most one open delivery at a time: the next batch of up to
 * AUDIT_WEBHOOK_BATCH_SIZE events after `deliveredSeq` (scheduled under a row lock on the webhook,
 * so two workers never open two). Each attempt claims the delivery with a lease (nextAttemptAt
 * moved past the request timeout, attempts + 1) in one statement with SKIP LOCKED, so workers
 * share the load without sending the same attempt twice, and a worker that dies mid-request
 * leaves a lease that simply runs out. The request:
 *
 *   POST <url>
 *   Content-Type: application/x-ndjson       (one export event line per event, seq order)
 *   X-Toolgate-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *   X-Toolgate-Delivery: <delivery id>      (the same on every attempt: receivers dedupe on it)
 *   X-Toolgate-Webhook: <webhook id>
 *   X-Toolgate-Seq-Range: <fromSeq>-<toSeq>
 *
 * A 2xx answer marks it delivered and moves deliveredSeq to toSeq; anything else (status,
 * network error, timeout, redirect) records the error and retries after
 * AUDIT_WEBHOOK_RETRY_MS × 2^(attempts−1), capped at AUDIT_WEBHOOK_MAX_BACKOFF_MS, until it
 * succeeds: a SIEM feed must not skip events, and the delivery log shows how it is going. Events
 * pruned by retention before they could be delivered are recorded as a `skipped` delivery.
 */
@Injectable()
export class AuditWebhookDeliverer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AuditWebhooks');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<DeliveryRoundResult> | null = null;
  private stopping = false;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
  ) {}

  onModuleInit(): void {
    if (this.env.AUDIT_WEBHOOK_INTERVAL_MS > 0) {
      this.timer = setInterval(() => void this.tick(), this.env.AUDIT_WEBHOOK_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async tick(): Promise<void> {
    try {
      await this.run();
    } catch (e) {
      this.logger.warn(`webhook delivery round failed, will retry: ${describeFailure(e)}`);
    }
  }

  /** Schedules and sends everything due now. One run at a time per process. */
  run(now?: () => Date): Promise<DeliveryRoundResult> {
    this.running ??= this.rounds(now ?? (() => new Date())).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async rounds(now: () => Date): Promise<DeliveryRoundResult> {
    const total: DeliveryRoundResult = { scheduled: 0, delivered: 0, failed: 0, skipped: 0 };
    for (let round = 0; round < MAX_ROUNDS_PER_TICK && !this.stopping; round++) {
      const scheduled = await this.schedule(now());
      total.scheduled += scheduled.scheduled;
      total.skipped += scheduled.skipped;
      const claimed = await this.claim(now());
      for (const d of claimed) {
        const outcome = await this.attempt(d, now);
        total[outcome]++;
      }
      if (scheduled.scheduled === 0 && claimed.length === 0) break;
    }
    return total;
  }

  /** Opens the next delivery of every enabled webhook that is behind its chain and has none open. */
  private async schedule(now: Date): Promise<{ scheduled: number; skipped: number }> {
    const candidates = await this.prisma.db.$queryRaw<Array<{ id: string }>>`
      SELECT w.id::text AS id
      FROM "AuditWebhook" w
      JOIN "AuditHead" h ON h."orgId" = w."orgId"
      -- A deleted org's chain stays (audit outlives the org), but nothing is sent any more.
      JOIN "Organization" o ON o.id = w."orgId"
      WHERE w.enabled AND h.seq > w."deliveredSeq"
        AND NOT EXISTS (SELECT 1 FROM "AuditDelivery" d WHERE d."webhookId" = w.id AND d.status IN ('pending', 'retrying'))
      ORDER BY w.id
      LIMIT 100`;
    const result = { scheduled: 0, skipped: 0 };
    for (const { id } of candidates) {
      const r = await this.prisma.db.$transaction(async (tx) => {
        const [w] = await tx.$queryRaw<Array<{ orgId: string; deliveredSeq: bigint; enabled: boolean }>>`
          SELECT "orgId"::text AS "orgId", "deliveredSeq", enabled FROM "AuditWebhook" WHERE id = ${id}::uuid FOR UPDATE SKIP LOCKED`;
        if (!w?.enabled) return null; // gone, disabled, or another worker is scheduling it
        const open = await tx.auditDelivery.count({ where: { webhookId: id, status: { in: ['pending', 'retrying'] } } });
        if (open > 0) return null;
        const head = await tx.auditHead.findUnique({ where: { orgId: w.orgId }, select: { seq: true } });
        if (!head || head.seq <= w.deliveredSeq) return null;
        let fromSeq = w.deliveredSeq + 1n;
        let skipped = 0;
        // Events retention pruned before they were delivered cannot be sent any more: say so.
        const cp = await tx.auditCheckpoint.findFirst({ where: { orgId: w.orgId }, orderBy: { seq: 'desc' }, select: { seq: true } });
        if (cp && cp.seq >= fromSeq) {
          const to = minSeq(cp.seq, head.seq);
          await tx.auditDelivery.create({
            data: {
              orgId: w.orgId,
              webhookId: id,
              fromSeq,
              toSeq: to,
              status: 'skipped',
              lastError: 'pruned by retention before it could be delivered',
              nextAttemptAt: null,
            },
          });
          await tx.auditWebhook.update({ where: { id }, data: { deliveredSeq: to } });
          skipped = 1;
          fromSeq = to + 1n;
          if (fromSeq > head.seq) return { scheduled: 0, skipped };
        }
        const limit = BigInt(this.env.AUDIT_WEBHOOK_BATCH_SIZE);
        const toSeq = minSeq(head.seq, fromSeq + limit - 1n);
        await tx.auditDelivery.create({
          data: { orgId: w.orgId, webhookId: id, fromSeq, toSeq, status: 'pending', attempts: 0, nextAttemptAt: now },
        });
        return { scheduled: 1, skipped };
      });
      if (r) {
        result.scheduled += r.scheduled;
        result.skipped += r.skipped;
      }
    }
    return result;
  }

  /** Takes due deliveries of enabled webhooks, each with a lease and its attempt counted. */
  private claim(now: Date): Promise<AuditDelivery[]> {
    const lease = new Date(now.getTime() + this.env.AUDIT_WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS);
    return this.prisma.db.$queryRaw<AuditDelivery[]>`
      UPDATE "AuditDelivery" d SET attempts = d.attempts + 1, "nextAttemptAt" = ${pgTimestamp(lease)}::timestamp(3)
      WHERE d.id IN (
        SELECT d2.id FROM "AuditDelivery" d2
        JOIN "AuditWebhook" w ON w.id = d2."webhookId"
        JOIN "Organization" o ON o.id = w."orgId"
        WHERE d2.status IN ('pending', 'retrying') AND d2."nextAttemptAt" <= ${pgTimestamp(now)}::timestamp(3) AND w.enabled
        ORDER BY d2."nextAttemptAt"
        LIMIT ${CLAIM_BATCH}
        FOR UPDATE OF d2 SKIP LOCKED
      )
      RETURNING d.id::text AS id, d."orgId"::text AS "orgId", d."webhookId"::text AS "webhookId", d."fromSeq", d."toSeq",
                d.status, d.attempts, d."responseStatus", d."lastError", d."nextAttemptAt", d."deliveredAt", d."createdAt"`;
  }

  /** One attempt of one claimed delivery. */
  private async attempt(d: AuditDelivery, now: () => Date): Promise<'delivered' | 'failed' | 'skipped'> {
    const db = this.prisma.db;
    const webhook = await db.auditWebhook.findUnique({ where: { id: d.webhookId } });
    if (!webhook) return 'failed'; // deleted meanwhile (its deliveries went with it)
    const rows = await db.auditEvent.findMany({
      where: { orgId: d.orgId, seq: { gte: d.fromSeq, lte: d.toSeq } },
      orderBy: { seq: 'asc' },
      select: { id: true, seq: true, prevHash: true, hash: true, receivedAt: true, payload: true },
    });
    if (BigInt(rows.length) !== d.toSeq - d.fromSeq + 1n) {
      // Pruned between scheduling and now: record it and move on (the rest is rescheduled).
      await db.$transaction([
        db.auditDelivery.updateMany({
          where: { id: d.id },
          data: { status: 'skipped', lastError: 'pruned by retention before it could be delivered', nextAttemptAt: null },
        }),
        db.$executeRaw`UPDATE "AuditWebhook" SET "deliveredSeq" = GREATEST("deliveredSeq", ${d.toSeq}) WHERE id = ${d.webhookId}::uuid`,
      ]);
      return 'skipped';
    }
    let body = '';
    for (const row of rows) body += `${eventLine(row)}\n`;

    let status: number | null = null;
    let error: string | null = null;
    try {
      const secret = openSecret(this.env.TOOLGATE_SECRET_KEY, webhook.orgId, webhook.secret);
      const t = Math.floor(now().getTime() / 1000);
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-ndjson',
          'user-agent': 'Toolgate-Audit-Webhook/1',
          'x-toolgate-signature': webhookSignature(secret, t, body),
          'x-toolgate-delivery': d.id,
          'x-toolgate-webhook': webhook.id,
          'x-toolgate-seq-range': `${d.fromSeq}-${d.toSeq}`,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.env.AUDIT_WEBHOOK_TIMEOUT_MS),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      error =
        err.name === 'TimeoutError'
          ? `timed out after ${this.env.AUDIT_WEBHOOK_TIMEOUT_MS} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
    }

    if (error === null) {
      await db.$transaction([
        db.auditDelivery.updateMany({
          where: { id: d.id },
          data: { status: 'delivered', responseStatus: status, lastError: null, deliveredAt: now(), nextAttemptAt: null },
        }),
        db.$executeRaw`UPDATE "AuditWebhook" SET "deliveredSeq" = GREATEST("deliveredSeq", ${d.toSeq}) WHERE id = ${d.webhookId}::uuid`,
      ]);
      return 'delivered';
    }
    const backoff = Math.min(this.env.AUDIT_WEBHOOK_RETRY_MS * 2 ** Math.min(d.attempts - 1, 30), this.env.AUDIT_WEBHOOK_MAX_BACKOFF_MS);
    await db.auditDelivery.updateMany({
      where: { id: d.id },
      data: {
        status: 'retrying',
        responseStatus: status,
        lastError: error.slice(0, 500),
        nextAttemptAt: new Date(now().getTime() + backoff),
      },
    });
    this.logger.warn(`audit webhook ${webhook.id} delivery ${d.id} (seq ${d.fromSeq}-${d.toSeq}) failed, attempt ${d.attempts}: ${error}`);
    return 'failed';
  }
}
