import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import type { TokenPrincipal } from './auth';

/**
 * Per-request state that code far from the controller needs without every service passing it
 * along: which management token (if any) authenticated the request, so the activity log can
 * attribute every change to it (ActivityService.record) without each of the dozens of callers
 * of OrgChangeService knowing about tokens.
 */
export interface RequestContext {
  token?: TokenPrincipal;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Express middleware: one fresh context per request, alive through guards, handler and filters. */
export function requestContextMiddleware(_req: Request, _res: Response, next: NextFunction): void {
  storage.run({}, next);
}

/** The current request's context, or undefined outside a request (queue consumers, boot). */
export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}
