import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ENV, type Env } from '../../config/env';
import { describeFailure, isConnectionFailure } from '../../infra/failures';
import { Outage } from '../../infra/outage';
import { PrismaService } from '../../infra/prisma.service';
import { pgTimestamp } from '../usage/usage.rollup';
import { hourStart } from '../usage/usage.rules';
import { describeStripeError, isRetriableStripeError, STRIPE, type StripeBilling } from './stripe.client';

/**
 * Stripe guarantees meter-event identifier uniqueness (and keeps idempotency keys) for at least
 * 24 hours. A report is retried only while its first attempt is younger than this, so a retry can
 * never land after Stripe forgot the original and bill it twice.
 */
const RETRY_WINDOW_MS = 20 * 3_600_000;
/** Stripe accepts meter events up to 35 days old; we schedule hours up to 34 days back. */
const LOOKBACK_MS = 34 * 86_400_000;
const MAX_BACKOFF_MS = 3_600_000;
/** Reports sent per pass, and how many requests run at once. */
const PASS_LIMIT = 100;
const CONCURRENCY = 8;

interface Claimed {
  id: string;
  orgId: string;
  hour: Date;
  quantity: number;
  identifier: string;
  attempts: number;
  createdAt: Date;
  customerId: string | null;
  meteringStartedAt: Date | null;
}

export interface MeterPassResult {
  scheduled: number;
  reported: number;
  retrying: number;
  failed: number;
}

/**
 * Reports billable usage to Stripe as billing meter events: one event per org and closed hour
 * (`value` = billable calls = calls − denied in that hour), for orgs with a live subscription.
 *
 * Each pass (every METER_REPORT_INTERVAL_MS, in the worker):
 * 1. Schedule: every hour that ended at least METER_GRACE_MS ago (late events still count), since
 *    billing was enabled, with billable calls and no MeterReport yet, gets one — quantity fixed
 *    from UsageHourly, identifier `${orgId}:${hourISO}`. The (orgId, hour) unique index makes this
 *    idempotent across passes and workers.
 * 2. Send: due pending reports are claimed (FOR UPDATE SKIP LOCKED, with a lease so a crashed
 *    sender's reports become due again) and sent with `stripe.billing.meterEvents.create`. The
 *    request is identical on every attempt — same identifier, timestamp, value and
 *    `Idempotency-Key` — so Stripe answers a repeat with the original result (idempotency) or
 *    drops it (identifier uniqueness): a report is counted at most once however often it is sent.
 * 3. Stripe unreachable, timing out, rate limiting or answering 5xx (connection-class, see
 *    infra/failures.ts): not the report's fault, so no attempt is spent. The pass hands back the
 *    reports it claimed, probes Stripe with backoff (OUTAGE_PROBE_BASE_MS doubling up to
 *    OUTAGE_PROBE_MAX_MS) by re-sending the report that failed — the same idempotent request —
 *    and once Stripe answers, records that report and goes on. However long the outage, no
 *    report fails for it.
 * 4. Other errors (a 409): attempts + 1 and a doubling delay (METER_RETRY_BASE_MS, capped at an
 *    hour). A report is marked `failed` — for an operator, never resent automatically — when
 *    Stripe refuses it (4xx other than 409), after METER_MAX_ATTEMPTS, or once its first attempt
 *    is older than the 20 h retry window (whatever the error: past it a resend could bill twice).
 */
