import { Injectable } from '@nestjs/common';
import type { Prisma, Tx } from '@toolgate/db';
import { requestContext } from '../../common/request-context';
import { PrismaService } from '../../infra/prisma.service';

export interface ActivityEntry {
  orgId: string;
  actorId: string | null;
  /** `<noun>.<verb>`, e.g. `key.revoked`. */
  action: string;
  targetType: string;
  targetId?: string | null;
  /** Never include secret values. */
  before?: unknown;
  after?: unknown;
}

const toJson = (v: unknown) => (v === undefined || v === null ? undefined : (JSON.parse(JSON.stringify(v)) as Prisma.InputJsonValue));

@Injectable()
export class ActivityService {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Append to the admin activity log, inside the caller's transaction. A change made with a
   * management token is attributed to the token (ActivityTokenActor); a service account has no
   * person, so its entries have no actorId.
   */
  async record(tx: Tx, entry: ActivityEntry): Promise<void> {
    const token = requestContext()?.token;
    const created = await tx.activityLog.create({
      select: { id: true },
      data: {
        orgId: entry.orgId,
        actorId: token?.kind === 'service_account' ? null : entry.actorId,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId ?? null,
        before: toJson(entry.before),
        after: toJson(entry.after),
      },
    });
    if (token) {
      await tx.activityTokenActor.create({
        data: { activityId: created.id, orgId: entry.orgId, tokenId: token.id, kind: token.kind, name: token.name, prefix: token.prefix },
      });
    }
  }

  /** Newest first; `actorToken` names the management token an entry was made with (null: a session). */
  async list(orgId: string, opts: { limit: number; before?: Date; action?: string }) {
    const rows = await this.prisma.db.activityLog.findMany({
      where: { orgId, ...(opts.before ? { createdAt: { lt: opts.before } } : {}), ...(opts.action ? { action: opts.action } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: opts.limit,
    });
    const actors = await this.prisma.db.activityTokenActor.findMany({
      where: { orgId, activityId: { in: rows.map((r) => r.id) } },
      select: { activityId: true, tokenId: true, kind: true, name: true, prefix: true },
    });
    const byId = new Map(actors.map((a) => [a.activityId, { id: a.tokenId, kind: a.kind, name: a.name, prefix: a.prefix }]));
    return rows.map((r) => ({ ...r, actorToken: byId.get(r.id) ?? null }));
  }
}
