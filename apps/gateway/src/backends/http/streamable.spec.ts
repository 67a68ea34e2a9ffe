import { fullGc, keptHooksSignal } from '../../../test/fixtures/kept-hooks';
import type { SnapshotServer } from '@toolgate/contracts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Fixture, type StreamableFixture, startRawFixture, startStreamableFixture } from '../../../test/fixtures/http-mcp-server';
import type { JsonRpcNotification, JsonRpcRequest } from '../../core/jsonrpc';
import { RpcCode, RpcError } from '../../core/jsonrpc';
import { type BackendSpec, type CallContext } from '../types';
import { CallCancelledError } from '../upstream/errors';
import { upstreamHeaders } from './headers';
import { StreamableHttpBackend, type StreamableHttpOptions } from './streamable';
import { ctx, rejection, textOf } from '../../../test/fixtures/backend-helpers';
import { waitFor } from '../../../test/fixtures/stdio-helpers';

function spec(url: string | null, headers: Record<string, string> = {}, server: Partial<SnapshotServer> = {}): BackendSpec {
  return {
    orgId: 'org_test',
    key: `org_test:srv:${url}`,
    env: {},
    headers,
    secrets: [],
    server: {
      id: 'srv_1',
      slug: 'fixture',
      name: 'Fixture',
      transport: 'streamable-http',
      command: null,
      args: [],
      url,
      headers: {},
      env: {},
      network: 'none',
      timeoutMs: 5000,
      tags: [],
      ...server,
    },
  };
}

