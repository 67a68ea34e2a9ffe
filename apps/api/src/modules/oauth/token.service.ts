import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  accessTokenKey,
  looksLikeAccessToken,
  REFRESH_TOKEN_PREFIX,
  sha256Hex,
  signAccessToken,
  verifyAccessToken,
} from '@toolgate/contracts';
import type { OAuthClient } from '@toolgate/db';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { GrantsService } from './grants.service';
import { grantScope, issuerOf, parseResource } from './oauth.config';
import { CODE_VERIFIER, randomToken, s256, safeEqual } from './oauth.crypto';
import { OAuthError } from './oauth.errors';
import { type GrantRow, OAuthRepository } from './oauth.repository';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

/** Client credentials as sent: HTTP Basic (client_secret_basic) or in the body (client_secret_post / public). */
export interface ClientCredentials {
  clientId: string | undefined;
  secret: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The token endpoint (authorization_code with PKCE, refresh_token with rotation) and RFC 7009
 * revocation. A replayed code or an already-rotated refresh token is taken as theft: the grant
 * (the whole token family) is revoked and the snapshot republished.
 */
@Injectable()
export class TokenService {
  private readonly key: Buffer;

  constructor(
    private readonly repo: OAuthRepository,
    private readonly grants: GrantsService,
    private readonly prisma: PrismaService,
    @Inject(ENV) private readonly env: Env,
  ) {
    this.key = accessTokenKey(env.TOOLGATE_SECRET_KEY);
  }

  async token(body: Record<string, unknown>, creds: ClientCredentials): Promise<TokenResponse> {
    const grantType = str(body.grant_type);
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
    }
    const client = await this.authenticate(creds);
    return grantType === 'authorization_code' ? this.exchangeCode(client, body) : this.refresh(client, body);
  }

  private async exchangeCode(client: OAuthClient, body: Record<string, unknown>): Promise<TokenResponse> {
    const code = str(body.code);
    const verifier = str(body.code_verifier);
    const redirectUri = str(body.redirect_uri);
    if (!code) throw new OAuthError('invalid_request', 'code is required');
    if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
    if (!CODE_VERIFIER.test(verifier))
      throw new OAuthError('invalid_request', 'code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~');
    const row = await this.repo.findCode(sha256Hex(code));
    if (!row || row.grant.clientId !== client.id) throw invalidGrant('The authorization code is invalid');
    if (row.usedAt) {
      await this.grants.revoke(row.grant.orgId, row.grant.id, null, 'code_reused');
      throw invalidGrant('The authorization code was already used; the grant it issued is revoked');
    }
    if (row.expiresAt.getTime() <= Date.now()) throw invalidGrant('The authorization code has expired');
    if (row.grant.revokedAt) throw invalidGrant('The grant was revoked');
    if (!redirectUri || redirectUri !== row.redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
    if (!safeEqual(s256(verifier), row.codeChallenge)) throw invalidGrant('code_verifier does not match the code_challenge');
    this.checkResource(body.resource, row.grant);
    if (!(await this.repo.useCode(row.id, new Date()))) {
      await this.grants.revoke(row.grant.orgId, row.grant.id, null, 'code_reused');
      throw invalidGrant('The authorization code was already used; the grant it issued is revoked');
    }
    return this.issue(client, row.grant, null);
  }

  private async refresh(client: OAuthClient, body: Record<string, unknown>): Promise<TokenResponse> {
    const token = str(body.refresh_token);
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const row = token.startsWith(REFRESH_TOKEN_PREFIX) ? await this.repo.findRefreshToken(sha256Hex(token)) : null;
    if (!row || row.grant.clientId !== client.id) throw invalidGrant('The refresh token is invalid');
    if (row.grant.revokedAt) throw invalidGrant('The grant was revoked');
    if (row.usedAt) {
      await this.grants.revoke(row.grant.orgId, row.grant.id, null, 'refresh_token_reused');
      throw invalidGrant('The refresh token was already used; every token of this grant is revoked');
    }
    if (row.expiresAt.getTime() <= Date.now()) throw invalidGrant('The refresh token has expired');
    this.checkResource(body.resource, row.grant);
    const scope = str(body.scope);
    if (scope) {
      const granted = new Set(grantScope(row.grant.roles.map((r) => r.role.name)).split(' '));
      if (scope.split(' ').some((s) => s && !granted.has(s))) throw new OAuthError('invalid_scope', 'scope asks for more than was granted');
    }
    return this.issue(client, row.grant, row.id);
  }

  /** A new access token and refresh token; `rotated` is the refresh token this replaces (marked used in the same transaction). */
  private async issue(client: OAuthClient, grant: GrantRow, rotated: string | null): Promise<TokenResponse> {
    const now = new Date();
    const refreshToken = `${REFRESH_TOKEN_PREFIX}${randomToken()}`;
    const reused = await this.prisma.db.$transaction(async (tx) => {
      if (rotated && !(await this.repo.useRefreshToken(tx, rotated, now))) return true;
      await this.repo.createRefreshToken(tx, {
        hash: sha256Hex(refreshToken),
        grantId: grant.id,
        expiresAt: new Date(now.getTime() + this.env.OAUTH_REFRESH_TOKEN_TTL_DAYS * 86_400_000),
      });
      await this.repo.touchGrant(tx, grant.id, now);
      return false;
    });
    if (reused) {
      // Another request rotated this token first: two holders of one token, so revoke the family.
      await this.grants.revoke(grant.orgId, grant.id, null, 'refresh_token_reused');
      throw invalidGrant('The refresh token was already used; every token of this grant is revoked');
    }
    const scope = grantScope(grant.roles.map((r) => r.role.name));
    const iat = Math.floor(now.getTime() / 1000);
    const accessToken = signAccessToken(this.key, {
      iss: issuerOf(this.env),
      aud: grant.resource,
      sub: grant.userId,
      client_id: client.clientId,
      org: grant.orgId,
      gid: grant.id,
      scope,
      iat,
      exp: iat + ACCESS_TOKEN_TTL_SECONDS,
      jti: randomUUID(),
    });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS, refresh_token: refreshToken, scope };
  }

