/**
 * What travels while a call is in flight, over both agent transports: progress notifications,
 * cancellation (agent → gateway → upstream), and server-to-client requests (sampling,
 * elicitation) relayed to the agent and answered by it. Upstreams: server-everything over stdio
 * and the SDK-based Streamable HTTP fixture (its `slow` tool records the cancellations it sees).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { createOrg, everythingServer, healthy, type Org, openSession, parseSse, post, textOf } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let upstream: StreamableFixture;
beforeAll(async () => {
  [stack, upstream] = await Promise.all([startStack(), startStreamableFixture()]);
});
afterAll(async () => {
  await stack.close();
  await upstream.close();
});

describe.each(['http', 'sse'] as const)('over %s', (transport) => {
  let o: Org;
  const url = () => `${stack.gatewayUrl}/${transport === 'http' ? 'mcp' : 'sse'}/${o.org.slug}`;
  const open = (capabilities: Record<string, unknown> = {}) => connect(url(), o.key, { transport, capabilities });
  const clients: Client[] = [];

  beforeAll(async () => {
    o = await createOrg(stack, {
      servers: [everythingServer(), { slug: 'fixture', name: 'HTTP fixture', transport: 'streamable-http', url: upstream.url }],
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('relays progress notifications to the caller, with its own progress token', async () => {
    const client = await open();
    clients.push(client);
    const seen: Array<{ progress: number; total?: number }> = [];
    const result = await client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => seen.push({ progress: p.progress, total: p.total }) },
    );
    expect(textOf(result)).toContain('Long running operation completed');
    // The gateway writes all three before the response (see the wire-level test below), but the
    // SDK client drops a progress notification that it parses in the same chunk as the response
    // (its notification handlers run a microtask later, after the response removed the progress
    // handler). So the client is guaranteed to see the first steps, in order.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(0, 2)).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
    ]);
  });

  it('cancels the upstream call when the agent aborts, and keeps working', async () => {
    const client = await open();
    clients.push(client);
    const before = upstream.stats.cancelled.length;
    const calls = upstream.stats.callIds.length;
    const controller = new AbortController();
    const pending = client.callTool({ name: 'fixture__slow', arguments: { ms: 20_000 } }, undefined, { signal: controller.signal });
    // Abort once the upstream is really serving the call.
    await waitFor(() => upstream.stats.callIds.length > calls, 5000);
    controller.abort('the user pressed stop');
    await expect(pending).rejects.toThrow();
    // The SDK sent notifications/cancelled; the gateway passed it on: the upstream's handler saw its signal abort.
    await waitFor(() => upstream.stats.cancelled.length > before, 3000);

    // The same session and the same upstream still serve calls.
    expect(textOf(await client.callTool({ name: 'fixture__echo', arguments: { text: 'still here' } }))).toBe('still here');
    expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'and here' } }))).toContain('and here');
    expect(await healthy(stack.gatewayUrl)).toBe(true);
  });

  it('relays sampling/createMessage to the agent and its answer back (round trip)', async () => {
    const client = await open({ sampling: {} });
    clients.push(client);
    const asked: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params);
      return { model: 'canned-model', role: 'assistant', content: { type: 'text', text: 'canned answer 4242' } };
    });
    const result = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'What is 6x7?' } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('canned answer 4242');
    expect(textOf(result)).toContain('canned-model');
    expect(asked).toHaveLength(1);
    expect(JSON.stringify(asked[0])).toContain('What is 6x7?');
  });

  it('relays elicitation/create to the agent and its answer back (round trip)', async () => {
    const client = await open({ elicitation: {} });
    clients.push(client);
    let message = '';
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      message = String(req.params.message);
      return { action: 'accept', content: { name: 'Ada Lovelace', check: true, integer: 7 } };
    });
    const result = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
    expect(message).toContain('Please provide inputs');
    const text = textOf(result);
    expect(text).toContain('User provided the requested information');
    expect(text).toContain('- Name: Ada Lovelace');
    expect(text).toContain('- Favorite Integer: 7');
  });

  it('refuses sampling cleanly (no hang) when the agent did not declare the capability', async () => {
    const client = await open();
    clients.push(client);
    const started = Date.now();
    const result = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'anyone?' } }, undefined, {
      timeout: 10_000,
    });
    expect(Date.now() - started).toBeLessThan(5000);
    // The upstream's sampling request was refused with -32601; server-everything reports its tool failed.
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('does not support sampling/createMessage');
    // The session is fine afterwards.
    await expect(client.ping()).resolves.toEqual({});
  });

  it('an agent without the capability cannot be sent elicitation either', async () => {
    const client = await open({ sampling: {} });
    clients.push(client);
    const result = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} }, undefined, {
      timeout: 10_000,
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('does not support elicitation/create');
  });

  it('unknown names: the upstream’s tool error, or the gateway’s -32602 when no server matches', async () => {
    const client = await open();
    clients.push(client);
    // The prefix names a server: the upstream itself answers (server-everything: a tool error result).
    const unknownTool = await client.callTool({ name: 'everything__no-such-tool', arguments: {} });
    expect(unknownTool.isError).toBe(true);
    expect(textOf(unknownTool)).toContain('Tool no-such-tool not found');
    // No server of that name, or no prefix at all: refused before any upstream.
    for (const name of ['nosuchserver__echo', 'echo']) {
      const err = await client.callTool({ name, arguments: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32602);
    }
  });
});

describe('on the wire (raw Streamable HTTP)', () => {
  it('streams every progress notification, with the agent’s token, before the response', async () => {
    const o = await createOrg(stack);
    const url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    const session = await openSession(url, o.key);
    const res = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 'call-1',
        method: 'tools/call',
        params: {
          name: 'everything__trigger-long-running-operation',
          arguments: { duration: 0.3, steps: 3 },
          _meta: { progressToken: 'agent-token-1' },
        },
      },
      { key: o.key, session },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const messages = parseSse(res.text) as Array<{ method?: string; id?: string; params?: Record<string, unknown> }>;
    expect(messages.map((m) => m.method ?? `response:${m.id}`)).toEqual([
      'notifications/progress',
      'notifications/progress',
      'notifications/progress',
      'response:call-1',
    ]);
    expect(messages.slice(0, 3).map((m) => [m.params?.progressToken, m.params?.progress])).toEqual([
      ['agent-token-1', 1],
      ['agent-token-1', 2],
      ['agent-token-1', 3],
    ]);
  });
});
