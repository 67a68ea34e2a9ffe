import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../infra/prisma.service';
import { forwardedDuration, hourStart, type StorableUsageEvent, tally, UUID } from './usage.rules';

export interface RollupResult {
  /** Events of the batch not seen before (counted now). */
  counted: number;
  /** Events of the batch already counted earlier (redeliveries) or repeated within the batch. */
  duplicates: number;
}

/** `2026-11-24 13:00:00`: a timestamp literal for the `timestamp(3)` (UTC) columns. */
export const pgTimestamp = (d: Date) => d.toISOString().slice(0, 23).replace('T', ' ');

/**
 * Writes batches of usage events into the hourly roll-ups, exactly once per event id.
 *
 * One SQL statement per batch (so one implicit transaction, one round trip): the event ids go
 * into UsageEventSeen with ON CONFLICT DO NOTHING RETURNING id, and only the ids that statement
 * returned — events never counted before — are summed into UsageHourly with
 * INSERT … ON CONFLICT DO UPDATE SET calls = calls + EXCLUDED.calls, …. Either both happen or
 * neither: a worker that dies before the commit leaves nothing behind and the redelivered events
 * count then; a worker that dies after the commit but before acknowledging the jobs gets its
 * events redelivered, and they are already in UsageEventSeen, so they change nothing.
 *
 * Rows are written in primary-key order so concurrent batches (several workers) lock them in the
 * same order and cannot deadlock each other.
 */
@Injectable()
export class UsageRollupWriter {
  constructor(private readonly prisma: PrismaService) {}

  async write(events: readonly StorableUsageEvent[]): Promise<RollupResult> {
    // Repeats of one id inside the batch would otherwise join the inserted id twice.
    const unique = new Map<string, StorableUsageEvent>();
    for (const e of events) if (!unique.has(e.id.toLowerCase())) unique.set(e.id.toLowerCase(), e);
    const batch = [...unique.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (batch.length === 0) return { counted: 0, duplicates: events.length };

    // One JSON document of rows: serialising it is native JSON.stringify, where an array parameter
    // per column cost the driver an escaped array literal each.
    const rows = new Array<string>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      const t = tally(e);
      rows[i] = JSON.stringify({
        id: e.id.toLowerCase(),
        orgId: e.orgId.toLowerCase(),
        hour: pgTimestamp(hourStart(new Date(e.at))),
        // Empty string, not NULL, stands for "none": NULLs never conflict in a unique index.
        keyId: e.keyId ?? '',
        serverId: e.serverId ?? '',
        target: e.target ?? '',
        calls: t.calls,
        errors: t.errors,
        denied: t.denied,
        bytesIn: e.bytesIn,
        bytesOut: e.bytesOut,
        durationMs: forwardedDuration(e),
      });
    }

    const [row] = await this.prisma.db.$queryRaw<Array<{ counted: number }>>`
      WITH ev AS (
        SELECT * FROM json_to_recordset(${`[${rows.join(',')}]`}::json) AS e(
          id uuid, "orgId" uuid, hour timestamp(3), "keyId" text, "serverId" text, target text, calls int, errors int,
          denied int, "bytesIn" bigint, "bytesOut" bigint, "durationMs" float8)
      ),
      seen AS (
        INSERT INTO "UsageEventSeen" (id, "orgId", "seenAt")
        SELECT id, "orgId", ${pgTimestamp(new Date())}::timestamp(3) FROM ev ORDER BY id
        ON CONFLICT (id) DO NOTHING
        RETURNING id
      ),
      rolled AS (
        INSERT INTO "UsageHourly" ("orgId", hour, "keyId", "serverId", target, calls, errors, denied, "bytesIn", "bytesOut", "durationMs")
        SELECT ev."orgId", ev.hour, ev."keyId", ev."serverId", ev.target,
               sum(ev.calls)::int, sum(ev.errors)::int, sum(ev.denied)::int,
               sum(ev."bytesIn")::bigint, sum(ev."bytesOut")::bigint, sum(ev."durationMs")::float8
        FROM ev JOIN seen ON seen.id = ev.id
        GROUP BY ev."orgId", ev.hour, ev."keyId", ev."serverId", ev.target
        ORDER BY ev."orgId", ev.hour, ev."keyId", ev."serverId", ev.target
        ON CONFLICT ("orgId", hour, "keyId", "serverId", target) DO UPDATE SET
          calls = "UsageHourly".calls + EXCLUDED.calls,
          errors = "UsageHourly".errors + EXCLUDED.errors,
          denied = "UsageHourly".denied + EXCLUDED.denied,
          "bytesIn" = "UsageHourly"."bytesIn" + EXCLUDED."bytesIn",
          "bytesOut" = "UsageHourly"."bytesOut" + EXCLUDED."bytesOut",
          "durationMs" = "UsageHourly"."durationMs" + EXCLUDED."durationMs"
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM seen)::int AS counted, (SELECT count(*) FROM rolled)::int AS rows`;
    const counted = row?.counted ?? 0;
    return { counted, duplicates: events.length - counted };
  }

  /**
   * Stamp `ApiKey.lastUsedAt` with the newest event time of each key in the batch. The newer time
   * wins, so redeliveries and out-of-order batches never move it back. Rows are locked in id order
   * so concurrent workers cannot deadlock on them. Returns how many keys changed.
   */
  async touchKeys(events: readonly StorableUsageEvent[]): Promise<number> {
    const newest = new Map<string, { orgId: string; at: number }>();
    const now = Date.now();
    for (const e of events) {
      if (!e.keyId || !UUID.test(e.keyId)) continue;
      // A gateway clock ahead of ours must not date a key's last use in the future.
      const at = Math.min(Date.parse(e.at), now);
      const id = e.keyId.toLowerCase();
      const seen = newest.get(id);
      if (!seen || seen.at < at) newest.set(id, { orgId: e.orgId.toLowerCase(), at });
    }
    if (newest.size === 0) return 0;
    const ids = [...newest.keys()].sort();
    const orgs = ids.map((id) => newest.get(id)!.orgId);
    const ats = ids.map((id) => pgTimestamp(new Date(newest.get(id)!.at)));
    return this.prisma.db.$executeRaw`
      WITH v AS (
        SELECT * FROM unnest(${ids}::uuid[], ${orgs}::uuid[], ${ats}::timestamp(3)[]) AS v(id, "orgId", at)
      ),
      locked AS (
        SELECT k.id, v.at FROM "ApiKey" k JOIN v ON v.id = k.id AND v."orgId" = k."orgId"
        WHERE k."lastUsedAt" IS NULL OR k."lastUsedAt" < v.at
        ORDER BY k.id
        FOR UPDATE OF k
      )
      UPDATE "ApiKey" k SET "lastUsedAt" = locked.at FROM locked
      WHERE k.id = locked.id AND (k."lastUsedAt" IS NULL OR k."lastUsedAt" < locked.at)`;
  }

  /**
   * Forget ids remembered before `olderThan` (redeliveries are not expected that late), in chunks
   * so a large backlog never holds one long transaction. Returns how many were removed.
   */
  async prune(olderThan: Date, chunk = 10_000): Promise<number> {
    const cutoff = pgTimestamp(olderThan);
    let total = 0;
    for (;;) {
      const removed = await this.prisma.db.$executeRaw`
        DELETE FROM "UsageEventSeen" WHERE id IN (
          SELECT id FROM "UsageEventSeen" WHERE "seenAt" < ${cutoff}::timestamp(3) LIMIT ${chunk}
        )`;
      total += removed;
      if (removed < chunk) return total;
    }
  }
}