@Injectable()
export class MeterReporter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('MeterReporter');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<MeterPassResult> | null = null;
  private closed = false;
  /** Aborted on shutdown: stops waiting for Stripe. */
  private readonly stopping = new AbortController();
  private readonly outage: Outage;

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(STRIPE) private readonly stripe: StripeBilling,
    private readonly prisma: PrismaService,
  ) {
    this.outage = new Outage('Stripe', { baseMs: env.OUTAGE_PROBE_BASE_MS, maxMs: env.OUTAGE_PROBE_MAX_MS }, this.logger);
  }

  onModuleInit(): void {
    if (!this.stripe.client) {
      this.logger.log('Stripe is not configured: usage stays on the local ledger, nothing is reported');
      return;
    }
    this.timer = setInterval(() => void this.pass(), this.env.METER_REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One schedule + send pass; concurrent calls share the pass in progress. Never throws. */
  pass(now = new Date()): Promise<MeterPassResult> {
    const empty = { scheduled: 0, reported: 0, retrying: 0, failed: 0 };
    if (!this.stripe.client || this.closed) return Promise.resolve(empty);
    this.running ??= this.run(now)
      .catch((e: unknown) => {
        this.logger.warn(`meter pass failed: ${describeFailure(e)}`);
        return empty;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async run(now: Date): Promise<MeterPassResult> {
    const scheduled = await this.schedule(now);
    const result: MeterPassResult = { scheduled, reported: 0, retrying: 0, failed: 0 };
    claiming: for (;;) {
      const claimed = await this.claim();
      if (claimed.length === 0) break;
      for (let i = 0; i < claimed.length; i += CONCURRENCY) {
        const chunk = claimed.slice(i, i + CONCURRENCY);
        const outcomes = await Promise.all(chunk.map((r) => this.send(r)));
        const unreachable: Array<{ r: Claimed; error: unknown }> = [];
        outcomes.forEach((o, k) => {
          if (typeof o === 'string') result[o]++;
          else unreachable.push({ r: chunk[k]!, error: o.unreachable });
        });
        if (unreachable.length === 0) continue;
        // Stripe is down: hand back what was not sent, wait for it, then claim afresh.
        const [canary, ...others] = unreachable;
        await this.release([...others.map((u) => u.r), ...claimed.slice(i + CONCURRENCY)]);
        const back = await this.waitForStripe(canary!.r, canary!.error);
        if (back === null) break claiming;
        if (back === 'reported') result.reported++;
        continue claiming;
      }
      if (this.closed || claimed.length < PASS_LIMIT) break;
    }
    if (result.scheduled + result.reported + result.retrying + result.failed > 0) {
      this.logger.log(`meter pass: ${JSON.stringify(result)}`);
    }
    return result;
  }

  /** Step 1: one pending MeterReport (due at once) per hour closed at `now`, billable and not yet scheduled. */
  private async schedule(now: Date): Promise<number> {
    const cutoff = hourStart(new Date(now.getTime() - this.env.METER_GRACE_MS));
    const oldest = new Date(now.getTime() - LOOKBACK_MS);
    // Written from this clock (UTC), not the database's: createdAt bounds the retry window.
    const created = pgTimestamp(new Date());
    return this.prisma.db.$executeRaw`
      INSERT INTO "MeterReport" (id, "orgId", hour, quantity, identifier, "nextAttemptAt", "createdAt")
      SELECT gen_random_uuid(), u."orgId", u.hour, sum(u.calls - u.denied)::int,
             u."orgId"::text || ':' || to_char(u.hour, 'YYYY-MM-DD"T"HH24":00:00.000Z"'),
             ${created}::timestamp(3), ${created}::timestamp(3)
      FROM "UsageHourly" u
      JOIN "BillingAccount" b ON b."orgId" = u."orgId"
      WHERE b."stripeCustomerId" IS NOT NULL AND b."stripeSubscriptionId" IS NOT NULL
        AND b."meteringStartedAt" IS NOT NULL
        AND b.status NOT IN ('canceled', 'incomplete_expired', 'none')
        AND u.hour >= date_trunc('hour', b."meteringStartedAt")
        AND u.hour >= ${pgTimestamp(oldest)}::timestamp(3)
        AND u.hour < ${pgTimestamp(cutoff)}::timestamp(3)
        AND NOT EXISTS (SELECT 1 FROM "MeterReport" m WHERE m."orgId" = u."orgId" AND m.hour = u.hour)
      GROUP BY u."orgId", u.hour
      HAVING sum(u.calls - u.denied) > 0
      ON CONFLICT DO NOTHING`;
  }

  /** Step 2a: take due reports, pushing their next attempt out by a lease while they are sent. */
  private async claim(): Promise<Claimed[]> {
    const now = new Date();
    const lease = new Date(now.getTime() + 2 * this.env.STRIPE_TIMEOUT_MS * (this.env.STRIPE_MAX_NETWORK_RETRIES + 1) + 10_000);
    return this.prisma.db.$queryRaw<Claimed[]>`
      WITH due AS (
        SELECT id FROM "MeterReport"
        WHERE status = 'pending' AND "nextAttemptAt" <= ${pgTimestamp(now)}::timestamp(3)
        ORDER BY "nextAttemptAt", hour
        LIMIT ${PASS_LIMIT}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE "MeterReport" m
      SET "nextAttemptAt" = ${pgTimestamp(lease)}::timestamp(3), attempts = m.attempts + 1
      FROM due
      WHERE m.id = due.id
      RETURNING m.id, m."orgId", m.hour, m.quantity, m.identifier, m.attempts, m."createdAt",
                (SELECT b."stripeCustomerId" FROM "BillingAccount" b WHERE b."orgId" = m."orgId") AS "customerId",
                (SELECT b."meteringStartedAt" FROM "BillingAccount" b WHERE b."orgId" = m."orgId") AS "meteringStartedAt"`;
  }

  /**
   * Step 2b: send one report; returns what became of it, or the connection-class failure that
   * left it unsent (nothing recorded: the caller hands it back).
   */
  private async send(r: Claimed): Promise<'reported' | 'retrying' | 'failed' | { unreachable: unknown }> {
    if (!r.customerId || !r.meteringStartedAt) return this.fail(r, 'the org has no Stripe customer any more');
    try {
      await this.request(r);
    } catch (e) {
      const reason = describeStripeError(e);
      const outOfTime = Date.now() - r.createdAt.getTime() > RETRY_WINDOW_MS;
      if (outOfTime) return this.fail(r, reason);
      if (isConnectionFailure(e)) return { unreachable: e };
      if (!isRetriableStripeError(e) || r.attempts >= this.env.METER_MAX_ATTEMPTS) return this.fail(r, reason);
      const delay = Math.min(this.env.METER_RETRY_BASE_MS * 2 ** (r.attempts - 1), MAX_BACKOFF_MS);
      await this.prisma.db.meterReport.update({
        where: { id: r.id },
        data: { lastError: reason, nextAttemptAt: new Date(Date.now() + delay) },
      });
      this.logger.warn(`meter report ${r.identifier} attempt ${r.attempts} failed (retry in ${delay} ms): ${reason}`);
      return 'retrying';
    }
    return this.reported(r);
  }

  /**
   * The meter event of a report. The hour's start, or the moment metering began if that was
   * within the hour (Stripe bills a subscription for events from its start on): fixed per report,
   * so every attempt is the identical, idempotent request.
   */
  private async request(r: Claimed): Promise<void> {
    const at = Math.max(r.hour.getTime(), r.meteringStartedAt!.getTime());
    await this.stripe.client!.billing.meterEvents.create(
      {
        event_name: this.stripe.meterEventName,
        payload: { stripe_customer_id: r.customerId!, value: String(r.quantity) },
        identifier: r.identifier,
        timestamp: Math.floor(at / 1000),
      },
      { idempotencyKey: `tg-meter-${r.identifier}` },
    );
  }

  private async reported(r: Claimed): Promise<'reported'> {
    await this.prisma.db.meterReport.update({ where: { id: r.id }, data: { status: 'reported', reportedAt: new Date(), lastError: null } });
    return 'reported';
  }

  /**
   * Stripe is unreachable: probe it with backoff by re-sending `canary` (idempotent). Returns
   * `reported` if the probe got it accepted, `released` if Stripe answered but refused it (handed
   * back, to be sent and judged as usual), null on shutdown (handed back).
   */
  private async waitForStripe(canary: Claimed, cause: unknown): Promise<'reported' | 'released' | null> {
    let accepted = false;
    const back = await this.outage.waitUntilUp(
      cause,
      async () => {
        await this.request(canary);
        accepted = true;
      },
      this.stopping.signal,
    );
    if (accepted) return this.reported(canary);
    await this.release([canary]);
    return back ? 'released' : null;
  }

  /** Claimed reports go back to pending, due now, with the claim's attempt undone (an outage is not theirs). */
  private async release(reports: readonly Claimed[]): Promise<void> {
    if (reports.length === 0) return;
    await this.prisma.db.meterReport.updateMany({
      where: { id: { in: reports.map((r) => r.id) }, status: 'pending' },
      data: { attempts: { decrement: 1 }, nextAttemptAt: new Date() },
    });
  }

  private async fail(r: Claimed, reason: string): Promise<'failed'> {
    await this.prisma.db.meterReport.update({ where: { id: r.id }, data: { status: 'failed', lastError: reason } });
    this.logger.error(`meter report ${r.identifier} (${r.quantity} calls) failed for good after ${r.attempts} attempt(s): ${reason}`);
    return 'failed';
  }
}
