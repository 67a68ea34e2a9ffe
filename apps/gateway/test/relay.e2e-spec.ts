/**
 * Two gateway workers behind no sticky load balancer: a session's requests may land on either.
 * What cannot move between workers (the stream a call answers on, the call waiting for the
 * agent's sampling answer, a legacy SSE stream) is reached through the Redis relay. Raw HTTP
 * is used to choose the worker of every request.
 */
import { createOrg, everythingServer, type Org, openSession, parseSse, post, sseReader, workerUrl } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { waitFor } from './fixtures/stdio-helpers';
import { type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let upstream: StreamableFixture;
let o: Org;
let A: string;
let B: string;

beforeAll(async () => {
  [stack, upstream] = await Promise.all([startStack({ gateways: 2 }), startStreamableFixture()]);
  o = await createOrg(stack, {
    servers: [everythingServer(), { slug: 'fixture', name: 'HTTP fixture', transport: 'streamable-http', url: upstream.url }],
  });
  A = `${workerUrl(stack, 0)}/mcp/${o.org.slug}`;
  B = `${workerUrl(stack, 1)}/mcp/${o.org.slug}`;
});
afterAll(async () => {
  await stack.close();
  await upstream.close();
});

type Msg = { jsonrpc: '2.0'; id?: string | number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };

/** POST a request to a worker and keep its response stream open to read message by message. */
async function streamCall(url: string, session: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${o.key}`,
      'Mcp-Session-Id': session,
      'MCP-Protocol-Version': '2025-11-25',
    },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res;
}

it('a sampling round trip whose answer is POSTed to the other worker', async () => {
  const session = await openSession(A, o.key, { sampling: {} });
  const res = await streamCall(A, session, {
    jsonrpc: '2.0',
    id: 'sample-1',
    method: 'tools/call',
    params: { name: 'everything__trigger-sampling-request', arguments: { prompt: 'relay me' } },
  });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const stream = sseReader(res);
  const ask = (await stream.next()) as Msg;
  expect(ask.method).toBe('sampling/createMessage');
  expect(JSON.stringify(ask.params)).toContain('relay me');

  // The agent's answer lands on worker B, which does not hold the call.
  const answer = await post(
    B,
    { jsonrpc: '2.0', id: ask.id, result: { model: 'relay-model', role: 'assistant', content: { type: 'text', text: 'answered via B' } } },
    { key: o.key, session },
  );
  expect(answer.status).toBe(202);

  const final = (await stream.next()) as Msg;
  expect(final.id).toBe('sample-1');
  expect(JSON.stringify(final.result)).toContain('answered via B');
  expect(JSON.stringify(final.result)).toContain('relay-model');
  expect(await stream.next()).toBeNull(); // the response stream ends after the response
});

it('an agent error answer POSTed to the other worker fails the sampling request cleanly', async () => {
  const session = await openSession(A, o.key, { sampling: {} });
  const res = await streamCall(A, session, {
    jsonrpc: '2.0',
    id: 'sample-2',
    method: 'tools/call',
    params: { name: 'everything__trigger-sampling-request', arguments: { prompt: 'refuse me' } },
  });
  const stream = sseReader(res);
  const ask = (await stream.next()) as Msg;
  expect(ask.method).toBe('sampling/createMessage');
  await post(B, { jsonrpc: '2.0', id: ask.id, error: { code: -1, message: 'user rejected sampling' } }, { key: o.key, session });
  const final = (await stream.next()) as Msg & { result: { isError?: boolean } };
  expect(final.id).toBe('sample-2');
  expect(final.result.isError).toBe(true);
  expect(JSON.stringify(final.result)).toContain('user rejected sampling');
});

it('a cancellation POSTed to the other worker cancels the upstream call', async () => {
  const session = await openSession(A, o.key);
  const before = upstream.stats.cancelled.length;
  const calls = upstream.stats.callIds.length;
  const pending = streamCall(A, session, {
    jsonrpc: '2.0',
    id: 'slow-1',
    method: 'tools/call',
    params: { name: 'fixture__slow', arguments: { ms: 20_000 } },
  });
  await waitFor(() => upstream.stats.callIds.length > calls, 5000);
  const cancel = await post(
    B,
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1', reason: 'changed my mind' } },
    { key: o.key, session },
  );
  expect(cancel.status).toBe(202);
  await waitFor(() => upstream.stats.cancelled.length > before, 3000);
  // Worker A finishes the HTTP exchange promptly instead of waiting out the 20 s, and (MCP: a
  // cancelled request gets no response) with nothing for slow-1.
  const res = await pending;
  expect(parseSse(await res.text()).filter((m) => (m as Msg).id === 'slow-1')).toEqual([]);
});

it('legacy SSE: a message POSTed to the other worker is answered on the stream the first one holds', async () => {
  const res = await fetch(`${workerUrl(stack, 0)}/sse/${o.org.slug}`, {
    headers: { Authorization: `Bearer ${o.key}`, Accept: 'text/event-stream' },
  });
  expect(res.status).toBe(200);
  const events = sseEvents(res);
  try {
    const endpoint = await events.next();
    expect(endpoint.event).toBe('endpoint');
    const messagesUrl = `${workerUrl(stack, 1)}${endpoint.data}`;
    const send = (body: unknown) =>
      fetch(messagesUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.key}` },
        body: JSON.stringify(body),
      });
    expect(
      (
        await send({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy-raw', version: '1' } },
        })
      ).status,
    ).toBe(202);
    const init = await nextRpc(events);
    expect(init).toMatchObject({ id: 1, result: { protocolVersion: '2024-11-05' } });

    expect((await send({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    expect(
      (await send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'via B' } } }))
        .status,
    ).toBe(202);
    const call = await nextRpc(events);
    expect(call.id).toBe(2);
    expect(JSON.stringify(call.result)).toContain('via B');
  } finally {
    await events.cancel();
  }
});

