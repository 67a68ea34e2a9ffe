import { Injectable } from '@nestjs/common';
import { Prisma } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';
import { pgTimestamp } from './usage.rollup';

/** Sums of the roll-up columns as Postgres returns them (bigint sums arrive as BigInt). */
export interface RawMetrics {
  calls: bigint | number | null;
  errors: bigint | number | null;
  denied: bigint | number | null;
  bytesIn: bigint | number | string | null;
  bytesOut: bigint | number | string | null;
  durationMs: number | null;
}

export interface Metrics {
  calls: number;
  errors: number;
  denied: number;
  /** calls − denied: what is billed and counted against the quota. */
  billable: number;
  bytesIn: number;
  bytesOut: number;
  /** Upstream time of the forwarded calls (see usage.rules.ts): ÷ billable = average latency. */
  durationMs: number;
}

export function metrics(r: RawMetrics | undefined): Metrics {
  const n = (v: bigint | number | string | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
  const calls = n(r?.calls);
  const denied = n(r?.denied);
  return {
    calls,
    errors: n(r?.errors),
    denied,
    billable: calls - denied,
    bytesIn: n(r?.bytesIn),
    bytesOut: n(r?.bytesOut),
    durationMs: Math.round(n(r?.durationMs) * 1000) / 1000,
  };
}

const SUMS = Prisma.sql`sum(u.calls)::bigint AS calls, sum(u.errors)::bigint AS errors, sum(u.denied)::bigint AS denied,
  sum(u."bytesIn")::bigint AS "bytesIn", sum(u."bytesOut")::bigint AS "bytesOut", sum(u."durationMs")::float8 AS "durationMs"`;

/**
 * Reads of UsageHourly. Every query is bounded by (orgId, hour range) and served by the
 * (orgId, hour) index; a month of one org is at most 744 hours × its key/server/tool combinations.
 */
@Injectable()
export class UsageRepository {
  constructor(private readonly prisma: PrismaService) {}

  private range(orgId: string, from: Date, to: Date) {
    return Prisma.sql`u."orgId" = ${orgId}::uuid AND u.hour >= ${pgTimestamp(from)}::timestamp(3) AND u.hour < ${pgTimestamp(to)}::timestamp(3)`;
  }

  async totals(orgId: string, from: Date, to: Date): Promise<Metrics> {
    const [row] = await this.prisma.db.$queryRaw<RawMetrics[]>`SELECT ${SUMS} FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)}`;
    return metrics(row);
  }

  /** Billable calls (calls − denied) in a range. */
  async billable(orgId: string, from: Date, to: Date): Promise<number> {
    const [row] = await this.prisma.db.$queryRaw<Array<{ billable: bigint | null }>>`
      SELECT sum(u.calls - u.denied)::bigint AS billable FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)}`;
    return Number(row?.billable ?? 0);
  }

  /** One row per hour or day bucket of the range, empty buckets included (zeros). */
  async byTime(orgId: string, from: Date, to: Date, unit: 'hour' | 'day') {
    const step = unit === 'hour' ? Prisma.sql`interval '1 hour'` : Prisma.sql`interval '1 day'`;
    const trunc = unit === 'hour' ? Prisma.sql`'hour'` : Prisma.sql`'day'`;
    return this.prisma.db.$queryRaw<Array<RawMetrics & { start: Date }>>`
      WITH agg AS (
        SELECT date_trunc(${trunc}, u.hour) AS bucket, ${SUMS}
        FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)}
        GROUP BY 1
      )
      SELECT b.bucket AS start, agg.calls, agg.errors, agg.denied, agg."bytesIn", agg."bytesOut", agg."durationMs"
      FROM generate_series(date_trunc(${trunc}, ${pgTimestamp(from)}::timestamp(3)),
                           ${pgTimestamp(to)}::timestamp(3) - interval '1 millisecond', ${step}) AS b(bucket)
      LEFT JOIN agg ON agg.bucket = b.bucket
      ORDER BY b.bucket`;
  }

  /** Largest first; `total` counts every group, so callers can tell when `limit` cut the list. */
  async byKey(orgId: string, from: Date, to: Date, limit: number) {
    return this.prisma.db.$queryRaw<Array<RawMetrics & { keyId: string; keyName: string | null; keyPrefix: string | null; total: bigint }>>`
      WITH agg AS (
        SELECT u."keyId", ${SUMS} FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)} GROUP BY u."keyId"
      )
      SELECT agg.*, COALESCE(k.name, c.name || ' (OAuth)') AS "keyName", k.prefix AS "keyPrefix", count(*) OVER () AS total
      FROM agg LEFT JOIN "ApiKey" k ON k."orgId" = ${orgId}::uuid AND k.id::text = agg."keyId"
      -- An OAuth caller's usage is under its grant's id: name it by the app.
      LEFT JOIN "OAuthGrant" g ON g."orgId" = ${orgId}::uuid AND g.id::text = agg."keyId"
      LEFT JOIN "OAuthClient" c ON c.id = g."clientId"
      ORDER BY agg.calls DESC, agg."bytesIn" + agg."bytesOut" DESC, agg."keyId"
      LIMIT ${limit}`;
  }

  async byServer(orgId: string, from: Date, to: Date, limit: number) {
    return this.prisma.db.$queryRaw<
      Array<RawMetrics & { serverId: string; serverSlug: string | null; serverName: string | null; total: bigint }>
    >`
      WITH agg AS (
        SELECT u."serverId", ${SUMS} FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)} GROUP BY u."serverId"
      )
      SELECT agg.*, s.slug AS "serverSlug", s.name AS "serverName", count(*) OVER () AS total
      FROM agg LEFT JOIN "McpServer" s ON s."orgId" = ${orgId}::uuid AND s.id::text = agg."serverId"
      ORDER BY agg.calls DESC, agg."bytesIn" + agg."bytesOut" DESC, agg."serverId"
      LIMIT ${limit}`;
  }

  /** A tool is a (server, name) pair: two servers may both have a `search` tool. */
  async byTool(orgId: string, from: Date, to: Date, limit: number) {
    return this.prisma.db.$queryRaw<Array<RawMetrics & { serverId: string; target: string; serverSlug: string | null; total: bigint }>>`
      WITH agg AS (
        SELECT u."serverId", u.target, ${SUMS} FROM "UsageHourly" u WHERE ${this.range(orgId, from, to)}
        GROUP BY u."serverId", u.target
      )
      SELECT agg.*, s.slug AS "serverSlug", count(*) OVER () AS total
      FROM agg LEFT JOIN "McpServer" s ON s."orgId" = ${orgId}::uuid AND s.id::text = agg."serverId"
      ORDER BY agg.calls DESC, agg."bytesIn" + agg."bytesOut" DESC, agg."serverId", agg.target
      LIMIT ${limit}`;
  }
}
