/**
 * Server-to-client requests an HTTP upstream makes outside any call (roots/list on its standalone
 * GET stream). A per-session backend (the HTTP default) belongs to one agent session, so its
 * request goes to that agent; a shared backend's cannot be attributed and is refused.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createOrg, type Org, textOf } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let upstream: StreamableFixture;
const clients: Client[] = [];

beforeAll(async () => {
  [stack, upstream] = await Promise.all([startStack(), startStreamableFixture()]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await stack.close();
  await upstream.close();
});

const fixture = (extra: Record<string, unknown> = {}) => ({
  slug: 'fixture',
  name: 'HTTP fixture',
  transport: 'streamable-http',
  url: upstream.url,
  ...extra,
});

/** An agent that declares roots (when `root` is given) and answers roots/list with it. */
async function agent(o: Org, root?: string): Promise<Client> {
  const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key, { capabilities: root ? { roots: {} } : {} });
  clients.push(client);
  if (root) client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: root, name: 'work' }] }));
  return client;
}

/** Call roots-later and wait for the upstream's out-of-band roots/list to be answered. */
async function rootsAfterCall(client: Client): Promise<{ roots?: unknown; error?: string }> {
  const before = upstream.stats.roots.length;
  expect(textOf(await client.callTool({ name: 'fixture__roots-later', arguments: {} }))).toBe('asking later');
  await waitFor(() => upstream.stats.roots.length > before, 5000);
  return upstream.stats.roots[before]!;
}

it("per-session: the upstream's roots/list outside any call reaches that session's agent, and only it", async () => {
  const o = await createOrg(stack, { servers: [fixture()] });
  const mine = await agent(o, 'file:///work/mine');
  // Another session of the same key, also able to answer: it must not be asked.
  const other = await agent(o, 'file:///work/other');
  await other.listTools();
  expect(await rootsAfterCall(mine)).toEqual({ roots: [{ uri: 'file:///work/mine', name: 'work' }] });
  expect(await rootsAfterCall(other)).toEqual({ roots: [{ uri: 'file:///work/other', name: 'work' }] });
});

it('per-session: an agent that did not declare roots gets no request; the upstream gets an error', async () => {
  const o = await createOrg(stack, { servers: [fixture()] });
  const outcome = await rootsAfterCall(await agent(o));
  expect(outcome.error).toContain('does not support roots/list');
});

it('shared: a request outside any call cannot be attributed, so it is refused, not guessed', async () => {
  const o = await createOrg(stack, { servers: [fixture({ isolation: 'shared' })] });
  const outcome = await rootsAfterCall(await agent(o, 'file:///work/shared'));
  expect(outcome.error).toContain('no agent session is waiting');
});
