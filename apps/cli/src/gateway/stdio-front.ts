import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '@toolgate/gateway/src/log';

/**
 * The stdio front: a desktop host spawns `toolgate gateway --stdio` as its one MCP server. Each
 * message on stdin goes to the gateway's own Streamable HTTP endpoint on loopback with the
 * agent key, and everything the endpoint answers or pushes (responses, notifications,
 * server-to-client requests) goes to stdout. So a stdio agent gets exactly what an HTTP agent
 * gets: authentication, sessions, policy, limits, audit, all from the one transport.
 */
export async function runStdioFront(endpoint: string, agentKey: string, log: Logger): Promise<{ closed: Promise<void> }> {
  const http = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { Authorization: `Bearer ${agentKey}` } },
    fetch: errorsAsAnswers,
  });
  const stdio = new StdioServerTransport();
  let done!: () => void;
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });
  const initializeIds = new Set<string | number>();

  stdio.onmessage = (message: JSONRPCMessage) => {
    if ('method' in message && message.method === 'initialize' && 'id' in message && message.id !== undefined)
      initializeIds.add(message.id);
    http.send(message).catch((err: Error) => {
      if ('id' in message && message.id !== undefined && 'method' in message) {
        void stdio.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: err.message } });
      } else log.warn(`stdio front: ${err.message}`);
    });
  };
  http.onmessage = (message: JSONRPCMessage) => {
    // Later requests carry the negotiated version, as the SDK's own client does.
    if ('result' in message && message.id !== undefined && initializeIds.delete(message.id)) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') http.setProtocolVersion(version);
    }
    void stdio.send(message);
  };
  http.onerror = (err) => log.warn(`stdio front: ${err.message}`);
  const close = () => {
    void http.terminateSession().catch(() => undefined);
    void http.close();
    done();
  };
  // The host closing stdin ends the session.
  stdio.onclose = close;
  process.stdin.once('end', close);
  await http.start();
  await stdio.start();
  return { closed };
}

/**
 * A request the gateway refused at the HTTP level (401, 403, 429, 413…) carries its JSON-RPC
 * error in the body: the host gets that error itself, code and data included, as an HTTP agent
 * does, instead of the SDK's generic transport failure. Other responses pass unchanged.
 */
async function errorsAsAnswers(url: string | URL, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.ok || init?.method !== 'POST' || !res.headers.get('content-type')?.includes('application/json')) return res;
  const body = await res.text();
  try {
    const msg = JSON.parse(body) as { jsonrpc?: unknown; id?: unknown; error?: unknown };
    // Refused before its body was read (401), the answer names no id: it is the request's.
    const id = msg.id ?? requestId(init.body);
    if (msg.jsonrpc === '2.0' && id !== null && id !== undefined && msg.error) {
      return new Response(JSON.stringify({ ...msg, id }), { status: 200, headers: { 'content-type': 'application/json' } });
    }
  } catch {
    // Not JSON-RPC: the SDK reports it as it is.
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function requestId(body: unknown): unknown {
  if (typeof body !== 'string') return undefined;
  try {
    const msg = JSON.parse(body) as { id?: unknown; method?: unknown };
    return typeof msg.method === 'string' ? msg.id : undefined;
  } catch {
    return undefined;
  }
}
