import { Injectable } from '@nestjs/common';
import type { OAuthClientKind, Prisma, Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/** What grant reads load: client, consenting person and role names. */
const grantInclude = {
  client: { select: { clientId: true, name: true, uri: true } },
  user: { select: { id: true, email: true } },
  roles: { select: { role: { select: { id: true, name: true } } }, orderBy: { role: { name: 'asc' } } },
} satisfies Prisma.OAuthGrantInclude;

export type GrantRow = Prisma.OAuthGrantGetPayload<{ include: typeof grantInclude }>;

export interface ClientFields {
  kind: OAuthClientKind;
  name: string;
  uri: string | null;
  logoUri: string | null;
  redirectUris: string[];
  tokenEndpointAuthMethod: string;
  secretHash: string | null;
  metadata: Prisma.InputJsonValue;
  fetchedAt?: Date | null;
  expiresAt?: Date | null;
}

/**
 * Every Prisma call of the OAuth module. Clients and pending requests belong to no org; grant
 * reads and writes that act for an org take `orgId` first and put it in `where`.
 */
@Injectable()
export class OAuthRepository {
  constructor(private readonly prisma: PrismaService) {}

  // ---------------------------------------------------------------- clients

  findClient(clientId: string) {
    return this.prisma.db.oAuthClient.findUnique({ where: { clientId } });
  }

  createClient(clientId: string, fields: ClientFields) {
    return this.prisma.db.oAuthClient.create({ data: { clientId, ...fields } });
  }

  upsertClient(clientId: string, fields: ClientFields) {
    return this.prisma.db.oAuthClient.upsert({ where: { clientId }, create: { clientId, ...fields }, update: fields });
  }

  // ---------------------------------------------------------------- authorization requests

  createRequest(data: {
    clientId: string;
    redirectUri: string;
    state: string | null;
    codeChallenge: string;
    resource: string | null;
    scope: string | null;
    expiresAt: Date;
  }) {
    return this.prisma.db.oAuthAuthorizationRequest.create({ data, select: { id: true } });
  }

  findRequest(id: string) {
    return this.prisma.db.oAuthAuthorizationRequest.findUnique({ where: { id }, include: { client: true } });
  }

  /** Marks a pending, unexpired request decided; false if it was not (decided already, or expired). */
  async useRequest(tx: Tx, id: string, now: Date): Promise<boolean> {
    const res = await tx.oAuthAuthorizationRequest.updateMany({
      where: { id, usedAt: null, expiresAt: { gt: now } },
      data: { usedAt: now },
    });
    return res.count === 1;
  }

  /** The person's memberships, with each org's roles (the consent page's choices). */
  memberships(userId: string, orgSlug: string | null) {
    return this.prisma.db.membership.findMany({
      where: { userId, ...(orgSlug ? { org: { slug: orgSlug } } : {}) },
      select: {
        role: true,
        org: {
          select: {
            id: true,
            slug: true,
            name: true,
            roles: { select: { id: true, name: true, description: true }, orderBy: { name: 'asc' } },
          },
        },
      },
      orderBy: { org: { name: 'asc' } },
    });
  }

  membership(orgId: string, userId: string) {
    return this.prisma.db.membership.findUnique({
      where: { orgId_userId: { orgId, userId } },
      select: { role: true, org: { select: { id: true, slug: true } } },
    });
  }

  rolesOf(tx: Tx, orgId: string, roleIds: string[]) {
    return tx.role.findMany({ where: { orgId, id: { in: roleIds } }, select: { id: true, name: true } });
  }

  // ---------------------------------------------------------------- grants, codes, refresh tokens

  createGrant(tx: Tx, orgId: string, data: { userId: string; clientId: string; resource: string; scope: string; roleIds: string[] }) {
    const { roleIds, ...rest } = data;
    return tx.oAuthGrant.create({
      data: { ...rest, orgId, roles: { create: roleIds.map((roleId) => ({ roleId, orgId })) } },
      include: grantInclude,
    });
  }

  createCode(tx: Tx, data: { hash: string; grantId: string; codeChallenge: string; redirectUri: string; expiresAt: Date }) {
    return tx.oAuthCode.create({ data });
  }

  findCode(hash: string) {
    return this.prisma.db.oAuthCode.findUnique({ where: { hash }, include: { grant: { include: { ...grantInclude, client: true } } } });
  }

  /** Marks an unused code used; false if it was used already (by a racing request, too). */
  async useCode(id: string, now: Date): Promise<boolean> {
    const res = await this.prisma.db.oAuthCode.updateMany({ where: { id, usedAt: null }, data: { usedAt: now } });
    return res.count === 1;
  }

  findRefreshToken(hash: string) {
    return this.prisma.db.oAuthRefreshToken.findUnique({
      where: { hash },
      include: { grant: { include: { ...grantInclude, client: true } } },
    });
  }

  /** Marks an unused refresh token used (rotation); false if it was used already. */
  async useRefreshToken(tx: Tx, id: string, now: Date): Promise<boolean> {
    const res = await tx.oAuthRefreshToken.updateMany({ where: { id, usedAt: null }, data: { usedAt: now } });
    return res.count === 1;
  }

  createRefreshToken(tx: Tx, data: { hash: string; grantId: string; expiresAt: Date }) {
    return tx.oAuthRefreshToken.create({ data });
  }

  touchGrant(tx: Tx, id: string, now: Date) {
    return tx.oAuthGrant.update({ where: { id }, data: { lastUsedAt: now } });
  }

  findGrantById(id: string) {
    return this.prisma.db.oAuthGrant.findUnique({ where: { id }, include: { ...grantInclude, client: true } });
  }

  listGrants(orgId: string, includeRevoked: boolean) {
    return this.prisma.db.oAuthGrant.findMany({
      where: { orgId, ...(includeRevoked ? {} : { revokedAt: null }) },
      include: grantInclude,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  findGrant(orgId: string, id: string, db: Tx = this.prisma.db) {
    return db.oAuthGrant.findFirst({ where: { orgId, id }, include: grantInclude });
  }

  /**
   * Deletes what can no longer be used: requests and codes expired over `grace` ago (kept a
   * while so a late replay still finds its code and revokes the grant), refresh tokens past
   * their expiry. Grants stay, revoked ones too (the activity log and "Connected apps" name them).
   */
  async prune(now: Date, graceMs: number) {
    const before = new Date(now.getTime() - graceMs);
    const [requests, codes, refreshTokens] = await Promise.all([
      this.prisma.db.oAuthAuthorizationRequest.deleteMany({ where: { expiresAt: { lt: before } } }),
      this.prisma.db.oAuthCode.deleteMany({ where: { expiresAt: { lt: before } } }),
      this.prisma.db.oAuthRefreshToken.deleteMany({ where: { expiresAt: { lt: now } } }),
    ]);
    return { requests: requests.count, codes: codes.count, refreshTokens: refreshTokens.count };
  }

  /** Revokes a live grant and kills its unused codes and refresh tokens; false if it was revoked already. */
  async revokeGrant(tx: Tx, orgId: string, id: string, now: Date, reason: string): Promise<boolean> {
    const res = await tx.oAuthGrant.updateMany({ where: { orgId, id, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
    if (res.count !== 1) return false;
    await tx.oAuthCode.updateMany({ where: { grantId: id, usedAt: null }, data: { usedAt: now } });
    await tx.oAuthRefreshToken.updateMany({ where: { grantId: id, usedAt: null }, data: { usedAt: now } });
    return true;
  }

  /** Revokes every live grant a person consented to in an org (they left it or may no longer grant); the ids revoked. */
  async revokeGrantsOf(tx: Tx, orgId: string, userId: string, now: Date, reason: string): Promise<string[]> {
    const live = await tx.oAuthGrant.findMany({ where: { orgId, userId, revokedAt: null }, select: { id: true } });
    const revoked: string[] = [];
    for (const { id } of live) if (await this.revokeGrant(tx, orgId, id, now, reason)) revoked.push(id);
    return revoked;
  }
}
