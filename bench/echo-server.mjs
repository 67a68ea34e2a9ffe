#!/usr/bin/env node
// The benchmark's upstream: a minimal MCP server built with the official SDK's McpServer, with
// one tool, `echo` ({ message: string } → "Echo: <message>"). Nothing else: no logging, no event
// store, no extra capabilities, so the numbers measure the transports in front of it.
//
//   node bench/echo-server.mjs               stdio (what Toolgate, mcp-proxy and supergateway front)
//   node bench/echo-server.mjs --http [PORT] [--json]
//                                            Streamable HTTP on 127.0.0.1 (the "direct" targets and
//                                            the gateways' HTTP upstream): the SDK's
//                                            StreamableHTTPServerTransport, stateful (one transport +
//                                            McpServer per Mcp-Session-Id, as the SDK requires);
//                                            answers as SSE streams, or as plain JSON with --json
//                                            (enableJsonResponse, the SDK's faster mode). Prints its
//                                            URL on stdout, exits when stdin closes or on SIGTERM/SIGINT.
//
// The SDK and zod are devDependencies of apps/gateway (this directory has no package.json of its
// own), so they are resolved from there.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const gatewayRequire = createRequire(path.join(here, '..', 'apps', 'gateway', 'package.json'));
const { McpServer } = gatewayRequire('@modelcontextprotocol/sdk/server/mcp.js');
const { z } = gatewayRequire('zod');

function buildServer() {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the message back', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: `Echo: ${message}` }],
  }));
  return server;
}

const httpAt = process.argv.indexOf('--http');
if (httpAt === -1) {
  const { StdioServerTransport } = gatewayRequire('@modelcontextprotocol/sdk/server/stdio.js');
  await buildServer().connect(new StdioServerTransport());
} else {
  const { StreamableHTTPServerTransport } = gatewayRequire('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const { isInitializeRequest } = gatewayRequire('@modelcontextprotocol/sdk/types.js');
  const port = Number(process.argv[httpAt + 1] ?? 0) || 0;
  const enableJsonResponse = process.argv.includes('--json');
  /** Mcp-Session-Id → { transport, server } */
  const sessions = new Map();

  const fail = (res, status, message) =>
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));

  const readJson = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e);
        }
      });
      req.on('error', reject);
    });

  async function handle(req, res) {
    if (!req.url?.startsWith('/mcp')) return void res.writeHead(404).end();
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const session = sessions.get(sid);
      if (!session) return fail(res, 404, 'Session not found');
      return session.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return fail(res, 400, 'Bad Request: no session id');
    const body = await readJson(req);
    if (!isInitializeRequest(body)) return fail(res, 400, 'Bad Request: no session id');
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse,
      onsessioninitialized: (id) => sessions.set(id, { transport, server }),
      onsessionclosed: (id) => sessions.delete(id),
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) fail(res, 500, 'echo server failure');
      else res.end();
    });
  });
  http.keepAliveTimeout = 60_000;
  http.listen(port, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${http.address().port}/mcp\n`));

  const stop = () => {
    http.closeAllConnections();
    http.close(() => process.exit(0));
    for (const { server } of sessions.values()) void server.close();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The benchmark holds our stdin: when it goes away, so do we.
  process.stdin.on('end', stop);
  process.stdin.resume();
}
