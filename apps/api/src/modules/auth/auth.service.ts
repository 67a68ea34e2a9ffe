import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { hash, verify } from '@node-rs/argon2';
import { redisKeys, sha256Hex } from '@toolgate/contracts';
import type { User } from '@toolgate/db';
import { ENV, type Env } from '../../config/env';
import { ErrorCode, Problem } from '../../common/problem';
import { PrismaService } from '../../infra/prisma.service';
import { RedisService } from '../../infra/redis.service';
import type { ChangePasswordDto, LoginDto, RefreshDto, SignupDto, UpdateMeDto } from './auth.dto';

/** argon2id, OWASP's second recommended profile (19 MiB, t=2). */
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshExpiresAt: string;
}

export const publicUser = (u: Pick<User, 'id' | 'email' | 'name' | 'createdAt'>) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  createdAt: u.createdAt,
});

@Injectable()
export class AuthService {
  /** Verified against when the email is unknown, so timing does not reveal which emails exist. */
  private readonly dummyHash = hash(randomBytes(16).toString('hex'), ARGON2);

  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly jwt: JwtService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async signup(dto: SignupDto) {
    const passwordHash = await hash(dto.password, ARGON2);
    const existing = await this.prisma.db.user.findUnique({ where: { email: dto.email }, select: { id: true } });
    if (existing) throw Problem.conflict('An account with this email already exists');
    const user = await this.prisma.db.user.create({ data: { email: dto.email, name: dto.name, passwordHash } });
    return { user: publicUser(user), ...(await this.issue(user, randomUUID())) };
  }

  async login(dto: LoginDto, ip: string) {
    const subject = `${dto.email}|${ip}`;
    await this.assertNotLockedOut(subject);
    const user = await this.prisma.db.user.findUnique({ where: { email: dto.email } });
    const ok = await verify(user?.passwordHash ?? (await this.dummyHash), dto.password).catch(() => false);
    if (!user || !ok) {
      await this.recordFailure(subject);
      throw Problem.unauthenticated('Email or password is incorrect', ErrorCode.InvalidCredentials);
    }
    await this.redis.client.del(redisKeys.loginAttempts(subject)).catch(() => undefined);
    return { user: publicUser(user), ...(await this.issue(user, randomUUID())) };
  }

  /**
   * Rotate: the presented token is marked used and a new one issued in the same family.
   * Presenting a used (or revoked) token again means it leaked: the whole family is revoked.
   */
  async refresh(dto: RefreshDto): Promise<TokenPair> {
    const tokenHash = sha256Hex(dto.refreshToken);
    const now = new Date();
    const row = await this.prisma.db.refreshToken.findUnique({ where: { tokenHash }, include: { user: true } });
    if (!row) throw Problem.unauthenticated('The refresh token is not valid');
    if (row.usedAt || row.revokedAt) {
      await this.revokeFamily(row.familyId);
      throw Problem.unauthenticated(
        'This refresh token was already used; all sessions from this login were signed out',
        ErrorCode.TokenReused,
      );
    }
    if (row.expiresAt <= now) throw Problem.unauthenticated('The refresh token has expired; log in again', ErrorCode.TokenExpired);
    // Conditional update: of two concurrent refreshes with one token, exactly one wins.
    const claimed = await this.prisma.db.refreshToken.updateMany({
      where: { id: row.id, usedAt: null, revokedAt: null },
      data: { usedAt: now },
    });
    if (claimed.count !== 1) {
      await this.revokeFamily(row.familyId);
      throw Problem.unauthenticated('This refresh token was already used', ErrorCode.TokenReused);
    }
    return this.issue(row.user, row.familyId);
  }

  async logout(dto: RefreshDto): Promise<void> {
    const row = await this.prisma.db.refreshToken.findUnique({ where: { tokenHash: sha256Hex(dto.refreshToken) } });
    if (row) await this.revokeFamily(row.familyId);
  }

  /** `onlyOrgId`: a personal token sees only the org it is bound to. */
  async me(userId: string, onlyOrgId?: string) {
    const user = await this.prisma.db.user.findUnique({
      where: { id: userId },
      include: {
        memberships: {
          where: onlyOrgId ? { orgId: onlyOrgId } : {},
          include: { org: { select: { id: true, slug: true, name: true } } },
          orderBy: { createdAt: 'asc' },
        },
      },
    });
    if (!user) throw Problem.unauthenticated('The account no longer exists');
    return {
      ...publicUser(user),
      orgs: user.memberships.map((m) => ({ id: m.org.id, slug: m.org.slug, name: m.org.name, role: m.role })),
    };
  }

