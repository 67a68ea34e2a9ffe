import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ECHO = join(__dirname, '..', 'echo-server.mjs');

/** Starts `echo-server.mjs --http 0 [...flags]` and resolves with its URL. */
async function startEcho(flags: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [ECHO, '--http', '0', ...flags], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, url: line.trim() };
}

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench-test', version: '1.0.0' } },
});

/** initialize, then one tools/call echo: the content type and body of the call's answer. */
async function callEcho(url: string): Promise<{ contentType: string | null; body: string }> {
  const init = await fetch(url, { method: 'POST', headers, body: initialize });
  await init.text();
  const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': '2025-11-25' };
  await (await fetch(url, { method: 'POST', headers: session, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
  const res = await fetch(url, {
    method: 'POST',
    headers: session,
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }),
  });
  return { contentType: res.headers.get('content-type'), body: await res.text() };
}

describe('bench echo server over HTTP', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      await exited;
    }
  });

  it('answers a call with a JSON body in --json mode (the headline direct and the gateways’ upstream)', async () => {
    const { child, url } = await startEcho(['--json']);
    children.push(child);
    const { contentType, body } = await callEcho(url);
    expect(contentType).toContain('application/json');
    expect(JSON.parse(body)).toMatchObject({ id: 2, result: { content: [{ type: 'text', text: 'Echo: hi' }] } });
  });

  it('answers a call with an SSE stream without it (direct-sse)', async () => {
    const { child, url } = await startEcho([]);
    children.push(child);
    const { contentType, body } = await callEcho(url);
    expect(contentType).toContain('text/event-stream');
    expect(body).toContain('"text":"Echo: hi"');
  });
});
