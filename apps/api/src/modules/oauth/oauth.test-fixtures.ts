import { createHash, randomBytes } from 'node:crypto';
import { CONSENT_PATH } from '@toolgate/contracts';
import type { Api, TestUser } from '../../../test/harness';

/** A PKCE pair (RFC 7636 S256). */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const REDIRECT = 'http://127.0.0.1:33418/callback';

/** Registers a public client (RFC 7591) and returns the answer body. */
export async function registerClient(api: Api, body: Record<string, unknown> = {}) {
  const res = await api
    .req()
    .post('/register')
    .send({ client_name: 'Test agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...body });
  if (res.status !== 201) throw new Error(`registering failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { client_id: string; client_secret?: string; redirect_uris: string[] };
}

export const endpoint = (api: Api, org: string, server?: string) => `${api.env.PUBLIC_GATEWAY_URL}/mcp/${org}${server ? `/${server}` : ''}`;

/** GET /authorize; returns the raw response (the caller checks the redirect). */
export function authorizeRaw(api: Api, params: Record<string, string | undefined>) {
  const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  return api.req().get(`/authorize?${qs}`);
}

/** /authorize with good defaults; returns the pending request id from the consent redirect. */
export async function startAuthorization(
  api: Api,
  clientId: string,
  opts: { resource?: string | null; state?: string; challenge: string; redirectUri?: string; scope?: string },
): Promise<string> {
  const res = await authorizeRaw(api, {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: opts.redirectUri ?? REDIRECT,
    code_challenge: opts.challenge,
    code_challenge_method: 'S256',
    state: opts.state ?? 'st-1',
    resource: opts.resource ?? undefined,
    scope: opts.scope,
  });
  if (res.status !== 302) throw new Error(`authorize did not redirect: ${res.status} ${res.text}`);
  const location = new URL(res.headers.location!);
  expect(`${location.origin}${location.pathname}`).toBe(`${api.env.PUBLIC_WEB_URL.replace(/\/+$/, '')}${CONSENT_PATH}`);
  return location.searchParams.get('request')!;
}

export async function approve(api: Api, user: TestUser, requestId: string, orgId: string, roleIds: string[]) {
  return api.req().post(`/v1/oauth/requests/${requestId}/approve`).set(user.auth).send({ orgId, roleIds });
}

/** The code (and state, iss) in an approve answer's redirectTo. */
export function codeOf(redirectTo: string) {
  const u = new URL(redirectTo);
  return { code: u.searchParams.get('code')!, state: u.searchParams.get('state'), iss: u.searchParams.get('iss'), url: u };
}

export function tokenRequest(api: Api, form: Record<string, string | undefined>) {
  const body = new URLSearchParams(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  return api.req().post('/token').type('form').send(body);
}
