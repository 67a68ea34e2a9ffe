/**
 * Authentication at the agent edge (MCP authorization spec, RFC 9728) and the credential
 * boundary towards upstreams: the agent's bearer key is the gateway's business only, the
 * upstream sees the credential configured for it (a secret header) and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { createOrg, freePort, healthy, openSession, post, textOf } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let upstream: StreamableFixture;
const upstreamToken = `Bearer upstream-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  // The gateway must know its public URL to name its metadata document: give it a real port.
  const port = await freePort();
  [stack, upstream] = await Promise.all([
    startStack({ gatewayEnv: { PORT: String(port), PUBLIC_GATEWAY_URL: `http://127.0.0.1:${port}` } }),
    // The upstream refuses (401) anything without exactly the configured credential.
    startStreamableFixture({ requireHeader: { name: 'authorization', value: upstreamToken } }),
  ]);
});
afterAll(async () => {
  await stack.close();
  await upstream.close();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
};

describe('agent authentication', () => {
  it('answers a request without Authorization with 401 and a resource_metadata challenge (RFC 9728)', async () => {
    const o = await createOrg(stack);
    const endpoint = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    const res = await post(endpoint, initialize);
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    // No error: the client has not tried a credential yet, so it may start the authorization flow.
    const m = /^Bearer resource_metadata="([^"]+)", scope="mcp"$/.exec(challenge);
    expect(m).not.toBeNull();
    const metadataUrl = m![1]!;
    expect(metadataUrl).toBe(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp/${o.org.slug}`);
    expect(res.json.error.code).toBe(-32001);

    const doc = await fetch(metadataUrl);
    expect(doc.status).toBe(200);
    expect(doc.headers.get('content-type')).toContain('application/json');
    const body = (await doc.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      resource: endpoint,
      authorization_servers: [stack.apiUrl],
      scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'],
    });

    // The single-server endpoint and the legacy SSE endpoint challenge the same way.
    const one = await post(`${endpoint}/everything`, initialize);
    expect(one.status).toBe(401);
    expect(one.headers.get('www-authenticate')).toContain(`/.well-known/oauth-protected-resource/mcp/${o.org.slug}/everything"`);
    const sse = await fetch(`${stack.gatewayUrl}/sse/${o.org.slug}`, { headers: { Accept: 'text/event-stream' } });
    expect(sse.status).toBe(401);
    expect(sse.headers.get('www-authenticate')).toContain('resource_metadata=');
    await sse.body?.cancel();
  });

  it('refuses a wrong key, a malformed token and another org’s key with 401 invalid_token', async () => {
    const a = await createOrg(stack);
    const b = await createOrg(stack);
    const endpoint = `${stack.gatewayUrl}/mcp/${a.org.slug}`;
    for (const key of [`tg_${randomBytes(24).toString('hex')}`, 'not-a-toolgate-key', b.key]) {
      const res = await post(endpoint, initialize, { key });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer resource_metadata="[^"]+", scope="mcp", error="invalid_token", error_description="[^"]+"$/,
      );
    }
    // A session of org A cannot be used with org B's key either.
    const session = await openSession(endpoint, a.key);
    const stolen = await post(endpoint, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { key: b.key, session });
    expect(stolen.status).toBe(401);
    // The SDK client fails to connect (promptly) with a wrong key.
    await expect(connect(endpoint, `tg_${randomBytes(24).toString('hex')}`)).rejects.toThrow();
    expect(await healthy(stack.gatewayUrl)).toBe(true);
  });
});

describe('credentials towards the upstream', () => {
  it('never forwards the agent’s bearer key; the upstream sees only its configured secret', async () => {
    const o = await createOrg(stack, {
      secrets: { UPSTREAM_AUTH: upstreamToken },
      servers: [
        {
          slug: 'fixture',
          name: 'HTTP fixture',
          transport: 'streamable-http',
          url: upstream.url,
          headers: { Authorization: { secret: 'UPSTREAM_AUTH' } },
        },
      ],
    });
    const seenBefore = upstream.stats.requests.length;
    const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
    try {
      expect(textOf(await client.callTool({ name: 'fixture__echo', arguments: { text: 'through' } }))).toBe('through');
      // whoami reports the Authorization header the upstream received: the secret, masked on the way back.
      const whoami = JSON.parse(textOf(await client.callTool({ name: 'fixture__whoami', arguments: {} }))) as { authorization: string };
      expect(whoami.authorization).toBe('[REDACTED:secret]');
    } finally {
      await client.close();
    }
    const seen = upstream.stats.requests.slice(seenBefore);
    expect(seen.length).toBeGreaterThanOrEqual(3); // initialize, notifications/initialized, tools/list, tools/call…
    for (const r of seen) {
      expect(r.headers.authorization).toBe(upstreamToken);
      const all = JSON.stringify(r.headers);
      expect(all).not.toContain('tg_');
      expect(all).not.toContain(o.key);
    }
  });
});
