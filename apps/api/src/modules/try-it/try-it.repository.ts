import { Injectable } from '@nestjs/common';
import type { ServerCatalog } from '@toolgate/contracts';
import { ApiKeyKind, type Prisma, type Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

export interface TryItKey {
  name: string;
  prefix: string;
  hash: string;
  roleIds: string[];
  metadata: Record<string, unknown>;
  expiresAt: Date;
  createdById: string;
}

/** Every Prisma call of Try it. `orgId` is always in `where`. */
@Injectable()
export class TryItRepository {
  constructor(private readonly prisma: PrismaService) {}

  async server(orgId: string, id: string) {
    const row = await this.prisma.db.mcpServer.findFirst({
      where: { orgId, id },
      select: { id: true, slug: true, enabled: true, timeoutMs: true, catalog: true },
    });
    return row ? { ...row, catalog: row.catalog as ServerCatalog | null } : null;
  }

  role(orgId: string, id: string) {
    return this.prisma.db.role.findFirst({ where: { orgId, id }, select: { id: true, name: true } });
  }

  /** An agent key that may still call (not revoked, not expired), with what the gateway decides on. */
  activeAgentKey(orgId: string, id: string, now: Date) {
    return this.prisma.db.apiKey.findFirst({
      where: { orgId, id, kind: ApiKeyKind.agent, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      select: { id: true, name: true, metadata: true, roles: { select: { roleId: true } } },
    });
  }

  createKey(tx: Tx, orgId: string, k: TryItKey) {
    const { roleIds, metadata, ...rest } = k;
    return tx.apiKey.create({
      data: {
        ...rest,
        orgId,
        kind: ApiKeyKind.try_it,
        metadata: metadata as Prisma.InputJsonValue,
        roles: { create: roleIds.map((roleId) => ({ roleId, orgId })) },
      },
      select: { id: true, name: true, prefix: true },
    });
  }

  async revoke(tx: Tx, orgId: string, id: string, at: Date): Promise<void> {
    await tx.apiKey.updateMany({ where: { orgId, id, kind: ApiKeyKind.try_it, revokedAt: null }, data: { revokedAt: at } });
  }

  /** The tools/call entry the try-it key made (it makes exactly one), once the audit worker has stored it. */
  auditEntry(orgId: string, keyId: string, since: Date) {
    return this.prisma.db.auditEvent.findFirst({
      // `at` bounds the search to the (orgId, at) index: the call was made after its key was minted.
      where: { orgId, at: { gte: since }, keyId, method: 'tools/call' },
      select: { id: true, seq: true, decision: true, rule: true },
    });
  }
}
