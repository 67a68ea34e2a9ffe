import { createServer } from 'node:net';
import {
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { accessTokenKey, verifyAccessToken } from '@toolgate/contracts';
import { type Api, startApi, uniq } from '../../../test/harness';
import { type Team, team } from '../members/members.fixtures';
import { approve, codeOf, endpoint, REDIRECT } from './oauth.test-fixtures';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * The MCP TypeScript SDK's own OAuth client functions (what its auth provider and mcp-remote
 * run) against the API on a real port: they parse every answer with the SDK's schemas.
 */
describe('OAuth with the MCP SDK client', () => {
  let api: Api;
  let t: Team;
  let issuer: string;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    api = await startApi({ PUBLIC_API_URL: issuer });
    await api.app.listen(port, '127.0.0.1');
    t = await team(api, 'oauth-sdk');
  });
  afterAll(() => api.close());

  it('discovers, registers, authorizes (consent through the API), exchanges and refreshes', async () => {
    const role = await api.prisma.db.role.create({
      data: { orgId: t.org.id, name: uniq('sdk'), rules: { tools: [] } },
      select: { id: true },
    });
    const metadata = await discoverAuthorizationServerMetadata(issuer);
    expect(metadata?.issuer).toBe(issuer);
    const clientInformation = await registerClient(issuer, {
      metadata,
      clientMetadata: {
        client_name: 'SDK client',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    });
    const resource = new URL(endpoint(api, t.org.slug));
    const { authorizationUrl, codeVerifier } = await startAuthorization(issuer, {
      metadata,
      clientInformation,
      redirectUrl: REDIRECT,
      resource,
      state: 'sdk-state',
      scope: 'mcp',
    });

    const res = await fetch(authorizationUrl, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const requestId = new URL(res.headers.get('location')!).searchParams.get('request')!;
    const approved = await approve(api, t.owner, requestId, t.org.id, [role.id]);
    const { code, state } = codeOf(approved.body.redirectTo);
    expect(state).toBe('sdk-state');

    const tokens = await exchangeAuthorization(issuer, {
      metadata,
      clientInformation,
      authorizationCode: code,
      codeVerifier,
      redirectUri: REDIRECT,
      resource,
    });
    const key = accessTokenKey(api.env.TOOLGATE_SECRET_KEY);
    expect(verifyAccessToken(key, tokens.access_token, Math.floor(Date.now() / 1000))?.aud).toBe(resource.href.replace(/\/$/, ''));
    const refreshed = await refreshAuthorization(issuer, { metadata, clientInformation, refreshToken: tokens.refresh_token!, resource });
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(verifyAccessToken(key, refreshed.access_token, Math.floor(Date.now() / 1000))?.org).toBe(t.org.id);
  });
});
