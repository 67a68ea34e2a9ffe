import { Injectable } from '@nestjs/common';
import type { Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/** Everything about a secret except its sealed value, which reads never need. */
const metadataOnly = {
  id: true,
  name: true,
  description: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
} as const;

export interface SecretMeta {
  id: string;
  name: string;
  description: string | null;
  createdById: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The parts of a server that can reference secrets. */
export interface ServerRefs {
  id: string;
  slug: string;
  headers: unknown;
  env: unknown;
}

/** Every Prisma call of the secrets module. `orgId` is always in `where`. */
@Injectable()
export class SecretsRepository {
  constructor(private readonly prisma: PrismaService) {}

  list(orgId: string): Promise<SecretMeta[]> {
    return this.prisma.db.secret.findMany({ where: { orgId }, select: metadataOnly, orderBy: { name: 'asc' } });
  }

  find(orgId: string, name: string, db: Tx = this.prisma.db): Promise<SecretMeta | null> {
    return db.secret.findFirst({ where: { orgId, name }, select: metadataOnly });
  }

  /** All servers of the org (enabled or not) with the maps that may hold `{secret}` references. */
  servers(orgId: string, db: Tx = this.prisma.db): Promise<ServerRefs[]> {
    return db.mcpServer.findMany({
      where: { orgId },
      select: { id: true, slug: true, headers: true, env: true },
      orderBy: { slug: 'asc' },
    });
  }

  /**
   * Lock the org row until the transaction ends. Check-then-write changes (create-or-replace,
   * delete unless referenced) take it first, so they serialize with each other and with every
   * other org change (the snapshot compile updates the same row).
   */
  async lockOrg(tx: Tx, orgId: string): Promise<void> {
    await tx.$queryRaw`SELECT 1 FROM "Organization" WHERE "id" = ${orgId}::uuid FOR UPDATE`;
  }

  create(tx: Tx, orgId: string, data: { name: string; sealed: string; description: string | null; createdById: string }) {
    return tx.secret.create({ data: { ...data, orgId }, select: metadataOnly });
  }

  /** Replace the sealed value (and the description, when given). */
  async replace(tx: Tx, orgId: string, id: string, data: { sealed: string; description?: string | null }): Promise<SecretMeta> {
    await tx.secret.updateMany({ where: { orgId, id }, data });
    return tx.secret.findFirstOrThrow({ where: { orgId, id }, select: metadataOnly });
  }

  async delete(tx: Tx, orgId: string, id: string): Promise<void> {
    await tx.secret.deleteMany({ where: { orgId, id } });
  }
}
