import { Injectable } from '@nestjs/common';
import type { OAuthGrantView } from '@toolgate/contracts';
import type { AuthUser, OrgContext } from '../../common/auth';
import { Problem } from '../../common/problem';
import { OrgChangeService } from '../snapshots/org-change.service';
import { type GrantRow, OAuthRepository } from './oauth.repository';

export function grantView(g: GrantRow): OAuthGrantView {
  return {
    id: g.id,
    client: { id: g.client.clientId, name: g.client.name, uri: g.client.uri },
    resource: g.resource,
    roles: g.roles.map((r) => ({ id: r.role.id, name: r.role.name })),
    consentedBy: { id: g.user.id, email: g.user.email },
    createdAt: g.createdAt.toISOString(),
    lastUsedAt: g.lastUsedAt?.toISOString() ?? null,
    revokedAt: g.revokedAt?.toISOString() ?? null,
  };
}

/** Why a grant was revoked (OAuthGrant.revokedReason and the activity entry). */
export type RevokeReason = 'revoked_by_member' | 'revoked_by_client' | 'code_reused' | 'refresh_token_reused';

/**
 * An org's OAuth grants ("Connected apps"). Revoking one recompiles and publishes the org's
 * snapshot in the same change, so the gateway refuses its tokens as fast as a revoked key's.
 */
@Injectable()
export class GrantsService {
  constructor(
    private readonly repo: OAuthRepository,
    private readonly changes: OrgChangeService,
  ) {}

  async list(org: OrgContext, includeRevoked: boolean): Promise<OAuthGrantView[]> {
    return (await this.repo.listGrants(org.id, includeRevoked)).map(grantView);
  }

  /** Revoked by a member in the dashboard; another org's grant id is 404. Idempotent. */
  async revokeByMember(user: AuthUser, org: OrgContext, id: string): Promise<void> {
    const current = await this.repo.findGrant(org.id, id);
    if (!current) throw Problem.notFound('OAuth grant');
    await this.revoke(org.id, id, user.id, 'revoked_by_member');
  }

  /** Revokes a grant (its whole token family) and republishes; false if it was revoked already. */
  async revoke(orgId: string, id: string, actorId: string | null, reason: RevokeReason): Promise<boolean> {
    const current = await this.repo.findGrant(orgId, id);
    if (!current || current.revokedAt) return false;
    return this.changes.run(orgId, actorId, { affectsDataPlane: true }, async (tx, log) => {
      if (!(await this.repo.revokeGrant(tx, orgId, id, new Date(), reason))) return false;
      const after = await this.repo.findGrant(orgId, id, tx);
      await log({
        action: 'oauth_grant.revoked',
        targetType: 'oauth_grant',
        targetId: id,
        before: grantView(current),
        after: { ...grantView(after!), reason },
      });
      return true;
    });
  }
}