  /**
   * RFC 7009: revoke the grant a refresh or access token belongs to. Unknown, expired or
   * foreign tokens change nothing and still answer 200 (no oracle).
   */
  async revoke(body: Record<string, unknown>, creds: ClientCredentials): Promise<void> {
    const token = str(body.token);
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    let grantId: string | null = null;
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      grantId = (await this.repo.findRefreshToken(sha256Hex(token)))?.grantId ?? null;
    } else if (looksLikeAccessToken(token)) {
      grantId = verifyAccessToken(this.key, token, Math.floor(Date.now() / 1000))?.gid ?? null;
    }
    const grant = grantId ? await this.repo.findGrantById(grantId) : null;
    if (!grant) return;
    // A confidential client proves itself; anyone presenting another client's id changes nothing.
    if (creds.clientId !== undefined && creds.clientId !== grant.client.clientId) return;
    if (grant.client.tokenEndpointAuthMethod !== 'none') await this.authenticate({ ...creds, clientId: grant.client.clientId });
    await this.grants.revoke(grant.orgId, grant.id, null, 'revoked_by_client');
  }

  /** The client making the request; confidential clients must present their secret (Basic or in the body: either is accepted). */
  private async authenticate(creds: ClientCredentials): Promise<OAuthClient> {
    if (!creds.clientId) throw new OAuthError('invalid_client', 'client_id is required');
    const client = await this.repo.findClient(creds.clientId);
    if (!client) throw new OAuthError('invalid_client', 'Unknown client');
    if (client.tokenEndpointAuthMethod === 'none') return client;
    if (!creds.secret || !client.secretHash || !safeEqual(sha256Hex(creds.secret), client.secretHash)) {
      throw new OAuthError('invalid_client', 'Client authentication failed');
    }
    return client;
  }

  private checkResource(resource: unknown, grant: GrantRow): void {
    if (resource === undefined) return;
    if (typeof resource !== 'string' || parseResource(this.env, resource)?.resource !== grant.resource) {
      throw new OAuthError('invalid_target', 'resource does not match the endpoint this grant is for');
    }
  }
}

const invalidGrant = (description: string) => new OAuthError('invalid_grant', description);
