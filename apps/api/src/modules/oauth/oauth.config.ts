import { canonicalResource, Slug } from '@toolgate/contracts';
import type { Env } from '../../config/env';

/** Scopes a client may ask for: `mcp`, and `role:<name>` to pre-select roles on the consent page. */
export const BASE_SCOPE = 'mcp';
export const ROLE_SCOPE_PREFIX = 'role:';

/** The issuer (RFC 8414 §2): PUBLIC_API_URL without a trailing slash; the endpoints hang off it. */
export function issuerOf(env: Env): string {
  return env.PUBLIC_API_URL.replace(/\/+$/, '');
}

export function oauthEndpoints(env: Env) {
  const issuer = issuerOf(env);
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
  };
}

/** The authorization server's endpoints that browsers call cross-origin (CORS for any origin, no credentials). */
export const OAUTH_CORS_PATHS = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/register',
  '/token',
  '/revoke',
];

export interface ParsedResource {
  /** Canonical URL (see canonicalResource): what the grant and the token's `aud` carry. */
  resource: string;
  orgSlug: string;
  serverSlug: string | null;
}

/**
 * A gateway endpoint named by an RFC 8707 `resource`: `${PUBLIC_GATEWAY_URL}/mcp/{org}` or
 * `/mcp/{org}/{server}`, nothing else (another host, another path, a query: null).
 */
export function parseResource(env: Env, raw: string): ParsedResource | null {
  if (raw.includes('?') || raw.includes('#')) return null;
  const canonical = canonicalResource(raw);
  const base = canonicalResource(env.PUBLIC_GATEWAY_URL);
  if (!canonical || !base) return null;
  // The legacy SSE endpoint `/sse/{org}[/{server}]` names itself as resource (clients want a
  // prefix of the URL they connect to); the grant is for its /mcp twin, which the gateway's SSE
  // transport accepts.
  const kind = ['/mcp/', '/sse/'].find((k) => canonical.startsWith(`${base}${k}`));
  if (!kind) return null;
  const parts = canonical.slice(base.length + kind.length).split('/');
  if (parts.length > 2 || !parts.every((p) => Slug.safeParse(p).success)) return null;
  return { resource: `${base}/mcp/${parts.join('/')}`, orgSlug: parts[0]!, serverSlug: parts[1] ?? null };
}

/** The org-wide endpoint, the resource of a grant whose client named none. */
export function orgResource(env: Env, orgSlug: string): string {
  return `${canonicalResource(env.PUBLIC_GATEWAY_URL)}/mcp/${orgSlug}`;
}

/** Role names asked for with `role:<name>` scopes. */
export function requestedRoleNames(scope: string | null): string[] {
  return (scope ?? '')
    .split(' ')
    .filter((s) => s.startsWith(ROLE_SCOPE_PREFIX))
    .map((s) => s.slice(ROLE_SCOPE_PREFIX.length))
    .filter(Boolean);
}

/** A token's scope: `mcp` plus `role:<name>` per granted role (informational; the snapshot decides). */
export function grantScope(roleNames: string[]): string {
  return [BASE_SCOPE, ...roleNames.map((n) => `${ROLE_SCOPE_PREFIX}${n}`)].join(' ');
}

/** Appends query parameters to a redirect URI, keeping its own (RFC 6749 §3.1.2). */
export function withParams(uri: string, params: Record<string, string | null | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) u.searchParams.append(k, v);
  return u.toString();
}