  async updateMe(userId: string, dto: UpdateMeDto) {
    await this.prisma.db.user.update({ where: { id: userId }, data: { name: dto.name } });
    return this.me(userId);
  }

  /**
   * Verifies the current password, stores the new one and revokes every other session's refresh
   * tokens; the calling session (its refresh family) keeps working.
   */
  async changePassword(userId: string, keepFamily: string | undefined, dto: ChangePasswordDto): Promise<void> {
    const user = await this.prisma.db.user.findUnique({ where: { id: userId } });
    if (!user) throw Problem.unauthenticated('The account no longer exists');
    const subject = `password|${userId}`;
    await this.assertNotLockedOut(subject);
    const ok = await verify(user.passwordHash, dto.currentPassword).catch(() => false);
    if (!ok) {
      // Counted like failed logins, so a stolen session cannot guess the password without limit.
      await this.recordFailure(subject);
      throw Problem.validation([{ path: 'currentPassword', message: 'is incorrect' }]);
    }
    if (dto.newPassword === dto.currentPassword) {
      throw Problem.validation([{ path: 'newPassword', message: 'must differ from the current password' }]);
    }
    const passwordHash = await hash(dto.newPassword, ARGON2);
    await this.prisma.db.$transaction([
      this.prisma.db.user.update({ where: { id: userId }, data: { passwordHash } }),
      this.prisma.db.refreshToken.updateMany({
        where: { userId, revokedAt: null, ...(keepFamily ? { NOT: { familyId: keepFamily } } : {}) },
        data: { revokedAt: new Date() },
      }),
    ]);
    await this.redis.client.del(redisKeys.loginAttempts(subject)).catch(() => undefined);
  }

  /** Revokes every refresh token of the user and refuses access tokens issued before now. */
  async logoutAll(userId: string): Promise<void> {
    await this.prisma.db.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
    // Kept one access token lifetime (plus slack): every older token has expired by then.
    await this.redis.client.set(redisKeys.sessionsValidAfter(userId), String(Date.now()), 'EX', this.env.ACCESS_TOKEN_TTL_SECONDS + 60);
  }

  private async issue(user: Pick<User, 'id' | 'email'>, familyId: string): Promise<TokenPair> {
    const refreshToken = `tgr_${randomBytes(32).toString('base64url')}`;
    const refreshExpiresAt = new Date(Date.now() + this.env.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
    await this.prisma.db.refreshToken.create({
      data: { userId: user.id, familyId, tokenHash: sha256Hex(refreshToken), expiresAt: refreshExpiresAt },
    });
    const accessToken = await this.jwt.signAsync(
      { sub: user.id, email: user.email, ims: Date.now(), fid: familyId },
      { expiresIn: this.env.ACCESS_TOKEN_TTL_SECONDS },
    );
    return {
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: this.env.ACCESS_TOKEN_TTL_SECONDS,
      refreshExpiresAt: refreshExpiresAt.toISOString(),
    };
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.prisma.db.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date() } });
  }

  private async assertNotLockedOut(subject: string): Promise<void> {
    const key = redisKeys.loginAttempts(subject);
    const [count, ttl] = await Promise.all([this.redis.client.get(key), this.redis.client.ttl(key)]).catch(() => [null, -1] as const);
    if (count !== null && Number(count) >= this.env.LOGIN_MAX_FAILURES) {
      const retryAfter = String(Math.max(1, Number(ttl)));
      throw new Problem(429, ErrorCode.RateLimited, `Too many failed logins; try again in ${retryAfter} seconds`, {
        headers: { 'Retry-After': retryAfter },
      });
    }
  }

  private async recordFailure(subject: string): Promise<void> {
    const key = redisKeys.loginAttempts(subject);
    await this.redis.client
      .multi()
      .incr(key)
      .expire(key, this.env.LOGIN_WINDOW_SECONDS, 'NX')
      .exec()
      .catch(() => undefined);
  }
}
