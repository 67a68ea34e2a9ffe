import { fullGc, keptHooksSignal } from '../../../test/fixtures/kept-hooks';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, RpcCode, RpcError } from '../../core/jsonrpc';
import { BackendError, type CallContext, GATEWAY_CLIENT_CAPABILITIES, GATEWAY_CLIENT_INFO } from '../types';
import { CallCancelledError, REQUEST_CANCELLED_CODE } from './errors';
import { UpstreamPeer, type UpstreamPeerOptions } from './peer';

/**
 * UpstreamPeer against a real SDK McpServer, linked in memory: the peer is the only client, the
 * server is the SDK's, and every message between them is recorded.
 */

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const resultText = (r: Record<string, unknown>) => (r.content as Array<{ text: string }>)[0].text;

interface Harness {
  peer: UpstreamPeer;
  server: McpServer;
  /** Everything the peer sent upstream. */
  sent: JsonRpcMessage[];
  protocolErrors: string[];
  close(): Promise<void>;
}

const open: Harness[] = [];

async function connect(server: McpServer, options: Partial<UpstreamPeerOptions<undefined>> = {}): Promise<Harness> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const sent: JsonRpcMessage[] = [];
  const protocolErrors: string[] = [];
  const peer = new UpstreamPeer({
    attribution: 'in-flight',
    send: (m) => {
      sent.push(m);
      return clientSide.send(m as JSONRPCMessage);
    },
    defaultTimeoutMs: 5000,
    label: 'test server',
    onProtocolError: (e) => protocolErrors.push(e),
    ...options,
  });
  clientSide.onmessage = (m) => peer.handleMessage(m as unknown as JsonRpcMessage);
  await server.connect(serverSide);
  await clientSide.start();
  const init = await peer.request(
    'initialize',
    { protocolVersion: '2025-11-25', capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO },
    { sessionId: 'gateway' },
  );
  expect(init.protocolVersion).toBe('2025-11-25');
  await peer.notify('notifications/initialized');
  const h: Harness = {
    peer,
    server,
    sent,
    protocolErrors,
    close: async () => {
      await clientSide.close();
      await server.close();
    },
  };
  open.push(h);
  return h;
}

afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

const callTool = (peer: UpstreamPeer, name: string, args: Record<string, unknown>, ctx: CallContext, meta?: Record<string, unknown>) =>
  peer.request('tools/call', meta ? { name, arguments: args, _meta: meta } : { name, arguments: args }, ctx);

/** A server whose tools exercise everything the peer relays. */
function fixtureServer(record: { cancelled: string[] } = { cancelled: [] }) {
  const server = new McpServer({ name: 'peer-fixture', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => text(message));
  server.registerTool('slow', { inputSchema: { ms: z.number(), steps: z.number().optional() } }, async ({ ms, steps = 1 }, extra) => {
    extra.signal.addEventListener('abort', () => record.cancelled.push(String(extra.signal.reason)));
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= steps; i++) {
      await sleep(ms / steps);
      if (extra.signal.aborted) return text('aborted');
      if (token !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
      }
    }
    return text(`done ${ms}`);
  });
  server.registerTool('log', { inputSchema: { message: z.string(), waitMs: z.number().optional() } }, async ({ message, waitMs }) => {
    if (waitMs) await sleep(waitMs);
    await server.sendLoggingMessage({ level: 'info', logger: 'fixture', data: message });
    return text('logged');
  });
  server.registerTool(
    'ask',
    { inputSchema: { question: z.string(), waitMs: z.number().optional(), hint: z.boolean().optional() } },
    async (args, extra) => {
      if (args.waitMs) await sleep(args.waitMs);
      const params: Record<string, unknown> = {
        messages: [{ role: 'user', content: { type: 'text', text: args.question } }],
        maxTokens: 10,
      };
      // The hint: pass the progress token of the call being served along with the request.
      if (args.hint && extra._meta?.progressToken !== undefined) params._meta = { progressToken: extra._meta.progressToken };
      const res = await server.server.createMessage(params as never);
      return text(`answer: ${(res.content as { text: string }).text}`);
    },
  );
  server.registerTool('fail', {}, async () => {
    throw new Error('tool exploded');
  });
  return { server, record };
}

