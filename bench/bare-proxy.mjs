#!/usr/bin/env node
// The benchmark's floor for an HTTP-to-HTTP MCP gateway written in Node: a reverse proxy that does
// nothing but relay each request to the upstream over a keep-alive undici pool (the client the
// gateway uses) and the answer back: no authentication, policy, rate limit, record or log. What
// it costs over `direct` is the hop itself, which no gateway of this shape can avoid.
//
//   node bench/bare-proxy.mjs UPSTREAM_URL   prints its own URL on stdout; exits when stdin closes
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Pool } = createRequire(path.join(here, '..', 'apps', 'gateway', 'package.json'))('undici');

const upstream = new URL(process.argv[2]);
const pool = new Pool(upstream.origin, { connections: 256 });
/** Request headers that describe this hop, not the message. */
const HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
    pool
      .request({ method: req.method, path: upstream.pathname, headers, body: chunks.length ? Buffer.concat(chunks) : null })
      .then(async ({ statusCode, headers: h, body }) => {
        const out = {};
        for (const [k, v] of Object.entries(h)) if (!HOP.has(k)) out[k] = v;
        res.writeHead(statusCode, out);
        for await (const chunk of body) res.write(chunk);
        res.end();
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}/mcp\n`));
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