it('a session DELETEd on one worker is gone (404) on both', async () => {
  const session = await openSession(A, o.key);
  const list = (url: string) => post(url, { jsonrpc: '2.0', id: 'l', method: 'tools/list' }, { key: o.key, session });
  // Both workers know (and cache) the session.
  expect((await list(A)).status).toBe(200);
  expect((await list(B)).status).toBe(200);

  const del = await fetch(B, { method: 'DELETE', headers: { Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session } });
  expect(del.status).toBe(204);

  expect((await list(B)).status).toBe(404);
  expect((await list(A)).status).toBe(404);
  const again = await fetch(A, { method: 'DELETE', headers: { Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session } });
  expect(again.status).toBe(404);
});

it('a session is served by either worker for every kind of request', async () => {
  const session = await openSession(B, o.key);
  const answers = await Promise.all(
    ['tools/list', 'prompts/list', 'resources/list', 'ping'].flatMap((method, i) => [
      post(A, { jsonrpc: '2.0', id: `a${i}`, method }, { key: o.key, session }),
      post(B, { jsonrpc: '2.0', id: `b${i}`, method }, { key: o.key, session }),
    ]),
  );
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(a.json.result).toBeDefined();
  }
});

it('legacy SSE: capabilities declared in an initialize POSTed to B are known to A at once (sampling works)', async () => {
  // The stream (and the session's first cached state, with no capabilities yet) lives on A.
  const res = await fetch(`${workerUrl(stack, 0)}/sse/${o.org.slug}`, {
    headers: { Authorization: `Bearer ${o.key}`, Accept: 'text/event-stream' },
  });
  const events = sseEvents(res);
  try {
    const endpoint = await events.next();
    expect(endpoint.event).toBe('endpoint');
    const on = (worker: number) => (body: unknown) =>
      fetch(`${workerUrl(stack, worker)}${endpoint.data}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.key}` },
        body: JSON.stringify(body),
      });
    // initialize (declaring sampling) goes to B …
    await on(1)({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: { sampling: {} }, clientInfo: { name: 'legacy-raw', version: '1' } },
    });
    expect(await nextRpc(events)).toMatchObject({ id: 1, result: {} });
    await on(1)({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // … and the call that needs it goes to A right away.
    await on(0)({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'everything__trigger-sampling-request', arguments: { prompt: 'legacy sampling' } },
    });
    const ask = await nextRpc(events);
    expect(ask.method).toBe('sampling/createMessage');
    await on(1)({
      jsonrpc: '2.0',
      id: ask.id,
      result: { model: 'm', role: 'assistant', content: { type: 'text', text: 'legacy answer' } },
    });
    const final = await nextRpc(events);
    expect(final.id).toBe(2);
    expect(JSON.stringify(final.result)).toContain('legacy answer');
  } finally {
    await events.cancel();
  }
});

