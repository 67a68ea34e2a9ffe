/**
 * Faults: an upstream that dies mid-call, and everything a broken or hostile agent can send over
 * raw HTTP. Each must end in a clean JSON-RPC error with the right HTTP status — never a hang,
 * never a 500, never a dead worker (checked on /healthz).
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { GW_STDIO_SERVER, createOrg, healthy, MCP_HEADERS, type Org, openSession, post, sleep, textOf } from './fixtures/gw-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

describe('an upstream that crashes mid-call', () => {
  it('fails the call with a clean JSON-RPC error, then serves again after the restart backoff', async () => {
    const o = await createOrg(stack, {
      servers: [{ slug: 'crashy', name: 'Crashy', transport: 'stdio', command: process.execPath, args: [GW_STDIO_SERVER] }],
    });
    const url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    const client = await connect(url, o.key);
    try {
      const pidBefore = textOf(await client.callTool({ name: 'crashy__pid', arguments: {} }));

      const started = Date.now();
      const err = await client.callTool({ name: 'crashy__crash', arguments: {} }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      // A JSON-RPC error (HTTP 200), not a transport failure: the upstream is unavailable (-32005).
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32005);
      expect((err as McpError).message).toMatch(/exit|crash/i);

      // The first restart waits 250 ms; calls inside the window fail fast with the same code.
      let echoed = '';
      const deadline = Date.now() + 5000;
      while (!echoed && Date.now() < deadline) {
        try {
          echoed = textOf(await client.callTool({ name: 'crashy__echo', arguments: { message: 'back again' } }));
        } catch (e) {
          expect((e as McpError).code).toBe(-32005);
          await sleep(100);
        }
      }
      expect(echoed).toBe('back again');
      const pidAfter = textOf(await client.callTool({ name: 'crashy__pid', arguments: {} }));
      expect(pidAfter).not.toBe(pidBefore);

      // Seen on the wire: a crash is HTTP 200 with a JSON-RPC error body.
      const session = await openSession(url, o.key);
      const raw = await post(
        url,
        { jsonrpc: '2.0', id: 'boom', method: 'tools/call', params: { name: 'crashy__crash', arguments: {} } },
        {
          key: o.key,
          session,
        },
      );
      expect(raw.status).toBe(200);
      expect(raw.json).toMatchObject({ jsonrpc: '2.0', id: 'boom', error: { code: -32005 } });
    } finally {
      await client.close();
    }
    expect(await healthy(stack.gatewayUrl)).toBe(true);
  });
});

describe('limits and bad input (raw HTTP)', () => {
  let o: Org;
  let url: string;
  let session: string;
  beforeAll(async () => {
    o = await createOrg(stack);
    url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    session = await openSession(url, o.key);
  });
  afterEach(async () => {
    // Whatever the last test sent, the worker is alive and still serves the session.
    expect(await healthy(stack.gatewayUrl)).toBe(true);
    const ping = await post(url, { jsonrpc: '2.0', id: 'alive', method: 'ping' }, { key: o.key, session });
    expect(ping.json).toEqual({ jsonrpc: '2.0', id: 'alive', result: {} });
  });

  it('oversized body → 413', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'everything__echo', arguments: { message: 'x'.repeat(5 * 1024 * 1024) } },
    });
    const res = await post(url, big, { key: o.key, session });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe(-32600);
  });

  it('oversized body without Content-Length (chunked) → 413 as well', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(256 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // A JSON prefix, then 6 MiB of string: the limit is hit while streaming.
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'));
        if (sent++ < 24) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it('malformed JSON → 400 with -32700', async () => {
    const res = await post(url, '{"jsonrpc": "2.0", "id": 1, "method": ', { key: o.key, session });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('invalid UTF-8 → 400 with -32700', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]);
    const res = await post(url, new Uint8Array(bytes), { key: o.key, session });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32700);
  });

  it('non-object JSON and a wrong jsonrpc version → -32600', async () => {
    for (const body of ['42', '"tools/list"', 'null']) {
      const res = await post(url, body, { key: o.key, session });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe(-32600);
    }
    const v1 = await post(url, { jsonrpc: '1.0', id: 9, method: 'ping' }, { key: o.key, session });
    expect(v1.status).toBe(400);
    expect(v1.json).toMatchObject({ id: 9, error: { code: -32600 } });
    const noMethod = await post(url, { jsonrpc: '2.0', id: 10 }, { key: o.key, session });
    expect(noMethod.json.error.code).toBe(-32600);
  });

  it('unknown method → -32601 (never reaches an upstream)', async () => {
    const res = await post(url, { jsonrpc: '2.0', id: 'u', method: 'tools/explode', params: {} }, { key: o.key, session });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: 'u', error: { code: -32601 } });
  });

  it('JSON nested deeper than the limit → -32600', async () => {
    const deep = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
    const body = `{"jsonrpc":"2.0","id":"d","method":"tools/call","params":{"name":"everything__echo","arguments":${deep}}}`;
    const res = await post(url, body, { key: o.key, session });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'd', error: { code: -32600 } });
    expect(res.json.error.message).toMatch(/deeper/);
  });

  it('missing Mcp-Session-Id → 400; unknown session → 404', async () => {
    const missing = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: o.key });
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe(-32600);
    const unknown = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: o.key, session: 'no-such-session-id' });
    expect(unknown.status).toBe(404);
  });

  it('a foreign Origin → 403; the gateway’s own origin is fine', async () => {
    const bad = await post(
      url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { key: o.key, session, headers: { Origin: 'https://evil.example' } },
    );
    expect(bad.status).toBe(403);
    const own = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key, session, headers: { Origin: stack.gatewayUrl } });
    expect(own.status).toBe(200);
  });

  it('wrong Content-Type → 415', async () => {
    const res = await post(url, '{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      key: o.key,
      session,
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.status).toBe(415);
  });

  it('POST without an Accept that allows JSON and SSE → 406; GET without text/event-stream → 406', async () => {
    const post406 = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key, session, headers: { Accept: 'text/html' } });
    expect(post406.status).toBe(406);
    const get = await fetch(url, { headers: { Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session, Accept: 'application/json' } });
    expect(get.status).toBe(406);
    await get.body?.cancel();
  });

  it('unsupported MCP-Protocol-Version → 400 naming the supported ones', async () => {
    const res = await post(
      url,
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      {
        key: o.key,
        headers: { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '1999-01-01' },
      },
    );
    expect(res.status).toBe(400);
    expect(res.json.error.data.supported).toContain('2025-11-25');
  });

  it('an unknown org is a 401 (as a wrong key), an unknown server or route a 404, a PUT a 405', async () => {
    expect((await post(`${stack.gatewayUrl}/mcp/no-such-org-here`, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key })).status).toBe(
      401,
    );
    expect((await post(`${url}/no-such-server`, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key })).status).toBe(404);
    expect((await fetch(`${stack.gatewayUrl}/nowhere`)).status).toBe(404);
    const put = await fetch(url, { method: 'PUT', headers: { ...MCP_HEADERS, Authorization: `Bearer ${o.key}` }, body: '{}' });
    expect(put.status).toBe(405);
  });

  it('legacy /messages: no sessionId → 400, unknown session → 404, malformed JSON → 400', async () => {
    const send = (q: string, body: string) =>
      fetch(`${stack.gatewayUrl}/messages${q}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.key}` },
        body,
      });
    expect((await send('', '{"jsonrpc":"2.0","id":1,"method":"ping"}')).status).toBe(400);
    expect((await send('?sessionId=nope', '{"jsonrpc":"2.0","id":1,"method":"ping"}')).status).toBe(404);
    // A live legacy session (its stream held open by this test) with a broken body.
    const stream = await fetch(`${stack.gatewayUrl}/sse/${o.org.slug}`, {
      headers: { Authorization: `Bearer ${o.key}`, Accept: 'text/event-stream' },
    });
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('sessionId=')) text += new TextDecoder().decode((await reader.read()).value);
    const legacy = /sessionId=([A-Za-z0-9_-]+)/.exec(text)![1]!;
    const broken = await send(`?sessionId=${legacy}`, '{not json');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: number } }).error.code).toBe(-32700);
    await reader.cancel();
  });

  it('a session holds at most 256 resource subscriptions', async () => {
    const mine = await openSession(url, o.key);
    const subscribe = (i: number) =>
      post(
        url,
        { jsonrpc: '2.0', id: i, method: 'resources/subscribe', params: { uri: `tg://everything/demo://resource/dynamic/text/${i}` } },
        {
          key: o.key,
          session: mine,
        },
      );
    for (let i = 0; i < 256; i += 32) {
      const batch = await Promise.all(Array.from({ length: 32 }, (_, j) => subscribe(i + j)));
      for (const r of batch) expect(r.json.result).toEqual({});
    }
    const over = await subscribe(256);
    expect(over.status).toBe(200);
    expect(over.json).toMatchObject({ id: 256, error: { code: -32600 } });
    // Subscribing again to one it holds is fine; after an unsubscribe there is room again.
    expect((await subscribe(3)).json.result).toEqual({});
    const unsub = await post(
      url,
      { jsonrpc: '2.0', id: 'u', method: 'resources/unsubscribe', params: { uri: 'tg://everything/demo://resource/dynamic/text/0' } },
      {
        key: o.key,
        session: mine,
      },
    );
    expect(unsub.json.result).toEqual({});
    expect((await subscribe(256)).json.result).toEqual({});
  });

  it('a batch in a 2025-11-25 session is refused with -32600', async () => {
    const res = await post(url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], { key: o.key, session });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32600);
  });
});
