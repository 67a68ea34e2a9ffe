import { Inject, Injectable, Logger } from '@nestjs/common';
import { sha256Hex } from '@toolgate/contracts';
import type { OAuthClient, Prisma } from '@toolgate/db';
import { ENV, type Env } from '../../config/env';
import { clientIdUrlProblem, fetchClientMetadata, MetadataFetchError } from './client-metadata.fetch';
import { randomToken } from './oauth.crypto';
import { OAuthError } from './oauth.errors';
import { OAuthRepository } from './oauth.repository';
import { redirectUriProblem } from './redirect-uri';

export const AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
type AuthMethod = (typeof AUTH_METHODS)[number];

const MAX_REDIRECT_URIS = 20;
const str = (v: unknown, max: number): string | null => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : null);
/** client_uri / logo_uri are shown on the consent page as links: https only. */
const httpsUri = (v: unknown): string | null => {
  const s = str(v, 2000);
  if (!s) return null;
  try {
    return new URL(s).protocol === 'https:' ? s : null;
  } catch {
    return null;
  }
};

/** Why a client cannot be used, for the /authorize error page (never a redirect). */
export class UnknownClientError extends Error {}

/**
 * OAuth clients: RFC 7591 dynamic registration, and client ID metadata documents (a client_id
 * that is an https URL names a JSON document we fetch, validate and cache until it expires).
 */
@Injectable()
export class ClientsService {
  private readonly logger = new Logger('OAuthClients');

