/**
 * An agent's `notifications/cancelled` over raw HTTP: per MCP, the receiver of a cancellation
 * does not answer the cancelled request. The POST that carried it ends without a JSON-RPC
 * response (its SSE stream closes), legacy SSE sends nothing for its id, and the audit record
 * says `cancelled` (also for an agent that went away before its response). Upstream: server-everything's long-running operation.
 */
import type { AuditEvent } from '@toolgate/contracts';
import { auditEvents, stackWithOrg, MCP_HEADERS, type Org, openSession, parseSse, post, sleep, sseReader } from './fixtures/gw-helpers';
import type { Stack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let o: Org;
let url: string;

beforeAll(async () => {
  ({ stack, o, url } = await stackWithOrg());
});
afterAll(async () => {
  await stack.close();
});

type Msg = { id?: string | number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };

/** A long-running call whose progress (when a token is given) turns the POST answer into a stream. */
const longCall = (id: string, progressToken?: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'everything__trigger-long-running-operation',
    arguments: { duration: 3, steps: 3 },
    ...(progressToken ? { _meta: { progressToken } } : {}),
  },
});

const cancel = (requestId: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId, reason: 'changed my mind' },
});

function postStream(session: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify(body),
  });
}

/** The audit record of the session's (one) tool call. */
async function auditOf(session: string): Promise<AuditEvent | undefined> {
  const match = (e: AuditEvent) => e.sessionId === session && e.method === 'tools/call';
  return (await auditEvents(stack, o.org.id, (ev) => ev.some(match))).find(match);
}

it('a streamed call that the agent cancels ends its SSE stream with no response for its id', async () => {
  const session = await openSession(url, o.key);
  const res = await postStream(session, longCall('long-1', 'p-1'));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const stream = sseReader(res);
  expect(((await stream.next()) as Msg).method).toBe('notifications/progress');

  expect((await post(url, cancel('long-1'), { key: o.key, session })).status).toBe(202);

  // Whatever progress was already on its way may still arrive; then the stream ends (well before
  // the operation's 3 s would have run out), and nothing on it answers long-1.
  const started = Date.now();
  const rest: Msg[] = [];
  for (let m = (await stream.next(5000)) as Msg | null; m !== null; m = (await stream.next(5000)) as Msg | null) rest.push(m);
  expect(Date.now() - started).toBeLessThan(2500);
  expect(rest.filter((m) => m.id === 'long-1')).toEqual([]);

  const audited = await auditOf(session);
  expect(audited).toMatchObject({ target: 'trigger-long-running-operation', outcome: 'cancelled', bytesOut: 0 });
  expect(audited!.error).toContain('cancelled');
  expect(audited!.error).toContain('changed my mind');
});

it('a cancelled call resumed with Last-Event-ID ends at once, with nothing for its id', async () => {
  const session = await openSession(url, o.key);
  const stream = sseReader(await postStream(session, longCall('long-r', 'p-r')));
  const first = await stream.nextEvent();
  expect(first?.message.method).toBe('notifications/progress');
  await post(url, cancel('long-r'), { key: o.key, session });
  while ((await stream.next(5000)) !== null);

  // What the SDK client does when a stream ends without its response.
  const started = Date.now();
  const resumed = await fetch(url, {
    headers: {
      Accept: 'text/event-stream',
      Authorization: `Bearer ${o.key}`,
      'Mcp-Session-Id': session,
      'MCP-Protocol-Version': '2025-11-25',
      'Last-Event-ID': first!.id!,
    },
  });
  expect(resumed.status).toBe(200);
  const replay = sseReader(resumed);
  const got: Msg[] = [];
  for (let m = (await replay.next(5000)) as Msg | null; m !== null; m = (await replay.next(5000)) as Msg | null) got.push(m);
  expect(Date.now() - started).toBeLessThan(1500);
  expect(got.filter((m) => m.id === 'long-r')).toEqual([]);
});

