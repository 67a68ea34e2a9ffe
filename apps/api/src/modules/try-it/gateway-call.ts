import { LATEST_PROTOCOL_VERSION } from '@toolgate/contracts';

/** A JSON-RPC answer to the tools/call, as the gateway sent it. */
export type RpcAnswer = { result: Record<string, unknown> } | { error: { code: number; message: string; data?: unknown } };

/** The gateway could not be asked at all (down, refused the key, unexpected status): nothing was called. */
export class GatewayUnreachable extends Error {}

/** The gateway refused the credential (HTTP 401): a new key it has not loaded yet, or a revoked one. */
export class GatewayRefusedKey extends Error {}

/** The server is not in the key's snapshot (HTTP 404 on its endpoint). */
export class GatewayUnknownServer extends Error {}

export interface ToolCall {
  /** `${gateway}/mcp/{org}/{server}`. */
  endpoint: string;
  key: string;
  tool: string;
  arguments: Record<string, unknown>;
  signal: AbortSignal;
}

const CLIENT_INFO = { name: 'toolgate-try-it', version: '1' };

/**
 * One tool call as an MCP client makes it over Streamable HTTP: initialize, initialized,
 * tools/call, then end the session. Written against the wire, not the SDK client, because the
 * dashboard needs the gateway's JSON-RPC error exactly as sent (its `data` carries the denying
 * rule), which the SDK turns into exceptions.
 */
export async function callTool(c: ToolCall): Promise<RpcAnswer> {
  const base: Record<string, string> = {
    Authorization: `Bearer ${c.key}`,
    Accept: 'application/json, text/event-stream',
    'Content-Type': 'application/json',
  };
  const init = await post(c, base, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
  });
  const initAnswer = await answerOf(init, 1);
  if ('error' in initAnswer) throw new GatewayUnreachable(`the gateway refused to start a session: ${initAnswer.error.message}`);
  const session = init.headers.get('mcp-session-id');
  const version = typeof initAnswer.result.protocolVersion === 'string' ? initAnswer.result.protocolVersion : LATEST_PROTOCOL_VERSION;
  const headers = { ...base, 'MCP-Protocol-Version': version, ...(session ? { 'Mcp-Session-Id': session } : {}) };
  try {
    await (await post(c, headers, { jsonrpc: '2.0', method: 'notifications/initialized' })).body?.cancel();
    const res = await post(c, headers, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: c.tool, arguments: c.arguments } });
    return await answerOf(res, 2);
  } finally {
    // Ends the session and its backend at once instead of at the gateway's idle timeout.
    if (session) await fetch(c.endpoint, { method: 'DELETE', headers, signal: c.signal }).catch(() => undefined);
  }
}

async function post(c: ToolCall, headers: Record<string, string>, body: unknown): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(c.endpoint, { method: 'POST', headers, body: JSON.stringify(body), signal: c.signal });
  } catch (e) {
    if (c.signal.aborted) throw e;
    throw new GatewayUnreachable(
      `the gateway at ${new URL(c.endpoint).origin} is unreachable (${(e as Error).cause ?? (e as Error).message})`,
    );
  }
  if (res.status === 401) {
    await res.body?.cancel();
    throw new GatewayRefusedKey('the gateway refused the temporary key');
  }
  if (res.status === 404 && !res.headers.get('mcp-session-id')) {
    await res.body?.cancel();
    throw new GatewayUnknownServer('the gateway does not serve this server');
  }
  return res;
}

/**
 * The response with id `id` from a JSON or an SSE body (the gateway may stream a tool call's
 * progress before its answer). A gateway error shaped as a JSON-RPC error is an answer too.
 */
async function answerOf(res: Response, id: number): Promise<RpcAnswer> {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  const messages = type.includes('text/event-stream') ? sseMessages(text) : [safeJson(text)];
  for (const m of messages) {
    if (!m || typeof m !== 'object') continue;
    const msg = m as { id?: unknown; result?: unknown; error?: unknown };
    if (msg.id !== id && !(msg.id === null && msg.error)) continue;
    if (msg.error && typeof msg.error === 'object') return { error: msg.error as { code: number; message: string; data?: unknown } };
    if (msg.result && typeof msg.result === 'object') return { result: msg.result as Record<string, unknown> };
  }
  throw new GatewayUnreachable(`the gateway answered HTTP ${res.status} without a JSON-RPC response`);
}

function sseMessages(text: string): unknown[] {
  return text
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((d) => d.length > 0)
    .map(safeJson);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
