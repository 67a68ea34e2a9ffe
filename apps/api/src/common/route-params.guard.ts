import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { Problem } from './problem';

/**
 * What Postgres refuses in text ("invalid byte sequence for encoding UTF8: 0x00"). Params are
 * decoded JS strings, so NUL is the only such byte left: bytes that are not UTF-8 fail to decode
 * in the router first (a 400 problem).
 */
const refused = (value: string) => value.includes('\u0000');

/**
 * Every route param, checked once before any other guard or handler reads it: a value Postgres
 * would refuse ("invalid byte sequence") cannot name a record, so it answers the same 404 as one
 * that does not exist instead of a 500 from the database. Registered globally (APP_GUARD).
 */
@Injectable()
export class RouteParamsGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http') return true;
    const params = ctx.switchToHttp().getRequest<Request>().params ?? {};
    for (const value of Object.values(params)) {
      if (typeof value === 'string' && refused(value)) throw Problem.notFound('Resource');
    }
    return true;
  }
}