  constructor(
    private readonly repo: OAuthRepository,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /** RFC 7591 §3.2.1 answer (201), or OAuthError invalid_redirect_uri / invalid_client_metadata. */
  async register(body: unknown) {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new OAuthError('invalid_client_metadata', 'The body must be a JSON object');
    const m = body as Record<string, unknown>;
    const redirectUris = this.redirectUris(m.redirect_uris);
    const method = (m.token_endpoint_auth_method ?? 'none') as AuthMethod;
    if (!AUTH_METHODS.includes(method)) {
      throw new OAuthError('invalid_client_metadata', `token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
    }
    const grantTypes = m.grant_types ?? ['authorization_code', 'refresh_token'];
    if (
      !Array.isArray(grantTypes) ||
      grantTypes.some((g) => g !== 'authorization_code' && g !== 'refresh_token') ||
      !grantTypes.includes('authorization_code')
    ) {
      throw new OAuthError('invalid_client_metadata', 'grant_types must include authorization_code and may include refresh_token only');
    }
    const responseTypes = m.response_types ?? ['code'];
    if (!Array.isArray(responseTypes) || responseTypes.some((r) => r !== 'code')) {
      throw new OAuthError('invalid_client_metadata', 'response_types may only be ["code"]');
    }
    if (m.client_name !== undefined && (typeof m.client_name !== 'string' || m.client_name.length > 200)) {
      throw new OAuthError('invalid_client_metadata', 'client_name must be a string of at most 200 characters');
    }
    const name = str(m.client_name, 200) ?? 'Unnamed client';
    const secret = method === 'none' ? null : randomToken();
    const clientId = `tgc_${randomToken()}`;
    const metadata = {
      client_name: name,
      redirect_uris: redirectUris,
      grant_types: grantTypes as string[],
      response_types: ['code'],
      token_endpoint_auth_method: method,
      ...(httpsUri(m.client_uri) ? { client_uri: httpsUri(m.client_uri)! } : {}),
      ...(httpsUri(m.logo_uri) ? { logo_uri: httpsUri(m.logo_uri)! } : {}),
      ...(typeof m.scope === 'string' ? { scope: m.scope.slice(0, 1000) } : {}),
      ...(typeof m.software_id === 'string' ? { software_id: m.software_id.slice(0, 200) } : {}),
      ...(typeof m.software_version === 'string' ? { software_version: m.software_version.slice(0, 100) } : {}),
    };
    const row = await this.repo.createClient(clientId, {
      kind: 'dynamic',
      name,
      uri: metadata.client_uri ?? null,
      logoUri: metadata.logo_uri ?? null,
      redirectUris,
      tokenEndpointAuthMethod: method,
      secretHash: secret ? sha256Hex(secret) : null,
      metadata: metadata as Prisma.InputJsonValue,
    });
    return {
      client_id: clientId,
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      client_id_issued_at: Math.floor(row.createdAt.getTime() / 1000),
      ...metadata,
    };
  }

  /**
   * The client a client_id names: a registered one, or a metadata document (cached copy while
   * fresh, fetched otherwise). Throws UnknownClientError saying why not.
   */
  async resolve(clientId: string): Promise<OAuthClient> {
    if (!clientId || clientId.length > 2000) throw new UnknownClientError('client_id is missing or too long');
    if (!/^https?:\/\//i.test(clientId)) {
      const registered = await this.repo.findClient(clientId);
      if (registered?.kind !== 'dynamic') throw new UnknownClientError('This client is not registered');
      return registered;
    }
    // Checked before the cache too, so a host the operator stops allowing is refused at once.
    const problem = clientIdUrlProblem(clientId, this.env.OAUTH_CLIENT_METADATA_ALLOW_HOSTS);
    if (problem) throw new UnknownClientError(`The client_id URL ${problem}`);
    const cached = await this.repo.findClient(clientId);
    if (cached && cached.kind === 'metadata_document' && cached.expiresAt && cached.expiresAt.getTime() > Date.now()) return cached;
    return this.fetchDocument(clientId);
  }

  private async fetchDocument(clientId: string): Promise<OAuthClient> {
    let fetched: Awaited<ReturnType<typeof fetchClientMetadata>>;
    try {
      fetched = await fetchClientMetadata(clientId, this.env.OAUTH_CLIENT_METADATA_ALLOW_HOSTS);
    } catch (e) {
      if (e instanceof MetadataFetchError) throw new UnknownClientError(e.message);
      throw e;
    }
    const doc = fetched.body;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new UnknownClientError('The client metadata document is not a JSON object');
    const m = doc as Record<string, unknown>;
    if (m.client_id !== clientId) throw new UnknownClientError('The client metadata document names another client_id than its own URL');
    let redirectUris: string[];
    try {
      redirectUris = this.redirectUris(m.redirect_uris);
    } catch (e) {
      throw new UnknownClientError(`The client metadata document is invalid: ${(e as Error).message}`);
    }
    const method = m.token_endpoint_auth_method ?? 'none';
    // A document is public: there is no secret to share with a client we never registered.
    if (method !== 'none') throw new UnknownClientError('The client metadata document must use token_endpoint_auth_method "none"');
    const now = new Date();
    this.logger.debug(`fetched client metadata document ${clientId}`);
    return this.repo.upsertClient(clientId, {
      kind: 'metadata_document',
      name: str(m.client_name, 200) ?? new URL(clientId).host,
      uri: httpsUri(m.client_uri),
      logoUri: httpsUri(m.logo_uri),
      redirectUris,
      tokenEndpointAuthMethod: 'none',
      secretHash: null,
      metadata: JSON.parse(JSON.stringify(m)) as Prisma.InputJsonValue,
      fetchedAt: now,
      expiresAt: new Date(now.getTime() + fetched.ttlSeconds * 1000),
    });
  }

  private redirectUris(value: unknown): string[] {
    if (!Array.isArray(value) || value.length === 0)
      throw new OAuthError('invalid_redirect_uri', 'redirect_uris must be a non-empty array');
    if (value.length > MAX_REDIRECT_URIS) throw new OAuthError('invalid_redirect_uri', `at most ${MAX_REDIRECT_URIS} redirect_uris`);
    for (const uri of value) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new OAuthError('invalid_redirect_uri', `redirect_uri ${JSON.stringify(uri).slice(0, 200)} ${problem}`);
    }
    return [...new Set(value as string[])];
  }
}
