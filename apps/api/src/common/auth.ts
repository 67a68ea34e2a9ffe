import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
  applyDecorators,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  MANAGEMENT_TOKEN_PREFIX,
  type ManagementScope,
  type ManagementTokenKind,
  ROLE_MATRIX,
  SCOPE_ROLES,
  sha256Hex,
} from '@toolgate/contracts';
import { MemberRole } from '@toolgate/db';
import type { Request } from 'express';
import { ENV, type Env } from '../config/env';
import { PrismaService } from '../infra/prisma.service';
import { ErrorCode, Problem } from './problem';
import { requestContext } from './request-context';
import { UUID } from './uuid-param.pipe';

/** The management token (`tgm_`) a request was authenticated with. */
export interface TokenPrincipal {
  id: string;
  kind: ManagementTokenKind;
  name: string;
  prefix: string;
  orgId: string;
  scopes: ManagementScope[];
}

/**
 * Who is calling: a person (passport-jwt, or a personal token acting as its person), or a
 * service account, whose `id` is the token's own id (no person: its email is empty) so that
 * "created by" columns and rate limits still have a stable subject.
 */
export interface AuthUser {
  id: string;
  email: string;
  token?: TokenPrincipal;
  /** Refresh token family of the signed-in session (JWT only), so a password change can keep this one. */
  sessionFamily?: string;
}

/** The org named by `:org` in the route, resolved by OrgGuard. */
export interface OrgContext {
  id: string;
  slug: string;
  role: MemberRole;
}

export type AuthedRequest = Request & { user: AuthUser; org?: OrgContext };

/** Who may do what: the role matrix the dashboard also reads (ROLE_MATRIX in @toolgate/contracts). */
export const Roles = ROLE_MATRIX;

const ALLOWED_ROLES = 'tg:allowedRoles';
/** Which management tokens an `Authed()` route accepts (OrgRoles routes accept both kinds). */
const TOKEN_ACCESS = 'tg:tokenAccess';
type TokenAccess = 'org' | 'personal' | 'any' | 'none';

/** Most to least powerful, to name the role a token acts as. */
const RANK: readonly MemberRole[] = [MemberRole.owner, MemberRole.admin, MemberRole.member, MemberRole.billing];

/** The roles a person with `role` may act as: owners do everything, admins also what members do. */
const SUBSUMES: Record<MemberRole, readonly MemberRole[]> = {
  owner: RANK,
  admin: [MemberRole.admin, MemberRole.member],
  member: [MemberRole.member],
  billing: [MemberRole.billing],
};

/**
 * The roles a management token may act as: the union of its scopes' roles (SCOPE_ROLES) and,
 * for a personal token, only those its person's current role includes. A service account
 * (`personRole` null) has exactly its scopes' roles.
 */
export function tokenRoles(scopes: readonly ManagementScope[], personRole: MemberRole | null): MemberRole[] {
  const granted = new Set<MemberRole>(scopes.flatMap((s) => SCOPE_ROLES[s]));
  return RANK.filter((r) => granted.has(r) && (personRole === null || SUBSUMES[personRole].includes(r)));
}

/** Last-used times are written at most this often per token (a busy CI job must not write per request). */
const LAST_USED_EVERY_MS = 60_000;

/**
 * Authenticates access tokens (JWT, via passport) and management tokens (`tgm_`, looked up
 * here). A management token is checked against the database on every request, so revoking it,
 * its expiry, and its person leaving the org take effect on the very next request.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly prisma: PrismaService,
    private readonly reflector: Reflector,
  ) {
    super();
  }

  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    // Case-insensitive scheme, as passport-jwt reads it, so `bearer tgm_…` is not sent to the JWT check.
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer?.startsWith(MANAGEMENT_TOKEN_PREFIX)) return (await super.canActivate(ctx)) as boolean;

    req.user = await this.authenticateToken(bearer);
    const token = req.user.token!;
    const access = this.reflector.getAllAndOverride<TokenAccess | undefined>(TOKEN_ACCESS, [ctx.getHandler(), ctx.getClass()]) ?? 'none';
    if (access === 'none') {
      throw new Problem(
        403,
        ErrorCode.SessionRequired,
        'This route needs a signed-in session; management tokens cannot use it (they are bound to one organisation and cannot mint credentials)',
      );
    }
    if (access === 'personal' && token.kind === 'service_account') {
      throw new Problem(403, ErrorCode.PersonRequired, 'This route acts as a person; a service account token has no person behind it');
    }
    const context = requestContext();
    if (context) context.token = token;
    return true;
  }

  private async authenticateToken(bearer: string): Promise<AuthUser> {
    const row = await this.prisma.db.managementToken.findUnique({ where: { hash: sha256Hex(bearer) } });
    if (!row) throw Problem.unauthenticated('The management token is not valid', ErrorCode.Unauthenticated);
    const now = new Date();
    if (row.revokedAt) throw Problem.unauthenticated('The management token has been revoked', ErrorCode.TokenRevoked);
    if (row.expiresAt.getTime() <= now.getTime()) {
      throw Problem.unauthenticated(
        `The management token expired at ${row.expiresAt.toISOString()}; create a new one`,
        ErrorCode.TokenExpired,
      );
    }
    let email = '';
    if (row.kind === 'personal') {
      // The person must still exist and belong to the token's org; their role is read per route by OrgGuard.
      const person = row.userId
        ? await this.prisma.db.user.findFirst({
            where: { id: row.userId, memberships: { some: { orgId: row.orgId } } },
            select: { email: true },
          })
        : null;
      if (!person) {
        throw Problem.unauthenticated("The management token's person is no longer a member of its organisation", ErrorCode.TokenRevoked);
      }
      email = person.email;
    }
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_EVERY_MS) {
      // Conditional, so concurrent requests write once; a failure here must not fail the request.
      void this.prisma.db.managementToken
        .updateMany({
          where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now.getTime() - LAST_USED_EVERY_MS) } }] },
          data: { lastUsedAt: now },
        })
        .catch(() => undefined);
    }
    const token: TokenPrincipal = {
      id: row.id,
      kind: row.kind,
      name: row.name,
      prefix: row.prefix,
      orgId: row.orgId,
      scopes: row.scopes,
    };
    return { id: row.kind === 'personal' ? row.userId! : row.id, email, token };
  }

  override handleRequest<T>(err: unknown, user: T, info: unknown): T {
    if (err || !user) {
      const expired = (info as { name?: string } | undefined)?.name === 'TokenExpiredError';
      throw Problem.unauthenticated(
        expired ? 'The access token has expired; refresh it' : 'A valid bearer access token is required',
        expired ? ErrorCode.TokenExpired : ErrorCode.Unauthenticated,
      );
    }
    return user;
  }
}

/**
 * Resolves `:org` (id or slug) to the caller's membership. Not a member, or no such org → 404
 * (existence does not leak); a member whose role is not allowed → 403.
 */