describe('UpstreamPeer with an SDK server', () => {
  it('assigns its own increasing ids and correlates concurrent calls', async () => {
    const { peer, sent } = await connect(fixtureServer().server);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => callTool(peer, 'echo', { message: `m${i}` }, { sessionId: `s${i % 3}` })),
    );
    expect(results.map(resultText)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    const ids = sent.filter((m): m is JsonRpcRequest => 'id' in m && 'method' in m).map((m) => m.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    expect(peer.inFlight).toBe(0);
  });

  it('rewrites progress tokens so two sessions using the same token get only their own progress', async () => {
    const { peer, sent } = await connect(fixtureServer().server);
    const got: Record<string, JsonRpcNotification[]> = { a: [], b: [] };
    const ctx = (s: 'a' | 'b'): CallContext => ({ sessionId: s, onNotification: (n) => got[s].push(n) });
    const [ra, rb] = await Promise.all([
      callTool(peer, 'slow', { ms: 60, steps: 3 }, ctx('a'), { progressToken: 7 }),
      callTool(peer, 'slow', { ms: 60, steps: 2 }, ctx('b'), { progressToken: 7 }),
    ]);
    expect(resultText(ra)).toBe('done 60');
    expect(resultText(rb)).toBe('done 60');
    expect(got.a.map((n) => [n.params?.progressToken, n.params?.progress, n.params?.total])).toEqual([
      [7, 1, 3],
      [7, 2, 3],
      [7, 3, 3],
    ]);
    expect(got.b.map((n) => [n.params?.progressToken, n.params?.progress])).toEqual([
      [7, 1],
      [7, 2],
    ]);
    // Upstream saw the peer's tokens, never the agents' 7.
    const tokens = sent
      .filter((m) => 'method' in m && m.method === 'tools/call')
      .map((m) => ((m as JsonRpcRequest).params!._meta as { progressToken: unknown }).progressToken);
    expect(new Set(tokens).size).toBe(2);
    expect(tokens).not.toContain(7);
  });

  it('does not mutate the agent params when rewriting the token', async () => {
    const { peer } = await connect(fixtureServer().server);
    const params = { name: 'echo', arguments: { message: 'x' }, _meta: { progressToken: 'mine' } };
    await peer.request('tools/call', params, { sessionId: 's' });
    expect(params._meta.progressToken).toBe('mine');
  });

  it('times out, rejects with kind timeout and sends notifications/cancelled upstream', async () => {
    const { server, record } = fixtureServer();
    const { peer, sent } = await connect(server);
    const started = Date.now();
    const err = await callTool(peer, 'slow', { ms: 2000 }, { sessionId: 's', timeoutMs: 150 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).kind).toBe('timeout');
    expect((err as BackendError).error.code).toBe(RpcCode.UpstreamTimeout);
    expect((err as BackendError).message).toMatch(/test server did not answer tools\/call within 150 ms/);
    const cancel = sent.find((m) => 'method' in m && m.method === 'notifications/cancelled') as JsonRpcNotification;
    const call = sent.find((m) => 'method' in m && m.method === 'tools/call') as JsonRpcRequest;
    expect(cancel.params).toEqual({ requestId: call.id, reason: expect.stringMatching(/Timed out/) });
    await sleep(20);
    expect(record.cancelled).toEqual([expect.stringMatching(/Timed out/)]);
    expect(peer.inFlight).toBe(0);
  });

  it('restarts the timer on progress, up to the hard ceiling', async () => {
    const { peer } = await connect(fixtureServer().server, { maxCallMs: 600 });
    // 4 steps of 100 ms with a 400 ms timeout (slack for a busy box): progress keeps it alive.
    const ok = await callTool(peer, 'slow', { ms: 400, steps: 4 }, { sessionId: 's', timeoutMs: 400 }, { progressToken: 'p' });
    expect(resultText(ok)).toBe('done 400');
    // 10 steps of 100 ms: progress all along, but the 600 ms ceiling ends it.
    const err = (await callTool(peer, 'slow', { ms: 1000, steps: 10 }, { sessionId: 's', timeoutMs: 400 }, { progressToken: 'p' }).catch(
      (e) => e,
    )) as BackendError;
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/ceiling/);
  });

  it('can be told not to reset the timer on progress', async () => {
    const { peer } = await connect(fixtureServer().server, { resetTimeoutOnProgress: false });
    const err = (await callTool(peer, 'slow', { ms: 400, steps: 4 }, { sessionId: 's', timeoutMs: 250 }, { progressToken: 'p' }).catch(
      (e) => e,
    )) as BackendError;
    expect(err.kind).toBe('timeout');
  });

  it('sends notifications/cancelled when the agent aborts, and rejects with CallCancelledError', async () => {
    const { server, record } = fixtureServer();
    const { peer, sent } = await connect(server);
    const ac = new AbortController();
    const p = callTool(peer, 'slow', { ms: 2000 }, { sessionId: 's', signal: ac.signal });
    setTimeout(() => ac.abort('agent went away'), 50);
    const err = (await p.catch((e) => e)) as CallCancelledError;
    expect(err).toBeInstanceOf(CallCancelledError);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.error.code).toBe(REQUEST_CANCELLED_CODE);
    const cancel = sent.find((m) => 'method' in m && m.method === 'notifications/cancelled') as JsonRpcNotification;
    expect(cancel.params?.reason).toBe('agent went away');
    await sleep(20);
    expect(record.cancelled).toEqual(['agent went away']);
  });

  it('does not send a call whose signal is already aborted', async () => {
    const { peer, sent } = await connect(fixtureServer().server);
    const before = sent.length;
    const err = await callTool(peer, 'echo', { message: 'x' }, { sessionId: 's', signal: AbortSignal.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(CallCancelledError);
    expect(sent.length).toBe(before);
  });

  it('relays an upstream error as kind upstream', async () => {
    const { peer } = await connect(fixtureServer().server);
    const err = (await peer.request('prompts/get', { name: 'nope' }, { sessionId: 's' }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('upstream');
    expect(err.error.code).toBe(RpcCode.MethodNotFound);
  });

  it('routes logging to the only call in flight, otherwise to unsolicited listeners', async () => {
    const { peer } = await connect(fixtureServer().server);
    const unsolicited: JsonRpcNotification[] = [];
    peer.onUnsolicited((n) => unsolicited.push(n));
    const mine: JsonRpcNotification[] = [];
    await callTool(peer, 'log', { message: 'alone' }, { sessionId: 'a', onNotification: (n) => mine.push(n) });
    expect(mine.map((n) => n.params?.data)).toEqual(['alone']);
    expect(unsolicited).toEqual([]);

    const other: JsonRpcNotification[] = [];
    await Promise.all([
      callTool(peer, 'log', { message: 'crowded' }, { sessionId: 'a', onNotification: (n) => mine.push(n) }),
      callTool(peer, 'slow', { ms: 100 }, { sessionId: 'b', onNotification: (n) => other.push(n) }),
    ]);
    expect(mine.length).toBe(1);
    expect(other).toEqual([]);
    expect(unsolicited.map((n) => [n.method, n.params?.data])).toEqual([['notifications/message', 'crowded']]);
  });

  it('sends list_changed to unsolicited listeners, which can unsubscribe and may throw', async () => {
    const { peer, server, protocolErrors } = await connect(fixtureServer().server);
    const got: string[] = [];
    peer.onUnsolicited(() => {
      throw new Error('listener bug');
    });
    const off = peer.onUnsolicited((n) => got.push(n.method));
    server.sendToolListChanged();
    await sleep(10);
    off();
    server.sendToolListChanged();
    await sleep(10);
    expect(got).toEqual(['notifications/tools/list_changed']);
    expect(protocolErrors.some((e) => /listener threw: listener bug/.test(e))).toBe(true);
  });

  it('answers ping itself', async () => {
    const { server } = await connect(fixtureServer().server);
    await expect(server.server.ping()).resolves.toEqual({});
  });

  it('routes a sampling request to the only session in flight and returns its answer upstream', async () => {
    const { peer } = await connect(fixtureServer().server);
    const seen: JsonRpcRequest[] = [];
    const res = await callTool(
      peer,
      'ask',
      { question: 'why?' },
      {
        sessionId: 'a',
        onServerRequest: async (r) => {
          seen.push(r);
          return { model: 'm', role: 'assistant', content: { type: 'text', text: 'because' } };
        },
      },
    );
    expect(resultText(res)).toBe('answer: because');
    expect(seen[0].method).toBe('sampling/createMessage');
  });

  it('refuses (never guesses) when calls of several sessions are in flight, unless _meta names one', async () => {
    const { peer, sent, protocolErrors } = await connect(fixtureServer().server);
    const asked: string[] = [];
    const answer = (who: string) => async () => {
      asked.push(who);
      return { model: 'm', role: 'assistant', content: { type: 'text', text: who } };
    };
    // Session a starts first, b second: without a hint, neither may be handed a's request.
    const [ra, rb] = await Promise.all([
      callTool(peer, 'ask', { question: 'q', waitMs: 80 }, { sessionId: 'a', onServerRequest: answer('a') }).catch((e: unknown) => e),
      (async () => {
        await sleep(10);
        return callTool(peer, 'slow', { ms: 200 }, { sessionId: 'b', onServerRequest: answer('b') });
      })(),
    ]);
    expect(asked).toEqual([]);
    // The server got the refusal as a JSON-RPC error (its tool turns it into an error).
    const refusal = sent.find((m) => 'error' in m && /cannot be attributed/.test(JSON.stringify(m)));
    expect(refusal).toMatchObject({ error: { code: RpcCode.InternalError } });
    expect(JSON.stringify(ra)).not.toMatch(/answer: b/);
    expect(resultText(rb)).toBe('done 200');
    expect(protocolErrors.some((e) => /refused sampling\/createMessage .* several agent sessions/.test(e))).toBe(true);

    // Two calls of ONE session: that session answers (no other agent is involved).
    const [rs] = await Promise.all([
      callTool(peer, 'ask', { question: 'q', waitMs: 80 }, { sessionId: 'a', onServerRequest: answer('a1') }),
      (async () => {
        await sleep(10);
        return callTool(peer, 'slow', { ms: 200 }, { sessionId: 'a', onServerRequest: answer('a2') });
      })(),
    ]);
    expect(resultText(rs)).toBe('answer: a2');

    // Same race, but the server passes a's progress token along: a answers.
    const [ra2] = await Promise.all([
      callTool(
        peer,
        'ask',
        { question: 'q', waitMs: 80, hint: true },
        { sessionId: 'a', onServerRequest: answer('a') },
        { progressToken: 1 },
      ),
      (async () => {
        await sleep(10);
        return callTool(peer, 'slow', { ms: 200 }, { sessionId: 'b', onServerRequest: answer('b') }, { progressToken: 1 });
      })(),
    ]);
    expect(resultText(ra2)).toBe('answer: a');
  });

  it('skips calls without an onServerRequest hook', async () => {
    const { peer } = await connect(fixtureServer().server);
    const [ra] = await Promise.all([
      callTool(
        peer,
        'ask',
        { question: 'q', waitMs: 50 },
        {
          sessionId: 'a',
          onServerRequest: async () => ({ model: 'm', role: 'assistant', content: { type: 'text', text: 'from a' } }),
        },
      ),
      // The gateway's own catalogue call has no hook and must not swallow the request.
      callTool(peer, 'slow', { ms: 150 }, { sessionId: 'gateway' }),
    ]);
    expect(resultText(ra)).toBe('answer: from a');
  });

  it('answers -32603 when no agent session is waiting', async () => {
    const { server } = await connect(fixtureServer().server);
    const err = await server.server.listRoots().catch((e: { code: number; message: string }) => e);
    expect(err).toMatchObject({
      code: RpcCode.InternalError,
      message: expect.stringMatching(/no agent session is waiting for this request/),
    });
  });

  it("relays the agent's RpcError upstream", async () => {
    const { peer } = await connect(fixtureServer().server);
    const res = await callTool(
      peer,
      'ask',
      { question: 'q' },
      {
        sessionId: 'a',
        onServerRequest: async () => {
          throw new RpcError(RpcCode.MethodNotFound, 'The agent does not support sampling/createMessage');
        },
      },
    );
    // The SDK turns the tool's exception into an isError result that carries our error.
    expect(res.isError).toBe(true);
    expect(resultText(res)).toMatch(/The agent does not support sampling/);
  });

  it('passes an upstream cancellation of its request to the call and drops the late answer', async () => {
    const server = new McpServer({ name: 'canceller', version: '1.0.0' });
    server.registerTool('ask-then-give-up', {}, async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort('server lost interest'), 50);
      const err = await server.server
        .createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'q' } }], maxTokens: 5 }, { signal: ac.signal })
        .catch((e: Error) => e);
      await sleep(100); // Let the agent's late answer arrive.
      return text(`gave up: ${err instanceof Error}`);
    });
    const { peer, sent } = await connect(server);
    const notes: JsonRpcNotification[] = [];
    let upstreamId: unknown;
    const res = await peer.request(
      'tools/call',
      { name: 'ask-then-give-up', arguments: {} },
      {
        sessionId: 'a',
        onNotification: (n) => notes.push(n),
        onServerRequest: async (r) => {
          upstreamId = r.id;
          await sleep(100);
          return { model: 'm', role: 'assistant', content: { type: 'text', text: 'too late' } };
        },
      },
    );
    expect(resultText(res)).toBe('gave up: true');
    expect(notes).toEqual([
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'server lost interest' } },
    ]);
    expect(sent.some((m) => 'id' in m && m.id === upstreamId && !('method' in m))).toBe(false);
  });

  it('fails every pending call with kind crashed on connection loss, and later calls at once', async () => {
    const { peer } = await connect(fixtureServer().server);
    const pending = [callTool(peer, 'slow', { ms: 1000 }, { sessionId: 'a' }), callTool(peer, 'slow', { ms: 1000 }, { sessionId: 'b' })];
    peer.connectionLost('test server went away (exit code 1)', { exitCode: 1 });
    for (const p of pending) {
      const err = (await p.catch((e) => e)) as BackendError;
      expect(err.kind).toBe('crashed');
      expect(err.error).toEqual({
        code: RpcCode.UpstreamUnavailable,
        message: 'test server went away (exit code 1)',
        data: { exitCode: 1 },
      });
    }
    expect(peer.inFlight).toBe(0);
    await expect(callTool(peer, 'echo', { message: 'x' }, { sessionId: 'a' })).rejects.toMatchObject({ kind: 'crashed' });
    await expect(peer.notify('notifications/roots/list_changed')).rejects.toMatchObject({ kind: 'crashed' });
  });
});

