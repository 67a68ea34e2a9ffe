/**
 * Resumption of SSE streams with Last-Event-ID (Streamable HTTP, 2025-11-25): a call whose
 * answer stream drops mid-way is resumed with a GET naming the last event seen, by raw HTTP and by
 * the SDK client's own reconnection; another session's event id replays nothing.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { stackWithOrg, MCP_HEADERS, type Org, openSession, type SseEvent, sseReader, textOf } from './fixtures/gw-helpers';
import type { Stack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let o: Org;
let url: string;
beforeAll(async () => {
  ({ stack, o, url } = await stackWithOrg());
});
afterAll(() => stack.close());

const headers = (session: string, extra: Record<string, string> = {}) => ({
  Authorization: `Bearer ${o.key}`,
  'Mcp-Session-Id': session,
  'MCP-Protocol-Version': '2025-11-25',
  ...extra,
});

const longCall = (id: string, steps = 5) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'everything__trigger-long-running-operation',
    arguments: { duration: 1, steps },
    _meta: { progressToken: `${id}-progress` },
  },
});

/** POST a long call, read its first progress event, then drop the connection. */
async function startAndDrop(session: string, id: string): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers(session) },
    body: JSON.stringify(longCall(id)),
    signal: abort.signal,
  });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const first = await sseReader(res).nextEvent();
  expect(first?.message.params.progress).toBe(1);
  abort.abort();
  return first!.id!;
}

const resume = (session: string, lastEventId: string) =>
  fetch(url, { headers: headers(session, { Accept: 'text/event-stream', 'Last-Event-ID': lastEventId }) });

describe('Last-Event-ID', () => {
  it('a dropped call stream resumes: the rest of the progress, then the result, under the same stream id', async () => {
    const session = await openSession(url, o.key);
    const lastId = await startAndDrop(session, 'call-1');
    const [streamId] = lastId.split(':');

    const res = await resume(session, lastId);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = sseReader(res);
    const events: SseEvent[] = [];
    for (let e = await reader.nextEvent(); e; e = await reader.nextEvent()) events.push(e);

    const progress = events.filter((e) => e.message.method === 'notifications/progress').map((e) => e.message.params.progress);
    expect(progress).toEqual([2, 3, 4, 5]);
    const last = events[events.length - 1]!;
    expect(last.message.id).toBe('call-1');
    expect(textOf(last.message.result)).toContain('Long running operation completed');
    // Ids continue the dropped stream's, so a second drop resumes from the right place.
    expect(events.map((e) => e.id)).toEqual([2, 3, 4, 5, 6].map((n) => `${streamId}:${n}`));
  });

  it('a second resume after the call ended replays what came after the given id, and ends', async () => {
    const session = await openSession(url, o.key);
    const lastId = await startAndDrop(session, 'call-2');
    const [streamId] = lastId.split(':');
    await new Promise((r) => setTimeout(r, 1500)); // the call finishes while nobody listens
    const reader = sseReader(await resume(session, `${streamId}:4`));
    const events = [await reader.nextEvent(), await reader.nextEvent(), await reader.nextEvent()];
    expect(events.map((e) => e?.id)).toEqual([`${streamId}:5`, `${streamId}:6`, undefined]);
    expect(events[1]!.message.id).toBe('call-2');
  });

  it('another session’s event id replays nothing: a fresh, empty stream of this session', async () => {
    const victim = await openSession(url, o.key);
    const lastId = await startAndDrop(victim, 'secret-call');
    const intruder = await openSession(url, o.key);
    const res = await resume(intruder, lastId);
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBe(intruder);
    const reader = sseReader(res);
    await expect(reader.nextEvent(2000)).rejects.toThrow('no message in time');
    await reader.cancel();
  });

  it('an id that names no stream (expired, never issued) gets a fresh GET stream; a malformed one a 400', async () => {
    const session = await openSession(url, o.key);
    const fresh = await resume(session, 'nosuchstream:3');
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();
    const bad = await resume(session, 'not an event id');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it('a resumed GET stream replays what was missed and then carries live notifications', async () => {
    const session = await openSession(url, o.key);
    const get = await fetch(url, { headers: headers(session, { Accept: 'text/event-stream' }) });
    const reader = sseReader(get);
    // A new server changes every list: three list_changed notices on the session's GET stream.
    const addServer = (slug: string) =>
      o.api.call('POST', `/v1/orgs/${o.org.slug}/servers`, {
        slug,
        name: slug,
        transport: 'stdio',
        command: process.execPath,
        args: [require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
      });
    await addServer('more1');
    const first = (await reader.nextEvent())!;
    expect(first.message.method).toMatch(/list_changed$/);
    await reader.cancel();

    const [streamId, seq] = first.id!.split(':');
    const resumed = sseReader(await resume(session, first.id!));
    const replayed = [(await resumed.nextEvent())!, (await resumed.nextEvent())!];
    expect(replayed.map((e) => e.id)).toEqual([`${streamId}:${Number(seq) + 1}`, `${streamId}:${Number(seq) + 2}`]);
    await addServer('more2');
    const live = (await resumed.nextEvent())!;
    expect(live.message.method).toMatch(/list_changed$/);
    expect(live.id).toBe(`${streamId}:${Number(seq) + 3}`);
    await resumed.cancel();
  });
});

describe('the SDK client', () => {
  it('resumes a call whose stream dropped after the first progress event and gets the result', async () => {
    const seen: string[] = [];
    let dropped = false;
    // The network drops the first streamed POST answer right after its first event.
    const flaky: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const h = new Headers(init?.headers);
      seen.push(`${init?.method ?? 'GET'} ${h.get('last-event-id') ?? ''}`);
      if (dropped || init?.method !== 'POST' || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return res;
      dropped = true;
      const upstream = res.body!.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value } = await upstream.read();
          if (value) controller.enqueue(value);
          await upstream.cancel();
          controller.error(new Error('connection reset'));
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${o.key}` } },
      fetch: flaky,
      reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 500, reconnectionDelayGrowFactor: 1.5, maxRetries: 3 },
    });
    const client = new Client({ name: 'resume-e2e', version: '1.0.0' });
    client.onerror = () => undefined;
    await client.connect(transport);
    try {
      const progress: number[] = [];
      const result = await client.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 5 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress), timeout: 15_000 },
      );
      expect(dropped).toBe(true);
      expect(textOf(result)).toContain('Long running operation completed');
      expect(seen.some((s) => /^GET \S+:\d+$/.test(s))).toBe(true);
      expect(progress[0]).toBe(1);
      expect(progress.length).toBeGreaterThanOrEqual(4);
    } finally {
      await client.close();
    }
  });
});
