/**
 * `toolgate connect` when an answer's event stream breaks while the remote stays up: with an
 * event id the stream is resumed with Last-Event-ID and the answer arrives; without one nothing
 * can resume it, and the host gets an error instead of waiting forever; a connection reset
 * before the answer is an error too, not a resend (the call may have run). The remote is a small
 * Streamable HTTP peer that cuts its streams on purpose (no gateway cuts them at will).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import { CLI, errorCode } from './standalone';

const SESSION = 'cut-streams-session';

/** What the peer saw of the resumption. */
const seen = { lastEventIds: [] as string[], resets: 0 };
/** The id of the call whose stream was cut after its first event (answered on resumption). */
let resumableId: unknown;

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': SESSION });
  res.flushHeaders();
}

async function onPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const chunk of req) body += chunk;
  const msg = JSON.parse(body) as { id?: unknown; method?: string; params?: { name?: string } };
  if (msg.id === undefined) {
    res.writeHead(202).end();
    return;
  }
  if (msg.method === 'initialize') {
    const result = { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'cutter', version: '1' } };
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': SESSION });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
    return;
  }
  if (msg.params?.name === 'reset') {
    // The connection drops before any answer: the call may have run, so it must not be sent again.
    seen.resets++;
    req.socket.destroy();
    return;
  }
  sse(res);
  if (msg.params?.name === 'resumable') {
    resumableId = msg.id;
    res.write('id: stream1-1\ndata: \n\n');
  }
  // The connection drops before the answer.
  setTimeout(() => res.socket?.destroy(), 100);
}

function onGet(req: IncomingMessage, res: ServerResponse): void {
  const lastEventId = req.headers['last-event-id'];
  if (typeof lastEventId !== 'string') {
    res.writeHead(405).end();
    return;
  }
  seen.lastEventIds.push(lastEventId);
  sse(res);
  const answer = { jsonrpc: '2.0', id: resumableId, result: { content: [{ type: 'text', text: 'resumed' }] } };
  res.end(`id: stream1-2\ndata: ${JSON.stringify(answer)}\n\n`);
}

let server: Server;
let endpoint: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'POST') void onPost(req, res);
    else if (req.method === 'GET') onGet(req, res);
    else res.writeHead(200).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('toolgate connect with broken answer streams', () => {
  it('resumes a stream with Last-Event-ID, fails a call whose stream cannot be resumed, and never resends one the remote may have run', async () => {
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'connect', endpoint],
        env: { PATH: process.env.PATH!, HOME: '/nonexistent', TOOLGATE_KEY: 'tg_cutter' },
        stderr: 'pipe',
      }),
    );
    const resumed = await client.callTool({ name: 'resumable', arguments: {} });
    expect(resumed.content).toEqual([{ type: 'text', text: 'resumed' }]);
    expect(seen.lastEventIds).toEqual(['stream1-1']);

    const started = Date.now();
    expect(await errorCode(client.callTool({ name: 'unresumable', arguments: {} }))).toBe(RpcCode.UpstreamUnavailable);
    expect(Date.now() - started).toBeLessThan(5000);

    expect(await errorCode(client.callTool({ name: 'reset', arguments: {} }))).toBe(RpcCode.UpstreamUnavailable);
    expect(seen.resets).toBe(1);
    await client.close();
  });
});
