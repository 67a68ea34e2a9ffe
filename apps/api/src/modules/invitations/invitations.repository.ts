import { Injectable } from '@nestjs/common';
import type { MemberRole, Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

const INVITER = { select: { id: true, email: true, name: true } } as const;

@Injectable()
export class InvitationsRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Unaccepted, unexpired invitations, newest first. */
  listPending(orgId: string, now: Date) {
    return this.prisma.db.invitation.findMany({
      where: { orgId, acceptedAt: null, expiresAt: { gt: now } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  /** Invitation has no relation to its inviter (the user may be deleted), so inviters are read apart. */
  users(ids: string[]) {
    if (ids.length === 0) return Promise.resolve([]);
    return this.prisma.db.user.findMany({ where: { id: { in: ids } }, ...INVITER });
  }

  /**
   * Serialises invitation changes for one (org, email) pair until the transaction ends, so two
   * concurrent invitations of one address cannot both survive the "replace the pending one" step.
   */
  async lockEmail(tx: Tx, orgId: string, email: string): Promise<void> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`invitation:${orgId}:${email}`}, 0))`;
  }

  /** Is a user with this email already a member of the org? */
  async isMember(tx: Tx, orgId: string, email: string): Promise<boolean> {
    const row = await tx.membership.findFirst({ where: { orgId, user: { email } }, select: { id: true } });
    return row !== null;
  }

  /** Deletes the unaccepted invitations of this email (a re-invite replaces them) and returns them. */
  async deleteUnaccepted(tx: Tx, orgId: string, email: string) {
    const rows = await tx.invitation.findMany({ where: { orgId, email, acceptedAt: null } });
    if (rows.length > 0) await tx.invitation.deleteMany({ where: { orgId, id: { in: rows.map((r) => r.id) } } });
    return rows;
  }

  create(tx: Tx, orgId: string, data: { email: string; role: MemberRole; tokenHash: string; expiresAt: Date; invitedById: string }) {
    return tx.invitation.create({ data: { orgId, ...data } });
  }

  /** An unaccepted invitation of the org (expired ones included: they can still be revoked). */
  findUnaccepted(tx: Tx, orgId: string, id: string) {
    return tx.invitation.findFirst({ where: { orgId, id, acceptedAt: null } });
  }

  delete(tx: Tx, orgId: string, id: string) {
    return tx.invitation.deleteMany({ where: { orgId, id } });
  }

  /**
   * The one lookup that is not scoped by org: the token itself names the invitation (and so the
   * org). Its hash is unique.
   */
  findByTokenHash(tokenHash: string) {
    return this.prisma.db.invitation.findUnique({
      where: { tokenHash },
      include: { org: { select: { id: true, slug: true, name: true } } },
    });
  }

  userEmail(userId: string) {
    return this.prisma.db.user.findUnique({ where: { id: userId }, select: { email: true } });
  }

  /**
   * Marks the invitation accepted if it still is pending. A conditional update, so of two
   * concurrent acceptances exactly one wins; returns whether this one did.
   */
  async claim(tx: Tx, orgId: string, id: string, userId: string, now: Date): Promise<boolean> {
    const res = await tx.invitation.updateMany({
      where: { orgId, id, acceptedAt: null, expiresAt: { gt: now } },
      data: { acceptedAt: now, acceptedById: userId },
    });
    return res.count === 1;
  }

  isUserMember(tx: Tx, orgId: string, userId: string) {
    return tx.membership.findUnique({ where: { orgId_userId: { orgId, userId } }, select: { id: true } });
  }

  createMembership(tx: Tx, orgId: string, userId: string, role: MemberRole) {
    return tx.membership.create({ data: { orgId, userId, role } });
  }
}
