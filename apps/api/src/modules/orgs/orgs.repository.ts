import { Injectable } from '@nestjs/common';
import type { MemberRole, Organization, Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

@Injectable()
export class OrgsRepository {
  constructor(private readonly prisma: PrismaService) {}

  listForUser(userId: string, onlyOrgId?: string) {
    return this.prisma.db.membership.findMany({
      where: { userId, ...(onlyOrgId ? { orgId: onlyOrgId } : {}) },
      include: { org: true },
      orderBy: { createdAt: 'asc' },
    });
  }

  get(orgId: string) {
    return this.prisma.db.organization.findUniqueOrThrow({ where: { id: orgId } });
  }

  counts(orgId: string) {
    return this.prisma.db.organization.findUniqueOrThrow({
      where: { id: orgId },
      select: { _count: { select: { memberships: true, servers: true, apiKeys: { where: { revokedAt: null } }, roles: true } } },
    });
  }

  create(tx: Tx, userId: string, data: { id: string; name: string; slug: string }) {
    return tx.organization.create({
      data: { ...data, memberships: { create: { userId, role: 'owner' satisfies MemberRole } } },
    });
  }

  update(tx: Tx, orgId: string, data: Partial<Pick<Organization, 'name' | 'slug' | 'plan' | 'monthlyCallQuota'>>) {
    return tx.organization.update({ where: { id: orgId }, data });
  }

  /** Delete the org in one transaction with `first` (which records what must outlive it). */
  deleteAfter<T>(orgId: string, first: (tx: Tx) => Promise<T>): Promise<T> {
    return this.prisma.db.$transaction(async (tx) => {
      const kept = await first(tx);
      // Management tokens have no foreign key (their table stands apart from the org's), so they go here.
      await tx.managementToken.deleteMany({ where: { orgId } });
      await tx.organization.delete({ where: { id: orgId } });
      return kept;
    });
  }
}
