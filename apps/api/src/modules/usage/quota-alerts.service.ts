import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { redisKeys } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { RedisService } from '../../infra/redis.service';
import { pgTimestamp } from './usage.rollup';
import { CALL_METHODS, monthBounds, monthOf, quotaKeyTtlSeconds, type StorableUsageEvent } from './usage.rules';
import { assertPublicTarget, InternalTargetError } from './webhook-target';
import { describeFailure } from '../../infra/failures';

/** Alerts are raised when an org's billable calls of the month reach these percentages of its quota. */
export const QUOTA_THRESHOLDS = [80, 100] as const;

/**
 * KEYS[1] the month's quota counter; ARGV[1] the rolled-up total; ARGV[2] TTL (s) for a new key.
 * Raises the counter to the total, never lowers it (the gateway's count runs ahead of the
 * roll-ups). This repairs a counter Redis lost (flush, failover without persistence) or one that
 * started late (a quota set in the middle of a month).
 */
const RAISE_LUA = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if want <= cur then return cur end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], want, 'PX', ttl)
else
  redis.call('SET', KEYS[1], want, 'EX', tonumber(ARGV[2]))
end
return want
`;

/** The JSON body POSTed to a BillingAccount's alertWebhookUrl. */
export interface QuotaAlertPayload {
  type: 'quota.threshold_reached';
  id: string;
  org: { id: string; slug: string; name: string };
  period: string;
  threshold: number;
  calls: number;
  quota: number | null;
  createdAt: string;
}

interface ClaimedAlert {
  id: string;
  orgId: string;
  period: string;
  threshold: number;
  calls: number;
  deliveryAttempts: number;
  createdAt: Date;
}

/**
 * Monthly quotas, the control-plane side (the gateway refuses calls past the cap, see
 * apps/gateway/src/core/quota.ts):
 *
 * - After each roll-up batch, the orgs in it that have a quota get their month's billable total
 *   (from UsageHourly) compared with the cap: at 80% and 100% a QuotaAlert row is recorded, once
 *   per org, month and threshold (unique index), for the dashboard (`GET /usage/alerts`).
 * - If the org's BillingAccount has an `alertWebhookUrl`, each new alert is POSTed there as JSON;
 *   failures are retried with doubling delays up to QUOTA_ALERT_MAX_ATTEMPTS, then marked failed.
 *   Deliveries are claimed with a lease (FOR UPDATE SKIP LOCKED), so several workers never send
 *   the same alert at once; a receiver may still see a repeat after a crash mid-request and
 *   should dedupe on the `Toolgate-Alert-Id` header.
 * - The gateway's Redis counter is raised to the rolled-up total (see RAISE_LUA).
 */
@Injectable()
export class QuotaAlertService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('QuotaAlerts');
  private timer: NodeJS.Timeout | null = null;
  private delivering: Promise<void> | null = null;
  private closed = false;

  constructor(
    @Inject(ENV) private readonly env: Env,
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
  ) {}

  onModuleInit(): void {
    const every = Math.max(100, Math.min(this.env.QUOTA_ALERT_RETRY_MS, 10_000));
    this.timer = setInterval(() => void this.deliverDue(), every);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.delivering;
  }

  /** Check the quotas of the orgs and months a committed batch touched. Never throws. */
  async afterBatch(events: readonly StorableUsageEvent[]): Promise<void> {
    const byPeriod = new Map<string, Set<string>>();
    for (const e of events) {
      if (!CALL_METHODS.has(e.method)) continue;
      const period = monthOf(new Date(e.at));
      const orgs = byPeriod.get(period) ?? new Set<string>();
      orgs.add(e.orgId.toLowerCase());
      byPeriod.set(period, orgs);
    }
    let raised = false;
    for (const [period, orgs] of byPeriod) {
      try {
        raised = (await this.checkPeriod(period, [...orgs])) || raised;
      } catch (e) {
        // The roll-up is committed either way; the next batch of this org checks again.
        this.logger.warn(`quota check for ${period} failed: ${describeFailure(e)}`);
      }
    }
    if (raised) void this.deliverDue();
  }

  /** Returns true when a new alert needs a webhook delivery. */
  private async checkPeriod(period: string, orgIds: string[]): Promise<boolean> {
    const { start, end } = monthBounds(period);
    const rows = await this.prisma.db.$queryRaw<Array<{ orgId: string; quota: number; used: bigint }>>`
      SELECT o.id AS "orgId", o."monthlyCallQuota" AS quota,
             COALESCE((SELECT sum(u.calls - u.denied) FROM "UsageHourly" u
                       WHERE u."orgId" = o.id AND u.hour >= ${pgTimestamp(start)}::timestamp(3)
                         AND u.hour < ${pgTimestamp(end)}::timestamp(3)), 0)::bigint AS used
      FROM "Organization" o
      WHERE o.id = ANY(${orgIds}::uuid[]) AND o."monthlyCallQuota" IS NOT NULL`;
    let needsDelivery = false;
    for (const row of rows) {
      const used = Number(row.used);
      await this.raiseCounter(row.orgId, period, used);
      const reached = QUOTA_THRESHOLDS.filter((t) => used * 100 >= row.quota * t);
      if (reached.length === 0) continue;
      const account = await this.prisma.db.billingAccount.findUnique({ where: { orgId: row.orgId }, select: { alertWebhookUrl: true } });
      const hasUrl = !!account?.alertWebhookUrl;
      const created = await this.prisma.db.quotaAlert.createManyAndReturn({
        data: reached.map((threshold) => ({
          orgId: row.orgId,
          period,
          threshold,
          calls: used,
          deliveryStatus: hasUrl ? 'pending' : 'none',
          nextAttemptAt: hasUrl ? new Date() : null,
        })),
        skipDuplicates: true,
        select: { id: true, threshold: true },
      });
      for (const a of created) {
        this.logger.log(`org ${row.orgId} reached ${a.threshold}% of its ${period} quota (${used}/${row.quota} calls)`);
      }
      needsDelivery ||= hasUrl && created.length > 0;
    }
    return needsDelivery;
  }

  private async raiseCounter(orgId: string, period: string, used: number): Promise<void> {
    if (!this.redis.ready) return;
    try {
      await this.redis.client.eval(RAISE_LUA, 1, redisKeys.quota(orgId, period), used, quotaKeyTtlSeconds(period));
    } catch (e) {
      // Redis away: the gateway fails open meanwhile and the next batch raises the counter.
      this.logger.debug(`quota counter not raised: ${(e as Error).message}`);
    }
  }

  /** Send every alert whose delivery is due. Runs one pass at a time per process. */
  deliverDue(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.delivering) {
      this.delivering = this.deliverPass()
        .catch((e: unknown) => this.logger.warn(`alert delivery pass failed: ${describeFailure(e)}`))
        .finally(() => {
          this.delivering = null;
        });
    }
    return this.delivering;
  }

  private async deliverPass(): Promise<void> {
    for (;;) {
      const now = new Date();
      // The lease covers one request (timeout) with room to spare; a crash mid-request makes the
      // alert due again when it runs out.
      const lease = new Date(now.getTime() + this.env.QUOTA_ALERT_TIMEOUT_MS * 2 + 5000);
      const claimed = await this.prisma.db.$queryRaw<ClaimedAlert[]>`
        UPDATE "QuotaAlert" a
        SET "nextAttemptAt" = ${pgTimestamp(lease)}::timestamp(3), "deliveryAttempts" = a."deliveryAttempts" + 1
        WHERE a.id IN (
          SELECT id FROM "QuotaAlert"
          WHERE "deliveryStatus" = 'pending' AND "nextAttemptAt" <= ${pgTimestamp(now)}::timestamp(3)
          ORDER BY "nextAttemptAt" LIMIT 20
          FOR UPDATE SKIP LOCKED
        )
        RETURNING a.id, a."orgId", a.period, a.threshold, a.calls, a."deliveryAttempts", a."createdAt"`;
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((a) => this.deliver(a)));
      if (this.closed) return;
    }
  }

  private async deliver(alert: ClaimedAlert): Promise<void> {
    const [org, account] = await Promise.all([
      this.prisma.db.organization.findUnique({
        where: { id: alert.orgId },
        select: { id: true, slug: true, name: true, monthlyCallQuota: true },
      }),
      this.prisma.db.billingAccount.findUnique({ where: { orgId: alert.orgId }, select: { alertWebhookUrl: true } }),
    ]);
    const url = account?.alertWebhookUrl;
    if (!org || !url) {
      // The org is gone or its URL was removed since: nothing to deliver to.
      await this.prisma.db.quotaAlert.update({ where: { id: alert.id }, data: { deliveryStatus: 'none', nextAttemptAt: null } });
      return;
    }
    const payload: QuotaAlertPayload = {
      type: 'quota.threshold_reached',
      id: alert.id,
      org: { id: org.id, slug: org.slug, name: org.name },
      period: alert.period,
      threshold: alert.threshold,
      calls: alert.calls,
      quota: org.monthlyCallQuota,
      createdAt: alert.createdAt.toISOString(),
    };
    let error: string | null = null;
    let permanent = false;
    try {
      // In production a member-supplied URL must not reach internal networks (see webhook-target.ts).
      if (this.env.NODE_ENV === 'production') await assertPublicTarget(url);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'Toolgate-Alerts/1', 'Toolgate-Alert-Id': alert.id },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.env.QUOTA_ALERT_TIMEOUT_MS),
        redirect: 'manual',
      });
      // The body is not needed; release the connection.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (e) {
      const err = e as Error;
      permanent = err instanceof InternalTargetError;
      error = err.name === 'TimeoutError' ? `timed out after ${this.env.QUOTA_ALERT_TIMEOUT_MS} ms` : err.message;
    }
    if (error === null) {
      await this.prisma.db.quotaAlert.update({
        where: { id: alert.id },
        data: { deliveryStatus: 'delivered', deliveredAt: new Date(), nextAttemptAt: null, lastError: null },
      });
      return;
    }
    const giveUp = permanent || alert.deliveryAttempts >= this.env.QUOTA_ALERT_MAX_ATTEMPTS;
    const delay = Math.min(this.env.QUOTA_ALERT_RETRY_MS * 2 ** (alert.deliveryAttempts - 1), 6 * 3_600_000);
    await this.prisma.db.quotaAlert.update({
      where: { id: alert.id },
      data: giveUp
        ? { deliveryStatus: 'failed', nextAttemptAt: null, lastError: error }
        : { nextAttemptAt: new Date(Date.now() + delay), lastError: error },
    });
    this.logger.warn(`quota alert ${alert.id} to ${new URL(url).host}: ${error}${giveUp ? ' (giving up)' : ''}`);
  }
}
