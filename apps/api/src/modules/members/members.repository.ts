import { Injectable } from '@nestjs/common';
import { MemberRole, type Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/** The user fields a member view shows. */
const USER = { select: { id: true, email: true, name: true } } as const;

/** A membership row locked by `lockForChange`. */
export interface LockedMembership {
  userId: string;
  role: MemberRole;
}

@Injectable()
export class MembersRepository {
  constructor(private readonly prisma: PrismaService) {}

  list(orgId: string) {
    return this.prisma.db.membership.findMany({
      where: { orgId },
      include: { user: USER },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
  }

  /**
   * Locks (SELECT … FOR UPDATE) every owner membership of the org plus the memberships of the
   * given users, and returns them. Two transactions that could together leave the org without
   * an owner (two owners demoting each other, or both leaving) therefore run one after the
   * other, and the second sees the first's committed result: Postgres re-evaluates the WHERE
   * clause on rows it waited for, so an owner demoted or removed meanwhile drops out of the set.
   * Rows are locked in id order so concurrent callers cannot deadlock on each other.
   */
  async lockForChange(tx: Tx, orgId: string, userIds: string[]): Promise<LockedMembership[]> {
    return tx.$queryRaw<LockedMembership[]>`
      SELECT "userId"::text AS "userId", role::text AS role
      FROM "Membership"
      WHERE "orgId" = ${orgId}::uuid
        AND (role = ${MemberRole.owner}::"MemberRole" OR "userId" = ANY(${userIds}::uuid[]))
      ORDER BY id
      FOR UPDATE`;
  }

  updateRole(tx: Tx, orgId: string, userId: string, role: MemberRole) {
    return tx.membership.update({
      where: { orgId_userId: { orgId, userId } },
      data: { role },
      include: { user: USER },
    });
  }

  findOne(tx: Tx, orgId: string, userId: string) {
    return tx.membership.findUniqueOrThrow({ where: { orgId_userId: { orgId, userId } }, include: { user: USER } });
  }

  delete(tx: Tx, orgId: string, userId: string) {
    return tx.membership.delete({ where: { orgId_userId: { orgId, userId } }, include: { user: USER } });
  }
}
