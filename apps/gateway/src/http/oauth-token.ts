import {
  type AccessTokenClaims,
  accessTokenKey,
  canonicalResource,
  type PolicySnapshot,
  type SnapshotGrant,
  verifyAccessToken,
} from '@toolgate/contracts';

/** Why a token was refused; `invalid` also covers a token of another org (answered as a wrong key, so orgs do not leak). */
export type TokenFailure = 'invalid' | 'expired' | 'audience' | 'revoked';

export type TokenCheck =
  | { ok: true; claims: AccessTokenClaims; grant: SnapshotGrant }
  | {
      ok: false;
      reason: TokenFailure;
      /** The token's client, once it is known to be ours and for this org (for the audit record); else null. */
      clientId: string | null;
    };

/**
 * OAuth access tokens at the gateway (resource server): signature (key derived once from the
 * platform secret), expiry, org, audience = this exact endpoint (RFC 8707), and a grant that is
 * still live in the org snapshot, so a revoked grant's tokens die with the next republish
 * whatever their `exp`. No network call: everything needed is in the token and the snapshot.
 */
export class AccessTokenVerifier {
  private readonly key: Buffer;

  constructor(
    secretKey: Buffer,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.key = accessTokenKey(secretKey);
  }

  /**
   * `endpoint` is the canonical URL of the endpoint the token was presented at; `snapshot` that
   * of the URL's org (null: no such org, answered exactly as a token of another org).
   */
  check(token: string, snapshot: PolicySnapshot | null, endpoint: string): TokenCheck {
    // Signature first with no clock (0), so an expired but genuine token can be told apart.
    const claims = verifyAccessToken(this.key, token, 0);
    if (!claims) return { ok: false, reason: 'invalid', clientId: null };
    if (claims.exp <= this.nowSeconds()) return { ok: false, reason: 'expired', clientId: null };
    if (!snapshot || claims.org !== snapshot.orgId) return { ok: false, reason: 'invalid', clientId: null };
    const clientId = claims.client_id;
    if (canonicalResource(claims.aud) !== endpoint) return { ok: false, reason: 'audience', clientId };
    const grant = snapshot.grants.find((g) => g.id === claims.gid);
    if (!grant) return { ok: false, reason: 'revoked', clientId };
    // The grant decides what the token is for; a token naming another client, person or endpoint than its grant is not one we issued.
    if (grant.resource !== endpoint || grant.clientId !== claims.client_id || grant.userId !== claims.sub) {
      return { ok: false, reason: 'invalid', clientId };
    }
    return { ok: true, claims, grant };
  }
}

/**
 * The canonical URL of the endpoint `/mcp/{org}[/{server}]` under the gateway's public URL: the
 * `resource` its protected-resource metadata names, which clients ask the authorization server
 * for (RFC 8707) and which its tokens must carry as `aud`.
 */
export function endpointResource(publicUrl: string, org: string, server: string | null, kind: 'mcp' | 'sse' = 'mcp'): string {
  const url = `${publicUrl.replace(/\/+$/, '')}/${kind}/${org}${server ? `/${server}` : ''}`;
  return canonicalResource(url) ?? url;
}
