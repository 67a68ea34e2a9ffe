/**
 * The gateway as OAuth resource server: access tokens minted here with the contract's
 * signAccessToken and grants published in the org snapshot (as the control plane will), checked
 * for signature, expiry, org, exact audience and a live grant; an OAuth caller is treated like a
 * key (roles, per-key limits, audit under keyId = grant id, with the client and the consenting
 * person named), revoking its grant cuts its calls and streams within a second, and its token
 * never travels upstream.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import {
  type AccessTokenClaims,
  accessTokenKey,
  type AuditEvent,
  channels,
  parseSecretKey,
  type PolicySnapshot,
  redisKeys,
  type SnapshotGrant,
  signAccessToken,
} from '@toolgate/contracts';
import { loadEnv } from '../../api/src/config/env';
import { PUBLISH_SNAPSHOT_LUA } from '../../api/src/modules/snapshots/snapshot-scripts';
import { startWorker } from '../../api/src/worker';
import { auditEvents, createOrg, everythingServer, freePort, type Org, openSession, post, sleep, textOf } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(45_000);

let stack: Stack;
let upstream: StreamableFixture;
let redis: Redis;
let worker: Awaited<ReturnType<typeof startWorker>>;
let publicUrl: string;
const tokenKey = accessTokenKey(parseSecretKey(process.env.TOOLGATE_SECRET_KEY));

beforeAll(async () => {
  // Tokens name the gateway's public URL as audience: give it the real port, so clients reach it there.
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  [stack, upstream] = await Promise.all([
    startStack({ gatewayEnv: { PORT: String(port), PUBLIC_GATEWAY_URL: publicUrl } }),
    startStreamableFixture(),
  ]);
  redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
  // The real audit consumer: an OAuth caller's events must be stored and verify.
  worker = await startWorker(loadEnv({ ...process.env, QUEUE_PREFIX: stack.queuePrefix, AUDIT_BATCH_WAIT_MS: '10' }), { logger: false });
});
afterAll(async () => {
  await worker.close();
  await stack.close();
  await upstream.close();
  redis.disconnect();
});

const endpoint = (o: Org, server?: string) => `${publicUrl}/mcp/${o.org.slug}${server ? `/${server}` : ''}`;

/** A grant of `roleIds` on `resource` (the org endpoint by default). */
function grantOf(o: Org, roleIds: string[], resource = endpoint(o)): SnapshotGrant {
  return {
    id: randomUUID(),
    clientId: `https://client.example/${randomBytes(3).toString('hex')}.json`,
    clientName: 'Example Agent',
    userId: randomUUID(),
    userEmail: 'consenter@example.test',
    roleIds,
    resource,
  };
}

function tokenFor(o: Org, g: SnapshotGrant, over: Partial<AccessTokenClaims> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signAccessToken(tokenKey, {
    iss: stack.apiUrl,
    aud: g.resource,
    sub: g.userId,
    client_id: g.clientId,
    org: o.org.id,
    gid: g.id,
    scope: 'mcp',
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
    ...over,
  });
}

/**
 * Publish the org's snapshot again with these grants, as the control plane's compile will, one
 * version up (set up everything through the API first: its later writes would be older), and
 * wait until the gateway holds it (or holds none of the org's).
 */
async function publishGrants(o: Org, grants: SnapshotGrant[]): Promise<void> {
  const current = JSON.parse((await redis.get(redisKeys.snapshot(o.org.id)))!) as PolicySnapshot;
  const version = current.version + 1;
  const next: PolicySnapshot = { ...current, version, grants };
  const epoch = (await redis.get(redisKeys.snapshotEpoch))!;
  const written = await redis.eval(
    PUBLISH_SNAPSHOT_LUA,
    5,
    redisKeys.snapshot(o.org.id),
    redisKeys.snapshotTombstone(o.org.id),
    redisKeys.snapshotVersions,
    redisKeys.orgSlugs,
    redisKeys.snapshotEpoch,
    o.org.id,
    String(version),
    JSON.stringify(next),
    channels.snapshots,
    JSON.stringify({ orgId: o.org.id, version }),
    o.org.slug,
    epoch,
  );
  expect(written).toBe(1);
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(10)) {
    // A worker that has not loaded the org yet loads the new one on its first request.
    const held = stack.gateways[0]!.snapshots.get(o.org.id)?.version;
    if (held === undefined || held === version) return;
  }
  throw new Error('the gateway did not load the new snapshot');
}

