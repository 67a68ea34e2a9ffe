/**
 * Resource URIs inside results on the aggregated endpoint: the resource links and embedded
 * resources server-everything returns from tools/call and prompts/get come back as
 * `tg://{server}/{uri}`, and reading them works (policy permitting) — before, they carried the
 * upstream's URI and a read answered -32002. The single-server endpoint keeps the server's URIs.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createKey, createOrg, type Org } from './fixtures/gw-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(60_000);

let stack: Stack;
let o: Org;
/** A key whose role may call tools and read only the dynamic text resources. */
let textOnly: string;

beforeAll(async () => {
  stack = await startStack();
  o = await createOrg(stack);
  const role = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
    name: 'text-only',
    rules: { tools: [{ effect: 'allow', match: '*' }], resources: [{ effect: 'allow', uri: 'demo://resource/dynamic/text/*' }] },
  });
  textOnly = (await createKey(o, [role.id])).key;
});
afterAll(() => stack.close());

const url = (scope = '') => `${stack.gatewayUrl}/mcp/${o.org.slug}${scope}`;

type Block = { type: string; uri?: string; resource?: { uri: string } };

async function readUri(client: Awaited<ReturnType<typeof connect>>, uri: string): Promise<string[]> {
  return (await client.readResource({ uri })).contents.map((c) => c.uri);
}

describe('resource URIs in results on the aggregated endpoint', () => {
  it('tools/call resource links are exposed and readable', async () => {
    const client = await connect(url(), o.key);
    try {
      const result = await client.callTool({ name: 'everything__get-resource-links', arguments: { count: 4 } });
      const links = (result.content as Block[]).filter((b) => b.type === 'resource_link').map((b) => b.uri ?? '');
      expect(links).toHaveLength(4);
      expect(links).toContain('tg://everything/demo://resource/dynamic/text/2');
      expect(links).toContain('tg://everything/demo://resource/dynamic/blob/1');
      for (const uri of links) expect(await readUri(client, uri)).toEqual([uri]);
    } finally {
      await client.close();
    }
  });

  it('tools/call embedded resources are exposed and readable', async () => {
    const client = await connect(url(), o.key);
    try {
      const result = await client.callTool({
        name: 'everything__get-resource-reference',
        arguments: { resourceType: 'Text', resourceId: 7 },
      });
      const embedded = (result.content as Block[]).find((b) => b.type === 'resource');
      expect(embedded?.resource?.uri).toBe('tg://everything/demo://resource/dynamic/text/7');
      expect(await readUri(client, embedded?.resource?.uri ?? '')).toEqual([embedded?.resource?.uri]);
    } finally {
      await client.close();
    }
  });

  it('prompts/get embedded resources are exposed, readable, and can be subscribed to', async () => {
    const client = await connect(url(), o.key);
    try {
      const got = await client.getPrompt({ name: 'everything__resource-prompt', arguments: { resourceType: 'Blob', resourceId: '3' } });
      const content = got.messages.map((m) => m.content as Block).find((c) => c.type === 'resource');
      const uri = content?.resource?.uri ?? '';
      expect(uri).toBe('tg://everything/demo://resource/dynamic/blob/3');
      expect(await readUri(client, uri)).toEqual([uri]);
      // The agent → upstream direction maps the same form for subscriptions.
      await client.subscribeResource({ uri });
      await client.unsubscribeResource({ uri });
    } finally {
      await client.close();
    }
  });

  it('a link the role may not read is still shown in the exposed form, and its read is denied (-32003)', async () => {
    const client = await connect(url(), textOnly);
    try {
      const result = await client.callTool({ name: 'everything__get-resource-links', arguments: { count: 2 } });
      const [blob, text] = (result.content as Block[]).filter((b) => b.type === 'resource_link').map((b) => b.uri ?? '');
      expect(blob).toBe('tg://everything/demo://resource/dynamic/blob/1');
      expect(text).toBe('tg://everything/demo://resource/dynamic/text/2');
      expect(await readUri(client, text ?? '')).toEqual([text]);
      const denied = await client.readResource({ uri: blob ?? '' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(denied).toBeInstanceOf(McpError);
      expect((denied as McpError).code).toBe(-32003);
    } finally {
      await client.close();
    }
  });

  it('the single-server endpoint keeps the upstream URIs', async () => {
    const client = await connect(url('/everything'), o.key);
    try {
      const result = await client.callTool({ name: 'get-resource-links', arguments: { count: 1 } });
      const link = (result.content as Block[]).find((b) => b.type === 'resource_link');
      expect(link?.uri).toBe('demo://resource/dynamic/blob/1');
      expect(await readUri(client, link?.uri ?? '')).toEqual([link?.uri]);
    } finally {
      await client.close();
    }
  });
});