@Injectable()
export class OrgGuard implements CanActivate {
  constructor(
    private readonly prisma: PrismaService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const ref = String(req.params.org ?? '');
    const where = UUID.test(ref) ? { id: ref } : { slug: ref.toLowerCase() };
    const token = req.user.token;
    const org = await this.prisma.db.organization.findFirst({
      where,
      select: { id: true, slug: true, memberships: { where: { userId: req.user.id }, select: { role: true } } },
    });
    // A token is bound to its org: any other org is as unknown to it as to a non-member.
    if (!org || (token && token.orgId !== org.id)) throw Problem.notFound('Organization');
    const personRole = org.memberships[0]?.role ?? null;
    if (token?.kind !== 'service_account' && !personRole) throw Problem.notFound('Organization');
    const allowed = this.reflector.getAllAndOverride<readonly MemberRole[] | undefined>(ALLOWED_ROLES, [ctx.getHandler(), ctx.getClass()]);

    if (!token) {
      req.org = { id: org.id, slug: org.slug, role: personRole! };
      if (allowed && !allowed.includes(personRole!)) throw Problem.forbidden(`The ${personRole} role cannot do this`);
      return true;
    }
    // Effective permission = the route's roles ∩ the token's scopes ∩ (personal) the person's current role.
    const acting = tokenRoles(token.scopes, token.kind === 'personal' ? personRole : null);
    const usable = allowed ? acting.filter((r) => allowed.includes(r)) : acting;
    if (usable.length === 0) {
      if (token.kind === 'personal' && allowed && !allowed.includes(personRole!)) {
        throw Problem.forbidden(`The ${personRole} role cannot do this, whatever the token's scopes`);
      }
      throw new Problem(403, ErrorCode.InsufficientScope, `The token's scopes (${token.scopes.join(', ')}) do not allow this`, {
        scopes: token.scopes,
      });
    }
    req.org = { id: org.id, slug: org.slug, role: usable[0]! };
    return true;
  }
}

/**
 * Operator routes (`/v1/ops/...`) act across tenants (e.g. the dead-letter queue holds every
 * org's events), so no org role may use them: they need `Authorization: Bearer <OPERATOR_TOKEN>`
 * (compared in constant time). With OPERATOR_TOKEN unset they answer 404, as if absent.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(ENV) env: Env) {
    this.expected = env.OPERATOR_TOKEN ? digest(env.OPERATOR_TOKEN) : null;
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (!this.expected) throw Problem.notFound('Route');
    const header = ctx.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(header)?.[1] ?? '';
    if (!timingSafeEqual(digest(token), this.expected)) throw Problem.unauthenticated('The operator token is required');
    return true;
  }
}

const digest = (v: string) => createHash('sha256').update(v).digest();

/** Route is an operator action (see OperatorGuard). */
export const OperatorOnly = () => UseGuards(OperatorGuard);

/**
 * Route needs a logged-in person. By default only a dashboard/CLI session (JWT): management
 * tokens are refused (403 `session_required`), so a new person-level route never widens what a
 * token can do by accident. `{ personalTokens: true }` also admits personal tokens (service
 * account tokens get 403 `person_required`); such routes must keep to the token's org.
 * `{ anyToken: true }` admits both kinds of token: only for routes about the token itself.
 */
export const Authed = (opts: { personalTokens?: boolean; anyToken?: boolean } = {}) =>
  applyDecorators(SetMetadata(TOKEN_ACCESS, opts.anyToken ? 'any' : opts.personalTokens ? 'personal' : 'none'), UseGuards(JwtAuthGuard));

/** Route is under `/v1/orgs/:org/...`: needs a member of that org with one of these roles. */
export const OrgRoles = (roles: readonly MemberRole[]) =>
  applyDecorators(SetMetadata(ALLOWED_ROLES, roles), SetMetadata(TOKEN_ACCESS, 'org'), UseGuards(JwtAuthGuard, OrgGuard));

export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthUser => ctx.switchToHttp().getRequest<AuthedRequest>().user,
);

export const CurrentOrg = createParamDecorator((_: unknown, ctx: ExecutionContext): OrgContext => {
  const org = ctx.switchToHttp().getRequest<AuthedRequest>().org;
  if (!org) throw new Error('CurrentOrg used on a route without OrgRoles()');
  return org;
});
