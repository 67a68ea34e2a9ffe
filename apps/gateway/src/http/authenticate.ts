import type { IncomingMessage, ServerResponse } from 'node:http';
import { AGENT_KEY_PREFIX, looksLikeAccessToken, type PolicySnapshot, sha256Hex } from '@toolgate/contracts';
import { type CidrBlock, checkKey, findKeyByHash } from '@toolgate/policy';
import { RpcCode } from '../core/jsonrpc';
import { type Caller, grantAsKey } from '../core/caller';
import type { SnapshotSource } from '../core/ports';
import { SnapshotUnavailable } from '../snapshots/store';
import type { AuthFailureLog, AuthFailureReason } from './auth-failures';
import { ClientIpResolver } from './client-ip';
import { AccessTokenVerifier, endpointResource } from './oauth-token';
import { bearer, sendRpcError } from './util';

export interface AuthenticatorOptions {
  publicUrl: string;
  /** Proxies whose X-Forwarded-For / Forwarded name the client (see client-ip.ts). */
  trustedProxies: readonly CidrBlock[];
  /** The platform secret (TOOLGATE_SECRET_KEY): OAuth access tokens are verified with a key derived from it. */
  secretKey: Buffer;
}

/** Seconds an agent is told to wait when Redis is away and its org cannot be checked. */
const RETRY_AFTER_SECONDS = 2;

/** The one scope the authorization server issues for agent access (roles, chosen at consent, decide the rest). */
export const MCP_SCOPE = 'mcp';

/**
 * What a refused credential is told: the JSON-RPC message and the challenge's error_description
 * (RFC 6750; ASCII, no quotes). A token of another org, a forged one and a wrong key of an
 * unknown org all get the `invalid` answer of their kind, so orgs cannot be probed.
 */
type Refusal = Exclude<AuthFailureReason, 'missing'>;
const KEY_INVALID = 'The agent key is invalid or revoked';
const REFUSALS: Record<'key' | 'token', Record<Refusal, string>> = {
  key: { invalid: KEY_INVALID, expired: 'The agent key has expired', audience: KEY_INVALID, revoked: KEY_INVALID },
  token: {
    invalid: 'The access token is invalid',
    expired: 'The access token has expired',
    audience: 'The access token is for another resource; request one for this endpoint',
    revoked: 'The access token has been revoked',
  },
};

/**
 * The bearer credential of an agent request, checked against the org snapshot: a `tg_` agent
 * key (org, key, expiry) or an OAuth access token (oauth-token.ts: signature, expiry, org,
 * audience, live grant), then the endpoint scope. Failures are answered 401 with
 * WWW-Authenticate (an unknown org too, so org slugs cannot be enumerated; 404 for an unknown
 * server of a valid credential's org) and handed to the AuthFailureLog (auth-failures.ts).
 */
export class Authenticator {
  private readonly clientIp: ClientIpResolver;
  private readonly tokens: AccessTokenVerifier;
  private readonly publicUrl: string;

  constructor(
    private readonly snapshots: SnapshotSource,
    private readonly failures: AuthFailureLog,
    opts: AuthenticatorOptions,
  ) {
    this.clientIp = new ClientIpResolver(opts.trustedProxies);
    this.tokens = new AccessTokenVerifier(opts.secretKey);
    this.publicUrl = opts.publicUrl.replace(/\/+$/, '');
  }

  resourceMetadataUrl(org: string, server: string | null, kind: 'mcp' | 'sse' = 'mcp'): string {
    return `${this.publicUrl}/.well-known/oauth-protected-resource/${kind}/${org}${server ? `/${server}` : ''}`;
  }

  /**
   * Resolve org, credential and scope; on failure the response has been sent and null is
   * returned. `transport` names the one the 401 sends clients to discover for (the legacy SSE
   * endpoint has its own metadata document); tokens are the /mcp endpoint's either way.
   */
  async authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    org: string,
    server: string | null,
    transport: 'mcp' | 'sse' = 'mcp',
  ): Promise<Caller | null> {
    const token = bearer(req);
    const ip = this.clientIp.resolve(req.socket.remoteAddress, req.headers);
    const metadata = `resource_metadata="${this.resourceMetadataUrl(org, server, transport)}", scope="${MCP_SCOPE}"`;
    if (!token) {
      this.failures.record(null, 'missing', null, ip, server);
      // No error code: the client has not tried yet, so it starts the authorization flow (RFC 6750 §3.1).
      sendRpcError(
        res,
        401,
        null,
        { code: RpcCode.Unauthorized, message: 'Authorization: Bearer <agent key or access token> is required' },
        { 'WWW-Authenticate': `Bearer ${metadata}` },
      );
      return null;
    }
    let snapshot: PolicySnapshot | null;
    try {
      snapshot = await this.snapshots.bySlug(org);
    } catch (e) {
      if (!(e instanceof SnapshotUnavailable)) throw e;
      // Any slug this worker has not loaded, real or not, gets this while Redis is away.
      sendRpcError(
        res,
        503,
        null,
        { code: RpcCode.InternalError, message: 'This organization cannot be checked right now; retry shortly' },
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
      return null;
    }
    // Anything not shaped like an agent key is told about as a token (a JWT from elsewhere, say).
    const kind = token.startsWith(AGENT_KEY_PREFIX) ? 'key' : 'token';
    const refuse = (reason: Refusal, clientId: string | null = null): null => {
      this.failures.record(snapshot, reason, token, ip, server, clientId);
      const message = REFUSALS[kind][reason];
      sendRpcError(
        res,
        401,
        null,
        { code: RpcCode.Unauthorized, message },
        {
          // "Invalid token" tells clients the credential is bad, so they report it instead of starting an authorization flow.
          'WWW-Authenticate': `Bearer ${metadata}, error="invalid_token", error_description="${message}"`,
        },
      );
      return null;
    };

    let caller: Caller;
    if (looksLikeAccessToken(token)) {
      const checked = this.tokens.check(token, snapshot, endpointResource(this.publicUrl, org, server));
      if (!checked.ok) return refuse(checked.reason, checked.clientId);
      if (!snapshot) return refuse('invalid');
      const { grant, claims } = checked;
      const key = grantAsKey(grant, new Date(claims.exp * 1000).toISOString());
      caller = {
        snapshot,
        key,
        principal: { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip },
        ip,
        scope: server,
        oauth: { clientId: grant.clientId, clientName: grant.clientName, userId: grant.userId, userEmail: grant.userEmail },
      };
    } else {
      // An unknown org answers exactly as a known org with a wrong key (same status, body and
      // challenge, the key hashed either way): slugs cannot be enumerated.
      const hash = token.startsWith('tg_') ? sha256Hex(token) : null;
      const key = snapshot && hash ? findKeyByHash(snapshot, hash) : null;
      if (!snapshot || !key) return refuse('invalid');
      if (checkKey(key) === 'expired') return refuse('expired');
      caller = { snapshot, key, principal: { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip }, ip, scope: server };
    }
    if (server && !caller.snapshot.servers.some((s) => s.slug === server)) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: `Unknown server: ${server}` });
      return null;
    }
    return caller;
  }
}