describe('UpstreamPeer on its own transport edge cases', () => {
  const ctx: CallContext = { sessionId: 's' };

  it('rejects with kind unavailable when send throws or rejects', async () => {
    const throwing = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: () => {
        throw new Error('pipe closed');
      },
      defaultTimeoutMs: 1000,
    });
    await expect(throwing.request('tools/list', undefined, ctx)).rejects.toMatchObject({
      kind: 'unavailable',
      message: /Could not send tools\/list to upstream: pipe closed/,
    });
    await expect(throwing.notify('notifications/initialized')).rejects.toMatchObject({ kind: 'unavailable' });
    expect(throwing.inFlight).toBe(0);

    const rejecting = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: () => Promise.reject(new Error('HTTP 503')),
      defaultTimeoutMs: 1000,
    });
    await expect(rejecting.request('tools/list', undefined, ctx)).rejects.toMatchObject({ kind: 'unavailable', message: /HTTP 503/ });
    expect(rejecting.inFlight).toBe(0);
  });

  it('ignores late and malformed messages without throwing, and reports what it cannot use', async () => {
    const errors: string[] = [];
    const sent: JsonRpcMessage[] = [];
    const peer = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: (m) => void sent.push(m),
      defaultTimeoutMs: 1000,
      onProtocolError: (e) => errors.push(e),
    });
    const p = peer.request('tools/list', undefined, ctx);
    peer.handleMessage({ jsonrpc: '2.0', id: 99, result: {} }); // unknown id: a late answer
    peer.handleMessage(42 as unknown as JsonRpcMessage);
    peer.handleMessage({ jsonrpc: '2.0' } as unknown as JsonRpcMessage);
    peer.handleMessage({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    peer.handleMessage({ jsonrpc: '2.0', method: 'x', id: { bad: true } } as unknown as JsonRpcMessage);
    peer.handleMessage({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'tg-1', progress: 1 } }); // no agent token: dropped
    expect(errors).toEqual([
      expect.stringMatching(/not a JSON-RPC message/),
      expect.stringMatching(/neither a request/),
      expect.stringMatching(/uncorrelated error: Parse error/),
      expect.stringMatching(/invalid id/),
    ]);
    // A result that is not an object, and a malformed error, still settle the call cleanly.
    peer.handleMessage({ jsonrpc: '2.0', id: 1, result: 'nope' } as unknown as JsonRpcMessage);
    await expect(p).rejects.toMatchObject({ kind: 'upstream', message: /result that is not an object/ });
    const q = peer.request('tools/list', undefined, ctx);
    peer.handleMessage({ jsonrpc: '2.0', id: 2, error: 'bad' } as unknown as JsonRpcMessage);
    await expect(q).rejects.toMatchObject({ kind: 'upstream', error: { code: RpcCode.InternalError } });
  });

  it('never cancels initialize, and answers server requests only while connected', async () => {
    const sent: JsonRpcMessage[] = [];
    const peer = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: (m) => void sent.push(m),
      defaultTimeoutMs: 1000,
    });
    const err = (await peer.request('initialize', {}, { sessionId: 's', timeoutMs: 30 }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('timeout');
    expect(sent.some((m) => 'method' in m && m.method === 'notifications/cancelled')).toBe(false);

    // A server request being answered when the connection dies: the answer is dropped.
    let release!: () => void;
    const call = peer.request(
      'tools/call',
      {},
      {
        sessionId: 's',
        onServerRequest: () => new Promise((r) => (release = () => r({ ok: true }))),
      },
    );
    peer.handleMessage({ jsonrpc: '2.0', id: 'srv-1', method: 'elicitation/create', params: {} });
    peer.connectionLost('gone');
    await expect(call).rejects.toMatchObject({ kind: 'crashed' });
    const count = sent.length;
    release();
    await sleep(5);
    expect(sent.length).toBe(count);
  });

  it('the abort hook left on the agent signal holds nothing of the call, only its id', async () => {
    // A dead AbortSignal keeps its listeners until a full GC (see UpstreamPeer.onAbortOf): the hook
    // must not keep the call's context (in the gateway: the agent's response, its buffers) alive.
    const sent: JsonRpcMessage[] = [];
    const peer = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: (m) => void sent.push(m),
      defaultTimeoutMs: 1000,
    });
    const { signal, hooks } = keptHooksSignal();
    let ctxRef!: WeakRef<CallContext>;
    await (async () => {
      const ctx: CallContext = { sessionId: 's', signal, onNotification: () => undefined };
      ctxRef = new WeakRef(ctx);
      const done = peer.request('tools/call', { name: 'echo' }, ctx);
      const request = sent.at(-1) as JsonRpcRequest;
      peer.handleMessage({ jsonrpc: '2.0', id: request.id, result: { ok: true } });
      await done;
    })();
    expect(hooks).toHaveLength(1);
    await fullGc();
    expect(ctxRef.deref()).toBeUndefined();
    hooks[0]!(); // fired after the call ended: nothing to cancel
    expect(sent.some((m) => 'method' in m && m.method === 'notifications/cancelled')).toBe(false);
  });

  it('answers a non-RpcError failure of the agent as -32603', async () => {
    const sent: JsonRpcMessage[] = [];
    const peer = new UpstreamPeer({
      attribution: 'in-flight',
      label: 'upstream',
      send: (m) => void sent.push(m),
      defaultTimeoutMs: 1000,
    });
    const call = peer.request(
      'tools/call',
      {},
      {
        sessionId: 's',
        onServerRequest: () => {
          throw new Error('agent disconnected');
        },
      },
    );
    peer.handleMessage({ jsonrpc: '2.0', id: 5, method: 'roots/list' });
    await sleep(1);
    expect(sent.at(-1)).toEqual({ jsonrpc: '2.0', id: 5, error: { code: RpcCode.InternalError, message: 'agent disconnected' } });
    peer.handleMessage({ jsonrpc: '2.0', id: 1, result: {} });
    await expect(call).resolves.toEqual({});
  });
});

