import { Injectable } from '@nestjs/common';
import type { ManagementScope, ManagementTokenKind, Prisma, Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

export type TokenRow = Prisma.ManagementTokenGetPayload<object>;

export interface NewToken {
  kind: ManagementTokenKind;
  userId: string | null;
  name: string;
  prefix: string;
  hash: string;
  scopes: ManagementScope[];
  expiresAt: Date;
  createdById: string;
}

/** Every Prisma call of the management tokens module. `orgId` is always in `where`. */
@Injectable()
export class ManagementTokensRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The org's service accounts, newest first. */
  listServiceAccounts(orgId: string) {
    return this.prisma.db.managementToken.findMany({
      where: { orgId, kind: 'service_account' },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  /** A person's personal tokens (in one org when `orgId` is given), newest first. */
  listPersonal(userId: string, orgId?: string) {
    return this.prisma.db.managementToken.findMany({
      where: { kind: 'personal', userId, ...(orgId ? { orgId } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  find(orgId: string, id: string, db: Tx = this.prisma.db): Promise<TokenRow | null> {
    return db.managementToken.findFirst({ where: { orgId, id } });
  }

  /** A personal token of this person (in any org), or null. */
  findPersonal(userId: string, id: string): Promise<TokenRow | null> {
    return this.prisma.db.managementToken.findFirst({ where: { id, kind: 'personal', userId } });
  }

  create(tx: Tx, orgId: string, token: NewToken): Promise<TokenRow> {
    return tx.managementToken.create({ data: { ...token, orgId } });
  }

  /** Revokes a token that is not revoked yet; false if there is none (a concurrent revocation won). */
  async revoke(tx: Tx, orgId: string, id: string, at: Date): Promise<boolean> {
    const res = await tx.managementToken.updateMany({ where: { orgId, id, revokedAt: null }, data: { revokedAt: at } });
    return res.count === 1;
  }

  /** The org (by id or slug) and the person's role in it, or null when they are not a member. */
  membership(userId: string, where: { id: string } | { slug: string }) {
    return this.prisma.db.organization.findFirst({
      where,
      select: { id: true, slug: true, memberships: { where: { userId }, select: { role: true } } },
    });
  }

  orgSlugs(orgIds: string[]): Promise<{ id: string; slug: string }[]> {
    return this.prisma.db.organization.findMany({ where: { id: { in: orgIds } }, select: { id: true, slug: true } });
  }
}
