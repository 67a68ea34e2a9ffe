/**
 * The MCP feature matrix through the gateway, over both agent transports: Streamable HTTP
 * (`/mcp/{org}`) and the legacy HTTP+SSE pair (`/sse/{org}` + `/messages`). The agent is the
 * official SDK Client; the upstream is server-everything over stdio, registered through the API.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createOrg, type Org, textOf } from './fixtures/gw-helpers';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe.each(['http', 'sse'] as const)('over %s', (transport) => {
  let o: Org;
  let client: Client;
  const logs: Array<{ level: string; data: unknown }> = [];
  const updates: string[] = [];

  beforeAll(async () => {
    // One org (hence one server-everything child) per transport: the two never share upstream state.
    o = await createOrg(stack);
    const path = transport === 'http' ? 'mcp' : 'sse';
    client = await connect(`${stack.gatewayUrl}/${path}/${o.org.slug}`, o.key, { transport });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params as { level: string; data: unknown });
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
  });
  afterAll(() => client?.close());

  it('initializes against the gateway', () => {
    expect(client.getServerVersion()?.name).toBe('toolgate');
    const caps = client.getServerCapabilities();
    expect(caps).toMatchObject({ tools: {}, prompts: {}, resources: { subscribe: true }, completions: {}, logging: {} });
  });

  it('lists tools and calls them (text and structured content)', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum', 'everything__get-structured-content']));
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: `hello over ${transport}` } }))).toContain(
      `hello over ${transport}`,
    );
    expect(textOf(await client.callTool({ name: 'everything__get-sum', arguments: { a: 19, b: 23 } }))).toContain('42');
    // The SDK validates structuredContent against the outputSchema it saw in tools/list.
    const structured = await client.callTool({ name: 'everything__get-structured-content', arguments: { location: 'New York' } });
    expect(structured.structuredContent).toMatchObject({ temperature: expect.any(Number), conditions: expect.any(String) });
  });

  it('lists prompts and gets one with arguments', async () => {
    const { prompts } = await client.listPrompts();
    const args = prompts.find((p) => p.name === 'everything__args-prompt');
    expect(args?.arguments?.map((a) => a.name)).toEqual(['city', 'state']);

    const got = await client.getPrompt({ name: 'everything__args-prompt', arguments: { city: 'Lisbon', state: 'Lisboa' } });
    expect(got.messages[0]?.content).toEqual({ type: 'text', text: "What's weather in Lisbon, Lisboa?" });
  });

  it('lists and reads resources and resource templates under tg:// names', async () => {
    const { resources } = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    for (const r of resources) expect(r.uri.startsWith('tg://everything/')).toBe(true);
    const first = await client.readResource({ uri: resources[0]!.uri });
    expect(first.contents[0]?.uri).toBe(resources[0]!.uri);

    const { resourceTemplates } = await client.listResourceTemplates();
    const templates = resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toContain('tg://everything/demo://resource/dynamic/text/{resourceId}');

    // A URI made from a template is read through the same namespace.
    const uri = 'tg://everything/demo://resource/dynamic/text/3';
    const read = await client.readResource({ uri });
    expect(read.contents).toHaveLength(1);
    expect(read.contents[0]).toMatchObject({ uri, mimeType: 'text/plain' });
    expect(String((read.contents[0] as { text?: string }).text)).not.toHaveLength(0);
  });

  it('subscribes to a resource and relays notifications/resources/updated', async () => {
    const uri = 'tg://everything/demo://resource/dynamic/text/1';
    updates.length = 0;
    await client.subscribeResource({ uri });
    // server-everything sends an update at once for every subscribed URI, then every 5 s.
    const on = await client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    expect(textOf(on)).toContain('Started');
    try {
      await waitFor(() => updates.includes(uri), 5000);
    } finally {
      const off = await client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
      expect(textOf(off)).toContain('Stopped');
      await client.unsubscribeResource({ uri });
    }
    // The agent only ever sees the namespaced URI.
    expect(updates.every((u) => u.startsWith('tg://everything/'))).toBe(true);
  });

  it('completes a prompt argument (completion/complete), with context', async () => {
    const dept = await client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'E' },
    });
    expect(dept.completion.values).toEqual(['Engineering']);

    const people = await client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'name', value: '' },
      context: { arguments: { department: 'Sales' } },
    });
    expect(people.completion.values).toEqual(['David', 'Eve', 'Frank']);
  });

  it('logging/setLevel decides which upstream log messages reach the agent', async () => {
    const uri = 'tg://everything/demo://resource/dynamic/text/2';
    const subscribeLogs = () => logs.filter((l) => String(l.data).includes('Received Subscribe Resource request'));

    // server-everything logs every subscribe at level "info": above the threshold "error" it is dropped …
    await client.setLoggingLevel('error');
    logs.length = 0;
    await client.subscribeResource({ uri });
    await client.unsubscribeResource({ uri });
    expect(subscribeLogs()).toHaveLength(0);

    // … and at "info" it is relayed (as part of the subscribe call's response stream).
    await client.setLoggingLevel('info');
    await client.subscribeResource({ uri });
    await client.unsubscribeResource({ uri });
    await waitFor(() => subscribeLogs().length === 1, 2000);
    expect(subscribeLogs()[0]).toMatchObject({ level: 'info' });
  });

  it('answers ping', async () => {
    await expect(client.ping()).resolves.toEqual({});
  });
});
