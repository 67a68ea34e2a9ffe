import { Injectable } from '@nestjs/common';
import type { Prisma, Tx } from '@toolgate/db';
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

  /** Append to the admin activity log, inside the caller's transaction. */
  async record(tx: Tx, entry: ActivityEntry): Promise<void> {
    await tx.activityLog.create({
      data: {
        orgId: entry.orgId,
        actorId: entry.actorId,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId ?? null,
        before: toJson(entry.before),
        after: toJson(entry.after),
      },
    });
  }

  async list(orgId: string, opts: { limit: number; before?: Date; action?: string }) {
    return this.prisma.db.activityLog.findMany({
      where: { orgId, ...(opts.before ? { createdAt: { lt: opts.before } } : {}), ...(opts.action ? { action: opts.action } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: opts.limit,
    });
  }
}