describe('UpstreamPeer attribution of upstream requests, per transport kind', () => {
  const rawPeer = (attribution: 'stream' | 'in-flight') => {
    const sent: JsonRpcMessage[] = [];
    const errors: string[] = [];
    const peer = new UpstreamPeer({
      attribution,
      label: 'upstream',
      send: (m) => void sent.push(m),
      defaultTimeoutMs: 1000,
      onProtocolError: (e) => errors.push(e),
    });
    return { peer, sent, errors };
  };
  const answeredBy = (who: string[], name: string) => async () => {
    who.push(name);
    return { from: name };
  };
  const reply = (sent: JsonRpcMessage[], id: string) => sent.find((m) => 'id' in m && m.id === id && !('method' in m));

  it('stream: a request on no call stream goes to the out-of-call handler, never to a call in flight', async () => {
    const { peer, sent, errors } = rawPeer('stream');
    const who: string[] = [];
    void peer.request('tools/call', {}, { sessionId: 'a', onServerRequest: answeredBy(who, 'call a') }).catch(() => undefined);
    peer.handleMessage({ jsonrpc: '2.0', id: 'r1', method: 'roots/list' });
    await sleep(5);
    expect(who).toEqual([]);
    expect(reply(sent, 'r1')).toMatchObject({ error: { code: RpcCode.InternalError, message: /no agent session is waiting/ } });
    expect(errors.some((e) => /refused roots\/list/.test(e))).toBe(true);

    peer.onOutOfCallRequest(answeredBy(who, 'owner'));
    peer.handleMessage({ jsonrpc: '2.0', id: 'r2', method: 'roots/list' });
    await sleep(5);
    expect(who).toEqual(['owner']);
    expect(reply(sent, 'r2')).toMatchObject({ result: { from: 'owner' } });
  });

  it('stream: what arrives on a call stream belongs to that call, also a log line with other calls in flight', async () => {
    const { peer, sent } = rawPeer('stream');
    const logs: Record<string, string[]> = { a: [], b: [] };
    const ctxOf = (s: 'a' | 'b'): CallContext => ({ sessionId: s, onNotification: (n) => logs[s].push(n.method) });
    void peer.request('tools/call', {}, ctxOf('a')).catch(() => undefined);
    void peer.request('tools/call', {}, ctxOf('b')).catch(() => undefined);
    const [, callB] = peer.pending();
    peer.handleMessage({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } }, callB);
    expect(logs).toEqual({ a: [], b: ['notifications/message'] });
    // list_changed is about the server as a whole, even on a call's stream.
    const unsolicited: string[] = [];
    peer.onUnsolicited((n) => unsolicited.push(n.method));
    peer.handleMessage({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }, callB);
    expect(unsolicited).toEqual(['notifications/tools/list_changed']);
    expect(sent).toHaveLength(2);
  });

  it('in-flight: a related-task hint names the tasks/result call, whatever else is in flight', async () => {
    const { peer, sent } = rawPeer('in-flight');
    const who: string[] = [];
    // Another agent's call is the only one in flight: a request of a task nobody waits on is refused, not handed to it.
    void peer.request('tools/call', {}, { sessionId: 'b', onServerRequest: answeredBy(who, 'b') }).catch(() => undefined);
    const relatedTo = (taskId: string) => ({ message: 'ok?', _meta: { 'io.modelcontextprotocol/related-task': { taskId } } });
    peer.handleMessage({ jsonrpc: '2.0', id: 'early', method: 'elicitation/create', params: relatedTo('task-9') });
    await sleep(5);
    expect(who).toEqual([]);
    expect(reply(sent, 'early')).toMatchObject({ error: { message: /no agent session is waiting/ } });
    void peer
      .request('tasks/result', { taskId: 'task-9' }, { sessionId: 'a', onServerRequest: answeredBy(who, 'a') })
      .catch(() => undefined);
    peer.handleMessage({
      jsonrpc: '2.0',
      id: 'r1',
      method: 'elicitation/create',
      params: { message: 'ok?', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'task-9' } } },
    });
    await sleep(5);
    expect(who).toEqual(['a']);
    // A task id an agent put into another method's params names nothing.
    void peer
      .request('tools/call', { name: 'x', taskId: 'task-7' }, { sessionId: 'c', onServerRequest: answeredBy(who, 'c') })
      .catch(() => undefined);
    peer.handleMessage({
      jsonrpc: '2.0',
      id: 'r0',
      method: 'elicitation/create',
      params: { message: 'ok?', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 'task-7' } } },
    });
    await sleep(5);
    expect(who).toEqual(['a']);
    expect(reply(sent, 'r0')).toMatchObject({ error: { message: /cannot be attributed/ } });
    // Without the hint the same request is refused: two sessions are in flight.
    peer.handleMessage({ jsonrpc: '2.0', id: 'r2', method: 'elicitation/create', params: { message: 'ok?' } });
    await sleep(5);
    expect(who).toEqual(['a']);
    expect(reply(sent, 'r2')).toMatchObject({ error: { message: /cannot be attributed/ } });
  });

  it('in-flight: with no call in flight the out-of-call handler answers; without one the request is refused', async () => {
    const { peer, sent } = rawPeer('in-flight');
    peer.handleMessage({ jsonrpc: '2.0', id: 'r1', method: 'roots/list' });
    await sleep(5);
    expect(reply(sent, 'r1')).toMatchObject({ error: { message: /no agent session is waiting/ } });
    const who: string[] = [];
    peer.onOutOfCallRequest(answeredBy(who, 'owner'));
    peer.handleMessage({ jsonrpc: '2.0', id: 'r2', method: 'roots/list' });
    await sleep(5);
    expect(reply(sent, 'r2')).toMatchObject({ result: { from: 'owner' } });
  });
});
