import { Injectable } from '@nestjs/common';
import { MemberRole, type Membership, type Tx, type User } from '@toolgate/db';
import { type AuthUser, type OrgContext, Roles, tokenRoles } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import type { ActivityEntry } from '../activity/activity.service';
import { OAuthRepository } from '../oauth/oauth.repository';
import { OrgChangeService } from '../snapshots/org-change.service';
import type { MemberView } from '@toolgate/contracts';
import type { UpdateMemberDto } from './members.dto';
import { type LockedMembership, MembersRepository } from './members.repository';

type MembershipWithUser = Membership & { user: Pick<User, 'id' | 'email' | 'name'> };

export const memberView = (m: MembershipWithUser): MemberView => ({
  userId: m.userId,
  email: m.user.email,
  name: m.user.name,
  role: m.role,
  joinedAt: m.createdAt.toISOString(),
});

/** What the activity log keeps about a member (no secrets involved). */
const logged = (m: MembershipWithUser) => ({ userId: m.userId, email: m.user.email, role: m.role });

const isManager = (role: MemberRole) => (Roles.manage as readonly MemberRole[]).includes(role);

type ActivityLog = (entry: Omit<ActivityEntry, 'orgId' | 'actorId'>) => Promise<void>;

@Injectable()
export class MembersService {
  constructor(
    private readonly repo: MembersRepository,
    private readonly changes: OrgChangeService,
    private readonly oauth: OAuthRepository,
  ) {}

  /**
   * A person who leaves an org, or may no longer grant agent roles in it, takes the OAuth grants
   * they consented to with them: an app must not keep acting on the word of someone who could not
   * give it today. Logged per grant; the snapshot is republished when any was live.
   */
  private async revokeGrantsOf(tx: Tx, log: ActivityLog, orgId: string, userId: string, reason: string) {
    const revoked = await this.oauth.revokeGrantsOf(tx, orgId, userId, new Date(), reason);
    for (const id of revoked) {
      await log({ action: 'oauth_grant.revoked', targetType: 'oauth_grant', targetId: id, after: { reason } });
    }
    return revoked.length;
  }

  async list(org: OrgContext) {
    const rows = await this.repo.list(org.id);
    return { items: rows.map(memberView) };
  }

  /**
   * Owners and admins change roles. Only an owner may grant the owner role or change an owner's
   * role; the last owner can never be demoted.
   */
  async changeRole(actor: AuthUser, org: OrgContext, userId: string, dto: UpdateMemberDto): Promise<MemberView> {
    let revoked = 0;
    return this.changes.run(org.id, actor.id, { affectsDataPlane: () => revoked > 0 }, async (tx, log) => {
      const locked = await this.repo.lockForChange(tx, org.id, [actor.id, userId]);
      const actorRole = currentRole(locked, actor);
      if (!isManager(actorRole)) throw Problem.forbidden(`The ${actorRole} role cannot change member roles`);
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw Problem.notFound('Member');
      if (actorRole !== MemberRole.owner) {
        if (target.role === MemberRole.owner) throw Problem.forbidden("Only an owner can change an owner's role");
        if (dto.role === MemberRole.owner) throw Problem.forbidden('Only an owner can grant the owner role');
      }
      const before = await this.repo.findOne(tx, org.id, userId);
      // Setting the role a member already has changes nothing, so nothing is logged.
      if (target.role === dto.role) return memberView(before);
      if (target.role === MemberRole.owner) assertNotLastOwner(locked, userId, actor.id, 'demote');
      const after = await this.repo.updateRole(tx, org.id, userId, dto.role);
      await log({ action: 'member.role_changed', targetType: 'member', targetId: userId, before: logged(before), after: logged(after) });
      if (isManager(target.role) && !isManager(dto.role)) revoked = await this.revokeGrantsOf(tx, log, org.id, userId, 'consenter_demoted');
      return memberView(after);
    });
  }

  /**
   * Owners and admins remove members; any member may remove themselves (leave). Admins cannot
   * remove an owner, and the last owner can never be removed.
   */
  async remove(actor: AuthUser, org: OrgContext, userId: string): Promise<void> {
    const leaving = userId === actor.id;
    // Leaving is a member's own act; a token (even read-only) must not take its person out of the org.
    if (leaving && actor.token) {
      throw new Problem(403, ErrorCode.SessionRequired, 'Leaving an organisation needs a signed-in session, not a management token');
    }
    let revoked = 0;
    await this.changes.run(org.id, actor.id, { affectsDataPlane: () => revoked > 0 }, async (tx, log) => {
      const locked = await this.repo.lockForChange(tx, org.id, [actor.id, userId]);
      const actorRole = currentRole(locked, actor);
      if (!leaving && !isManager(actorRole)) {
        throw Problem.forbidden(`The ${actorRole} role cannot remove other members; only owners and admins can`);
      }
      const target = locked.find((m) => m.userId === userId);
      if (!target) throw Problem.notFound('Member');
      if (!leaving && actorRole !== MemberRole.owner && target.role === MemberRole.owner) {
        throw Problem.forbidden('Only an owner can remove an owner');
      }
      if (target.role === MemberRole.owner) assertNotLastOwner(locked, userId, actor.id, 'remove');
      const removed = await this.repo.delete(tx, org.id, userId);
      await log({
        action: 'member.removed',
        targetType: 'member',
        targetId: userId,
        before: logged(removed),
        after: { left: leaving },
      });
      revoked = await this.revokeGrantsOf(tx, log, org.id, userId, leaving ? 'consenter_left' : 'consenter_removed');
    });
  }
}

/**
 * The actor's role as locked inside the transaction: the guard checked it before the
 * transaction began, but a concurrent change may have demoted or removed the actor since. A
 * management token acts as no more than its scopes allow (a personal one also no more than its
 * person), so an owner's `manage` token acts as an admin here too.
 */
function currentRole(locked: LockedMembership[], actor: AuthUser): MemberRole {
  if (actor.token?.kind === 'service_account') return tokenRoles(actor.token.scopes, null)[0] ?? MemberRole.member;
  const me = locked.find((m) => m.userId === actor.id);
  if (!me) throw Problem.notFound('Organization');
  if (!actor.token) return me.role;
  const role = tokenRoles(actor.token.scopes, me.role)[0];
  if (!role) throw Problem.forbidden("The token's scopes do not allow this");
  return role;
}

/** 409 `last_owner` when `userId` is the org's only owner. `locked` holds every owner, locked. */
function assertNotLastOwner(locked: LockedMembership[], userId: string, actorId: string, change: 'demote' | 'remove'): void {
  const owners = locked.filter((m) => m.role === MemberRole.owner);
  if (owners.length > 1 || !owners.some((m) => m.userId === userId)) return;
  const self = userId === actorId;
  const detail =
    change === 'remove'
      ? self
        ? 'You are the last owner of this organisation and cannot leave it; make another member an owner first, or delete the organisation'
        : 'This member is the last owner of the organisation and cannot be removed; make another member an owner first'
      : self
        ? 'You are the last owner of this organisation and cannot give up the owner role; make another member an owner first'
        : 'This member is the last owner of the organisation and cannot be demoted; make another member an owner first';
  throw new Problem(409, ErrorCode.LastOwner, detail);
}
