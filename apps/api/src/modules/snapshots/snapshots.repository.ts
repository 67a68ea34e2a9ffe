import { Injectable } from '@nestjs/common';
import type { Prisma } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/** A snapshot row as Postgres stores it. */
export interface StoredSnapshot {
  id: string;
  orgId: string;
  version: number;
  snapshot: Prisma.JsonValue;
  publishedAt: Date | null;
}

/**
 * Prisma calls of snapshot publishing. The reconcile queries walk every org (the data plane
 * serves them all), so they take a cursor instead of an orgId.
 */
@Injectable()
export class SnapshotsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The next `take` orgs by id after `cursor` (null: from the start). */
  orgsAfter(cursor: string | null, take: number) {
    return this.prisma.db.organization.findMany({
      where: cursor ? { id: { gt: cursor } } : {},
      orderBy: { id: 'asc' },
      take,
      select: { id: true, slug: true, snapshotVersion: true },
    });
  }

  /**
   * The current snapshot row of each of these orgs (the org row names the version): one index
   * lookup each, never the org's whole history. Raw SQL: Prisma has no column-to-column join
   * condition, and an OR of (orgId, version) pairs took 4× as long per batch.
   */
  currentSnapshots(orgIds: string[]): Promise<StoredSnapshot[]> {
    return this.prisma.db.$queryRaw<StoredSnapshot[]>`
      SELECT s.id, s."orgId", s.version, s.snapshot, s."publishedAt"
      FROM "PolicySnapshot" s
      JOIN "Organization" o ON o.id = s."orgId" AND o."snapshotVersion" = s.version
      WHERE o.id = ANY(${orgIds}::uuid[])`;
  }

  /** The newest unpublished snapshot of each org (at most `take` orgs). */
  unpublishedSnapshots(take: number) {
    return this.prisma.db.policySnapshot.findMany({
      where: { publishedAt: null },
      distinct: ['orgId'],
      orderBy: [{ orgId: 'asc' }, { version: 'desc' }],
      take,
    });
  }

  markSnapshotsPublished(orgId: string, version: number) {
    return this.prisma.db.policySnapshot.updateMany({
      where: { orgId, version: { lte: version }, publishedAt: null },
      data: { publishedAt: new Date() },
    });
  }

  markPublished(ids: string[]) {
    return this.prisma.db.policySnapshot.updateMany({ where: { id: { in: ids }, publishedAt: null }, data: { publishedAt: new Date() } });
  }

  tombstonesAfter(cursor: string | null, take: number) {
    return this.prisma.db.orgTombstone.findMany({
      where: cursor ? { orgId: { gt: cursor } } : {},
      orderBy: { orgId: 'asc' },
      take,
    });
  }

  unpublishedTombstones(take: number) {
    return this.prisma.db.orgTombstone.findMany({ where: { publishedAt: null }, orderBy: { deletedAt: 'asc' }, take });
  }

  markTombstonePublished(orgId: string) {
    return this.prisma.db.orgTombstone.updateMany({ where: { orgId, publishedAt: null }, data: { publishedAt: new Date() } });
  }

  latest(orgId: string) {
    return this.prisma.db.policySnapshot.findFirst({ where: { orgId }, orderBy: { version: 'desc' } });
  }
}
