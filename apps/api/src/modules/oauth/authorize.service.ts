import { Inject, Injectable } from '@nestjs/common';
import { CONSENT_PATH } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { ClientsService, UnknownClientError } from './clients.service';
import { CODE_CHALLENGE } from './oauth.crypto';
import { issuerOf, parseResource, withParams } from './oauth.config';
import { OAuthRepository } from './oauth.repository';

/** Where the browser goes: a redirect (to the consent page, or back to the client with an error), or an error page. */
export type AuthorizeOutcome = { redirect: string } | { errorPage: string };

const one = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * GET /authorize. The client and its redirect URI are verified first: until both are known good
 * nothing redirects (an error page instead), so the endpoint is no open redirect. After that,
 * protocol errors go back to the client (RFC 6749 §4.1.2.1) with state and iss (RFC 9207).
 */
@Injectable()
export class AuthorizeService {
  constructor(
    private readonly clients: ClientsService,
    private readonly repo: OAuthRepository,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async authorize(query: Record<string, unknown>): Promise<AuthorizeOutcome> {
    const clientId = one(query.client_id);
    const redirectUri = one(query.redirect_uri);
    if (!clientId) return { errorPage: 'The request has no client_id.' };
    let client: Awaited<ReturnType<ClientsService['resolve']>>;
    try {
      client = await this.clients.resolve(clientId);
    } catch (e) {
      if (e instanceof UnknownClientError) return { errorPage: `This application cannot be authorized: ${e.message}.` };
      throw e;
    }
    // Exact string comparison (OAuth 2.1 §2.3.1 / security BCP): no prefix, no normalisation.
    if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
      return { errorPage: 'The redirect_uri is missing or is not one this application registered.' };
    }

    const state = one(query.state) ?? null;
    const back = (error: string, description: string) => ({
      redirect: withParams(redirectUri, { error, error_description: description, state, iss: issuerOf(this.env) }),
    });
    if (query.response_type !== 'code') return back('unsupported_response_type', 'response_type must be code');
    const challenge = one(query.code_challenge);
    if (!challenge) return back('invalid_request', 'code_challenge is required (PKCE)');
    if (query.code_challenge_method !== 'S256') return back('invalid_request', 'code_challenge_method must be S256');
    if (!CODE_CHALLENGE.test(challenge)) return back('invalid_request', 'code_challenge is not an S256 challenge');
    if (state !== null && state.length > 2000) return back('invalid_request', 'state is too long');
    let resource: string | null = null;
    if (query.resource !== undefined) {
      const parsed = typeof query.resource === 'string' ? parseResource(this.env, query.resource) : null;
      if (!parsed) return back('invalid_target', 'resource must be a Toolgate MCP endpoint: <gateway>/mcp/{org} or /mcp/{org}/{server}');
      resource = parsed.resource;
    }
    const scope = one(query.scope)?.slice(0, 1000) ?? null;
    if (query.scope !== undefined && scope === null) return back('invalid_scope', 'scope must be a string');

    const request = await this.repo.createRequest({
      clientId: client.id,
      redirectUri,
      state,
      codeChallenge: challenge,
      resource,
      scope,
      expiresAt: new Date(Date.now() + this.env.OAUTH_REQUEST_TTL_SECONDS * 1000),
    });
    return { redirect: withParams(`${this.env.PUBLIC_WEB_URL.replace(/\/+$/, '')}${CONSENT_PATH}`, { request: request.id }) };
  }
}
