import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type InvitationView, sha256Hex } from '@toolgate/contracts';
import { isPrismaError, type Invitation, MemberRole, PrismaErrorCode, type User } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { OrgChangeService } from '../snapshots/org-change.service';
import { type CreateInvitationDto, INVITATION_TOKEN, INVITATION_TOKEN_PREFIX } from './invitations.dto';
import { InvitationsRepository } from './invitations.repository';

type Inviter = Pick<User, 'id' | 'email' | 'name'>;

/** An invitation as listed: never the token (only its hash is stored anyway). */
const view = (i: Invitation, inviter?: Inviter | null): InvitationView => ({
  id: i.id,
  email: i.email,
  role: i.role,
  expiresAt: i.expiresAt.toISOString(),
  createdAt: i.createdAt.toISOString(),
  invitedBy: inviter ? { id: inviter.id, email: inviter.email, name: inviter.name } : null,
});

/** What the activity log keeps about an invitation. */
const logged = (i: Invitation) => ({ id: i.id, email: i.email, role: i.role, expiresAt: i.expiresAt });

/** Membership changes do not touch the data plane (agents authenticate with keys, not members). */
const NO_DATA_PLANE = { affectsDataPlane: false } as const;

/**
 * Why a token cannot be used. Unknown tokens answer 404; tokens that did exist but were already
 * used or have expired answer 410 Gone, with `reason` so the dashboard can say which.
 */
const invalid = {
  unknown: () =>
    new Problem(404, ErrorCode.InvitationInvalid, 'This invitation link is not valid; it may have been revoked or replaced by a newer one'),
  accepted: () =>
    new Problem(410, ErrorCode.InvitationInvalid, 'This invitation has already been accepted', { title: 'Gone', reason: 'accepted' }),
  expired: () =>
    new Problem(410, ErrorCode.InvitationInvalid, 'This invitation has expired; ask an admin of the organisation for a new one', {
      title: 'Gone',
      reason: 'expired',
    }),
};

