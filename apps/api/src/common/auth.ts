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
import { MemberRole } from '@toolgate/db';
import type { Request } from 'express';
import { ENV, type Env } from '../config/env';
import { PrismaService } from '../infra/prisma.service';
import { ErrorCode, Problem } from './problem';
import { UUID } from './uuid-param.pipe';

/** What passport-jwt puts on the request after verifying an access token. */
export interface AuthUser {
  id: string;
  email: string;
}

/** The org named by `:org` in the route, resolved by OrgGuard. */
export interface OrgContext {
  id: string;
  slug: string;
  role: MemberRole;
}

export type AuthedRequest = Request & { user: AuthUser; org?: OrgContext };

/** Who may do what. Owner/admin manage everything; member reads; billing handles billing only. */
export const Roles = {
  any: [MemberRole.owner, MemberRole.admin, MemberRole.member, MemberRole.billing],
  read: [MemberRole.owner, MemberRole.admin, MemberRole.member],
  manage: [MemberRole.owner, MemberRole.admin],
  billing: [MemberRole.owner, MemberRole.billing],
  owner: [MemberRole.owner],
} as const;

const ALLOWED_ROLES = 'tg:allowedRoles';

@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
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
    const org = await this.prisma.db.organization.findFirst({
      where,
      select: { id: true, slug: true, memberships: { where: { userId: req.user.id }, select: { role: true } } },
    });
    const membership = org?.memberships[0];
    if (!org || !membership) throw Problem.notFound('Organization');
    req.org = { id: org.id, slug: org.slug, role: membership.role };
    const allowed = this.reflector.getAllAndOverride<readonly MemberRole[] | undefined>(ALLOWED_ROLES, [ctx.getHandler(), ctx.getClass()]);
    if (allowed && !allowed.includes(membership.role)) {
      throw Problem.forbidden(`The ${membership.role} role cannot do this`);
    }
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

/** Route needs a logged-in user. */
export const Authed = () => UseGuards(JwtAuthGuard);

/** Route is under `/v1/orgs/:org/...`: needs a member of that org with one of these roles. */
export const OrgRoles = (roles: readonly MemberRole[]) =>
  applyDecorators(SetMetadata(ALLOWED_ROLES, roles), UseGuards(JwtAuthGuard, OrgGuard));

export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthUser => ctx.switchToHttp().getRequest<AuthedRequest>().user,
);

export const CurrentOrg = createParamDecorator((_: unknown, ctx: ExecutionContext): OrgContext => {
  const org = ctx.switchToHttp().getRequest<AuthedRequest>().org;
  if (!org) throw new Error('CurrentOrg used on a route without OrgRoles()');
  return org;
});
