import { Controller, Get, Header, HttpCode, Inject, Post, Query, Req, Res, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Throttle } from '../../common/throttle';
import { ENV, type Env } from '../../config/env';
import { AuthorizeService } from './authorize.service';
import { ClientsService } from './clients.service';
import { authorizationServerMetadata } from './metadata';
import { OAuthError, OAuthErrorFilter } from './oauth.errors';
import { type ClientCredentials, TokenService } from './token.service';

/**
 * The OAuth 2.1 authorization server at the API root (not under /v1): discovery, dynamic
 * registration, /authorize, /token and /revoke. Errors are OAuth JSON, not problem JSON.
 */
@ApiTags('oauth')
@Controller()
@UseFilters(OAuthErrorFilter)
export class OAuthEndpointsController {
  constructor(
    private readonly clients: ClientsService,
    private readonly authorizer: AuthorizeService,
    private readonly tokens: TokenService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  @Get('.well-known/oauth-authorization-server')
  @ApiOperation({ summary: 'RFC 8414 authorization server metadata' })
  @Header('Cache-Control', 'public, max-age=3600')
  metadata() {
    return authorizationServerMetadata(this.env);
  }

  /** The same document where OpenID-style clients look for it. */
  @Get('.well-known/openid-configuration')
  @ApiOperation({ summary: 'Authorization server metadata (OpenID-style discovery location)' })
  @Header('Cache-Control', 'public, max-age=3600')
  openidConfiguration() {
    return authorizationServerMetadata(this.env);
  }

  /** RFC 7591 dynamic client registration. */
  @Post('register')
  @Throttle('oauth-register')
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'RFC 7591 dynamic client registration' })
  register(@Req() req: Request) {
    return this.clients.register(req.body);
  }

  /** Sends the browser to the dashboard's consent page, or back to the client with an error. Never redirects to an unverified URI. */
  @Get('authorize')
  @Throttle('auth')
  @ApiOperation({ summary: 'OAuth 2.1 authorization endpoint (authorization code + PKCE S256, RFC 8707 resource)' })
  async authorize(@Query() query: Record<string, unknown>, @Res() res: Response): Promise<void> {
    const outcome = await this.authorizer.authorize(query);
    res.setHeader('Cache-Control', 'no-store');
    if ('redirect' in outcome) return res.redirect(302, outcome.redirect);
    res.status(400).type('text/html; charset=utf-8').send(errorPage(outcome.errorPage));
  }

  @Post('token')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  @ApiOperation({ summary: 'OAuth 2.1 token endpoint (authorization_code, refresh_token)' })
  token(@Req() req: Request) {
    return this.tokens.token(bodyOf(req), credentials(req));
  }

  /** RFC 7009: always 200 for a token that is unknown or not the caller's. */
  @Post('revoke')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'RFC 7009 token revocation (refresh or access token: revokes the grant)' })
  async revoke(@Req() req: Request): Promise<Record<string, never>> {
    await this.tokens.revoke(bodyOf(req), credentials(req));
    return {};
  }
}

function bodyOf(req: Request): Record<string, unknown> {
  const b = req.body as unknown;
  if (!b || typeof b !== 'object' || Array.isArray(b)) {
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded (or a JSON object)');
  }
  return b as Record<string, unknown>;
}

/** client_secret_basic (RFC 6749 §2.3.1: form-urlencoded id and secret in Basic) or the body's client_id / client_secret. */
function credentials(req: Request): ClientCredentials {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const header = req.headers.authorization ?? '';
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new OAuthError('invalid_client', 'Malformed Basic credentials');
    try {
      const clientId = decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' '));
      if (typeof body.client_id === 'string' && body.client_id !== clientId)
        throw new OAuthError('invalid_request', 'client_id differs from the Basic credentials');
      return { clientId, secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, ' ')) };
    } catch (e) {
      if (e instanceof OAuthError) throw e;
      throw new OAuthError('invalid_client', 'Malformed Basic credentials');
    }
  }
  return {
    clientId: typeof body.client_id === 'string' ? body.client_id : undefined,
    secret: typeof body.client_secret === 'string' ? body.client_secret : undefined,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Shown instead of redirecting when the client or redirect URI cannot be trusted. */
function errorPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head><body><h1>Authorization error</h1><p>${escapeHtml(message)}</p><p>Return to the application and try again, or contact its developer.</p></body></html>`;
}