it('a call answered as plain JSON that the agent cancels gets an empty stream, not a response', async () => {
  const session = await openSession(url, o.key);
  const pending = postStream(session, longCall('long-2'));
  await sleep(300); // the call is in flight upstream
  expect((await post(url, cancel('long-2'), { key: o.key, session })).status).toBe(202);
  const res = await pending;
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  expect(parseSse(await res.text())).toEqual([]);
  const audited = await auditOf(session);
  expect(audited).toMatchObject({ outcome: 'cancelled', bytesOut: 0 });
  expect(audited!.error).toContain('cancelled');

  // The session goes on: the next call is answered as usual.
  const ping = await post(url, { jsonrpc: '2.0', id: 'after', method: 'ping' }, { key: o.key, session });
  expect(ping.json).toEqual({ jsonrpc: '2.0', id: 'after', result: {} });
});

it('a call whose agent disconnects before the response is recorded as cancelled when it ends', async () => {
  const session = await openSession(url, o.key);
  const gone = new AbortController();
  const pending = fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify(longCall('long-d')),
    signal: gone.signal,
  });
  await sleep(300); // the call is in flight upstream
  gone.abort();
  await pending.catch(() => undefined);
  // Nobody cancelled it upstream: it runs its 3 s, and its record says the agent was gone.
  const audited = await auditOf(session);
  expect(audited).toMatchObject({ target: 'trigger-long-running-operation', outcome: 'cancelled' });
  expect(audited!.error).toBe('The agent disconnected before the response');
});

it('legacy SSE: a cancelled call gets no message for its id', async () => {
  const res = await fetch(`${stack.gatewayUrl}/sse/${o.org.slug}`, {
    headers: { Authorization: `Bearer ${o.key}`, Accept: 'text/event-stream' },
  });
  const events = legacyEvents(res);
  let session = '';
  try {
    const endpoint = await events.endpoint();
    session = new URL(endpoint, stack.gatewayUrl).searchParams.get('sessionId')!;
    const messagesUrl = `${stack.gatewayUrl}${endpoint}`;
    const send = async (body: unknown) => {
      const r = await fetch(messagesUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${o.key}` },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(202);
    };
    await send({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy-raw', version: '1' } },
    });
    expect((await events.next()).id).toBe('init');
    await send({ jsonrpc: '2.0', method: 'notifications/initialized' });

    await send(longCall('long-3', 'p-3'));
    expect((await events.next()).method).toBe('notifications/progress');
    await send(cancel('long-3'));
    await send({ jsonrpc: '2.0', id: 'after', method: 'ping' });
    // Read past the operation's end: progress may trail in, the ping is answered, long-3 is not.
    const seen: Msg[] = [];
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      const m = await events.next(until - Date.now()).catch(() => null);
      if (m) seen.push(m);
    }
    expect(seen.some((m) => m.id === 'after')).toBe(true);
    expect(seen.filter((m) => m.id === 'long-3')).toEqual([]);
  } finally {
    await events.cancel();
  }
  const audited = await auditOf(session);
  expect(audited).toMatchObject({ outcome: 'cancelled', bytesOut: 0 });
  expect(audited!.error).toContain('cancelled');
});

/** A legacy SSE stream: the `endpoint` event first, then JSON-RPC messages. */
function legacyEvents(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let reading: Promise<void> | null = null;
  const block = async (timeoutMs: number): Promise<{ event: string; data: string }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = buffer.indexOf('\n\n');
      if (at !== -1) {
        const text = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const data = text
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (data) return { event: /^event: (.*)$/m.exec(text)?.[1] ?? 'message', data };
        continue;
      }
      // One read at a time: a read abandoned by a timeout is still pending, so wait for it.
      reading ??= reader.read().then(({ value, done }) => {
        reading = null;
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      });
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no event in time');
      await Promise.race([reading, sleep(left)]);
    }
  };
  return {
    endpoint: async () => (await block(5000)).data,
    next: async (timeoutMs = 5000) => JSON.parse((await block(timeoutMs)).data) as Msg,
    cancel: () => reader.cancel().catch(() => undefined),
  };
}