@Injectable()
export class InvitationsService {
  constructor(
    private readonly repo: InvitationsRepository,
    private readonly changes: OrgChangeService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /**
   * Invites an email address. The token is returned once (with the dashboard link to copy) and
   * only its sha256 is stored. Inviting an address that already has a pending invitation
   * replaces it (the old link stops working).
   */
  async create(actor: AuthUser, org: OrgContext, dto: CreateInvitationDto) {
    if (dto.role === MemberRole.owner && org.role !== MemberRole.owner) {
      throw Problem.forbidden('Only an owner can invite another owner');
    }
    const token = `${INVITATION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + this.env.INVITATION_TTL_HOURS * 3_600_000);
    const invitation = await this.changes.run(org.id, actor.id, NO_DATA_PLANE, async (tx, log) => {
      await this.repo.lockEmail(tx, org.id, dto.email);
      if (await this.repo.isMember(tx, org.id, dto.email)) {
        throw Problem.conflict(`${dto.email} is already a member of this organisation`);
      }
      const replaced = await this.repo.deleteUnaccepted(tx, org.id, dto.email);
      const created = await this.repo.create(tx, org.id, {
        email: dto.email,
        role: dto.role,
        tokenHash: sha256Hex(token),
        expiresAt,
        invitedById: actor.id,
      });
      await log({
        action: 'member.invited',
        targetType: 'invitation',
        targetId: created.id,
        before: replaced.length > 0 ? { replaced: replaced.map(logged) } : undefined,
        after: logged(created),
      });
      return created;
    });
    const inviter = (await this.repo.users([actor.id]))[0];
    return {
      ...view(invitation, inviter),
      token,
      acceptUrl: `${this.env.PUBLIC_WEB_URL.replace(/\/+$/, '')}/invitations/${token}`,
    };
  }

  async listPending(org: OrgContext) {
    const rows = await this.repo.listPending(org.id, new Date());
    const inviterIds = [...new Set(rows.map((r) => r.invitedById).filter((id): id is string => id !== null))];
    const inviters = new Map((await this.repo.users(inviterIds)).map((u) => [u.id, u]));
    return { items: rows.map((r) => view(r, r.invitedById ? inviters.get(r.invitedById) : null)) };
  }

  /**
   * Revokes an unaccepted invitation (expired ones too, to tidy up). Mirroring who may invite
   * an owner, only an owner may revoke an owner invitation.
   */
  async revoke(actor: AuthUser, org: OrgContext, id: string): Promise<void> {
    await this.changes.run(org.id, actor.id, NO_DATA_PLANE, async (tx, log) => {
      const invitation = await this.repo.findUnaccepted(tx, org.id, id);
      if (!invitation) throw Problem.notFound('Invitation');
      if (invitation.role === MemberRole.owner && org.role !== MemberRole.owner) {
        throw Problem.forbidden('Only an owner can revoke an invitation to become an owner');
      }
      await this.repo.delete(tx, org.id, id);
      await log({ action: 'invitation.revoked', targetType: 'invitation', targetId: id, before: logged(invitation) });
    });
  }

  /**
   * What the dashboard's invitation page shows before the user accepts (no login needed: the
   * token itself is the credential, and the page must be able to say "log in as … to join …").
   */
  async preview(token: string) {
    const invitation = await this.usable(token);
    const inviter = invitation.invitedById ? (await this.repo.users([invitation.invitedById]))[0] : undefined;
    return {
      org: { slug: invitation.org.slug, name: invitation.org.name },
      email: invitation.email,
      role: invitation.role,
      expiresAt: invitation.expiresAt,
      invitedBy: inviter ? { name: inviter.name } : null,
    };
  }

  /**
   * The logged-in user joins the org with the invited role. The invitation must be addressed to
   * the user's email; the membership and the acceptance are written in one transaction.
   */
  async accept(user: AuthUser, token: string) {
    const invitation = await this.find(token);
    const account = await this.repo.userEmail(user.id);
    if (!account) throw Problem.unauthenticated('The account no longer exists');
    if (account.email.toLowerCase() !== invitation.email.toLowerCase()) {
      throw Problem.forbidden(
        `This invitation was sent to ${invitation.email}, but you are logged in as ${account.email}; log in with ${invitation.email} to accept it`,
      );
    }
    assertUsable(invitation, new Date());
    const { org } = invitation;
    return this.changes.run(org.id, user.id, NO_DATA_PLANE, async (tx, log) => {
      if (await this.repo.isUserMember(tx, org.id, user.id)) {
        throw Problem.conflict('You are already a member of this organisation');
      }
      // Re-checked under the row lock: a concurrent acceptance, revocation or the expiry
      // passing since the read above all make this claim fail.
      if (!(await this.repo.claim(tx, org.id, invitation.id, user.id, new Date()))) {
        throw invitation.expiresAt <= new Date() ? invalid.expired() : invalid.accepted();
      }
      try {
        await this.repo.createMembership(tx, org.id, user.id, invitation.role);
      } catch (e) {
        // A membership created by a concurrent request since the check above.
        if (isPrismaError(e, PrismaErrorCode.UniqueViolation)) throw Problem.conflict('You are already a member of this organisation');
        throw e;
      }
      await log({
        action: 'invitation.accepted',
        targetType: 'member',
        targetId: user.id,
        after: { invitationId: invitation.id, userId: user.id, email: invitation.email, role: invitation.role },
      });
      return { id: org.id, slug: org.slug, name: org.name, role: invitation.role };
    });
  }

  /** The invitation a token names, if it exists (any state). */
  private async find(token: string) {
    if (!INVITATION_TOKEN.test(token)) throw invalid.unknown();
    const invitation = await this.repo.findByTokenHash(sha256Hex(token));
    if (!invitation) throw invalid.unknown();
    return invitation;
  }

  /** The invitation a token names, if it can still be accepted. */
  private async usable(token: string) {
    const invitation = await this.find(token);
    assertUsable(invitation, new Date());
    return invitation;
  }
}

function assertUsable(invitation: Invitation, now: Date): void {
  if (invitation.acceptedAt) throw invalid.accepted();
  if (invitation.expiresAt <= now) throw invalid.expired();
}
