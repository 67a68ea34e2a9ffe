import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import { ProblemFilter } from '../../common/problem.filter';

/** RFC 6749 §5.2, RFC 7009 and RFC 7591 §3.2.2 error codes (plus RFC 8707's invalid_target). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'server_error';

/** An error of the OAuth endpoints (/token, /register, /revoke): `{error, error_description}` JSON. */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400,
  ) {
    super(description);
  }
}

/**
 * Renders OAuthError as RFC 6749 JSON with `Cache-Control: no-store`; a 401 for client
 * authentication names the Basic scheme (RFC 6749 §5.2). Anything else (body-parser errors,
 * throttling) keeps the API's problem JSON.
 */
@Catch()
export class OAuthErrorFilter implements ExceptionFilter {
  private readonly fallback = new ProblemFilter();

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = bodyParserError(exception);
    const e = body ?? exception;
    if (!(e instanceof OAuthError)) {
      this.fallback.catch(exception, host);
      return;
    }
    if (res.headersSent) return;
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    if (e.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="toolgate"');
    res.status(e.status).json({ error: e.error, error_description: e.description });
  }
}

/** A malformed body on an OAuth endpoint is an invalid_request there, not a problem document. */
function bodyParserError(e: unknown): OAuthError | null {
  const bp = ((e instanceof HttpException && e.cause) || e) as { type?: string } | null;
  if (bp?.type === 'entity.parse.failed') return new OAuthError('invalid_request', 'The request body is malformed');
  return null;
}