/** An org with server-everything and the HTTP fixture; role `echo` may call only everything__echo, with a per-key limit. */
async function oauthOrg(): Promise<Org & { echoRoleId: string }> {
  const o = await createOrg(stack, {
    servers: [everythingServer(), { slug: 'fixture', name: 'HTTP fixture', transport: 'streamable-http', url: upstream.url }],
  });
  const role = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
    name: 'echo',
    rules: { tools: [{ effect: 'allow', match: 'everything__echo' }], rateLimits: [{ scope: 'key', perMinute: 1, burst: 3 }] },
  });
  return { ...o, echoRoleId: role.id };
}

const INIT = {
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth-e2e', version: '1' } },
};

/** The 401 a refused credential gets: invalid_token, the description, the JSON-RPC error saying the same. */
async function refused(url: string, token: string, description: string): Promise<void> {
  const res = await post(url, INIT, { key: token });
  expect(res.status).toBe(401);
  expect(res.json.error).toMatchObject({ code: -32001, message: description });
  expect(res.headers.get('www-authenticate')).toBe(
    `Bearer resource_metadata="${publicUrl}/.well-known/oauth-protected-resource${new URL(url).pathname}", scope="mcp", error="invalid_token", error_description="${description}"`,
  );
}

describe('OAuth access tokens at the gateway', () => {
  it('a valid token lists and calls only what the grant’s roles allow; audit names the client and person under keyId = grant id', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant]);
    const client = await connect(endpoint(o), tokenFor(o, grant));
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(['everything__echo']);
      expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toContain('hi');
      const denied = await client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }).catch((e: Error) => e);
      expect(String(denied instanceof Error ? denied.message : JSON.stringify(denied))).toMatch(/denied|-32003|Unknown tool/i);
    } finally {
      await client.close();
    }

    const oauth = { clientId: grant.clientId, clientName: grant.clientName, userId: grant.userId, userEmail: grant.userEmail };
    const events = await auditEvents(stack, o.org.id, (e) => e.some((x) => x.method === 'tools/call' && x.outcome === 'ok'));
    const mine = events.filter((e) => e.method !== 'auth/failed');
    expect(mine.length).toBeGreaterThanOrEqual(3);
    for (const e of mine) expect(e).toMatchObject({ keyId: grant.id, oauth });

    // Stored by the real audit consumer with the block, and the chain still verifies.
    type Item = { method: string; keyId: string | null; oauth: AuditEvent['oauth'] | null };
    let items: Item[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !items.some((i) => i.method === 'tools/call'); await sleep(100)) {
      items = (await o.api.call<{ items: Item[] }>('GET', `/v1/orgs/${o.org.slug}/audit?keyId=${grant.id}&limit=200`)).items;
    }
    expect(items.length).toBeGreaterThanOrEqual(3);
    for (const i of items) expect(i).toMatchObject({ keyId: grant.id, oauth });
    expect(await o.api.call('GET', `/v1/orgs/${o.org.slug}/audit/verify`)).toMatchObject({ valid: true });
  });

  it('a role constraint on key metadata denies an OAuth caller (a grant has no metadata) while the key passes', async () => {
    const o = await createOrg(stack, {
      roleName: 'scoped',
      rules: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a metadata reference resolved by the gateway, per key.
        tools: [{ effect: 'allow', match: 'everything__echo', constraints: { message: { equals: '${key.metadata.customer_id}' } } }],
      },
      metadata: { customer_id: 'cust-42' },
    });
    const grant = grantOf(o, [o.roleId]);
    await publishGrants(o, [grant]);
    const call = (t: string, s: string) =>
      post(
        endpoint(o),
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'cust-42' } } },
        {
          key: t,
          session: s,
        },
      );
    const token = tokenFor(o, grant);
    expect((await call(token, await openSession(endpoint(o), token))).json.error?.code).toBe(-32003);
    expect((await call(o.key, await openSession(endpoint(o), o.key))).json.error).toBeUndefined();
  });

  it('the legacy SSE transport takes the token of the matching /mcp endpoint', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant]);
    const client = await connect(`${stack.gatewayUrl}/sse/${o.org.slug}`, tokenFor(o, grant), { transport: 'sse' });
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['everything__echo']);
    } finally {
      await client.close();
    }
  });

  it('refuses another org’s token exactly as a wrong key would be at an unknown org', async () => {
    const a = await oauthOrg();
    const b = await createOrg(stack);
    const grant = grantOf(a, [a.echoRoleId]);
    await publishGrants(a, [grant]);
    const token = tokenFor(a, grant);
    // At org B (its own endpoint as audience, so only the org differs), and at an org that does not exist.
    const atB = tokenFor(a, { ...grant, resource: endpoint(b) });
    await refused(`${stack.gatewayUrl}/mcp/${b.org.slug}`, atB, 'The access token is invalid');
    const atB2 = await post(`${stack.gatewayUrl}/mcp/${b.org.slug}`, INIT, { key: token });
    const nowhere = await post(`${stack.gatewayUrl}/mcp/no-such-${b.org.slug}`, INIT, { key: token });
    expect(nowhere.status).toBe(401);
    expect(nowhere.text).toBe(atB2.text);
    expect((await post(endpoint(a), INIT, { key: token })).status).toBe(200);
  });

  it('refuses a token for another endpoint (org token at a server endpoint and the reverse, another host) with an audience description', async () => {
    const o = await oauthOrg();
    const orgGrant = grantOf(o, [o.echoRoleId]);
    const serverGrant = grantOf(o, [o.echoRoleId], endpoint(o, 'everything'));
    await publishGrants(o, [orgGrant, serverGrant]);
    const audience = 'The access token is for another resource; request one for this endpoint';
    await refused(`${stack.gatewayUrl}/mcp/${o.org.slug}/everything`, tokenFor(o, orgGrant), audience);
    await refused(`${stack.gatewayUrl}/mcp/${o.org.slug}`, tokenFor(o, serverGrant), audience);
    const otherHost = tokenFor(o, orgGrant, { aud: `https://elsewhere.example/mcp/${o.org.slug}` });
    await refused(`${stack.gatewayUrl}/mcp/${o.org.slug}`, otherHost, audience);
    // Each works where it belongs.
    expect((await post(`${stack.gatewayUrl}/mcp/${o.org.slug}/everything`, INIT, { key: tokenFor(o, serverGrant) })).status).toBe(200);
    expect((await post(`${stack.gatewayUrl}/mcp/${o.org.slug}`, INIT, { key: tokenFor(o, orgGrant) })).status).toBe(200);
  });

  it('refuses unknown grants, expired, forged and alg-none tokens', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant]);
    const url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    await refused(url, tokenFor(o, { ...grant, id: randomUUID() }), 'The access token has been revoked');
    const now = Math.floor(Date.now() / 1000);
    await refused(url, tokenFor(o, grant, { iat: now - 700, exp: now - 1 }), 'The access token has expired');
    const good = tokenFor(o, grant);
    const [header, payload, signature] = good.split('.');
    const raised = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), exp: now + 99_999 }));
    await refused(url, `${header}.${raised.toString('base64url')}.${signature}`, 'The access token is invalid');
    await refused(
      url,
      signAccessToken(accessTokenKey(randomBytes(32)), JSON.parse(Buffer.from(payload!, 'base64url').toString())),
      'The access token is invalid',
    );
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    await refused(url, `${none}.${payload}.`, 'The access token is invalid');
  });

  it('revoking the grant (republish without it) refuses the next call and ends its GET stream within 1 s', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    const other = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant, other]);
    const url = endpoint(o);
    const token = tokenFor(o, grant);
    const session = await openSession(url, token);
    const otherSession = await openSession(url, tokenFor(o, other));
    const open = async (t: string, s: string) => {
      const abort = new AbortController();
      const res = await fetch(url, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${t}`, 'Mcp-Session-Id': s, 'MCP-Protocol-Version': '2025-11-25' },
        signal: abort.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const ended = (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // aborted
        }
        return Date.now();
      })();
      return { ended, close: () => abort.abort() };
    };
    const mine = await open(token, session);
    const theirs = await open(tokenFor(o, other), otherSession);
    try {
      await publishGrants(o, [other]);
      const revokedAt = Date.now();
      const endedAt = await Promise.race([mine.ended, sleep(1000).then(() => null)]);
      expect(endedAt).not.toBeNull();
      expect(endedAt! - revokedAt).toBeLessThan(1000);
      const next = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { key: token, session });
      expect(next.status).toBe(401);
      expect(next.json.error.message).toBe('The access token has been revoked');
      // Another grant's stream and calls go on.
      expect(await Promise.race([theirs.ended, sleep(300).then(() => null)])).toBeNull();
      expect(
        (await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { key: tokenFor(o, other), session: otherSession })).status,
      ).toBe(200);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('a GET stream opened with a token ends when that token expires', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant]);
    const now = Math.floor(Date.now() / 1000);
    const token = tokenFor(o, grant, { exp: now + 3 });
    const session = await openSession(endpoint(o), token);
    const abort = new AbortController();
    const res = await fetch(endpoint(o), {
      headers: {
        Accept: 'text/event-stream',
        Authorization: `Bearer ${token}`,
        'Mcp-Session-Id': session,
        'MCP-Protocol-Version': '2025-11-25',
      },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    try {
      const reader = res.body!.getReader();
      while (!(await reader.read()).done);
      // Ended at the token's expiry (second resolution), not before.
      expect(Date.now()).toBeGreaterThanOrEqual((now + 3) * 1000 - 50);
      expect(Date.now()).toBeLessThan((now + 3) * 1000 + 1000);
    } finally {
      abort.abort();
    }
  });

  it('rate-limits per grant like per key', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    const other = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant, other]);
    const call = async (t: string, s: string, id: number) =>
      post(
        endpoint(o),
        { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'x' } } },
        {
          key: t,
          session: s,
        },
      );
    const token = tokenFor(o, grant);
    const session = await openSession(endpoint(o), token);
    const codes: Array<number | null> = [];
    for (let i = 0; i < 4; i++) codes.push((await call(token, session, i)).json.error?.code ?? null);
    expect(codes.slice(0, 3)).toEqual([null, null, null]);
    expect(codes[3]).toBe(-32004);
    // A second token of the same grant shares its bucket; another grant has its own.
    expect((await call(tokenFor(o, grant), session, 9)).json.error?.code).toBe(-32004);
    const otherToken = tokenFor(o, other);
    expect((await call(otherToken, await openSession(endpoint(o), otherToken), 10)).json.error?.code ?? null).toBeNull();
  });

  it('never passes the token upstream (HTTP headers, stdio environment)', async () => {
    const o = await oauthOrg();
    const allow = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
      name: 'fixture',
      rules: { tools: [{ effect: 'allow', match: '*' }] },
    });
    const grant = grantOf(o, [allow.id]);
    await publishGrants(o, [grant]);
    const token = tokenFor(o, grant);
    const seenBefore = upstream.stats.requests.length;
    const client = await connect(endpoint(o), token);
    try {
      const whoami = JSON.parse(textOf(await client.callTool({ name: 'fixture__whoami', arguments: {} }))) as { authorization: unknown };
      expect(whoami.authorization).toBeNull();
      // Nor into a stdio server's environment (server-everything prints its whole environment).
      const env = textOf(await client.callTool({ name: 'everything__get-env', arguments: {} }));
      expect(env.length).toBeGreaterThan(10);
      expect(env).not.toContain(token.split('.')[2]!);
      expect(env).not.toContain(token.split('.')[1]!);
    } finally {
      await client.close();
    }
    const seen = upstream.stats.requests.slice(seenBefore);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const signature = token.split('.')[2]!;
    for (const r of seen) {
      expect(r.headers.authorization).toBeUndefined();
      expect(JSON.stringify(r.headers)).not.toContain(signature);
    }
  });

  it('audits a refused token with a safe label, never the token, and counts it by reason', async () => {
    const o = await oauthOrg();
    const grant = grantOf(o, [o.echoRoleId]);
    await publishGrants(o, [grant]);
    const count = async (reason: string) =>
      (await stack.gateways[0]!.metrics.authFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const before = { audience: await count('audience'), revoked: await count('revoked'), expired: await count('expired') };
    const wrongAudience = tokenFor(o, grant, { aud: endpoint(o, 'everything') });
    const unknownGrant = tokenFor(o, { ...grant, id: randomUUID() });
    const now = Math.floor(Date.now() / 1000);
    const expired = tokenFor(o, grant, { iat: now - 700, exp: now - 1 });
    for (const t of [wrongAudience, unknownGrant, expired]) expect((await post(endpoint(o), INIT, { key: t })).status).toBe(401);
    expect(await count('audience')).toBe(before.audience + 1);
    expect(await count('revoked')).toBe(before.revoked + 1);
    expect(await count('expired')).toBe(before.expired + 1);

    const failed = (await auditEvents(stack, o.org.id, (e) => e.filter((x) => x.method === 'auth/failed').length >= 3)).filter(
      (e) => e.method === 'auth/failed',
    );
    expect(failed.map((e) => [e.target, (e.arguments as { reason: string }).reason])).toEqual([
      [`oauth:${grant.clientId}`, 'audience'],
      [`oauth:${grant.clientId}`, 'revoked'],
      ['oauth', 'expired'],
    ]);
    const all = JSON.stringify(failed);
    for (const t of [wrongAudience, unknownGrant, expired]) expect(all).not.toContain(t.split('.')[2]!);
  });
});

describe('401 challenges and metadata', () => {
  it('a missing credential gets resource_metadata and scope only; a wrong key gets invalid_token with a description', async () => {
    const o = await createOrg(stack);
    const url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    const none = await post(url, INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${publicUrl}/.well-known/oauth-protected-resource/mcp/${o.org.slug}", scope="mcp"`,
    );
    await refused(url, `tg_${randomBytes(24).toString('hex')}`, 'The agent key is invalid or revoked');
  });

  it('names the canonical endpoint as resource, the control plane as authorization server, and no root document', async () => {
    const o = await createOrg(stack);
    for (const path of [`/mcp/${o.org.slug}`, `/mcp/${o.org.slug}/everything`]) {
      const res = await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource${path}`, {
        headers: { Origin: 'https://browser-agent.example' },
      });
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).toMatchObject({
        resource: `${publicUrl}${path}`,
        authorization_servers: [stack.apiUrl],
        scopes_supported: ['mcp'],
        bearer_methods_supported: ['header'],
      });
    }
    // One document for the whole host would get clients tokens no endpoint accepts.
    expect((await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource`)).status).toBe(404);
  });

  it('the legacy SSE endpoint points clients at its own document, whose resource is a prefix of the URL they connect to', async () => {
    const o = await createOrg(stack);
    const none = await fetch(`${stack.gatewayUrl}/sse/${o.org.slug}`, { headers: { Accept: 'text/event-stream' } });
    expect(none.status).toBe(401);
    const doc = `${publicUrl}/.well-known/oauth-protected-resource/sse/${o.org.slug}`;
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${doc}", scope="mcp"`);
    const res = await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/sse/${o.org.slug}/everything`);
    expect(await res.json()).toMatchObject({
      resource: `${publicUrl}/sse/${o.org.slug}/everything`,
      authorization_servers: [stack.apiUrl],
    });
  });
});
