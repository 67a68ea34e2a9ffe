import type { SnapshotServer } from '@toolgate/contracts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Fixture, type SseFixture, startRawFixture, startSseFixture } from '../../../test/fixtures/http-mcp-server';
import type { JsonRpcNotification, JsonRpcRequest } from '../../core/jsonrpc';
import { RpcCode } from '../../core/jsonrpc';
import type { UpstreamOptions } from './base';
import { SseBackend } from './sse';
import { type BackendSpec } from '../types';
import { ctx, rejection, textOf } from '../../../test/fixtures/backend-helpers';
import { waitFor } from '../../../test/fixtures/stdio-helpers';

function spec(url: string, headers: Record<string, string> = {}, server: Partial<SnapshotServer> = {}): BackendSpec {
  return {
    orgId: 'org_test',
    key: `org_test:sse:${url}`,
    env: {},
    headers,
    secrets: [],
    server: {
      id: 'srv_sse',
      slug: 'legacy',
      name: 'Legacy',
      transport: 'sse',
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

const sampled = (text: string) => async () => ({ role: 'assistant', content: { type: 'text', text }, model: 'test-model' });

const backends: SseBackend[] = [];
const fixtures: Fixture[] = [];
function backend(s: BackendSpec, options?: UpstreamOptions): SseBackend {
  const b = new SseBackend(s, options);
  backends.push(b);
  return b;
}
async function fixture(options?: Parameters<typeof startSseFixture>[0]): Promise<SseFixture> {
  const f = await startSseFixture(options);
  fixtures.push(f);
  return f;
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

describe('SseBackend (legacy HTTP+SSE) against the SDK SSEServerTransport', () => {
  it('connects, waits for the endpoint, initializes and calls tools', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const info = await b.ready();
    expect(info.serverInfo.name).toBe('toolgate-http-fixture');
    expect(b.connected).toBe(true);
    expect(b.health).toBe('up');
    await waitFor(() => f.stats.initialized === 1);
    const list = await b.request('tools/list', undefined, ctx());
    expect((list.tools as Array<{ name: string }>).map((t) => t.name)).toContain('echo');
    const texts = Array.from({ length: 20 }, (_, i) => `legacy-${i}`);
    const results = await Promise.all(texts.map((t) => b.request('tools/call', { name: 'echo', arguments: { text: t } }, ctx())));
    expect(results.map(textOf)).toEqual(texts);
    const get = f.stats.requests.find((r) => r.method === 'GET')!;
    expect(get.headers.accept).toBe('text/event-stream');
    expect(f.stats.requests.filter((r) => r.method === 'POST').every((r) => r.url.startsWith('/messages?sessionId='))).toBe(true);
  });

  it('sends configured headers on the stream and the posts, and no Authorization', async () => {
    const f = await fixture({ requireHeader: { name: 'x-api-key', value: 'legacy-key' } });
    const b = backend(spec(f.url, { 'X-Api-Key': 'legacy-key', 'Keep-Alive': 'timeout=1' }));
    await b.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, ctx());
    for (const r of f.stats.requests) {
      expect(r.headers['x-api-key']).toBe('legacy-key');
      expect(r.headers.authorization).toBeUndefined();
    }
  });

  it('maps progress back to each agent’s own token', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const a: unknown[] = [];
    const c: unknown[] = [];
    await Promise.all([
      b.request(
        'tools/call',
        { name: 'progress', arguments: { steps: 2 }, _meta: { progressToken: 'same' } },
        ctx({ onNotification: (n) => a.push([n.params?.progressToken, n.params?.progress]) }),
      ),
      b.request(
        'tools/call',
        { name: 'progress', arguments: { steps: 3 }, _meta: { progressToken: 'same' } },
        ctx({ onNotification: (n) => c.push([n.params?.progressToken, n.params?.progress]) }),
      ),
    ]);
    expect(a).toEqual([
      ['same', 1],
      ['same', 2],
    ]);
    expect(c).toEqual([
      ['same', 1],
      ['same', 2],
      ['same', 3],
    ]);
  });

  it('routes a sampling request to the one session in flight, and a log line to the only call', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const asked: JsonRpcRequest[] = [];
    const result = await b.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'legacy prompt' } },
      ctx({
        onServerRequest: async (r) => {
          asked.push(r);
          return sampled('legacy answer')();
        },
      }),
    );
    expect(textOf(result)).toBe('sampled: legacy answer');
    expect(asked[0].method).toBe('sampling/createMessage');
    const logs: JsonRpcNotification[] = [];
    await b.request('tools/call', { name: 'log', arguments: { text: 'legacy log' } }, ctx({ onNotification: (n) => logs.push(n) }));
    expect(logs.map((n) => n.params?.data)).toEqual(['legacy log']);
  });

  it('refuses to guess between two agent sessions for a server request', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    const other = b.request(
      'tools/call',
      { name: 'slow', arguments: { ms: 300 } },
      ctx({ sessionId: 'agent-B', onServerRequest: sampled('B must not be asked') }),
    );
    await waitFor(() => f.stats.callIds.length === 1);
    const mine = await b.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'p' } },
      ctx({ sessionId: 'agent-A', onServerRequest: sampled('A') }),
    );
    expect(mine.isError).toBe(true);
    expect(textOf(mine)).toContain('cannot be attributed to one agent session');
    expect(textOf(await other)).toBe('slept 300');
  });

  it('routes a server request exactly when it carries the call’s progress token, even with two sessions in flight', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    const other = b.request(
      'tools/call',
      { name: 'slow', arguments: { ms: 300 } },
      ctx({ sessionId: 'agent-B', onServerRequest: sampled('B must not be asked') }),
    );
    await waitFor(() => f.stats.callIds.length === 1);
    const mine = await b.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'p' }, _meta: { progressToken: 'a-1' } },
      ctx({ sessionId: 'agent-A', onServerRequest: sampled('from A') }),
    );
    expect(textOf(mine)).toBe('sampled: from A');
    expect(textOf(await other)).toBe('slept 300');
  });

  it('delivers unsolicited notifications', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const seen: JsonRpcNotification[] = [];
    b.onUnsolicited((n) => seen.push(n));
    await b.request('tools/call', { name: 'touch', arguments: {} }, ctx());
    await waitFor(() => seen.length === 1);
    expect(seen[0].method).toBe('notifications/tools/list_changed');
  });

  it('times out a slow call and tells the upstream', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    const e = await rejection(b.request('tools/call', { name: 'slow', arguments: { ms: 5000 } }, ctx({ timeoutMs: 150 })));
    expect(e.kind).toBe('timeout');
    expect(e.error.code).toBe(RpcCode.UpstreamTimeout);
    await waitFor(() => f.stats.cancelled.length === 1);
    expect(f.stats.cancelled[0].requestId).toBe(f.stats.callIds[0]);
  });

  it('fails calls in flight when the stream is lost, then reconnects and re-initializes', async () => {
    const f = await fixture();
    const b = backend(spec(f.url), { reconnectMinMs: 10, reconnectMaxMs: 50 });
    const unsolicited: JsonRpcNotification[] = [];
    b.onUnsolicited((n) => unsolicited.push(n));
    await b.ready();
    const pending = rejection(b.request('tools/call', { name: 'slow', arguments: { ms: 5000 } }, ctx()));
    await waitFor(() => f.stats.callIds.length === 1);
    await f.dropStreams();
    const e = await pending;
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('event stream was lost');
    // Reconnects by itself (unsolicited notifications need the stream), without a call.
    await waitFor(() => f.stats.initializations === 2 && b.connected && b.health === 'up');
    await new Promise((r) => setTimeout(r, 20));
    f.touchAll();
    await waitFor(() => unsolicited.length === 1);
    expect(textOf(await b.request('tools/call', { name: 'echo', arguments: { text: 'back' } }, ctx()))).toBe('back');
  });

  it('closes the stream on close() and refuses calls afterwards', async () => {
    const f = await fixture();
    const b = backend(spec(f.url));
    await b.ready();
    await waitFor(() => f.streamCount === 1);
    await b.close();
    await waitFor(() => f.streamCount === 0);
    expect((await rejection(b.request('tools/list', undefined, ctx()))).error.message).toContain('backend closed');
  });
});

