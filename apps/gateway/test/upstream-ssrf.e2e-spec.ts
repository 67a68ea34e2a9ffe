import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connect, type Stack, setupOrg, startStack } from './harness';

/**
 * A tenant chooses its HTTP upstream's URL: it must not turn the gateway into a proxy to the
 * platform's own services or the cloud's metadata. With no HTTP_UPSTREAM_ALLOW, loopback,
 * private, link-local addresses and this host's own are refused, by literal and after DNS,
 * through probes and calls alike. No packet is sent to any of them.
 */
describe('HTTP upstreams a tenant points inwards', () => {
  let stack: Stack;
  let o: Awaited<ReturnType<typeof setupOrg>>;
  const servers = () => `/v1/orgs/${o.org.slug}/servers`;

  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: { HTTP_UPSTREAM_ALLOW: '' } });
    const api = new URL(stack.apiUrl);
    o = await setupOrg(stack, {
      servers: [
        { slug: 'api', name: 'API', transport: 'streamable-http', url: `http://127.0.0.1:${api.port}/mcp` },
        { slug: 'byname', name: 'By name', transport: 'streamable-http', url: `http://localhost:${api.port}/mcp` },
        { slug: 'metadata', name: 'Metadata', transport: 'sse', url: 'http://169.254.169.254/latest/meta-data/' },
        { slug: 'v6', name: 'IPv6 loopback', transport: 'streamable-http', url: `http://[::1]:${api.port}/mcp` },
      ],
    });
  }, 60_000);
  afterAll(() => stack?.close());

  it.each([
    ['api', /misconfigured: refused: its address 127\.0\.0\.1 is private, loopback, link-local or this host's own/],
    ['metadata', /misconfigured: refused: its address 169\.254\.169\.254 is private/],
    ['v6', /misconfigured: refused: its address ::1 is private/],
    ['byname', /its address is private, loopback, link-local or this host’s own/],
  ])('refuses %s through a probe', async (slug, message) => {
    const list = await o.api.call('GET', servers());
    const s = list.items.find((x: { slug: string }) => x.slug === slug);
    const res = await o.api.call('POST', `${servers()}/${s.id}/probe`, {}, [502]);
    expect(res).toMatchObject({ code: 'probe_failed' });
    expect(res.detail).toMatch(message);
  });

  it('refuses them to an agent with -32005, and lists nothing of them', async () => {
    const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}/api`, o.key);
    try {
      const error = await client.listTools().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32005);
      expect((error as McpError).message).toMatch(/refused: its address 127\.0\.0\.1/);
    } finally {
      await client.close();
    }
    const aggregated = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
    try {
      expect((await aggregated.listTools()).tools).toEqual([]);
    } finally {
      await aggregated.close();
    }
  });
});
