import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { redisKeys } from '@toolgate/contracts';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { AuthUser } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { RedisService } from '../../infra/redis.service';

/** Access token claims; `ims` (issue time in ms) and `fid` (refresh family) are absent on older tokens. */
export interface AccessClaims {
  sub: string;
  email: string;
  iat?: number;
  ims?: number;
  fid?: string;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(ENV) env: Env,
    private readonly redis: RedisService,
  ) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: env.JWT_SECRET, algorithms: ['HS256'] });
  }

  /**
   * "Sign out of all sessions" must end live access tokens too, not only refresh: one Redis GET
   * per request against a per-user cut-off. Fails open when Redis is down (as the login limiter
   * does): the tokens are short-lived and their refresh tokens are already revoked in Postgres.
   */
  async validate(payload: AccessClaims): Promise<AuthUser> {
    const after = await this.redis.client.get(redisKeys.sessionsValidAfter(payload.sub)).catch(() => null);
    const issuedMs = payload.ims ?? (payload.iat ?? 0) * 1000;
    if (after !== null && issuedMs < Number(after)) {
      throw Problem.unauthenticated('This session was signed out; log in again', ErrorCode.TokenExpired);
    }
    return { id: payload.sub, email: payload.email, sessionFamily: payload.fid };
  }
}