describe('SseBackend failures', () => {
  it('maps a closed port to "unavailable" and opens the circuit after repeated failures', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    const b = backend(spec(`http://127.0.0.1:${port}/sse`), { breaker: { failureThreshold: 2, openMs: 10_000 } });
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toBe(`Upstream http://127.0.0.1:${port} is unavailable: connection refused`);
    await rejection(b.request('tools/list', undefined, ctx()));
    expect(b.health).toBe('circuit-open');
    expect((await rejection(b.request('tools/list', undefined, ctx()))).error.message).toMatch(/circuit open, retry in \d+s/);
  });

  it('refuses an endpoint on another origin (secrets never leave the configured host)', async () => {
    const f = await startRawFixture((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: endpoint\ndata: http://127.0.0.2:9/messages?sessionId=1\n\n');
    });
    fixtures.push(f);
    const b = backend(spec(f.url, { 'x-api-key': 'secret' }));
    const e = await rejection(b.ready());
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('another origin');
  });

  it('reports the status when the SSE URL is not an event stream', async () => {
    const f = await startRawFixture((_req, res) => res.writeHead(500).end('nope'));
    fixtures.push(f);
    const b = backend(spec(f.url));
    expect((await rejection(b.ready())).error.message).toContain('HTTP 500');
    const g = await startRawFixture((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>'));
    fixtures.push(g);
    expect((await rejection(backend(spec(g.url)).ready())).error.message).toContain('did not answer with an event stream');
  });

  it('fails when the stream ends before naming its endpoint, or never names it', async () => {
    const f = await startRawFixture((_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': hello\n\n'));
    fixtures.push(f);
    expect((await rejection(backend(spec(f.url)).ready())).error.message).toContain('ended before naming its endpoint');
    const g = await startRawFixture((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': waiting\n\n');
    });
    fixtures.push(g);
    expect((await rejection(backend(spec(g.url, {}, { timeoutMs: 100 })).ready())).error.message).toContain(
      'no endpoint event within 100 ms',
    );
  });

  it('fails a call whose POST the upstream refuses', async () => {
    const f = await startRawFixture((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: endpoint\ndata: /messages?sessionId=abc\n\n');
      } else res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
    });
    fixtures.push(f);
    const b = backend(spec(f.url));
    const e = await rejection(b.request('tools/list', undefined, ctx()));
    expect(e.kind).toBe('unavailable');
    expect(e.error.message).toContain('HTTP 503');
    expect(f.stats.requests.find((r) => r.method === 'POST')?.url).toBe('/messages?sessionId=abc');
  });
});
