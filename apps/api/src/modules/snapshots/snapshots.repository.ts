import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../infra/prisma.service';

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

  /** The snapshot rows of these orgs at their current version (one index lookup each, not every version). */
  snapshotsAt(orgs: Array<{ id: string; snapshotVersion: number }>) {
    return this.prisma.db.policySnapshot.findMany({
      where: { OR: orgs.map((o) => ({ orgId: o.id, version: o.snapshotVersion })) },
    });
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
