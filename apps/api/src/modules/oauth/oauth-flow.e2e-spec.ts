import { accessTokenKey, PolicySnapshot, redisKeys, verifyAccessToken } from '@toolgate/contracts';
import { type Api, startApi, uniq } from '../../../test/harness';
import { activity, type Team, team } from '../members/members.fixtures';
import { approve, codeOf, endpoint, pkce, REDIRECT, registerClient, startAuthorization, tokenRequest } from './oauth.test-fixtures';

describe('OAuth 2.1 authorization server: the whole flow', () => {
  let api: Api;
  let t: Team;
  let role: { id: string; name: string };

  beforeAll(async () => {
    api = await startApi();
    t = await team(api, 'oauth-flow');
    role = await api.prisma.db.role.create({
      data: { orgId: t.org.id, name: uniq('reader'), rules: { tools: [{ effect: 'allow', match: 'github__*' }] } },
      select: { id: true, name: true },
    });
  });
  afterAll(() => api.close());

  async function redisSnapshot(orgId: string) {
    const raw = await api.redis.client.get(redisKeys.snapshot(orgId));
    return PolicySnapshot.parse(JSON.parse(raw!));
  }

  it('publishes RFC 8414 metadata at both discovery locations', async () => {
    const a = await api.req().get('/.well-known/oauth-authorization-server').expect(200);
    const b = await api.req().get('/.well-known/openid-configuration').expect(200);
    expect(b.body).toEqual(a.body);
    const issuer = api.env.PUBLIC_API_URL.replace(/\/+$/, '');
    expect(a.body).toMatchObject({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      registration_endpoint: `${issuer}/register`,
      revocation_endpoint: `${issuer}/revoke`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: expect.arrayContaining(['none']),
      scopes_supported: ['mcp'],
      client_id_metadata_document_supported: true,
    });
  });

  it('documents the OAuth routes in the OpenAPI spec', async () => {
    const doc = await api.req().get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/.well-known/oauth-authorization-server',
        '/register',
        '/authorize',
        '/token',
        '/revoke',
        '/v1/oauth/requests/{id}',
        '/v1/oauth/requests/{id}/approve',
        '/v1/oauth/requests/{id}/deny',
        '/v1/orgs/{org}/oauth/grants',
        '/v1/orgs/{org}/oauth/grants/{id}',
      ]),
    );
  });

  it('lets browser clients call discovery, registration and the token endpoint from any origin (no credentials)', async () => {
    const pre = await api
      .req()
      .options('/token')
      .set('Origin', 'https://agent.example')
      .set('Access-Control-Request-Method', 'POST')
      .expect(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    const meta = await api.req().get('/.well-known/oauth-authorization-server').set('Origin', 'https://agent.example').expect(200);
    expect(meta.headers['access-control-allow-origin']).toBe('*');
    // The consent API stays dashboard-only.
    const consent = await api
      .req()
      .options('/v1/oauth/requests/x')
      .set('Origin', 'https://agent.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(consent.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('register → authorize → consent → token → refresh → revoke, with the grant live in the snapshot until revoked', async () => {
    const client = await registerClient(api);
    expect(client.client_id).toMatch(/^tgc_/);
    expect(client.client_secret).toBeUndefined();
    const { verifier, challenge } = pkce();
    const resource = endpoint(api, t.org.slug);
    const requestId = await startAuthorization(api, client.client_id, {
      resource,
      challenge,
      state: 'xyz-state',
      scope: `mcp role:${role.name}`,
    });

    const view = await api.req().get(`/v1/oauth/requests/${requestId}`).set(t.admin.auth).expect(200);
    expect(view.body).toMatchObject({
      id: requestId,
      client: { id: client.client_id, name: 'Test agent', registration: 'dynamic' },
      redirectUri: REDIRECT,
      resource,
      scope: `mcp role:${role.name}`,
      orgs: [
        {
          id: t.org.id,
          slug: t.org.slug,
          memberRole: 'admin',
          canGrant: true,
          roles: expect.arrayContaining([expect.objectContaining({ id: role.id })]),
        },
      ],
    });

    const approved = await approve(api, t.admin, requestId, t.org.id, [role.id]);
    expect(approved.status).toBe(200);
    const { code, state, iss, url } = codeOf(approved.body.redirectTo);
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect(state).toBe('xyz-state');
    expect(iss).toBe(api.env.PUBLIC_API_URL.replace(/\/+$/, ''));
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const grant = await api.prisma.db.oAuthGrant.findFirstOrThrow({ where: { orgId: t.org.id, client: { clientId: client.client_id } } });
    expect(grant).toMatchObject({ userId: t.admin.id, resource, revokedAt: null });
    expect((await activity(api, t.org.id, 'oauth_grant.created')).some((a) => a.targetId === grant.id)).toBe(true);
    // Only the hash of the code is stored.
    expect(await api.prisma.db.oAuthCode.count({ where: { hash: code } })).toBe(0);
    const snap = await redisSnapshot(t.org.id);
    expect(snap.grants).toEqual([
      expect.objectContaining({
        id: grant.id,
        clientId: client.client_id,
        clientName: 'Test agent',
        userId: t.admin.id,
        userEmail: t.admin.email,
        roleIds: [role.id],
        resource,
      }),
    ]);

    const tok = await tokenRequest(api, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: client.client_id,
      resource,
    });
    expect(tok.status).toBe(200);
    expect(tok.headers['cache-control']).toBe('no-store');
    expect(tok.body).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number), scope: `mcp role:${role.name}` });
    expect(tok.body.refresh_token).toMatch(/^tgr_/);
    const claims = verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), tok.body.access_token, Math.floor(Date.now() / 1000));
    expect(claims).toMatchObject({
      aud: resource,
      sub: t.admin.id,
      client_id: client.client_id,
      org: t.org.id,
      gid: grant.id,
      scope: `mcp role:${role.name}`,
    });
    expect(claims!.exp - claims!.iat).toBe(tok.body.expires_in);

    // JSON bodies are accepted too.
    const refreshed = await api
      .req()
      .post('/token')
      .send({ grant_type: 'refresh_token', refresh_token: tok.body.refresh_token, client_id: client.client_id })
      .expect(200);
    expect(refreshed.body.refresh_token).not.toBe(tok.body.refresh_token);
    expect(
      verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), refreshed.body.access_token, Math.floor(Date.now() / 1000))?.gid,
    ).toBe(grant.id);

    await api.req().post('/revoke').type('form').send({ token: refreshed.body.refresh_token, client_id: client.client_id }).expect(200);
    const revoked = await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: grant.id } });
    expect(revoked.revokedAt).not.toBeNull();
    expect(revoked.revokedReason).toBe('revoked_by_client');
    expect((await redisSnapshot(t.org.id)).grants.map((g) => g.id)).not.toContain(grant.id);
    const again = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token,
      client_id: client.client_id,
    });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });
});
