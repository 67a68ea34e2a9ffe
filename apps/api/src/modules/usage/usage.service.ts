import { Injectable } from '@nestjs/common';
import type { AlertsView, UsageView } from '@toolgate/contracts';
import type { OrgContext } from '../../common/auth';
import { PrismaService } from '../../infra/prisma.service';
import type { AlertsQuery, UsageQuery } from './usage.dto';
import { metrics, UsageRepository } from './usage.repository';
import { monthBounds, monthOf } from './usage.rules';

/** One grouping's part of a UsageView, each `groupBy` with its own rows. */
type Series = UsageView extends infer V ? (V extends UsageView ? Pick<V, 'groupBy' | 'series' | 'truncated'> : never) : never;

const nullIfEmpty = (s: string) => (s === '' ? null : s);

/**
 * Usage as the dashboard and billing admins see it, answered from the hourly roll-ups only (never
 * from raw events), so a month of data is a few thousand rows at most per grouping.
 */
@Injectable()
export class UsageService {
  constructor(
    private readonly repo: UsageRepository,
    private readonly prisma: PrismaService,
  ) {}

  async usage(org: OrgContext, q: UsageQuery): Promise<UsageView> {
    const { from, to, limit } = q;
    const [totals, series] = await Promise.all([this.repo.totals(org.id, from, to), this.series(org.id, q)]);
    return { from: from.toISOString(), to: to.toISOString(), totals, ...series, limit };
  }

  /** The rows of one grouping, with `groupBy` so the response's type follows it. */
  private async series(orgId: string, { from, to, groupBy, limit }: UsageQuery): Promise<Series> {
    switch (groupBy) {
      case 'day':
      case 'hour': {
        const rows = await this.repo.byTime(orgId, from, to, groupBy);
        return { groupBy, series: rows.map((r) => ({ start: r.start.toISOString(), ...metrics(r) })), truncated: false };
      }
      case 'key': {
        const rows = await this.repo.byKey(orgId, from, to, limit);
        return {
          groupBy,
          series: rows.map((r) => ({ keyId: nullIfEmpty(r.keyId), keyName: r.keyName, keyPrefix: r.keyPrefix, ...metrics(r) })),
          truncated: rows.length > 0 && Number(rows[0]!.total) > rows.length,
        };
      }
      case 'server': {
        const rows = await this.repo.byServer(orgId, from, to, limit);
        return {
          groupBy,
          series: rows.map((r) => ({
            serverId: nullIfEmpty(r.serverId),
            serverSlug: r.serverSlug,
            serverName: r.serverName,
            ...metrics(r),
          })),
          truncated: rows.length > 0 && Number(rows[0]!.total) > rows.length,
        };
      }
      case 'tool': {
        const rows = await this.repo.byTool(orgId, from, to, limit);
        return {
          groupBy,
          series: rows.map((r) => ({
            serverId: nullIfEmpty(r.serverId),
            serverSlug: r.serverSlug,
            tool: nullIfEmpty(r.target),
            ...metrics(r),
          })),
          truncated: rows.length > 0 && Number(rows[0]!.total) > rows.length,
        };
      }
    }
  }

  /** The current month against the quota, and the alerts raised (newest first). */
  async alerts(org: OrgContext, q: AlertsQuery): Promise<AlertsView> {
    const period = monthOf(new Date());
    const { start, end } = monthBounds(period);
    const [row, used, alerts] = await Promise.all([
      this.prisma.db.organization.findUniqueOrThrow({ where: { id: org.id }, select: { monthlyCallQuota: true } }),
      this.repo.billable(org.id, start, end),
      this.prisma.db.quotaAlert.findMany({
        where: { orgId: org.id },
        orderBy: [{ createdAt: 'desc' }, { threshold: 'desc' }],
        take: q.limit,
      }),
    ]);
    const quota = row.monthlyCallQuota;
    return {
      current: {
        period,
        quota,
        used,
        percent: quota ? Math.round((used / quota) * 1000) / 10 : null,
        resetsAt: end.toISOString(),
      },
      items: alerts.map((a) => ({
        id: a.id,
        period: a.period,
        threshold: a.threshold,
        calls: a.calls,
        createdAt: a.createdAt.toISOString(),
        delivery: {
          status: a.deliveryStatus,
          attempts: a.deliveryAttempts,
          lastError: a.lastError,
          deliveredAt: a.deliveredAt?.toISOString() ?? null,
          nextAttemptAt: a.deliveryStatus === 'pending' ? (a.nextAttemptAt?.toISOString() ?? null) : null,
        },
      })),
    };
  }
}
