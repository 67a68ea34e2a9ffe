import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * OAuth 2.1 access tokens for agents, issued by the control plane (the authorization server) and
 * checked by the gateway (the resource server). A compact JWS, HS256, keyed by HKDF from
 * TOOLGATE_SECRET_KEY, which both already hold: no key distribution, no network call on the hot
 * path. Which grants are live comes from the org snapshot (`grants`), so revoking a grant
 * refuses its tokens as fast as a revoked key (the snapshot republish), whatever their `exp`.
 */
export const ACCESS_TOKEN_TTL_SECONDS = 3600;

/** Refresh tokens: `tgr_` + random; only their sha256 is stored. */
export const REFRESH_TOKEN_PREFIX = 'tgr_';

export const AccessTokenClaims = z.object({
  iss: z.string(),
  /** The endpoint this token is for (RFC 8707), canonical: `${gatewayPublicUrl}/mcp/{org}[/{server}]`. */
  aud: z.string(),
  /** The person who consented. */
  sub: z.string(),
  client_id: z.string(),
  /** Org id. */
  org: z.string(),
  /** Grant id: the consent this token descends from (one refresh family). */
  gid: z.string(),
  scope: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

const HEADER = base64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' })));

/** The signing key of access tokens, derived from the platform's secret key. */
export function accessTokenKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'toolgate oauth access token v1', 32));
}

export function signAccessToken(key: Buffer, claims: AccessTokenClaims): string {
  const body = `${HEADER}.${base64url(Buffer.from(JSON.stringify(claims)))}`;
  return `${body}.${base64url(createHmac('sha256', key).update(body).digest())}`;
}

/**
 * The claims of a token signed with `key` whose `exp` is after `nowSeconds`, else null. Only the
 * exact header this module writes is accepted (no `alg` negotiation, so no `none` or RS/HS
 * confusion).
 */
export function verifyAccessToken(key: Buffer, token: string, nowSeconds: number): AccessTokenClaims | null {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  if (dot1 < 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0) return null;
  if (token.slice(0, dot1) !== HEADER) return null;
  const expected = createHmac('sha256', key).update(token.slice(0, dot2)).digest();
  const given = Buffer.from(token.slice(dot2 + 1), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const claims = AccessTokenClaims.safeParse(parsed);
  if (!claims.success || claims.data.exp <= nowSeconds) return null;
  return claims.data;
}

/** Does this bearer look like an access token (as opposed to a `tg_` agent key)? */
export function looksLikeAccessToken(token: string): boolean {
  return token.startsWith(`${HEADER}.`);
}

/**
 * The canonical form of an MCP endpoint URL for audience checks (RFC 8707 / MCP authorization):
 * lower-case scheme and host, no default port, no trailing slash, no query or fragment. Null for
 * anything that is not an absolute http(s) URL.
 */
export function canonicalResource(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (u.username || u.password || u.hash) return null;
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host}${path}`;
}

function base64url(b: Buffer): string {
  return b.toString('base64url');
}

/** The dashboard page a browser is sent to by `/authorize` to consent: `${webUrl}${CONSENT_PATH}?request=<id>`. */
export const CONSENT_PATH = '/oauth/consent';

/** `GET /v1/oauth/requests/:id`: what the consent page shows. */
export const ConsentRequestView = z.object({
  id: z.string(),
  client: z.object({
    id: z.string(),
    name: z.string(),
    /** Client's home page, if it gave one. */
    uri: z.string().nullable(),
    logoUri: z.string().nullable(),
    /** `metadata-document`: the client id is an https URL whose document we fetched; `dynamic`: RFC 7591 registration. */
    registration: z.enum(['metadata-document', 'dynamic']),
  }),
  redirectUri: z.string(),
  /** The endpoint asked for (RFC 8707), or null when the client named none (the person picks the org). */
  resource: z.string().nullable(),
  scope: z.string().nullable(),
  /** Orgs of the signed-in person this request can be granted in (the resource's org only, when named). */
  orgs: z.array(
    z.object({
      id: z.string(),
      slug: z.string(),
      name: z.string(),
      /** The person's membership role. */
      memberRole: z.string(),
      /** Only owners and admins may grant agent roles; the page says why when false. */
      canGrant: z.boolean(),
      roles: z.array(z.object({ id: z.string(), name: z.string(), description: z.string().nullable() })),
    }),
  ),
  expiresAt: z.string().datetime(),
});
export type ConsentRequestView = z.infer<typeof ConsentRequestView>;

/** `POST /v1/oauth/requests/:id/approve`. */
export const ConsentApproval = z.object({
  orgId: z.string(),
  roleIds: z.array(z.string()).min(1),
});
export type ConsentApproval = z.infer<typeof ConsentApproval>;

/** Answer to approve and deny: where the browser goes next (the client's redirect URI with code or error). */
export const ConsentOutcome = z.object({ redirectTo: z.string() });
export type ConsentOutcome = z.infer<typeof ConsentOutcome>;

/** `GET /v1/orgs/:org/oauth/grants`: one connected app. */
export const OAuthGrantView = z.object({
  id: z.string(),
  client: z.object({ id: z.string(), name: z.string(), uri: z.string().nullable() }),
  resource: z.string(),
  roles: z.array(z.object({ id: z.string(), name: z.string() })),
  consentedBy: z.object({ id: z.string(), email: z.string() }),
  createdAt: z.string().datetime(),
  lastUsedAt: z.string().datetime().nullable(),
  revokedAt: z.string().datetime().nullable(),
});
export type OAuthGrantView = z.infer<typeof OAuthGrantView>;
