import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../infra/prisma.service';

/** Every Prisma call of the policy module; orgId comes first and is always in `where`. */
@Injectable()
export class PolicyRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The org's key with this id (revoked or not) and the roles assigned to it in the database. */
  findKey(orgId: string, keyId: string) {
    return this.prisma.db.apiKey.findFirst({
      where: { orgId, id: keyId },
      select: {
        id: true,
        name: true,
        revokedAt: true,
        expiresAt: true,
        roles: { where: { orgId }, select: { role: { select: { id: true, name: true } } } },
      },
    });
  }

  /** The org's enabled servers with their last probed catalogue, in slug order. */
  enabledServers(orgId: string) {
    return this.prisma.db.mcpServer.findMany({
      where: { orgId, enabled: true },
      select: { id: true, slug: true, name: true, catalog: true, catalogFetchedAt: true },
      orderBy: { slug: 'asc' },
    });
  }
}