/** A port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const backends: StreamableHttpBackend[] = [];
const fixtures: Fixture[] = [];
function backend(s: BackendSpec, options?: StreamableHttpOptions): StreamableHttpBackend {
  const b = new StreamableHttpBackend(s, options);
  backends.push(b);
  return b;
}
async function fixture(options?: Parameters<typeof startStreamableFixture>[0]): Promise<StreamableFixture> {
  const f = await startStreamableFixture(options);
  fixtures.push(f);
  return f;
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

describe.each([
  ['SSE responses', false],
  ['JSON responses', true],
])('StreamableHttpBackend against the SDK server (%s)', (_name, jsonResponse) => {
  it('initializes once, then lists and calls tools with the session and protocol version', async () => {
    const f = await fixture({ jsonResponse });
    const b = backend(spec(f.url));
    expect(b.health).toBe('starting');
    const [info, again] = await Promise.all([b.ready(), b.ready()]);
    expect(info).toBe(again);
    expect(info.protocolVersion).toBe('2025-11-25');
    expect(info.serverInfo.name).toBe('toolgate-http-fixture');
    expect(b.health).toBe('up');
    expect(f.stats.initializations).toBe(1);
    await waitFor(() => f.stats.initialized === 1);

    const list = await b.request('tools/list', undefined, ctx());
    expect((list.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(
      expect.arrayContaining(['echo', 'slow', 'progress', 'sample']),
    );
    const echoed = await b.request('tools/call', { name: 'echo', arguments: { text: 'héllo wörld' } }, ctx());
    expect(textOf(echoed)).toBe('héllo wörld');

    const [init, ...later] = f.stats.requests.filter((r) => r.method === 'POST');
    expect(init.headers['mcp-session-id']).toBeUndefined();
    expect(init.headers.accept).toBe('application/json, text/event-stream');
    expect(init.headers['content-type']).toBe('application/json');
    for (const r of later) {
      expect(r.headers['mcp-session-id']).toBe(b.upstreamSessionId);
      expect(r.headers['mcp-protocol-version']).toBe('2025-11-25');
    }
    expect(b.inFlight).toBe(0);
  });

  it('runs concurrent calls without mixing them up, with its own upstream ids', async () => {
    const f = await fixture({ jsonResponse });
    const b = backend(spec(f.url));
    const texts = Array.from({ length: 25 }, (_, i) => `call-${i}`);
    const results = await Promise.all(
      texts.map((t) => b.request('tools/call', { name: 'echo', arguments: { text: t } }, ctx({ sessionId: `agent-${t}` }))),
    );
    expect(results.map(textOf)).toEqual(texts);
  });

  it('relays a JSON-RPC error the upstream answers with as kind "upstream"', async () => {
    const f = await fixture({ jsonResponse });
    const b = backend(spec(f.url));
    const e = await rejection(b.request('prompts/get', { name: 'no-such-prompt' }, ctx()));
    expect(e.kind).toBe('upstream');
    expect(typeof e.error.code).toBe('number');
    expect(b.breaker.state).toBe('closed');
  });
});

describe('StreamableHttpBackend: streams, progress and server-to-client requests', () => {
  it('rewrites progress tokens upstream and maps them back, for identical agent tokens in parallel', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const seenA: JsonRpcNotification[] = [];
    const seenB: JsonRpcNotification[] = [];
    // Two agents that both use progress token 1 (and would both use JSON-RPC id 1).
    const [a, c] = await Promise.all([
      b.request(
        'tools/call',
        { name: 'progress', arguments: { steps: 3 }, _meta: { progressToken: 1 } },
        ctx({ sessionId: 'agent-A', onNotification: (n) => seenA.push(n) }),
      ),
      b.request(
        'tools/call',
        { name: 'progress', arguments: { steps: 5 }, _meta: { progressToken: 1 } },
        ctx({ sessionId: 'agent-B', onNotification: (n) => seenB.push(n) }),
      ),
    ]);
    expect(textOf(a)).toBe('done 3');
    expect(textOf(c)).toBe('done 5');
    expect(seenA.map((n) => n.params?.progress)).toEqual([1, 2, 3]);
    expect(seenB.map((n) => n.params?.progress)).toEqual([1, 2, 3, 4, 5]);
    for (const n of [...seenA, ...seenB]) {
      expect(n.method).toBe('notifications/progress');
      expect(n.params?.progressToken).toBe(1);
    }
    // The upstream saw the backend's own tokens, distinct, never the agents'.
    expect(f.stats.progressTokens).toHaveLength(2);
    expect(new Set(f.stats.progressTokens).size).toBe(2);
    for (const t of f.stats.progressTokens) expect(String(t)).toMatch(/^tg-\d+$/);
  });

  it('gives a log message sent on the call stream to that call', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const seen: JsonRpcNotification[] = [];
    await b.request('tools/call', { name: 'log', arguments: { text: 'working on it' } }, ctx({ onNotification: (n) => seen.push(n) }));
    expect(seen).toEqual([{ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'working on it' } }]);
  });

  it('answers a sampling request through THAT call’s onServerRequest and posts the answer back', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const askedA: JsonRpcRequest[] = [];
    const askedB: JsonRpcRequest[] = [];
    const [a, c] = await Promise.all([
      b.request(
        'tools/call',
        { name: 'sample', arguments: { prompt: 'from A' } },
        ctx({
          sessionId: 'agent-A',
          onServerRequest: async (r) => {
            askedA.push(r);
            return { role: 'assistant', content: { type: 'text', text: 'answer A' }, model: 'test-model' };
          },
        }),
      ),
      b.request(
        'tools/call',
        { name: 'sample', arguments: { prompt: 'from B' } },
        ctx({
          sessionId: 'agent-B',
          onServerRequest: async (r) => {
            askedB.push(r);
            await new Promise((res) => setTimeout(res, 30));
            return { role: 'assistant', content: { type: 'text', text: 'answer B' }, model: 'test-model' };
          },
        }),
      ),
    ]);
    expect(textOf(a)).toBe('sampled: answer A');
    expect(textOf(c)).toBe('sampled: answer B');
    expect(askedA).toHaveLength(1);
    expect(askedA[0].method).toBe('sampling/createMessage');
    expect(JSON.stringify(askedA[0].params)).toContain('from A');
    expect(JSON.stringify(askedB[0].params)).toContain('from B');
  });

  it('relays the agent’s RpcError for a server request, and refuses when the call has no hook', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const refused = await b.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'x' } },
      ctx({
        onServerRequest: async () => {
          throw new RpcError(-32600, 'the user declined');
        },
      }),
    );
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('the user declined');
    const noHook = await b.request('tools/call', { name: 'sample', arguments: { prompt: 'x' } }, ctx());
    expect(noHook.isError).toBe(true);
    expect(textOf(noHook)).toContain('no agent session is waiting');
  });

  it('passes the upstream’s cancellation of its own request to the call and drops the late answer', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const seen: JsonRpcNotification[] = [];
    let answered = 0;
    const result = await b.request(
      'tools/call',
      { name: 'sample-impatient', arguments: {} },
      ctx({
        onNotification: (n) => seen.push(n),
        onServerRequest: async () => {
          await new Promise((r) => setTimeout(r, 300));
          answered++;
          return { role: 'assistant', content: { type: 'text', text: 'too late' }, model: 'm' };
        },
      }),
    );
    expect(textOf(result)).toBe('gave up');
    expect(seen.map((n) => n.method)).toContain('notifications/cancelled');
    const postsBefore = f.stats.requests.filter((r) => r.method === 'POST').length;
    await waitFor(() => answered === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(f.stats.requests.filter((r) => r.method === 'POST').length).toBe(postsBefore);
  });

  it('delivers unsolicited notifications from the GET stream and answers pings there', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const unsolicited: JsonRpcNotification[] = [];
    const off = b.onUnsolicited((n) => unsolicited.push(n));
    await b.ready();
    await waitFor(() => f.stats.requests.some((r) => r.method === 'GET'));
    const get = f.stats.requests.find((r) => r.method === 'GET')!;
    expect(get.headers.accept).toBe('text/event-stream');
    expect(get.headers['mcp-session-id']).toBe(b.upstreamSessionId);
    // Give the server a moment to register the stream before it sends on it.
    await new Promise((r) => setTimeout(r, 50));
    await b.request('tools/call', { name: 'touch', arguments: {} }, ctx());
    await waitFor(() => unsolicited.length === 1);
    expect(unsolicited[0].method).toBe('notifications/tools/list_changed');
    const pong = await b.request('tools/call', { name: 'ping-client', arguments: {} }, ctx());
    expect(textOf(pong)).toBe('pong');
    off();
    f.touchAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(unsolicited).toHaveLength(1);
  });

  it('does not retry the GET stream when the upstream answers 405', async () => {
    const f = await fixture({ noGetStream: true });
    const b = backend(spec(f.url), { reconnectMinMs: 5 });
    await b.ready();
    await b.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, ctx());
    await new Promise((r) => setTimeout(r, 100));
    expect(f.stats.requests.filter((r) => r.method === 'GET')).toHaveLength(1);
  });

  it('resumes a response stream the upstream closed early (GET + Last-Event-ID)', async () => {
    const f = await fixture({ eventStore: true });
    const b = backend(spec(f.url), { eventStream: false });
    const progress: unknown[] = [];
    const result = await b.request(
      'tools/call',
      { name: 'interrupt', arguments: { steps: 2 }, _meta: { progressToken: 'p' } },
      ctx({ onNotification: (n) => progress.push(n.params?.progress) }),
    );
    expect(textOf(result)).toBe('finished after reconnect');
    expect(progress).toEqual([1, 2, 3, 4]);
    const resume = f.stats.requests.find((r) => r.method === 'GET');
    expect(resume?.headers['last-event-id']).toBeTruthy();
  });

  it('cuts a call stream the upstream leaves open after the response, and fails a stream cut midway', async () => {
    let socketClosed = false;
    const f = await startRawFixture((req, res, body) => {
      if (!body) return void res.writeHead(405).end();
      const m = JSON.parse(body);
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1' } },
          }),
        );
      } else if (m.id === undefined) res.writeHead(202).end();
      else if (m.method === 'tools/list') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { tools: [] } })}\n\n`);
        req.socket.once('close', () => {
          socketClosed = true;
        });
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': starting\n\n');
        setTimeout(() => req.socket.destroy(), 20);
      }
    });
    fixtures.push(f);
    const b = backend(spec(f.url), { eventStream: false });
    const started = Date.now();
    expect(await b.request('tools/list', undefined, ctx())).toEqual({ tools: [] });
    expect(Date.now() - started).toBeLessThan(500);
    await waitFor(() => socketClosed, 3000);
    const e = await rejection(b.request('prompts/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toMatch(/connection (closed|reset)|closed before the response/);
  });

  it('gives up resuming a stream that keeps closing without new events', async () => {
    let gets = 0;
    const f = await startRawFixture((req, res, body) => {
      if (req.method === 'GET') {
        gets++;
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': nothing new\n\n');
        return;
      }
      if (!body) return void res.writeHead(405).end();
      const m = JSON.parse(body);
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1' } },
          }),
        );
      } else if (m.id === undefined) res.writeHead(202).end();
      else res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: e1\nretry: 5\ndata: \n\n');
    });
    fixtures.push(f);
    const b = backend(spec(f.url), { eventStream: false });
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.error.message).toContain('closed before the response');
    expect(gets).toBe(3);
    expect(f.stats.requests.filter((r) => r.method === 'GET').every((r) => r.headers['last-event-id'] === 'e1')).toBe(true);
  });

  it('fails a call whose response stream ends early with nothing to resume from', async () => {
    const f = await startRawFixture((_req, res, body) => {
      const m = JSON.parse(body);
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'raw', version: '1' } },
          }),
        );
      } else if (m.id === undefined) res.writeHead(202).end();
      else
        res
          .writeHead(200, { 'content-type': 'text/event-stream' })
          .end('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
    });
    fixtures.push(f);
    const b = backend(spec(f.url), { eventStream: false });
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('closed before the response');
    // The negotiated (older) version is what later requests carry.
    expect(f.stats.requests.at(-1)?.headers['mcp-protocol-version']).toBe('2025-06-18');
  });
});

describe('StreamableHttpBackend: headers', () => {
  it('sends configured headers, never Authorization unless configured, and strips hop-by-hop ones', async () => {
    const f = await fixture({ requireHeader: { name: 'x-api-key', value: 'secret-key-1' } });
    const b = backend(
      spec(f.url, {
        'X-Api-Key': 'secret-key-1',
        Connection: 'close, X-Drop-Me',
        'X-Drop-Me': '1',
        'Proxy-Authorization': 'Basic eA==',
        'Transfer-Encoding': 'chunked',
        Host: 'evil.example',
        'MCP-Session-Id': 'forged',
      }),
    );
    const who = JSON.parse(textOf(await b.request('tools/call', { name: 'whoami', arguments: {} }, ctx())));
    expect(who).toEqual({ apiKey: 'secret-key-1', authorization: null });
    expect(f.stats.requests.length).toBeGreaterThan(2);
    for (const r of f.stats.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['proxy-authorization']).toBeUndefined();
      expect(r.headers['x-drop-me']).toBeUndefined();
      expect(r.headers.host).toBe(`127.0.0.1:${f.port}`);
      expect(r.headers['mcp-session-id']).not.toBe('forged');
    }
  });

  it('relays the upstream’s JSON-RPC error when it refuses the credentials', async () => {
    const f = await fixture({ requireHeader: { name: 'x-api-key', value: 'right' } });
    const b = backend(spec(f.url, { 'x-api-key': 'wrong' }));
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('upstream');
    expect(e.error).toEqual({ code: -32001, message: 'missing or wrong API key' });
    expect(b.health).toBe('down');
  });

  it('keeps a configured Authorization (the upstream’s own credential)', () => {
    expect(upstreamHeaders({ Authorization: 'Bearer upstream-token', 'X-A': 'b' })).toEqual({
      authorization: 'Bearer upstream-token',
      'x-a': 'b',
    });
  });

  it('refuses header injection and a bad URL as misconfiguration', async () => {
    const bad = backend(spec('http://127.0.0.1:1/mcp', { 'X-Evil': 'a\r\nInjected: 1' }));
    const e = await rejection(bad.ready());
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('misconfigured');
    const noUrl = backend(spec(null));
    expect((await rejection(noUrl.request('tools/list', undefined, ctx()))).error.message).toContain('no valid URL');
    const ftp = backend(spec('ftp://127.0.0.1/x'));
    expect((await rejection(ftp.ready())).error.message).toContain('unsupported URL scheme');
  });
});

describe('StreamableHttpBackend: upstream session expiry', () => {
  it('re-initializes once on 404 and retries the call transparently', async () => {
    const f = await fixture();
    const b = backend(spec(f.url), { reconnectMinMs: 5 });
    await b.request('tools/call', { name: 'echo', arguments: { text: 'before' } }, ctx());
    const first = b.upstreamSessionId;
    expect(first).toBeTruthy();
    await f.dropSessions();
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => b.request('tools/call', { name: 'echo', arguments: { text: `after-${i}` } }, ctx())),
    );
    expect(results.map(textOf)).toEqual(['after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
    expect(b.upstreamSessionId).toBeTruthy();
    expect(b.upstreamSessionId).not.toBe(first);
    expect(f.stats.initializations).toBe(2);
    await waitFor(() => f.stats.initialized === 2);
    // The GET stream follows the new session.
    await waitFor(() => f.stats.requests.some((r) => r.method === 'GET' && r.headers['mcp-session-id'] === b.upstreamSessionId));
  });

  it('re-initializes when the GET stream learns that the session is gone, and keeps delivering', async () => {
    const f = await fixture();
    const b = backend(spec(f.url), { reconnectMinMs: 5, reconnectMaxMs: 20 });
    const seen: JsonRpcNotification[] = [];
    b.onUnsolicited((n) => seen.push(n));
    await b.ready();
    await waitFor(() => f.stats.requests.some((r) => r.method === 'GET'));
    await f.dropSessions();
    await waitFor(() => f.stats.initializations === 2 && f.sessionCount === 1);
    await waitFor(
      () => f.stats.requests.filter((r) => r.method === 'GET' && r.headers['mcp-session-id'] === b.upstreamSessionId).length > 0,
    );
    await new Promise((r) => setTimeout(r, 50));
    f.touchAll();
    await waitFor(() => seen.length === 1);
  });
});

describe('StreamableHttpBackend: failures', () => {
  it('maps a closed port to "unavailable" naming the origin', async () => {
    const port = await closedPort();
    const b = backend(spec(`http://127.0.0.1:${port}/mcp?token=secret`));
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.code).toBe(RpcCode.UpstreamUnavailable);
    expect(e.error.message).toBe(`Upstream http://127.0.0.1:${port} is unavailable: connection refused`);
    expect(e.error.message).not.toContain('secret');
    expect(b.health).toBe('down');
  });

  it('times out a slow call, and the upstream sees notifications/cancelled', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    const started = Date.now();
    const e = await rejection(b.request('tools/call', { name: 'slow', arguments: { ms: 5000 } }, ctx({ timeoutMs: 200 })));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.kind).toBe('timeout');
    expect(e.error.code).toBe(RpcCode.UpstreamTimeout);
    expect(e.error.message).toContain('did not answer tools/call within 200 ms');
    await waitFor(() => f.stats.cancelled.length === 1);
    expect(f.stats.cancelled[0].requestId).toBe(f.stats.callIds[0]);
    expect(String(f.stats.cancelled[0].reason)).toContain('Timed out');
    // The backend goes on working.
    expect(textOf(await b.request('tools/call', { name: 'echo', arguments: { text: 'still here' } }, ctx()))).toBe('still here');
  });

  it('uses the server timeout when the call gives none, and restarts it on progress', async () => {
    const f = await fixture();
    const b = backend(spec(f.url, {}, { timeoutMs: 150 }));
    await b.ready();
    const e = await rejection(b.request('tools/call', { name: 'slow', arguments: { ms: 3000 } }, ctx()));
    expect(e.kind).toBe('timeout');
    // 40 steps × 5 ms = 200 ms in all, more than the 150 ms timeout, but progress keeps it alive.
    const done = await b.request(
      'tools/call',
      { name: 'progress', arguments: { steps: 40 }, _meta: { progressToken: 'p' } },
      ctx({ onNotification: () => undefined }),
    );
    expect(textOf(done)).toBe('done 40');
  });

  it('cancels upstream when the agent aborts, without counting it against the upstream', async () => {
    const f = await fixture();
    const b = backend(spec(f.url), { breaker: { failureThreshold: 1 } });
    await b.ready();
    const abort = new AbortController();
    const pending = b.request('tools/call', { name: 'slow', arguments: { ms: 5000 } }, ctx({ signal: abort.signal }));
    await waitFor(() => f.stats.callIds.length === 1);
    abort.abort();
    const e = await rejection(pending);
    expect(e).toBeInstanceOf(CallCancelledError);
    await waitFor(() => f.stats.cancelled.length === 1);
    expect(b.breaker.state).toBe('closed');
    const already = await rejection(b.request('tools/list', undefined, ctx({ signal: abort.signal })));
    expect(already).toBeInstanceOf(CallCancelledError);
  });

  it('the abort hook left on the agent signal holds nothing of the call', async () => {
    // A dead AbortSignal keeps its listeners until a full GC (see CallTable.onAbortOf).
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    const { signal, hooks } = keptHooksSignal();
    let ctxRef!: WeakRef<CallContext>;
    await (async () => {
      const c = ctx({ signal });
      ctxRef = new WeakRef(c);
      expect(textOf(await b.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, c))).toContain('x');
    })();
    expect(hooks).toHaveLength(1);
    await fullGc();
    expect(ctxRef.deref()).toBeUndefined();
    hooks[0]!(); // fired after the call ended: nothing to cancel
    await new Promise((r) => setTimeout(r, 50));
    expect(f.stats.cancelled).toHaveLength(0);
  });

  it('maps a 500 with a garbage body to "unavailable" with the status', async () => {
    const f = await startRawFixture((_req, res) =>
      res.writeHead(500, { 'content-type': 'text/html' }).end('<html>upstream exploded</html>'),
    );
    fixtures.push(f);
    const b = backend(spec(f.url));
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('HTTP 500');
    expect(e.error.data).toMatchObject({ status: 500 });
  });

  it('relays a JSON-RPC error body on a 4xx/5xx; maps odd 2xx answers to "unavailable"', async () => {
    const f = await startRawFixture((_req, res, body) => {
      if (!body) return void res.writeHead(405).end(); // the DELETE on close
      const m = JSON.parse(body);
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'raw-session' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1' } },
          }),
        );
      } else if (m.id === undefined) res.writeHead(202).end();
      else if (m.method === 'tools/list')
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32050, message: 'overloaded', data: { retry: 1 } } }));
      else if (m.method === 'prompts/list') res.writeHead(202).end();
      else if (m.method === 'resources/list') res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 987654, result: {} }));
    });
    fixtures.push(f);
    const b = backend(spec(f.url), { eventStream: false });
    const relayed = await rejection(b.request('tools/list', undefined, ctx()));
    expect(relayed.kind).toBe('upstream');
    expect(relayed.error).toEqual({ code: -32050, message: 'overloaded', data: { retry: 1 } });
    expect((await rejection(b.request('prompts/list', undefined, ctx()))).error.message).toContain('HTTP 202');
    expect((await rejection(b.request('resources/list', undefined, ctx()))).error.message).toContain(
      'HTTP 200 without a JSON or event-stream response',
    );
    expect((await rejection(b.request('templates/list', undefined, ctx()))).error.message).toContain('did not answer the request');
  });

  it('fails initialize (without waiting on itself) when the upstream forgets the session at once', async () => {
    const f = await startRawFixture((_req, res, body) => {
      const m = body ? JSON.parse(body) : {};
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'gone-at-once' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: m.id,
            result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'raw', version: '1' } },
          }),
        );
      } else res.writeHead(404).end();
    });
    fixtures.push(f);
    const b = backend(spec(f.url));
    const e = await rejection(b.ready());
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('HTTP 404');
    expect(b.health).toBe('down');
  });

  it('refuses an upstream that speaks an unknown protocol version', async () => {
    const f = await startRawFixture((_req, res, body) => {
      const m = JSON.parse(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: m.id,
          result: { protocolVersion: '1999-01-01', capabilities: {}, serverInfo: { name: 'old', version: '1' } },
        }),
      );
    });
    fixtures.push(f);
    const b = backend(spec(f.url));
    expect((await rejection(b.ready())).error.message).toContain('unsupported protocol version 1999-01-01');
  });

  it('refuses a response larger than maxMessageBytes', async () => {
    const f = await fixture({ jsonResponse: true });
    const b = backend(spec(f.url), { maxMessageBytes: 2048 });
    const e = await rejection(b.request('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(5000) } }, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('over 2048 bytes');
  });

  it('opens the circuit after consecutive failures and recovers once the upstream is back', async () => {
    const port = await closedPort();
    const b = backend(spec(`http://127.0.0.1:${port}/mcp`), { breaker: { failureThreshold: 3, openMs: 300 } });
    for (let i = 0; i < 3; i++)
      expect((await rejection(b.request('tools/list', undefined, ctx()))).error.message).toContain('connection refused');
    expect(b.breaker.state).toBe('open');
    expect(b.health).toBe('circuit-open');
    const fast = await rejection(b.request('tools/list', undefined, ctx()));
    expect(fast.kind).toBe('unavailable');
    expect(fast.error.code).toBe(RpcCode.UpstreamUnavailable);
    expect(fast.error.message).toMatch(/circuit open, retry in \d+s/);
    expect((await rejection(b.ready())).error.message).toContain('circuit open');

    const f = await fixture({ port });
    await new Promise((r) => setTimeout(r, 320));
    expect(b.breaker.state).toBe('half-open');
    const list = await b.request('tools/list', undefined, ctx());
    expect(Array.isArray(list.tools)).toBe(true);
    expect(b.breaker.state).toBe('closed');
    expect(b.health).toBe('up');
    expect(f.stats.initializations).toBe(1);
  });

  it('reopens the circuit when the half-open trial fails', async () => {
    const port = await closedPort();
    const b = backend(spec(`http://127.0.0.1:${port}/mcp`), { breaker: { failureThreshold: 1, openMs: 100 } });
    await rejection(b.request('tools/list', undefined, ctx()));
    expect(b.breaker.state).toBe('open');
    await new Promise((r) => setTimeout(r, 120));
    expect((await rejection(b.request('tools/list', undefined, ctx()))).error.message).toContain('connection refused');
    expect(b.breaker.state).toBe('open');
  });
});

describe('StreamableHttpBackend: close', () => {
  it('deletes the upstream session, fails calls in flight and refuses new ones', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    const pending = b.request('tools/call', { name: 'slow', arguments: { ms: 5000 } }, ctx());
    await waitFor(() => f.stats.callIds.length === 1);
    const failed = rejection(pending);
    await b.close();
    const e = await failed;
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('backend closed');
    expect(f.stats.deletes).toBe(1);
    expect(f.sessionCount).toBe(0);
    expect((await rejection(b.request('tools/list', undefined, ctx()))).error.message).toContain('backend closed');
    expect((await rejection(b.ready())).error.message).toContain('backend closed');
    await b.close();
  });

  it('sends notifications and fails them on a dead upstream', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.notify('notifications/roots/list_changed');
    expect(f.stats.requests.at(-1)?.method).toBe('POST');
    await f.close();
    fixtures.splice(fixtures.indexOf(f), 1);
    const e = await rejection(b.notify('notifications/roots/list_changed'));
    expect(e.kind).toBe('unavailable');
  });
});
