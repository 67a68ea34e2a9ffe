import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { sealSecret } from '@toolgate/contracts';
import type { AuditDelivery, AuditWebhook } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { ActivityService } from '../activity/activity.service';
import type { CreateWebhookDto, ListDeliveriesQuery } from './audit.dto';

/** SIEM webhooks per org at most. */
export const MAX_WEBHOOKS_PER_ORG = 10;

function webhookView(w: AuditWebhook) {
  return {
    id: w.id,
    url: w.url,
    enabled: w.enabled,
    /** Every event up to this seq has been delivered. */
    deliveredSeq: Number(w.deliveredSeq),
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

function deliveryView(d: AuditDelivery) {
  return {
    id: d.id,
    fromSeq: Number(d.fromSeq),
    toSeq: Number(d.toSeq),
    /** pending (first attempt due), retrying (failed, next attempt at nextAttemptAt), delivered, skipped (pruned before delivery). */
    status: d.status,
    attempts: d.attempts,
    responseStatus: d.responseStatus,
    lastError: d.lastError,
    nextAttemptAt: d.status === 'pending' || d.status === 'retrying' ? (d.nextAttemptAt?.toISOString() ?? null) : null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
  };
}

/** Per-org SIEM webhooks (the worker's AuditWebhookDeliverer sends to them). */
@Injectable()
export class AuditWebhooksService {
  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
    private readonly activity: ActivityService,
  ) {}

  async list(orgId: string) {
    const rows = await this.prisma.db.auditWebhook.findMany({ where: { orgId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return { items: rows.map(webhookView) };
  }

  /** Creates a webhook; the response carries its signing `secret`, shown this once only. */
  async create(user: AuthUser, org: OrgContext, dto: CreateWebhookDto) {
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const created = await this.prisma.db.$transaction(async (tx) => {
      // Serialise creations per org so the cap holds under concurrency.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('audit-webhooks:' || ${org.id}))`;
      const count = await tx.auditWebhook.count({ where: { orgId: org.id } });
      if (count >= MAX_WEBHOOKS_PER_ORG) throw Problem.conflict(`An organisation can have at most ${MAX_WEBHOOKS_PER_ORG} audit webhooks`);
      const head = await tx.auditHead.findUnique({ where: { orgId: org.id }, select: { seq: true } });
      const w = await tx.auditWebhook.create({
        data: {
          orgId: org.id,
          url: dto.url,
          enabled: dto.enabled,
          secret: sealSecret(this.env.TOOLGATE_SECRET_KEY, org.id, secret),
          deliveredSeq: dto.startAt === 'now' ? (head?.seq ?? 0n) : 0n,
        },
      });
      await this.activity.record(tx, {
        orgId: org.id,
        actorId: user.id,
        action: 'audit_webhook.created',
        targetType: 'audit_webhook',
        targetId: w.id,
        after: { url: w.url, enabled: w.enabled, startAt: dto.startAt },
      });
      return w;
    });
    return { ...webhookView(created), secret };
  }

  async remove(user: AuthUser, org: OrgContext, id: string): Promise<void> {
    await this.prisma.db.$transaction(async (tx) => {
      const w = await tx.auditWebhook.findFirst({ where: { id, orgId: org.id } });
      if (!w) throw Problem.notFound('Audit webhook');
      await tx.auditWebhook.delete({ where: { id } });
      await this.activity.record(tx, {
        orgId: org.id,
        actorId: user.id,
        action: 'audit_webhook.deleted',
        targetType: 'audit_webhook',
        targetId: id,
        before: { url: w.url, enabled: w.enabled, deliveredSeq: Number(w.deliveredSeq) },
      });
    });
  }

  async deliveries(orgId: string, id: string, q: ListDeliveriesQuery) {
    const w = await this.prisma.db.auditWebhook.findFirst({ where: { id, orgId }, select: { id: true } });
    if (!w) throw Problem.notFound('Audit webhook');
    const after = q.cursor ? await this.prisma.db.auditDelivery.findFirst({ where: { id: q.cursor, webhookId: id } }) : null;
    if (q.cursor && !after) throw Problem.validation([{ path: 'query.cursor', message: 'is not a delivery of this webhook' }]);
    const rows = await this.prisma.db.auditDelivery.findMany({
      where: {
        webhookId: id,
        ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
      },
      // Index AuditDelivery(webhookId, createdAt); a webhook's deliveries are created one after another.
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    return { items: page.map(deliveryView), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null };
  }
}
