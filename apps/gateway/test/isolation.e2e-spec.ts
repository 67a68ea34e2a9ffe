import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, setupOrg, type Stack, startStack } from './harness';

jest.setTimeout(90_000);

/** Agents of one org must not meet in a server: each isolation mode, tried from two keys and two sessions. */

const MEMO = path.join(__dirname, 'fixtures', 'memo-server.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (r: unknown) => ((r as { content: Array<{ text: string }> }).content[0]?.text ?? '') as string;

describe('isolation modes (per-key, per-session, shared)', () => {
  let stack: Stack;
  const open: Client[] = [];
  beforeAll(async () => {
    stack = await startStack();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  afterAll(() => stack.close());

  /** An org with the memo server in `isolation` (absent = the stdio default) and two keys of one role. */
  async function org(isolation?: string) {
    const o = await setupOrg(stack, {
      servers: [
        { slug: 'memo', name: 'Memo', transport: 'stdio', command: process.execPath, args: [MEMO], ...(isolation ? { isolation } : {}) },
      ],
    });
    const second = await o.api.call('POST', `/v1/orgs/${o.org.slug}/keys`, { name: 'agent b', roleIds: [o.roleId] });
    // The new key is in the snapshot workers load; give the notice a moment.
    await sleep(300);
    return { ...o, keyA: o.key, keyB: second.key as string };
  }

  async function agent(orgSlug: string, key: string, onSampling?: (q: string) => string, onLog?: (data: unknown) => void) {
    const client = await connect(`${stack.gatewayUrl}/mcp/${orgSlug}`, key, { capabilities: onSampling ? { sampling: {} } : {} });
    if (onSampling) {
      client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
        const c = req.params.messages[0]?.content;
        const q = c && !Array.isArray(c) && c.type === 'text' ? c.text : '';
        return { model: 'test', role: 'assistant', content: { type: 'text', text: onSampling(q) } };
      });
    }
    if (onLog) client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => onLog(n.params.data));
    open.push(client);
    return client;
  }

  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) =>
    textOf(await c.callTool({ name: `memo__${name}`, arguments: args }));

  it('per-key (the stdio default): another key neither shares the process nor finds what the first left', async () => {
    const { org: o, keyA, keyB } = await org();
    const a = await agent(o.slug, keyA);
    const b = await agent(o.slug, keyB);
    await call(a, 'remember', { value: 'only for A' });
    expect(await call(b, 'recall')).toBe('(nothing)');
    expect(await call(a, 'pid')).not.toBe(await call(b, 'pid'));
    // A second session of the same key reaches the same backend.
    const a2 = await agent(o.slug, keyA);
    expect(await call(a2, 'recall')).toBe('only for A');
  });

  it('per-session: two sessions of one key get two backends, and a DELETE closes its session’s', async () => {
    const { org: o, keyA } = await org('per-session');
    const s1 = await agent(o.slug, keyA);
    const s2 = await agent(o.slug, keyA);
    await call(s1, 'remember', { value: 'only for s1' });
    expect(await call(s2, 'recall')).toBe('(nothing)');
    expect(await call(s1, 'pid')).not.toBe(await call(s2, 'pid'));
    const pool = stack.gateways[0]!.pool;
    const id = (s1.transport as StreamableHTTPClientTransport).sessionId!;
    const owns = () => pool.has((k) => k.endsWith(`|session:${id}`));
    expect(owns()).toBe(true);
    await (s1.transport as StreamableHTTPClientTransport).terminateSession();
    expect(owns()).toBe(false);
    expect(await call(s2, 'recall')).toBe('(nothing)');
  });

  it('shared: every key of the org reaches one backend (an explicit choice for stateless servers)', async () => {
    const { org: o, keyA, keyB } = await org('shared');
    const a = await agent(o.slug, keyA);
    const b = await agent(o.slug, keyB);
    expect(await call(a, 'pid')).toBe(await call(b, 'pid'));
    await call(a, 'remember', { value: 'shared by choice' });
    expect(await call(b, 'recall')).toBe('shared by choice');
  });

  it('per-key: a notification outside any call reaches only the key whose backend sent it', async () => {
    const { org: o, keyA, keyB } = await org();
    const heard = { a: [] as unknown[], b: [] as unknown[] };
    const a = await agent(o.slug, keyA, undefined, (d) => heard.a.push(d));
    const b = await agent(o.slug, keyB, undefined, (d) => heard.b.push(d));
    await call(b, 'pid'); // B's own backend runs too
    await sleep(200); // both GET streams are open
    await call(a, 'announce', { marker: 'from A’s backend' });
    for (let i = 0; i < 50 && heard.a.length === 0; i++) await sleep(50);
    await sleep(200);
    expect(heard.a).toEqual(['from A’s backend']);
    expect(heard.b).toEqual([]);
  });

  it('per-key: sampling with two keys in flight goes to each call’s own agent', async () => {
    const { org: o, keyA, keyB } = await org();
    const askedA: string[] = [];
    const askedB: string[] = [];
    const a = await agent(o.slug, keyA, (q) => {
      askedA.push(q);
      return 'from A';
    });
    const b = await agent(o.slug, keyB, (q) => {
      askedB.push(q);
      return 'from B';
    });
    const [ra, rb] = await Promise.all([call(a, 'ask', { question: 'qa', waitMs: 200 }), call(b, 'ask', { question: 'qb', waitMs: 200 })]);
    expect([ra, rb]).toEqual(['answer: from A', 'answer: from B']);
    expect([askedA, askedB]).toEqual([['qa'], ['qb']]);
  });

  it('shared: a sampling request while two agents’ calls are in flight is refused, never handed to the other agent', async () => {
    const { org: o, keyA, keyB } = await org('shared');
    const askedB: string[] = [];
    const a = await agent(o.slug, keyA, () => 'from A');
    const b = await agent(o.slug, keyB, (q) => {
      askedB.push(q);
      return 'from B';
    });
    const [ra, rb] = await Promise.all([
      call(a, 'ask', { question: 'for A only', waitMs: 300 }),
      (async () => {
        await sleep(50);
        return call(b, 'slow', { ms: 800 });
      })(),
    ]);
    expect(ra).toMatch(/^refused: .*cannot be attributed/);
    expect(rb).toBe('done 800');
    expect(askedB).toEqual([]);
    // Alone in flight, the same request is attributable and answered.
    expect(await call(a, 'ask', { question: 'again', waitMs: 0 })).toBe('answer: from A');
  });
});
