import { Injectable } from '@nestjs/common';
import {
  type CreatedManagementToken,
  CreatePersonalTokenRequest,
  CreateServiceAccountTokenRequest,
  generateManagementToken,
  type ManagementTokenView,
} from '@toolgate/contracts';
import type { z } from 'zod';
import { type AuthUser, type OrgContext, tokenRoles } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { UUID } from '../../common/uuid-param.pipe';
import { OrgChangeService } from '../snapshots/org-change.service';
import { ManagementTokensRepository, type TokenRow } from './management-tokens.repository';

type CreateServiceAccount = z.output<typeof CreateServiceAccountTokenRequest>;
type CreatePersonal = z.output<typeof CreatePersonalTokenRequest>;

const DAY_MS = 86_400_000;
const NO_DATA_PLANE = { affectsDataPlane: false } as const;

export function tokenStatus(t: Pick<TokenRow, 'revokedAt' | 'expiresAt'>, now = new Date()): ManagementTokenView['status'] {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** The public shape of a token (what the API returns and the activity log records): never the hash. */
export function tokenView(t: TokenRow, org: { id: string; slug: string }, now = new Date()) {
  return {
    id: t.id,
    kind: t.kind,
    name: t.name,
    prefix: t.prefix,
    scopes: t.scopes,
    org: { id: org.id, slug: org.slug },
    userId: t.userId,
    createdById: t.createdById,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    status: tokenStatus(t, now),
  };
}

/** Tokens do not mint tokens: a leaked one could otherwise outlive its own expiry and revocation. */
function assertSession(user: AuthUser): void {
  if (user.token) {
    throw new Problem(403, ErrorCode.SessionRequired, 'Management tokens are created in a signed-in session, not with another token');
  }
}

/**
 * Management tokens for the `/v1` API: org service accounts and personal access tokens. The
 * secret is returned once; only its sha256 is stored. Authentication is in common/auth.ts
 * (JwtAuthGuard, OrgGuard), which reads the token row on every request, so a revocation here
 * refuses the next request.
 */
@Injectable()
export class ManagementTokensService {
  constructor(
    private readonly repo: ManagementTokensRepository,
    private readonly changes: OrgChangeService,
  ) {}

  async listServiceAccounts(org: OrgContext) {
    const now = new Date();
    return { items: (await this.repo.listServiceAccounts(org.id)).map((t) => tokenView(t, org, now)) };
  }

  /**
   * A service account may carry only scopes the creator could use themselves: an admin cannot
   * hand a token the billing access their own role lacks.
   */
  async createServiceAccount(user: AuthUser, org: OrgContext, dto: CreateServiceAccount): Promise<CreatedManagementToken> {
    assertSession(user);
    const beyond = dto.scopes.filter((s) => tokenRoles([s], org.role).length === 0);
    if (beyond.length > 0) {
      throw Problem.forbidden(`The ${org.role} role cannot grant the ${beyond.join(', ')} scope${beyond.length > 1 ? 's' : ''}`);
    }
    return this.create(user, org, dto, 'service_account');
  }

  async revokeServiceAccount(user: AuthUser, org: OrgContext, id: string): Promise<void> {
    const row = await this.repo.find(org.id, id);
    if (row?.kind !== 'service_account') throw Problem.notFound('Token');
    await this.revoke(user, org, row);
  }

  /** The token this request authenticated with; a signed-in session has none (404, as an unknown token). */
  async current(user: AuthUser) {
    const token = user.token;
    const row = token ? await this.repo.find(token.orgId, token.id) : null;
    const [org] = row ? await this.repo.orgSlugs([row.orgId]) : [];
    if (!row || !org) throw Problem.notFound('Token');
    return tokenView(row, org);
  }

  /** The person's tokens; through a personal token, only those of the org it is bound to. */
  async listPersonal(user: AuthUser) {
    const rows = await this.repo.listPersonal(user.id, user.token?.orgId);
    const orgs = new Map((await this.repo.orgSlugs([...new Set(rows.map((r) => r.orgId))])).map((o) => [o.id, o]));
    const now = new Date();
    return { items: rows.flatMap((t) => (orgs.has(t.orgId) ? [tokenView(t, orgs.get(t.orgId)!, now)] : [])) };
  }

  /** The org must be one where the person is a member (any role); otherwise 404, as for an unknown org. */
  async createPersonal(user: AuthUser, dto: CreatePersonal): Promise<CreatedManagementToken> {
    assertSession(user);
    const org = await this.repo.membership(user.id, UUID.test(dto.org) ? { id: dto.org } : { slug: dto.org.toLowerCase() });
    const role = org?.memberships[0]?.role;
    if (!org || !role) throw Problem.notFound('Organization');
    return this.create(user, { id: org.id, slug: org.slug }, dto, 'personal');
  }

  async revokePersonal(user: AuthUser, id: string): Promise<void> {
    const row = UUID.test(id) ? await this.repo.findPersonal(user.id, id) : null;
    if (!row || (user.token && user.token.orgId !== row.orgId)) throw Problem.notFound('Token');
    const [org] = await this.repo.orgSlugs([row.orgId]);
    if (!org) throw Problem.notFound('Token');
    await this.revoke(user, org, row);
  }

  private create(
    user: AuthUser,
    org: { id: string; slug: string },
    dto: CreateServiceAccount,
    kind: 'personal' | 'service_account',
  ): Promise<CreatedManagementToken> {
    return this.changes.run(org.id, user.id, NO_DATA_PLANE, async (tx, log) => {
      const secret = generateManagementToken();
      const row = await this.repo.create(tx, org.id, {
        kind,
        userId: kind === 'personal' ? user.id : null,
        name: dto.name,
        prefix: secret.prefix,
        hash: secret.hash,
        scopes: dto.scopes,
        expiresAt: new Date(Date.now() + dto.expiresInDays * DAY_MS),
        createdById: user.id,
      });
      const view = tokenView(row, org);
      await log({ action: 'management_token.created', targetType: 'management_token', targetId: row.id, after: view });
      // JSON-shaped (ISO dates), as the contract describes the wire.
      return { ...(JSON.parse(JSON.stringify(view)) as ManagementTokenView), token: secret.key };
    });
  }

  /** Idempotent: revoking a revoked token changes and logs nothing. */
  private async revoke(user: AuthUser, org: { id: string; slug: string }, current: TokenRow): Promise<void> {
    if (current.revokedAt) return;
    await this.changes.run(org.id, user.id, NO_DATA_PLANE, async (tx, log) => {
      if (!(await this.repo.revoke(tx, org.id, current.id, new Date()))) return;
      const after = await this.repo.find(org.id, current.id, tx);
      await log({
        action: 'management_token.revoked',
        targetType: 'management_token',
        targetId: current.id,
        before: tokenView(current, org),
        after: after && tokenView(after, org),
      });
    });
  }
}
