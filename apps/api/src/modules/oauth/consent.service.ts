import { Inject, Injectable } from '@nestjs/common';
import type { ConsentApproval, ConsentOutcome, ConsentRequestView } from '@toolgate/contracts';
import { sha256Hex } from '@toolgate/contracts';
import { MemberRole } from '@toolgate/db';
import { type AuthUser, Roles } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { UUID } from '../../common/uuid-param.pipe';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { OrgChangeService } from '../snapshots/org-change.service';
import { grantView } from './grants.service';
import { grantScope, issuerOf, orgResource, parseResource, withParams } from './oauth.config';
import { randomToken } from './oauth.crypto';
import { OAuthRepository } from './oauth.repository';

const canGrant = (role: MemberRole) => (Roles.manage as readonly MemberRole[]).includes(role);

/**
 * The dashboard's consent step: show a pending /authorize request to the signed-in person, then
 * approve it (a grant, a single-use code, the snapshot republished) or deny it. Only owners and
 * admins grant, and only roles of the org the resource names.
 */
@Injectable()
export class ConsentService {
  constructor(
    private readonly repo: OAuthRepository,
    private readonly prisma: PrismaService,
    private readonly changes: OrgChangeService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async view(user: AuthUser, id: string): Promise<ConsentRequestView> {
    const request = await this.pending(id);
    const orgSlug = request.resource ? (parseResource(this.env, request.resource)?.orgSlug ?? null) : null;
    const memberships = await this.repo.memberships(user.id, orgSlug);
    // The resource names an org this person is not in (or that does not exist): as elsewhere, 404.
    if (orgSlug && memberships.length === 0) throw Problem.notFound('Organization');
    return {
      id: request.id,
      client: {
        id: request.client.clientId,
        name: request.client.name,
        uri: request.client.uri,
        logoUri: request.client.logoUri,
        registration: request.client.kind === 'metadata_document' ? 'metadata-document' : 'dynamic',
      },
      redirectUri: request.redirectUri,
      resource: request.resource,
      scope: request.scope,
      orgs: memberships.map((m) => ({
        id: m.org.id,
        slug: m.org.slug,
        name: m.org.name,
        memberRole: m.role,
        canGrant: canGrant(m.role),
        roles: m.org.roles,
      })),
      expiresAt: request.expiresAt.toISOString(),
    };
  }

  async approve(user: AuthUser, id: string, dto: ConsentApproval): Promise<ConsentOutcome> {
    const request = await this.pending(id);
    const named = request.resource ? parseResource(this.env, request.resource) : null;
    if (!UUID.test(dto.orgId)) throw Problem.notFound('Organization');
    const membership = await this.repo.membership(dto.orgId.toLowerCase(), user.id);
    if (!membership) throw Problem.notFound('Organization');
    const org = membership.org;
    if (named && named.orgSlug !== org.slug) {
      throw Problem.validation([
        { path: 'orgId', message: `the client asked for the endpoint of organisation ${named.orgSlug}, not this one` },
      ]);
    }
    if (!canGrant(membership.role)) throw Problem.forbidden(`The ${membership.role} role cannot grant agent access; ask an owner or admin`);
    const roleIds = [...new Set(dto.roleIds.map((r) => r.toLowerCase()))];
    const bad = roleIds.filter((r) => !UUID.test(r));
    if (bad.length > 0)
      throw Problem.validation(bad.map((r) => ({ path: 'roleIds', message: `role ${r} does not exist in this organisation` })));

    const code = randomToken();
    const now = new Date();
    await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const roles = await this.repo.rolesOf(tx, org.id, roleIds);
      const missing = roleIds.filter((r) => !roles.some((x) => x.id === r));
      if (missing.length > 0) {
        throw Problem.validation(missing.map((r) => ({ path: 'roleIds', message: `role ${r} does not exist in this organisation` })));
      }
      // Decided once: a second approve (or an approve racing a deny) loses here.
      if (!(await this.repo.useRequest(tx, request.id, now))) throw gone();
      const grant = await this.repo.createGrant(tx, org.id, {
        userId: user.id,
        clientId: request.clientId,
        resource: named?.resource ?? orgResource(this.env, org.slug),
        scope: grantScope(roles.map((r) => r.name).sort()),
        roleIds,
      });
      await this.repo.createCode(tx, {
        hash: sha256Hex(code),
        grantId: grant.id,
        codeChallenge: request.codeChallenge,
        redirectUri: request.redirectUri,
        expiresAt: new Date(now.getTime() + this.env.OAUTH_CODE_TTL_SECONDS * 1000),
      });
      await log({ action: 'oauth_grant.created', targetType: 'oauth_grant', targetId: grant.id, after: grantView(grant) });
    });
    return { redirectTo: withParams(request.redirectUri, { code, state: request.state, iss: issuerOf(this.env) }) };
  }

  async deny(_user: AuthUser, id: string): Promise<ConsentOutcome> {
    const request = await this.pending(id);
    const used = await this.prisma.db.$transaction((tx) => this.repo.useRequest(tx, request.id, new Date()));
    if (!used) throw gone();
    return {
      redirectTo: withParams(request.redirectUri, {
        error: 'access_denied',
        error_description: 'The person declined to authorize this application',
        state: request.state,
        iss: issuerOf(this.env),
      }),
    };
  }

  /** A request still waiting for a decision; decided, expired and unknown ones are all 404. */
  private async pending(id: string) {
    const request = await this.repo.findRequest(id);
    if (!request || request.usedAt || request.expiresAt.getTime() <= Date.now()) throw gone();
    return request;
  }
}

const gone = () =>
  new Problem(404, ErrorCode.NotFound, 'Authorization request not found, expired or already decided; start again from the application');
