import { Injectable } from '@nestjs/common';
import { ApiKeyKind, type Prisma, type Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';
import type { KeyStatusFilter } from './keys.dto';

/** What every key read loads: the key and the id and name of each of its roles. */
const withRoles = {
  roles: {
    select: { role: { select: { id: true, name: true } } },
    orderBy: { role: { name: 'asc' } },
  },
} satisfies Prisma.ApiKeyInclude;

export type KeyRow = Prisma.ApiKeyGetPayload<{ include: typeof withRoles }>;

export interface NewKey {
  id?: string;
  name: string;
  prefix: string;
  hash: string;
  metadata: Record<string, string | number | boolean>;
  expiresAt: Date | null;
  createdById: string | null;
  roleIds: string[];
}

export interface KeyChanges {
  name?: string;
  metadata?: Record<string, string | number | boolean>;
  expiresAt?: Date | null;
}

/** Every Prisma call of the keys module. `orgId` is always in `where`. */
@Injectable()
export class KeysRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The org's agent keys; Try it's one-call keys are left out (they are reached from their audit entries). */
  list(orgId: string, status: KeyStatusFilter, now: Date) {
    return this.prisma.db.apiKey.findMany({
      where: { orgId, kind: ApiKeyKind.agent, ...statusWhere(status, now) },
      include: withRoles,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  find(orgId: string, id: string, db: Tx = this.prisma.db): Promise<KeyRow | null> {
    return db.apiKey.findFirst({ where: { orgId, id }, include: withRoles });
  }

  /** The ids among `roleIds` that are roles of this org. */
  async existingRoleIds(tx: Tx, orgId: string, roleIds: string[]): Promise<Set<string>> {
    if (roleIds.length === 0) return new Set();
    const rows = await tx.role.findMany({ where: { orgId, id: { in: roleIds } }, select: { id: true } });
    return new Set(rows.map((r) => r.id));
  }

  create(tx: Tx, orgId: string, key: NewKey): Promise<KeyRow> {
    const { roleIds, metadata, ...rest } = key;
    return tx.apiKey.create({
      data: {
        ...rest,
        orgId,
        metadata: metadata as Prisma.InputJsonValue,
        roles: { create: roleIds.map((roleId) => ({ roleId, orgId })) },
      },
      include: withRoles,
    });
  }

  /** Applies `changes` to a key that is not revoked; returns false if there is none. */
  async updateActive(tx: Tx, orgId: string, id: string, changes: KeyChanges): Promise<boolean> {
    const { metadata, ...rest } = changes;
    const res = await tx.apiKey.updateMany({
      where: { orgId, id, revokedAt: null },
      data: { ...rest, ...(metadata !== undefined ? { metadata: metadata as Prisma.InputJsonValue } : {}) },
    });
    return res.count === 1;
  }

  async replaceRoles(tx: Tx, orgId: string, keyId: string, roleIds: string[]): Promise<void> {
    await tx.apiKeyRole.deleteMany({ where: { orgId, keyId } });
    if (roleIds.length > 0) {
      await tx.apiKeyRole.createMany({ data: roleIds.map((roleId) => ({ orgId, keyId, roleId })) });
    }
  }

  /**
   * Revokes a key that is not revoked yet; returns false if there is none. The conditional
   * UPDATE takes the row lock, so of two concurrent revocations or rotations exactly one wins.
   */
  async revoke(tx: Tx, orgId: string, id: string, at: Date, rotatedToId?: string): Promise<boolean> {
    const res = await tx.apiKey.updateMany({
      where: { orgId, id, revokedAt: null },
      data: { revokedAt: at, ...(rotatedToId ? { rotatedToId } : {}) },
    });
    return res.count === 1;
  }
}

function statusWhere(status: KeyStatusFilter, now: Date): Prisma.ApiKeyWhereInput {
  switch (status) {
    case 'active':
      return { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
    case 'expired':
      return { revokedAt: null, expiresAt: { lte: now } };
    case 'revoked':
      return { revokedAt: { not: null } };
    case 'all':
      return {};
  }
}
