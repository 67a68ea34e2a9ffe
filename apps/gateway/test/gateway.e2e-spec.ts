import type { AuditEvent } from '@toolgate/contracts';
import { auditEvents } from './fixtures/gw-helpers';
import { connect, setupOrg, type Stack, startStack } from './harness';

jest.setTimeout(60_000);

describe('gateway end to end (Streamable HTTP → stdio server-everything)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ gateways: 2 });
  });
  afterAll(() => stack.close());

  it('lists and calls tools, prompts and resources with namespaced names', async () => {
    const { org, key } = await setupOrg(stack);
    const client = await connect(`${stack.gatewayUrl}/mcp/${org.slug}`, key);
    try {
      expect(client.getServerVersion()?.name).toBe('toolgate');
      const tools = await client.listTools();
      const names = tools.tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum']));
      for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

      const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'hello gateway' } });
      expect(JSON.stringify(echo.content)).toContain('hello gateway');

      const sum = await client.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 3 } });
      expect(JSON.stringify(sum.content)).toContain('5');

      const prompts = await client.listPrompts();
      expect(prompts.prompts.length).toBeGreaterThan(0);
      const firstPrompt = prompts.prompts[0]!;
      expect(firstPrompt.name.startsWith('everything__')).toBe(true);

      const resources = await client.listResources();
      expect(resources.resources.length).toBeGreaterThan(0);
      const res0 = resources.resources[0]!;
      expect(res0.uri.startsWith('tg://everything/')).toBe(true);
      const read = await client.readResource({ uri: res0.uri });
      expect(read.contents[0]?.uri).toBe(res0.uri);

      await client.ping();
    } finally {
      await client.close();
    }
  });

  it('serves one server unprefixed at /mcp/{org}/{server}', async () => {
    const { org, key } = await setupOrg(stack);
    const client = await connect(`${stack.gatewayUrl}/mcp/${org.slug}/everything`, key);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'direct' } });
      expect(JSON.stringify(echo.content)).toContain('direct');
    } finally {
      await client.close();
    }
  });

  it('initializes on one gateway worker and calls on another (session state in Redis)', async () => {
    const { org, key } = await setupOrg(stack);
    const a = await connect(`${gwUrl(stack, 0)}/mcp/${org.slug}`, key);
    const sessionId = (a.transport as unknown as { sessionId?: string }).sessionId;
    expect(sessionId).toBeTruthy();
    const res = await fetch(`${gwUrl(stack, 1)}/mcp/${org.slug}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': sessionId!,
        'MCP-Protocol-Version': '2025-11-25',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'everything__echo', arguments: { message: 'other worker' } },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: unknown };
    expect(JSON.stringify(body.result)).toContain('other worker');
    await a.close();
  });

  it('emits audit and usage jobs for calls', async () => {
    const { org, key } = await setupOrg(stack);
    const client = await connect(`${stack.gatewayUrl}/mcp/${org.slug}`, key);
    await client.callTool({ name: 'everything__echo', arguments: { message: 'audited' } });
    await client.close();
    const isEcho = (e: AuditEvent) => e.method === 'tools/call' && e.target === 'echo';
    const events = await auditEvents(stack, org.id, (all) => all.some(isEcho));
    expect(events.some(isEcho)).toBe(true);
  });
});

function gwUrl(stack: Stack, i: number): string {
  const addr = stack.gateways[i]!.server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}