it('logging/setLevel sent to B applies at once to a call served by A', async () => {
  const session = await openSession(A, o.key);
  // Both workers have the session cached (log level: none).
  expect((await post(A, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key, session })).status).toBe(200);
  expect(
    (await post(B, { jsonrpc: '2.0', id: 2, method: 'logging/setLevel', params: { level: 'error' } }, { key: o.key, session })).status,
  ).toBe(200);
  // server-everything logs every subscribe at "info": A must drop it now.
  const uri = 'tg://everything/demo://resource/dynamic/text/9';
  const sub = await post(A, { jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri } }, { key: o.key, session });
  expect(sub.status).toBe(200);
  expect(sub.text).not.toContain('notifications/message');
  expect(sub.json).toMatchObject({ id: 3, result: {} });
  await post(A, { jsonrpc: '2.0', id: 4, method: 'resources/unsubscribe', params: { uri } }, { key: o.key, session });
});

it('a subscription made on B brings resources/updated to the GET stream held by A', async () => {
  const session = await openSession(A, o.key);
  const stream = await fetch(A, {
    headers: {
      Authorization: `Bearer ${o.key}`,
      Accept: 'text/event-stream',
      'Mcp-Session-Id': session,
      'MCP-Protocol-Version': '2025-11-25',
    },
  });
  expect(stream.status).toBe(200);
  const events = sseReader(stream);
  const uri = 'tg://everything/demo://resource/dynamic/text/11';
  const call = (id: number, method: string, params: Record<string, unknown>) =>
    post(B, { jsonrpc: '2.0', id, method, params }, { key: o.key, session });
  try {
    // A has the session cached from before the subscription.
    expect((await post(A, { jsonrpc: '2.0', id: 0, method: 'ping' }, { key: o.key, session })).status).toBe(200);
    expect((await call(1, 'resources/subscribe', { uri })).json.result).toEqual({});
    await call(2, 'tools/call', { name: 'everything__toggle-subscriber-updates', arguments: {} });
    let update: Msg | null = null;
    while (!update) {
      const m = (await events.next(5000)) as Msg;
      if (m.method === 'notifications/resources/updated') update = m;
    }
    expect(update.params).toEqual({ uri });
  } finally {
    await call(3, 'tools/call', { name: 'everything__toggle-subscriber-updates', arguments: {} });
    await call(4, 'resources/unsubscribe', { uri });
    await events.cancel();
  }
});

/**
 * The next request or response on a session stream, skipping notifications: upstream
 * notifications (list_changed from a backend that just started, …) reach every stream of the org.
 */
async function nextRpc(events: ReturnType<typeof sseEvents>): Promise<Msg> {
  for (;;) {
    const m = JSON.parse((await events.next()).data) as Msg;
    if (m.id !== undefined) return m;
  }
}

/** The events of a text/event-stream response, one at a time. */
function sseEvents(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<{ event: string; data: string }> {
      for (;;) {
        const at = buffer.indexOf('\n\n');
        if (at !== -1) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data) return { event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message', data };
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  };
}
