import { accessTokenKey, PolicySnapshot, redisKeys, sha256Hex, verifyAccessToken } from '@toolgate/contracts';
import { type Api, expectProblem, startApi, uniq } from '../../../test/harness';
import { type Team, team } from '../members/members.fixtures';
import { OAuthPruner } from './oauth.pruner';
import {
  approve,
  authorizeRaw,
  codeOf,
  endpoint,
  pkce,
  REDIRECT,
  registerClient,
  startAuthorization,
  tokenRequest,
} from './oauth.test-fixtures';

describe('OAuth 2.1 authorization server: security', () => {
  let api: Api;
  let t: Team;
  let role: { id: string; name: string };
  let client: { client_id: string };

  beforeAll(async () => {
    api = await startApi();
    t = await team(api, 'oauth-sec');
    role = await api.prisma.db.role.create({
      data: { orgId: t.org.id, name: uniq('ops'), rules: { tools: [{ effect: 'allow', match: '*' }] } },
      select: { id: true, name: true },
    });
    client = await registerClient(api);
  });
  afterAll(() => api.close());

  const base = (challenge: string, extra: Record<string, string | undefined> = {}) => ({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'keep-me',
    ...extra,
  });

  /** A redirect back to the client with an error: never to anything but the registered URI. */
  function expectErrorRedirect(res: { status: number; headers: Record<string, string> }, error: string) {
    expect(res.status).toBe(302);
    const u = new URL(res.headers.location!);
    expect(`${u.origin}${u.pathname}`).toBe(REDIRECT);
    expect(u.searchParams.get('error')).toBe(error);
    expect(u.searchParams.get('state')).toBe('keep-me');
  }

  /** A full consent as the owner; returns the code and its verifier. */
  async function consented(resource: string | null = endpoint(api, t.org.slug)) {
    const { verifier, challenge } = pkce();
    const requestId = await startAuthorization(api, client.client_id, { resource, challenge });
    const res = await approve(api, t.owner, requestId, t.org.id, [role.id]);
    expect(res.status).toBe(200);
    return { ...codeOf(res.body.redirectTo), verifier, requestId };
  }

  const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    tokenRequest(api, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: client.client_id,
      ...extra,
    });

  /** The stored code row (by hash: the code itself is never stored) with its grant. */
  const codeRow = (code: string) =>
    api.prisma.db.oAuthCode.findUniqueOrThrow({ where: { hash: sha256Hex(code) }, include: { grant: true } });

  // ---------------------------------------------------------------- PKCE

  it('PKCE is required: no code_challenge → invalid_request back to the client', async () => {
    expectErrorRedirect(await authorizeRaw(api, base('', { code_challenge: undefined })), 'invalid_request');
  });

  it('PKCE is S256 only: plain and a missing method are refused', async () => {
    const { verifier } = pkce();
    expectErrorRedirect(await authorizeRaw(api, base(verifier, { code_challenge_method: 'plain' })), 'invalid_request');
    expectErrorRedirect(await authorizeRaw(api, base(pkce().challenge, { code_challenge_method: undefined })), 'invalid_request');
  });

  it('a wrong code_verifier is refused (invalid_grant), a missing one too', async () => {
    const { code } = await consented();
    const wrong = await exchange(code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    expect(wrong.headers['cache-control']).toBe('no-store');
    const missing = await tokenRequest(api, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      client_id: client.client_id,
    });
    expect(missing.body.error).toBe('invalid_request');
  });

  // ---------------------------------------------------------------- redirect URIs

  it('redirect URIs match exactly: a prefix, a query or path variant gets an error page, never a redirect', async () => {
    const { challenge } = pkce();
    for (const uri of [
      `${REDIRECT}/evil`,
      `${REDIRECT}?x=1`,
      'http://127.0.0.1:33418/callbac',
      'http://127.0.0.2:33418/callback',
      'http://localhost:33418/callback',
      'https://evil.example/callback',
    ]) {
      const res = await authorizeRaw(api, base(challenge, { redirect_uri: uri }));
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toContain('text/html');
    }
  });

  it('a loopback IP redirect URI may come back on another port (RFC 8252 §7.3), nothing else may change', async () => {
    const res = await authorizeRaw(api, base(pkce().challenge, { redirect_uri: 'http://127.0.0.1:33419/callback' }));
    expect(res.status).toBe(302);
    expect(res.headers.location).toContain('/oauth/consent?request=');
  });

  it('an unknown client is never redirected', async () => {
    const res = await authorizeRaw(api, base(pkce().challenge, { client_id: 'tgc_nope', redirect_uri: 'https://evil.example/cb' }));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    const none = await authorizeRaw(api, base(pkce().challenge, { client_id: undefined }));
    expect(none.status).toBe(400);
    expect(none.headers.location).toBeUndefined();
  });

  it('the token endpoint wants the same redirect_uri', async () => {
    const { code, verifier } = await consented();
    const res = await exchange(code, verifier, { redirect_uri: `${REDIRECT}?x=1` });
    expect(res.body.error).toBe('invalid_grant');
  });

  it('dynamic registration refuses javascript:, data:, file: and non-loopback http redirect URIs', async () => {
    for (const uri of [
      'javascript:alert(1)//',
      'data:text/html,hi',
      'file:///etc/passwd',
      'http://evil.example/cb',
      'https://ok.example/cb#frag',
      'not a uri',
    ]) {
      const res = await api
        .req()
        .post('/register')
        .send({ client_name: 'x', redirect_uris: [uri] });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
    }
    const bad = await api
      .req()
      .post('/register')
      .send({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt' });
    expect(bad.body.error).toBe('invalid_client_metadata');
    // Loopback http, https and a native app's private-use scheme are fine.
    await registerClient(api, {
      redirect_uris: ['http://localhost:9999/cb', 'http://[::1]:9999/cb', 'https://app.example/cb', 'com.example.agent:/oauth'],
    });
  });

  // ---------------------------------------------------------------- state

  it('state round-trips on approve and on deny', async () => {
    const { challenge } = pkce();
    const a = await startAuthorization(api, client.client_id, { challenge, state: 'a b&c=d' });
    const denied = await api.req().post(`/v1/oauth/requests/${a}/deny`).set(t.owner.auth).expect(200);
    const u = new URL(denied.body.redirectTo);
    expect(u.searchParams.get('error')).toBe('access_denied');
    expect(u.searchParams.get('state')).toBe('a b&c=d');
    // A decided request cannot be decided again.
    expectProblem(await approve(api, t.owner, a, t.org.id, [role.id]), 404);

    const b = await startAuthorization(api, client.client_id, { challenge, state: 'other-state' });
    const approved = await approve(api, t.owner, b, t.org.id, [role.id]);
    expect(codeOf(approved.body.redirectTo).state).toBe('other-state');
  });

  // ---------------------------------------------------------------- codes

  it('a code is single use: the second use is refused and revokes the grant', async () => {
    const { code, verifier } = await consented();
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    const second = await exchange(code, verifier);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    const row = await codeRow(code);
    expect(row.grant.revokedAt).not.toBeNull();
    expect(row.grant.revokedReason).toBe('code_reused');
    // The tokens of the first exchange die with the grant.
    const refresh = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: client.client_id,
    });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('expired codes, requests and refresh tokens are pruned after a grace period', async () => {
    const { code, verifier, requestId } = await consented();
    const tok = await exchange(code, verifier);
    const row = await codeRow(code);
    const refresh = await api.prisma.db.oAuthRefreshToken.findUniqueOrThrow({ where: { hash: sha256Hex(tok.body.refresh_token) } });
    const later = new Date(refresh.expiresAt.getTime() + 1000);
    await api.app.get(OAuthPruner).prune(later);
    expect(await api.prisma.db.oAuthCode.count({ where: { id: row.id } })).toBe(0);
    expect(await api.prisma.db.oAuthAuthorizationRequest.count({ where: { id: requestId } })).toBe(0);
    expect(await api.prisma.db.oAuthRefreshToken.count({ where: { id: refresh.id } })).toBe(0);
    expect(await api.prisma.db.oAuthGrant.count({ where: { id: row.grantId } })).toBe(1);
  });

  it('a code is short-lived: an expired code is refused', async () => {
    expect(api.env.OAUTH_CODE_TTL_SECONDS).toBe(60);
    const { code, verifier } = await consented();
    const row = await codeRow(code);
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBeLessThanOrEqual(61_000);
    await api.prisma.db.oAuthCode.update({ where: { id: row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await exchange(code, verifier);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it("a code is only the client's it was issued to", async () => {
    const other = await registerClient(api);
    const { code, verifier } = await consented();
    const res = await exchange(code, verifier, { client_id: other.client_id });
    expect(res.body.error).toBe('invalid_grant');
  });

  // ---------------------------------------------------------------- resource (RFC 8707)

  it('resource must be a gateway endpoint: a foreign host or another path is invalid_target', async () => {
    const { challenge } = pkce();
    const gw = api.env.PUBLIC_GATEWAY_URL.replace(/\/+$/, '');
    for (const resource of [
      `https://evil.example/mcp/${t.org.slug}`,
      `${gw}/admin`,
      `${gw}/mcp`,
      `${gw}/mcp/${t.org.slug}/srv/extra`,
      `${gw}/mcp/${t.org.slug}?x=1`,
      `${gw}/mcp/Bad_Slug`,
      `${gw}/sse`,
      `${gw}/sse/${t.org.slug}/srv/extra`,
      `${gw}/messages`,
    ]) {
      expectErrorRedirect(await authorizeRaw(api, base(challenge, { resource })), 'invalid_target');
    }
  });

  it('a server endpoint is a valid resource, and the token audience is that endpoint; /token refuses another resource', async () => {
    const resource = endpoint(api, t.org.slug, 'github');
    const { code, verifier } = await consented(resource);
    const wrong = await exchange(code, verifier, { resource: endpoint(api, t.org.slug) });
    expect(wrong.body.error).toBe('invalid_target');
    const ok = await exchange(code, verifier, { resource: `${resource}/` });
    expect(ok.status).toBe(200);
    expect(verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), ok.body.access_token, Math.floor(Date.now() / 1000))?.aud).toBe(
      resource,
    );
  });

  it('a legacy SSE endpoint as resource binds the grant and token to its /mcp twin, and /token takes either name', async () => {
    const gw = api.env.PUBLIC_GATEWAY_URL.replace(/\/+$/, '');
    const { code, verifier } = await consented(`${gw}/sse/${t.org.slug}`);
    const ok = await exchange(code, verifier, { resource: `${gw}/sse/${t.org.slug}` });
    expect(ok.status).toBe(200);
    expect(verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), ok.body.access_token, Math.floor(Date.now() / 1000))?.aud).toBe(
      endpoint(api, t.org.slug),
    );
    const refreshed = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: ok.body.refresh_token,
      client_id: client.client_id,
      resource: endpoint(api, t.org.slug),
    });
    expect(refreshed.status).toBe(200);
  });

  it('without a resource the grant is for the org endpoint', async () => {
    const { code, verifier } = await consented(null);
    const ok = await exchange(code, verifier);
    expect(verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), ok.body.access_token, Math.floor(Date.now() / 1000))?.aud).toBe(
      endpoint(api, t.org.slug),
    );
  });

  // ---------------------------------------------------------------- refresh rotation

  it('refresh tokens rotate; reusing a rotated one revokes the whole family', async () => {
    const { code, verifier } = await consented();
    const first = await exchange(code, verifier);
    const second = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: client.client_id,
    });
    expect(second.status).toBe(200);
    const replay = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: client.client_id,
    });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    const gid = verifyAccessToken(
      accessTokenKey(api.env.TOOLGATE_SECRET_KEY),
      second.body.access_token,
      Math.floor(Date.now() / 1000),
    )!.gid;
    const grant = await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: gid } });
    expect(grant.revokedReason).toBe('refresh_token_reused');
    // The newest token of the family is dead too.
    const latest = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: second.body.refresh_token,
      client_id: client.client_id,
    });
    expect(latest.body.error).toBe('invalid_grant');
  });

  // ---------------------------------------------------------------- revocation (RFC 7009)

  it('revoking an access token revokes its grant; unknown tokens answer 200', async () => {
    const { code, verifier } = await consented();
    const tok = await exchange(code, verifier);
    await api.req().post('/revoke').type('form').send({ token: 'tgr_unknown', client_id: client.client_id }).expect(200);
    await api.req().post('/revoke').type('form').send({ token: 'garbage', client_id: client.client_id }).expect(200);
    // Another client's id changes nothing.
    const other = await registerClient(api);
    await api.req().post('/revoke').type('form').send({ token: tok.body.access_token, client_id: other.client_id }).expect(200);
    const gid = verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), tok.body.access_token, Math.floor(Date.now() / 1000))!.gid;
    expect((await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: gid } })).revokedAt).toBeNull();
    await api
      .req()
      .post('/revoke')
      .type('form')
      .send({ token: tok.body.access_token, token_type_hint: 'access_token', client_id: client.client_id })
      .expect(200);
    expect((await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: gid } })).revokedAt).not.toBeNull();
  });

  it('confidential clients authenticate at /token (Basic or post); a wrong secret is invalid_client 401', async () => {
    const conf = await registerClient(api, { token_endpoint_auth_method: 'client_secret_basic' });
    expect(conf.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { verifier, challenge } = pkce();
    const requestId = await startAuthorization(api, conf.client_id, { challenge, resource: endpoint(api, t.org.slug) });
    const { code } = codeOf((await approve(api, t.owner, requestId, t.org.id, [role.id])).body.redirectTo);
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT };
    const noSecret = await tokenRequest(api, { ...form, client_id: conf.client_id });
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error).toBe('invalid_client');
    const wrong = await tokenRequest(api, form).set('Authorization', `Basic ${Buffer.from(`${conf.client_id}:nope`).toString('base64')}`);
    expect(wrong.status).toBe(401);
    const ok = await tokenRequest(api, form).set(
      'Authorization',
      `Basic ${Buffer.from(`${conf.client_id}:${conf.client_secret}`).toString('base64')}`,
    );
    expect(ok.status).toBe(200);
    const stored = await api.prisma.db.oAuthClient.findUniqueOrThrow({ where: { clientId: conf.client_id } });
    expect(stored.secretHash).not.toBe(conf.client_secret);
  });

  it('unsupported grant types and bodies are OAuth errors', async () => {
    const res = await tokenRequest(api, { grant_type: 'password', client_id: client.client_id });
    expect(res.body.error).toBe('unsupported_grant_type');
    const none = await tokenRequest(api, { client_id: client.client_id });
    expect(none.body.error).toBe('invalid_request');
  });

  // ---------------------------------------------------------------- consent: who may grant what

  it('a member and a billing member may view the request but not approve it (403)', async () => {
    const { challenge } = pkce();
    const requestId = await startAuthorization(api, client.client_id, { challenge, resource: endpoint(api, t.org.slug) });
    const view = await api.req().get(`/v1/oauth/requests/${requestId}`).set(t.member.auth).expect(200);
    expect(view.body.orgs).toEqual([expect.objectContaining({ id: t.org.id, memberRole: 'member', canGrant: false })]);
    expectProblem(await approve(api, t.member, requestId, t.org.id, [role.id]), 403, 'forbidden');
    expectProblem(await approve(api, t.billing, requestId, t.org.id, [role.id]), 403, 'forbidden');
    // Still pending: an owner can approve it.
    expect((await approve(api, t.owner, requestId, t.org.id, [role.id])).status).toBe(200);
  });

  it("a stranger gets 404 for a request naming an org they are not in, and for that org's id", async () => {
    const { challenge } = pkce();
    const requestId = await startAuthorization(api, client.client_id, { challenge, resource: endpoint(api, t.org.slug) });
    expectProblem(await api.req().get(`/v1/oauth/requests/${requestId}`).set(t.stranger.auth), 404);
    expectProblem(await approve(api, t.stranger, requestId, t.org.id, [role.id]), 404);
    // Their own org is not the one the resource names.
    const strangerRole = await api.prisma.db.role.create({ data: { orgId: t.strangerOrg.id, name: uniq('r'), rules: { tools: [] } } });
    expectProblem(await approve(api, t.stranger, requestId, t.strangerOrg.id, [strangerRole.id]), 400);
  });

  it('role ids of another org are refused (400) and nothing is granted', async () => {
    const foreign = await api.prisma.db.role.create({ data: { orgId: t.strangerOrg.id, name: uniq('foreign'), rules: { tools: [] } } });
    const { challenge } = pkce();
    const requestId = await startAuthorization(api, client.client_id, { challenge, resource: endpoint(api, t.org.slug) });
    expectProblem(await approve(api, t.owner, requestId, t.org.id, [role.id, foreign.id]), 400, 'validation_failed');
    expectProblem(await approve(api, t.owner, requestId, t.org.id, ['not-a-uuid']), 400, 'validation_failed');
    expectProblem(await approve(api, t.owner, requestId, t.org.id, []), 400, 'validation_failed');
    expect(await api.prisma.db.oAuthGrantRole.count({ where: { roleId: foreign.id } })).toBe(0);
    // The request is still pending.
    expect((await approve(api, t.owner, requestId, t.org.id, [role.id])).status).toBe(200);
  });

  it('unknown and unauthenticated consent requests', async () => {
    await api.req().get(`/v1/oauth/requests/${pkce().challenge}`).set(t.owner.auth).expect(404);
    await api.req().get('/v1/oauth/requests/00000000-0000-4000-8000-000000000000').set(t.owner.auth).expect(404);
    await api.req().get('/v1/oauth/requests/00000000-0000-4000-8000-000000000000').expect(401);
  });

  // ---------------------------------------------------------------- grants of an org

  it('grants: members list, owners/admins revoke (204, republished, logged); another org → 404', async () => {
    const { code, verifier } = await consented();
    const tok = await exchange(code, verifier);
    const gid = verifyAccessToken(accessTokenKey(api.env.TOOLGATE_SECRET_KEY), tok.body.access_token, Math.floor(Date.now() / 1000))!.gid;
    const list = await api.req().get(`/v1/orgs/${t.org.slug}/oauth/grants`).set(t.member.auth).expect(200);
    expect(list.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: gid,
          client: expect.objectContaining({ id: client.client_id }),
          roles: [{ id: role.id, name: role.name }],
          consentedBy: { id: t.owner.id, email: t.owner.email },
          revokedAt: null,
        }),
      ]),
    );
    expectProblem(await api.req().get(`/v1/orgs/${t.org.slug}/oauth/grants`).set(t.billing.auth), 403);
    expectProblem(await api.req().delete(`/v1/orgs/${t.org.slug}/oauth/grants/${gid}`).set(t.member.auth), 403);
    // The stranger's own org does not have this grant.
    expectProblem(await api.req().delete(`/v1/orgs/${t.strangerOrg.slug}/oauth/grants/${gid}`).set(t.stranger.auth), 404);
    expectProblem(await api.req().delete(`/v1/orgs/${t.org.slug}/oauth/grants/${gid}`).set(t.stranger.auth), 404);

    await api.req().delete(`/v1/orgs/${t.org.slug}/oauth/grants/${gid}`).set(t.admin.auth).expect(204);
    await api.req().delete(`/v1/orgs/${t.org.slug}/oauth/grants/${gid}`).set(t.admin.auth).expect(204);
    const grant = await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: gid } });
    expect(grant.revokedReason).toBe('revoked_by_member');
    const logged = await api.prisma.db.activityLog.findMany({ where: { orgId: t.org.id, action: 'oauth_grant.revoked', targetId: gid } });
    expect(logged).toHaveLength(1);
    expect(logged[0]!.actorId).toBe(t.admin.id);
    const active = await api.req().get(`/v1/orgs/${t.org.slug}/oauth/grants`).set(t.owner.auth).expect(200);
    expect(active.body.map((g: { id: string }) => g.id)).not.toContain(gid);
    const all = await api.req().get(`/v1/orgs/${t.org.slug}/oauth/grants?status=all`).set(t.owner.auth).expect(200);
    expect(all.body.find((g: { id: string }) => g.id === gid).revokedAt).not.toBeNull();
    const refresh = await tokenRequest(api, {
      grant_type: 'refresh_token',
      refresh_token: tok.body.refresh_token,
      client_id: client.client_id,
    });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('a deleted role drops out of the grant and the snapshot', async () => {
    const temp = await api.prisma.db.role.create({
      data: { orgId: t.org.id, name: uniq('temp'), rules: { tools: [] } },
      select: { id: true },
    });
    const { challenge } = pkce();
    const requestId = await startAuthorization(api, client.client_id, { challenge, resource: endpoint(api, t.org.slug) });
    expect((await approve(api, t.owner, requestId, t.org.id, [role.id, temp.id])).status).toBe(200);
    await api.req().delete(`/v1/orgs/${t.org.slug}/roles/${temp.id}`).set(t.owner.auth).expect(204);
    expect(await api.prisma.db.oAuthGrantRole.count({ where: { roleId: temp.id } })).toBe(0);
    const raw = await api.redis.client.get(redisKeys.snapshot(t.org.id));
    const grants = PolicySnapshot.parse(JSON.parse(raw!)).grants;
    expect(grants.length).toBeGreaterThan(0);
    for (const g of grants) expect(g.roleIds).not.toContain(temp.id);
  });

  it("a person's grants end when they leave the org or may no longer grant; the live snapshot drops them", async () => {
    const u = await team(api, 'oauth-consenter');
    const r = await api.prisma.db.role.create({
      data: { orgId: u.org.id, name: uniq('ops'), rules: { tools: [{ effect: 'allow', match: '*' }] } },
      select: { id: true },
    });
    const consent = async (who: typeof u.admin) => {
      const requestId = await startAuthorization(api, client.client_id, {
        challenge: pkce().challenge,
        resource: endpoint(api, u.org.slug),
      });
      const res = await approve(api, who, requestId, u.org.id, [r.id]);
      expect(res.status).toBe(200);
      return (
        await api.prisma.db.oAuthGrant.findFirstOrThrow({ where: { orgId: u.org.id, userId: who.id }, orderBy: { createdAt: 'desc' } })
      ).id;
    };
    const liveGrants = async () => {
      const raw = await api.redis.client.get(redisKeys.snapshot(u.org.id));
      return PolicySnapshot.parse(JSON.parse(raw!)).grants.map((g) => g.id);
    };
    const byAdmin = await consent(u.admin);
    const byOwner = await consent(u.owner);
    expect(await liveGrants()).toEqual(expect.arrayContaining([byAdmin, byOwner]));

    // Admin → member: may no longer grant, so the grant goes; the owner's stays.
    await api.req().patch(`/v1/orgs/${u.org.slug}/members/${u.admin.id}`).set(u.owner.auth).send({ role: 'member' }).expect(200);
    expect((await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: byAdmin } })).revokedReason).toBe('consenter_demoted');
    expect(await liveGrants()).toEqual([byOwner]);

    // A member promoted again consents anew; removing them ends that grant too.
    await api.req().patch(`/v1/orgs/${u.org.slug}/members/${u.admin.id}`).set(u.owner.auth).send({ role: 'admin' }).expect(200);
    const again = await consent(u.admin);
    await api.req().delete(`/v1/orgs/${u.org.slug}/members/${u.admin.id}`).set(u.owner.auth).expect(204);
    expect((await api.prisma.db.oAuthGrant.findUniqueOrThrow({ where: { id: again } })).revokedReason).toBe('consenter_removed');
    expect(await liveGrants()).toEqual([byOwner]);
    const logged = await api.prisma.db.activityLog.findMany({ where: { orgId: u.org.id, action: 'oauth_grant.revoked' } });
    expect(logged.map((l) => l.targetId).sort()).toEqual([byAdmin, again].sort());
  });
});
