import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { redisKeys } from '@toolgate/contracts';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { ENV, type Env } from '../config/env';
import { RedisService } from '../infra/redis.service';
import type { AuthUser } from './auth';
import { ErrorCode, Problem } from './problem';

/**
 * Throttle classes: sign-up, login and OAuth client registration per client IP, management writes per user. Token refresh is
 * not throttled: the dashboard's server refreshes every user's session from its own address, and a
 * refresh token cannot be guessed.
 */
export type ThrottleScope = 'signup' | 'auth' | 'manage' | 'oauth-register';

const THROTTLE_SCOPE = 'tg:throttleScope';

/** Puts a handler in a throttle class (`manage` needs no marking: every signed-in write is in it). */
export const Throttle = (scope: Exclude<ThrottleScope, 'manage'>) => SetMetadata(THROTTLE_SCOPE, scope);

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Fixed-window counters in Redis (INCR + PEXPIRE, one round trip), shared by every API instance:
 * the n-th request of a window past the limit gets 429 problem JSON with Retry-After (the window's
 * rest). An interceptor, not a guard, so it runs after authentication and can count per user.
 * While Redis is unreachable requests pass: sign-up and management must not fail with the cache.
 */
@Injectable()
export class ThrottleInterceptor implements NestInterceptor {
  private readonly limits: Record<ThrottleScope, { limit: number; windowMs: number }>;

  constructor(
    private readonly reflector: Reflector,
    private readonly redis: RedisService,
    @Inject(ENV) env: Env,
  ) {
    this.limits = {
      signup: { limit: env.SIGNUP_PER_IP_PER_HOUR, windowMs: 3_600_000 },
      auth: { limit: env.AUTH_PER_IP_PER_MINUTE, windowMs: 60_000 },
      manage: { limit: env.MANAGE_WRITES_PER_USER_PER_MINUTE, windowMs: 60_000 },
      'oauth-register': { limit: env.OAUTH_REGISTER_PER_IP_PER_HOUR, windowMs: 3_600_000 },
    };
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const scope = this.scopeOf(context, req);
    if (scope !== null) await this.charge(scope, scope === 'manage' ? req.user!.id : (req.ip ?? 'unknown'));
    return next.handle();
  }

  private scopeOf(context: ExecutionContext, req: Request & { user?: AuthUser }): ThrottleScope | null {
    const marked = this.reflector.get<ThrottleScope | undefined>(THROTTLE_SCOPE, context.getHandler());
    if (marked) return marked;
    return req.user && WRITES.has(req.method) ? 'manage' : null;
  }

  private async charge(scope: ThrottleScope, subject: string): Promise<void> {
    const { limit, windowMs } = this.limits[scope];
    if (limit === 0) return;
    const window = Math.floor(Date.now() / windowMs);
    const key = redisKeys.apiThrottle(scope, subject, window);
    const result = await this.redis.client
      .multi()
      .incr(key)
      .pexpire(key, windowMs, 'NX')
      .exec()
      .catch(() => null);
    const count = Number(result?.[0]?.[1] ?? 0);
    if (count <= limit) return;
    const retryAfter = String(Math.max(1, Math.ceil(((window + 1) * windowMs - Date.now()) / 1000)));
    throw new Problem(429, ErrorCode.RateLimited, `Too many requests; retry in ${retryAfter} seconds`, {
      headers: { 'Retry-After': retryAfter },
      limit,
    });
  }
}
