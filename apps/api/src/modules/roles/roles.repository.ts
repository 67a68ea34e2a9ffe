import { Injectable } from '@nestjs/common';
import type { Prisma, Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/** How many non-revoked keys hold the role (expired keys still count: they can be extended). */
const keyCount = { _count: { select: { keys: { where: { key: { revokedAt: null } } } } } } as const;

export type RoleWithCount = Prisma.RoleGetPayload<{ include: typeof keyCount }>;

export interface RoleData {
  name: string;
  description: string | null;
  rules: Prisma.InputJsonValue;
}

/** Every Prisma call of the roles module; orgId comes first and is always in `where`. */
@Injectable()
export class RolesRepository {
  constructor(private readonly prisma: PrismaService) {}

  list(orgId: string): Promise<RoleWithCount[]> {
    return this.prisma.db.role.findMany({ where: { orgId }, include: keyCount, orderBy: { name: 'asc' } });
  }

  get(orgId: string, id: string, tx: Tx = this.prisma.db): Promise<RoleWithCount | null> {
    return tx.role.findFirst({ where: { orgId, id }, include: keyCount });
  }

  /** The role with this name, if any (other than `exceptId`). */
  findByName(tx: Tx, orgId: string, name: string, exceptId?: string) {
    return tx.role.findFirst({ where: { orgId, name, ...(exceptId ? { id: { not: exceptId } } : {}) }, select: { id: true } });
  }

  create(tx: Tx, orgId: string, data: RoleData): Promise<RoleWithCount> {
    return tx.role.create({ data: { orgId, ...data }, include: keyCount });
  }

  update(tx: Tx, orgId: string, id: string, data: RoleData): Promise<RoleWithCount> {
    return tx.role.update({ where: { id, orgId }, data, include: keyCount });
  }

  /** Non-revoked keys that hold the role, oldest first. */
  activeKeysUsing(tx: Tx, orgId: string, roleId: string) {
    return tx.apiKey.findMany({
      where: { orgId, revokedAt: null, roles: { some: { orgId, roleId } } },
      select: { id: true, name: true },
      orderBy: { createdAt: 'asc' },
    });
  }

  /** Takes the role off every key (revoked ones included) that holds it. */
  detachFromKeys(tx: Tx, orgId: string, roleId: string) {
    return tx.apiKeyRole.deleteMany({ where: { orgId, roleId } });
  }

  delete(tx: Tx, orgId: string, id: string) {
    return tx.role.delete({ where: { id, orgId } });
  }
}
